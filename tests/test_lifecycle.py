"""One job spec, one lifecycle: who may write job state, what a spec stores, how hooks plug in."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import InvalidInputError
from mlbench.jobs.lifecycle import JobHook, Submission
from mlbench.jobs.spec import JobParent, JobSpec
from mlbench.store import JobEventRow, JobRow

PACKAGE = Path(__file__).resolve().parents[1] / "mlbench"
LIFECYCLE = PACKAGE / "jobs" / "lifecycle.py"
JOB_TABLES = {"JobRow", "JobEventRow"}
WRITES = {"update", "delete", "insert"}


def _job_state_writes(path: Path) -> list[str]:
    """Lines of ``path`` that write the job tables: update/delete/insert(JobRow|JobEventRow) or
    a new row object (rows read in a session are never changed in place anywhere)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            first = node.args[0] if node.args else None
            if name in WRITES and isinstance(first, ast.Name) and first.id in JOB_TABLES:
                found.append(f"{path.name}:{node.lineno} {name}({first.id})")
            elif name in JOB_TABLES:
                found.append(f"{path.name}:{node.lineno} {name}(...)")
    return found


def test_only_the_lifecycle_writes_job_state() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): writes
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != LIFECYCLE
        and "migrations" not in path.parts
        and (writes := _job_state_writes(path))
    }
    assert offenders == {}, f"job state written outside mlbench/jobs/lifecycle.py: {offenders}"
    # the detector sees the writes where they are (so an empty result above means something)
    in_lifecycle = _job_state_writes(LIFECYCLE)
    assert any("update(JobRow)" in w for w in in_lifecycle)
    assert any("delete(JobEventRow)" in w for w in in_lifecycle)
    assert any("JobEventRow(...)" in w for w in in_lifecycle)


def test_the_detector_catches_a_write(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "from sqlalchemy import update\n"
        "def f(s, row):\n"
        "    s.execute(update(JobRow).values(status='completed'))\n"
        "    s.execute(delete(JobEventRow))\n"
        "    s.add(JobEventRow(job_id='x'))\n"
    )
    assert len(_job_state_writes(sneaky)) == 3


def test_the_stored_spec_is_resolved_and_hashed(ws: Any, notebook: Any) -> None:
    nb = notebook("y = x * 2", parameters="x = 1", name="double.ipynb")
    a = ws.jobs.submit(nb, {"x": 3}, tags={"t": "1"}, start_agent=False).info
    spec = ws.jobs.spec(a.id)
    assert spec.notebook_path == str(nb)
    assert spec.cwd == str(nb.parent)
    assert spec.kernel_name == "python3"
    assert spec.parameters == {"x": 3}
    assert spec.resources.cpus == 1.0 and spec.resources.gpus == 0
    assert a.spec_hash and len(a.spec_hash) == 64

    # where and how it runs does not change the hash; what it computes does
    b = ws.jobs.submit(nb, {"x": 3}, display_name="other", max_retries=2, start_agent=False)
    c = ws.jobs.submit(nb, {"x": 4}, start_agent=False)
    assert b.info.spec_hash == a.spec_hash
    assert c.info.spec_hash != a.spec_hash
    nb.write_text(nb.read_text().replace("x * 2", "x * 3"))
    d = ws.jobs.submit(nb, {"x": 3}, start_agent=False)
    assert d.info.spec_hash != a.spec_hash


def test_rerun_copies_the_spec_and_the_snapshot(ws: Any, notebook: Any) -> None:
    nb = notebook("y = x * 2", parameters="x = 1", name="double.ipynb")
    first = ws.jobs.submit(nb, {"x": 3}, timeout_s=100, gpus=0, start_agent=False).info
    nb.write_text("not a notebook any more")  # the rerun runs the snapshot, not the file
    again = ws.jobs.rerun(first.id, start_agent=False).info
    assert again.rerun_of == first.id
    assert again.spec_hash == first.spec_hash
    assert again.timeout_s == 100 and again.parameters == {"x": 3}
    changed = ws.jobs.rerun(first.id, {"x": 5}, timeout_s=7, start_agent=False).info
    assert changed.parameters == {"x": 5} and changed.timeout_s == 7
    assert changed.spec_hash != first.spec_hash
    with pytest.raises(InvalidInputError, match="bogus"):
        ws.jobs.rerun(first.id, bogus=1, start_agent=False)


