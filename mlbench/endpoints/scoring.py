"""The scoring server: one MLflow model behind MLflow's ``/invocations`` protocol, batched.

Run as ``python -m mlbench.endpoints.scoring --model PATH --host 127.0.0.1 --port PORT
[--workers N] [--max-batch-size 64] [--max-wait-ms 2]`` (PATH: a local MLflow model folder).

Requests are parsed by MLflow's own functions (``mlflow.pyfunc.scoring_server``), so every input
format (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``, ``params``, CSV,
Parquet) and every error answer is what ``mlflow models serve`` gives for the same body. What
differs is underneath: Starlette on uvicorn (uvloop and httptools when installed), concurrent
requests merged into one ``predict`` call (:mod:`mlbench.endpoints.batching`), and ``--workers``
processes accepting on one socket, each loading the model once (forked from a parent that has
already imported MLflow, so a worker is ready in the time its model takes to load).

Routes: ``GET /ping`` 200 once every worker has loaded the model, 503 before (readiness);
``GET /health`` 200 while the process serves (liveness); ``GET /version`` MLflow's version;
``GET /metadata`` the model's signature and flavors; ``GET /stats`` request and batching counters
summed over the workers; ``POST /invocations``. SIGTERM stops accepting, lets in-flight requests
finish (at most ``--drain-timeout-s``), and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

import uvicorn
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.protos.databricks_pb2 import BAD_REQUEST
from mlflow.pyfunc import scoring_server as mlflow_scoring
from mlflow.version import VERSION as MLFLOW_VERSION
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlbench.endpoints.batching import Batcher

logger = logging.getLogger(__name__)

# Per-worker counters in shared memory, so /stats sums all workers whichever one answers:
# requests predicted, predict calls made, requests that shared their call with others, the most
# requests in one batch, and requests being served right now.
STAT_FIELDS = ("requests", "predict_calls", "merged_requests", "largest_batch", "in_flight")
# A body this large is parsed on a thread, so that the event loop keeps serving the others.
PARSE_INLINE_BYTES = 64 * 1024
EXIT_LOAD_FAILED = 3


class ModelFolderError(ValueError):
    """PATH is not a local MLflow model folder."""


def read_model_metadata(path: str | Path) -> Model:
    """The MLmodel file of a local model folder, or a clear error saying what PATH must be."""
    folder = Path(path)
    if not (folder / "MLmodel").is_file():
        raise ModelFolderError(
            f"{folder} is not an MLflow model folder (no MLmodel file in it): pass the folder "
            "written by mlflow.<flavor>.save_model or downloaded from a registered model version"
        )
    return Model.load(str(folder / "MLmodel"))


def model_description(meta: Model) -> dict[str, Any]:
    """What ``/metadata`` answers: the signature (inputs, outputs, params as JSON), flavors."""
    signature = None
    if meta.signature is not None:
        signature = {
            name: json.loads(value) if isinstance(value, str) else value
            for name, value in meta.signature.to_dict().items()
        }
    return {
        "signature": signature,
        "flavors": sorted(meta.flavors),
        "run_id": meta.run_id,
        "model_uuid": getattr(meta, "model_uuid", None),
        "mlflow_version": MLFLOW_VERSION,
    }


def error_response(error: MlflowException) -> Response:
    return Response(
        error.serialize_as_json(),
        status_code=error.get_http_status_code(),
        media_type="application/json",
    )


@dataclass
class Parsed:
    """A request body turned into model input, as MLflow's scoring server parses it."""

    data: Any
    params: dict[str, Any] | None
    unified_llm: bool = False


# Column types whose parsing is a cast to the schema's dtype, value by value: parsing rows of
# several requests at once gives the same frame as parsing each and concatenating.
CASTABLE = {"double", "float", "long", "integer", "boolean", "string"}


