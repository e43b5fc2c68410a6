"""``python -m mlbench.scheduler``: the workspace's scheduler and notifier in one process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlbench.scheduler")
    parser.add_argument("--workspace", required=True)
    parser.add_argument(
        "--on-demand", action="store_true", help="exit when nothing is enabled for a while"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s [%(process)d %(threadName)s] %(name)s: %(message)s",
    )
    from mlbench.config import resolve_home
    from mlbench.schedules.process import acquire_scheduler_lock

    home = Path(resolve_home(args.workspace))
    lock = acquire_scheduler_lock(home)  # before the slow imports: nobody starts a second one
    if lock is None:
        logging.getLogger(__name__).info("a scheduler already runs for %s", home)
        return 0
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlbench.scheduler.daemon import run

    try:
        return run(home, on_demand=args.on_demand, stop_signals=_stop_signals)
    finally:
        lock.release()


def _stop_signals(handler: object) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: handler())  # type: ignore[operator]


if __name__ == "__main__":
    sys.exit(main())
