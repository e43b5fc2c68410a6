"""Data assets as job inputs and outputs.

At submission (:func:`bind`), ``inputs={"train": "data:iris:3"}`` resolves to exact versions and
``outputs={"model": "data:iris-model"}`` to what will be registered; each binding's local path is
fixed then (inside the job's folder) and given to the notebook as the parameter of that name, so
the notebook's parameters show exactly what it read and where it wrote.

The agent calls :func:`stage` before the first cell (inputs linked into
``<job>/data/inputs/NAME`` from the datastore or the download cache; output folders emptied; the
MLflow run gets the input versions as dataset inputs and tags) and :func:`register_outputs` when
the job completed (each output's path registered as a new version made by the job, so lineage
knows its producer). Executors that run notebooks elsewhere (Ray) call :func:`stage_inputs_to`
and :func:`register_outputs_from` with folders of their own.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlbench.data.models import DataKind, JobInput, JobOutput
from mlbench.data.refs import check_name, parse_ref
from mlbench.errors import InvalidInputError, MlbenchError

if TYPE_CHECKING:
    from mlbench.jobs.models import JobInfo
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

_OPTIONS = {"kind", "datastore", "format", "filename", "description"}


# -- parsing -----------------------------------------------------------------------------------
def parse_output_spec(name: str, value: Any) -> JobOutput:
    """``data:newname`` or ``data:newname,kind=table,format=csv,datastore=s3data`` or a dict."""
    if isinstance(value, JobOutput):
        return value
    if isinstance(value, dict):
        return JobOutput.model_validate({"name": name, **value})
    text = str(value).strip()
    head, *opts = text.split(",")
    head = head.strip().removeprefix("data:")
    if ":" in head or "@" in head:
        raise InvalidInputError(
            f"output {name}={text!r} names a version",
            hint="outputs name the asset only (data:NAME); the version is assigned when the job "
            "completes",
        )
    fields: dict[str, Any] = {"name": name, "asset": check_name(head)}
    for opt in opts:
        key, sep, val = opt.partition("=")
        key = key.strip()
        if not sep or key not in _OPTIONS:
            raise InvalidInputError(
                f"invalid output option {opt!r} in {name}={text!r}",
                hint="e.g. data:NAME,kind=table,format=csv,datastore=STORE "
                f"(options: {', '.join(sorted(_OPTIONS))})",
            )
        fields[key] = val.strip()
    try:
        out = JobOutput.model_validate(fields)
    except ValueError as exc:
        raise InvalidInputError(
            f"invalid output {name}={text!r}: {exc}", hint="kinds: file, folder, table"
        ) from None
    if out.format is not None and out.format not in ("parquet", "csv"):
        raise InvalidInputError(
            f"unknown table format {out.format!r}", hint="formats: parquet, csv"
        )
    return out


def parse_bindings(items: list[str] | tuple[str, ...], what: str) -> dict[str, str]:
    """``NAME=data:...`` strings (CLI) as a mapping."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, val = str(item).partition("=")
        if not sep or not key or not val:
            raise InvalidInputError(
                f"invalid --{what} {item!r}",
                hint=f"use NAME=data:ASSET{':VERSION' if what == 'input' else ''}, e.g. "
                + ("train=data:iris:3" if what == "input" else "model=data:iris-model"),
            )
        if key in out:
            raise InvalidInputError(f"--{what} {key} is given twice")
        out[key] = val
    return out


# -- submission --------------------------------------------------------------------------------
def bind(
    ws: Workspace,
    job_id: str,
    inputs: dict[str, Any] | None,
    outputs: dict[str, Any] | None,
    parameters: dict[str, Any],
    *,
    max_input_bytes: int | None = None,
    target: str = "",
) -> tuple[list[JobInput], list[JobOutput], dict[str, str]]:
    """Resolve a submission's data bindings; returns (inputs, outputs, path parameters).

    ``max_input_bytes`` is what the compute ``target`` can carry to a job, inputs in all.
    """
    ins: list[JobInput] = []
    outs: list[JobOutput] = []
    paths: dict[str, str] = {}
    base = ws.paths.job_dir(job_id) / "data"
    total = 0
    for name, ref in (inputs or {}).items():
        _check_binding(name, parameters, paths)
        text = f"{ref.asset}:{ref.version}" if isinstance(ref, JobInput) else str(ref)
        info = ws.data.info(parse_ref(text))
        ins.append(
            JobInput(name=name, asset=info.name, version=info.version, ref=info.ref, kind=info.kind)
        )
        folder = base / "inputs" / name
        paths[name] = str(folder / info.filename if info.filename else folder)
        total += info.size_bytes
    if max_input_bytes is not None and total > max_input_bytes:
        mib = 1024 * 1024
        raise InvalidInputError(
            f"the job's data inputs add up to {total / mib:,.1f} MiB, more than a job on compute "
            f"target {target!r} can take ({max_input_bytes / mib:,.0f} MiB)",
            hint="run it on a local target, or read the data in the notebook from storage the "
            "target's nodes can reach (e.g. the datastore's URI)",
            details={"input_bytes": total, "max_input_bytes": max_input_bytes},
        )
    for name, spec in (outputs or {}).items():
        _check_binding(name, parameters, paths)
        out = parse_output_spec(name, spec)
        if out.datastore:
            ws.datastores.open(out.datastore).check_writable()
        outs.append(out)
        paths[name] = str(output_path(base / "outputs", out))
    return ins, outs, paths