def test_a_spec_object_is_what_every_face_submits(ws: Any, notebook: Any) -> None:
    nb = notebook("pass", parameters="x = 1")
    spec = JobSpec(notebook_path=str(nb), parameters={"x": 2}, resources={"memory": "1GB"})
    info = ws.jobs.submit(spec, start_agent=False).info
    assert info.parameters == {"x": 2} and info.resources.memory_mb == 1024
    # a sweep or pipeline copies a spec and changes what differs
    parent = JobParent(kind="sweep", id="s1", name="trial 1")
    trial = spec.model_copy(update={"parameters": {"x": 9}, "parent": parent})
    info = ws.jobs.submit(trial, start_agent=False).info
    assert info.parameters == {"x": 9}
    assert info.parent is not None and info.parent.id == "s1"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"parameters": {"1x": 1}}, "not a Python identifier"),
        ({"parameters": {"x": float("nan")}}, "finite"),
        ({"timeout_s": float("inf")}, "finite"),
        ({"resources": {"cpus": float("inf")}}, "finite"),
        ({"resources": {"memory": "9" * 400}}, "memory"),
        ({"tags": {"t": "\ud800"}}, "surrogate"),
    ],
)
def test_bad_specs_are_refused_before_anything_is_stored(
    ws: Any, notebook: Any, fields: dict[str, Any], problem: str
) -> None:
    nb = notebook("pass", parameters="x = 1")
    with pytest.raises(InvalidInputError, match=problem):
        ws.jobs.submit(nb, allow_unknown_params=True, start_agent=False, **fields)
    with ws.db.session() as s:
        assert s.query(JobRow).count() == 0 and s.query(JobEventRow).count() == 0
    assert not any(ws.paths.jobs_dir.glob("*")) if ws.paths.jobs_dir.exists() else True


def test_a_notebook_name_too_long_is_a_clear_error(ws: Any, tmp_path: Path) -> None:
    from mlbench.errors import NotebookError

    with pytest.raises(NotebookError, match="cannot read notebook"):
        ws.jobs.submit(str(tmp_path / ("n" * 300)), start_agent=False)


def test_a_bind_hook_can_add_parameters_or_refuse(ws: Any, notebook: Any) -> None:
    class Seeded(JobHook):
        def bind(self, sub: Submission) -> None:
            if sub.spec.tags.get("refuse"):
                raise InvalidInputError("refused by the hook")
            sub.parameters.setdefault("seed", 42)

    ws.jobs.lifecycle.hooks.append(Seeded())
    nb = notebook("pass", parameters="x = 1\nseed = 0")
    info = ws.jobs.submit(nb, start_agent=False).info
    assert info.parameters == {"seed": 42}
    with pytest.raises(InvalidInputError, match="refused by the hook"):
        ws.jobs.submit(nb, tags={"refuse": "1"}, start_agent=False)
    assert len(ws.jobs.list(limit=10)) == 1


def test_the_core_workspace_starts_no_agent(tmp_path: Path, notebook: Any) -> None:
    from mlbench.errors import AgentError
    from mlbench.workspace import Workspace

    core = Workspace(tmp_path / "core")  # what the agent itself opens: no launcher
    job = core.jobs.submit(notebook("pass"))
    assert job.info.status.value == "queued" and not core.agents("local").is_running()
    with pytest.raises(AgentError, match=r"mlbench\.Workspace"):
        core.agents("local").ensure_running(wait=True)
