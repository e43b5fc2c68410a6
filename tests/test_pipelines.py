"""Pipelines on real kernels and a real agent: data passed between steps, failure policies,
step reuse and each key component, ``why``, reruns and subsets, agent SIGKILL mid-run, and
bad pipelines refused before anything runs."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from mlbench.errors import InvalidInputError, MlbenchError
from tests.conftest import make_notebook, run_cli
from tests.test_jobs import WAIT, wait_for

PREP = """
import os
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "numbers.json"), "w") as f:
    json.dump(list(range(n)), f)
"""
SCALE = """
import os, time
time.sleep(pause)
numbers = json.load(open(os.path.join(train, "numbers.json")))
os.makedirs(result, exist_ok=True)
with open(os.path.join(result, "value.json"), "w") as f:
    json.dump(sum(numbers) * factor, f)
if fail:
    raise RuntimeError("asked to fail")
"""
JOIN = """
import os
a = json.load(open(os.path.join(left, "value.json")))
b = json.load(open(os.path.join(right, "value.json")))
os.makedirs(total, exist_ok=True)
with open(os.path.join(total, "total.json"), "w") as f:
    json.dump(a + b, f)
"""


def _notebooks(folder: Path) -> dict[str, Path]:
    return {
        "prep": make_notebook(
            folder / "prep.ipynb", "import json", PREP, parameters='n = 3\nout = ""'
        ),
        "scale": make_notebook(
            folder / "scale.ipynb",
            "import json",
            SCALE,
            parameters='train = ""\nresult = ""\nfactor = 1\npause = 0.0\nfail = False',
        ),
        "join": make_notebook(
            folder / "join.ipynb",
            "import json",
            JOIN,
            parameters='left = ""\nright = ""\ntotal = ""',
        ),
    }


def _diamond(folder: Path, **settings: Any) -> dict[str, Any]:
    """prep -> (a, b) -> join: fan-out and fan-in, data passed at each edge."""
    nbs = _notebooks(folder)
    body = {
        "type": "pipeline",
        "display_name": "diamond",
        "inputs": {"n": 4, "pause": 0.0},
        "settings": settings,
        "jobs": {
            "prep": {
                "type": "notebook",
                "notebook": str(nbs["prep"]),
                "parameters": {"n": "${{parent.inputs.n}}"},
                "outputs": {"out": {"type": "uri_folder"}},
            },
            "a": {
                "type": "notebook",
                "notebook": str(nbs["scale"]),
                "inputs": {"train": "${{parent.jobs.prep.outputs.out}}"},
                "parameters": {"factor": 2, "pause": "${{parent.inputs.pause}}"},
                "outputs": {"result": None},
            },
            "b": {
                "type": "notebook",
                "notebook": str(nbs["scale"]),
                "inputs": {"train": "${{parent.jobs.prep.outputs.out}}"},
                "parameters": {"factor": 10, "pause": "${{parent.inputs.pause}}"},
                "outputs": {"result": None},
            },
            "join": {
                "type": "notebook",
                "notebook": str(nbs["join"]),
                "inputs": {
                    "left": "${{parent.jobs.a.outputs.result}}",
                    "right": "${{parent.jobs.b.outputs.result}}",
                },
                "outputs": {"total": "${{parent.outputs.total}}"},
            },
        },
    }
    return body


def _read(ws: Any, ref: str, filename: str) -> Any:
    return json.loads((ws.data.get(ref).path() / filename).read_text())


def _statuses(run: Any) -> dict[str, str]:
    return {s.name: s.status.value for s in run.steps()}


# -- validation before anything runs -----------------------------------------------------------
def test_cycles_and_bad_bindings_are_refused_before_anything_runs(ws: Any, tmp_path: Path) -> None:
    base = _diamond(tmp_path)

    def refused(change: Any, message: str) -> None:
        body = json.loads(json.dumps(base))
        change(body)
        with pytest.raises(MlbenchError) as err:
            ws.pipelines.run(body, start_agent=False)
        assert message in str(err.value), str(err.value)

    def cycle(b: dict[str, Any]) -> None:
        b["jobs"]["prep"]["inputs"] = {"seed": "${{parent.jobs.join.outputs.total}}"}

    refused(cycle, "cycle: ")

    def unknown_step(b: dict[str, Any]) -> None:
        b["jobs"]["a"]["inputs"]["train"] = "${{parent.jobs.nope.outputs.out}}"

    refused(unknown_step, "reads step 'nope', which does not exist")

    def unknown_output(b: dict[str, Any]) -> None:
        b["jobs"]["a"]["inputs"]["train"] = "${{parent.jobs.prep.outputs.missing}}"

    refused(unknown_output, "reads output 'missing' of step 'prep'")

    def unknown_input(b: dict[str, Any]) -> None:
        b["jobs"]["a"]["parameters"]["factor"] = "${{parent.inputs.nope}}"

    refused(unknown_input, "pipeline input 'nope', which is not declared")

    def type_mismatch(b: dict[str, Any]) -> None:
        b["jobs"]["a"]["parameters"]["factor"] = "lots"

    refused(type_mismatch, "step a:")

    def path_into_int(b: dict[str, Any]) -> None:  # a data path bound to an int parameter
        b["jobs"]["b"]["inputs"]["factor"] = "${{parent.jobs.prep.outputs.out}}"

    refused(path_into_int, "step b:")

    def missing_file(b: dict[str, Any]) -> None:
        b["jobs"]["join"]["notebook"] = str(tmp_path / "nowhere.ipynb")

    refused(missing_file, "does not exist")

    def bad_ref(b: dict[str, Any]) -> None:
        b["jobs"]["a"]["inputs"]["train"] = "${{parent.job.prep}}"

    refused(bad_ref, "cannot read the reference")
    assert ws.pipelines.list().items == []
    assert list(ws.jobs.list()) == []
    assert not (ws.home / "pipelines").exists() or not any((ws.home / "pipelines").iterdir())


def test_runs_page_newest_first_across_pages(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    made = [ws.pipelines.run(body, start_agent=False).info for _ in range(5)]
    newest = [i.id for i in sorted(made, key=lambda i: (i.created_at, i.id), reverse=True)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = ws.pipelines.list(limit=2, cursor=cursor)
        seen += [r.id for r in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and seen == newest  # each run once, newest first
    # a run made after the first page was read is not in the older pages
    first = ws.pipelines.list(limit=2)
    newer = ws.pipelines.run(body, start_agent=False).id
    rest = ws.pipelines.list(limit=10, cursor=first.next_cursor).items
    assert [r.id for r in rest] == newest[2:]
    assert [r.id for r in ws.pipelines.list(limit=1, status="queued").items] == [newer]
    with pytest.raises(InvalidInputError, match="unknown pipeline status"):
        ws.pipelines.list(status="nope")


def test_yaml_file_and_builder_give_the_same_graph(tmp_path: Path) -> None:
    from mlbench.pipelines import Pipeline
    from mlbench.pipelines.spec import check_graph, load_yaml, parse_pipeline

    body = _diamond(tmp_path)
    path = tmp_path / "diamond.yml"
    path.write_text(yaml.safe_dump(body))
    from_file = parse_pipeline(load_yaml(path), tmp_path)
    p = Pipeline("diamond")
    n, pause = p.input("n", 4), p.input("pause", 0.0)
    prep = p.notebook("prep", tmp_path / "prep.ipynb", parameters={"n": n}, outputs=["out"])
    a = p.notebook(
        "a",
        tmp_path / "scale.ipynb",
        inputs={"train": prep.outputs.out},
        parameters={"factor": 2, "pause": pause},
        outputs=["result"],
    )
    b = p.notebook(
        "b",
        tmp_path / "scale.ipynb",
        inputs={"train": prep.outputs.out},
        parameters={"factor": 10, "pause": pause},
        outputs=["result"],
    )
    p.notebook(
        "join",
        tmp_path / "join.ipynb",
        inputs={"left": a.outputs.result, "right": b.outputs.result},
        outputs={"total": "${{parent.outputs.total}}"},
    )
    built = p.spec()
    assert check_graph(built) == check_graph(from_file) == ["prep", "a", "b", "join"]
    assert built.model_dump() == from_file.model_dump()
    with pytest.raises(InvalidInputError, match="declares no output"):
        _ = prep.outputs.nope


# -- running -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_fan_out_fan_in_passes_data_and_a_second_run_reuses_every_step(
    ws: Any, tmp_path: Path
) -> None:
    run = ws.pipelines.run(_diamond(tmp_path))
    info = run.wait(WAIT).info
    assert info.status.value == "completed", (info.status_reason, _statuses(run))
    steps = {s.name: s for s in run.steps()}
    assert all(s.status.value == "completed" for s in steps.values())
    # 0+1+2+3 = 6: a = 12, b = 60, join = 72
    assert _read(ws, steps["a"].outputs["result"], "value.json") == 12
    assert _read(ws, info.outputs["total"], "total.json") == 72
    # each downstream job read the exact version its upstream step produced
    join_job = ws.jobs.info(steps["join"].job_id)
    assert {b.ref for b in join_job.inputs} == {
        steps["a"].outputs["result"],
        steps["b"].outputs["result"],
    }
    assert join_job.parent.kind == "pipeline" and join_job.parent.id == run.id
    # MLflow: a parent run with a child run per step
    child = ws.tracking.client.get_run(join_job.mlflow_run_id).data.tags
    assert child["mlflow.parentRunId"] == info.mlflow_run_id
    assert ws.tracking.client.get_run(info.mlflow_run_id).info.status == "FINISHED"
    started = time.monotonic()
    again = ws.pipelines.run(_diamond(tmp_path)).wait(WAIT)
    assert again.info.status.value == "completed"
    assert set(_statuses(again).values()) == {"reused"}
    assert time.monotonic() - started < 15
    assert again.info.outputs["total"] == info.outputs["total"]
    assert list(ws.jobs.list(parent=again.id)) == []  # no kernel started
    why = again.why("join")
    assert why.reused and run.id in why.reason
    # the run that computed them deleted: its data versions stay, and the reused steps that
    # point at them are still found
    ws.pipelines.delete(run.id)
    third = ws.pipelines.run(_diamond(tmp_path)).wait(WAIT)
    assert set(_statuses(third).values()) == {"reused"}
    assert third.info.outputs["total"] == info.outputs["total"]


@pytest.mark.slow
def test_independent_steps_run_at_once(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    body["inputs"]["pause"] = 2.0
    run = ws.pipelines.run(body).wait(WAIT)
    assert run.info.status.value == "completed"
    a, b = (ws.jobs.info(run.step(n).job_id) for n in ("a", "b"))
    # a and b overlapped: each started before the other finished
    assert a.started_at < b.finished_at and b.started_at < a.finished_at


def _most_at_once(jobs: list[Any]) -> int:
    """The most jobs whose recorded [started_at, finished_at] intervals overlapped."""
    edges = sorted(
        [(j.started_at, 1) for j in jobs] + [(j.finished_at, -1) for j in jobs],
        key=lambda e: (e[0], e[1]),  # a finish at the same instant as a start comes first
    )
    now = most = 0
    for _, change in edges:
        now += change
        most = max(most, now)
    return most


@pytest.mark.slow
def test_max_concurrent_steps_caps_the_steps_running_at_once(ws: Any, tmp_path: Path) -> None:
    # the local target runs two jobs at once (see test_independent_steps_run_at_once): the
    # setting, not the target, keeps a and b apart
    body = _diamond(tmp_path, max_concurrent_steps=1)
    body["inputs"]["pause"] = 1.0
    run = ws.pipelines.run(body).wait(WAIT)
    assert run.info.status.value == "completed", run.info.status_reason
    assert run.info.spec.settings.max_concurrent_steps == 1
    jobs = [ws.jobs.info(s.job_id) for s in run.steps()]
    assert len(jobs) == 4 and all(j.started_at and j.finished_at for j in jobs)
    assert _most_at_once(jobs) == 1


def test_max_concurrent_steps_must_be_a_positive_integer(ws: Any, tmp_path: Path) -> None:
    for bad in (0, -2, "2", 1.5, True):
        with pytest.raises(InvalidInputError) as err:
            ws.pipelines.run(_diamond(tmp_path, max_concurrent_steps=bad), start_agent=False)
        assert "settings.max_concurrent_steps" in str(err.value), (bad, str(err.value))
    with pytest.raises(InvalidInputError, match=r"(?s)unknown setting.*hint:.*max_concurrent"):
        ws.pipelines.run(_diamond(tmp_path, max_concurent_steps=2), start_agent=False)
    assert ws.pipelines.list().items == []


@pytest.mark.slow
def test_a_failing_sweep_driver_does_not_stop_the_pipelines(ws: Any, tmp_path: Path) -> None:
    from sqlalchemy import text

    from mlbench.sweeps.driver import SweepDriver

    # a sweep row whose spec cannot be read: the agent's sweep driver fails on every turn
    now = "2026-01-01 00:00:00.000000"
    with ws.db.write() as s:
        s.execute(
            text(
                "INSERT INTO sweeps (id, display_name, experiment, compute, notebook_path, spec,"
                " status, status_reason, cancel_requested, owner, created_at, updated_at,"
                " trial_count) VALUES ('badsweep0001', 'bad', 'bad', 'local', 'x.ipynb',"
                " '{not json', 'running', '', 0, '', :now, :now, 0)"
            ),
            {"now": now},
        )
    with pytest.raises(ValueError):  # what the agent's sweep driver meets on every turn
        SweepDriver(ws, "local", lambda: 1).tick()
    run = ws.pipelines.run(_diamond(tmp_path)).wait(WAIT)
    assert run.info.status.value == "completed", run.info.status_reason
    assert "driving sweeps failed" in ws.paths.agents_dir.joinpath("local.log").read_text()


@pytest.mark.slow
def test_steps_on_another_target_are_bounded_by_its_capacity(ws: Any, tmp_path: Path) -> None:
    ws.compute.create("one-slot", "local", max_concurrent_jobs=1)
    body = _diamond(tmp_path)
    body["inputs"]["pause"] = 1.0
    for name in ("a", "b"):  # the run is driven on local; a and b run on the one-slot target
        body["jobs"][name]["compute"] = "one-slot"
    run = ws.pipelines.run(body).wait(WAIT)
    assert run.info.status.value == "completed", run.info.status_reason
    a, b = (ws.jobs.info(run.step(n).job_id) for n in ("a", "b"))
    assert a.compute == b.compute == "one-slot"
    first, second = sorted((a, b), key=lambda j: j.started_at)
    assert second.started_at >= first.finished_at  # one at a time
    ws.jobs.agent("one-slot").stop(now=True, timeout=30)


@pytest.mark.slow
def test_a_failed_step_cancels_the_rest_by_default(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    body["jobs"]["a"]["parameters"]["fail"] = True
    body["jobs"]["b"]["parameters"]["pause"] = 30.0
    run = ws.pipelines.run(body)
    info = run.wait(WAIT).info
    states = _statuses(run)
    assert info.status.value == "failed" and "step(s) a failed" in info.status_reason
    assert states["a"] == "failed" and states["b"] == "canceled" and states["join"] == "skipped"
    assert "asked to fail" in run.step("a").status_reason


@pytest.mark.slow
def test_cancel_interrupts_the_running_steps_and_skips_the_rest(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    body["inputs"]["pause"] = 60.0
    run = ws.pipelines.run(body)
    wait_for(lambda: _statuses(run)["a"] == "running", timeout=WAIT)
    started = time.monotonic()
    info = run.cancel().wait(WAIT).info
    assert time.monotonic() - started < 30  # interrupted, not waited for
    states = _statuses(run)
    assert info.status.value == "canceled"
    assert info.status_reason == "canceled on request; skipped: join"
    assert states["prep"] == "completed" and states["join"] == "skipped"
    assert states["a"] == states["b"] == "canceled"
    assert ws.tracking.client.get_run(info.mlflow_run_id).info.status == "KILLED"


@pytest.mark.slow
def test_continue_on_step_failure_runs_the_independent_steps(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path, continue_on_step_failure=True)
    body["jobs"]["a"]["parameters"]["fail"] = True
    body["jobs"]["b"]["parameters"]["pause"] = 1.0
    body["jobs"]["side"] = {  # depends on b only: runs although a failed
        "type": "notebook",
        "notebook": str(tmp_path / "join.ipynb"),
        "inputs": {
            "left": "${{parent.jobs.b.outputs.result}}",
            "right": "${{parent.jobs.b.outputs.result}}",
        },
        "outputs": {"total": None},
    }
    run = ws.pipelines.run(body)
    info = run.wait(WAIT).info
    states = _statuses(run)
    assert info.status.value == "failed"
    assert states == {
        "prep": "completed",
        "a": "failed",
        "b": "completed",
        "join": "skipped",
        "side": "completed",
    }
    assert run.step("join").status_reason == "upstream step a failed"
    assert _read(ws, run.step("side").outputs["total"], "total.json") == 120


# -- reuse keys --------------------------------------------------------------------------------
def _save_again(path: Path) -> None:
    """Re-save a notebook as JupyterLab would after running it: outputs, counts, ids and
    metadata change; the code does not."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.metadata["collapsed"] = True
        cell["id"] = f"changed-{i}"
        if cell.cell_type == "code":
            cell.execution_count = 40 + i
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    nb.metadata["language_info"] = {"name": "python", "version": "3.99"}
    nbformat.write(nb, path)


