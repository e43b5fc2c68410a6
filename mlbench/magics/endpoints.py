"""``%mlbench endpoint ...``: the verbs of ``mlbench endpoint`` over ``ws.endpoints``.

``create NAME``, ``deploy ENDPOINT NAME --model REF``, ``traffic ENDPOINT NAME=PCT...``,
``keys ENDPOINT [regenerate primary|secondary]``, ``invoke ENDPOINT --key K --data JSON``,
``logs ENDPOINT DEPLOYMENT``, ``delete ENDPOINT [DEPLOYMENT]``, ``list``, ``show ENDPOINT``.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from mlbench.magics.parser import MagicParser, MlbenchUsageError
from mlbench.widgets.tables import TableView

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def add_endpoint_parser(sub: Any) -> None:
    p = sub.add_parser(
        "endpoint",
        help="online endpoints: create, deploy, traffic, keys, invoke, logs, delete, list, show",
        description="A stable URL with keys in front of deployed model versions.",
    )
    s = p.add_subparsers(dest="endpoint_command", metavar="COMMAND", parser_class=MagicParser)
    sp = s.add_parser("create", help="a new endpoint (its keys are shown this once)")
    sp.add_argument("name")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int)
    sp.add_argument("--log-sample-rate", type=float, default=0.0)
    sp = s.add_parser("deploy", help="deploy (or roll) a model version")
    sp.add_argument("endpoint")
    sp.add_argument("name")
    sp.add_argument("--model", required=True, help="NAME:VERSION or NAME@ALIAS")
    sp.add_argument("--environment")
    sp.add_argument("--compute", default="local")
    sp.add_argument("--instances", type=int, default=1)
    sp.add_argument("--traffic", type=int)
    sp = s.add_parser("traffic", help="weights NAME=PERCENT (summing to 100)")
    sp.add_argument("endpoint")
    sp.add_argument("weights", nargs="*")
    sp.add_argument("--mirror", action="append", help="NAME=PERCENT ('' stops mirroring)")
    sp.add_argument("--log-sample-rate", type=float)
    sp = s.add_parser("keys", help="masked keys, or regenerate one")
    sp.add_argument("endpoint")
    sp.add_argument("action", nargs="?", choices=["show", "regenerate"], default="show")
    sp.add_argument("key", nargs="?", choices=["primary", "secondary"])
    sp = s.add_parser("invoke", help="send one request")
    sp.add_argument("endpoint")
    sp.add_argument("--key", required=True)
    sp.add_argument("--data", required=True, help="JSON in one of MLflow's formats")
    sp.add_argument("--deployment")
    sp = s.add_parser("logs", help="a deployment's process output")
    sp.add_argument("endpoint")
    sp.add_argument("deployment")
    sp = s.add_parser("delete", help="an endpoint, or one of its deployments")
    sp.add_argument("endpoint")
    sp.add_argument("deployment", nargs="?")
    s.add_parser("list", help="every endpoint")
    sp = s.add_parser("show", help="an endpoint's deployments and metrics")
    sp.add_argument("endpoint")


def _percents(items: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise MlbenchUsageError(f"{item!r} is not NAME=PERCENT")
        out[name] = int(value)
    return out


def _weights(traffic: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in traffic.items()) or "-"


def deployments_table(info: Any) -> TableView:
    rows = []
    for d in info.deployments:
        m = d.metrics
        rows.append(
            [
                d.name,
                f"{d.model_name}:{d.model_version}",
                d.state.value,
                info.traffic.get(d.name, 0),
                m.requests if m else None,
                m.errors if m else None,
                None if m is None or m.p50_ms is None else round(m.p50_ms, 1),
                None if m is None or m.p99_ms is None else round(m.p99_ms, 1),
            ]
        )
    keys = ", ".join(f"{k} {v.prefix}" for k, v in info.keys.items())
    return TableView(
        ["deployment", "model", "state", "traffic %", "requests", "errors", "p50 ms", "p99 ms"],
        rows,
        title=f"{info.name} {info.url} (keys: {keys})",
        empty="no deployments (add one with `%mlbench endpoint deploy ...`)",
    )


def endpoint_command(ws: Workspace, args: argparse.Namespace) -> Any:
    eps = ws.endpoints
    command = args.endpoint_command
    if command == "create":
        made = eps.create(
            args.name, host=args.host, port=args.port, log_sample_rate=args.log_sample_rate
        )
        print(f"url: {made.url}")
        print(f"primary key: {made.secrets.primary}")
        print(f"secondary key: {made.secrets.secondary}")
        print("(the keys are not shown again)")
        return None
    if command == "deploy":
        info = eps.deploy(
            args.endpoint,
            args.name,
            args.model,
            environment=args.environment,
            compute=args.compute,
            instance_count=args.instances,
            traffic=args.traffic,
        )
        model = f"{info.model_name}:{info.model_version}"
        print(f"{args.endpoint}/{info.name}: {model} {info.state.value}")
        return None
    if command == "traffic":
        mirror = None if args.mirror is None else _percents([m for m in args.mirror if m])
        info = eps.set_traffic(
            args.endpoint,
            _percents(args.weights) if args.weights else None,
            mirror=mirror,
            log_sample_rate=args.log_sample_rate,
        )
        print(f"traffic {_weights(info.traffic)}; mirror {_weights(info.mirror)}")
        return None
    if command == "keys":
        if args.action == "regenerate":
            if args.key is None:
                raise MlbenchUsageError("name the key to regenerate: primary or secondary")
            print(eps.regenerate_key(args.endpoint, args.key).value)
            return None
        for k, v in eps.show(args.endpoint, metrics=False).keys.items():
            print(f"{k}: {v.prefix}")
        return None
    if command == "invoke":
        try:
            body = json.loads(args.data)
        except ValueError as exc:
            raise MlbenchUsageError(f"--data is not JSON: {exc}") from None
        return eps.invoke(args.endpoint, body, key=args.key, deployment=args.deployment)
    if command == "logs":
        print(eps.logs(args.endpoint, args.deployment))
        return None
    if command == "delete":
        if args.deployment:
            eps.delete_deployment(args.endpoint, args.deployment)
        else:
            eps.delete(args.endpoint)
        print(f"deleted {args.endpoint}" + (f"/{args.deployment}" if args.deployment else ""))
        return None
    if command == "list":
        rows = [
            [i.name, i.url, _weights(i.traffic), ", ".join(d.name for d in i.deployments)]
            for i in eps.list()
        ]
        return TableView(
            ["endpoint", "url", "traffic", "deployments"],
            rows,
            title="endpoints",
            empty="no endpoints (create one with `%mlbench endpoint create NAME`)",
        )
    if command == "show":
        return deployments_table(eps.show(args.endpoint))
    raise MlbenchUsageError(
        "%mlbench endpoint: give a command (create, deploy, traffic, keys, invoke, logs, "
        "delete, list, show)"
    )