def _check_binding(name: str, parameters: dict[str, Any], paths: dict[str, str]) -> None:
    if not name.isidentifier():
        raise InvalidInputError(
            f"data binding name {name!r} is not a valid parameter name",
            hint="the name is the notebook parameter that receives the path, e.g. train_dir",
        )
    if name in parameters or name in paths:
        raise InvalidInputError(
            f"{name!r} is bound twice (as a parameter or another input/output)",
            hint="an input or output sets the parameter of its name to a local path",
        )


def output_path(folder: Path, out: JobOutput) -> Path:
    """Where the notebook writes output ``out`` (under ``folder``)."""
    if out.kind == DataKind.FOLDER:
        return folder / out.name
    if out.kind == DataKind.TABLE:
        return folder / out.name / (out.filename or f"{out.asset}.{out.format or 'parquet'}")
    return folder / out.name / (out.filename or out.asset)


# -- running (the agent) -----------------------------------------------------------------------
def stage(ws: Workspace, info: JobInfo, run_id: str | None, log_file: TextIO | None) -> None:
    """Before the first cell: inputs in place, output folders empty, MLflow told the inputs."""
    if not info.inputs and not info.outputs:
        return
    base = ws.paths.job_dir(info.id) / "data"
    stage_inputs_to(ws, info, base / "inputs", log_file)
    for out in info.outputs:
        target = base / "outputs" / out.name
        shutil.rmtree(target, ignore_errors=True)  # a retry starts from nothing
        target.mkdir(parents=True, exist_ok=True)
    if run_id and info.inputs:
        datasets = []
        for b in info.inputs:
            v = ws.data.info(f"{b.asset}:{b.version}")
            datasets.append(
                {"name": v.name, "digest": v.content_hash[:36], "source": v.uri, "binding": b.name}
            )
        ws.tracking.log_data_inputs(run_id, datasets)
        ws.tracking.set_tags(run_id, {f"mlbench.input.{b.name}": b.ref for b in info.inputs})


def stage_inputs_to(
    ws: Workspace, info: JobInfo, folder: Path, log_file: TextIO | None = None
) -> dict[str, str]:
    """Make each input available under ``folder/NAME``; returns {NAME: local path}.

    The data is linked, not copied: from a local datastore directly, else from the workspace's
    download cache (downloaded once per content hash).
    """
    found: dict[str, str] = {}
    for b in info.inputs:
        asset = ws.data.get(f"{b.asset}:{b.version}")
        src = asset.path()
        target = folder / b.name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        if src.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, target, target_is_directory=True)
            found[b.name] = str(target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            os.symlink(src, target / src.name)
            found[b.name] = str(target / src.name)
        _note(log_file, f"input {b.name} = {asset.ref} ({asset.info.size_bytes} bytes)")
    return found


def register_outputs(
    ws: Workspace, info: JobInfo, run_id: str | None, log_file: TextIO | None
) -> str | None:
    """After a completed job: register each output; returns None, or an error message."""
    if not info.outputs:
        return None
    folder = ws.paths.job_dir(info.id) / "data" / "outputs"
    return register_outputs_from(ws, info, folder, run_id, log_file)


def register_outputs_from(
    ws: Workspace,
    info: JobInfo,
    folder: Path,
    run_id: str | None = None,
    log_file: TextIO | None = None,
) -> str | None:
    """Register what the notebook wrote under ``folder/NAME`` for each output of the job.

    Returns None when every output was registered, else a message saying which one failed and
    why (the job then fails: its contract was to produce them).
    """
    done: dict[str, str] = {}
    for out in info.outputs:
        path = output_path(folder, out)
        if out.kind == DataKind.FOLDER:
            missing = not path.is_dir() or not any(path.iterdir())
        else:
            missing = not path.is_file()
        if missing:
            return (
                f"output {out.name} was not written: the notebook must write "
                f"{'files into the folder' if out.kind == DataKind.FOLDER else 'the file'} "
                f"{path} (the path in parameter {out.name!r})"
            )
        try:
            asset = ws.data.create(
                out.asset,
                path,
                kind=out.kind,
                datastore=out.datastore,
                format=out.format if out.kind == DataKind.TABLE else None,
                description=out.description or f"output {out.name} of job {info.id}",
                tags={"mlbench.job_id": info.id},
                job_id=info.id,
                binding=out.name,
            )
        except MlbenchError as exc:
            return f"output {out.name} could not be registered as {out.asset}: {exc.message}"
        done[out.name] = asset.ref
        _note(log_file, f"output {out.name} registered as {asset.ref}")
    _record_outputs(ws, info, done)
    if run_id and done:
        try:
            ws.tracking.set_tags(run_id, {f"mlbench.output.{k}": v for k, v in done.items()})
        except Exception:
            log.exception("could not tag the MLflow run of job %s with its outputs", info.id)
    return None


def _record_outputs(ws: Workspace, info: JobInfo, done: dict[str, str]) -> None:
    outputs = []
    for out in info.outputs:
        data = out.model_dump(mode="json")
        if out.name in done:
            data["ref"] = done[out.name]
            data["version"] = int(done[out.name].rsplit(":", 1)[1])
        outputs.append(data)
    ws.jobs.lifecycle.set_outputs(info.id, outputs)


def _note(log_file: TextIO | None, text: str) -> None:
    if log_file is not None:
        from mlbench._ids import utcnow

        log_file.write(f"[mlbench {utcnow().strftime('%H:%M:%S')}] {text}\n")