@pytest.mark.slow
def test_each_key_component_decides_reuse_and_why_names_it(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    first = ws.pipelines.run(body).wait(WAIT)
    assert first.info.status.value == "completed"

    def rerun(change: Any = None) -> Any:
        b = json.loads(json.dumps(body))
        if change:
            change(b)
        r = ws.pipelines.run(b).wait(WAIT)
        assert r.info.status.value == "completed", r.info.status_reason
        return r

    # an output-only change (the asset's name is not in the key) and a re-saved notebook: reused
    _save_again(tmp_path / "scale.ipynb")
    r = rerun()
    assert set(_statuses(r).values()) == {"reused"}
    # parameters: a's factor changes -> a and join rerun (join's input version changed)
    r = rerun(lambda b: b["jobs"]["a"]["parameters"].update(factor=3))
    assert _statuses(r) == {"prep": "reused", "a": "completed", "b": "reused", "join": "completed"}
    why = r.why("a")
    assert why.changed == ["parameters"] and "parameters.factor: 2 -> 3" in why.details
    assert r.why("join").changed == ["inputs"]
    assert any(d.startswith("inputs.left:") for d in r.why("join").details)
    # a pipeline input substituted into a parameter
    r = rerun(lambda b: b["inputs"].update(n=5))
    assert _statuses(r)["prep"] == "completed" and r.why("prep").changed == ["parameters"]
    # code: one changed line -> that step reruns, with a diff
    nb = nbformat.read(tmp_path / "join.ipynb", as_version=4)
    nb.cells[-1].source += "\nprint('done')"
    nbformat.write(nb, tmp_path / "join.ipynb")
    r = rerun()
    assert _statuses(r) == {"prep": "reused", "a": "reused", "b": "reused", "join": "completed"}
    why = r.why("join")
    assert why.changed == ["code"] and "+print('done')" in why.details
    # options: an environment variable
    r = rerun(lambda b: b["jobs"]["b"].update(environment_variables={"X": "1"}))
    assert r.why("b").changed == ["options"] and _statuses(r)["b"] == "completed"
    # where it runs is not in the key: a timeout and resources change nothing
    r = rerun(lambda b: b["jobs"]["b"].update(environment_variables={"X": "1"}, timeout_s=600))
    assert _statuses(r)["b"] == "reused"
    # force_rerun (step), is_deterministic: false
    r = rerun(lambda b: b["jobs"]["prep"].update(force_rerun=True))
    assert _statuses(r)["prep"] == "completed" and "force_rerun" in r.why("prep").reason
    r = rerun(lambda b: b["jobs"]["prep"].update(is_deterministic=False))
    assert _statuses(r)["prep"] == "completed" and "is_deterministic" in r.why("prep").reason


def test_key_components_unit(tmp_path: Path) -> None:
    from mlbench.pipelines import keys

    path = make_notebook(tmp_path / "k.ipynb", "x = 1", parameters="a = 1")
    before = keys.notebook_digest(path.read_bytes())
    _save_again(path)
    assert keys.notebook_digest(path.read_bytes()) == before
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].metadata.tags = []  # the parameters tag decides where papermill injects
    nbformat.write(nb, path)
    assert keys.notebook_digest(path.read_bytes()) != before
    assert len(before) == 64


