"""The ``ray`` compute kind: jobs become tasks on a Ray cluster.

Ray places each job (its ``num_cpus``, ``num_gpus``, memory and custom resources) on a node
that has them and sets ``CUDA_VISIBLE_DEVICES`` there; the target's agent only caps how many
jobs it has in flight. Creating or updating a target connects to the cluster once (in a
subprocess, so the caller never becomes a Ray driver) and stores the cluster's size, against
which submissions are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from pydantic import Field

from mlbench.compute.base import (
    MAX_CPUS,
    MAX_GPUS,
    MAX_JOBS_AT_ONCE,
    MAX_SECONDS,
    Capacity,
    ComputeBackend,
    ComputeConfig,
)
from mlbench.errors import InvalidInputError

_PROBE = r"""
import json, sys, ray
ray.init(address=sys.argv[1], namespace=sys.argv[2], logging_level="ERROR", log_to_driver=False)
total = ray.cluster_resources()
nodes = [
    {"node_ip": n["NodeManagerAddress"], "alive": n["Alive"],
     "resources": {k: v for k, v in n["Resources"].items() if not k.startswith("node:")}}
    for n in ray.nodes()
]
print(json.dumps({"resources": total, "nodes": nodes}))
ray.shutdown()
"""

_BUILTIN = {"CPU", "GPU", "memory", "object_store_memory"}


# data inputs travel with the task to whichever node runs it; more belongs in storage nodes read
RAY_MAX_DATA_BYTES = 1024 * 1024 * 1024


class RayComputeConfig(ComputeConfig):
    address: str = Field(
        description="Ray cluster address: 'auto' (a cluster started on this machine), "
        "'host:6379' or 'ray://host:10001' (Ray Client)."
    )
    namespace: str = Field("mlbench", description="Ray namespace the agent uses.")
    runtime_env: dict[str, Any] | None = Field(
        None,
        description="Ray runtime_env for job tasks, e.g. {'pip': ['mlbench', 'torch']} when "
        "the cluster's nodes do not have mlbench installed.",
    )
    default_cpus: float = Field(
        1.0, gt=0, le=MAX_CPUS, description="CPUs of a job that does not ask."
    )
    default_gpus: int = Field(0, ge=0, le=MAX_GPUS, description="GPUs of a job that does not ask.")
    kernel_pool_size: int = Field(
        1,
        ge=0,
        le=16,
        description="Python kernels kept started on every node, ready for the next job (0: "
        "each job starts its own kernel).",
    )
    connect_timeout_s: float = Field(60.0, gt=0, le=MAX_SECONDS)
    cluster: dict[str, Any] | None = Field(
        None, description="The cluster's resources, recorded when the target was checked."
    )


class RayBackend(ComputeBackend):
    kind = "ray"
    executor = "mlbench.agent.ray_executor:RayExecutor"
    config_model = RayComputeConfig
    description = "A Ray cluster: jobs run as Ray tasks on its nodes."
    max_data_bytes = RAY_MAX_DATA_BYTES

    def check(self, config: ComputeConfig) -> ComputeConfig:
        assert isinstance(config, RayComputeConfig)
        cluster = probe_cluster(config)
        return config.model_copy(update={"cluster": cluster})

    def capacity(self, config: ComputeConfig) -> Capacity:
        assert isinstance(config, RayComputeConfig)
        resources = (config.cluster or {}).get("resources", {})
        cpus = float(resources.get("CPU", 0.0))
        return Capacity(
            cpus=cpus,
            memory_mb=int(resources["memory"] // (1024 * 1024)) if "memory" in resources else None,
            gpus=int(resources.get("GPU", 0)),
            resources={
                k: float(v)
                for k, v in resources.items()
                if k not in _BUILTIN and not k.startswith("node:")
            },
            max_concurrent_jobs=config.max_concurrent_jobs
            or min(MAX_JOBS_AT_ONCE, max(1, int(cpus))),
        )

    def job_defaults(self, config: ComputeConfig) -> dict[str, Any]:
        assert isinstance(config, RayComputeConfig)
        return {"cpus": config.default_cpus, "gpus": config.default_gpus}


def probe_cluster(config: RayComputeConfig) -> dict[str, Any]:
    """Connect once and describe the cluster; a clear error when it cannot be reached."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, config.address, config.namespace],
            capture_output=True,
            text=True,
            timeout=config.connect_timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InvalidInputError(
            f"no answer from the Ray cluster at {config.address!r} within "
            f"{config.connect_timeout_s:g} s",
            hint="check the address and that the cluster (e.g. `ray status`) is up and reachable",
        ) from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise InvalidInputError(
            f"cannot connect to the Ray cluster at {config.address!r}: "
            f"{lines[-1] if lines else 'unknown error'}",
            hint="check the address ('auto', 'host:6379' or 'ray://host:10001') and that "
            "ray is installed here in the cluster's version",
        )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
