"""The mlbench jupyter-server extension."""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Unicode

from mlbench.server.handlers import route_handlers


class MlbenchApp(ExtensionApp):
    name = "mlbench"

    workspace = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Workspace folder (default: $MLBENCH_HOME or ~/.mlbench).",
    )

    def initialize_settings(self) -> None:
        from mlbench.workspace import Workspace

        self.settings["mlbench_workspace"] = Workspace(self.workspace)
        self.log.info("mlbench workspace: %s", self.settings["mlbench_workspace"].home)

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_handlers())

    def _jupyter_server_config(self) -> dict[str, Any]:  # pragma: no cover - traitlets hook
        return {}
