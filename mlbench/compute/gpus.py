"""GPU detection and sampling: NVML when available, else ``nvidia-smi``, else none."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Collection

from pydantic import BaseModel

log = logging.getLogger(__name__)


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
    gpus = _detect_nvml()
    if gpus is None:
        gpus = _detect_nvidia_smi()
    return gpus or []


def sample_gpus(indices: Collection[str] | None = None) -> list[GpuSample]:
    """Utilization and memory in use of the GPUs ``indices`` (machine indices; all if None)."""
    samples = _sample_nvml()
    if samples is None:
        samples = _sample_nvidia_smi()
    return [s for s in samples or [] if indices is None or s.index in indices]


def _sample_nvml() -> list[GpuSample] | None:
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
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            found.append(
                GpuSample(
                    index=str(i),
                    utilization_pct=float(util.gpu),
                    memory_used_mb=int(mem.used // (1024 * 1024)),
                    memory_total_mb=int(mem.total // (1024 * 1024)),
                )
            )
        return found
    except Exception as exc:  # a GPU fallen off the bus: no sample this time
        log.warning("sampling GPUs through NVML failed: %s", exc)
        return None
    finally:
        pynvml.nvmlShutdown()


def _sample_nvidia_smi() -> list[GpuSample] | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    query = "--query-gpu=index,utilization.gpu,memory.used,memory.total"
    try:
        out = subprocess.run(
            [exe, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("nvidia-smi failed, no GPU sample: %s", exc)
        return None
    return parse_nvidia_smi_samples(out)


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
