"""A client for kernels on a Jupyter Kernel Gateway / Enterprise Gateway.

The gateway's REST API starts, interrupts and deletes kernels; one websocket per kernel
(``/api/kernels/{id}/channels``) carries every channel's messages as JSON. This module gives
nbclient (and so papermill) what it needs from a kernel manager and a kernel client on top of
that, without jupyter-server or tornado (the core never imports them): the client is the local
jobs' ``AsyncKernelClient`` (jupyter_client's, with a quicker ``wait_for_ready``) whose channels
are fed by the websocket's reader thread, so ``execute`` and ``kernel_info`` are
jupyter_client's own.

A dead connection or a kernel the gateway restarted makes the client report the kernel dead,
and nbclient turns that into ``DeadKernelError`` within a second: a stopped gateway never hangs
a job. A watch thread asks the REST API about the kernel every few seconds, so a connection
that silently stops carrying data is noticed as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import websocket
from jupyter_client.jsonutil import json_default

from mlbench.agent.kernels import JobKernelClient
from mlbench.compute.gateway import GatewayConnection, GatewayError

log = logging.getLogger(__name__)

CHANNELS = ("shell", "iopub", "stdin", "control")
WATCH_EVERY_S = 3.0
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only
DataHandler = Callable[[Any], None]


class _Channel:
    """One channel's inbox, filled by the link's reader thread, read from nbclient's loop."""

    def __init__(self, link: KernelLink, name: str) -> None:
        self._link = link
        self.name = name
        self._inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def put(self, msg: dict[str, Any]) -> None:
        self._inbox.put(msg)
        self.wake()

    def wake(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    def send(self, msg: dict[str, Any]) -> None:
        self._link.send(self.name, msg)

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while True:
            try:
                return self._inbox.get_nowait()
            except queue.Empty:
                pass
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise queue.Empty
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._waiters.append((loop, future))
            if not self._inbox.empty():  # arrived while registering
                continue
            try:
                await asyncio.wait_for(future, remaining)
            except asyncio.TimeoutError:
                continue  # one more look, then Empty

    def get_msgs(self) -> list[dict[str, Any]]:
        msgs = []
        with contextlib.suppress(queue.Empty):
            while True:
                msgs.append(self._inbox.get_nowait())
        return msgs

    def msg_ready(self) -> bool:
        return not self._inbox.empty()

    def is_alive(self) -> bool:
        return self._link.alive

    def is_beating(self) -> bool:
        return self._link.alive

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class KernelLink:
    """The websocket to one gateway kernel, its reader thread and its watch thread.

    ``data_handlers`` maps MIME types to callbacks: display messages carrying one of them are
    the job's side channel (metrics, output files) and are handed to the callback instead of
    nbclient, so they never land in the output notebook, whichever cell they arrive in.
    """

    def __init__(
        self,
        conn: GatewayConnection,
        kernel_id: str,
        data_handlers: dict[str, DataHandler] | None = None,
    ) -> None:
        self.conn = conn
        self.kernel_id = kernel_id
        self.data_handlers = dict(data_handlers or {})
        self.dead_reason: str | None = None
        self.channels = {name: _Channel(self, name) for name in CHANNELS}
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        try:
            self._ws = websocket.create_connection(
                conn.channels_url(kernel_id),
                header=[f"{k}: {v}" for k, v in conn.headers.items()],
                timeout=conn.timeout_s,
                sslopt=None if conn.validate_cert else {"cert_reqs": 0},
                enable_multithread=True,
            )
        except (websocket.WebSocketException, OSError) as exc:
            raise GatewayError(
                f"cannot open the kernel's channels on the gateway at {conn.url}: {exc}"
            ) from None
        self._ws.settimeout(None)  # the reader blocks; the watch thread detects silence
        self._reader = threading.Thread(target=self._read, name="gateway-ws", daemon=True)
        self._watch = threading.Thread(target=self._watch_kernel, name="gateway-watch", daemon=True)
        self._reader.start()
        self._watch.start()

    @property
    def alive(self) -> bool:
        return self.dead_reason is None

    def _die(self, reason: str) -> None:
        if self.dead_reason is None:
            self.dead_reason = reason
            log.info("gateway kernel %s: %s", self.kernel_id, reason)
        for channel in self.channels.values():
            channel.wake()

    def send(self, channel: str, msg: dict[str, Any]) -> None:
        if not self.alive:
            raise GatewayError(f"cannot send to the kernel: {self.dead_reason}")
        text = json.dumps({**msg, "channel": channel}, default=json_default)
        try:
            with self._send_lock:
                self._ws.send(text)
        except (websocket.WebSocketException, OSError) as exc:
            self._die(f"the connection to the gateway at {self.conn.url} broke ({exc})")
            raise GatewayError(str(self.dead_reason)) from None

    def _ack_quickly(self) -> None:
        """Acknowledge what arrives at once, not after Linux's delayed-ACK wait (40 ms).

        jupyter_server does not set TCP_NODELAY on a kernel's websocket, so after the first
        message of an execution (``status: busy``) its next ones wait for our ACK: every
        execution took ~50 ms however short its code. Linux clears the flag as it pleases, so
        it is set again before each read.
        """
        if _QUICKACK is not None and self._ws.sock is not None:
            with contextlib.suppress(OSError):
                self._ws.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)

    def _read(self) -> None:
        while not self._closing.is_set():
            self._ack_quickly()
            try:
                raw = self._ws.recv()
            except (websocket.WebSocketException, OSError, ValueError) as exc:
                if not self._closing.is_set():
                    self._die(
                        f"the gateway at {self.conn.url} closed the kernel's connection "
                        f"(the gateway stopped or the network failed: {type(exc).__name__})"
                    )
                return
            if not raw:
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                log.warning("gateway sent a message that is not JSON: %.100r", raw)
                continue
            self._route(msg)

    def _route(self, msg: dict[str, Any]) -> None:
        channel = msg.get("channel", "iopub")
        content = msg.get("content") or {}
        if channel == "iopub":
            kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                # The gateway restarts a kernel that died; the job's state died with it.
                self._die("the kernel died on the gateway (the gateway restarted it)")
                return
            if kind == "display_data":
                data = content.get("data") or {}
                for mime, handler in self.data_handlers.items():
                    if mime in data:
                        try:
                            handler(data[mime])
                        except Exception:
                            log.exception("handling %s from the gateway kernel failed", mime)
                        return
        inbox = self.channels.get(channel)
        if inbox is not None:
            inbox.put(msg)

    def _watch_kernel(self) -> None:
        misses = 0
        while not self._closing.wait(WATCH_EVERY_S) and self.alive:
            try:
                state = self.conn.kernel_state(self.kernel_id)
            except GatewayError as exc:
                misses += 1
                if misses >= 2:
                    self._die(f"the gateway stopped answering: {exc}")
                continue
            misses = 0
            if state is None:
                self._die("the kernel is gone from the gateway (deleted or culled there)")

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(Exception):
            self._ws.close(timeout=1)
        self._die("the kernel's connection was closed")