# -- reruns and subsets ------------------------------------------------------------------------
@pytest.mark.slow
def test_rerun_from_a_step_runs_it_and_downstream_only(ws: Any, tmp_path: Path) -> None:
    run = ws.pipelines.run(_diamond(tmp_path)).wait(WAIT)
    again = ws.pipelines.rerun(run.id, from_step="a").wait(WAIT)
    assert again.info.status.value == "completed" and again.info.source_run_id == run.id
    assert _statuses(again) == {
        "prep": "reused",
        "a": "completed",
        "b": "reused",
        "join": "completed",
    }
    assert again.step("prep").reused_from_run == run.id
    assert "selected in a rerun" in again.why("a").reason
    only = ws.pipelines.run(_diamond(tmp_path), only=["b"]).wait(WAIT)
    assert _statuses(only) == {"prep": "reused", "a": "excluded", "b": "reused", "join": "excluded"}


@pytest.mark.slow
def test_rerun_of_a_failed_run_runs_only_what_did_not_succeed(ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path, continue_on_step_failure=True)
    body["jobs"]["a"]["parameters"]["fail"] = True
    failed = ws.pipelines.run(body).wait(WAIT)
    assert failed.info.status.value == "failed"
    # the same snapshots fail again, but prep and b are taken from the failed run, not rerun
    again = ws.pipelines.rerun(failed.id).wait(WAIT)
    states = _statuses(again)
    assert states["prep"] == "reused" and states["b"] == "reused" and states["a"] == "failed"
    assert again.step("b").reused_from_run == failed.id


