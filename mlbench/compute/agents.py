"""What the core needs from a compute target's agent, without importing the agent.

The agent (:mod:`mlbench.agent`) runs jobs in its own process; the core only starts, wakes,
asks about and stops it. The launcher is injected into the workspace by whoever builds one with
agents (:class:`mlbench.Workspace`, the CLI, the server, the magics), so the core never imports
the runner and a workspace opened by the agent itself starts no agents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mlbench.errors import AgentError

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)


class AgentControl(Protocol):
    """One compute target's agent."""

    def is_running(self) -> bool: ...

    def info(self) -> dict[str, Any] | None:
        """The running agent's announcement (pid, heartbeat...), or None."""

    def ensure_running(self, *, wait: bool = False, timeout: float = 30.0) -> None:
        """Start the agent unless one runs."""

    def wake(self) -> bool:
        """Tell it to look at the queue now."""

    def stop(self, *, now: bool = False, timeout: float = 60.0) -> bool:
        """Stop it (``now``: interrupt running jobs); True once it is gone."""


AgentLauncher = Callable[["Workspace", str], AgentControl]


class NoAgentLauncher:
    """For a workspace opened without agents (the agent's own, or a core one in a test): jobs
    are queued and wait for an agent started elsewhere."""

    def __init__(self, ws: Workspace, compute: str) -> None:
        self.compute = compute

    def is_running(self) -> bool:
        return False

    def info(self) -> dict[str, Any] | None:
        return None

    def ensure_running(self, *, wait: bool = False, timeout: float = 30.0) -> None:
        if wait:
            raise AgentError(
                f"this workspace was opened without agents: none is started for {self.compute!r}",
                hint="open it with mlbench.Workspace(...), which starts agents on demand",
            )
        log.info("no agent launcher: jobs on %r wait for an agent started elsewhere", self.compute)

    def wake(self) -> bool:
        return False

    def stop(self, *, now: bool = False, timeout: float = 60.0) -> bool:
        return True
