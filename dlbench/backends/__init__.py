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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from dlbench.backends import cuda
from dlbench.clock import Clock, perf_clock
from dlbench.compilers import CompileOptions, Compiler
from dlbench.errors import UsageError
from dlbench.kernels import Kernel, KernelNative, Native, Source
from dlbench.registry import Registry
from dlbench.timers import Event, EventTimer, GraphTimer, HostTimer, Timer

# Size of the matrix product a worker wakes its library with: big enough to start its
# thread pool and JIT/dispatch caches, small enough to take milliseconds.
WARM_UP_N = 256


@dataclass(frozen=True)
class DeviceOptions:
    """Settings every backend applies alike: on GPUs float32 on TF32 tensor cores (--tf32
    on) and the L2 flushed before every sample (--cache cold); how compiled
    implementations compile (--compile-mode, --compile-cache)."""

    tf32: bool = False
    cold_cache: bool = False
    compile: CompileOptions = CompileOptions()


class Backend:
    """Arrays and devices of one library: the one place that says what a backend writes.

    Every backend sets ``name``, ``library``, ``devices`` and ``dtypes`` and writes two
    methods: ``asarray`` (a float64 NumPy array onto the device, in a dtype) and
    ``to_numpy`` (back, as a NumPy copy). The rest have defaults; a backend writes those
    its library has:

    - start-up: ``prepare_env`` and ``threads_before_import`` (what the library reads at
      import), ``importing`` (around the import), ``set_threads``, ``setup`` (after
      import: device, math flags, handles), ``describe`` (what a result records);
    - timing: ``synchronize`` (wait for queued work), ``track`` (a library without a
      device-wide wait keeps each call's output to wait on), ``math_state`` and
      ``float32_math``;
    - kernels (dlbench.kernels): ``portable`` (False where the array API does not reach
      the library), ``native_kind``, ``derived`` and ``build`` for the implementations a
      compiler derives, ``compiler`` (which of them is the library's compiled one,
      dlbench.compilers) and ``compiler_ready``, ``warm_up_kernel``, ``table_note``;
    - a GPU: ``cuda_unavailable`` and ``classify_cuda`` (asked in a child process),
      ``new_event`` (device time), and for the GPU modes it lists in ``gpu_modes``:
      ``capture`` (graph), ``host_empty``/``device_empty``/``copy`` (transfer),
      ``l2_bytes``/``fill_zero`` (cold); ``memory_free``, ``peak_memory``,
      ``reset_peak_memory`` and ``free_cached`` where it has a caching allocator.

    Derived for every backend: ``label``, ``is_cuda``, ``installed``, ``version``,
    ``available``, ``xp`` (array_api_compat's namespace of ``library``), ``timer``
    (host time on a CPU, events on a GPU) and ``implementations``.
    """

    name: ClassVar[str]
    library: ClassVar[str]  # import name, also the distribution looked up for a version
    # The distributions that may provide the library, when their names differ from it
    # (cupy-cuda12x, tensorflow-cpu…): the first one installed gives the version.
    distributions: ClassVar[tuple[str, ...]] = ()
    # Environment variables that change what or how fast the library computes: recorded
    # with every run (and in `describe`), never set by dlbench.
    env_vars: ClassVar[tuple[str, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    # True when the worker sets process-wide state before or at import (environment,
    # thread pools): describe it in a worker of its own, never in the asking process.
    process_settings: ClassVar[bool] = False
    # GPU timing modes it supports: CUDA-graph replay, end to end with copies, cold L2.
    gpu_modes: ClassVar[frozenset[str]] = frozenset({"graph", "transfer", "cold"})
    # How its kernels come (dlbench.kernels): whether the array API reaches the library
    # (the portable kernels run on it), the kind of native kernel it takes, and the
    # implementations it derives from another one: impl -> the impl it is built from.
    portable: ClassVar[bool] = True
    # Said under every table that shows it (why it lacks an implementation others have).
    table_note: ClassVar[str | None] = None
    # How to install it, said when a run names it and it is not installed.
    install_hint: ClassVar[str | None] = None
    native_kind: ClassVar[type[Native]] = KernelNative
    derived: ClassVar[Mapping[str, str]] = {}
    # The library's compiler, when it has one: which derived implementation it builds,
    # from which eager one, and what it is called (dlbench.compilers).
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
        return cuda.device_available(cuda.probe(type(self), gpu_classes()), self.device)

    # -- CUDA, asked in the probe's child (dlbench.backends.probe), never here ------------
    @classmethod
    def cuda_unavailable(cls) -> str | None:
        """Why the library has no GPU here, where its installed files alone tell (a
        CPU-only build): then no child is started to ask it."""
        if importlib.util.find_spec(cls.library) is None:
            return f"{cls.library} is not installed"
        return None

    @classmethod
    def classify_cuda(cls, library: Any) -> dict[str, Any]:
        """In the probe's child, given the imported library: {"ok": bool, "reason": why
        not, "devices": [{"index", "name", "total_bytes"}], "info": {...}}."""
        return {"ok": False, "reason": f"{cls.name} has no way to ask for CUDA devices"}

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

    # -- kernels ------------------------------------------------------------------------
    @classmethod
    def implementations(cls, native: bool, has_native: bool = False) -> tuple[str, ...]:
        """What it offers for a workload, given whether the workload has a native kernel
        for it measured on the device in question (`native`), or at all (`has_native`):
        portable, native, and those derived. A compiler builds from the native kernel
        even where that is not measured on its own (torch's matmul on a CPU is the
        portable kernel's very call)."""
        offered = ["portable"] if cls.portable else []
        offered += ["native"] if native else []
        offered += [impl for impl, base in cls.derived.items() if impl not in offered
                    and (base in offered or (base == "native" and has_native))]
        return tuple(offered)

    def build(self, impl: str, workload: Source, arrays: Mapping[str, Any],
              p: Mapping[str, int]) -> Kernel:
        """The kernel of implementation `impl` of `workload` on the case's arrays; a
        backend with derived implementations builds those itself."""
        if impl == "portable":
            return workload.portable(self.xp, arrays, p)
        if impl == "native":
            return workload.natives[self.name].build(self, arrays, p)
        raise UsageError(f"{self.name} has no {impl!r} implementation")

    def compiler_ready(self) -> tuple[bool, str]:
        """(can the compiled implementation run here?, reason when not): what the
        compiler needs beyond the library itself (Inductor a C++ compiler). Cheap: never
        imports the library."""
        return True, ""

    def compiler_summary(self) -> str:
        """The compiler in words for `list` and `env`: what it is, and whether it can
        run here; empty for a library without one."""
        if self.compiler is None:
            return ""
        ready, why = self.compiler_ready()
        what = f"{self.compiler.frontend} ({self.compiler.name})"
        return what if ready else f"{what} unavailable: {why}"

    def warm_up_kernel(self) -> Kernel:
        """A small matrix product (256²) in the library's own namespace: run before any
        sample anywhere, it starts thread pools and dispatch caches."""
        import numpy as np

        a = self.asarray(np.ones((WARM_UP_N, WARM_UP_N)), "float32")
        matmul = self.xp.matmul
        return lambda: matmul(a, a)

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


def contract_problem(cls: type) -> str | None:
    """Why a class cannot serve as a backend (checked as it registers), or None."""
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        return "is not a dlbench.backends.Backend"
    for attribute in ("name", "library"):
        if attribute not in dir(cls):
            return f"declares no {attribute}"
    missing = [name for name, own in (("asarray", cls.asarray), ("to_numpy", cls.to_numpy))
               if own is vars(Backend)[name]]
    if missing:
        return f"does not write {', '.join(missing)}"
    if not issubclass(cls.native_kind, Native):
        return "native_kind is not one of dlbench.kernels' kinds of native"
    if cls.compiler is not None and cls.derived.get(cls.compiler.impl) != cls.compiler.eager:
        return (f"its compiler builds {cls.compiler.impl!r} from {cls.compiler.eager!r}, "
                "which its derived implementations do not say")
    return None


_REGISTRY: Registry[Backend] = Registry(
    "backend", __name__, helpers=("cuda", "probe", "torch_compile"),
    entry_points="dlbench.backends",
    check=contract_problem)
register = _REGISTRY.register
names = _REGISTRY.names
backend_class = _REGISTRY.get
find = _REGISTRY.find
origin = _REGISTRY.origin
notes = _REGISTRY.notes


def get(name: str, device: str = "cpu") -> Backend:
    return backend_class(name)(device)


def gpu_classes() -> list[type[Backend]]:
    """Every registered backend with a CUDA device."""
    return [cls for cls in map(backend_class, names()) if "cuda" in cls.devices]


def probe(name: str) -> cuda.Probe:
    """What backend `name`'s library says about CUDA here (asked once per process)."""
    return cuda.probe(backend_class(name), gpu_classes())


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