@dataclass
class RawFrame:
    """A ``dataframe_split`` or ``dataframe_records`` body whose parsing is left to the batch.

    Building a pandas frame costs far more per frame than per row (a one-row frame cast to its
    schema takes about as long as the forest's predict), so the rows of requests batched
    together are handed to MLflow's parser once (:meth:`parse`, the very function ``mlflow
    models serve`` calls). Only bodies whose rows are plain lists (split) or dicts with the same
    keys (records) are kept raw, and only for models whose input schema casts every column.
    """

    orient: str  # "split" or "records"
    columns: tuple[str, ...]
    rows: list[Any]

    def batch_key(self) -> tuple[Any, ...] | None:
        return (self.orient, self.columns) if self.rows else None

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def concatenate(cls, parts: Sequence[RawFrame]) -> RawFrame:
        return cls(parts[0].orient, parts[0].columns, [row for p in parts for row in p.rows])

    def parse(self, schema: Any) -> Any:
        if self.orient == "split":
            payload: Any = {"columns": list(self.columns), "data": self.rows}
        else:
            payload = self.rows
        return mlflow_scoring.infer_and_parse_data({f"dataframe_{self.orient}": payload}, schema)

    @staticmethod
    def of(decoded: dict[str, Any]) -> tuple[RawFrame, dict[str, Any] | None] | None:
        """The raw frame and params of a decoded JSON body, or None to parse it at once."""
        if mlflow_scoring.is_unified_llm_input(decoded):
            return None
        formats = set(decoded) & mlflow_scoring.SUPPORTED_FORMATS
        params = decoded.get(mlflow_scoring.SERVING_PARAMS_KEY)
        if len(formats) != 1 or not isinstance(params, (dict, type(None))):
            return None
        name = formats.pop()
        value = decoded[name]
        if name == mlflow_scoring.DF_SPLIT:
            if not isinstance(value, dict) or set(value) != {"columns", "data"}:
                return None
            columns, data = value["columns"], value["data"]
            if not (
                isinstance(columns, list)
                and all(isinstance(c, str) for c in columns)
                and isinstance(data, list)
                and all(isinstance(row, list) and len(row) == len(columns) for row in data)
            ):
                return None
            return RawFrame("split", tuple(columns), data), params
        if name == mlflow_scoring.DF_RECORDS:
            if not (isinstance(value, list) and value and isinstance(value[0], dict)):
                return None
            keys = tuple(value[0])
            if not all(isinstance(row, dict) and tuple(row) == keys for row in value):
                return None
            return RawFrame("records", keys, value), params
        return None


class Refused(Exception):
    """A request's final answer is MLflow's ``error``: raised by :meth:`ScoringModel.predict`
    so that the batcher hands it to that request alone."""

    def __init__(self, error: MlflowException) -> None:
        super().__init__(error.message)
        self.error = error


