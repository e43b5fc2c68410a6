"""GPU detection and sampling: NVML when available, else ``nvidia-smi``, else none."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from pydantic import BaseModel

log = logging.getLogger(__name__)
T = TypeVar("T")


class GpuInfo(BaseModel):
    index: str
    name: str = ""
    uuid: str = ""
    memory_mb: int | None = None


class GpuSample(BaseModel):
    """One GPU's load at one moment."""

    index: str
    utilization_pct: float | None = None
    memory_used_mb: int | None = None
    memory_total_mb: int | None = None


def detect_gpus() -> list[GpuInfo]:
    """The machine's GPUs (the local target keeps those ``CUDA_VISIBLE_DEVICES`` allows)."""
    gpus = _with_nvml(_nvml_infos)
    if gpus is None:
        out = _nvidia_smi("index,name,uuid,memory.total")
        gpus = None if out is None else parse_nvidia_smi(out)
    return gpus or []


def sample_gpus(indices: Collection[str] | None = None) -> list[GpuSample]:
    """Utilization and memory in use of the GPUs ``indices`` (machine indices; all if None)."""
    samples = _with_nvml(_nvml_samples)
    if samples is None:
        out = _nvidia_smi("index,utilization.gpu,memory.used,memory.total")
        samples = None if out is None else parse_nvidia_smi_samples(out)
    return [s for s in samples or [] if indices is None or s.index in indices]


def _with_nvml(read: Callable[[Any], list[T]]) -> list[T] | None:
    """``read(pynvml)`` in an NVML session; None when NVML cannot answer (no package, no
    driver: a normal state on CPU machines; a GPU fallen off the bus)."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        log.debug("NVML unavailable: %s", exc)
        return None
    try:
        return read(pynvml)
    except Exception as exc:
        log.warning("reading GPUs through NVML failed: %s", exc)
        return None
    finally:
        pynvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _nvml_infos(nvml: Any) -> list[GpuInfo]:
    found = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        found.append(
            GpuInfo(
                index=str(i),
                name=_text(nvml.nvmlDeviceGetName(handle)),
                uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                memory_mb=int(nvml.nvmlDeviceGetMemoryInfo(handle).total // (1024 * 1024)),
            )
        )
    return found


def _nvml_samples(nvml: Any) -> list[GpuSample]:
    found = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        mem = nvml.nvmlDeviceGetMemoryInfo(handle)
        found.append(
            GpuSample(
                index=str(i),
                utilization_pct=float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                memory_used_mb=int(mem.used // (1024 * 1024)),
                memory_total_mb=int(mem.total // (1024 * 1024)),
            )
        )
    return found


def _nvidia_smi(fields: str) -> str | None:
    """``nvidia-smi --query-gpu=FIELDS`` as CSV without header or units; None without one."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        return subprocess.run(
            [exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("nvidia-smi failed, assuming no GPUs: %s", exc)
        return None


def parse_nvidia_smi_samples(out: str) -> list[GpuSample]:
    """``index, utilization.gpu, memory.used, memory.total`` rows; ``[N/A]`` reads as None."""

    def number(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        used, total = number(parts[2]), number(parts[3])
        found.append(
            GpuSample(
                index=parts[0],
                utilization_pct=number(parts[1]),
                memory_used_mb=None if used is None else int(used),
                memory_total_mb=None if total is None else int(total),
            )
        )
    return found


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
