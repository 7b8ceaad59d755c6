"""Backends: one small object per array library and device, in one registry.

A backend knows arrays and devices, never workloads. Heavy libraries (torch, cupy)
are imported inside the backend's methods, so `dlbench --help`, `dlbench list` and
a NumPy-only machine never pay for them. Third-party backends register through the
`dlbench.backends` entry-point group (each entry point names a Backend subclass).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from dlbench.clock import Clock, perf_clock
from dlbench.errors import UsageError
from dlbench.measure import HostTimer, Timer
from dlbench.registry import Registry

# Built-in backends by module, imported on first use of the registry (cheap: the
# modules import their libraries lazily).
_BUILTIN_MODULES = ("dlbench.backends.numpy", "dlbench.backends.torch", "dlbench.backends.cupy")


class Backend:
    """Arrays and devices of one library. Subclasses set the class attributes."""

    name: ClassVar[str]
    library: ClassVar[str]  # import name, also the distribution looked up for a version
    distribution: ClassVar[str | None] = None  # when the distribution name differs
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")

    def __init__(self, device: str = "cpu") -> None:
        if device.split(":")[0] not in self.devices:
            raise UsageError(f"backend {self.name} has no device {device!r} "
                             f"(devices: {', '.join(self.devices)})")
        self.device = device

    @property
    def label(self) -> str:
        return f"{self.name}-{self.device}"

    # -- availability, cheap: never imports the library --------------------------------
    def installed(self) -> tuple[bool, str]:
        if importlib.util.find_spec(self.library) is None:
            return False, f"{self.distribution or self.library} is not installed"
        return True, ""

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution or self.library)
        except importlib.metadata.PackageNotFoundError:
            return None

    def available(self) -> tuple[bool, str]:
        """(usable here?, reason when not). CPU devices need only the library."""
        return self.installed()

    # -- used inside a worker -----------------------------------------------------------
    @property
    def xp(self) -> Any:
        """The array-API namespace (array_api_compat) of this library."""
        raise NotImplementedError

    def asarray(self, host: Any, dtype: str) -> Any:
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        """A NumPy copy, widened to float64 where NumPy lacks the dtype (bfloat16)."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work; nothing to wait for on a CPU."""

    def timer(self, clock: Clock = perf_clock) -> Timer:
        return HostTimer(clock, self.synchronize)

    def set_threads(self, threads: int | None) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Versions, BLAS and the threads in force, as seen from inside the worker."""
        return {"version": self.version()}

    # -- device hooks: what a CPU backend does is nothing; GPU backends override ---------
    options: Mapping[str, Any] = {}

    def prepare_env(self, options: Mapping[str, Any]) -> None:
        """Before the library is imported: environment it reads at import (CUPY_TF32)."""
        self.options = dict(options)

    def setup(self) -> None:
        """After import, before the first kernel: select the device, set math flags,
        create the handles a first kernel would otherwise pay for."""

    def math_state(self) -> dict[str, Any]:
        """The math-mode flags in force (TF32, cudnn.benchmark), stored with each result."""
        return {}

    def float32_math(self) -> str:
        """How float32 products are computed: "ieee", or "tf32" on tensor cores."""
        return "ieee"

    def memory_free(self) -> int | None:
        """Device bytes a new case can still use (None: host memory, checked by planning)."""
        return None

    def reset_peak_memory(self) -> None:
        """Start a new high-water mark of device memory for the next case."""

    def peak_memory(self) -> int | None:
        """Device bytes at the high-water mark since reset_peak_memory (None on a CPU)."""
        return None

    def free_cached(self) -> None:
        """Give a caching allocator's free blocks back to the device (after a case, an OOM)."""

    # Host<->device copies (the transfer workload); a CPU backend has no device to copy to.
    def host_empty(self, n: int, dtype: str, pinned: bool) -> Any:
        raise UsageError(f"{self.label} has no device memory to copy to")

    def device_empty(self, n: int, dtype: str) -> Any:
        raise UsageError(f"{self.label} has no device memory to copy to")

    def copy(self, dst: Any, src: Any, non_blocking: bool) -> None:
        raise UsageError(f"{self.label} has no device memory to copy to")


_REGISTRY: Registry[Backend] = Registry("backend", _BUILTIN_MODULES, "dlbench.backends")
register = _REGISTRY.register
names = _REGISTRY.names
backend_class = _REGISTRY.get


def get(name: str, device: str = "cpu") -> Backend:
    return backend_class(name)(device)


def all_targets() -> list[Backend]:
    """Every (backend, device) pair the registry knows, available or not."""
    return [cls(device) for name in names() for cls in [backend_class(name)]
            for device in cls.devices]


def import_library(backend: Backend) -> Any:
    """Import the backend's library, turning any failure into a readable reason."""
    try:
        return importlib.import_module(backend.library)
    except Exception as exc:  # ImportError, or a broken native extension
        raise RuntimeError(f"{backend.library} failed to import: {exc}") from exc


ThreadSetter = Callable[[int | None], None]
