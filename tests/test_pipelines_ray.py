"""A pipeline with a step on a Ray target (a real Ray head, in a loopback-only network namespace
as tests/test_ray.py explains): the step's data input and output cross to Ray and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import test_ray
from tests.test_jobs import WAIT
from tests.test_pipelines import _diamond, _read, _statuses

ray_address = test_ray.ray_address
ray_ws = test_ray.ray_ws


@pytest.mark.slow
def test_a_pipeline_runs_one_step_on_ray(ray_ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    body["jobs"]["b"]["compute"] = "ray"  # the rest run on local, where the run is driven
    run = ray_ws.pipelines.run(body).wait(WAIT)
    assert run.info.status.value == "completed", (run.info.status_reason, _statuses(run))
    b = ray_ws.jobs.info(run.step("b").job_id)
    assert b.compute == "ray" and "running on Ray node" in ray_ws.jobs.logs(b.id)[0]
    assert ray_ws.jobs.info(run.step("a").job_id).compute == "local"
    # b read prep's output on Ray and its own output came back as a data version join read
    assert _read(ray_ws, run.step("b").outputs["result"], "value.json") == 60
    assert _read(ray_ws, run.info.outputs["total"], "total.json") == 72
    assert json.loads(json.dumps(run.why("b").model_dump(mode="json")))["reused"] is False
