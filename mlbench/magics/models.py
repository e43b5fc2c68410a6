"""``%mlbench model ...``: the verbs of ``mlbench model`` over ``ws.models``.

``list``, ``show REF`` (a version's lineage and signature; ``--versions`` lists them all),
``register NAME --job ID|--run ID|--folder PATH``, ``alias NAME ALIAS VERSION``, ``delete REF``
and ``score REF --data data:T --output data:O``, which returns the scoring job (its live widget).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlbench.formatting import when
from mlbench.magics.parser import MagicParser, MlbenchUsageError, _positive_int
from mlbench.widgets.tables import TableView

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def add_model_parser(sub: Any) -> None:
    p = sub.add_parser(
        "model",
        help="registered models: list, show REF, register NAME, alias, delete, score REF",
        description="The model registry (MLflow's, in the workspace): versions, aliases and the\n"
        "jobs they came from; score REF runs a batch scoring job over a table.",
    )
    s = p.add_subparsers(dest="model_command", metavar="COMMAND", parser_class=MagicParser)
    s.add_parser("list", help="registered models")
    sp = s.add_parser("show", help="a version (NAME, NAME:VERSION or NAME@ALIAS)")
    sp.add_argument("ref")
    sp.add_argument("--versions", action="store_true", help="every version of the model")
    sp = s.add_parser("register", help="a new version from a job, a run or a local folder")
    sp.add_argument("name")
    sp.add_argument("--job", help="the model this job's run logged")
    sp.add_argument("--run", help="... or the model an MLflow run logged")
    sp.add_argument("--folder", help="... or a local MLflow model folder")
    sp.add_argument("--path", help="which model of the run, when it logged several")
    sp.add_argument("--alias", help="give the new version this alias")
    sp.add_argument("--description", default="")
    sp = s.add_parser("alias", help="point NAME@ALIAS at VERSION")
    sp.add_argument("name")
    sp.add_argument("alias")
    sp.add_argument("version", type=_positive_int)
    sp = s.add_parser("delete", help="a version (NAME:VERSION) or a whole model (NAME)")
    sp.add_argument("ref")
    sp = s.add_parser("score", help="score a table data asset with a model version, in a job")
    sp.add_argument("ref")
    sp.add_argument("--data", required=True, metavar="data:NAME[:VERSION]")
    sp.add_argument("--output", required=True, metavar="data:NAME")
    sp.add_argument("--chunk-rows", type=_positive_int, default=100_000)
    sp.add_argument("--prediction-column", default="prediction")
    sp.add_argument("-c", "--compute", default="local")
    sp.add_argument("--env", dest="environment")


def models_table(infos: Any) -> TableView:
    rows = [
        [
            m.name,
            m.latest_version,
            m.versions,
            " ".join(f"@{a}={v}" for a, v in sorted(m.aliases.items())),
            when(m.updated_at) if m.updated_at else "",
        ]
        for m in infos
    ]
    return TableView(
        ["model", "latest", "versions", "aliases", "updated"],
        rows,
        title="registered models",
        empty="no registered models (register one with `%mlbench model register NAME --job ID`)",
    )


def version_table(info: Any) -> TableView:
    lin = info.lineage
    rows: list[list[Any]] = [
        ["aliases", ", ".join(info.aliases) or "-"],
        ["job", lin.job_id or "-"],
        ["run", lin.run_id or "-"],
        ["data", ", ".join(lin.data_inputs) or "-"],
        ["environment", lin.environment or "-"],
        ["created", when(info.created_at)],
    ]
    if info.description:
        rows.append(["description", info.description])
    rows += [[f"tag {k}", v] for k, v in info.tags.items()]
    for part in ("inputs", "outputs"):
        cols = (info.signature or {}).get(part) or []
        if cols:
            rows.append(
                [part, ", ".join(f"{c.get('name', '?')}:{c.get('type', '')}" for c in cols)]
            )
    return TableView(["", info.ref], rows, title=f"model {info.ref}", max_width=80)


def versions_table(name: str, versions: Any) -> TableView:
    rows = [
        [v.version, ", ".join(v.aliases), v.lineage.job_id or "", when(v.created_at)]
        for v in versions
    ]
    return TableView(["version", "aliases", "job", "created"], rows, title=f"versions of {name}")


def model_command(ws: Workspace, args: argparse.Namespace) -> Any:
    """A table, or for ``score`` the scoring Job (the caller shows its widget)."""
    models = ws.models
    command = args.model_command
    if command == "list":
        return models_table(models.list())
    if command == "show":
        if args.versions:
            name = args.ref.split(":")[0].split("@")[0]
            return versions_table(name, models.versions(name))
        return version_table(models.info(args.ref))
    if command == "register":
        info = models.register(
            args.name,
            job=args.job,
            run=args.run,
            folder=args.folder,
            path=args.path,
            alias=args.alias,
            description=args.description,
        )
        return version_table(info)
    if command == "alias":
        return version_table(models.set_alias(args.name, args.alias, args.version))
    if command == "delete":
        models.delete(args.ref)
        print(f"deleted {args.ref}")
        return None
    if command == "score":
        return models.score(
            args.ref,
            args.data,
            args.output,
            chunk_rows=args.chunk_rows,
            prediction_column=args.prediction_column,
            compute=args.compute,
            environment=args.environment,
        )
    raise MlbenchUsageError(
        "%mlbench model: give a command (list, show, register, alias, delete, score)"
    )