class ScoringModel:
    """A loaded pyfunc model with MLflow's parsing and answering around its ``predict``."""

    def __init__(self, path: str) -> None:
        self.model = mlflow_scoring.load_model_with_mlflow_config(path)
        self.input_schema = self.model.metadata.get_input_schema()
        self._takes_params = "params" in inspect.signature(self.model.predict).parameters
        metadata, schema = self.model.metadata, self.input_schema
        self._defer_frames = (
            schema is not None
            and not schema.is_tensor_spec()
            and schema.has_input_names()
            and all(getattr(t, "name", None) in CASTABLE for t in schema.input_types())
            and not (
                hasattr(metadata, "_is_signature_from_type_hint")
                and metadata._is_signature_from_type_hint()
            )
        )

    def parse(self, body: bytes, content_type: str | None) -> Parsed | Response:
        """The model input of a request, or the answer MLflow gives to its content type.

        Mirrors the content-type checks of ``mlflow.pyfunc.scoring_server.invocations`` (which
        parses and predicts in one function, so it cannot be reused for batching) and calls the
        same parsers; their MlflowExceptions propagate to :func:`error_response`.
        """
        type_parts = [part.strip() for part in (content_type or "").split(";")]
        mime_type, pairs = type_parts[0], type_parts[1:]
        parameters = {key: value for pair in pairs for key, _, value in [pair.partition("=")]}
        if parameters.get("charset", "utf-8").lower() != "utf-8":
            return Response("The scoring server only supports UTF-8", 415, media_type="text/plain")
        if unexpected := set(parameters).difference({"charset"}):
            return Response(
                f"Unrecognized content type parameters: {', '.join(unexpected)}. "
                f"{mlflow_scoring.SCORING_PROTOCOL_CHANGE_INFO}",
                415,
                media_type="text/plain",
            )
        if mime_type == mlflow_scoring.CONTENT_TYPE_JSON:
            decoded = mlflow_scoring._decode_json_input(body)
            if self._defer_frames and (raw := RawFrame.of(decoded)) is not None:
                return Parsed(*raw)
            parsed = mlflow_scoring._parse_json_data(
                decoded, self.model.metadata, self.input_schema
            )
            return Parsed(parsed.data, parsed.params, parsed.is_unified_llm_input)
        if mime_type == mlflow_scoring.CONTENT_TYPE_CSV:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as ex:
                raise MlflowException(
                    f"Ensure that input is a valid UTF-8 encoded string. Error: '{ex!r}'",
                    error_code=BAD_REQUEST,
                ) from ex
            return Parsed(mlflow_scoring.parse_csv_input(StringIO(text), self.input_schema), None)
        if mime_type == mlflow_scoring.CONTENT_TYPE_PARQUET:
            return Parsed(mlflow_scoring.parse_parquet_input(BytesIO(body)), None)
        return Response(
            "This predictor only supports the following content types: "
            f"Types: {mlflow_scoring.CONTENT_TYPES}. Got '{content_type}'.",
            415,
            media_type="text/plain",
        )

    def parse_or_answer(self, body: bytes, content_type: str | None) -> Parsed | Response:
        """:meth:`parse`, with MLflow's error answer for a body it refuses."""
        try:
            return self.parse(body, content_type)
        except MlflowException as error:
            return error_response(error)

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        """The model's predictions; :class:`Refused` with MLflow's answer if it fails."""
        if isinstance(data, RawFrame):
            try:
                data = data.parse(self.input_schema)
            except MlflowException as error:
                raise Refused(error) from error
        try:
            if self._takes_params:
                return self.model.predict(data, params=params)
            mlflow_scoring._log_warning_if_params_not_in_predict_signature(logger, params)
            return self.model.predict(data)
        except Exception as error:
            raise Refused(self.prediction_error(data, error)) from error

    def error_answer(self, data: Any, error: BaseException) -> Response:
        if isinstance(error, Refused):
            return error_response(error.error)
        return error_response(self.prediction_error(data, error))

    @staticmethod
    def prediction_error(data: Any, error: BaseException) -> MlflowException:
        """The error MLflow's scoring server answers when ``predict`` raised ``error``."""
        if isinstance(error, MlflowException):
            error.message = f"Failed to predict data '{data}'. \nError: {error.message}"
            return error
        return MlflowException(
            "Encountered an unexpected error while evaluating the model. Verify that the "
            "serialized input Dataframe is compatible with the model for inference.",
            error_code=BAD_REQUEST,
            stack_trace="".join(traceback.format_exception(error)),
        )

    @staticmethod
    def answer(predictions: Any, unified_llm: bool) -> str:
        out = StringIO()
        if unified_llm:
            mlflow_scoring.unwrapped_predictions_to_json(predictions, out)
        else:
            mlflow_scoring.predictions_to_json(predictions, out)
        return out.getvalue()


@dataclass
class WorkerState:
    """One worker's model, batcher and its slots in the shared readiness and counter arrays."""

    model_path: str
    index: int
    ready: Sequence[int]  # one flag per worker (shared memory)
    counters: Sequence[int]  # len(STAT_FIELDS) per worker (shared memory)
    max_batch_size: int
    max_wait_ms: float
    meta: Model
    model: ScoringModel | None = None
    batcher: Batcher | None = None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    server: uvicorn.Server | None = None
    failed: bool = False

    def count_call(self, size: int, calls: int) -> None:
        base = self.index * len(STAT_FIELDS)
        counters: Any = self.counters
        counters[base] += size
        counters[base + 1] += calls
        if size > 1 and calls == 1:
            counters[base + 2] += size
        counters[base + 3] = max(counters[base + 3], size)

    def count_in_flight(self, change: int) -> None:
        counters: Any = self.counters
        counters[self.index * len(STAT_FIELDS) + 4] += change

    def stats(self) -> dict[str, Any]:
        width = len(STAT_FIELDS)
        workers = [
            dict(zip(STAT_FIELDS, self.counters[i * width : (i + 1) * width], strict=True))
            for i in range(len(self.ready))
        ]
        total = {name: sum(w[name] for w in workers) for name in STAT_FIELDS}
        total["largest_batch"] = max(w["largest_batch"] for w in workers)
        return {**total, "workers": workers}

    async def load(self) -> None:
        try:
            self.model = await asyncio.to_thread(ScoringModel, self.model_path)
        except Exception:
            logger.exception(
                "worker %d could not load the model at %s", self.index, self.model_path
            )
            self.failed = True
            if self.server is not None:
                self.server.should_exit = True
            return
        self.batcher = Batcher(
            self.model.predict,
            max_batch_size=self.max_batch_size,
            max_wait_ms=self.max_wait_ms,
            on_call=self.count_call,
        )
        self.batcher.start()
        ready: Any = self.ready
        ready[self.index] = 1
        self.loaded.set()
        logger.info("worker %d (pid %d) loaded the model", self.index, os.getpid())