# -- durability --------------------------------------------------------------------------------
@pytest.mark.slow
def test_agent_sigkill_mid_run_resumes_without_rerunning_completed_steps(
    ws: Any, tmp_path: Path
) -> None:
    body = _diamond(tmp_path)
    body["inputs"]["pause"] = 3.0
    run = ws.pipelines.run(body)
    wait_for(lambda: _statuses(run)["a"] == "running", timeout=WAIT)
    prep_job = run.step("prep").job_id
    pid = int(wait_for(lambda: (ws.jobs.agent("local").info() or {}).get("pid")))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not ws.jobs.agent("local").is_running())
    ws.jobs.agent("local").ensure_running(wait=True)
    info = run.wait(WAIT).info
    states = _statuses(run)
    assert info.status.value == "completed", (info.status_reason, states)
    assert set(states.values()) == {"completed"}
    # the steps the dead agent was running were run again as new jobs; prep was not
    lost = [j for j in ws.jobs.list(parent=run.id, limit=100) if j.info.error is not None]
    assert lost and all(j.info.error.kind == "agent_lost" for j in lost)
    assert {ws.jobs.info(j.id).parent.name for j in lost} <= {"a", "b"}
    assert run.step("prep").job_id == prep_job
    jobs = ws.jobs.list(parent=run.id, limit=100)
    names = [ws.jobs.info(j.id).parent.name for j in jobs]
    assert names.count("prep") == names.count("join") == 1  # completed steps never reran


