"""JAX on the CPU and on CUDA GPUs: jax.numpy as the array-API namespace, XLA underneath.

What JAX reads only at start-up is set before the worker imports it: float64 on
(`JAX_ENABLE_X64`: JAX silently computes "float64" in float32 without it), the platform
(`JAX_PLATFORMS`: a CPU worker never touches a GPU), and XLA's CPU thread pool, which is
sized from the CPU affinity of the process when the pool is created, and switched off
for one thread by `XLA_FLAGS`. JAX dispatches asynchronously and has no device-wide
wait, so the backend keeps each call's output and blocks on it before a clock is read
(`block_until_ready`, JAX's own timing practice).

Its native kernels are pure functions of the case's arrays (`FunctionNative`), and its
"native" implementation is the workload's JAX function, or else the portable kernel,
traced once and compiled by XLA (`jax.jit`): the same computations, fused and scheduled
by the compiler. Compilation happens inside the first call, whose latency the worker
reports as the first-call time; it never lands in a sample.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from typing import Any

from dlbench.backends import Backend, cuda, register
from dlbench.clock import Clock, perf_clock
from dlbench.compilers import CompiledKernel, Compiler
from dlbench.errors import UsageError
from dlbench.kernels import FunctionNative, Kernel, Source
from dlbench.timers import HostTimer, Timer

# XLA's CPU client with one thread: no Eigen pool, one intra-op thread.
ONE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# What the worker sets or reads at start, recorded in `describe`.
JAX_ENV = ("JAX_ENABLE_X64", "JAX_PLATFORMS", "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE")
# The CUDA plugins a GPU jax is installed with (jax[cuda12] / jax[cuda13]).
CUDA_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin")


@register
class JaxBackend(Backend):
    name = "jax"
    library = "jax"
    distributions = ("jax", "jaxlib")  # the first installed gives the version
    env_vars = JAX_ENV
    devices = ("cpu", "cuda")
    dtypes = ("float32", "float64", "bfloat16")
    process_settings = True
    gpu_modes = frozenset()  # timed on the host around a synchronised batch only
    native_kind = FunctionNative
    derived = {"native": "portable"}
    # jax.jit of the portable kernel (or of a workload's own JAX function), weighed
    # against the portable kernel run op by op.
    compiler = Compiler(impl="native", eager="portable", frontend="jax.jit", name="XLA")

    _last: Any = None
    _affinity: int | None = None

    @classmethod
    def cuda_unavailable(cls) -> str | None:
        if not any(importlib.util.find_spec(p) for p in CUDA_PLUGINS):
            return super().cuda_unavailable() or (
                "jax has no CUDA plugin installed (a GPU needs pip install 'jax[cuda12]' "
                "or 'jax[cuda13]')")
        return super().cuda_unavailable()

    @classmethod
    def classify_cuda(cls, library: Any) -> dict[str, Any]:
        jax = library
        info: dict[str, Any] = {"version": jax.__version__}
        try:
            found = jax.devices("cuda")
        except RuntimeError as exc:  # "Unknown backend cuda" / no driver / no device
            return {"ok": False, "info": info, "reason": "jax sees no CUDA device: "
                    f"{cuda.first_line(exc)}{cuda.visible_note()}"}
        devices = [{"index": i, "name": d.device_kind,
                    "total_bytes": (d.memory_stats() or {}).get("bytes_limit")}
                   for i, d in enumerate(found)]
        return {"ok": True, "info": info, "devices": devices}

    @property
    def _jax(self) -> Any:
        import jax

        return jax

    @property
    def xp(self) -> Any:
        import jax.numpy

        return jax.numpy  # implements the array API standard itself

    # -- before import --------------------------------------------------------------------
    def prepare_env(self, options: Any) -> None:
        super().prepare_env(options)
        os.environ["JAX_ENABLE_X64"] = "1"
        os.environ["JAX_PLATFORMS"] = "cuda" if self.is_cuda else "cpu"
        # A GPU worker shares the device with the other libraries' workers: allocate as
        # needed instead of taking 75% of the memory at start.
        if self.is_cuda:
            os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"

    def threads_before_import(self, threads: int | None) -> None:
        if not threads:
            return
        allowed = sorted(os.sched_getaffinity(0))
        if threads < len(allowed):
            os.sched_setaffinity(0, allowed[:threads])
        self._affinity = min(threads, len(allowed))
        if threads == 1:
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = f"{flags} {ONE_THREAD_FLAGS}".strip()

    def set_threads(self, threads: int | None) -> None:
        """Nothing left to do after import: see threads_before_import."""

    def build(self, impl: str, workload: Source, arrays: Mapping[str, Any],
              p: Mapping[str, int]) -> Kernel:
        if impl != "native":
            return super().build(impl, workload, arrays, p)
        native = workload.natives.get(self.name)
        xp = self.xp
        # The workload's own JAX function (XLA's convolution), else the portable kernel.
        fn = (native.build(p) if native is not None
              else lambda named: workload.portable(xp, named, p)())
        return JaxJit(fn, arrays, workload.updates, self.compiler)

    # -- arrays and timing ------------------------------------------------------------------
    def _device(self) -> Any:
        jax = self._jax
        if not self.is_cuda:
            return jax.devices("cpu")[0]
        return jax.devices("cuda")[cuda.device_index(self.device)]

    def asarray(self, host: Any, dtype: str) -> Any:
        import jax.numpy as jnp

        return self._jax.device_put(jnp.asarray(host, dtype=getattr(jnp, dtype)),
                                    self._device())

    def to_numpy(self, x: Any) -> Any:
        import jax.numpy as jnp
        import numpy as np

        if x.dtype in (jnp.bfloat16, jnp.float16):
            x = x.astype(jnp.float32)
        return np.array(x, copy=True)

    def track(self, kernel: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            self._last = out = kernel()
            return out

        return call

    def synchronize(self) -> None:
        if self._last is not None:
            self._jax.block_until_ready(self._last)
            self._last = None

    def timer(self, clock: Clock = perf_clock, graph: bool = False) -> Timer:
        """Host time around the batch, after blocking on its last output, on every
        device: JAX exposes no CUDA events to time with."""
        if graph:
            raise UsageError("jax has no CUDA-graph capture of its own (XLA may use graphs "
                             "inside a compiled kernel)")
        return HostTimer(clock, self.synchronize)

    # -- math flags -------------------------------------------------------------------------
    def setup(self) -> None:
        jax = self._jax
        if self.is_cuda:
            # JAX's default float32 matmul precision on a GPU is TF32 on tensor cores;
            # follow --tf32 like every GPU backend.
            jax.config.update("jax_default_matmul_precision",
                              "tensorfloat32" if self.options.tf32 else "highest")

    def math_state(self) -> dict[str, Any]:
        config = self._jax.config
        return {"jax_enable_x64": bool(config.jax_enable_x64),
                "jax_default_matmul_precision": config.jax_default_matmul_precision}

    def float32_math(self) -> str:
        precision = self._jax.config.jax_default_matmul_precision
        return "tf32" if self.is_cuda and precision in (None, "tensorfloat32", "high",
                                                        "default") else "ieee"

    def memory_free(self) -> int | None:
        if not self.is_cuda:
            return None
        stats = self._device().memory_stats() or {}
        if "bytes_limit" not in stats:
            return None
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))

    def peak_memory(self) -> int | None:
        if not self.is_cuda:
            return None
        return (self._device().memory_stats() or {}).get("peak_bytes_in_use")

    def describe(self) -> dict[str, Any]:
        import jaxlib

        jax = self._jax
        device = self._device()
        return {
            "version": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "platform": device.platform,
            "device": str(device),
            "devices": [str(d) for d in jax.devices()],
            # XLA sizes its CPU pool from the affinity at start: this is what it saw.
            "threads": len(os.sched_getaffinity(0)),
            "x64": bool(jax.config.jax_enable_x64),
            "xla_flags": os.environ.get("XLA_FLAGS") or "none",
            "env": {k: os.environ[k] for k in self.env_vars if k in os.environ},
            "math": self.math_state(),
        }


def xla_flops(compiled: Any) -> float | None:
    """XLA's FLOP count of a compiled executable (None when it gives none)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list | tuple):  # older JAX: one dict per device program
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"])


