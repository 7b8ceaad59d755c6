"""matmul: C = A·B with A (m×k) and B (k×n) — the GEMM at the heart of deep learning."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.cupy import CupyBackend
from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads.base import DEFAULT_SEED, Check, Param, Reference, Workload
from dlbench.workloads.tolerances import dot_tolerance, scaled_check


@register
class Matmul(Workload):
    name = "matmul"
    description = "dense matrix product C = A·B (GEMM), compute-bound"
    params = (
        Param("m", 1024, "rows of A and C"),
        Param("n", 1024, "columns of B and C"),
        Param("k", 1024, "columns of A, rows of B (the reduction length)"),
    )
    size_params = ("m", "n", "k")
    flops_formula = "2·m·n·k"

    def flops(self, p: Mapping[str, int]) -> float:
        return 2.0 * p["m"] * p["n"] * p["k"]

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return float(p["m"] * p["k"] + p["k"] * p["n"] + p["m"] * p["n"]) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        m, n, k = p["m"], p["n"], p["k"]
        device = (m * k + k * n + 2 * m * n) * itemsize  # inputs, output, one more in flight
        reference = (2 * (m * k + k * n) + 4 * m * n) * 8  # A, B, |A|, |B|, C, |A||B|, diffs
        return float(device + reference)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        return {"a": rng.standard_normal((p["m"], p["k"])),
                "b": rng.standard_normal((p["k"], p["n"]))}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        a, b = arrays["a"], arrays["b"]
        matmul = xp.matmul
        return lambda: matmul(a, b)

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        a, b = inputs["a"], inputs["b"]
        return {"product": a @ b, "scale": np.abs(a) @ np.abs(b)}

    def compare(self, output: np.ndarray, reference: Reference, p: Mapping[str, int],
                dtype: str, float32_math: str = "ieee") -> Check:
        return scaled_check(output, reference["product"], reference["scale"],
                            dot_tolerance(dtype, p["k"], float32_math))


# The library's own matmul, no array-API wrapper in between. On a GPU the wrapper and
# dispatch (about 5 µs) are a large part of a small GEMM (12 µs at 256² on an H200);
# on a CPU it is the same BLAS call a few µs later (3.8 µs for torch), a few percent
# of the smallest default case: not worth a column of its own there.
# TensorFlow has no portable kernel, so its native one runs on every device.
@Matmul.native(TorchBackend, devices=("cuda",))
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """torch.matmul itself (cuBLAS on a GPU), bound to its arguments: no Python frame of
    ours between the call and torch's dispatch."""
    import torch

    return functools.partial(torch.matmul, arrays["a"], arrays["b"])


@Matmul.native(CupyBackend, devices=("cuda",))
def cupy_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """cupy.matmul itself (cuBLAS), bound to its arguments."""
    import cupy

    return functools.partial(cupy.matmul, arrays["a"], arrays["b"])


@Matmul.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Step:
    """tf.linalg.matmul (oneDNN or Eigen on a CPU, cuBLAS on a GPU)."""
    import tensorflow as tf

    a, b = arrays["a"], arrays["b"]
    return Step(lambda: tf.linalg.matmul(a, b))
