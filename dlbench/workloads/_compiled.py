"""Kernels built by a library's compiler from another implementation of the same case.

JAX's native kernel is the portable kernel traced once as a pure function of the case's
arrays and compiled by XLA (`jax.jit`): the same computations, fused and scheduled by
the compiler. TensorFlow's native kernels run eagerly ("native") and under
`tf.function(jit_compile=True)` ("xla"). torch's "compiled" is its native kernel under
torch.compile (dlbench.backends.torch_compile). Compilation happens inside the first
call, whose latency the worker reports as the first-call time; it never lands in a
sample. Each is a compilers.CompiledKernel, whose compiler record goes with the result.

A kernel may carry two attributes the worker reads after its first call: `extra`, a
dict stored in the result's "extra" object (XLA's own FLOP count, `xla_flops`, from the
compiled executable's cost analysis), and `canonical`, a function turning its output
into the layout the workload's reference checks (TensorFlow's NHWC convolutions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dlbench.compilers import CompiledKernel
from dlbench.workloads import Kernel, _load


def xla_flops(compiled: Any) -> float | None:
    """XLA's FLOP count of a compiled executable (None when it gives none)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list | tuple):  # older JAX: one dict per device program
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"])


class JaxJit(CompiledKernel):
    """The portable kernel under jax.jit, its arrays passed as arguments (never baked in
    as constants XLA could fold), compiled on the first call; a training step's new
    weights are the next call's arguments."""

    def __init__(self, workload: Any, backend: Any, arrays: Mapping[str, Any],
                 p: Mapping[str, int]) -> None:
        import jax

        self.compiler = backend.compiler
        self.names = tuple(arrays)
        self.state = dict(arrays)
        self.updates = workload.updates
        xp = backend.xp
        native = workload.natives.get("jax")
        # A workload's own JAX function (XLA's convolution), else the portable kernel.
        fn = (_load(native)(p) if native is not None
              else lambda named: workload.portable(xp, named, p)())

        def pure(*values: Any) -> Any:
            return fn(dict(zip(self.names, values, strict=True)))

        self.jitted = jax.jit(pure)
        self.executable: Any = None
        self.extra: dict[str, Any] = {}

    def __call__(self) -> Any:
        args = [self.state[name] for name in self.names]
        if self.executable is None:
            self.executable = self.jitted.lower(*args).compile()
            self.extra = {"xla_flops": xla_flops(self.executable)}
        out = self.executable(*args)
        for name, value in zip(self.updates, out if self.updates else (), strict=False):
            self.state[name] = value
        return out


def jax_jit(workload: Any, backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
            ) -> Kernel:
    return JaxJit(workload, backend, arrays, p)


@dataclass(frozen=True)
class TfStep:
    """What a TensorFlow native builds: `body` runs the computation and returns its
    output (or, for a training step, updates `state`, its tf.Variables, and returns
    nothing); `canonical` turns the output or the state into the workload's layout."""

    body: Callable[[], Any]
    state: tuple[Any, ...] | None = None
    canonical: Callable[[Any], Any] | None = None


class TfKernel:
    """A TfStep called eagerly."""

    def __init__(self, step: TfStep, body: Callable[[], Any]) -> None:
        self.body, self.state = body, step.state
        if step.canonical is not None:
            self.canonical = step.canonical

    def __call__(self) -> Any:
        out = self.body()
        return out if self.state is None else self.state


class TfXla(TfKernel, CompiledKernel):
    """A TfStep's body under tf.function(jit_compile=True), traced and compiled by XLA on
    the first call; a later trace (a retrace) is a recompilation."""

    def __init__(self, step: TfStep, backend: Any) -> None:
        import tensorflow as tf

        self.compiler = backend.compiler
        self.function = tf.function(step.body, jit_compile=True)
        super().__init__(step, self.function)

    def compilations(self) -> int:
        return int(self.function.experimental_get_tracing_count())


def _tf_step(workload: Any, backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
             ) -> TfStep:
    return _load(workload.natives["tensorflow"])(backend, arrays, p)


def tf_eager(workload: Any, backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
             ) -> Kernel:
    step = _tf_step(workload, backend, arrays, p)
    return TfKernel(step, step.body)


def tf_xla(workload: Any, backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
           ) -> Kernel:
    # No xla_flops here: TensorFlow 2.21 has no cost analysis of its own. Its HLO
    # (experimental_get_compiler_ir) can be costed only by jaxlib's private
    # `hlo_module_cost_analysis`, which would load a second XLA runtime into this worker.
    return TfXla(_tf_step(workload, backend, arrays, p), backend)


def torch_compiled(workload: Any, backend: Any, arrays: Mapping[str, Any],
                   p: Mapping[str, int]) -> Kernel:
    """torch's native kernel under torch.compile (the torch backend's particulars). It is
    weighed against the native column where that is measured, else the portable one."""
    native = _load(workload.natives["torch"])(backend, arrays, p)
    eager = "native" if "native" in workload.impls_for(backend.name, backend.device) \
        else "portable"
    return backend.compile(native, eager)
