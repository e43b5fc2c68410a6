"""A monitor on a Ray target: the pass over its target is split across Ray tasks on a real Ray
head (127.0.0.1, in the loopback-only namespace) and must report exactly what a local run of the
same monitor reports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlbench.errors import NotFoundError
from tests.conftest import _stop_agents
from tests.test_ray import ray_head


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with ray_head("--num-cpus=2") as address:
        yield address


def _table(n: int, rng: np.random.Generator, shift: float) -> pa.Table:
    return pa.table(
        {
            "x": rng.normal(shift, 1.0, n),
            "y": rng.normal(10.0, 2.0 * (1 + shift), n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]),
        }
    )


def _signals(report: Any) -> list[tuple[str, str, Any, str]]:
    return sorted(
        (f.name, s.signal, None if s.value is None else round(s.value, 12), s.verdict)
        for f in report.features
        for s in f.signals
    )


@pytest.mark.slow
def test_a_monitor_on_a_ray_target_reports_what_a_local_run_reports(
    ray_address: str, tmp_path: Path
) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws")
    try:
        ws.compute.create("ray", "ray", address=ray_address)
        rng = np.random.default_rng(5)
        pq.write_table(_table(30_000, rng, 0.0), tmp_path / "ref.parquet")
        # 150,000 rows (above the exact-KS limit) in 15 row groups: several Ray tasks
        target = _table(150_000, rng, 0.4)
        pq.write_table(target, tmp_path / "tgt.parquet", row_group_size=10_000)
        ws.data.create("ref", tmp_path / "ref.parquet")
        ws.data.create("tgt", tmp_path / "tgt.parquet")
        spec = {"reference": {"data": "ref:1"}, "target": {"data": "tgt:1"}}
        ws.monitors.create({"name": "here", **spec})
        ws.monitors.create({"name": "on-ray", "compute": "ray", **spec})

        here = ws.monitors.run("here")
        on_ray = ws.monitors.run("on-ray")
        assert here.status == on_ray.status == "completed"
        a, b = ws.monitors.report(here.id), ws.monitors.report(on_ray.id)
        assert b.target_rows == a.target_rows == 150_000
        assert _signals(b) == _signals(a)
        assert b.verdict == a.verdict and a.breaches  # the shift is found, on Ray too
    finally:
        _stop_agents(ws)
        ws.close()


def test_a_monitor_on_a_missing_target_is_refused_and_a_local_one_runs_here(tmp_path: Path) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws")
    try:
        pq.write_table(_table(1_000, np.random.default_rng(1), 0.0), tmp_path / "ref.parquet")
        ws.data.create("ref", tmp_path / "ref.parquet")
        spec = {"reference": {"data": "ref:1"}, "target": {"data": "ref:1"}}
        with pytest.raises(NotFoundError, match="nowhere"):
            ws.monitors.create({"name": "m", "compute": "nowhere", **spec})
        assert ws.monitors.list() == []
        # another local target is a local pass
        ws.compute.create("box", "local")
        ws.monitors.create({"name": "m", "compute": "box", **spec})
        assert ws.monitors.run("m").status == "completed"
    finally:
        ws.close()
