"""The magics in real notebooks: nbclient runs them in a real python3 kernel, which submits
jobs to a real agent; the tests read the cells' outputs as a user (or nbconvert) would."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import _stop_agents, make_notebook

WAIT = 240  # bounds that only catch hangs; not speed assertions
REPO = Path(__file__).resolve().parent.parent
ID = r"[0-9a-f]{12}"


# -- running notebooks -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The workspace the kernels use (MLBENCH_HOME); its agents are stopped at the end."""
    from mlbench import Workspace

    path = tmp_path_factory.mktemp("magics-ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLBENCH_HOME", str(path))
        mp.setenv("MLBENCH_AGENT_IDLE_TIMEOUT_S", "60")
        yield path
    ws = Workspace(path)
    _stop_agents(ws)
    ws.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebooks' folder (the kernels' working folder), with notebooks to submit."""
    base = tmp_path_factory.mktemp("notebooks")
    make_notebook(
        base / "train.ipynb",
        "import time, mlbench",
        "for i in range(epochs):\n"
        "    mlbench.log_metric('loss', lr / (i + 1))\n"
        "    print('epoch', i)\n"
        "    time.sleep(0.2)",
        parameters="epochs = 3\nlr = 0.1",
    )
    make_notebook(base / "fail.ipynb", "a = 1", "raise RuntimeError('broken on purpose')")
    make_notebook(base / "slow.ipynb", "import time\ntime.sleep(120)")
    return base


def execute(cells: list[str], cwd: Path, *, timeout: float = WAIT) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "python3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=int(timeout),
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def text(cell: Any) -> str:
    """What a reader sees: stdout and the plain-text form of displayed results."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream" and out.name == "stdout":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def error_lines(cell: Any) -> list[str]:
    """The error as the reader sees it: stderr lines (apart from the kernel's warnings) and
    the lines of error outputs; a magic's error must be one line, never a traceback."""
    lines = []
    for out in cell.outputs:
        if out.output_type == "stream" and out.name == "stderr":
            lines += [x for x in out.text.splitlines() if x.strip() and not _noise(x)]
        elif out.output_type == "error":
            assert len(out.traceback) == 1, f"a traceback was shown: {out.traceback}"
            lines += out.traceback
    return lines


def _noise(line: str) -> bool:
    """The kernel's TCP warning; MLflow's INFO lines when it creates a new store's tables."""
    return "WARNING" in line or re.match(r"\d{4}/\d\d/\d\d .* INFO ", line) is not None


def assert_ok(cell: Any) -> None:
    assert not error_lines(cell), f"{cell.source!r} failed: {cell.outputs}"


