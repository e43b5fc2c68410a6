"""Running one job's notebook with papermill on a kernel the agent provides.

mlbench registers a papermill engine of its own (papermill's engine registry is meant for this):
it is papermill's nbclient engine plus what a job engine needs — a per-cell progress callback, a
silent *prelude* that gives a pre-started kernel the job's environment variables and working
folder before the first cell, a silent *epilogue* that flushes buffered metrics before the kernel
is discarded, and bounded output.

Bounded output: nbclient appends every output message to the cell, so a cell printing 200 MiB
held 200 MiB (and more, as many small outputs) in the agent. Here, as a notebook frontend does,
consecutive stream outputs of one name are merged into one output as they arrive, and each
output is cut to ``output_max_bytes`` (a text keeps its first and last halves with a note between
them; a larger image or other rich output is replaced by a note); outputs beyond
``notebook_output_max_bytes`` for the whole notebook are left out, with a note in their cell.
The job's log gets every stream's full text (it has its own cap, see :mod:`.joblog`). The output
notebook is saved atomically; a save that fails for a full disk does not stop the job, and the
last one failing fails it as ``disk_full``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager
from papermill.exceptions import PapermillExecutionError
from traitlets import Integer, Unicode

from mlbench.agent.joblog import disk_full_message, is_disk_full, size_text
from mlbench.config import WorkspaceSettings
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


# ipykernel sends what a stream got in each 0.2 s as one message, however large: a fast loop
# makes messages of tens of MiB, and the agent holds each one (several times while decoding).
# The prelude makes the kernel's stdout and stderr send at most this much per message, so the
# agent's memory depends on neither the output's size nor its speed.
STREAM_MESSAGE_MAX = 128 * 1024
# ... and, given an acknowledgement file (a local kernel), wait while more than this much of
# what they sent is not yet read by the agent. Without this back-pressure a kernel printing
# faster than the agent reads fills ZeroMQ's queues (1000 messages each way), which then drop
# messages, the end-of-cell one included; and the agent's backlog fails the cell after
# nbclient's iopub_timeout.
STREAM_WINDOW = 4 * 1024 * 1024
STREAM_ACK_FILE = ".stream-ack"

# IPython wraps each stream's ``write`` for every cell it runs (an instance attribute, put
# back after the cell): the bounded ``write`` is a property on the class, so it stays under
# whatever wrapper IPython sets. A kernel whose output the agent stops reading (output of an
# earlier cell's thread, which nbclient ignores) waits at most 2 s, then goes on.
_BOUND_STREAMS = """\
import sys as _mlbench_sys
def _mlbench_bound(cls, limit, ack_path, window):
    import os, struct, time
    original, state = cls.write, {"sent": 0, "fd": None}
    def wait_for_reader():
        if ack_path is None:
            return
        if state["fd"] is None:
            try:
                state["fd"] = os.open(ack_path, os.O_RDONLY)
            except OSError:
                return
        last, since = -1, time.monotonic()
        while True:
            try:
                acked = struct.unpack("<q", os.pread(state["fd"], 8, 0))[0]
            except Exception:
                return
            if state["sent"] - acked <= window:
                return
            if acked != last:
                last, since = acked, time.monotonic()
            elif time.monotonic() - since > 2:
                state["sent"] = acked
                return
            time.sleep(0.002)
    def bounded(self, text):
        if not isinstance(text, str):
            return original(self, text)
        for start in range(0, max(len(text), 1), limit):
            piece = text[start:start + limit]
            original(self, piece)
            state["sent"] += len(piece)
            pending = self.__dict__.get("_mlbench_pending", 0) + len(piece)
            if pending >= limit:
                pending = 0
                self.flush()
                wait_for_reader()
            self.__dict__["_mlbench_pending"] = pending
        return len(text)
    def get(self):
        wrapper = self.__dict__.get("_mlbench_write")
        return wrapper if wrapper is not None else bounded.__get__(self, cls)
    def set(self, value):
        if getattr(value, "__func__", None) in (original, bounded):
            value = None
        self.__dict__["_mlbench_write"] = value
    cls.write = property(get, set)
    cls._mlbench_bounded = True
