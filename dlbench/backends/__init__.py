"""Backends: one small object per array library and device, in one registry.

A backend knows arrays and devices, never workloads. Heavy libraries (torch, cupy)
are imported inside the backend's methods, so `dlbench --help`, `dlbench list` and
a NumPy-only machine never pay for them. Third-party backends register through the
`dlbench.backends` entry-point group (each entry point names a Backend subclass).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from dlbench.backends import cuda
from dlbench.clock import Clock, perf_clock
from dlbench.compilers import CompileOptions, Compiler
from dlbench.errors import UsageError
from dlbench.registry import Registry
from dlbench.timers import Event, EventTimer, GraphTimer, HostTimer, Timer

# Built-in backends by module, imported on first use of the registry (cheap: the
# modules import their libraries lazily).
_BUILTIN_MODULES = ("dlbench.backends.numpy", "dlbench.backends.torch", "dlbench.backends.cupy",
                    "dlbench.backends.jax", "dlbench.backends.tensorflow")


@dataclass(frozen=True)
class DeviceOptions:
    """Settings every backend applies alike: on GPUs float32 on TF32 tensor cores (--tf32
    on) and the L2 flushed before every sample (--cache cold); how compiled
    implementations compile (--compile-mode, --compile-cache)."""

    tf32: bool = False
    cold_cache: bool = False
    compile: CompileOptions = CompileOptions()


class Backend:
    """Arrays and devices of one library. Subclasses set the class attributes."""

    name: ClassVar[str]
    library: ClassVar[str]  # import name, also the distribution looked up for a version
    # The distributions that may provide the library, when their names differ from it
    # (cupy-cuda12x, tensorflow-cpu…): the first one installed gives the version.
    distributions: ClassVar[tuple[str, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    # True when the worker sets process-wide state before or at import (environment,
    # thread pools): describe it in a worker of its own, never in the asking process.
    process_settings: ClassVar[bool] = False
    # GPU timing modes it supports: CUDA-graph replay, end to end with copies, cold L2.
    gpu_modes: ClassVar[frozenset[str]] = frozenset({"graph", "transfer", "cold"})
    # The library's compiler, when it has one: the implementation it builds, and from
    # which eager one (dlbench.compilers).
    compiler: ClassVar[Compiler | None] = None

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
            return False, f"{self.library} is not installed"
        return True, ""

    def version(self) -> str | None:
        for dist in self.distributions or (self.library,):
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                return importlib.metadata.version(dist)
        return None

    @property
    def is_cuda(self) -> bool:
        return self.device != "cpu"

    def available(self) -> tuple[bool, str]:
        """(usable here?, reason when not). CPU devices need only the library; a GPU is
        asked of the library in a child process (cuda.probe), never here."""
        if not self.is_cuda:
            return self.installed()
        return cuda.device_available(cuda.probe(self.name), self.device)

    # -- used inside a worker -----------------------------------------------------------
    @property
    def xp(self) -> Any:
        """The array-API namespace of this library: array_api_compat's wrapper of it (a
        library that implements the standard itself overrides this)."""
        return importlib.import_module(f"array_api_compat.{self.library}")

    def asarray(self, host: Any, dtype: str) -> Any:
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        """A NumPy copy, widened to float64 where NumPy lacks the dtype (bfloat16)."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work; nothing to wait for on a CPU."""

    def timer(self, clock: Clock = perf_clock, graph: bool = False) -> Timer:
        """Host time on a CPU; on a GPU, the library's events with host time beside them,
        after an L2 flush per sample when the cache is to be cold, around replays of a
        CUDA graph when `graph`."""
        if self.device == "cpu":
            return HostTimer(clock, self.synchronize)
        if graph:
            return GraphTimer(self.new_event, self.capture, clock, self.synchronize,
                              self._l2_flush())
        return EventTimer(self.new_event, clock, self.synchronize, self._l2_flush())

    def set_threads(self, threads: int | None) -> None:
        raise NotImplementedError

    # -- the compiler (cheap: never imports the library) --------------------------------
    def compiler_ready(self) -> tuple[bool, str]:
        """(can the compiled implementation run here?, reason when not): what the
        compiler needs beyond the library itself (Inductor a C++ compiler)."""
        return True, ""

    def compiler_summary(self) -> str:
        """The compiler in words for `list` and `env`: what it is, and whether it can
        run here; empty for a library without one."""
        if self.compiler is None:
            return ""
        ready, why = self.compiler_ready()
        what = f"{self.compiler.frontend} ({self.compiler.name})"
        return what if ready else f"{what} unavailable: {why}"

    def compile(self, kernel: Callable[[], Any], eager: str) -> Callable[[], Any]:
        """`kernel` under the library's compiler (a compilers.CompiledKernel), weighed
        against the `eager` implementation; a library compiling otherwise (JAX's pure
        functions, TensorFlow's tf.function) builds its kernels in workloads._compiled."""
        raise UsageError(f"{self.name} compiles no kernel of this form")

    def describe(self) -> dict[str, Any]:
        """Versions, BLAS and the threads in force, as seen from inside the worker."""
        return {"version": self.version()}

    # -- device hooks: what a CPU backend does is nothing; GPU backends override ---------
    options: DeviceOptions = DeviceOptions()
    _flush_buffer: Any = None

    def prepare_env(self, options: DeviceOptions) -> None:
        """Before the library is imported: environment it reads at import (CUPY_TF32)."""
        self.options = options

    def threads_before_import(self, threads: int | None) -> None:
        """Before the library is imported: thread settings it reads only at import or at
        its first op (XLA's thread pool); most libraries take them in set_threads."""

    def importing(self) -> contextlib.AbstractContextManager[object]:
        """Around the import: a library that writes notices to stderr while loading,
        which no environment variable silences (TensorFlow), keeps them instead."""
        return contextlib.nullcontext()

    def track(self, kernel: Callable[[], Any]) -> Callable[[], Any]:
        """The kernel as it is timed: a library whose calls return before their work is
        done, and which has no device-wide wait, keeps the last output to wait on."""
        return kernel

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

    # GPU timing: the library's event, its L2 size, and a way to overwrite a buffer.
    def new_event(self) -> Event:
        raise UsageError(f"{self.label} has no device events")

    def l2_bytes(self) -> int | None:
        return None

    def capture(self, fn: Callable[[], object], calls: int) -> Callable[[], object]:
        """Record `calls` calls of fn into a CUDA graph; return its replay."""
        raise UsageError(f"{self.label} has no CUDA graphs")

    def fill_zero(self, buffer: Any) -> None:
        raise UsageError(f"{self.label} has no device memory")

    def _l2_flush(self) -> Callable[[], None] | None:
        if not self.options.cold_cache:
            return None
        if self._flush_buffer is None:  # one buffer for the run, not one per case
            self._flush_buffer = self.device_empty(cuda.flush_bytes(self.l2_bytes()), "uint8")
        buffer, fill_zero = self._flush_buffer, self.fill_zero
        return lambda: fill_zero(buffer)  # writes every byte: L2 then holds only the buffer


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
        with backend.importing():
            return importlib.import_module(backend.library)
    except Exception as exc:  # ImportError, or a broken native extension
        raise RuntimeError(f"{backend.library} failed to import: {exc}") from exc