def displays(cell: Any) -> list[dict[str, Any]]:
    return [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def job_id_in(cell: Any) -> str:
    m = re.search(rf"mlbench job ({ID})", text(cell))
    assert m, text(cell)
    return m.group(1)


# -- tests -----------------------------------------------------------------------------------
BAD = {
    "%mlbench bogus": "%mlbench: argument COMMAND: invalid choice: 'bogus'",
    "%mlbench run": "%mlbench run: the following arguments are required: notebook",
    "%mlbench run train.ipynb -p epochs": "%mlbench run: argument -p/--parameters: expected 2",
    "%mlbench run train.ipynb --gpus many": "argument --gpus: invalid int value: 'many'",
    "%mlbench run train.ipynb -f nope.yaml": "argument -f/--parameters_file: file 'nope.yaml'",
    "%mlbench run train.ipynb --tag team": "argument --tag: 'team' is not KEY=VALUE",
    "%mlbench run train.ipynb -p epochs many": "invalid parameters: 'epochs': expects int, got "
    "'many'",
    "%mlbench run train.ipynb -p nope 1": "'nope' is not a parameter of this notebook",
    "%mlbench run missing.ipynb": "missing.ipynb does not exist (hint: check the path)",
    "%mlbench run train.ipynb --gpus 64": "the job can never run: 64 GPU(s) requested",
    "%mlbench run train.ipynb -c nowhere": "compute target 'nowhere' does not exist",
    "%mlbench jobs --limit 0": "%mlbench jobs: argument -n/--limit: '0' must be at least 1",
    "%mlbench jobs --status sleeping": "unknown status in ['sleeping']",
    "%mlbench show 000000000000": "job '000000000000' does not exist",
    "%mlbench show": "%mlbench show: give a job ID",
    "%mlbench logs": "%mlbench logs: the following arguments are required: ID",
    "%mlbench runs no-such-experiment": "experiment 'no-such-experiment' does not exist",
    "%mlbench compare 0123456789abcdef": "is neither an MLflow run id nor a job id",
    "%mlbench run 'train.ipynb": "%mlbench: cannot read the arguments: No closing quotation",
    "%mlbench job": "`job` is a cell magic",
    "%%mlbench jobs\nprint(1)": "%%mlbench runs only `job` as a cell magic",
    "%%mlbench job\n": "the cell body is empty",  # IPython's own check
    "%%mlbench job -p 2x 1\nprint(1)": "%%mlbench job: not a Python name: '2x'",
    "%mlbench data get iris:1": "data asset 'iris' does not exist",
    "%mlbench data get iris:x": "invalid data reference 'iris:x'",
}


def test_help_and_bad_arguments(home: Path, folder: Path) -> None:
    commands = ["run", "submit", "job", "jobs", "show", "wait", "logs", "cancel", "rerun"]
    commands += ["params", "compute", "experiments", "runs", "compare", "data", "info"]
    cells = [
        "%load_ext mlbench",
        "%mlbench --help",
        "%mlbench",
        *(f"%mlbench {c} --help" for c in commands),
        "%mlbench data get --help",
        *BAD,
        # the workspace: -w for one command, %config for the session, else MLBENCH_HOME
        f"%mlbench -w {folder / 'other-ws'} info",
        f"%config MlbenchMagics.workspace = '{folder / 'configured-ws'}'\n%mlbench info",
        "%config MlbenchMagics.workspace = None\n%mlbench info",
        "%unload_ext mlbench",
        "%mlbench info",
    ]
    nb = execute(cells, folder)
    for cell in nb.cells[:3]:
        assert_ok(cell)
    usage = text(nb.cells[1])
    assert usage.startswith("usage: %mlbench [-h] [-w WORKSPACE] COMMAND ...")
    for command in commands:
        assert f"\n    {command} " in usage, command
    assert text(nb.cells[2]) == usage  # no command: the help
    helps = nb.cells[3 : 3 + len(commands) + 1]
    for command, cell in zip([*commands, "data get"], helps, strict=True):
        assert_ok(cell)
        assert text(cell).startswith(f"usage: %mlbench {command} "), text(cell)[:200]
    run_help = text(helps[0])
    for option in ("-p NAME VALUE", "-r NAME VALUE", "-y YAML", "-f FILE", "--compute", "--gpus"):
        assert option in run_help
    # each wrong command: one line naming the problem, no traceback, nothing submitted
    bad_cells = nb.cells[-len(BAD) - 5 : -5]
    for (source, expected), cell in zip(BAD.items(), bad_cells, strict=True):
        lines = error_lines(cell)
        assert len(lines) == 1, (source, lines)
        assert lines[0].startswith("UsageError: "), (source, lines)
        assert expected in lines[0], (source, lines[0])
    from mlbench import Workspace

    ws = Workspace(home)
    assert list(ws.jobs.list()) == []
    other, configured, default, unloaded, gone = nb.cells[-5:]
    assert f"workspace     {folder / 'other-ws'}\n" in text(other)
    assert f"workspace     {folder / 'configured-ws'}\n" in text(configured)
    assert f"workspace     {home}\n" in text(default)
    assert_ok(unloaded)
    assert "Line magic function `%mlbench` not found" in " ".join(error_lines(gone))


def test_run_submit_follow_and_inspect(home: Path, folder: Path) -> None:
    (folder / "params.yaml").write_text("lr: 0.25\n")
    cells = [
        "%load_ext mlbench",
        # 1: run blocks; the widget is shown once; the value keeps it
        "w = %mlbench run train.ipynb -p epochs 4 -f params.yaml --tag team=cv -e magics\n"
        "print('RUN', w.id, w.status, w.history[0], w.history[-1], w.metric_values['loss'])",
        # 2: submit returns at once with a live widget
        "s = %mlbench submit train.ipynb -p epochs 2 -p lr 0.5 -e magics\n"
        "print('SUBMITTED', s.id, s.finished)",
        "%mlbench wait {s.id}",  # 3
        "%mlbench jobs --no-live -e magics",  # 4
        "%mlbench show {w.id}",  # 5
        "%mlbench logs {w.id}",  # 6
        "%mlbench runs magics --sort loss",  # 7
        "%mlbench compare {w.id} {s.id} --metric loss",  # 8
        "r = %mlbench rerun {w.id} -p epochs 1 --wait\nprint('RERUN', r.status)",  # 9
        "%mlbench params train.ipynb",  # 10
        "%mlbench compute",  # 11
        "%mlbench info",  # 12
        # 13: a cell as a job of its own, with typed parameters and the kernel's folder
        "%%mlbench job -p n 3 -r label x1 --wait -e magics\n"
        "import os\nprint('n+1 =', n + 1, 'label =', label, 'cwd =', os.getcwd())",
        "%mlbench run fail.ipynb",  # 14: a failed job is shown, not raised
        "%mlbench run fail.ipynb --check",  # 15: unless --check
        "c = %mlbench submit slow.ipynb\n%mlbench cancel {c.id}",  # 16
        "%mlbench wait {c.id}",  # 17
        "%mlbench jobs --status canceled --no-live",  # 18
    ]
    started = time.monotonic()
    nb = execute(cells, folder)
    elapsed = time.monotonic() - started
    c = nb.cells
    for i in (*range(15), 16, 17, 18):
        assert_ok(c[i])

    from mlbench import Workspace

    ws = Workspace(home)
    # run: one display (the live widget, with static fallbacks), final state in its text
    (run_display,) = displays(c[1])
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= set(
        run_display
    )
    run_id = job_id_in(c[1])
    assert re.search(rf"RUN {run_id} completed queued completed 0\.0625\n", text(c[1]))
    assert "completed on local — 3/3 cells" in run_display["text/plain"]
    assert "mlbench-completed" in run_display["text/html"] and "<svg" in run_display["text/html"]
    run_info = ws.jobs.info(run_id)
    # -p converted to the parameter's type, -f read as YAML, exactly as the CLI does
    assert run_info.parameters == {"epochs": 4, "lr": 0.25}
    assert run_info.tags == {"team": "cv"} and run_info.experiment == "magics"

    submitted = re.search(rf"SUBMITTED ({ID}) False", text(c[2]))
    assert submitted, text(c[2])
    sub_id = submitted.group(1)
    assert f"mlbench job {sub_id} (train) completed" in text(c[3])
    assert ws.jobs.info(sub_id).parameters == {"epochs": 2, "lr": 0.5}

    table = text(c[4]).splitlines()
    assert table[0].split()[:4] == ["id", "name", "status", "progress"]
    rows = {line.split()[0]: line.split() for line in table[1:-1]}
    assert set(rows) >= {run_id, sub_id}
    assert rows[run_id][1:4] == ["train", "completed", "3/3"]
    assert table[-1].endswith("jobs")

    assert f"mlbench job {run_id} (train) completed" in text(c[5])
    assert "loss=0.0625" in text(c[5])
    logs = text(c[6])
    assert "epoch 0" in logs and "epoch 3" in logs and "completed" in logs

    runs = text(c[7]).splitlines()
    assert runs[0] == "Runs of magics"
    header = runs[1].split()
    assert header[:6] == ["run", "name", "status", "job", "started", "loss"]
    body = [r.split() for r in runs[2:-1]]
    losses = [float(r[6]) for r in body]  # (started is a date and a time: two words)
    assert len(losses) == 2 and losses == sorted(losses)  # --sort loss: the metric, ascending
    assert "sorted by metrics.loss asc" in runs[-1]

    compare = displays(c[8])[0]
    assert compare["text/plain"].startswith("Comparing 2 runs")
    assert "loss: train=0.0625, train=0.25" in compare["text/plain"]
    assert compare["text/html"].count("<polyline") >= 2

    rerun = re.search(r"RERUN (\w+)", text(c[9]))
    assert rerun and rerun.group(1) == "completed"
    rerun_id = job_id_in(c[9])
    assert ws.jobs.info(rerun_id).rerun_of == run_id
    assert ws.jobs.info(rerun_id).parameters == {"epochs": 1, "lr": 0.25}

    params = text(c[10]).splitlines()
    assert params[1].split() == ["name", "type", "default", "help"]
    assert params[2].split() == ["epochs", "int", "3"] and params[3].split() == [
        "lr",
        "float",
        "0.1",
    ]
    compute = text(c[11]).splitlines()
    assert compute[0] == "Compute targets" and compute[2].split()[:2] == ["local", "local"]
    info = text(c[12])
    assert f"workspace     {home}" in info and "in job        no" in info

    cell_job = job_id_in(c[13])
    assert f"mlbench job {cell_job} (cell) completed" in text(c[13])
    cell_info = ws.jobs.info(cell_job)
    assert cell_info.parameters == {"n": 3, "label": "x1"} and cell_info.cwd == str(folder)
    assert f"n+1 = 4 label = x1 cwd = {folder}" in ws.jobs.logs(cell_job)[0]
    assert not (home / "tmp").exists() or not any((home / "tmp").iterdir())  # cleaned up
    assert not list(folder.glob("cell*.ipynb"))  # nothing written into the user's folder

    failed = text(c[14])
    assert "(fail) failed on local" in failed and "RuntimeError: broken on purpose" in failed
    (check_error,) = error_lines(c[15])
    assert re.fullmatch(
        rf"UsageError: job {ID} failed: RuntimeError: broken on purpose", check_error
    ), check_error

    canceled_id = job_id_in(c[16])
    assert re.search(rf"{canceled_id}: (canceled|cancel requested)", text(c[16]))
    assert f"mlbench job {canceled_id} (slow) canceled" in text(c[17])
    assert canceled_id in text(c[18]) and run_id not in text(c[18])
    ws.close()
    print(f"notebook of {len(cells)} magic cells ran in {elapsed:.1f}s")


def test_magics_inside_a_job(home: Path, folder: Path) -> None:
    """A job's notebook that uses the magics: same workspace, child jobs tagged with their
    parent, progress in the parent's log, metrics in the parent's run."""
    from mlbench import Workspace
    from mlbench.agent.process import AgentHandle

    ws = Workspace(home)
    agent = AgentHandle(ws, "local")
    agent.ensure_running(wait=True)
    agent_pid = agent.info()["pid"]
    parent_nb = make_notebook(
        folder / "parent.ipynb",
        "%load_ext mlbench",
        "%mlbench info",
        "child = %mlbench run train.ipynb -p epochs 2 -e children",
        "import mlbench\nmlbench.log_metric('child_loss', child.metric_values['loss'])\n"
        "print('CHILD', child.id, child.status)",
        "%mlbench show",
    )
    job = ws.jobs.submit(parent_nb, experiment="parents").wait(WAIT)
    info = job.info
    log_text = ws.jobs.logs(job.id)[0]
    assert info.status.value == "completed", (info.status_reason, log_text)
    m = re.search(rf"CHILD ({ID}) completed", log_text)
    assert m, log_text
    child = ws.jobs.info(m.group(1))
    assert child.tags == {"mlbench.parent_job_id": job.id}
    assert child.experiment == "children" and child.parameters == {"epochs": 2}
    # no widget is watched in a job: the child's progress went to the parent's log
    assert re.search(
        rf"\[mlbench\] job {child.id} \(train\): (queued|starting|running)\n", log_text
    )
    assert f"[mlbench] job {child.id} (train): completed after" in log_text
    # the metric logged in the job went to the job's own run
    assert job.metrics() == {"child_loss": pytest.approx(0.05)}
    out = nbformat.read(job.output_notebook_path(), as_version=4)
    info_text = text(out.cells[1])
    assert f"in job        {job.id}" in info_text and f"workspace     {home}" in info_text
    assert f"mlbench job {job.id} (parent) running" in text(out.cells[4])  # show: itself
    # the child ran on the agent that runs the parent: the kernel started no agent of its own
    assert agent.info()["pid"] == agent_pid
    assert sorted(p.name for p in ws.paths.agents_dir.glob("*.lock")) == ["local.lock"]
    # canceling a job that waits for its child cancels the child too
    waiting = make_notebook(
        folder / "waiting.ipynb", "%load_ext mlbench", "%mlbench run slow.ipynb -e children"
    )
    parent = ws.jobs.submit(waiting, experiment="parents")
    child_id = wait_for_child(ws, parent.id)
    deadline = time.monotonic() + WAIT  # the parent's cell is waiting for it
    while f"job {child_id} (slow): running" not in ws.jobs.logs(parent.id)[0]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ws.jobs.cancel(parent.id)
    assert parent.wait(WAIT).status.value == "canceled"
    assert ws.jobs.wait(child_id, timeout=WAIT).status.value == "canceled"
    assert f"[mlbench] interrupted: canceled job {child_id}" in ws.jobs.logs(parent.id)[0]
    # a single-slot target: waiting there for a child would never end, so it is refused
    ws.compute.create("solo", max_concurrent_jobs=1)
    blocked = make_notebook(
        folder / "blocked.ipynb", "%load_ext mlbench", "%mlbench run train.ipynb -c solo"
    )
    refused = ws.jobs.submit(blocked, compute="solo").wait(WAIT).info
    assert refused.status.value == "failed"
    # the one-line error reaches the job's record (IPython's own UsageError would not)
    assert refused.error.ename == "MlbenchUsageError"
    assert "holds the only slot of compute 'solo'" in refused.error.evalue
    assert refused.error.traceback == [f"UsageError: {refused.error.evalue}"]
    assert [j.id for j in ws.jobs.list(compute="solo")] == [refused.id]  # nothing was queued
    ws.close()


def test_cell_notebook_name_and_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlbench.magics.cell import build_notebook, cell_notebook_name, current_kernel_name

    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/work/train model.ipynb")
    assert cell_notebook_name() == "train model_cell"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert cell_notebook_name() == "cell"
    assert current_kernel_name() == "python3"  # the venv's kernel runs this interpreter
    nb = build_notebook("print(a, b)\n\n", ["a", "b", "a"], "python3")
    assert [c.source for c in nb.cells] == ["a = None\nb = None", "print(a, b)"]
    assert nb.cells[0].metadata.tags == ["parameters"]
    assert len(build_notebook("x", [], "python3").cells) == 1


def wait_for_child(ws: Any, parent_id: str) -> str:
    """The id of the running child job that ``parent_id`` submitted."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for job in ws.jobs.list(tag=f"mlbench.parent_job_id={parent_id}", status="running"):
            return job.id
        time.sleep(0.1)
    raise AssertionError(f"job {parent_id} started no child")


def test_example_notebook_runs(home: Path, tmp_path: Path) -> None:
    """examples/magics.ipynb end to end, in a copy of examples/ (it writes nothing there, but
    a test must not depend on that)."""
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples", examples, ignore=shutil.ignore_patterns("*.output.ipynb"))
    nb = nbformat.read(examples / "magics.ipynb", as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=WAIT, resources={"metadata": {"path": str(examples)}}
    )
    client.execute()  # raises on any cell error
    outputs = "\n".join(text(c) for c in nb.cells if c.cell_type == "code")
    assert len(re.findall(r"completed on local", outputs)) >= 3
    assert "Comparing 2 runs" in outputs
    assert set(os.listdir(examples)) == set(os.listdir(REPO / "examples"))


def test_a_trailing_comment_is_not_an_argument() -> None:
    from mlbench.magics.parser import split

    assert split("run nb.ipynb -p tag a#b  # retrain") == ["run", "nb.ipynb", "-p", "tag", "a#b"]
    assert split('run nb.ipynb -p s "x # y" #c') == ["run", "nb.ipynb", "-p", "s", "x # y"]
    assert split(r"run nb.ipynb -p s \#z") == ["run", "nb.ipynb", "-p", "s", "#z"]
