"""Live job events over one WebSocket, fed by a single shared tail of the ``job_events`` table.

The agent is another process, so the server learns of changes by reading the append-only
``job_events`` table. One :class:`EventHub` per server polls it (every ``interval`` seconds,
only while at least one client is connected) and fans each new event out to every subscriber:
N clients cost one query per tick, not N.

Protocol (``GET .../events/stream``, upgraded to a WebSocket; all messages JSON text frames):

- query ``after=<id>`` replays recorded events with a larger id first (resume after a
  disconnect); without it only new events are sent. ``job_id=<id>`` (repeatable or
  comma-separated) keeps only those jobs' events.
- server -> client, first: ``{"type": "hello", "last_event_id": N, "after": A}``.
- then, in increasing ``id`` order and never twice:
  ``{"type": "event", "id", "job_id", "kind", "data", "created_at"}`` where ``kind`` is
  ``status`` (``data.status``, ``data.reason``, ...) or ``progress`` (``data.cell_index``...),
  or another feed kind: ``sweep``, ``pipeline``, ``schedule`` (``job_id`` is that thing's id),
  ``model`` (``job_id`` is ``models``; ``data.model``, ``data.action``, ``data.version``)
  and ``notification`` (a rule's toast for JupyterLab: ``data.title``, ``data.text``,
  ``data.event``, ``data.target`` = ``{kind, id}``, ``data.delivery``).
- ``{"type": "overflow", "last_event_id": N}`` then close (code 4000) when the client fell too
  far behind: reload state over REST and reconnect with ``after=N``.
- client -> server: ``{"type": "ping"}`` is answered ``{"type": "pong"}``; other messages are
  ignored. WebSocket pings keep idle connections alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from mlbench.errors import InvalidInputError
from mlbench.server import models as m
from mlbench.server.base import READ, MlbenchMixin, endpoint, parse_json

log = logging.getLogger(__name__)

BATCH = 1000
MAX_PENDING = 20_000
MAX_REPLAY = 100_000
OVERFLOW_CLOSE_CODE = 4000
MAX_CLIENT_MESSAGE = 64 * 1024

PROTOCOL = (__doc__ or "").split("Protocol", 1)[1].split("\n", 1)[1].strip()

Event = dict[str, Any]
TEXT = "_text"  # an event's serialized message, made once by the hub
RunSync = Callable[..., Awaitable[Any]]


class Subscriber:
    """One connected client: a filter and a queue of events the hub has offered it."""

    def __init__(self, job_ids: frozenset[str] | None = None, max_pending: int = MAX_PENDING):
        self.job_ids = job_ids
        self.max_pending = max_pending
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflowed = False

    def wants(self, event: Event) -> bool:
        return self.job_ids is None or event["job_id"] in self.job_ids

    def offer(self, event: Event) -> None:
        if self.overflowed or not self.wants(event):
            return
        if self.queue.qsize() >= self.max_pending:
            self.overflowed = True
            self.queue.put_nowait(None)  # tells the writer to give up
            return
        self.queue.put_nowait(event)


class EventHub:
    """One poller of the events table for the whole server, fanning out to subscribers."""

    def __init__(
        self,
        fetch: Callable[[int, int], list[Event]],
        last_id: Callable[[], int],
        run: RunSync,
        interval: float = 0.25,
        published: Callable[[list[Event], int], Any] | None = None,
    ) -> None:
        self._fetch = fetch
        self._published = published  # told which notification events reached how many clients
        self._last_id = last_id
        self._run = run
        self.interval = interval
        self.cursor = 0
        self.subscribers: set[Subscriber] = set()
        self.polls = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    async def subscribe(self, sub: Subscriber) -> int:
        """Register ``sub``; returns the id after which the hub will offer it events."""
        if self._closed:
            raise RuntimeError("the event hub is closed")
        if self._task is None or self._task.done():
            self.cursor = await self._run(self._last_id)
            if self._task is None or self._task.done():
                self._task = asyncio.ensure_future(self._loop())
        self.subscribers.add(sub)
        return self.cursor

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def poke(self) -> None:
        """Poll now instead of at the next tick (e.g. right after this server changed a job)."""
        self._wake.set()

    async def close(self) -> None:
        self._closed = True
        self.subscribers.clear()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _loop(self) -> None:
        while self.subscribers and not self._closed:
            try:
                events = await self._run(self._fetch, self.cursor, BATCH)
            except Exception:
                log.exception("reading job events failed; retrying")
                events = []
                await asyncio.sleep(self.interval * 4)
            self.polls += 1
            for event in events:
                event[TEXT] = json.dumps({"type": "event", **event})  # once, for every client
                reached = 0
                for sub in list(self.subscribers):
                    reached += sub.wants(event) and not sub.overflowed
                    sub.offer(event)
                if event["kind"] == "notification" and reached and self._published:
                    try:  # its delivery is recorded as delivered
                        await self._run(self._published, [event], reached)
                    except Exception:
                        log.exception("recording a published notification failed")
            if events:
                self.cursor = events[-1]["id"]
            if len(events) < BATCH:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)


class EventStreamHandler(MlbenchMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """``GET /events/stream``: job events as they happen (see the module docs)."""

    def set_default_headers(self) -> None:
        """JupyterHandler's default headers make no sense on a WebSocket."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    @property
    def max_message_size(self) -> int:
        return MAX_CLIENT_MESSAGE  # clients only ever send pings

    @ws_authenticated
    @authorized(READ)
    @endpoint(
        summary="Live job events over a WebSocket (resumable with after=<event id>)",
        tag="events",
        action=READ,
        query=m.StreamQuery,
        status=101,
        description=PROTOCOL,
        server_messages=(m.StreamHello, m.StreamEvent, m.StreamOverflow, m.StreamPong),
        client_messages=(m.StreamPing,),
    )
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise InvalidInputError(
                "this route is a WebSocket", hint="connect with a WebSocket client (ws://...)"
            )
        self.params = self.query(m.StreamQuery)
        self.sent = self.params.after or 0
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().open()  # starts WebSocketMixin's pings
        hub: EventHub = self.mlbench.hub
        job_ids = frozenset(self.params.job_id) or None
        self.subscriber = Subscriber(job_ids)
        start = await hub.subscribe(self.subscriber)
        if self.ws_connection is None or self.ws_connection.is_closing():
            hub.unsubscribe(self.subscriber)  # the client left while we subscribed
            return
        after = self.params.after
        self._send({"type": "hello", "last_event_id": start, "after": after})
        self.sent = start if after is None else after
        self._pump = asyncio.ensure_future(self._serve(replay=after is not None))

    async def _serve(self, replay: bool) -> None:
        try:
            if replay and not await self._replay():
                return
            while True:
                event = await self.subscriber.queue.get()
                if event is None:
                    self._overflow()
                    return
                if event["id"] > self.sent:
                    await self._send_event(event)
        except WebSocketClosedError:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job event stream failed")
            self.close(1011, "internal error")

    async def _replay(self) -> bool:
        """Send recorded events after ``sent`` (the live queue fills meanwhile, deduped by id)."""
        one_job = next(iter(self.subscriber.job_ids)) if self.subscriber.job_ids else None
        if self.subscriber.job_ids and len(self.subscriber.job_ids) > 1:
            one_job = None
        replayed = 0
        while True:
            page = await self.call(
                self.ws.jobs.events, after=self.sent, job_id=one_job, limit=BATCH
            )
            if not page:
                return True
            for event in page:
                if self.subscriber.wants(event):
                    await self._send_event(event)
                self.sent = event["id"]
            replayed += len(page)
            if replayed > MAX_REPLAY:
                self._overflow()
                return False

    async def _send_event(self, event: Event) -> None:
        text = event.get(TEXT) or json.dumps({"type": "event", **event})
        await self.write_message(text)
        self.sent = event["id"]

    def _send(self, message: dict[str, Any]) -> None:
        try:
            sent = self.write_message(json.dumps(message))
        except WebSocketClosedError:
            return
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())  # closed meanwhile: fine

    def _overflow(self) -> None:
        self._send({"type": "overflow", "last_event_id": self.sent})
        self.close(OVERFLOW_CLOSE_CODE, "too far behind; resume with after=last_event_id")

    def on_message(self, message: str | bytes) -> None:
        try:  # the one bounded parser: a deeply nested message is refused, not a RecursionError
            data = parse_json(message, what="a message", max_bytes=MAX_CLIENT_MESSAGE)
        except InvalidInputError:
            return
        if isinstance(data, dict) and data.get("type") == "ping":
            self._send({"type": "pong"})

    def on_close(self) -> None:
        sub = getattr(self, "subscriber", None)
        if sub is not None:
            self.mlbench.hub.unsubscribe(sub)
        pump = getattr(self, "_pump", None)
        if pump is not None:
            pump.cancel()


def tornado_run_sync(executor: Any) -> RunSync:
    """``await run(fn, *args)``: ``fn`` in ``executor``, for the hub."""

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await tornado.ioloop.IOLoop.current().run_in_executor(executor, fn, *args)

    return run
