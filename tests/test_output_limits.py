"""Issue 12, items 7 and 8: a job's output is bounded, and a full disk fails the job, not the agent.

Real agent, real kernels. The output test sets small caps through the workspace settings and
prints far more; the memory test compares the agent's peak memory for 16 MiB and 256 MiB of
output; the disk test puts a workspace on a 40 MiB tmpfs (root only, as in CI) and prints 100 MiB.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import require_service
from tests.test_jobs import WAIT, wait_for

KiB, MiB = 1024, 1024 * 1024
LOG_CAP = 256 * KiB
OUTPUT_CAP = 64 * KiB
NOTEBOOK_CAP = 512 * KiB


def _print_cell(mib: int) -> str:
    """A cell printing HEAD-MARK, ``mib`` MiB of numbered lines, then TAIL-MARK."""
    return (
        "import sys\n"
        "print('HEAD-MARK', flush=True)\n"
        f"for i in range({mib} * 1024):\n"
        "    sys.stdout.write(f'{i:08d} ' + 'x' * 1014 + '\\n')\n"
        "print('TAIL-MARK')"
    )


def _workspace(home: Path, **settings: Any) -> Any:
    from mlbench import Workspace

    return Workspace(home, agent_idle_timeout_s=60, cancel_grace_s=2, **settings)


def _stop(ws: Any) -> None:
    from mlbench.agent.process import AgentHandle

    for target in ws.compute.list():
        AgentHandle(ws, target.name).stop(now=True, timeout=30)
    ws.close()


def _agent_pid(ws: Any) -> int:
    return int(wait_for(lambda: (ws.jobs.agent("local").info() or {}).get("pid")))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def test_job_log_keeps_head_and_tail_redacts_and_survives_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from mlbench.agent import joblog
    from mlbench.agent.joblog import JobLog

    path = tmp_path / "job.log"
    with JobLog(path, max_bytes=4 * KiB, redact=lambda t: t.replace("s3cr3t", "***")) as log:
        log.write("first é\nthe key is s3")  # a secret split across two writes
        log.write("cr3t\n")
        for i in range(1000):
            log.write(f"line {i:04d} ü\n")
        log.write("last line\n")
    text = path.read_text()  # valid UTF-8: no character cut in two
    assert path.stat().st_size <= 4 * KiB + 512
    assert text.startswith("first é\nthe key is ***\n") and "s3cr3t" not in text
    assert re.search(r"\[mlbench\] \d+\.\d KiB of output left out here", text)
    assert text.endswith("last line\n")
    assert not (tmp_path / ".job.log.tail").exists()

    # ENOSPC for a while: output is dropped, not raised; where writing resumes, a line says so
    real_write, full = os.write, [True]

    def write(fd: int, data: Any) -> int:
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(joblog.os, "write", write)
    log = JobLog(tmp_path / "b.log", max_bytes=MiB, retry_s=0)
    log.write("lost " * 100)
    assert log.error is not None and log.error.errno == errno.ENOSPC and log.lost == 500
    full[0] = False
    log.write("back\n")
    log.close()
    assert log.error is None
    assert (tmp_path / "b.log").read_text() == (
        "\n[mlbench] 500 bytes of output could not be written here: [Errno 28] No space left on "
        "device\nback\n"
    )


def test_outputs_are_cut_as_frontends_do() -> None:
    from mlbench.agent.execute import cap_output_content, head_tail

    assert head_tail("abc", 10) == "abc"
    cut = head_tail("a" * 5000 + "b" * 5000, 1000)
    assert cut.startswith("a" * 500) and cut.endswith("b" * 500) and "8.8 KiB of output" in cut
    bundle = {"data": {"image/png": "A" * 5000, "text/html": "<b>x</b>", "text/plain": "<Fig>"}}
    assert cap_output_content("display_data", bundle, 1000) < 1000
    assert set(bundle["data"]) == {"text/html", "text/plain"}
    assert bundle["data"]["text/plain"].startswith("[mlbench] output left out: image/png of 4.9")
    error = {"ename": "E", "evalue": "v" * 10_000, "traceback": [f"frame {i}" for i in range(5000)]}
    assert cap_output_content("error", error, 4 * KiB) <= 5 * KiB
    assert any("traceback lines left out" in line for line in error["traceback"])
    assert error["traceback"][0] == "frame 0" and error["traceback"][-1] == "frame 4999"


def test_log_and_output_notebook_are_bounded(tmp_path: Path, notebook: Any) -> None:
    ws = _workspace(
        tmp_path / "ws",
        job_log_max_bytes=LOG_CAP,
        output_max_bytes=OUTPUT_CAP,
        notebook_output_max_bytes=NOTEBOOK_CAP,
    )
    try:
        nb = notebook(
            _print_cell(16),
            # an image over the per-output limit, with its text form
            "display({'image/png': 'A' * 200_000, 'text/plain': '<Figure>'}, raw=True)",
            "'y' * 300_000",  # a result whose text is over the limit
            # a live plot: 50 frames of 40 KB, each clearing the last (only the last counts)
            "from IPython.display import clear_output\n"
            "for i in range(50):\n"
            "    clear_output(wait=True)\n"
            "    display({'image/png': 'B' * 40_000, 'text/plain': f'frame {i}'}, raw=True)",
            "from IPython.display import display\nfor i in range(5000):\n    display(i)",
        )
        job = ws.jobs.submit(nb)
        info = job.wait(WAIT).info
        assert info.status.value == "completed", info.status_reason

        log_path = ws.paths.log(job.id)
        log_size = log_path.stat().st_size
        text = log_path.read_text()
        assert log_size <= LOG_CAP + 2 * KiB, log_size  # 16 MiB printed
        assert text.index("HEAD-MARK") < text.index("of output left out") < text.index("TAIL-MARK")
        assert re.search(r"\[mlbench\] 1[56]\.\d MiB of output left out here", text), text[-2000:]
        assert text.rstrip().endswith("completed")
        assert not (ws.paths.job_dir(job.id) / ".job.log.tail").exists()

        out_path = ws.paths.output_notebook(job.id)
        out_size = out_path.stat().st_size
        assert out_size <= NOTEBOOK_CAP + 64 * KiB, out_size
        cells = [c for c in json.loads(out_path.read_text())["cells"] if c["cell_type"] == "code"]
        (stream,) = cells[0]["outputs"]  # the prints, merged into one output as they came
        stream_text = _text(stream["text"])
        assert len(stream_text) <= OUTPUT_CAP + KiB
        assert stream_text.startswith("HEAD-MARK\n00000000 ")
        assert stream_text.rstrip().endswith("TAIL-MARK")
        assert re.search(r"\[mlbench\] \.\.\. 1[56]\.\d MiB of output left out here", stream_text)
        (image,) = cells[1]["outputs"]
        assert "image/png" not in image["data"]
        assert "image/png of 195.3 KiB" in _text(image["data"]["text/plain"])
        assert "<Figure>" in _text(image["data"]["text/plain"])
        (result,) = cells[2]["outputs"]
        shown = _text(result["data"]["text/plain"])
        assert shown.startswith("'yyy") and shown.endswith("yyy'") and "left out here" in shown
        assert len(shown) <= OUTPUT_CAP + KiB
        (frame,) = cells[3]["outputs"]
        assert frame["data"]["image/png"] == "B" * 40_000
        assert _text(frame["data"]["text/plain"]) == "frame 49"
        flood = cells[4]["outputs"]
        assert 100 < len(flood) < 5000
        assert "output(s) of this cell" in _text(flood[-1]["data"]["text/plain"])

        # MLflow keeps copies of the bounded files, not of the output
        copies = [
            p for p in (ws.home / "mlflow").rglob("*") if p.name in ("job.log", "output.ipynb")
        ]
        assert {p.name for p in copies} == {"job.log", "output.ipynb"}
        assert all(p.stat().st_size <= max(log_size, out_size) for p in copies)
        # a failed cell's huge message: bounded in the notebook and in the job's record
        bad = ws.jobs.submit(
            notebook("raise ValueError('v' * (4 * 1024 * 1024))", name="bad.ipynb")
        )
        info = bad.wait(WAIT).info
        assert info.status.value == "failed" and info.error and info.error.kind == "cell_error"
        assert info.error.evalue and "left out here" in info.error.evalue
        assert len(info.error.evalue) <= 64 * KiB + KiB
        assert sum(map(len, info.error.traceback)) <= 256 * KiB
        assert ws.paths.output_notebook(bad.id).stat().st_size <= 2 * OUTPUT_CAP
        assert ws.paths.log(bad.id).stat().st_size <= LOG_CAP + 2 * KiB
        print(
            f"\n16 MiB printed: job.log {log_size} bytes (cap {LOG_CAP}), output.ipynb "
            f"{out_size} bytes (caps {OUTPUT_CAP}/output, {NOTEBOOK_CAP}/notebook)"
        )
    finally:
        _stop(ws)


def _peak_rss(pid: int, job: Any) -> int:
    """The process's peak resident memory while ``job`` runs to its end."""
    proc = psutil.Process(pid)
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        info = job.wait(WAIT).info
    finally:
        done.set()
        thread.join()
    assert info.status.value == "completed", info.status_reason
    return peak[0]