_mlbench_cls = type(_mlbench_sys.stdout)
_mlbench_ours = _mlbench_cls.__module__.startswith("ipykernel.")
if _mlbench_ours and not hasattr(_mlbench_cls, "_mlbench_bounded"):
    try:
        _mlbench_bound(_mlbench_cls, %d, %r, %d)
    except Exception:
        pass
del _mlbench_bound, _mlbench_sys, _mlbench_cls, _mlbench_ours
"""


def python_prelude(env: dict[str, str], cwd: str, stream_ack: Path | None = None) -> str:
    """Code run silently in a pooled Python kernel before the job's first cell.

    ``stream_ack``: the file through which the agent tells the kernel how much stream output it
    has read (see STREAM_WINDOW); give the same path to :func:`run_notebook`.
    """
    ack = str(stream_ack) if stream_ack is not None else None
    return (
        "import os as _mlbench_os\n"
        f"_mlbench_os.environ.update({json.dumps(env)})\n"
        f"_mlbench_os.chdir({json.dumps(cwd)})\n"
        "del _mlbench_os\n" + _BOUND_STREAMS % (STREAM_MESSAGE_MAX, ack, STREAM_WINDOW)
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

    # canceled, early_terminated, timed_out, kernel_unresponsive, agent_stopping
    reason: str | None = None
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


@dataclass(frozen=True)
class OutputLimits:
    """How much output one job's notebook keeps (see the module docstring)."""

    per_output: int = WorkspaceSettings.model_fields["output_max_bytes"].default
    notebook: int = WorkspaceSettings.model_fields["notebook_output_max_bytes"].default

    @classmethod
    def of(cls, settings: WorkspaceSettings) -> OutputLimits:
        return cls(settings.output_max_bytes, settings.notebook_output_max_bytes)


# Each output counts this much on top of its content toward the notebook's budget, so a
# flood of tiny outputs is bounded too (about an output's JSON and object overhead).
OUTPUT_OVERHEAD = 512
_MIN_STREAM = 1024  # a new stream output needs at least this much of the budget left
JOB_ERROR_MAX_BYTES = 256 * 1024  # a failed cell's value and traceback, as the job records them


@dataclass
class NotebookSave:
    """Where the output notebook goes and how its last save went."""

    path: Path
    nb: Any = None
    error: OSError | None = None
    """The last save's error (a full disk); None once a save succeeds."""
    warned: bool = False

    def write(self, nb: Any) -> None:
        """Write atomically (a failed save leaves the previous one whole); a full disk is
        recorded, not raised, so the job goes on and a later save may succeed."""
        self.nb = nb
        tmp = self.path.with_name(f".{self.path.name}.saving")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(nbformat.writes(nb))
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if not is_disk_full(exc):
                raise
            if not self.warned:
                log.warning("could not save %s: %s", self.path, exc)
                self.warned = True
            self.error = exc
        else:
            self.error = None


