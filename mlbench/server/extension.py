"""The mlbench jupyter-server extension: settings, shared services and the handlers.

Enabled by ``jupyter-config/server-config/mlbench.json``. It opens the workspace, puts the
shared services (thread pool, event hub, tracking queries) into the tornado settings and
registers the REST and WebSocket handlers under ``{base_url}/mlbench/api/v1``. At start it makes
sure the agents of targets with queued or running jobs are up (the agent is started on demand
by submission too), and the scheduler while a schedule or notification rule is enabled; at stop
it leaves every agent and the scheduler running, so jobs outlive the server.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Type, Unicode

from mlbench.compute.registry import compute_backends
from mlbench.server.base import DEFAULT_MAX_BODY
from mlbench.server.events import EventHub, tornado_run_sync
from mlbench.server.handlers import route_handlers
from mlbench.store.secrets import mask_logs

log = logging.getLogger(__name__)


class Services:
    """What every handler shares, in ``settings["mlbench"]``."""

    def __init__(
        self,
        ws: Any,
        *,
        max_body_bytes: int,
        threads: int,
        poll_interval_s: float,
        queries_class: type[Any],
    ) -> None:
        self.ws = ws
        self.max_body_bytes = max_body_bytes
        # Set when the start-up checks (agents, scheduler, tracking) are done: they run on a
        # thread beside the first requests, and may start the scheduler for an enabled rule.
        self.warmed_up = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mlbench")
        self._queries_class = queries_class
        self.hub = EventHub(
            fetch=lambda after, limit: ws.jobs.events(after=after, limit=limit),
            last_id=ws.jobs.last_event_id,
            run=tornado_run_sync(self.executor),
            interval=poll_interval_s,
            published=lambda events, n: ws.notifications.published(
                events, n, f"the Jupyter server (pid {os.getpid()})"
            ),
        )

    @cached_property
    def queries(self) -> Any:
        return self._queries_class(self.ws.tracking)

    async def close(self) -> None:
        await self.hub.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


class MlbenchApp(ExtensionApp):
    name = "mlbench"

    workspace = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Workspace folder (default: $MLBENCH_HOME or ~/.mlbench).",
    )
    workspace_class = Type(
        "mlbench.sdk.Workspace",
        config=True,
        help="The Workspace class (swap for a subclass to customize the core).",
    )
    queries_class = Type(
        "mlbench.tracking.query.TrackingQueries",
        config=True,
        help="The class answering experiment and run queries.",
    )
    max_body_bytes = Int(
        DEFAULT_MAX_BODY, config=True, help="Largest accepted JSON request body (bytes)."
    )
    threads = Int(8, config=True, help="Worker threads for core calls (database, MLflow, files).")
    events_poll_interval_s = Float(
        0.25, config=True, help="How often the event stream reads new job events."
    )
    start_agents = Bool(
        True,
        config=True,
        help="At start, make sure agents run for targets with queued or running jobs.",
    )
    warm_tracking = Bool(
        True, config=True, help="Import MLflow in the background at start (first query fast)."
    )

    def initialize_settings(self) -> None:
        # Load the compute backends now, on one thread: the registry's lazy loading is not
        # thread-safe, and handlers call it from the worker threads.
        compute_backends.kinds()
        ws = self.workspace_class(self.workspace)
        self.services = Services(
            ws,
            max_body_bytes=self.max_body_bytes,
            threads=self.threads,
            poll_interval_s=self.events_poll_interval_s,
            queries_class=self.queries_class,
        )
        self.settings.update({"mlbench_workspace": ws, "mlbench": self.services})
        # the server's log shows no workspace secret
        self._unmask_logs = mask_logs(
            ws.redact, {*self.log.handlers, *logging.getLogger().handlers}
        )
        self.log.info("mlbench workspace: %s", ws.home)
        threading.Thread(target=self._warm_up, name="mlbench-warm-up", daemon=True).start()

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_handlers())

    def _warm_up(self) -> None:
        try:
            self._start_up_checks()
        finally:
            self.services.warmed_up.set()

    def _start_up_checks(self) -> None:
        ws = self.services.ws
        if self.start_agents:
            try:
                _ensure_agents(ws)
            except Exception:
                self.log.exception("mlbench: could not check the agents")
            try:
                ws.schedules.ensure_scheduler()
            except Exception:
                self.log.exception("mlbench: could not check the scheduler")
        if self.warm_tracking:
            try:
                _ = self.services.queries
                ws.tracking.initialize()
            except Exception:
                self.log.exception("mlbench: could not open the tracking store")

    async def stop_extension(self) -> None:
        """Stop serving; agents (and so running jobs) are deliberately left running."""
        await self.services.close()
        self._unmask_logs()
        self.services.ws.close()


def _ensure_agents(ws: Any) -> None:
    for target in ws.compute.list():
        status = ws.compute.status(target.name)
        if (status.queued or status.running) and status.agent is None:
            log.info("mlbench: starting the agent of %r (it has jobs)", target.name)
            ws.jobs.agent(target.name).ensure_running()