def build_app(state: WorkerState) -> Starlette:
    description = model_description(state.meta)

    async def ping(_: Request) -> Response:
        ready = sum(state.ready)
        if ready == len(state.ready):
            return Response("\n", media_type="application/json")
        return JSONResponse(
            {"status": "loading", "ready_workers": ready, "workers": len(state.ready)}, 503
        )

    async def health(_: Request) -> Response:
        return Response("\n", media_type="application/json")

    async def version(_: Request) -> Response:
        return Response(MLFLOW_VERSION, media_type="application/json")

    async def metadata(_: Request) -> Response:
        return JSONResponse(description)

    async def stats(_: Request) -> Response:
        return JSONResponse(state.stats())

    async def invocations(request: Request) -> Response:
        state.count_in_flight(1)
        try:
            return await invoke(request)
        finally:
            state.count_in_flight(-1)

    async def invoke(request: Request) -> Response:
        if not state.loaded.is_set():
            await state.loaded.wait()  # this worker is still loading; the others may not be
        model, batcher = state.model, state.batcher
        assert model is not None and batcher is not None
        with batcher.arriving():
            body = await request.body()
            content_type = request.headers.get("content-type")
            if len(body) > PARSE_INLINE_BYTES:
                parsed = await asyncio.to_thread(model.parse_or_answer, body, content_type)
            else:
                parsed = model.parse_or_answer(body, content_type)
        if isinstance(parsed, Response):
            return parsed
        try:
            predictions = await batcher.predict(parsed.data, parsed.params)
            return Response(
                model.answer(predictions, parsed.unified_llm), media_type="application/json"
            )
        except Exception as error:
            return model.error_answer(parsed.data, error)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        load = asyncio.create_task(state.load())
        try:
            yield
        finally:
            load.cancel()
            if state.batcher is not None:
                await state.batcher.close()

    return Starlette(
        routes=[
            Route("/ping", ping),
            Route("/health", health),
            Route("/version", version),
            Route("/metadata", metadata),
            Route("/stats", stats),
            Route("/invocations", invocations, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def _exit_zero(signum: int, _frame: Any) -> None:
    # Before uvicorn serves (while loading) a SIGTERM just ends the worker; after it has drained,
    # uvicorn raises the signal again, and ending with 0 is what the supervisor expects.
    raise SystemExit(0)


def run_worker(
    args: argparse.Namespace,
    sock: socket.socket,
    index: int,
    ready: Sequence[int],
    counters: Sequence[int],
    meta: Model,
) -> int:
    """Serve on ``sock`` until SIGTERM; 0 after a drain, EXIT_LOAD_FAILED if loading failed."""
    signal.signal(signal.SIGTERM, _exit_zero)
    signal.signal(signal.SIGINT, _exit_zero)
    state = WorkerState(
        model_path=args.model,
        index=index,
        ready=ready,
        counters=counters,
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
        meta=meta,
    )
    config = uvicorn.Config(
        build_app(state),
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=args.drain_timeout_s,
        timeout_keep_alive=30,
        backlog=2048,
    )
    state.server = uvicorn.Server(config)
    try:
        state.server.run(sockets=[sock])
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    return EXIT_LOAD_FAILED if state.failed else 0


class Supervisor:
    """Keeps ``--workers`` forked worker processes on one socket; SIGTERM drains them all."""

    def __init__(self, args: argparse.Namespace, sock: socket.socket, meta: Model) -> None:
        self.args, self.sock, self.meta = args, sock, meta
        # fork: the workers inherit the imported MLflow and the socket (spawn would re-import)
        methods = multiprocessing.get_all_start_methods()
        self.ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.ready = self.ctx.Array("b", args.workers, lock=False)
        self.counters = self.ctx.Array("q", args.workers * len(STAT_FIELDS), lock=False)
        self.workers: list[Any] = [None] * args.workers
        self.seen_ready = [False] * args.workers
        self.stopping = threading.Event()

    def _start(self, index: int) -> None:
        self.ready[index] = 0
        process = self.ctx.Process(
            target=_worker_main,
            args=(self.args, self.sock, index, self.ready, self.counters, self.meta),
            name=f"scoring-worker-{index}",
        )
        process.start()
        self.workers[index] = process

    def _stop(self, *_: Any) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for index in range(self.args.workers):
            self._start(index)
        code = 0
        while not self.stopping.wait(0.2):
            for index, process in enumerate(self.workers):
                if self.ready[index]:
                    self.seen_ready[index] = True
                if process.is_alive():
                    continue
                if not self.seen_ready[index]:
                    logger.error(
                        "worker %d exited (%s) before it was ready", index, process.exitcode
                    )
                    code = process.exitcode or EXIT_LOAD_FAILED
                    self.stopping.set()
                    break
                logger.warning("worker %d exited (%s); starting another", index, process.exitcode)
                self._start(index)
        # The workers close their copies of the socket; ours must go too, or new connections
        # would wait in its backlog for an accept that never comes instead of being refused.
        self.sock.close()
        for process in self.workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains its in-flight requests
        for process in self.workers:
            process.join()
        return code


def _worker_main(*args: Any) -> None:
    sys.exit(run_worker(*args))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mlbench.endpoints.scoring",
        description="Serve a local MLflow model folder over MLflow's /invocations protocol.",
    )
    parser.add_argument("--model", required=True, help="a local MLflow model folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    parser.add_argument(
        "--max-batch-size", type=int, default=64, help="most rows merged into one predict call"
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=2.0,
        help="most a request waits for others already arriving to join its call (never when idle)",
    )
    parser.add_argument(
        "--drain-timeout-s",
        type=float,
        default=30.0,
        help="on SIGTERM, the most time given to in-flight requests",
    )
    args = parser.parse_args(argv)
    for name in ("workers", "max_batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_wait_ms < 0 or args.drain_timeout_s < 0:
        parser.error("--max-wait-ms and --drain-timeout-s must be 0 or more")
    return args


SPARE = "--spare"


def wait_as_spare() -> list[str] | None:
    """A spare scoring process (``--spare``): started ahead by the supervisor so a deployment
    does not wait for these imports (seconds); it reads its real arguments as one JSON line
    ``{"argv": [...], "log": PATH}`` on stdin, sends its output to PATH and serves. None when
    stdin closes first (the supervisor stopped)."""
    import importlib.util

    # the flavor most models served here use; its import is a second of a deploy
    if importlib.util.find_spec("sklearn") is not None:
        import sklearn.base  # noqa: F401
    line = sys.stdin.readline()
    if not line.strip():
        return None
    request = json.loads(line)
    out = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    return [str(a) for a in request["argv"]]


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == [SPARE]:
        argv = wait_as_spare()
        if argv is None:
            return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    )
    args = parse_args(argv)
    started = time.monotonic()
    try:
        meta = read_model_metadata(args.model)
    except (ModelFolderError, MlflowException, OSError) as error:
        logger.error("%s", error)
        return 2
    os.environ[mlflow_scoring._MLFLOW_IS_IN_SERVING_ENVIRONMENT.name] = "true"
    config = uvicorn.Config("", host=args.host, port=args.port, backlog=2048)
    try:
        sock = config.bind_socket()
    except (OSError, SystemExit) as error:
        logger.error("cannot listen on %s:%d: %s", args.host, args.port, error)
        return 2
    logger.info(
        "serving %s on http://%s:%d with %d worker(s) (max batch %d rows, max wait %g ms); "
        "started in %.2f s",
        args.model,
        args.host,
        sock.getsockname()[1],
        args.workers,
        args.max_batch_size,
        args.max_wait_ms,
        time.monotonic() - started,
    )
    if args.workers == 1:
        ready = multiprocessing.Array("b", 1, lock=False)
        counters = multiprocessing.Array("q", len(STAT_FIELDS), lock=False)
        return run_worker(args, sock, 0, ready, counters, meta)
    return Supervisor(args, sock, meta).run()


if __name__ == "__main__":
    sys.exit(main())
