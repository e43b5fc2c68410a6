"""``mlbench.Workspace``: the core workspace with agents started on demand.

The composition root of the SDK: it hands the core (:mod:`mlbench.workspace`) the launcher of
agent processes (:mod:`mlbench.agent.process`), which the core itself never imports.
"""

from __future__ import annotations

import os
from typing import Any

from mlbench import workspace


class Workspace(workspace.Workspace):
    __doc__ = workspace.Workspace.__doc__

    def __init__(self, path: str | os.PathLike[str] | None = None, **settings: Any) -> None:
        from mlbench.agent.process import AgentHandle

        super().__init__(path, agents=AgentHandle, **settings)
