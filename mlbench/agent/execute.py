"""Running one job's notebook with papermill on a kernel the agent provides.

mlbench registers a papermill engine of its own (papermill's engine registry is meant for this):
it is papermill's nbclient engine plus three things a job engine needs — a per-cell progress
callback, a silent *prelude* that gives a pre-started kernel the job's environment variables and
working folder before the first cell, and a silent *epilogue* that flushes buffered metrics
before the kernel is discarded.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import nbformat
from nbclient.exceptions import DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager
from papermill.exceptions import PapermillExecutionError
from traitlets import Unicode

from mlbench.jobs.lifecycle import Outcome
from mlbench.jobs.models import JobError, JobStatus

log = logging.getLogger(__name__)

ENGINE_NAME = "mlbench"

EPILOGUE = """\
import sys as _mlbench_sys
for _mlbench_name, _mlbench_call in (("mlbench.tracking.metrics", "flush"),
                                     ("mlflow", "flush_async_logging")):
    _mlbench_mod = _mlbench_sys.modules.get(_mlbench_name)
    if _mlbench_mod is not None and hasattr(_mlbench_mod, _mlbench_call):
        try:
            getattr(_mlbench_mod, _mlbench_call)()
        except Exception:
            pass
del _mlbench_sys, _mlbench_name, _mlbench_call, _mlbench_mod
"""


def python_prelude(env: dict[str, str], cwd: str) -> str:
    """Code run silently in a pooled Python kernel before the job's first cell."""
    return (
        "import os as _mlbench_os\n"
        f"_mlbench_os.environ.update({json.dumps(env)})\n"
        f"_mlbench_os.chdir({json.dumps(cwd)})\n"
        "del _mlbench_os\n"
    )


class NotebookKernel(Protocol):
    """A started kernel a job runs on (a local one, or one on a gateway)."""

    name: str
    language: str

    @property
    def km(self) -> Any: ...

    def exit_status(self) -> str: ...


class CellListener(Protocol):
    def cell_started(self, index: int, count: int, source: str) -> None: ...

    def cell_finished(self, index: int) -> None: ...


class JobSetupError(Exception):
    """The prelude failed in the kernel: the job never reached its first cell."""


class JobStopped(Exception):
    """Raised between cells when the agent asked the job to stop."""


@dataclass
class StopRequest:
    """Set by the agent's supervisor thread; read by the job's thread."""

    reason: str | None = None  # canceled, timed_out, kernel_unresponsive, agent_stopping
    detail: str = ""
    _event: threading.Event = field(default_factory=threading.Event)

    def set(self, reason: str, detail: str = "") -> bool:
        if self.reason is not None:
            return False
        self.reason, self.detail = reason, detail
        self._event.set()
        return True

    @property
    def requested(self) -> bool:
        return self.reason is not None


