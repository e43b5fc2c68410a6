"""Jobs in environments, plugged into the job lifecycle: ``environment=NAME[:VERSION]``.

At bind the reference is resolved to an exact ready version, whose kernelspec the job runs on
(the local agent's kernel pool keeps warm kernels per kernel name, so per environment); the
job's spec records ``name:version`` and the lock hash. On the agent, before the first cell, the
job's MLflow run is tagged with both.
"""

from __future__ import annotations

from pathlib import Path

from mlbench.environments.build import KERNEL_PREFIX, expose_kernels
from mlbench.errors import InvalidInputError
from mlbench.jobs.lifecycle import JobHook, RunContext, Submission

ENV_TAG = "mlbench.environment"
HASH_TAG = "mlbench.environment_hash"
# Kinds whose kernels run from this machine's kernelspecs (Ray and gateways bring their own).
_PROVIDES = ("local",)


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


_WHERE = {
    "gateway": "a kernel gateway starts only the kernels installed on its own server",
    "ray": "Ray workers do not receive this machine's venvs yet",
}
_FIX = {
    "gateway": "install the environment's packages into a kernel on the gateway and pass "
    "--kernel NAME (`mlbench compute update TARGET` re-reads its kernels), or run on a local "
    "target",
    "ray": "run jobs with --env on a local target; on Ray, install the packages on the "
    "cluster's nodes and leave --env unset",
}
