"""Registry of compute backends: the built-in kinds below, and kinds other packages add through
the ``mlbench.compute`` entry-point group. A kind is one ComputeBackend class (settings, checks,
the agent's executor), named once here or in its package's entry point."""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

from mlbench.compute.base import ComputeBackend
from mlbench.errors import InvalidInputError

log = logging.getLogger(__name__)

_BUILTIN = {
    "local": "mlbench.compute.local:LocalBackend",
    "ray": "mlbench.compute.ray:RayBackend",
    "gateway": "mlbench.compute.gateway:GatewayBackend",
}


class ComputeBackends:
    def __init__(self) -> None:
        self._backends: dict[str, ComputeBackend] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, backend: ComputeBackend) -> None:
        self._backends[backend.kind] = backend

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:  # threads (server handlers, agent workers) may ask at once
            if not self._loaded:
                self._load_entry_points()
                self._loaded = True

    def _load_entry_points(self) -> None:
        specs = dict(_BUILTIN)
        for ep in entry_points(group="mlbench.compute"):
            specs[ep.name] = ep.value
        for kind, spec in specs.items():
            if kind in self._backends:
                continue
            module, _, attr = spec.partition(":")
            try:
                cls = getattr(__import__(module, fromlist=[attr]), attr)
            except Exception:
                log.exception("could not load compute backend %r from %s", kind, spec)
                continue
            self.register(cls())

    def get(self, kind: str) -> ComputeBackend:
        self._load()
        try:
            return self._backends[kind]
        except KeyError:
            raise InvalidInputError(
                f"unknown compute kind {kind!r}",
                hint=f"known kinds: {', '.join(sorted(self._backends))}",
            ) from None

    def kinds(self) -> list[str]:
        self._load()
        return sorted(self._backends)


compute_backends = ComputeBackends()
