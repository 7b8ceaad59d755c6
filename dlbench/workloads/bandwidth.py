"""bandwidth: z = a·x + y over long vectors — memory-bound, to set beside compute-bound GEMM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads.base import DEFAULT_SEED, Check, Param, Reference, Workload
from dlbench.workloads.tolerances import UNIT_ROUNDOFF, scaled_check

# Chosen so a·x is not exactly representable: a wrong scale factor would show.
ALPHA = 1.7


@register
class Bandwidth(Workload):
    name = "bandwidth"
    description = "z = a·x + y on long vectors (memory-bound; read in GB/s)"
    params = (Param("elements", 1 << 24, "vector length (2^24 float32 = 64 MiB per vector)"),)
    size_params = ("elements",)
    flops_formula = "2·elements"
    # Its reference (a·x + y) costs less than hashing the inputs to find a shared one.
    shared_reference = False
    measures_bandwidth = True  # the roofline's bandwidth roof

    def flops(self, p: Mapping[str, int]) -> float:
        return 2.0 * p["elements"]

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        # Reads x and y, writes z; a library that allocates z afresh may also pay for
        # first-touch page faults, which is part of what a user of `a*x + y` gets.
        return 3.0 * p["elements"] * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return float(p["elements"] * (4 * itemsize + 6 * 8))

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        # Uniform rather than normal values: the check is relative to |a·x| + |y| either
        # way, and 2^24 normal draws took 0.26–0.33 s against 0.07–0.17 s, in every worker.
        rng = np.random.default_rng(seed)
        n = p["elements"]
        return {"x": rng.uniform(-1.0, 1.0, n), "y": rng.uniform(-1.0, 1.0, n)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        x, y = arrays["x"], arrays["y"]
        return lambda: ALPHA * x + y

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        x, y = inputs["x"], inputs["y"]
        return {"z": ALPHA * x + y, "scale": ALPHA * np.abs(x) + np.abs(y)}

    def compare(self, output: np.ndarray, reference: Reference, p: Mapping[str, int],
                dtype: str, float32_math: str = "ieee") -> Check:
        # Two roundings at most (the product, then the sum) in the output dtype, plus the
        # rounding of a itself to that dtype.
        return scaled_check(output, reference["z"], reference["scale"],
                            4.0 * UNIT_ROUNDOFF[dtype])


@Bandwidth.native(TorchBackend)
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """torch.add(y, x, alpha=a, out=z) into an output allocated once: one fused pass that
    reads x and y and writes z, exactly the traffic `bytes` counts. The portable
    `a·x + y` allocates a temporary and the result on every call; measured here (2^24
    float32) that ran at 6 GB/s, mostly first-touch page faults, against 31 GB/s for this."""
    import torch

    x, y = arrays["x"], arrays["y"]
    z = torch.empty_like(x)
    return lambda: torch.add(y, x, alpha=ALPHA, out=z)


@Bandwidth.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Any:
    """a·x + y with TensorFlow ops: two passes eagerly, one fused pass under XLA."""
    x, y = arrays["x"], arrays["y"]
    return Step(lambda: ALPHA * x + y)