class GatewayKernelClient(JobKernelClient):
    """A job's async client (its quick ``wait_for_ready``: no 0.2 s of waiting for IOPub to
    fall silent before each job), with channels on a :class:`KernelLink`."""

    def __init__(self, link: KernelLink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._link = link

    @property
    def shell_channel(self) -> Any:
        return self._link.channels["shell"]

    @property
    def iopub_channel(self) -> Any:
        return self._link.channels["iopub"]

    @property
    def stdin_channel(self) -> Any:
        return self._link.channels["stdin"]

    @property
    def control_channel(self) -> Any:
        return self._link.channels["control"]

    @property
    def hb_channel(self) -> Any:
        return self._link.channels["control"]  # liveness is the link's, as for every channel

    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        pass  # the link is open already

    def stop_channels(self) -> None:
        pass  # the link belongs to the kernel, closed when the kernel is discarded

    @property
    def channels_running(self) -> bool:
        return self._link.alive

    async def _async_is_alive(self) -> bool:
        return self._link.alive

    is_alive = _async_is_alive


class GatewayKernelManager:
    """What nbclient asks of a kernel manager, for a kernel that already runs on the gateway."""

    has_kernel = True

    def __init__(self, link: KernelLink, kernel_name: str) -> None:
        self.link = link
        self.kernel_name = kernel_name

    def client(self, **kwargs: Any) -> GatewayKernelClient:
        return GatewayKernelClient(self.link, **kwargs)

    def is_alive(self) -> bool:
        return self.link.alive

    def interrupt_kernel(self) -> None:
        self.link.conn.interrupt(self.link.kernel_id)

    def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        with contextlib.suppress(GatewayError):
            self.link.conn.delete(self.link.kernel_id)
        self.link.close()

    def cleanup_resources(self, restart: bool = False) -> None:
        pass
