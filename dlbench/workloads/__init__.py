"""Workloads: the same deep-learning kernels for every backend, in one registry.

Each workload defines its parameters, FLOP and byte counts, deterministic inputs
(seeded float64 NumPy, then moved to the backend), a *portable* kernel written once
against the Python array API, optional *native* kernels keyed by backend name, and a
check of the output against a float64 NumPy reference.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dlbench.errors import UsageError
from dlbench.registry import Registry

_BUILTIN_MODULES = ("dlbench.workloads.matmul", "dlbench.workloads.conv2d",
                    "dlbench.workloads.mlp", "dlbench.workloads.cnn",
                    "dlbench.workloads.bandwidth", "dlbench.workloads.transfer",
                    "dlbench.workloads.lstm", "dlbench.workloads.attention",
                    "dlbench.workloads.transformer", "dlbench.workloads.collectives",
                    "dlbench.workloads.ddp")

# Unit roundoff u = 2^-(mantissa bits + 1) of each dtype.
UNIT_ROUNDOFF = {
    "float64": 2.0**-53,
    "float32": 2.0**-24,
    "float16": 2.0**-11,
    "bfloat16": 2.0**-8,
}
# Precision products are accumulated in: BLAS libraries accumulate float16/bfloat16
# products in float32 (MKL, oneDNN, OpenBLAS's sbgemm).
ACCUMULATION_DTYPE = {"float64": "float64", "float32": "float32", "float16": "float32",
                      "bfloat16": "float32"}
DEFAULT_SEED = 20261125
# TF32 (float32 on tensor cores) keeps 10 mantissa bits: u = 2^-11.
TF32_UNIT_ROUNDOFF = 2.0**-11
# Elements scaled_check compares at a time (64 Ki float64: 512 KiB, within L2).
CHECK_CHUNK = 1 << 16


@dataclass(frozen=True)
class Param:
    name: str
    default: int
    doc: str
    minimum: int = 1


@dataclass(frozen=True)
class Check:
    """Outcome of comparing a kernel's output with the float64 reference."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    tol: float

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "max_abs_err": self.max_abs_err, "max_rel_err": self.max_rel_err,
                "tol": self.tol}


Kernel = Callable[[], Any]
# Named float64 arrays: what a workload's output is checked against.
Reference = dict[str, np.ndarray]


