"""IPython magics: ``%load_ext mlbench``, then ``%mlbench --help``."""

from __future__ import annotations

from typing import Any

from mlbench.magics.core import MlbenchMagics

__all__ = ["MlbenchMagics", "load_ipython_extension", "unload_ipython_extension"]

_loaded: dict[int, MlbenchMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%mlbench`` / ``%%mlbench`` (and ``MlbenchMagics`` for ``%config``)."""
    magics = MlbenchMagics(ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    _loaded[id(ipython)] = magics


def unload_ipython_extension(ipython: Any) -> None:
    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    ipython.magics_manager.magics["line"].pop("mlbench", None)
    ipython.magics_manager.magics["cell"].pop("mlbench", None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    magics.close()
