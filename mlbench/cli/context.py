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