class Workload:
    """Base class; subclasses fill in the class attributes and the methods."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    # Parameters `--size N` sets (matmul: m, n, k all to N).
    size_params: ClassVar[tuple[str, ...]]
    flops_formula: ClassVar[str]
    natives: ClassVar[dict[str, str]] = {}  # backend name -> "module:function"
    # Devices (cpu, cuda) on which the natives are measured; None: on every device; a
    # dict: per backend name (a backend it does not name: every device).
    native_devices: ClassVar[tuple[str, ...] | Mapping[str, tuple[str, ...]] | None] = None
    # The arrays a call updates (a training step's weights), in the order the call
    # returns their new values: a library with immutable arrays (JAX) gets them back as
    # new arrays, and the next call must start from those.
    updates: ClassVar[tuple[str, ...]] = ()
    # Runs across ranks (torch.distributed, dlbench.distributed), never in a worker.
    distributed: ClassVar[bool] = False
    # Whether a row's workers share one reference rather than each computing its own:
    # False where computing it is cheaper than hashing the inputs to find it.
    shared_reference: ClassVar[bool] = True

    # -- parameters -------------------------------------------------------------------
    def resolve(self, size: int | None = None, **overrides: int) -> dict[str, int]:
        """Full parameter dict from defaults, the primary size and explicit overrides."""
        values = {p.name: p.default for p in self.params}
        if size is not None:
            values.update({name: size for name in self.size_params})
        for key, value in overrides.items():
            if key not in values:
                raise UsageError(f"{self.name}: unknown parameter {key!r} "
                                 f"(parameters: {', '.join(values)})")
            values[key] = value
        for p in self.params:
            v = values[p.name]
            if not isinstance(v, int) or isinstance(v, bool) or v < p.minimum:
                raise UsageError(f"{self.name}: {p.name} must be an integer >= {p.minimum}, "
                                 f"got {v!r}")
        self.validate(values)
        return values

    def validate(self, p: Mapping[str, int]) -> None:
        """Cross-parameter rules; raise UsageError naming the rule."""

    # -- cost model --------------------------------------------------------------------
    def flops(self, p: Mapping[str, int]) -> float:
        raise NotImplementedError

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        """Bytes that must move to or from memory at least once per call."""
        raise NotImplementedError

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        """Peak memory one worker needs for a case: device arrays plus the
        float64 reference and its scratch."""
        raise NotImplementedError

    # -- data and kernels --------------------------------------------------------------
    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def kernel(self, impl: str, backend: Any, arrays: Mapping[str, Any],
               p: Mapping[str, int]) -> Kernel:
        if impl not in self.impls_for(backend.name):
            raise UsageError(f"{self.name} has no {impl!r} implementation for {backend.name}")
        derived = DERIVED.get((backend.name, impl))
        if derived is not None:
            return _load(derived[1])(self, backend, arrays, p)
        if impl == "portable":
            return self.portable(backend.xp, arrays, p)
        return _load(self.natives[backend.name])(backend, arrays, p)

    def impls_for(self, backend_name: str, device: str | None = None) -> tuple[str, ...]:
        """The implementations a backend offers (on `device`, when given): the portable
        kernel where the array API reaches the library, a native one where the workload
        has one, and those derived from either (JAX's jit, TensorFlow's XLA)."""
        devices = self.native_devices
        if isinstance(devices, Mapping):
            devices = devices.get(backend_name)
        has_native = backend_name in self.natives
        native = has_native and (
            device is None or devices is None or device.split(":")[0] in devices)
        offered = [] if backend_name in NATIVE_ONLY else ["portable"]
        offered += ["native"] if native else []
        # A compiler builds from the native kernel even where that is not measured on
        # its own (torch's matmul on a CPU is the portable kernel's very call).
        offered += [impl for (name, impl), (base, _) in DERIVED.items()
                    if name == backend_name and impl not in offered
                    and (base in offered or (base == "native" and has_native))]
        return tuple(offered)

    def supports(self, backend: Any) -> tuple[bool, str]:
        """(can this workload run on this backend and device?, reason when not)."""
        return True, ""

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        raise NotImplementedError

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        """The float64 arrays an output is compared with (the exact result and the scale
        of its rounding errors), computed from `inputs`: the backend's own (already
        rounded) inputs widened to float64. It depends on nothing else, so backends that
        rounded their inputs alike share one (dlbench.references)."""
        raise NotImplementedError

    def compare(self, output: Any, reference: Reference, p: Mapping[str, int], dtype: str,
                float32_math: str = "ieee") -> Check:
        """Compare `output` with `reference`. `float32_math` is how the backend computed
        float32 products ("ieee", or "tf32" on tensor cores): the tolerance follows the
        precision actually used."""
        raise NotImplementedError

    def check(self, output: Any, inputs: Mapping[str, np.ndarray], p: Mapping[str, int],
              dtype: str, float32_math: str = "ieee") -> Check:
        """Compare `output` with the float64 reference computed from `inputs`."""
        return self.compare(output, self.reference(inputs, p), p, dtype, float32_math)


# Libraries the array API does not reach: array-api-compat has no TensorFlow namespace
# (its pull request is still open), so only native kernels run there.
NATIVE_ONLY = frozenset({"tensorflow"})
# Implementations built from another one of the same backend by the library's compiler:
# (backend, impl) -> (the impl it is built from, "module:function" building it). JAX's
# native kernel is the portable one traced once and compiled by XLA (jax.jit);
# TensorFlow's "xla" is its eager native kernel under tf.function(jit_compile=True);
# torch's "compiled" its native kernel under torch.compile.
DERIVED: dict[tuple[str, str], tuple[str, str]] = {
    ("jax", "native"): ("portable", "dlbench.workloads._compiled:jax_jit"),
    ("tensorflow", "native"): ("native", "dlbench.workloads._compiled:tf_eager"),
    ("tensorflow", "xla"): ("native", "dlbench.workloads._compiled:tf_xla"),
    ("torch", "compiled"): ("native", "dlbench.workloads._compiled:torch_compiled"),
}


def _load(target: str) -> Callable[..., Any]:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


_REGISTRY: Registry[Workload] = Registry("workload", _BUILTIN_MODULES)
register = _REGISTRY.register
names = _REGISTRY.names


def get(name: str) -> Workload:
    return _REGISTRY.get(name)()


def itemsize(dtype: str) -> int:
    return {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}[dtype]


def scaled_check(output: np.ndarray, reference: np.ndarray, scale: np.ndarray,
                 tol: float) -> Check:
    """Componentwise error relative to `scale` (e.g. |A|·|B| for a product).

    Errors of floating-point sums are bounded by a multiple of the sum of magnitudes,
    not of the result, which can be near zero by cancellation; dividing by the
    magnitudes keeps the check meaningful for every element.
    """
    if output.shape != reference.shape:
        return Check(False, math.inf, math.inf, tol)
    out, ref, magnitude = (np.ravel(a) for a in (output, reference, scale))
    tiny = np.finfo(np.float64).tiny
    max_abs = max_rel = 0.0
    # A chunk at a time: the float64 temporaries stay in cache rather than costing page
    # faults on fresh arrays the size of the output (2^24 float32 against float64:
    # 0.23–1.2 s whole, 0.08 s in chunks).
    for start in range(0, out.size, CHECK_CHUNK):
        part = slice(start, start + CHECK_CHUNK)
        got = out[part].astype(np.float64)
        if not np.all(np.isfinite(got)):
            return Check(False, math.inf, math.inf, tol)
        diff = np.abs(got - ref[part])
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float(np.max(diff / np.maximum(magnitude[part], tiny))))
    return Check(ok=max_rel <= tol, max_abs_err=max_abs, max_rel_err=max_rel, tol=tol)


def dot_tolerance(dtype: str, length: int, float32_math: str = "ieee") -> float:
    """Allowed componentwise error of dot products of `length` terms in `dtype`.

    Rounding the result to the output dtype costs u_out; accumulating `length`
    products costs about sqrt(length)·u_acc for random-sign data (the deterministic
    bound is length·u_acc, rarely approached by blocked BLAS). A factor 2 of slack on
    the accumulation term keeps honest kernels well inside the bound, while a
    lower-precision accumulation (TF32 instead of float32: u 2^-11 vs 2^-24) or a
    wrong kernel (errors of order 1) fails it.
    """
    u_out = UNIT_ROUNDOFF[dtype]
    u_acc = UNIT_ROUNDOFF[ACCUMULATION_DTYPE[dtype]]
    # With TF32 on, float32 inputs are rounded to TF32 on tensor cores: the products'
    # error is TF32's, so the accumulation term uses its unit roundoff.
    if dtype == "float32" and float32_math == "tf32":
        u_acc = TF32_UNIT_ROUNDOFF
    return u_out + 2.0 * math.sqrt(length) * u_acc
