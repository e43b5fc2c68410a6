"""Batch scoring: a table data asset scored by a model version, as an ordinary command job.

The job's code snapshot holds the model's files and the scoring script
(:mod:`mlbench.models.batch_score`), so the job needs neither the registry nor the workspace
database: it runs on any compute target that can take data inputs (local, Ray), in chunks of
``chunk_rows`` rows. Its output is a new version of a table asset; the data lineage records the
job that made it and the version it read, and the job's tags name the model version.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.data.models import DataKind
from mlbench.errors import InvalidInputError

if TYPE_CHECKING:
    from mlbench.jobs.job import Job
    from mlbench.workspace import Workspace

MODEL_TAG = "mlbench.model"
KIND_TAG = "mlbench.kind"


def submit_scoring(
    ws: Workspace,
    model: str,
    data: str,
    output: str,
    *,
    chunk_rows: int = 100_000,
    prediction_column: str = "prediction",
    features: list[str] | None = None,
    keep_columns: bool = True,
    **fields: Any,
) -> Job:
    """Queue a job scoring table ``data`` (``data:NAME[:VERSION]``) with ``model`` (a model
    reference) into a new version of ``output`` (``data:NAME[,datastore=...]``, a Parquet table).
    ``fields``: the job spec's other fields (compute, environment, resources, tags...)."""
    if not 1 <= chunk_rows <= 10_000_000:
        raise InvalidInputError(f"chunk_rows must be between 1 and 10,000,000, got {chunk_rows}")
    if not prediction_column.isidentifier():
        raise InvalidInputError(
            f"prediction column {prediction_column!r} is not a plain name",
            hint="letters, digits and '_', e.g. prediction",
        )
    version = ws.models.info(model)
    table = ws.data.info(data)
    if table.kind != DataKind.TABLE:
        raise InvalidInputError(
            f"{table.ref} is a {table.kind.value}, not a table: batch scoring reads tables",
            hint="register the data as a table (mlbench data create NAME FILE --kind table)",
        )
    out = output if output.startswith("data:") else f"data:{output}"
    if "kind=" in out or "format=" in out:
        raise InvalidInputError(
            "the scored output is always a Parquet table: leave kind= and format= out",
            hint=f"e.g. data:{table.name}-scored",
        )
    with tempfile.TemporaryDirectory(prefix="mlbench-score-") as tmp:
        code = Path(tmp)
        shutil.copyfile(Path(__file__).with_name("batch_score.py"), code / "score.py")
        model_dir = ws.models.download(version.ref, code / "model").relative_to(code)
        args = [
            f"python score.py --model {shlex.quote(model_dir.as_posix())}",
            "--input ${{inputs.data}} --output ${{outputs.scored}}",
            f"--chunk-rows {chunk_rows} --prediction-column {prediction_column}",
        ]
        if features:
            args.append("--features " + shlex.quote(",".join(features)))
        if not keep_columns:
            args.append("--no-keep-columns")
        tags = {**fields.pop("tags", {}), MODEL_TAG: version.ref, KIND_TAG: "batch_score"}
        return ws.jobs.submit(
            command=" ".join(args),
            code=str(code),
            inputs={"data": f"data:{table.ref}"},
            outputs={"scored": f"{out},kind=table,format=parquet"},
            tags=tags,
            experiment=fields.pop("experiment", None) or f"score-{version.name}",
            display_name=fields.pop("display_name", None)
            or f"score {table.ref} with {version.ref}",
            **fields,
        )


__all__ = ["submit_scoring"]
