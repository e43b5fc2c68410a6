"""The scheduler process's loop: fire schedules, deliver notifications, announce itself."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlbench._version import __version__
from mlbench.daemons import write_info
from mlbench.notify.notifier import Notifier
from mlbench.schedules.clock import Clock, SystemClock
from mlbench.schedules.process import idle_exit_s, scheduler_dir
from mlbench.schedules.scheduler import Scheduler

log = logging.getLogger(__name__)


def run(
    home: Path,
    *,
    on_demand: bool,
    clock: Clock | None = None,
    stop_signals: Callable[[Callable[[], None]], Any] | None = None,
) -> int:
    from mlbench.sdk import Workspace  # with agents: a fired job starts its target's agent
    from mlbench.store.secrets import mask_logs

    ws = Workspace(home)
    unmask_logs = mask_logs(ws.redact)  # no secret in the log, whoever logs it
    try:
        clock = clock or SystemClock()
        scheduler = Scheduler(ws, clock)
        notifier = Notifier(ws, clock)
        if stop_signals is not None:
            stop_signals(scheduler.stop)
        write_info(
            scheduler_dir(home) / "scheduler.json",
            {
                "pid": os.getpid(),
                "state": "ready",
                "id": scheduler.id,
                "version": __version__,
                "on_demand": on_demand,
                "started_at": clock.now().isoformat(),
            },
        )
        log.info("scheduler %s ready for %s (on demand: %s)", scheduler.id, home, on_demand)

        def notify(now: datetime) -> bool:
            try:
                return notifier.poll(now)
            except Exception:
                log.exception("notification pass failed")
                return True

        scheduler.run(extra=notify, idle_exit_s=idle_exit_s() if on_demand else None)
        log.info("scheduler %s stopped", scheduler.id)
        return 0
    finally:
        ws.close()
        unmask_logs()