class _TrackedExecutionManager(NotebookExecutionManager):
    def __init__(self, nb: Any, listener: CellListener | None, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self._listener = listener

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_start(cell, cell_index, **kwargs)
        if self._listener is not None and cell_index is not None:
            self._listener.cell_started(cell_index, len(self.nb.cells), cell.source)

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_complete(cell, cell_index, **kwargs)
        if self._listener is not None and cell_index is not None:
            self._listener.cell_finished(cell_index)


class _JobNotebookClient(PapermillNotebookClient):
    prelude = Unicode("")
    epilogue = Unicode("")

    def execute(self, **kwargs: Any) -> Any:
        try:
            return super().execute(**kwargs)
        finally:
            if self.kc is not None:  # the kernel is ours to discard, but close our channels
                self.kc.stop_channels()
                self.kc.context.destroy(linger=0)
                self.kc = None

    def papermill_execute_cells(self) -> None:
        if self.prelude:
            self._run_hidden(self.prelude, "preparing the kernel for the job")
        try:
            super().papermill_execute_cells()
        finally:
            if self.epilogue and self.km is not None and self.km.is_alive():
                try:
                    self._run_hidden(self.epilogue, "flushing metrics")
                except Exception as exc:
                    log.warning("job epilogue failed: %s", exc)

    def _run_hidden(self, code: str, what: str) -> None:
        assert self.kc is not None
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        reply = self.wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            raise JobSetupError(
                f"{what} failed: {content.get('ename', 'error')}: {content.get('evalue', '')}"
            )


class MlbenchEngine(NBClientEngine):
    """papermill's nbclient engine with progress callbacks, prelude and epilogue."""

    @classmethod
    def execute_notebook(  # type: ignore[override]
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = False,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        listener: CellListener | None = None,
        **kwargs: Any,
    ) -> Any:
        nb_man = _TrackedExecutionManager(
            nb,
            listener,
            output_path=output_path,
            progress_bar=False,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        kwargs.pop("input_path", None)
        return _JobNotebookClient(
            nb_man,
            kernel_name=kernel_name,
            log=log,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            startup_timeout=start_timeout,
            timeout=execution_timeout,
            **kwargs,
        ).execute()


def register_engine() -> None:
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, MlbenchEngine)


def run_notebook(
    *,
    snapshot: Path,
    output: Path,
    parameters: dict[str, Any],
    kernel: NotebookKernel,
    prelude: str,
    log_file: Any,
    listener: CellListener,
    stop: StopRequest,
    start_timeout: float,
    epilogue: str = "",
) -> Outcome:
    """Execute the notebook; classify how it ended, papermill's way.

    A raising cell fails the job (``SystemExit`` with no or a zero code does not);
    a kernel that dies fails it with the cause; a stop requested by the agent (cancel,
    timeout, unresponsive kernel, agent stopping) decides the status when it caused the end.
    ``epilogue`` is Python run silently after the last cell, after the metrics flush.
    """
    import papermill

    try:
        papermill.execute_notebook(
            str(snapshot),
            str(output),
            parameters=parameters,
            engine_name=ENGINE_NAME,
            kernel_name=kernel.name,
            progress_bar=False,
            log_output=False,
            stdout_file=log_file,
            stderr_file=log_file,
            start_timeout=int(start_timeout),
            km=kernel.km,
            listener=listener,
            prelude=prelude,
            epilogue=EPILOGUE + epilogue if kernel.language == "python" else "",
        )
    except PapermillExecutionError as exc:
        if stop.requested:
            return stopped_outcome(stop, exc)
        if not exc.evalue:
            # An error with no error output (e.g. an IPython UsageError from a magic) has its
            # message on stderr only.
            exc.evalue = _failed_cell_stderr(output)
        return Outcome(
            JobStatus.FAILED,
            # People count cells from 1 (as every view shows them); cell_index stays 0-based.
            f"cell {exc.cell_index + 1} raised {exc.ename}: {_first_line(exc.evalue)}",
            JobError(
                kind="cell_error",
                message=f"{exc.ename}: {exc.evalue}",
                cell_index=exc.cell_index,
                execution_count=exc.exec_count,
                cell_source=_head(exc.source),
                ename=exc.ename,
                evalue=exc.evalue,
                traceback=list(exc.traceback or []),
            ),
            retryable=True,
        )
    except DeadKernelError:
        if stop.requested:
            return stopped_outcome(stop, None)
        cause = kernel.exit_status()
        hint = " (the system may have run out of memory)" if "SIGKILL" in cause else ""
        message = f"the kernel died while running the job: {cause}{hint}"
        return Outcome(
            JobStatus.FAILED,
            message,
            JobError(kind="kernel_died", message=message),
            retryable=True,
        )
    except JobSetupError as exc:
        if stop.requested:
            return stopped_outcome(stop, None)
        return Outcome(
            JobStatus.FAILED,
            str(exc),
            JobError(kind="setup_error", message=str(exc)),
            retryable=True,
        )
    except JobStopped:
        return stopped_outcome(stop, None)
    # Every cell ran: even if a stop came in at the last moment, the job did complete.
    return Outcome(JobStatus.COMPLETED)


def stopped_outcome(stop: StopRequest, exc: PapermillExecutionError | None) -> Outcome:
    cell = exc.cell_index if exc is not None else None
    where = f" in cell {cell + 1}" if cell is not None else ""
    if stop.reason == "canceled":
        msg = f"canceled{where}" + (f" ({stop.detail})" if stop.detail else "")
        return Outcome(
            JobStatus.CANCELED, msg, JobError(kind="canceled", message=msg, cell_index=cell)
        )
    if stop.reason == "timed_out":
        msg = f"timed out{where}: {stop.detail}"
        return Outcome(
            JobStatus.TIMED_OUT, msg, JobError(kind="timeout", message=msg, cell_index=cell)
        )
    if stop.reason == "kernel_unresponsive":
        msg = f"the kernel stopped responding{where}: {stop.detail}"
        return Outcome(
            JobStatus.FAILED,
            msg,
            JobError(kind="kernel_unresponsive", message=msg, cell_index=cell),
            retryable=True,
        )
    msg = f"interrupted{where}: {stop.detail or 'the agent is stopping'}"
    return Outcome(
        JobStatus.FAILED,
        msg,
        JobError(kind="agent_lost", message=msg, cell_index=cell),
        retryable=True,
    )


def _failed_cell_stderr(output: Path) -> str:
    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:
        return ""
    for cell in nb.cells:
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):
            text = "".join(
                o.get("text", "")
                for o in cell.get("outputs", [])
                if o.get("output_type") == "stream" and o.get("name") == "stderr"
            )
            return text.strip()[-2000:]
    return ""


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else ""


def _head(source: str | None, lines: int = 5) -> str:
    return "\n".join((source or "").splitlines()[:lines])[:500]
