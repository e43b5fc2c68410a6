"""REST handlers of monitors (``/monitors*``) and one-off drift reports (``/drift``)."""

from __future__ import annotations

from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized

from mlbench.monitoring.models import (
    DriftReport,
    DriftRequest,
    MonitorHtml,
    MonitorInfo,
    MonitorList,
    MonitorRunInfo,
    MonitorRunList,
    MonitorSeries,
    MonitorSpec,
)
from mlbench.server.base import READ, WRITE, MlbenchHandler, endpoint


def routes() -> list[tuple[str, type[Any]]]:
    return [
        ("/drift", DriftHandler),
        ("/monitors", MonitorsHandler),
        ("/monitors/{ref}", MonitorHandler),
        ("/monitors/{ref}/run", MonitorRunHandler),
        ("/monitors/{ref}/runs", MonitorRunsHandler),
        ("/monitors/{ref}/series", MonitorSeriesHandler),
        ("/monitors/{ref}/runs/{run_id}/report", MonitorReportHandler),
        ("/monitors/{ref}/runs/{run_id}/html", MonitorHtmlHandler),
    ]


def _run_report(ws: Any, ref: str, run_id: str) -> DriftReport:
    monitor = ws.monitors.info(ref)  # 404 for an unknown monitor
    if not any(r.id == run_id for r in ws.monitors.runs(monitor.id, limit=10_000)):
        from mlbench.monitoring.service import MonitorNotFoundError

        raise MonitorNotFoundError(f"monitor {ref!r} has no run {run_id!r}")
    return ws.monitors.report(run_id)


class DriftHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)  # every POST is a write (it computes; it stores nothing)
    @endpoint(
        summary="Compare a target with a reference now (data versions or table files)",
        tag="monitors", action=WRITE, body=DriftRequest, response=DriftReport, errors=(404,),
    )  # fmt: skip
    async def post(self) -> None:
        req = self.body(DriftRequest)
        sides = []
        for text in (req.reference, req.target):
            # a path inside the server root, or a data asset reference
            if "/" in text or text.endswith((".csv", ".parquet", ".pq", ".tsv")):
                sides.append(str(self.user_path(text, kind="any")))
            else:
                sides.append(text)
        report = await self.call(
            self.ws.monitors.drift,
            sides[0],
            sides[1],
            features=req.features,
            signals=req.signals,
            thresholds=req.thresholds,
            label=req.label,
        )
        self.reply(report)


class MonitorsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="Monitors, with their last run", tag="monitors", action=READ,
              response=MonitorList)  # fmt: skip
    async def get(self) -> None:
        self.reply(MonitorList(items=await self.call(self.ws.monitors.list)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Create a monitor (with schedule: a schedule that runs it)", tag="monitors",
        action=WRITE, body=MonitorSpec, response=MonitorInfo, status=201, errors=(404, 409),
    )  # fmt: skip
    async def post(self) -> None:
        spec = self.body(MonitorSpec)
        self.reply(await self.call(self.ws.monitors.create, spec), 201)


class MonitorHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="One monitor (by id or name)", tag="monitors", action=READ,
              response=MonitorInfo, errors=(404,))  # fmt: skip
    async def get(self, ref: str) -> None:
        self.reply(await self.call(self.ws.monitors.info, ref))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a monitor, its schedule and run records (MLflow runs stay)",
        tag="monitors", action=WRITE, status=204, errors=(404,),
    )  # fmt: skip
    async def delete(self, ref: str) -> None:
        await self.call(self.ws.monitors.delete, ref)
        self.reply(None, 204)


class MonitorRunHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Run a monitor now (its verdicts; a breach sends monitor.breached)",
        tag="monitors", action=WRITE, response=MonitorRunInfo, status=201, errors=(400, 404),
    )  # fmt: skip
    async def post(self, ref: str) -> None:
        self.reply(await self.call(self.ws.monitors.run, ref), 201)


class MonitorRunsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="A monitor's runs, newest first", tag="monitors", action=READ,
              response=MonitorRunList, errors=(404,))  # fmt: skip
    async def get(self, ref: str) -> None:
        self.reply(MonitorRunList(items=await self.call(self.ws.monitors.runs, ref)))


class MonitorSeriesHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="Each feature's signal values over the monitor's completed runs, oldest "
              "first", tag="monitors", action=READ, response=MonitorSeries,
              errors=(404,))  # fmt: skip
    async def get(self, ref: str) -> None:
        self.reply(await self.call(self.ws.monitors.series, ref))


class MonitorReportHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="A monitor run's report: every feature's signals", tag="monitors",
              action=READ, response=DriftReport, errors=(404,))  # fmt: skip
    async def get(self, ref: str, run_id: str) -> None:
        self.reply(await self.call(_run_report, self.ws, ref, run_id))


class MonitorHtmlHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="A monitor run's static HTML report", tag="monitors", action=READ,
              response=MonitorHtml, errors=(404,))  # fmt: skip
    async def get(self, ref: str, run_id: str) -> None:
        from mlbench.monitoring.report import render_html

        report = await self.call(_run_report, self.ws, ref, run_id)
        self.reply(MonitorHtml(run_id=run_id, html=render_html(report, title=f"monitor {ref}")))
