"""REST handlers of online endpoints (``/endpoints*``); keys only in create/regenerate answers."""

from __future__ import annotations

from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized

from mlbench.endpoints.models import (
    DeploymentInfo,
    DeploymentLogs,
    DeployRequest,
    EndpointCreate,
    EndpointCreated,
    EndpointEventList,
    EndpointInfo,
    EndpointList,
    InvokeRequest,
    InvokeResponse,
    RegeneratedKey,
    TrafficUpdate,
)
from mlbench.server.base import READ, WRITE, MlbenchHandler, endpoint


def routes() -> list[tuple[str, type[Any]]]:
    return [
        ("/endpoints", EndpointsHandler),
        ("/endpoints/{endpoint_name}", EndpointHandler),
        ("/endpoints/{endpoint_name}/traffic", EndpointTrafficHandler),
        ("/endpoints/{endpoint_name}/events", EndpointEventsHandler),
        ("/endpoints/{endpoint_name}/invoke", EndpointInvokeHandler),
        ("/endpoints/{endpoint_name}/keys/{key}/regenerate", EndpointKeyHandler),
        ("/endpoints/{endpoint_name}/deployments", DeploymentsHandler),
        ("/endpoints/{endpoint_name}/deployments/{deployment}", DeploymentHandler),
        ("/endpoints/{endpoint_name}/deployments/{deployment}/logs", DeploymentLogsHandler),
    ]


class EndpointsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="Online endpoints", tag="endpoints", action=READ, response=EndpointList)
    async def get(self) -> None:
        self.reply(EndpointList(items=await self.call(self.ws.endpoints.list)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Create an endpoint; its keys are in this answer only",
        tag="endpoints",
        action=WRITE,
        body=EndpointCreate,
        response=EndpointCreated,
        status=201,
        errors=(409,),
    )
    async def post(self) -> None:
        req = self.body(EndpointCreate)
        info = await self.call(
            self.ws.endpoints.create,
            req.name,
            description=req.description,
            host=req.host,
            port=req.port,
            log_sample_rate=req.log_sample_rate,
        )
        self.reply(info, 201)


class EndpointHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="An endpoint: deployments, traffic, masked keys and per-deployment metrics",
        tag="endpoints",
        action=READ,
        response=EndpointInfo,
        errors=(404,),
    )
    async def get(self, endpoint_name: str) -> None:
        self.reply(await self.call(self.ws.endpoints.show, endpoint_name))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete an endpoint (its request log stays)",
        tag="endpoints",
        action=WRITE,
        status=204,
        errors=(404,),
    )
    async def delete(self, endpoint_name: str) -> None:
        await self.call(self.ws.endpoints.delete, endpoint_name, wait=False)
        self.reply(None, 204)


class EndpointTrafficHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Set traffic weights, mirror and request-log sampling rate",
        tag="endpoints",
        action=WRITE,
        body=TrafficUpdate,
        response=EndpointInfo,
        errors=(404,),
    )
    async def put(self, endpoint_name: str) -> None:
        req = self.body(TrafficUpdate)
        self.reply(
            await self.call(
                self.ws.endpoints.set_traffic,
                endpoint_name,
                req.traffic,
                mirror=req.mirror,
                log_sample_rate=req.log_sample_rate,
            )
        )


class EndpointEventsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="What happened to an endpoint (deploys, rolls, restarts)",
        tag="endpoints",
        action=READ,
        response=EndpointEventList,
        errors=(404,),
    )
    async def get(self, endpoint_name: str) -> None:
        await self.call(self.ws.endpoints.show, endpoint_name, metrics=False)
        items = await self.call(self.ws.endpoints.events, endpoint_name)
        self.reply(EndpointEventList(items=items))


class EndpointInvokeHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Send a test request through the endpoint with one of its keys",
        tag="endpoints",
        action=WRITE,
        body=InvokeRequest,
        response=InvokeResponse,
        errors=(404, 409),
    )
    async def post(self, endpoint_name: str) -> None:
        req = self.body(InvokeRequest)
        answer = await self.call(
            self.ws.endpoints.invoke,
            endpoint_name,
            req.body,
            key=req.key,
            deployment=req.deployment,
        )
        self.reply(InvokeResponse(answer=answer))


class EndpointKeyHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Regenerate the primary or secondary key (in this answer only)",
        tag="endpoints",
        action=WRITE,
        response=RegeneratedKey,
        errors=(404,),
    )
    async def post(self, endpoint_name: str, key: str) -> None:
        self.reply(await self.call(self.ws.endpoints.regenerate_key, endpoint_name, key))


class DeploymentsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Deploy a model version (again: roll it); answers before it is ready",
        tag="endpoints",
        action=WRITE,
        body=DeployRequest,
        response=DeploymentInfo,
        status=202,
        errors=(404, 409),
    )
    async def post(self, endpoint_name: str) -> None:
        req = self.body(DeployRequest)
        info = await self.call(
            self.ws.endpoints.deploy,
            endpoint_name,
            req.name,
            req.model,
            environment=req.environment,
            compute=req.compute,
            instance_count=req.instance_count,
            resources=req.resources,
            max_batch_size=req.max_batch_size,
            max_wait_ms=req.max_wait_ms,
            traffic=req.traffic,
            wait=False,
        )
        self.reply(info, 202)


class DeploymentHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One deployment",
        tag="endpoints",
        action=READ,
        response=DeploymentInfo,
        errors=(404,),
    )
    async def get(self, endpoint_name: str, deployment: str) -> None:
        self.reply(await self.call(self.ws.endpoints.deployment, endpoint_name, deployment))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a deployment that takes no traffic",
        tag="endpoints",
        action=WRITE,
        status=204,
        errors=(404, 409),
    )
    async def delete(self, endpoint_name: str, deployment: str) -> None:
        await self.call(self.ws.endpoints.delete_deployment, endpoint_name, deployment)
        self.reply(None, 204)


class DeploymentLogsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="The output of a deployment's processes",
        tag="endpoints",
        action=READ,
        response=DeploymentLogs,
        errors=(404,),
    )
    async def get(self, endpoint_name: str, deployment: str) -> None:
        text = await self.call(self.ws.endpoints.logs, endpoint_name, deployment)
        self.reply(DeploymentLogs(text=text))
