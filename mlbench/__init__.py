"""mlbench: a notebook-first ML workbench.

``import mlbench`` is cheap: the SDK loads on first use, so ``mlbench.log_metric`` in a training
loop does not pay for SQLAlchemy, papermill or MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlbench._version import __version__
from mlbench.tracking.metrics import flush, log_metric, log_metrics

if TYPE_CHECKING:
    from mlbench.sdk import Workspace

__all__ = ["Workspace", "__version__", "flush", "log_metric", "log_metrics"]


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from mlbench.sdk import Workspace

        return Workspace
    raise AttributeError(f"module 'mlbench' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mlbench``: the ``%mlbench`` magics (imported only now, to keep this cheap)."""
    from mlbench.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from mlbench.magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlbench"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from mlbench.server.extension import MlbenchApp

    return [{"module": "mlbench.server.extension", "app": MlbenchApp}]
