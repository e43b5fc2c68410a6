"""GPU detection: NVML when available, else ``nvidia-smi``, else none."""

from __future__ import annotations

import logging
import shutil
import subprocess

from pydantic import BaseModel

log = logging.getLogger(__name__)


class GpuInfo(BaseModel):
    index: str
    name: str = ""
    uuid: str = ""
    memory_mb: int | None = None


def detect_gpus() -> list[GpuInfo]:
    """GPUs visible to this process, honouring an existing ``CUDA_VISIBLE_DEVICES``."""
    gpus = _detect_nvml()
    if gpus is None:
        gpus = _detect_nvidia_smi()
    return gpus or []


def _detect_nvml() -> list[GpuInfo] | None:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # no driver: a normal state on CPU machines
        log.debug("NVML unavailable: %s", exc)
        return None
    try:
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle).total // (1024 * 1024)
            found.append(
                GpuInfo(
                    index=str(i),
                    name=name.decode() if isinstance(name, bytes) else name,
                    uuid=uuid.decode() if isinstance(uuid, bytes) else uuid,
                    memory_mb=int(mem),
                )
            )
        return found
    finally:
        pynvml.nvmlShutdown()


def _detect_nvidia_smi() -> list[GpuInfo] | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,name,uuid,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("nvidia-smi failed, assuming no GPUs: %s", exc)
        return None
    return parse_nvidia_smi(out)


def parse_nvidia_smi(out: str) -> list[GpuInfo]:
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        index, name, uuid, mem = parts[:4]
        found.append(
            GpuInfo(
                index=index, name=name, uuid=uuid, memory_mb=int(mem) if mem.isdigit() else None
            )
        )
    return found
