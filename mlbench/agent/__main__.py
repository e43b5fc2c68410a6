"""``python -m mlbench.agent``: how the CLI, SDK and server start a detached agent."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlbench.agent")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--compute", default="local")
    parser.add_argument("--on-demand", action="store_true")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s [%(process)d %(threadName)s] %(name)s: %(message)s",
    )
    # Take the agent lock before the slow imports: whoever checks "is an agent running?"
    # meanwhile must see this one, or it would start another.
    from mlbench.agent.process import acquire_agent_lock

    lock = acquire_agent_lock(args.workspace, args.compute)
    if lock is None:
        logging.getLogger(__name__).info("an agent for %r is already running", args.compute)
        return 0
    # The CLI and agent never need jsonschema's IRI format checks; importing their grammar
    # costs seconds (see MACHINE-NOTES), so keep it out of this process.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    for noisy in ("alembic", "papermill"):  # per-job INFO lines that say nothing new
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from mlbench.agent.agent import Agent
    from mlbench.store.secrets import mask_logs
    from mlbench.workspace import Workspace

    ws = Workspace(args.workspace)
    mask_logs(ws.redact)  # the agent's log: no secret, whoever logs it (for its whole life)
    return Agent(ws, args.compute, on_demand=args.on_demand, lock=lock).run()


if __name__ == "__main__":
    sys.exit(main())
