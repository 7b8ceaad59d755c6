"""fused_mlp_layer: y = gelu(x·W + b), the dense layer of a transformer's MLP block with
its bias and activation fused — the kind of kernel a team writes and wants to gate in CI.

GELU is the tanh approximation (GPT-2's, torch's approximate="tanh"):
gelu(z) = ½·z·(1 + tanh(c·(z + k·z³))), c = √(2/π), k = 0.044715.
FLOPs count the product, 2·batch·features·hidden; the bias and the activation (about ten
operations per output) are left out, as is customary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.torch import TorchBackend
from dlbench.kernels import Kernel
from dlbench.workloads import (
    DEFAULT_SEED,
    Check,
    Param,
    Reference,
    Workload,
    dot_tolerance,
    register,
    scaled_check,
)
from dlbench_example.numexpr_backend import NumexprBackend

C = math.sqrt(2.0 / math.pi)
K = 0.044715
# The product's error, then the activation's few roundings and its slope (at most 1.13).
ACTIVATION_FACTOR = 4.0


@register
class FusedMlpLayer(Workload):
    name = "fused_mlp_layer"
    description = "dense layer with bias and tanh-GELU fused: y = gelu(x·W + b)"
    params = (
        Param("batch", 256, "rows of x (tokens or samples)"),
        Param("features", 768, "input features (BERT-base's width)"),
        Param("hidden", 3072, "output features (4× the width, as in BERT's MLP)"),
    )
    size_params = ("batch",)
    flops_formula = "2·batch·features·hidden"

    def flops(self, p: Mapping[str, int]) -> float:
        return 2.0 * p["batch"] * p["features"] * p["hidden"]

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, f, h = p["batch"], p["features"], p["hidden"]
        return float(b * f + f * h + h + b * h) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, f, h = p["batch"], p["features"], p["hidden"]
        # device: inputs, the product and the output; reference: float64 inputs, their
        # magnitudes, the product, its scale and the output
        return float((b * f + f * h + 2 * b * h) * itemsize + (2 * (b * f + f * h) + 4 * b * h) * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        f, h = p["features"], p["hidden"]
        return {"x": rng.standard_normal((p["batch"], f)),
                "w": rng.standard_normal((f, h)) / np.sqrt(f),
                "b": rng.standard_normal(h) * 0.1}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        x, w, b = arrays["x"], arrays["w"], arrays["b"]

        def layer() -> Any:
            z = xp.matmul(x, w) + b
            return 0.5 * z * (1.0 + xp.tanh(C * (z + K * z * z * z)))

        return layer

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        x, w, b = inputs["x"], inputs["w"], inputs["b"]
        z = x @ w + b
        t = np.tanh(C * (z + K * z**3))
        y = 0.5 * z * (1.0 + t)
        slope = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * C * (1.0 + 3.0 * K * z * z)
        # An output's error: the product's, carried through the activation's slope, and
        # the activation's own roundings, which scale with its operands' magnitudes, not
        # its result (1 + tanh cancels where z is far below 0, leaving y near 0).
        scale = (np.abs(slope) * (np.abs(x) @ np.abs(w) + np.abs(b))
                 + 0.5 * np.abs(z) * (1.0 + np.abs(t)))
        return {"y": y, "scale": scale}

    def compare(self, output: Any, reference: Reference, p: Mapping[str, int], dtype: str,
                float32_math: str = "ieee") -> Check:
        tol = ACTIVATION_FACTOR * dot_tolerance(dtype, p["features"], float32_math)
        return scaled_check(np.asarray(output), reference["y"], reference["scale"], tol)


@FusedMlpLayer.native(TorchBackend)
def torch_layer(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """torch.nn.functional.linear and gelu(approximate="tanh"): one GEMM with the bias
    (addmm), one elementwise kernel."""
    import torch.nn.functional as F

    x, b = arrays["x"], arrays["b"]
    weight = arrays["w"].t().contiguous()  # linear's (out, in) layout, made once
    return lambda: F.gelu(F.linear(x, weight, b), approximate="tanh")


@FusedMlpLayer.native(NumexprBackend)
def numexpr_layer(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """NumPy's GEMM into a buffer made once, then bias and GELU in one numexpr pass."""
    import numexpr

    x, w, b = arrays["x"], arrays["w"], arrays["b"]
    z = np.empty((p["batch"], p["hidden"]), dtype=x.dtype)
    y = np.empty_like(z)
    kind = x.dtype.type
    names = {"z": z, "b": b, "c": kind(C), "k": kind(K), "half": kind(0.5), "one": kind(1.0)}
    expression = "half * (z + b) * (one + tanh(c * ((z + b) + k * (z + b) ** 3)))"

    def layer() -> Any:
        np.matmul(x, w, out=z)
        return numexpr.evaluate(expression, local_dict=names, out=y)

    return layer