class _Stream:
    """One stream output being merged as its messages arrive: its first half kept as it came,
    its last half in a window, and how many bytes fell out between them."""

    def __init__(self, node: NotebookNode, limit: int) -> None:
        self.node = node
        self.limit = limit
        self.head_max = limit - limit // 2
        self.tail_max = limit // 2
        self.head: list[str] = []
        self.head_bytes = 0
        self.head_full = False
        self.tail: deque[list[Any]] = deque()  # [text, bytes]
        self.tail_bytes = 0
        self.left_out = 0
        self.dirty = False

    @property
    def kept(self) -> int:
        return self.head_bytes + self.tail_bytes

    def add(self, text: str) -> None:
        self.dirty = True
        n = _utf8_len(text)
        if not self.head_full:
            if self.head_bytes + n <= self.head_max:
                self.head.append(text)
                self.head_bytes += n
                return
            part = _cut_text(text, self.head_max - self.head_bytes)
            self.head.append(part)
            self.head_bytes += _utf8_len(part)
            self.head_full = True
            text = text[len(part) :]
            n = _utf8_len(text)
        self.tail.append([text, n])
        self.tail_bytes += n
        while self.tail_bytes > self.tail_max:
            first = self.tail[0]
            excess = self.tail_bytes - self.tail_max
            if first[1] <= excess:
                self.tail.popleft()
                dropped = first[1]
            else:
                # Drop by characters (each is at least a byte): encoding only the dropped part
                # keeps this linear however large the piece is.
                dropped = _utf8_len(first[0][:excess])
                first[0], first[1] = first[0][excess:], first[1] - dropped
            self.tail_bytes -= dropped
            self.left_out += dropped

    def render(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        if len(self.head) > 1:
            self.head = ["".join(self.head)]
        head = self.head[0] if self.head else ""
        tail = "".join(t for t, _ in self.tail)
        if not self.left_out:
            self.node["text"] = head + tail
            return
        newline = tail.find("\n", 0, 4096)  # start the kept end at a line
        if newline >= 0:
            tail = tail[newline + 1 :]
        self.node["text"] = (
            head
            + ("" if head.endswith("\n") else "\n")
            + _left_out_note(self.left_out, self.limit, stream=True)
            + tail
        )


def _left_out_note(n: int, limit: int, *, stream: bool = False) -> str:
    more = "; the job's log (job.log) has more" if stream else ""
    return (
        f"\n[mlbench] ... {size_text(n)} of output left out here ... (an output keeps its first "
        f"and last {size_text(limit // 2)}: workspace setting output_max_bytes{more})\n\n"
    )


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def _cut_text(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` UTF-8 bytes."""
    if limit <= 0:
        return ""
    if text.isascii():
        return text[:limit]
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


def head_tail(text: str, limit: int) -> str:
    """``text`` within about ``limit`` bytes: its first and last halves with a note between."""
    n = _utf8_len(text)
    if n <= limit:
        return text
    head = _cut_text(text, limit - limit // 2)
    tail_start = len(text) - len(_cut_text(text[::-1], limit // 2))
    left_out = n - _utf8_len(head) - _utf8_len(text[tail_start:])
    return head + _left_out_note(left_out, limit) + text[tail_start:]


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return _utf8_len(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sum(_utf8_len(v) for v in value)
    try:
        return len(json.dumps(value))
    except (TypeError, ValueError):
        return 0


def cap_output_content(msg_type: str, content: dict[str, Any], limit: int) -> int:
    """Cut one output message's content to ``limit`` (in place); returns its size after."""
    if msg_type == "error":
        content["evalue"] = head_tail(str(content.get("evalue", "")), limit // 4)
        lines = [str(line) for line in content.get("traceback") or []]
        budget = limit - _utf8_len(content["evalue"])
        if sum(_utf8_len(x) for x in lines) > budget:
            per_line = max(256, budget // 16)
            lines = [head_tail(x, per_line) for x in lines]
            keep = max(2, budget // per_line)
            if len(lines) > keep:
                note = f"[mlbench] ... {len(lines) - keep} traceback lines left out ..."
                lines = [*lines[: keep // 2], note, *lines[len(lines) - (keep - keep // 2) :]]
        content["traceback"] = lines
        return _utf8_len(content["evalue"]) + sum(_utf8_len(x) for x in lines)
    data = content.get("data")
    if not isinstance(data, dict):
        return 0
    sizes = {mime: _value_size(value) for mime, value in data.items()}
    total = sum(sizes.values())
    if total <= limit:
        return total
    dropped = []
    for mime in sorted(sizes, key=lambda m: sizes[m], reverse=True):
        if total <= limit:
            break
        if mime != "text/plain":
            total -= sizes.pop(mime)
            dropped.append(f"{mime} of {size_text(_value_size(data.pop(mime)))}")
    text = data.get("text/plain")
    if isinstance(text, list):
        text = "".join(text)
    text = head_tail(text, limit) if isinstance(text, str) else ""
    if dropped:
        text = (
            f"[mlbench] output left out: {', '.join(dropped)} (over the limit of "
            f"{size_text(limit)} for one output: workspace setting output_max_bytes)\n" + text
        )
    data["text/plain"] = text
    return sum(_value_size(v) for v in data.values())


class _TrackedExecutionManager(NotebookExecutionManager):
    def __init__(
        self,
        nb: Any,
        listener: CellListener | None,
        save_to: NotebookSave | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(nb, **kwargs)
        self._listener = listener
        self._save_to = save_to
        self.before_save: Any = None  # the client's: merged streams into their outputs

    def save(self, **kwargs: Any) -> None:
        if kwargs.get("nb") is not None:
            self.nb = kwargs["nb"]
        if self.before_save is not None:
            self.before_save()
        if self._save_to is not None:
            self._save_to.write(self.nb)
        elif self.output_path:
            super().save()
        self.last_save_time = self.now()

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_start(cell, cell_index, **kwargs)
        if self._listener is not None and cell_index is not None:
            # numbered as in the user's notebook: papermill's injected cell is not one of theirs
            index = user_cell_index(self.nb.cells, cell_index)
            if index is not None:
                self._listener.cell_started(index, user_cell_count(self.nb.cells), cell.source)

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_complete(cell, cell_index, **kwargs)
        if self._listener is not None and cell_index is not None:
            index = user_cell_index(self.nb.cells, cell_index)
            if index is not None:
                self._listener.cell_finished(index)


class _JobNotebookClient(PapermillNotebookClient):
    prelude = Unicode("")
    epilogue = Unicode("")
    output_max_bytes = Integer(OutputLimits.per_output)
    notebook_output_max_bytes = Integer(OutputLimits.notebook)
    stream_ack = Unicode("")

    def __init__(self, nb_man: Any, **kwargs: Any) -> None:
        super().__init__(nb_man, **kwargs)
        self._streams: dict[int, _Stream] = {}  # id(output node) -> its merger, this cell's
        self._nb_bytes = 0  # what the notebook's outputs count toward its budget
        self._cell_bytes = 0  # ... of which the running cell's, since its last clear
        self._left_out = [0, 0]  # outputs of the running cell left out: count, bytes
        nb_man.before_save = self._render_streams
        self._read = self._acked = 0  # stream characters read, and told to the kernel
        self._ack_fd: int | None = None
        if self.stream_ack:
            try:  # 8 bytes written in place: works on a full disk too, once created
                self._ack_fd = os.open(self.stream_ack, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                os.pwrite(self._ack_fd, struct.pack("<q", 0), 0)
            except OSError as exc:
                log.warning("no output back-pressure for this job: %s", exc)

    # -- bounded outputs -----------------------------------------------------------------------
    def execute_cell(  # type: ignore[override]
        self,
        cell: NotebookNode,
        cell_index: int,
        execution_count: int | None = None,
        store_history: bool = True,
    ) -> NotebookNode:
        self._streams.clear()
        self._cell_bytes = 0
        self._left_out = [0, 0]
        try:
            return super().execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            self._render_streams()
            self._streams.clear()
            count, size = self._left_out
            if count:
                note = (
                    f"[mlbench] {count} output(s) of this cell ({size_text(size)}) left out: the "
                    f"notebook's outputs reached {size_text(self.notebook_output_max_bytes)} "
                    "(workspace setting notebook_output_max_bytes); their printed text is in "
                    "the job's log"
                )
                cell.outputs.append(
                    nbformat.v4.new_output("display_data", data={"text/plain": note})
                )

    def _render_streams(self) -> None:
        for stream in self._streams.values():
            stream.render()

    def _clear(self, outs: list[NotebookNode], cell_index: int) -> None:
        outs[:] = []
        self.clear_display_id_mapping(cell_index)
        self._streams.clear()
        self._nb_bytes -= self._cell_bytes
        self._cell_bytes = 0
        self._left_out = [0, 0]

    def _charge(self, n: int) -> None:
        self._nb_bytes += n
        self._cell_bytes += n

    def _room(self) -> int:
        return self.notebook_output_max_bytes - self._nb_bytes - OUTPUT_OVERHEAD

    def output(
        self,
        outs: list[NotebookNode],
        msg: dict[str, Any],
        display_id: str | None,
        cell_index: int,
    ) -> NotebookNode | None:
        if self.output_hook_stack[msg["parent_header"].get("msg_id")]:  # an Output widget's
            if msg["msg_type"] == "stream":
                self._ack(len(msg["content"].get("text", "")))
            return super().output(outs, msg, display_id, cell_index)
        if self.clear_before_next_output:  # a clear_output(wait=True) waiting for this output
            self.clear_before_next_output = False
            self._clear(outs, cell_index)
        msg_type, content = msg["msg_type"], msg["content"]
        if msg_type == "stream":
            self._stream(outs, content.get("name", "stdout"), content.get("text", ""))
            return None  # written to the log above: papermill must not write it again
        size = cap_output_content(msg_type, content, self.output_max_bytes)
        if size > self._room() and msg_type != "error":  # papermill reports the error output
            self._left_out[0] += 1
            self._left_out[1] += size
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None:
            self._charge(size + OUTPUT_OVERHEAD)
        return out

    def _ack(self, n: int) -> None:
        self._read += n
        if self._ack_fd is not None and self._read - self._acked >= STREAM_MESSAGE_MAX:
            self._acked = self._read
            with contextlib.suppress(OSError):  # the kernel stops waiting after a while
                os.pwrite(self._ack_fd, struct.pack("<q", self._read), 0)

    def _close_ack(self) -> None:
        if self._ack_fd is not None:
            os.close(self._ack_fd)
            self._ack_fd = None
            Path(self.stream_ack).unlink(missing_ok=True)

    def _stream(self, outs: list[NotebookNode], name: str, text: str) -> None:
        sink = self.stdout_file if name == "stdout" else self.stderr_file
        if sink is not None:
            sink.write(text)
            sink.flush()
        self._ack(len(text))
        last = outs[-1] if outs else None
        merger = self._streams.get(id(last)) if last is not None else None
        if merger is None or merger.node is not last or last.get("name") != name:
            limit = min(self.output_max_bytes, self._room())
            if limit < _MIN_STREAM:
                self._left_out[0] += 1
                self._left_out[1] += _utf8_len(text)
                return
            node = nbformat.v4.new_output("stream", name=name, text="")
            merger = _Stream(node, limit)
            self._streams[id(node)] = merger
            outs.append(node)
            self._charge(OUTPUT_OVERHEAD)
        before = merger.kept
        merger.add(text)
        self._charge(merger.kept - before)

    def clear_output(self, outs: list[NotebookNode], msg: dict[str, Any], cell_index: int) -> None:
        if self.output_hook_stack[msg["parent_header"].get("msg_id")] or msg["content"].get("wait"):
            super().clear_output(outs, msg, cell_index)
        else:
            self._clear(outs, cell_index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        # an update replaces an output's data: bound it like a new output
        cap_output_content("display_data", msg["content"], self.output_max_bytes)
        super()._update_display_id(display_id, msg)

    def execute(self, **kwargs: Any) -> Any:
        try:
            return super().execute(**kwargs)
        finally:
            self._close_ack()
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
        save_to: NotebookSave | None = None,
        limits: OutputLimits | None = None,
        stream_ack: Path | None = None,
        **kwargs: Any,
    ) -> Any:
        nb_man = _TrackedExecutionManager(
            nb,
            listener,
            save_to=save_to,
            output_path=output_path,
            progress_bar=False,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        if save_to is not None:
            nb.metadata.papermill["output_path"] = str(save_to.path)
        limits = limits or OutputLimits()
        if stream_ack is not None:
            kwargs["stream_ack"] = str(stream_ack)
        kwargs["output_max_bytes"] = limits.per_output
        kwargs["notebook_output_max_bytes"] = limits.notebook
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
    limits: OutputLimits | None = None,
    stream_ack: Path | None = None,
) -> Outcome:
    """Execute the notebook; classify how it ended, papermill's way.

    A raising cell fails the job (``SystemExit`` with no or a zero code does not);
    a kernel that dies fails it with the cause; a stop requested by the agent (cancel,
    timeout, unresponsive kernel, agent stopping) decides the status when it caused the end.
    ``epilogue`` is Python run silently after the last cell, after the metrics flush.
    ``limits`` bound the outputs the output notebook keeps (default: the settings' defaults);
    ``stream_ack`` is the file given to :func:`python_prelude` (back-pressure on printing).
    An output notebook that could not be saved for a full disk fails the job as ``disk_full``.
    """
    save = NotebookSave(output)
    outcome = _execute(
        snapshot=snapshot,
        save=save,
        parameters=parameters,
        kernel=kernel,
        prelude=prelude,
        log_file=log_file,
        listener=listener,
        stop=stop,
        start_timeout=start_timeout,
        epilogue=epilogue,
        limits=limits,
        stream_ack=stream_ack,
    )
    if save.error is not None:
        return with_disk_full(outcome, disk_full_message(output.parent, "the output notebook"))
    return outcome


def with_disk_full(outcome: Outcome, message: str) -> Outcome:
    """A completed job whose results could not all be stored fails as ``disk_full``; one that
    ended otherwise keeps its status and error, with the disk named in its reason."""
    if outcome.status == JobStatus.COMPLETED:
        return Outcome(JobStatus.FAILED, message, JobError(kind="disk_full", message=message))
    if "disk full" in outcome.reason:  # one disk-full cause is enough to say
        return outcome
    reason = f"{outcome.reason}; also {message}" if outcome.reason else message
    return Outcome(outcome.status, reason, outcome.error, outcome.retryable)


def _execute(
    *,
    snapshot: Path,
    save: NotebookSave,
    parameters: dict[str, Any],
    kernel: NotebookKernel,
    prelude: str,
    log_file: Any,
    listener: CellListener,
    stop: StopRequest,
    start_timeout: float,
    epilogue: str,
    limits: OutputLimits | None,
    stream_ack: Path | None,
) -> Outcome:
    import papermill

    try:
        # papermill itself writes nothing (no output path): the engine saves, atomically and
        # without raising for a full disk (NotebookSave).
        papermill.execute_notebook(
            str(snapshot),
            None,
            save_to=save,
            limits=limits,
            stream_ack=stream_ack,
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
        if save.nb is not None:  # with the error cells papermill added (it wrote nothing)
            save.write(save.nb)
        # papermill counts its injected parameters cell: number the cell as the user's notebook does
        cells = save.nb.cells if save.nb is not None else []
        executed = [c for c in cells if not _is_error_note(c)]
        index = user_cell_index(executed, exc.cell_index)
        # the injected parameters themselves raised: the user's parameters cell, just before
        exc.cell_index = index if index is not None else max(0, exc.cell_index - 1)
        if stop.requested:
            return stopped_outcome(stop, exc)
        if not exc.evalue:
            # An error with no error output (e.g. an IPython UsageError from a magic) has its
            # message on stderr only.
            exc.evalue = _failed_cell_stderr(save.nb)
        # The error is stored in the job's row and shown in every list: keep it small.
        shown = {"evalue": exc.evalue or "", "traceback": list(exc.traceback or [])}
        cap_output_content("error", shown, JOB_ERROR_MAX_BYTES)
        exc.evalue, exc.traceback = shown["evalue"], shown["traceback"]
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
    if stop.reason == "early_terminated":  # a sweep's policy: its own state, not an error
        return Outcome(JobStatus.EARLY_TERMINATED, f"stopped early{where}: {stop.detail}")
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


def _failed_cell_stderr(nb: Any) -> str:
    if nb is None:
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


def _head(source: str | None, lines: int = 60, chars: int = 4000) -> str:
    """The start of a cell's source, ending with a line "…" when some was left out."""
    all_lines = (source or "").splitlines()
    head = "\n".join(all_lines[:lines])
    if len(all_lines) <= lines and len(head) <= chars:
        return head
    return head[:chars].rstrip("\n") + "\n…"


INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell it adds
_ERROR_NOTE_TAG = "papermill-error-cell-tag"  # ... and on the notes it adds for an error


def _tags(cell: Any) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def _is_error_note(cell: Any) -> bool:
    return _ERROR_NOTE_TAG in _tags(cell)


def _injected_at(cells: list[Any]) -> int | None:
    for i, cell in enumerate(cells):
        if INJECTED_TAG in _tags(cell):
            return i
    return None


def user_cell_index(cells: list[Any], index: int) -> int | None:
    """The index of ``cells[index]`` in the user's notebook (the one submitted), where
    papermill's injected parameters cell is not: None for that cell itself."""
    injected = _injected_at(cells)
    if injected is None or index < injected:
        return index
    return None if index == injected else index - 1


def user_cell_count(cells: list[Any]) -> int:
    """How many cells the user's notebook has: the injected parameters cell not counted."""
    return len(cells) - (1 if _injected_at(cells) is not None else 0)
