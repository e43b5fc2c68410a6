"""The router in front of an endpoint's deployments: keys, traffic split, mirroring, request
log and metrics. ``python -m mlbench.endpoints.router CONFIG``.

One router process per endpoint, not one per workspace: each endpoint keeps its own stable
address (and host, e.g. one on 0.0.0.0 and the rest on loopback), a crash or restart of one
touches no other endpoint's traffic, and its config file, metrics and log files are its alone.
The cost, one small uvicorn process per endpoint, is small next to the scoring processes.

Config changes (weights, keys, a rolled deployment's new instances) arrive as a new config
file; it is read whole and swapped in by one assignment, so a request sees the old or the new
config, never a mix. A request whose instance refuses the connection (a rolled deployment's
old process that just stopped) is sent again under the current config: it never reached a
model, so sending it again is safe.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import random
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlbench.endpoints.config import digest
from mlbench.endpoints.keys import bearer, matches
from mlbench.endpoints.requestlog import RequestLogWriter

log = logging.getLogger(__name__)

DEPLOYMENT_HEADER = "azureml-model-deployment"  # Azure's: targets one deployment, even at 0 %
CONFIG_POLL_S = 0.1
CONNECT_RETRIES = 5
LATENCY_WINDOW = 10_000  # latencies kept per deployment for the percentiles
RATE_WINDOW_S = 10.0


@dataclass
class Stats:
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    mirrored: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    times: deque[float] = field(default_factory=deque)

    def record(self, status: int, latency_ms: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        elif status >= 400:
            self.client_errors += 1
        self.latencies.append(latency_ms)
        now = time.monotonic()
        self.times.append(now)
        while self.times and self.times[0] < now - RATE_WINDOW_S:
            self.times.popleft()

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else None

        now = time.monotonic()
        recent = sum(1 for t in self.times if t >= now - RATE_WINDOW_S)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "client_errors": self.client_errors,
            "mirrored": self.mirrored,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "requests_per_s": recent / RATE_WINDOW_S,
        }


class Config:
    """One immutable snapshot of the router's config, with what choosing needs precomputed."""

    def __init__(self, raw: dict[str, Any], digest: str = "") -> None:
        self.raw = raw
        self.digest = digest
        self.key_hashes: list[str] = list(raw["key_hashes"])
        self.admin_token: str = raw["admin_token"]
        self.deployments: dict[str, dict[str, Any]] = raw["deployments"]
        self.sample_rate: float = float(raw["sample_rate"])
        self.mirror: dict[str, int] = {
            k: v for k, v in raw["mirror"].items() if self.deployments.get(k, {}).get("urls")
        }
        live = [(k, v) for k, v in sorted(raw["traffic"].items()) if v > 0]
        self.names = [k for k, _ in live]
        self.cumulative = list(itertools.accumulate(v for _, v in live))

    def pick(self, rng: random.Random) -> str | None:
        """A deployment by weight (None when none takes traffic)."""
        if not self.names:
            return None
        return self.names[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


class Router:
    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self._stamp: tuple[int, int] | None = None
        self.config = self._read()
        self.stats: dict[str, Stats] = {}
        self.rng = random.Random()
        self._turn = itertools.count()
        # aiohttp, not httpx: httpx's pool serializes under concurrency (the router topped out
        # at 176 req/s at c=32 with it; benchmarks/RESULTS.md). Made in the lifespan (a loop).
        self._session: aiohttp.ClientSession | None = None
        self.log = RequestLogWriter(Path(self.config.raw["log_dir"]), self.config.raw["endpoint"])
        self._mirrors: set[asyncio.Task[None]] = set()

    # -- config --------------------------------------------------------------------------------
    def _read(self) -> Config:
        st = self.config_path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size)
        text = self.config_path.read_text()
        return Config(json.loads(text), digest(text))

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(CONFIG_POLL_S)
            try:
                st = self.config_path.stat()
                if (st.st_mtime_ns, st.st_size) != self._stamp:
                    self.config = self._read()  # one assignment: requests see old or new
            except (OSError, ValueError, KeyError) as exc:  # mid-replace or gone: keep the last
                log.debug("config not read: %s", exc)

    # -- requests ------------------------------------------------------------------------------
    async def score(self, request: Request) -> Response:
        config = self.config
        key = bearer(request.headers.get("authorization"))
        if key is None or not matches(key, config.key_hashes):
            return _error(401, "missing or wrong key", "send Authorization: Bearer KEY")
        named = request.headers.get(DEPLOYMENT_HEADER)
        if named:
            if named not in config.deployments:
                return _error(
                    404,
                    f"no deployment {named!r}",
                    f"deployments: {', '.join(sorted(config.deployments))}",
                )
            chosen: str | None = named
        else:
            chosen = config.pick(self.rng)
        if chosen is None:
            return _error(503, "no deployment takes traffic", "set weights: endpoint traffic")
        body = await request.body()
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        started = time.perf_counter()
        status, content, media_type = await self._forward(chosen, body, headers)
        latency = (time.perf_counter() - started) * 1000
        self._stats(chosen).record(status, latency)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        if not named:
            for target, percent in config.mirror.items():
                if self.rng.random() * 100 < percent:
                    task = asyncio.create_task(self._mirror(target, body, headers))
                    self._mirrors.add(task)
                    task.add_done_callback(self._mirrors.discard)
        if config.sample_rate and self.rng.random() < config.sample_rate:
            columns = config.deployments.get(chosen, {}).get("columns") or []
            self.log.add(
                body, headers["content-type"], content, status, chosen, request_id, latency, columns
            )
        out = Response(content, status_code=status, media_type=media_type)
        out.headers["x-request-id"] = request_id
        out.headers[DEPLOYMENT_HEADER] = chosen
        return out

    async def _forward(
        self, name: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, str]:
        for attempt in range(CONNECT_RETRIES):
            urls = self.config.deployments.get(name, {}).get("urls") or []
            if not urls:
                if attempt + 1 < CONNECT_RETRIES:
                    await asyncio.sleep(0.2)  # a restarting deployment: wait for its instance
                    continue
                return 503, _body(f"deployment {name!r} has no ready instance"), "application/json"
            url = urls[next(self._turn) % len(urls)]
            try:
                async with self.session.post(
                    f"{url}/invocations", data=body, headers=headers
                ) as resp:
                    content = await resp.read()
                    return resp.status, content, resp.headers.get("content-type", "")
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
                # never reached a model (refused, or a keep-alive connection the old process
                # closed): send it again under the current config
                log.info("instance %s of %s: %s; sending again", url, name, exc)
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                return 502, _body(f"deployment {name!r} failed: {exc!r}"), "application/json"
        return 502, _body(f"deployment {name!r} did not answer"), "application/json"

    async def _mirror(self, name: str, body: bytes, headers: dict[str, str]) -> None:
        """A copy to the mirror deployment: counted there, its answer dropped."""
        started = time.perf_counter()
        status, _, _ = await self._forward(name, body, headers)
        stats = self._stats(name)
        stats.mirrored += 1
        stats.record(status, (time.perf_counter() - started) * 1000)
        stats.requests -= 1  # a mirrored copy is not a request of the endpoint

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=120.0, connect=5.0),
                connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=30),
                # the answer goes back as the instance sent it: never ask for it compressed
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    def _stats(self, name: str) -> Stats:
        if name not in self.stats:
            self.stats[name] = Stats()
        return self.stats[name]

    async def metrics(self, request: Request) -> Response:
        config = self.config
        key = bearer(request.headers.get("authorization"))
        if key is None or not (
            matches(key, config.key_hashes) or matches(key, [_hash(config.admin_token)])
        ):
            return _error(401, "missing or wrong key", "send Authorization: Bearer KEY")
        names = set(config.deployments) | set(self.stats)
        return JSONResponse(
            {
                "deployments": {n: self._stats(n).as_dict() for n in sorted(names)},
                "serving": {n: bool(d.get("urls")) for n, d in config.deployments.items()},
                "traffic": config.raw["traffic"],
                "config": config.digest,
            }
        )

    async def ping(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/score", self.score, methods=["POST"]),
                Route("/invocations", self.score, methods=["POST"]),
                Route("/metrics", self.metrics, methods=["GET"]),
                Route("/ping", self.ping, methods=["GET"]),
                Route("/health", self.ping, methods=["GET"]),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> Any:
        watcher = asyncio.create_task(self.watch())
        flusher = asyncio.create_task(self.log.run())
        try:
            yield
        finally:
            watcher.cancel()
            flusher.cancel()
            if self._mirrors:
                await asyncio.wait(self._mirrors, timeout=5)
            if self._session is not None:
                await self._session.close()
            self.log.flush()


def _hash(token: str) -> str:
    from mlbench.endpoints.keys import key_hash

    return key_hash(token)


def _body(message: str) -> bytes:
    return json.dumps({"error_code": "ROUTER_ERROR", "message": message}).encode()


def _error(status: int, message: str, hint: str) -> Response:
    return JSONResponse({"error_code": "ROUTER_ERROR", "message": message, "hint": hint}, status)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = argv if argv is not None else sys.argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    router = Router(Path(args[0]))
    raw = router.config.raw
    server = uvicorn.Server(
        uvicorn.Config(
            router.app(),
            host=raw["host"],
            port=int(raw["port"]),
            log_level="warning",
            timeout_graceful_shutdown=30,
            backlog=4096,
        )
    )
    # SIGTERM: uvicorn stops accepting, finishes in-flight requests, then the lifespan flushes
    # the request log.
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
