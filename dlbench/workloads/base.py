"""The Workload base class: what every workload defines, and what it may declare.

A workload defines its parameters, FLOP and byte counts, deterministic inputs (seeded
float64 NumPy, then moved to the backend), a *portable* kernel written once against
the Python array API, optional *native* kernels registered per library
(`Workload.native`, dlbench.kernels), and a float64 reference its outputs are checked
against. What else it may be is declared here, with the default every workload gets
unless it says otherwise; nothing asks a workload for an attribute it might lack.

========================  ==============================================================
declared                  meaning (default)
========================  ==============================================================
``natives``               its natives by backend name, filled by ``@Workload.native`` ({})
``updates``               arrays a call updates, in the order it returns them (())
``verified``              has a float64 reference (True); False: results say unverified
``shared_reference``      the row's workers share one reference (True)
``device_kernels``        --include-transfer/--graph wrap its GPU kernels (True)
``distributed``           runs across ranks, never in a worker (False)
``training``              the data one training step trains on (None: not a step)
``measures_bandwidth``    its GB/s is the memory's: the roofline's roof (False)
``device_bytes``          device memory a case needs (None: twice its inputs)
``case_flops``            FLOPs of one call of an implementation (``flops``)
``supports``              whether it runs on a backend (yes)
========================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dlbench import backends
from dlbench.errors import UsageError
from dlbench.kernels import Kernel, Native

DEFAULT_SEED = 20261125
# Named float64 arrays: what a workload's output is checked against.
Reference = dict[str, np.ndarray]


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


@dataclass(frozen=True)
class TrainingData:
    """What one training step trains on, for the epoch extrapolation: the unit its data
    is counted in (samples, tokens, audio-seconds), how many units one step takes, from
    the parameters, and dataset sizes in that unit."""

    unit: str
    per_step: Callable[[Mapping[str, Any]], float]
    datasets: tuple[tuple[str, int], ...]


SAMPLES = "samples"
# What an image model's step trains on: `batch` samples. Dataset *sizes*; the names only
# say which well-known dataset has that many samples.
IMAGES = TrainingData(SAMPLES, lambda p: p["batch"], (
    ("60,000 samples (MNIST-sized)", 60_000),
    ("1.28M samples (ImageNet-1k-sized)", 1_281_167)))


class Workload:
    """Base class; subclasses fill in the class attributes and the methods."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    # Parameters `--size N` sets (matmul: m, n, k all to N).
    size_params: ClassVar[tuple[str, ...]]
    flops_formula: ClassVar[str]
    natives: ClassVar[Mapping[str, Native]] = {}
    updates: ClassVar[tuple[str, ...]] = ()
    verified: ClassVar[bool] = True
    # False where computing the reference is cheaper than hashing the inputs to find it.
    shared_reference: ClassVar[bool] = True
    device_kernels: ClassVar[bool] = True
    distributed: ClassVar[bool] = False
    training: ClassVar[TrainingData | None] = None
    measures_bandwidth: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.natives = dict(cls.natives)  # a subclass registers natives of its own

    @classmethod
    def native(cls, backend: type[backends.Backend], devices: tuple[str, ...] | None = None
               ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as this workload's native kernel on `backend`,
        measured on `devices` (None: all of them). Its signature is checked against the
        kind of native the backend takes (dlbench.kernels) now, at import."""
        def register(build: Callable[..., Any]) -> Callable[..., Any]:
            if backend.name in cls.__dict__["natives"]:
                raise TypeError(f"{cls.__name__} already has a native for {backend.name}")
            cls.natives[backend.name] = backend.native_kind(build, devices)  # type: ignore[index]
            return build

        return register

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

    def case_flops(self, impl: str, p: Mapping[str, int]) -> float:
        """FLOPs of one call of implementation `impl` (where implementations differ in
        what they compute, as a data-parallel step of one model or another)."""
        return self.flops(p)

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        """Bytes that must move to or from memory at least once per call."""
        raise NotImplementedError

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        """Peak memory one worker needs for a case: device arrays plus the
        float64 reference and its scratch."""
        raise NotImplementedError

    def device_bytes(self, p: Mapping[str, int], itemsize: int) -> float | None:
        """Device memory a case needs, where the workload knows better than the default
        (its inputs twice over: inputs, and as much again for outputs and scratch)."""
        return None

    # -- data and kernels --------------------------------------------------------------
    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def kernel(self, impl: str, backend: backends.Backend, arrays: Mapping[str, Any],
               p: Mapping[str, int]) -> Kernel:
        if impl not in self._offered(type(backend)):
            raise UsageError(f"{self.name} has no {impl!r} implementation for {backend.name}")
        return backend.build(impl, self, arrays, p)

    def impls_for(self, backend_name: str, device: str | None = None) -> tuple[str, ...]:
        """The implementations a backend offers (on `device`, when given): the portable
        kernel where the array API reaches the library, a native one where the workload
        has one, and those the backend derives from either (a compiler's)."""
        return self._offered(backends.backend_class(backend_name), device)

    def _offered(self, backend: type[backends.Backend], device: str | None = None
                 ) -> tuple[str, ...]:
        native = self.natives.get(backend.name)
        return backend.implementations(native is not None and native.offered_on(device),
                                       has_native=native is not None)

    def supports(self, backend: backends.Backend) -> tuple[bool, str]:
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


def itemsize(dtype: str) -> int:
    return {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}[dtype]