@pytest.mark.slow
def test_a_step_reserved_but_not_submitted_is_submitted_under_its_id(
    ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent dies between reserving a step's job id and submitting the job: the next
    driver submits it under that id (never a second job)."""
    from mlbench.pipelines.driver import PipelineDriver

    run = ws.pipelines.run(_diamond(tmp_path), start_agent=False)
    real = ws.jobs.submit_child

    def die(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("killed between reservation and submission")

    monkeypatch.setattr(ws.jobs, "submit_child", die)
    PipelineDriver(ws, "local").tick()
    reserved = run.step("prep")
    assert reserved.status.value == "queued" and reserved.job_id
    assert list(ws.jobs.list(parent=run.id)) == []
    monkeypatch.setattr(ws.jobs, "submit_child", real)
    PipelineDriver(ws, "local").tick()  # a new agent's driver: nothing in memory
    assert [j.id for j in ws.jobs.list(parent=run.id)] == [reserved.job_id]
    ws.jobs.agent("local").ensure_running()
    assert run.wait(WAIT).info.status.value == "completed"
    assert run.step("prep").job_id == reserved.job_id


# -- faces -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_run_list_show_why_rerun(tmp_path: Path) -> None:
    home = tmp_path / "cli-ws"
    path = tmp_path / "diamond.yml"
    path.write_text(yaml.safe_dump(_diamond(tmp_path)))
    done = run_cli(home, "pipeline", "run", str(path), "--wait", "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "completed"
    listed = run_cli(home, "pipeline", "list")
    assert run["id"] in listed.stdout and "completed" in listed.stdout
    shown = run_cli(home, "pipeline", "show", run["id"])
    assert "join" in shown.stdout and "completed" in shown.stdout
    again = run_cli(home, "pipeline", "rerun", run["id"], "--from", "join", "--wait")
    assert again.returncode == 0, again.stderr
    assert "join: completed" in again.stdout and "prep: reused" in again.stdout
    rerun_id, status = again.stdout.strip().splitlines()[-1].split()
    assert status == "completed"
    why = run_cli(home, "pipeline", "why", rerun_id, "prep")
    assert why.returncode == 0 and f"prep: reused: reused from run {run['id']}" in why.stdout
    why = run_cli(home, "pipeline", "why", rerun_id, "join", "--json")
    assert json.loads(why.stdout)["reason"] == "not looked up: selected in a rerun"
    bad = run_cli(home, "pipeline", "run", str(path), "--only", "nope")
    assert bad.returncode == 2 and "unknown step 'nope'" in bad.stderr


# -- Azure ML pipeline YAML --------------------------------------------------------------------
AZURE_PIPELINE = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: azure-two-steps
experiment_name: pipelines-azure
settings:
  default_compute: azureml:cpu-cluster
  continue_on_step_failure: false
inputs:
  rows: 5
outputs:
  final:
    type: uri_folder
jobs:
  make:
    type: command
    code: src/make
    command: python make.py --rows ${{inputs.rows}} --out ${{outputs.table}}
    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    inputs:
      rows: ${{parent.inputs.rows}}
    outputs:
      table:
        type: uri_folder
  count:
    type: command
    code: src/count
    command: python count.py --table ${{inputs.table}} --out ${{outputs.n}}
    inputs:
      table: ${{parent.jobs.make.outputs.table}}
    outputs:
      n: ${{parent.outputs.final}}
"""


@pytest.mark.slow
def test_azure_ml_pipeline_yaml_runs_as_written(ws: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "make").mkdir(parents=True)
    (src / "count").mkdir()
    (src / "make" / "make.py").write_text(
        "import argparse, os\np = argparse.ArgumentParser()\np.add_argument('--rows', type=int)\n"
        "p.add_argument('--out')\na = p.parse_args()\nos.makedirs(a.out, exist_ok=True)\n"
        "open(os.path.join(a.out, 'rows.txt'), 'w').write('\\n'.join(map(str, range(a.rows))))\n"
    )
    (src / "count" / "count.py").write_text(
        "import argparse, os\np = argparse.ArgumentParser()\np.add_argument('--table')\n"
        "p.add_argument('--out')\na = p.parse_args()\nos.makedirs(a.out, exist_ok=True)\n"
        "n = len(open(os.path.join(a.table, 'rows.txt')).read().split())\n"
        "open(os.path.join(a.out, 'n.txt'), 'w').write(str(n))\n"
    )
    path = tmp_path / "pipeline.yml"
    path.write_text(AZURE_PIPELINE)
    spec = ws.pipelines.load(path)
    assert spec.compute == "local" and spec.jobs["make"].environment is None
    run = ws.jobs.submit_yaml(path)  # what `mlbench run pipeline.yml` does
    info = run.wait(WAIT).info
    assert info.status.value == "completed", (info.status_reason, _statuses(run))
    assert (ws.data.get(info.outputs["final"]).path() / "n.txt").read_text() == "5"
    # a step whose code folder changed reruns; the other is reused
    count = src / "count" / "count.py"
    count.write_text(count.read_text() + "\n# a comment\n")
    again = ws.jobs.submit_yaml(path).wait(WAIT)
    assert _statuses(again) == {"make": "reused", "count": "completed"}
    why = again.why("count")
    assert why.changed == ["code"] and "+# a comment" in why.details


# -- Elyra ---------------------------------------------------------------------------------------
def _elyra_node(node_id: str, filename: str, after: list[str], env: list[Any]) -> dict[str, Any]:
    op = "execute-notebook-node" if filename.endswith(".ipynb") else "execute-python-node"
    return {
        "id": node_id,
        "type": "execution_node",
        "op": op,
        "app_data": {
            "component_parameters": {
                "filename": filename,
                "runtime_image": "continuumio/anaconda3:2021.11",
                "env_vars": env,
                "dependencies": [],
                "outputs": [],
            },
            "ui_data": {"label": Path(filename).stem},
        },
        "inputs": [
            {
                "id": "inPort",
                "links": [
                    {"id": f"{a}-{node_id}", "node_id_ref": a, "port_id_ref": "outPort"}
                    for a in after
                ],
            }
        ],
        "outputs": [{"id": "outPort"}],
    }


@pytest.mark.slow
def test_an_elyra_pipeline_of_notebooks_and_scripts_runs(ws: Any, tmp_path: Path) -> None:
    folder = tmp_path / "elyra"
    make_notebook(
        folder / "load.ipynb",
        "import os\nos.makedirs('data', exist_ok=True)\n"
        "open('data/raw.txt', 'w').write(os.environ['ROWS'])",
    )
    (folder / "double.py").write_text(
        "import os\nn = int(open('data/raw.txt').read())\n"
        "open('data/doubled.txt', 'w').write(str(n * int(os.environ['FACTOR'])))\n"
    )
    make_notebook(
        folder / "report.ipynb",
        "a = int(open('data/raw.txt').read())\nb = int(open('data/doubled.txt').read())\n"
        "open('data/report.txt', 'w').write(f'{a} {b}')",
    )
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "p1",
        "primary_pipeline": "main",
        "pipelines": [
            {
                "id": "main",
                "nodes": [
                    _elyra_node("n1", "load.ipynb", [], [{"env_var": "ROWS", "value": "21"}]),
                    _elyra_node("n2", "double.py", ["n1"], ["FACTOR=2"]),
                    _elyra_node("n3", "report.ipynb", ["n1", "n2"], []),
                ],
                "app_data": {"runtime_type": "LOCAL", "properties": {"name": "elyra-demo"}},
            }
        ],
        "schemas": [],
    }
    path = folder / "demo.pipeline"
    path.write_text(json.dumps(doc))
    spec = ws.pipelines.load(path)
    assert spec.jobs["report"].depends_on == ["double", "load"]
    assert spec.jobs["double"].environment_variables == {"FACTOR": "2"}
    run = ws.pipelines.run(path).wait(WAIT)
    assert run.info.status.value == "completed", (run.info.status_reason, _statuses(run))
    assert (folder / "data" / "report.txt").read_text() == "21 42"
    again = ws.pipelines.run(path).wait(WAIT)  # files, not versioned data: never reused
    assert set(_statuses(again).values()) == {"completed"}
    assert "is_deterministic" in again.why("load").reason
