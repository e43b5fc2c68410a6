"""Jobs in environments, plugged into the job lifecycle: ``environment=NAME[:VERSION]``.

At bind the reference is resolved to an exact ready version, whose kernelspec the job runs on
(the local agent's kernel pool keeps warm kernels per kernel name, so per environment); the
job's spec records ``name:version`` and the lock hash. On the agent, before the first cell, the
job's MLflow run is tagged with both.

On a Ray target the venv on this machine is of no use to the node that runs the job: the
version's lock goes with the job instead (``environment.json`` in the job's folder, written at
stage), and the Ray executor puts it into the task's ``runtime_env`` (:func:`ray_runtime_env`),
which Ray installs once per node (and caches by its hash) before the task starts; the job's
kernel there is the task's own interpreter. A gateway target refuses environments: its kernels
are the gateway's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlbench.environments.build import KERNEL_PREFIX, expose_kernels
from mlbench.errors import InvalidInputError
from mlbench.jobs.lifecycle import JobHook, RunContext, Submission

ENV_TAG = "mlbench.environment"
HASH_TAG = "mlbench.environment_hash"
# Kinds that can run a job in an environment: local (this machine's kernelspecs) and Ray (the
# lock in the task's runtime_env); a gateway starts only the kernels installed on its server.
_PROVIDES = ("local", "ray")
LOCK_FILE = "environment.json"
RAY_KERNEL = "python3"
"""The kernel of an environment's job on Ray: the task's interpreter, in the runtime env."""
"""In the job's folder (beside its snapshot): the lock an executor ships to another machine."""


class EnvironmentBinding(JobHook):
    def __init__(self, home: Path | None = None) -> None:
        # The workspace's environment kernels must be findable by jupyter_client here (the
        # kernel check at submission) and in the agents this process starts (their pool): a
        # folder first on JUPYTER_PATH, which holds nothing but mlbench's own kernelspecs.
        if home is not None:
            from mlbench.environments.service import EnvironmentPaths

            expose_kernels(EnvironmentPaths(home).jupyter)

    def bind(self, sub: Submission) -> None:
        spec = sub.spec
        if not spec.environment:
            return
        kind = sub.backend.kind
        if kind not in _PROVIDES:
            raise InvalidInputError(
                f"compute target {spec.compute!r} ({kind}) cannot run environment "
                f"{spec.environment!r}: environments are built on this machine and "
                f"{_WHERE.get(kind, 'its kernels are its own')}",
                hint=_FIX.get(
                    kind,
                    "run the job on a local target, or pass --kernel with a kernel the "
                    "target offers",
                ),
            )
        if kind in _SHIPS_LOCK:  # refused now rather than when the job starts
            ray_runtime_env([], sub.ws.compute.get(spec.compute).config.get("runtime_env"))
        info = sub.ws.environments.resolve(spec.environment)
        # this workspace's kernels for the kernel check that follows (a process may have
        # opened other workspaces since)
        expose_kernels(sub.ws.environments.paths.jupyter)
        # an environment's kernel in the spec was resolved earlier (a rerun on another
        # environment): replaced; a kernel of the user's own contradicts the environment
        given = spec.kernel_name
        if given and given != info.kernel_name and not given.startswith(KERNEL_PREFIX):
            raise InvalidInputError(
                f"kernel {spec.kernel_name!r} contradicts environment {info.ref} (whose kernel "
                f"is {info.kernel_name!r})",
                hint="give either an environment or a kernel, not both",
            )
        sub.spec = spec.model_copy(
            update={
                "environment": info.ref,
                "kernel_name": info.kernel_name,
                "tags": {**spec.tags, ENV_TAG: info.ref, HASH_TAG: info.lock_hash},
            }
        )
        sub.handled.add("environment")

    def stage(self, run: RunContext) -> None:
        if not run.info.kernel_name.startswith(KERNEL_PREFIX):  # no environment: no lookup
            return
        spec = run.ws.jobs.spec(run.info)
        if not spec.environment or run.run_id is None:
            return
        tags = {ENV_TAG: spec.environment}
        if HASH_TAG in spec.tags:
            tags[HASH_TAG] = spec.tags[HASH_TAG]
        run.ws.tracking.set_tags(run.run_id, tags)
        if run.log_file is not None:
            run.log_file.write(f"environment {spec.environment} (kernel {run.info.kernel_name})\n")
        if run.ws.compute.get(run.info.compute).kind in _SHIPS_LOCK:
            info = run.ws.environments.get(spec.environment)
            lock = {
                "ref": info.ref,
                "lock_hash": info.lock_hash,
                "python": info.python,
                "packages": info.packages,
            }
            path = run.ws.paths.job_dir(run.info.id) / LOCK_FILE
            path.write_text(json.dumps(lock), encoding="utf-8")


# Kinds whose executors install the lock where the job runs (see read_lock).
_SHIPS_LOCK = ("ray",)


def read_lock(job_dir: Path) -> dict[str, Any] | None:
    """The environment lock staged for a job (``None``: the job has no environment)."""
    try:
        return dict(json.loads((job_dir / LOCK_FILE).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def ray_runtime_env(packages: list[str], base: dict[str, Any] | None) -> dict[str, Any]:
    """A Ray task's ``runtime_env`` holding an environment's lock, over the target's own.

    Ray merges a task's runtime_env over the job's field by field, so the lock goes into the
    field the target already uses (``pip`` or ``uv``: Ray refuses both at once), after the
    packages the target lists there; uv (the default) installs from its cache, not with Ray's
    ``--no-cache``.
    """
    env = dict(base or {})
    if "conda" in env:
        raise InvalidInputError(
            "this Ray target's runtime_env uses conda, which cannot take an environment's lock",
            hint="remove conda from the target's runtime_env (`mlbench compute update`), or "
            "run the job without --env",
        )
    if "pip" in env:
        given = env["pip"]
        pip = dict(given) if isinstance(given, dict) else {"packages": _packages(given)}
        pip["packages"] = [*_packages(pip.get("packages")), *packages]
        env["pip"] = pip
        return env
    uv = env.get("uv")
    uv = dict(uv) if isinstance(uv, dict) else {"packages": _packages(uv)}
    uv["packages"] = [*_packages(uv.get("packages")), *packages]
    uv.setdefault("uv_pip_install_options", [])
    env["uv"] = uv
    return env


def _packages(value: Any) -> list[str]:
    if isinstance(value, str):  # a requirements file's path: Ray reads it, we cannot merge it
        raise InvalidInputError(
            f"this Ray target's runtime_env names a requirements file ({value!r}), which cannot "
            "be merged with an environment's lock",
            hint="list the packages in the target's runtime_env instead of a file",
        )
    return list(value or [])


_WHERE = {
    "gateway": "a kernel gateway starts only the kernels installed on its own server",
}
_FIX = {
    "gateway": "install the environment's packages into a kernel on the gateway and pass "
    "--kernel NAME (`mlbench compute update TARGET` re-reads its kernels), or run on a local "
    "or Ray target",
}
