"""Monitoring on generated data with known shifts, against real parts (pyarrow files, data
assets, MLflow's SQLite store, the scheduler and notifier with a ManualClock, a local webhook).

The no-shift calibration is tested on histograms: a sample of a continuous law, counted into
fixed bins, has exactly multinomial counts with the bins' true probabilities, so 100 runs at
n = 1,000,000 are 100 multinomial draws instead of 100 passes over a million rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from scipy import stats

from mlbench.errors import InvalidInputError, NotFoundError
from mlbench.monitoring.models import CategoricalProfile, NumericProfile, Thresholds
from mlbench.monitoring.profile import FeatureSketch, TargetSketch, build_profile, sketch_target
from mlbench.monitoring.report import render_html
from mlbench.monitoring.signals import compare
from tests.conftest import run_cli
from tests.test_notify import Receiver

UTC = timezone.utc
REF_ROWS = 200_000


def normal_table(n: int, rng: np.random.Generator, *, mean: float = 0.0, scale: float = 1.0,
                 cats: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> pa.Table:  # fmt: skip
    return pa.table(
        {
            "x": rng.normal(mean, scale, n),
            "y": rng.normal(10, 2, n),
            "c": rng.choice(["a", "b", "c"], n, p=list(cats)),
        }
    )


@pytest.fixture(scope="module")
def reference() -> Any:
    """A profile of 200,000 rows of known laws: x ~ N(0,1), y ~ N(10,2), c ~ (a .5, b .3, c .2)."""
    rng = np.random.default_rng(7)
    return build_profile(ds.dataset(normal_table(REF_ROWS, rng)), source="ref")


@pytest.fixture(scope="module")
def core_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mlbench.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("ws"))
    yield ws
    ws.close()


def true_shares(profile: NumericProfile, mean: float, scale: float) -> np.ndarray:
    edges = np.concatenate([[-np.inf], profile.edges, [np.inf]])
    return np.diff(stats.norm.cdf(edges, mean, scale))


def histogram_sketch(reference: Any, n: int, rng: np.random.Generator,
                     shift: float = 0.0) -> TargetSketch:  # fmt: skip
    """A target of n rows drawn from the reference's laws (x moved by ``shift`` sigma), as the
    bin counts such a sample has (multinomial with the bins' true probabilities)."""
    features = {}
    for name, (mean, scale) in {"x": (shift, 1.0), "y": (10.0, 2.0)}.items():
        prof = reference.features[name]
        counts = rng.multinomial(n, true_shares(prof, mean, scale))
        features[name] = FeatureSketch(
            name=name, kind="numeric", type="double", rows=n, counts=counts,
            low=float(prof.min), high=float(prof.max),
        )  # fmt: skip
    cat = reference.features["c"]
    counts = rng.multinomial(n, [0.5, 0.3, 0.2])
    features["c"] = FeatureSketch(
        name="c", kind="categorical", type="string", rows=n,
        categories={k: int(v) for k, v in zip(["a", "b", "c"], counts, strict=True)},
    )  # fmt: skip
    assert set(cat.categories) == {"a", "b", "c"}
    return TargetSketch(rows=n, features=features, missing=[], exact=False)


# -- known shifts, end to end on files -----------------------------------------------------------
@pytest.mark.parametrize("n", [1_000, 20_000, 200_000])
def test_mean_shift_and_scale_change_detected(core_ws: Any, tmp_path: Path, n: int) -> None:
    rng = np.random.default_rng(n)
    ref = tmp_path / "ref.parquet"
    pq.write_table(normal_table(50_000 if n <= 20_000 else REF_ROWS, rng), ref)
    shifted = normal_table(n, rng)
    shifted = shifted.set_column(0, "x", pa.array(rng.normal(0.5, 1.0, n)))
    shifted = shifted.set_column(1, "y", pa.array(rng.normal(10, 3.0, n)))  # 1.5x scale
    target = tmp_path / "target.parquet"
    pq.write_table(shifted, target)
    report = core_ws.monitors.drift(str(ref), str(target))
    by = {f.name: f for f in report.features}
    assert report.verdict == "breached"
    assert by["x"].verdict == "breached" and by["y"].verdict == "breached"
    assert by["c"].verdict == "ok", by["c"].signals
    x = {s.signal: s for s in by["x"].signals}
    assert x["wasserstein"].verdict == "breached" and x["ks"].verdict == "breached"
    assert abs(x["wasserstein"].value - 0.5) < 0.1  # the 0.5 sigma, in reference stds
    y = {s.signal: s for s in by["y"].signals}
    assert y["wasserstein"].verdict == "breached"
    # exact below 100,000 rows on both sides, binned with its error stated above
    assert report.exact is (n <= 20_000)
    assert (x["ks"].error == 0) is report.exact
    if not report.exact:
        assert 0 < x["ks"].error <= 0.05 and "bin" in x["ks"].method


@pytest.mark.parametrize("n", [500, 1_000, 10_000, 100_000, 1_000_000])
def test_no_shift_alarms_at_most_once_in_100_runs(reference: Any, n: int) -> None:
    rng = np.random.default_rng(n + 1)
    alarms = 0
    for _ in range(100):
        report = compare(reference, histogram_sketch(reference, n, rng), target="null")
        alarms += report.verdict == "breached"
    assert alarms <= 1


def test_half_sigma_shift_detected_from_histograms_at_every_size(reference: Any) -> None:
    rng = np.random.default_rng(3)
    for n in (1_000, 10_000, 1_000_000):
        report = compare(reference, histogram_sketch(reference, n, rng, shift=0.5))
        assert [b.split(":")[0] for b in report.breaches] and set(
            b.split(":")[0] for b in report.breaches
        ) == {"x"}, report.breaches


def test_huge_samples_do_not_flag_trivial_shifts(reference: Any) -> None:
    """0.03 sigma at a million rows: KS's p-value says 'significant', the floors say trivial."""
    rng = np.random.default_rng(4)
    report = compare(reference, histogram_sketch(reference, 1_000_000, rng, shift=0.03))
    x = {s.signal: s for s in report.features[0].signals}
    assert x["ks"].p_value is not None and x["ks"].p_value < 1e-6
    assert report.verdict != "breached" and not report.breaches


def test_small_samples_are_held_by_the_calibrated_bound(reference: Any) -> None:
    """At n = 30 noise alone clears the effect floors; the no-shift bound at n keeps it quiet
    (and is larger than the floor there, smaller at a million)."""
    rng = np.random.default_rng(5)
    low_floor = Thresholds(js=0.01, psi=0.01, psi_warning=0.01, wasserstein=0.01, ks=0.01)
    alarms = 0
    for _ in range(100):
        report = compare(reference, histogram_sketch(reference, 30, rng), thresholds=low_floor)
        alarms += report.verdict == "breached"
        x = {s.signal: s for s in report.features[0].signals}
        assert x["psi"].value > low_floor.psi  # the floor alone would alarm
    assert alarms <= 1
    big = compare(reference, histogram_sketch(reference, 1_000_000, rng))
    bx = {s.signal: s for s in big.features[0].signals}
    assert bx["psi"].bound < 0.01 < x["psi"].bound


# -- categories and quality, counted exactly ------------------------------------------------
def test_categorical_shift_and_unseen_categories(reference: Any) -> None:
    rng = np.random.default_rng(6)
    n = 5_000
    table = normal_table(n, rng, cats=(0.3, 0.3, 0.4))
    cats = np.array(table.column("c").to_pylist(), dtype=object)
    cats[:137] = "zz-new"
    cats[137:140] = "other-new"
    table = table.set_column(2, "c", pa.array(cats.tolist()))
    report = compare(reference, sketch_target(ds.dataset(table), reference, keep_exact=False))
    c = {s.signal: s for s in next(f for f in report.features if f.name == "c").signals}
    assert c["chi2"].verdict == "breached" and c["js"].verdict == "breached"
    assert c["unseen"].value == 140 and c["unseen"].verdict == "breached"
    assert c["unseen"].detail.startswith("zz-new")
    assert {b.split(":")[0] for b in report.breaches} == {"c"}


def test_nulls_type_errors_and_out_of_range_counted_exactly(reference: Any) -> None:
    x_ref = reference.features["x"]
    values: list[Any] = [0.1] * 900 + [None] * 60 + [x_ref.max + 1] * 25 + [x_ref.min - 5] * 15
    y = ["10.5"] * 990 + ["n/a"] * 7 + [None] * 3  # a numeric column arriving as text
    c = ["a"] * 998 + [None, None]
    table = pa.table({"x": pa.array(values, pa.float64()), "y": y, "c": c})
    sketch = sketch_target(ds.dataset(table), reference, keep_exact=False)
    sx, sy, sc = (sketch.features[k] for k in ("x", "y", "c"))
    assert (sx.nulls, sx.above, sx.below, sx.count) == (60, 25, 15, 940)
    assert (sy.type_errors, sy.nulls, sy.count) == (7, 3, 990)
    assert sc.nulls == 2
    report = compare(reference, sketch)
    sig = {(f.name, s.signal): s for f in report.features for s in f.signals}
    assert sig[("x", "null_rate")].value == pytest.approx(0.06)
    assert sig[("x", "null_rate")].verdict == "breached"
    assert sig[("x", "out_of_range")].value == 40
    assert sig[("x", "out_of_range")].detail == "below=15 above=25"
    assert sig[("x", "out_of_range")].verdict == "breached"
    assert sig[("y", "type_errors")].value == 7 and sig[("y", "type_errors")].verdict == "breached"
    assert sig[("c", "null_rate")].verdict == "ok"


def test_profile_is_exact_and_streams(reference: Any) -> None:
    x = reference.features["x"]
    assert isinstance(x, NumericProfile) and sum(x.counts) == REF_ROWS
    assert len(x.counts) == len(x.edges) + 1 and 90 <= len(x.counts) <= 100
    assert abs(x.mean) < 0.01 and abs(x.std - 1) < 0.01
    c = reference.features["c"]
    assert isinstance(c, CategoricalProfile) and sum(c.categories.values()) == REF_ROWS


# -- monitors ------------------------------------------------------------------------------------
def write_requests(folder: Path, rng: np.random.Generator, n: int, shift: float) -> None:
    """An hour of an endpoint's request log, in the format the endpoints session writes."""
    folder.mkdir(parents=True, exist_ok=True)
    t = normal_table(n, rng)
    x = rng.normal(shift, 1.0, n)
    table = pa.table(
        {
            "x": x,
            "y": t.column("y"),
            "c": t.column("c"),
            "mlbench_prediction": (x > 0).astype(np.int64),
            "mlbench_time": pa.array(
                [datetime(2026, 12, 2, 9, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")
            ),
            "mlbench_request_id": [f"r{i // 4}" for i in range(n)],
            "mlbench_deployment": ["blue"] * n,
            "mlbench_status": pa.array([200] * n, pa.int32()),
            "mlbench_latency_ms": rng.uniform(1, 5, n),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")


def test_monitor_on_request_log_target(core_ws: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    ref_file = tmp_path / "train.parquet"
    train = normal_table(20_000, rng)
    train = train.append_column("label", pa.array((train.column("x").to_numpy() > 0).astype(int)))
    pq.write_table(train, ref_file)
    core_ws.data.create("train", ref_file)
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    write_requests(tmp_path / "h1", rng, 3_000, shift=0.8)
    core_ws.data.create(
        "churn-requests", tmp_path / "h1", kind="folder",
        tags={"mlbench.endpoint": "churn", "mlbench.hour": hour},
    )  # fmt: skip
    info = core_ws.monitors.create(
        name="churn-drift", reference={"data": "train:1"},
        target={"endpoint": "churn", "window_hours": 2}, label="label",
    )  # fmt: skip
    assert info.spec.target.endpoint == "churn" and info.schedule_id is None
    run = core_ws.monitors.run("churn-drift")
    assert run.status == "completed" and run.verdict == "breached"
    assert "x:wasserstein" in run.breaches
    assert run.signals["wasserstein"] == "breached"
    report = core_ws.monitors.report(run.id)
    names = {f.name: f for f in report.features}
    # metadata columns are not features; the prediction is compared with the training label
    assert not any(n.startswith("mlbench_") and n != "mlbench_prediction" for n in names)
    assert names["mlbench_prediction"].role == "prediction"
    assert report.missing == []  # the label is not expected in requests
    summary = core_ws.tracking.run_summary(run.mlflow_run_id)
    assert summary["metrics"]["wasserstein.x"] == pytest.approx(
        next(s.value for s in names["x"].signals if s.signal == "wasserstein")
    )
    assert summary["tags"]["mlbench.verdict"] == "breached"
    assert core_ws.monitors.info("churn-drift").last_run.id == run.id
    assert [r.id for r in core_ws.monitors.runs("churn-drift")] == [run.id]


def test_reference_profiled_once(core_ws: Any, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from mlbench.store import MonitorProfileRow

    rng = np.random.default_rng(9)
    path = tmp_path / "base.parquet"
    pq.write_table(normal_table(5_000, rng), path)
    core_ws.data.create("base", path)
    with core_ws.db.session() as s:
        before = s.scalar(select(func.count()).select_from(MonitorProfileRow))
    first = core_ws.monitors.profile(core_ws.monitors.source("base:1"))
    again = core_ws.monitors.profile(core_ws.monitors.source("base:1"))
    with core_ws.db.session() as s:
        after = s.scalar(select(func.count()).select_from(MonitorProfileRow))
    assert after == before + 1 and first == again


def test_runs_are_on_the_event_feed(core_ws: Any, tmp_path: Path) -> None:
    """The UI follows a monitor's runs on the feed: each run says it started and how it ended
    (completed with its verdict, breached or failed)."""
    from sqlalchemy import select

    from mlbench.store import JobEventRow

    rng = np.random.default_rng(11)
    pq.write_table(normal_table(4_000, rng), tmp_path / "same-a.parquet")
    pq.write_table(normal_table(2_000, rng), tmp_path / "same-b.parquet")
    core_ws.data.create("feed-ref", tmp_path / "same-a.parquet")
    core_ws.data.create("feed-target", tmp_path / "same-b.parquet")
    info = core_ws.monitors.create(
        name="feed", reference={"data": "feed-ref:1"}, target={"data": "feed-target"},
        signals=["psi", "js"],
    )  # fmt: skip
    run = core_ws.monitors.run("feed")
    assert run.verdict == "ok"
    with core_ws.db.session() as s:
        events = [
            e.data
            for e in s.scalars(
                select(JobEventRow)
                .where(JobEventRow.job_id == info.id, JobEventRow.kind == "monitor")
                .order_by(JobEventRow.id)
            )
        ]
    assert [(e["status"], e["run_id"]) for e in events] == [
        ("running", run.id),
        ("completed", run.id),
    ]
    assert events[1]["verdict"] == "ok" and events[1]["name"] == "feed"
    series = core_ws.monitors.series("feed")
    assert [r.id for r in series.runs] == [run.id]
    assert {(s.feature, s.signal) for s in series.series} == {
        (f, sig) for f in ("x", "y", "c") for sig in ("psi", "js")
    }
    assert all(len(s.values) == 1 and s.values[0] is not None for s in series.series)
    core_ws.monitors.delete("feed")


def test_scheduled_monitor_notifies_on_breach(core_ws: Any, tmp_path: Path) -> None:
    from mlbench.notify.notifier import Notifier
    from mlbench.schedules.clock import ManualClock
    from mlbench.schedules.scheduler import Scheduler

    rng = np.random.default_rng(10)
    pq.write_table(normal_table(10_000, rng), tmp_path / "a.parquet")
    core_ws.data.create("sched-ref", tmp_path / "a.parquet")
    moved = normal_table(2_000, rng, mean=1.0)
    pq.write_table(moved, tmp_path / "b.parquet")
    core_ws.data.create("sched-target", tmp_path / "b.parquet")
    receiver = Receiver()
    try:
        core_ws.notifications.add(
            name="drift-hook", events=["monitor.breached"], channel="webhook",
            url=receiver.url, secret="whsec-0123456789abcdef",
        )  # fmt: skip
        info = core_ws.monitors.create(
            name="nightly", reference={"data": "sched-ref:1"},
            target={"data": "sched-target"}, schedule={"cron": "*/5 * * * *"},
        )  # fmt: skip
        assert info.schedule_id
        sched = core_ws.schedules.info(info.schedule_id)
        assert sched.kind == "monitor" and sched.action == {"monitor": "nightly"}
        clock = ManualClock(sched.next_fire_at + timedelta(seconds=1))
        (fired,) = Scheduler(core_ws, clock).run_due()
        assert fired.status == "submitted", fired.error
        (run,) = core_ws.monitors.runs("nightly")
        assert fired.target_id == run.id and run.verdict == "breached"
        Notifier(core_ws, clock).poll()
        (req,) = receiver.requests
        body = json.loads(req[1])
        assert body["event"] == "monitor.breached"
        assert (
            body["monitor"]["name"] == "nightly" and "x:wasserstein" in body["monitor"]["breaches"]
        )
        core_ws.monitors.delete("nightly")
        with pytest.raises(NotFoundError):
            core_ws.schedules.info(info.schedule_id)
    finally:
        receiver.close()


def test_bad_input_is_refused_with_the_fix(core_ws: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="exactly one of data and model"):
        core_ws.monitors.create(name="m", reference={}, target={"data": "x"})
    with pytest.raises(InvalidInputError, match="unknown signal"):
        core_ws.monitors.create(
            name="m", reference={"data": "x:1"}, target={"data": "x"}, signals=["psy"]
        )
    with pytest.raises(NotFoundError, match="does not exist"):
        core_ws.monitors.create(name="m", reference={"data": "nope:1"}, target={"data": "x"})
    with pytest.raises(InvalidInputError, match=r"top N .* label"):
        core_ws.monitors.create(
            name="m", reference={"data": "x:1"}, target={"data": "x"}, features={"top": 3}
        )
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), path)
    with pytest.raises(InvalidInputError, match="no column 'zz'"):
        core_ws.monitors.drift(str(path), str(path), features=["zz"])
    with pytest.raises(InvalidInputError, match="invalid thresholds"):
        core_ws.monitors.drift(str(path), str(path), thresholds={"psi": -1})
    with pytest.raises(InvalidInputError, match="does not exist"):
        core_ws.monitors.drift(str(path), str(tmp_path / "missing.csv"))
    # longer than a file name can be (found by schemathesis): an invalid name, not an OSError
    with pytest.raises(InvalidInputError, match="invalid data asset name"):
        core_ws.monitors.drift("0" * 5000, str(path))
    assert not any(m.name == "m" for m in core_ws.monitors.list())


def test_html_report_is_small_and_holds_no_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    cols = {f"f{i:03d}": rng.normal(0, 1, n) for i in range(95)}
    cols.update({f"c{i}": rng.choice(["u", "v", "w"], n).tolist() for i in range(5)})
    table = pa.table(cols)
    profile = build_profile(ds.dataset(table), source="wide")
    target = table.set_column(0, "f000", pa.array(rng.normal(2, 1, n)))
    report = compare(profile, sketch_target(ds.dataset(target), profile, keep_exact=False))
    page = render_html(report)
    assert len(page.encode()) < 1_000_000
    assert "f000" in page and "breached" in page
    sample = f"{table.column('f001')[17].as_py():.6f}"
    assert sample not in page  # no raw value


def test_drift_cli_json(core_ws: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    pq.write_table(normal_table(5_000, rng), tmp_path / "r.parquet")
    pq.write_table(normal_table(5_000, rng, mean=1.0), tmp_path / "t.parquet")
    done = run_cli(core_ws.home, "drift", str(tmp_path / "r.parquet"), str(tmp_path / "t.parquet"),
                   "--json")  # fmt: skip
    assert done.returncode == 1, done.stderr  # 1: a threshold was breached
    body = json.loads(done.stdout)
    assert body["verdict"] == "breached" and "x:wasserstein" in body["breaches"]
    table = run_cli(core_ws.home, "drift", str(tmp_path / "r.parquet"), str(tmp_path / "r.parquet"))
    assert table.returncode == 0, table.stderr
    assert "wasserstein" in table.stdout and "ok" in table.stdout
    bad = run_cli(core_ws.home, "drift", "nope:1", str(tmp_path / "r.parquet"))
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_a_pass_split_into_pieces_counts_what_one_pass_counts(
    reference: Any, tmp_path: Path
) -> None:
    """What a Ray target's tasks do (mlbench.monitoring.ray_pass), run here: a Parquet file cut
    into row-group pieces, and a CSV file whole, each counted, then merged."""
    from mlbench.monitoring.profile import merge_sketches
    from mlbench.monitoring.ray_pass import pieces, sketch_piece

    rng = np.random.default_rng(23)
    table = normal_table(50_000, rng, mean=0.3)
    # nulls, out-of-range values and unseen categories, so every count is exercised
    x = table.column("x").to_numpy().copy()
    x[:7] = 99.0
    c = table.column("c").to_pylist()
    c[:130] = [f"new{i}" for i in range(130)]  # more unseen than are kept by name
    table = pa.table({"x": x, "y": table.column("y"), "c": pa.array(c)})
    table = table.set_column(1, "y", pa.array([None] * 11 + table.column("y").to_pylist()[11:]))
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=6_000)  # 9 row groups
    work = pieces([str(tmp_path / "t.parquet")], None, tasks=4)
    assert [len(groups or []) for _, groups in work] == [3, 3, 3]
    parts = [
        sketch_piece(path, groups, None, reference.model_dump_json(), ["x", "y", "c"])
        for path, groups in work
    ]
    merged = merge_sketches(parts, exact=False)
    whole = sketch_target(ds.dataset(table), reference, features=["x", "y", "c"])
    assert merged.rows == whole.rows == 50_000
    for name in ("x", "y", "c"):
        a, b = merged.features[name], whole.features[name]
        assert (a.rows, a.nulls, a.type_errors, a.below, a.above) == (
            b.rows, b.nulls, b.type_errors, b.below, b.above
        )  # fmt: skip
        assert (a.low, a.high) == (b.low, b.high)
        if b.counts is not None:
            assert a.counts is not None and a.counts.tolist() == b.counts.tolist()
        assert a.categories == b.categories
        assert a.unseen_total == b.unseen_total
    assert merged.features["x"].above >= 7 and merged.features["y"].nulls == 11
    assert merged.features["c"].unseen_total == 130 and len(merged.features["c"].unseen) == 100
    assert compare(reference, merged).verdict == compare(reference, whole).verdict
    # a CSV file is one piece
    pa_csv = tmp_path / "t.csv"
    table.to_pandas().to_csv(pa_csv, index=False)
    assert pieces([str(pa_csv)], None, tasks=4) == [(str(pa_csv), None)]
