"""REST handlers of AutoML runs (``/automl*``) and Responsible AI reports (``/rai*``)."""

from __future__ import annotations

from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized

from mlbench.automl.models import AutoMLRequest, AutoMLRunInfo, AutoMLRunList, AutoMLTrialList
from mlbench.rai.models import RaiHtml, RaiReportInfo, RaiRequest
from mlbench.server.base import READ, WRITE, MlbenchHandler, endpoint


def routes() -> list[tuple[str, type[Any]]]:
    return [
        ("/automl", AutoMLRunsHandler),
        ("/automl/{job_id}", AutoMLRunHandler),
        ("/automl/{job_id}/leaderboard", AutoMLLeaderboardHandler),
        ("/rai", RaiReportsHandler),
        ("/rai/{job_id}", RaiReportHandler),
        ("/rai/{job_id}/html", RaiHtmlHandler),
    ]


def _submit_automl(ws: Any, req: AutoMLRequest) -> AutoMLRunInfo:
    settings = req.model_dump(
        exclude={"data", "model_name", "compute", "environment", "task", "target"}
    )
    job = ws.automl.run(
        req.data,
        target=req.target,
        task=req.task,
        model_name=req.model_name,
        compute=req.compute,
        environment=req.environment,
        **settings,
    )
    return ws.automl.show(job.id)


class AutoMLRunsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="AutoML runs, newest first", tag="automl", action=READ, response=AutoMLRunList
    )
    async def get(self) -> None:
        self.reply(AutoMLRunList(items=await self.call(self.ws.automl.list)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Submit an AutoML run on a table asset (a job; the best model is registered)",
        tag="automl",
        action=WRITE,
        body=AutoMLRequest,
        response=AutoMLRunInfo,
        status=201,
        errors=(404,),
    )
    async def post(self) -> None:
        req = self.body(AutoMLRequest)
        self.reply(await self.call(_submit_automl, self.ws, req), 201)


class AutoMLRunHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="An AutoML run: settings, guardrails, best model",
        tag="automl",
        action=READ,
        response=AutoMLRunInfo,
        errors=(404,),
    )
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.ws.automl.show, job_id))


class AutoMLLeaderboardHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="An AutoML run's trials, best first",
        tag="automl",
        action=READ,
        response=AutoMLTrialList,
        errors=(404,),
    )
    async def get(self, job_id: str) -> None:
        self.reply(AutoMLTrialList(items=await self.call(self.ws.automl.leaderboard, job_id)))


class RaiReportsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Run a Responsible AI report of a model on a test table (a notebook job)",
        tag="rai",
        action=WRITE,
        body=RaiRequest,
        response=RaiReportInfo,
        status=201,
        errors=(404,),
    )
    async def post(self) -> None:
        req = self.body(RaiRequest)

        def submit() -> RaiReportInfo:
            job = self.ws.rai.report(
                req.model,
                data=req.data,
                sensitive=req.sensitive,
                target=req.target,
                task=req.task,
                positive_label=req.positive_label,
                compute=req.compute,
                environment=req.environment,
            )
            return self.ws.rai.show(job.id)

        self.reply(await self.call(submit), 201)


class RaiReportHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A report job and its numbers",
        tag="rai",
        action=READ,
        response=RaiReportInfo,
        errors=(404,),
    )
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.ws.rai.show, job_id))


class RaiHtmlHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A completed report's static HTML page",
        tag="rai",
        action=READ,
        response=RaiHtml,
        errors=(404,),
    )
    async def get(self, job_id: str) -> None:
        html = await self.call(self.ws.rai.html, job_id)
        self.reply(RaiHtml(job_id=job_id, html=html))
