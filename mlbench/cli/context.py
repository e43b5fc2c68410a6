"""State shared by CLI commands: the workspace, opened on first use."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


class CliContext:
    def __init__(self, workspace: str | None) -> None:
        self._path = workspace

    @cached_property
    def ws(self) -> Workspace:
        from mlbench.sdk import Workspace

        return Workspace(self._path)

    def redact(self, text: str) -> str:
        """``text`` with the workspace's secrets masked (once the workspace is open)."""
        ws = self.__dict__.get("ws")
        return ws.redact(text) if ws is not None else text