def test_agent_memory_does_not_grow_with_output(tmp_path: Path, notebook: Any) -> None:
    ws = _workspace(tmp_path / "ws")  # the default caps
    try:
        warm = ws.jobs.submit(notebook("print('warm up')", name="warm.ipynb"))
        assert warm.wait(WAIT).info.status.value == "completed"
        pid = _agent_pid(ws)
        small = _peak_rss(pid, ws.jobs.submit(notebook(_print_cell(16), name="small.ipynb")))
        large_job = ws.jobs.submit(notebook(_print_cell(256), name="large.ipynb"))
        large = _peak_rss(pid, large_job)
        log_size = ws.paths.log(large_job.id).stat().st_size
        out_size = ws.paths.output_notebook(large_job.id).stat().st_size
        print(
            f"\nagent peak RSS: {small / MiB:.0f} MiB for 16 MiB printed, {large / MiB:.0f} MiB "
            f"for 256 MiB printed; 256 MiB job: job.log {log_size / MiB:.1f} MiB, output.ipynb "
            f"{out_size / MiB:.1f} MiB"
        )
        # 240 MiB more output. Unbounded, the agent's peak grew by about 1.4 GiB here; bounded,
        # by tens of MiB (the agent also grows a little with every job, whatever its output).
        assert large - small < 64 * MiB
        assert log_size <= 64 * MiB + 2 * KiB and out_size <= 11 * MiB
    finally:
        _stop(ws)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 MiB tmpfs (needs root, as in CI; elsewhere the test is skipped)."""
    if os.geteuid() != 0:
        require_service("root, to mount a small tmpfs", "run the tests as root, as CI does")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        require_service(
            f"permission to mount a tmpfs ({done.stderr.strip()})",
            "run the tests as root with CAP_SYS_ADMIN, as CI does",
        )
    try:
        yield mount
    finally:
        for _ in range(100):  # the agent's last files close as it exits
            umount = subprocess.run(["umount", str(mount)], capture_output=True, check=False)
            if umount.returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_disk_full_fails_the_job_and_the_agent_lives(small_disk: Path, notebook: Any) -> None:
    ws = _workspace(small_disk / "ws")  # the default caps: the log alone could take 64 MiB
    try:
        flood = ws.jobs.submit(notebook(_print_cell(100), name="flood.ipynb"))
        info = flood.wait(WAIT).info
        assert info.status.value == "failed" and info.error is not None, info.status_reason
        assert info.error.kind == "disk_full", info.error
        assert info.status_reason.startswith("disk full: ")
        assert str(small_disk) in info.status_reason and "free of 40.0 MiB" in info.status_reason
        pid = _agent_pid(ws)
        print(f"\n100 MiB printed on a 40 MiB disk: {info.status_reason}")

        # A job that fills the disk itself and ends: its end is recorded while the disk is
        # still full (the agent gives up its reserve for that), with the cause.
        filler = small_disk / "ws" / "filler"
        fill = ws.jobs.submit(
            notebook(
                f"f = open({str(filler)!r}, 'wb')\n"
                "try:\n"
                "    while True:\n"
                "        f.write(b'0' * 65536)\n"
                "        f.flush()\n"
                "except OSError as exc:\n"
                "    print('filled:', exc)",
                "print('after')",
                name="fill.ipynb",
            )
        )
        info = fill.wait(WAIT).info
        assert info.status.value == "failed" and info.error is not None, info.status_reason
        assert info.error.kind == "disk_full", info.error
        assert filler.exists()
        assert psutil.pid_exists(pid) and _agent_pid(ws) == pid

        # Room again: the agent goes on with the next job.
        filler.unlink()
        for log in (small_disk / "ws").rglob("job.log"):
            log.unlink()
        assert _free(small_disk) > 8 * MiB
        ok = ws.jobs.submit(notebook("print('fine')", name="ok.ipynb"))
        info = ok.wait(WAIT).info
        assert info.status.value == "completed", info.status_reason
        assert _agent_pid(ws) == pid
        assert "fine" in ws.paths.log(ok.id).read_text()
    finally:
        _stop(ws)