class JaxJit(CompiledKernel):
    """A pure function of the case's arrays under jax.jit, its arrays passed as arguments
    (never baked in as constants XLA could fold), compiled on the first call; a training
    step's new weights are the next call's arguments. XLA's own FLOP count of the
    compiled executable is its note, `xla_flops`."""

    def __init__(self, fn: Callable[[Mapping[str, Any]], Any], arrays: Mapping[str, Any],
                 updates: tuple[str, ...], compiler: Compiler) -> None:
        import jax

        self.compiler = compiler
        self.names = tuple(arrays)
        self.state = dict(arrays)
        self.updates = updates

        def pure(*values: Any) -> Any:
            return fn(dict(zip(self.names, values, strict=True)))

        self.jitted = jax.jit(pure)
        self.executable: Any = None
        self.flops: float | None = None

    def __call__(self) -> Any:
        args = [self.state[name] for name in self.names]
        if self.executable is None:
            self.executable = self.jitted.lower(*args).compile()
            self.flops = xla_flops(self.executable)
        out = self.executable(*args)
        for name, value in zip(self.updates, out if self.updates else (), strict=False):
            self.state[name] = value
        return out

    def notes(self) -> Mapping[str, Any]:
        return {**super().notes(), "xla_flops": self.flops} if self.executable is not None \
            else {}
