"""The README and docs/*.md run as written (issue 23).

Every fenced ``bash``/``sh``/``shell`` and ``python``/``ipython`` block of README.md and
docs/*.md is one test, run in order per file, in a fresh workspace of that file (``MLBENCH_HOME``
and ``HOME`` in a temporary folder; the working folder is a temporary copy of ``examples/`` with
``.venv`` linking to the virtual environment running the tests, whose ``bin`` is on ``PATH``).
Shell blocks run in bash with ``set -eo pipefail``; variables set in one block are seen by the
next ones of the file. Python blocks (magics included) run in one Jupyter kernel per file, like
cells of a notebook. After each block no job of the workspace may have failed or timed out.

A block is marked by an HTML comment right before it (invisible on GitHub)::

    <!-- docs-test: skip REASON -->             never run; REASON is the skip's reason
    <!-- docs-test: needs gpu -->               run only where a GPU is detected
    <!-- docs-test: needs SERVICE REASON -->    a service this suite cannot stand in for as
                                                written (ray, gateway, s3): skipped, with REASON
    <!-- docs-test: setup COMMAND -->           a shell command run first (a precondition the
                                                text states, e.g. a workspace with a job in it)

Skipped blocks show their reason in pytest's summary (``-ra``, as ``make test`` runs it). Blocks
after a failed one in the same file are skipped ("an earlier block failed").
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGS = {"bash", "sh", "shell"}
PYTHON_LANGS = {"python", "py", "ipython", "ipython3"}
SERVICES = {"gpu", "ray", "gateway", "s3"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>\S+)\s*(?P<arg>.*?)\s*-->", re.DOTALL)
BLOCK_TIMEOUT_S = 420
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str  # "bash" or "python"
    code: str
    markers: tuple[tuple[str, str], ...] = ()
    last: bool = False  # the file's last runnable block

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def skip_reason(self, gpus: bool) -> str | None:
        for kind, arg in self.markers:
            if kind == "skip":
                return f"{self.name}: {arg}"
            if kind == "needs":
                service, _, reason = arg.partition(" ")
                if service == "gpu" and not gpus:
                    return f"{self.name}: needs a GPU, none detected (NVML/nvidia-smi)"
                if service != "gpu":
                    return f"{self.name}: needs {reason or service}"
        return None

    @property
    def setup(self) -> list[str]:
        return [arg for kind, arg in self.markers if kind == "setup"]


def marker_problems(kind: str, arg: str) -> str | None:
    if kind == "skip":
        return None if arg else "skip needs a reason"
    if kind == "needs":
        service = arg.split(" ", 1)[0]
        return None if service in SERVICES else f"unknown service {service!r} ({sorted(SERVICES)})"
    if kind == "setup":
        return None if arg else "setup needs a command"
    return f"unknown marker {kind!r} (skip, needs, setup)"


def parse(path: Path) -> tuple[list[Block], list[str]]:
    """The runnable blocks of one Markdown file, with their markers; and marker problems."""
    tokens = MarkdownIt("commonmark").parse(path.read_text())
    blocks: list[Block] = []
    problems: list[str] = []
    pending: list[tuple[str, str, int]] = []
    for token in tokens:
        line = (token.map[0] + 1) if token.map else 0
        if token.type == "html_block" and "docs-test:" in token.content:
            for m in MARKER.finditer(token.content):
                pending.append((m["kind"], " ".join(m["arg"].split()), line))
            continue
        if token.type == "fence":
            lang = token.info.strip().split(" ")[0].lower()
            kind = "bash" if lang in SHELL_LANGS else "python" if lang in PYTHON_LANGS else None
            if kind is None and pending:
                problems.append(f"{path.name}:{pending[0][2]}: marker before a {lang!r} block")
            if kind is not None:
                for marker_kind, arg, at in pending:
                    problem = marker_problems(marker_kind, arg)
                    if problem:
                        problems.append(f"{path.name}:{at}: {problem}")
                markers = tuple((k, a) for k, a, _ in pending)
                blocks.append(Block(path, line, kind, token.content, markers))
            pending = []
        elif pending and token.type not in ("html_block",):
            problems.append(
                f"{path.name}:{pending[0][2]}: a docs-test marker must come right "
                "before a fenced block"
            )
            pending = []
    if pending:
        problems.append(f"{path.name}:{pending[0][2]}: a docs-test marker at the end of the file")
    if blocks:
        blocks[-1] = dataclasses.replace(blocks[-1], last=True)
    return blocks, problems


def all_blocks() -> list[Block]:
    return [b for path in DOCS for b in parse(path)[0]]


BLOCKS = all_blocks()


def _gpus() -> bool:
    from mlbench.compute.gpus import detect_gpus

    return bool(detect_gpus())


# -- one file's session ------------------------------------------------------------------------
@dataclass
class DocSession:
    """A fresh workspace, working folder, shell state and (on demand) kernel for one file."""

    base: Path
    failed_at: str | None = None
    kernel: Any = None
    client: Any = None
    seen_failed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.home = self.base / "home"
        self.ws_home = self.home / ".mlbench-docs"
        self.cwd = self.base / "repo"
        self.state = self.base / "shell-state.sh"
        self.home.mkdir(parents=True)
        self.cwd.mkdir()
        shutil.copytree(ROOT / "examples", self.cwd / "examples")
        (self.cwd / ".venv").symlink_to(Path(sys.prefix))  # `source .venv/bin/activate`
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "MLBENCH_HOME": str(self.ws_home),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "COLUMNS": "120",
            # agents of an interrupted run do not linger for the default 5 minutes
            "MLBENCH_AGENT_IDLE_TIMEOUT_S": "60",
            "PYTHONUNBUFFERED": "1",
        }

    # shell
    def shell(self, code: str, what: str) -> str:
        script = (
            f'set -a\n[ -f "{self.state}" ] && source "{self.state}"\nset -eo pipefail\n'
            f'{code}\nexport -p > "{self.state}"\n'
        )
        started = time.monotonic()
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
            pytest.fail(f"{what} ran past {BLOCK_TIMEOUT_S} s:\n{code}\noutput:\n{_tail(out)}")
        output = done.stdout + done.stderr
        print(f"--- {what} ({time.monotonic() - started:.1f} s, exit {done.returncode})")
        print(_tail(output, 4000))
        if done.returncode != 0:
            pytest.fail(
                f"{what} exited {done.returncode}:\n{textwrap.indent(code, '    ')}\n"
                f"stdout:\n{_tail(done.stdout)}\nstderr:\n{_tail(done.stderr)}",
                pytrace=False,
            )
        return output

    # python / IPython: one kernel per file, like a notebook's cells
    def python(self, code: str, what: str) -> str:
        if self.client is None:
            from jupyter_client.manager import KernelManager

            self.kernel = KernelManager(kernel_name="python3")
            self.kernel.start_kernel(cwd=str(self.cwd), env=self.env)
            self.client = self.kernel.blocking_client()
            self.client.start_channels()
            self.client.wait_for_ready(timeout=120)
        parts: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                parts.append(content["text"])
            elif kind in ("display_data", "execute_result"):
                parts.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                errors.append(ANSI.sub("", "\n".join(content["traceback"])))

        started = time.monotonic()
        try:
            reply = self.client.execute_interactive(
                code, timeout=BLOCK_TIMEOUT_S, output_hook=hook, allow_stdin=False
            )
        except TimeoutError:
            self.kernel.interrupt_kernel()
            pytest.fail(
                f"{what} ran past {BLOCK_TIMEOUT_S} s:\n{code}\noutput:\n{_tail(''.join(parts))}"
            )
        output = "".join(parts)
        print(f"--- {what} ({time.monotonic() - started:.1f} s, {reply['content']['status']})")
        print(_tail(output, 4000))
        if reply["content"]["status"] != "ok" or errors:
            pytest.fail(
                f"{what} raised:\n{textwrap.indent(code, '    ')}\n"
                f"{chr(10).join(errors) or reply['content'].get('evalue', '')}\n"
                f"output:\n{_tail(output)}",
                pytrace=False,
            )
        return output

    # jobs
    def _workspace(self) -> Any:
        from mlbench import Workspace

        return Workspace(self.ws_home)

    def check_jobs(self, what: str, *, wait: bool = False) -> None:
        """No job of the workspace failed or timed out (after waiting for all, at the end)."""
        if not (self.ws_home / "mlbench.db").exists():
            return
        ws = self._workspace()
        try:
            if wait:
                for job in ws.jobs.list(status=["queued", "starting", "running"], limit=100):
                    ws.jobs.wait(job.id, timeout=BLOCK_TIMEOUT_S)
            bad = [
                j._info
                for j in ws.jobs.list(status=["failed", "timed_out"], limit=100)
                if j.id not in self.seen_failed
            ]
            self.seen_failed |= {i.id for i in bad}
            if bad:
                lines = [
                    f"job {i.id} ({i.notebook_path}) {i.status.value}: "
                    f"{i.error.message if i.error else ''}"
                    for i in bad
                ]
                pytest.fail(f"after {what}:\n" + "\n".join(lines), pytrace=False)
        finally:
            ws.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.kernel.shutdown_kernel(now=True)
            self.client = None
        if (self.ws_home / "mlbench.db").exists():
            from tests.conftest import _stop_agents

            ws = self._workspace()
            try:
                _stop_agents(ws)
                ws.schedules.scheduler().stop()  # a file that made schedules or rules
            finally:
                ws.close()


def _tail(text: str | None, limit: int = 6000) -> str:
    text = ANSI.sub("", text or "")
    return text if len(text) <= limit else "...\n" + text[-limit:]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Path, DocSession]]:
    opened: dict[Path, DocSession] = {}
    yield opened
    for session in opened.values():
        session.close()


@pytest.fixture(scope="module")
def gpus() -> bool:
    return _gpus()


# -- tests -------------------------------------------------------------------------------------
def test_markers_are_well_formed() -> None:
    problems = [p for path in DOCS for p in parse(path)[1]]
    assert not problems, "\n".join(problems)
    assert any(b.path.name == "README.md" and b.lang == "bash" for b in BLOCKS)
    assert any(b.path.name == "README.md" and b.lang == "python" for b in BLOCKS)


@pytest.mark.slow
@pytest.mark.timeout(BLOCK_TIMEOUT_S * 2 + 60)
@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_docs_block_runs_as_written(
    block: Block,
    sessions: dict[Path, DocSession],
    gpus: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if block.path not in sessions:
        sessions[block.path] = DocSession(tmp_path_factory.mktemp(block.path.stem))
    session = sessions[block.path]
    try:
        if session.failed_at:
            pytest.skip(f"{block.name}: after the failed block {session.failed_at}")
        reason = block.skip_reason(gpus)
        if reason:
            print(f"docs-test: skipped {reason}")
            pytest.skip(reason)
        try:
            for command in block.setup:
                session.shell(command, f"setup of {block.name}")
            if block.lang == "bash":
                session.shell(block.code, block.name)
            else:
                session.python(block.code, block.name)
            session.check_jobs(block.name, wait=block.last)
        except BaseException:
            session.failed_at = block.name
            raise
    finally:
        if block.last:
            session.close()
