"""``ws.monitors``: monitors that compare a target with a reference, one-off drift reports.

A reference is profiled once per (data version content, features) and the profile is kept in
the database (``monitor_profiles``); each run reads its target in one streaming pass, computes
the signals, and records: a ``monitor_runs`` row (verdicts), an MLflow run in the monitor's
experiment (each feature's values as metrics, so they chart over runs; the HTML report as an
artifact) and, when a threshold is breached, a ``monitor.breached`` event that notification
rules send on. A monitor with a schedule owns a schedule whose action is ``monitor``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import delete, select

from mlbench._ids import new_id, utcnow
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from mlbench.monitoring.models import (
    DriftReport,
    MonitorInfo,
    MonitorRunInfo,
    MonitorSeries,
    MonitorSpec,
    Profile,
    SignalSeries,
    Thresholds,
    TopFeatures,
)
from mlbench.store import MonitorProfileRow, MonitorRow, MonitorRunRow

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

PROFILE_VERSION = 1  # part of a profile's key: a change of the profile's shape makes new ones


class MonitorNotFoundError(NotFoundError):
    code = "monitor_not_found"


@dataclass
class Source:
    """What a reference or target resolved to: a label, the paths to read, a content key."""

    label: str
    paths: list[str]
    fmt: str | None
    key: str | None  # content hash (data versions); None for plain files (not cached)

    def dataset(self) -> ds.Dataset:
        from mlbench.monitoring.profile import open_source

        return open_source(self.paths, self.fmt)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'monitor'}: {e['msg']}" for e in exc.errors()
    )


def parse_spec(body: Mapping[str, Any]) -> MonitorSpec:
    try:
        return MonitorSpec.model_validate(dict(body))
    except ValidationError as exc:
        raise InvalidInputError(
            f"invalid monitor: {_problems(exc)}",
            hint="see `mlbench monitor create --help` or docs/monitoring.md",
        ) from None


class Monitors:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- sources and profiles ------------------------------------------------------------------
    def source(self, text: str) -> Source:
        """A file or folder path, or a data asset reference (``name:VERSION``, ``name``)."""
        path = Path(str(text)).expanduser()
        try:
            found = path.exists()
        except OSError:  # e.g. a name longer than the filesystem allows: not a path, then
            found = False
        if found:
            return Source(label=str(path), paths=[str(path)], fmt=None, key=None)
        if "/" in str(text) or str(text).endswith((".csv", ".parquet", ".pq", ".tsv")):
            raise InvalidInputError(
                f"{text} does not exist", hint="give an existing file or folder, or name:VERSION"
            )
        asset = self._ws.data.get(str(text))
        return Source(
            label=asset.ref,
            paths=[str(asset.path())],
            fmt=asset.info.format,
            key=asset.info.content_hash,
        )

    def _sources(self, refs: Sequence[str], label: str) -> Source:
        assets = [self._ws.data.get(r) for r in refs]
        return Source(
            label=label,
            paths=[str(a.path()) for a in assets],
            fmt=assets[0].info.format if assets else None,
            key=None,
        )

    def profile(self, source: Source, features: Sequence[str] | None = None) -> Profile:
        """The reference profile of ``source``: from the database when this content and these
        features were profiled before, else built (two streaming passes) and kept."""
        from mlbench.monitoring.profile import build_profile

        key = None
        if source.key is not None:
            raw = json.dumps([PROFILE_VERSION, source.key, sorted(features or [])])
            key = hashlib.sha256(raw.encode()).hexdigest()
            with self._ws.db.session() as s:
                row = s.get(MonitorProfileRow, key)
                if row is not None:
                    return Profile.model_validate(row.profile)
        profile = build_profile(source.dataset(), features, source=source.label)
        if key is not None:
            with self._ws.db.write() as s:
                if s.get(MonitorProfileRow, key) is None:
                    s.add(
                        MonitorProfileRow(
                            key=key,
                            source=source.label,
                            profile=profile.model_dump(mode="json"),
                            created_at=utcnow(),
                        )
                    )
        return profile

    # -- one-off comparison ----------------------------------------------------------------------
    def drift(
        self,
        reference: str,
        target: str,
        *,
        features: Sequence[str] | None = None,
        signals: Sequence[str] | None = None,
        thresholds: Thresholds | Mapping[str, Any] | None = None,
        label: str | None = None,
        prediction: str | None = None,
    ) -> DriftReport:
        """Compare ``target`` with ``reference`` (each a data version or a file/folder)."""
        th = _thresholds(thresholds)
        return self._compare(
            self.source(reference), self.source(target), features, signals, th, label, prediction
        )

    def _compare(
        self,
        ref: Source,
        tgt: Source,
        features: Sequence[str] | None,
        signals: Sequence[str] | None,
        th: Thresholds,
        label: str | None,
        prediction: str | None,
        top: int | None = None,
        ray: Any = None,
    ) -> DriftReport:
        """``ray``: a Ray target's settings, to split the pass over the target across its
        tasks (:mod:`mlbench.monitoring.ray_pass`); None: one pass here."""
        from mlbench.monitoring import profile as prof
        from mlbench.monitoring import signals as sig

        profile = self.profile(ref, features)
        target_ds = tgt.dataset()
        names = list(profile.features)
        pred = prediction or prof.PREDICTION
        ref_ds = ref.dataset()
        # the prediction column is compared too (prediction drift), with the label standing in
        # for it when the reference (training data) has no predictions
        extra: dict[str, str] = {}
        if pred in target_ds.schema.names:
            source_col = pred if pred in ref_ds.schema.names else label
            if source_col and source_col in ref_ds.schema.names:
                extra[pred] = source_col
        if top is not None:
            names = self._top(ref_ds, names, label, top)
        roles = {n: ("label" if n == label else "feature") for n in names}
        report_profile = profile
        counted = list(names)
        if extra:
            pprof = self.profile(ref, [extra[pred]])
            feat = pprof.features[extra[pred]].model_copy(update={"name": pred})
            report_profile = profile.model_copy(
                update={"features": {**profile.features, pred: feat}}
            )
            counted.append(pred)
            roles[pred] = "prediction"
        if ray is None:
            sketch = prof.sketch_target(target_ds, report_profile, features=counted)
        else:
            from mlbench.monitoring.ray_pass import sketch_on_ray

            rows = target_ds.count_rows()
            exact = rows <= prof.EXACT_LIMIT and report_profile.rows <= prof.EXACT_LIMIT
            sketch = sketch_on_ray(ray, tgt.paths, tgt.fmt, report_profile, counted, exact=exact)

        def exact(name: str) -> tuple[Any, Any]:
            ref_name = extra.get(name, name)
            return prof.exact_values(ref_ds, ref_name), prof.exact_values(target_ds, name)

        report = sig.compare(
            report_profile,
            sketch,
            thresholds=th,
            signals=signals,
            target=tgt.label,
            roles=roles,
            exact_values=exact,
        )
        if label and label in target_ds.schema.names and pred in target_ds.schema.names:
            table = target_ds.to_table(columns=[label, pred])
            metrics, results = sig.performance(
                table.column(label).to_numpy(zero_copy_only=False),
                table.column(pred).to_numpy(zero_copy_only=False),
                th,
            )
            report.performance = metrics
            if results and (signals is None or "performance" in signals):
                perf = results[0]
                from mlbench.monitoring.models import FeatureResult

                report.features.append(
                    FeatureResult(
                        name="(model)",
                        kind="numeric",
                        role="prediction",
                        reference_count=0,
                        target_count=int(metrics.get("rows", 0)),
                        verdict=perf.verdict,
                        signals=results,
                    )
                )
                if perf.verdict == "breached":
                    report.breaches.append("(model):performance")
                    report.verdict = "breached"
        # requests carry no label: its absence from the target is no gap
        report.missing = [m for m in report.missing if m != label]
        report.created_at = utcnow()
        return report

    def _top(self, dataset: ds.Dataset, names: list[str], label: str | None, top: int) -> list[str]:
        """The ``top`` features most associated with ``label`` in the reference (mutual
        information of the binned feature with the label's classes or deciles, one pass)."""
        from mlbench.monitoring.ranking import rank_features

        if not label or label not in dataset.schema.names:
            raise InvalidInputError(
                f"features top {top} needs the label column {label!r} in the reference",
                hint="name the label column (label: ...) or list the features",
            )
        return rank_features(dataset, [n for n in names if n != label], label)[:top]

    # -- monitors --------------------------------------------------------------------------------
    def create(
        self, spec: MonitorSpec | Mapping[str, Any] | None = None, **changes: Any
    ) -> MonitorInfo:
        """Check and store a monitor; with ``schedule`` (a trigger), a schedule that runs it."""
        if isinstance(spec, MonitorSpec):
            spec = spec.model_dump(exclude_unset=True)
        parsed = parse_spec({**dict(spec or {}), **changes})
        self._reference(parsed)  # the reference must resolve now
        self._ray_config(parsed.compute)  # and the compute target exist and fit
        now = utcnow()
        monitor_id = new_id()
        with self._ws.db.write() as s:
            if s.scalar(select(MonitorRow.id).where(MonitorRow.name == parsed.name)):
                raise ConflictError(
                    f"a monitor named {parsed.name!r} exists",
                    hint="pick another name, or delete it first",
                )
            s.add(
                MonitorRow(
                    id=monitor_id,
                    name=parsed.name,
                    description=parsed.description,
                    spec=parsed.model_dump(mode="json"),
                    schedule_id=None,
                    created_at=now,
                    updated_at=now,
                )
            )
        if parsed.schedule is not None:
            try:
                sched = self._ws.schedules.create(
                    {
                        "name": f"monitor-{parsed.name}",
                        "description": f"runs monitor {parsed.name}",
                        "trigger": parsed.schedule,
                        "monitor": parsed.name,
                    }
                )
            except Exception:
                with self._ws.db.write() as s:
                    s.execute(delete(MonitorRow).where(MonitorRow.id == monitor_id))
                raise
            with self._ws.db.write() as s:
                row = s.get(MonitorRow, monitor_id)
                assert row is not None
                row.schedule_id = sched.id
        return self.info(monitor_id)

    def _row(self, s: Any, ref: str) -> MonitorRow:
        row = s.get(MonitorRow, ref) or s.scalar(select(MonitorRow).where(MonitorRow.name == ref))
        if row is None:
            raise MonitorNotFoundError(
                f"monitor {ref!r} does not exist", hint="list them with `mlbench monitor list`"
            )
        return row

    def info(self, ref: str) -> MonitorInfo:
        with self._ws.db.session() as s:
            row = self._row(s, ref)
            last = s.scalars(
                select(MonitorRunRow)
                .where(MonitorRunRow.monitor_id == row.id)
                .order_by(MonitorRunRow.created_at.desc())
                .limit(1)
            ).first()
            return _info(row, _run_info(last) if last else None)

    def list(self) -> list[MonitorInfo]:
        with self._ws.db.session() as s:
            rows = list(s.scalars(select(MonitorRow).order_by(MonitorRow.name)))
        return [self.info(r.id) for r in rows]

    def delete(self, ref: str) -> None:
        """Delete the monitor, its schedule and its run records (MLflow runs stay)."""
        with self._ws.db.session() as s:
            row = self._row(s, ref)
            monitor_id, schedule_id = row.id, row.schedule_id
        if schedule_id:
            with contextlib.suppress(NotFoundError):
                self._ws.schedules.delete(schedule_id)
        with self._ws.db.write() as s:
            s.execute(delete(MonitorRunRow).where(MonitorRunRow.monitor_id == monitor_id))
            s.execute(delete(MonitorRow).where(MonitorRow.id == monitor_id))

    def runs(self, ref: str, *, limit: int = 50) -> list[MonitorRunInfo]:
        with self._ws.db.session() as s:
            row = self._row(s, ref)
            rows = s.scalars(
                select(MonitorRunRow)
                .where(MonitorRunRow.monitor_id == row.id)
                .order_by(MonitorRunRow.created_at.desc())
                .limit(limit)
            )
            return [_run_info(r) for r in rows]

    def series(self, ref: str, *, limit: int = 100) -> MonitorSeries:
        """Each (feature, signal)'s values over the newest ``limit`` completed runs, oldest
        first, from the reports the runs stored (one read, no MLflow query per run)."""
        with self._ws.db.session() as s:
            row = self._row(s, ref)
            rows = list(
                s.scalars(
                    select(MonitorRunRow)
                    .where(
                        MonitorRunRow.monitor_id == row.id,
                        MonitorRunRow.status == "completed",
                    )
                    .order_by(MonitorRunRow.created_at.desc())
                    .limit(limit)
                )
            )[::-1]
            runs = [_run_info(r) for r in rows]
            reports = [(r.summary or {}).get("report") or {} for r in rows]
        out: dict[tuple[str, str], SignalSeries] = {}
        for i, report in enumerate(reports):
            for feature in report.get("features", []):
                for sig in feature.get("signals", []):
                    key = (feature["name"], sig["signal"])
                    line = out.get(key)
                    if line is None:
                        line = out[key] = SignalSeries(
                            feature=key[0],
                            signal=key[1],
                            values=[None] * len(runs),
                            verdicts=[None] * len(runs),
                        )
                    line.values[i] = sig.get("value")
                    line.verdicts[i] = sig.get("verdict")
                    line.threshold = sig.get("threshold")
        return MonitorSeries(runs=runs, series=list(out.values()))

    def report(self, run_id: str) -> DriftReport:
        with self._ws.db.session() as s:
            row = s.get(MonitorRunRow, run_id)
            if row is None or "report" not in (row.summary or {}):
                raise MonitorNotFoundError(
                    f"monitor run {run_id!r} does not exist or has no report"
                )
            return DriftReport.model_validate(row.summary["report"])

    def _reference(self, spec: MonitorSpec) -> Source:
        if spec.reference.data is not None:
            return self.source(spec.reference.data)
        assert spec.reference.model is not None
        version = self._ws.models.info(spec.reference.model)
        inputs = [d.removeprefix("data:") for d in version.lineage.data_inputs]
        if not inputs:
            raise InvalidInputError(
                f"model {spec.reference.model} has no training data in its lineage",
                hint="name the reference data version instead (reference: {data: NAME:VERSION})",
            )
        return self.source(inputs[0])

    def _ray_config(self, compute: str) -> Any:
        """The Ray settings of a monitor's compute target; None for a local one."""
        target = self._ws.compute.get(compute)
        if target.kind == "local":
            return None
        if target.kind != "ray":
            raise InvalidInputError(
                f"compute target {compute!r} is a {target.kind} target: a monitor runs on a "
                "local or Ray target",
                hint="set compute: local, or a Ray target",
            )
        _backend, config, _ = self._ws.compute.backend(compute, with_secrets=True)
        return config

    def _target(self, spec: MonitorSpec) -> Source:
        if spec.target.data is not None:
            return self.source(spec.target.data)
        assert spec.target.endpoint is not None
        endpoints = getattr(self._ws, "endpoints", None)
        if endpoints is None:
            raise InvalidInputError("this workspace has no endpoints", hint="target a data asset")
        since = utcnow() - timedelta(hours=spec.target.window_hours)
        refs = endpoints.request_log(spec.target.endpoint, since=since)
        if not refs:
            raise InvalidInputError(
                f"endpoint {spec.target.endpoint!r} logged no requests in the last "
                f"{spec.target.window_hours:g} h",
                hint="widen window_hours, or wait for the request log's next hour",
            )
        return self._sources(refs, f"{spec.target.endpoint} requests {refs[0]}..{refs[-1]}")

    def run(self, ref: str, *, tags: Mapping[str, str] | None = None) -> MonitorRunInfo:
        """Run the monitor now: compare, record, log to MLflow, notify on a breach."""
        with self._ws.db.session() as s:
            row = self._row(s, ref)
            monitor_id, name = row.id, row.name
            spec = MonitorSpec.model_validate(row.spec)
        run_id = new_id()
        now = utcnow()
        with self._ws.db.write() as s:
            s.add(
                MonitorRunRow(
                    id=run_id, monitor_id=monitor_id, status="running", summary={}, created_at=now
                )
            )
        # on the feed so that views of the monitor follow its runs (the notifier sends only
        # "breached"; "running" and "completed" are for the UI)
        self._ws.jobs.lifecycle.event(
            monitor_id, "monitor", {"status": "running", "name": name, "run_id": run_id}
        )
        mlflow_run = None
        try:
            ref_source = self._reference(spec)
            tgt_source = self._target(spec)
            features = spec.features if isinstance(spec.features, list) else None
            top = spec.features.top if isinstance(spec.features, TopFeatures) else None
            report = self._compare(
                ref_source,
                tgt_source,
                features,
                spec.signals,
                spec.thresholds,
                spec.label,
                spec.prediction,
                top,
                ray=self._ray_config(spec.compute),
            )
            mlflow_run = self._track(name, monitor_id, run_id, spec, report, tags or {})
        except Exception as exc:
            error = self._ws.redact(str(exc))
            log.warning("monitor %s: run failed: %s", name, error)
            with self._ws.db.write() as s:
                r = s.get(MonitorRunRow, run_id)
                assert r is not None
                r.status, r.error, r.finished_at = "failed", error, utcnow()
                r.mlflow_run_id = mlflow_run
            self._ws.jobs.lifecycle.event(
                monitor_id,
                "monitor",
                {"status": "failed", "name": name, "run_id": run_id, "error": error},
            )
            raise
        summary = {
            "signals": report.signal_verdicts(),
            "breaches": report.breaches,
            "reference": report.reference,
            "target": report.target,
            "target_rows": report.target_rows,
            "report": report.model_dump(mode="json"),
        }
        with self._ws.db.write() as s:
            r = s.get(MonitorRunRow, run_id)
            assert r is not None
            r.status, r.verdict, r.summary = "completed", report.verdict, summary
            r.mlflow_run_id, r.finished_at = mlflow_run, utcnow()
        if not report.breaches:
            self._ws.jobs.lifecycle.event(
                monitor_id,
                "monitor",
                {"status": "completed", "name": name, "run_id": run_id, "verdict": report.verdict},
            )
        else:
            self._ws.jobs.lifecycle.event(
                monitor_id,
                "monitor",
                {
                    "status": "breached",
                    "name": name,
                    "run_id": run_id,
                    "mlflow_run_id": mlflow_run,
                    "breaches": report.breaches[:50],
                    "target": report.target,
                    "schedule_id": (tags or {}).get("mlbench.schedule_id"),
                },
            )
        with self._ws.db.session() as s:
            r = s.get(MonitorRunRow, run_id)
            assert r is not None
            return _run_info(r)

    def _track(
        self,
        name: str,
        monitor_id: str,
        run_id: str,
        spec: MonitorSpec,
        report: DriftReport,
        tags: Mapping[str, str],
    ) -> str:
        from mlbench.monitoring.report import render_html

        tracking = self._ws.tracking
        _, mlflow_run = tracking.start_run(
            spec.experiment,
            f"{name}-{utcnow():%Y%m%dT%H%M%S}",
            {
                "mlbench.monitor_id": monitor_id,
                "mlbench.monitor_name": name,
                "mlbench.monitor_run_id": run_id,
                "mlbench.verdict": report.verdict,
                **dict(tags),
            },
            {"reference": report.reference, "target": report.target},
        )
        stamp = int(time.time() * 1000)
        points = [("target_rows", float(report.target_rows), 0, stamp)]
        points += [("breaches", float(len(report.breaches)), 0, stamp)]
        for f in report.features:
            for sres in f.signals:
                if sres.value is not None:
                    points.append((f"{sres.signal}.{metric_name(f.name)}", sres.value, 0, stamp))
        for key, value in report.performance.items():
            points.append((f"performance.{key}", value, 0, stamp))
        tracking.log_points(mlflow_run, points)
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / "report.html"
            page.write_text(render_html(report, title=f"monitor {name}"), encoding="utf-8")
            summary = Path(tmp) / "report.json"
            summary.write_text(report.model_dump_json(), encoding="utf-8")
            tracking.log_artifact(mlflow_run, page, "monitor")
            tracking.log_artifact(mlflow_run, summary, "monitor")
        tracking.end_run(mlflow_run, "completed")
        return mlflow_run


def metric_name(feature: str) -> str:
    """A feature's name as MLflow accepts it in a metric key."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", feature)[:200] or "_"


def _thresholds(value: Thresholds | Mapping[str, Any] | None) -> Thresholds:
    if value is None or isinstance(value, Thresholds):
        return value or Thresholds()
    try:
        return Thresholds.model_validate(dict(value))
    except ValidationError as exc:
        raise InvalidInputError(f"invalid thresholds: {_problems(exc)}") from None


def _run_info(row: MonitorRunRow) -> MonitorRunInfo:
    summary = row.summary or {}
    return MonitorRunInfo(
        id=row.id,
        monitor_id=row.monitor_id,
        status=row.status,  # type: ignore[arg-type]
        verdict=row.verdict,  # type: ignore[arg-type]
        signals=summary.get("signals", {}),
        breaches=summary.get("breaches", []),
        reference=summary.get("reference", ""),
        target=summary.get("target", ""),
        target_rows=summary.get("target_rows"),
        error=row.error,
        mlflow_run_id=row.mlflow_run_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _info(row: MonitorRow, last: MonitorRunInfo | None) -> MonitorInfo:
    return MonitorInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        spec=MonitorSpec.model_validate(row.spec),
        schedule_id=row.schedule_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_run=last,
    )
