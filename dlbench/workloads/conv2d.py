"""conv2d: the forward 2-D convolution of a CNN layer (NCHW input, KCRS weights)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.jax import JaxBackend
from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.errors import UsageError
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads._arrayapi import (
    cols_buffer,
    conv2d_forward,
    device_of,
    out_size,
    pad_into,
)
from dlbench.workloads.base import DEFAULT_SEED, Check, Param, Reference, Workload
from dlbench.workloads.tolerances import dot_tolerance, scaled_check


@register
class Conv2d(Workload):
    name = "conv2d"
    description = "2-D convolution forward (a ResNet-like 3×3 layer by default)"
    params = (
        Param("n", 32, "batch"),
        Param("c", 128, "input channels"),
        Param("h", 28, "input height"),
        Param("w", 28, "input width"),
        Param("k", 128, "output channels (filters)"),
        Param("r", 3, "kernel height"),
        Param("s", 3, "kernel width"),
        Param("stride", 1, "stride (both directions)"),
        Param("pad", 1, "zero padding (both sides, both directions)", minimum=0),
    )
    size_params = ("h", "w")
    flops_formula = "2·n·k·ho·wo·c·r·s"

    def validate(self, p: Mapping[str, int]) -> None:
        if p["r"] > p["h"] + 2 * p["pad"] or p["s"] > p["w"] + 2 * p["pad"]:
            raise UsageError(f"conv2d: the kernel ({p['r']}×{p['s']}) must fit the padded "
                             f"input ({p['h'] + 2 * p['pad']}×{p['w'] + 2 * p['pad']})")

    def out_hw(self, p: Mapping[str, int]) -> tuple[int, int]:
        return (out_size(p["h"], p["r"], p["stride"], p["pad"]),
                out_size(p["w"], p["s"], p["stride"], p["pad"]))

    def flops(self, p: Mapping[str, int]) -> float:
        ho, wo = self.out_hw(p)
        return 2.0 * p["n"] * p["k"] * ho * wo * p["c"] * p["r"] * p["s"]

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        ho, wo = self.out_hw(p)
        return float(p["n"] * p["c"] * p["h"] * p["w"] + p["k"] * p["c"] * p["r"] * p["s"]
                     + p["n"] * p["k"] * ho * wo) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        ho, wo = self.out_hw(p)
        x = p["n"] * p["c"] * (p["h"] + 2 * p["pad"]) * (p["w"] + 2 * p["pad"])
        cols = p["n"] * p["c"] * p["r"] * p["s"] * ho * wo
        out = p["n"] * p["k"] * ho * wo
        # device: input, padded copy, columns, output; reference: float64 windows of |x|
        # and x, and outputs, in einsum's working set.
        return float((2 * x + cols + 2 * out) * itemsize + (2 * cols + 4 * out + 2 * x) * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        fan_in = p["c"] * p["r"] * p["s"]
        return {"x": rng.standard_normal((p["n"], p["c"], p["h"], p["w"])),
                "weights": rng.standard_normal((p["k"], p["c"], p["r"], p["s"]))
                / np.sqrt(fan_in)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        x, weights = arrays["x"], arrays["weights"]
        n, k, pad = p["n"], p["k"], p["pad"]
        ho, wo = self.out_hw(p)
        # The zero border is allocated once; each call copies the input into it, turned
        # channels-first on the way — the padding's and the layout's real cost.
        buffer = xp.zeros((p["c"], n, p["h"] + 2 * pad, p["w"] + 2 * pad), dtype=x.dtype,
                          device=device_of(x))
        cols = cols_buffer(xp, p["c"], p["r"], p["s"], n, ho, wo, like=x)

        def kernel() -> Any:
            xpad = pad_into(buffer, xp.permute_dims(x, (1, 0, 2, 3)), pad)
            out, _ = conv2d_forward(xp, xpad, cols, weights, p["r"], p["s"], p["stride"],
                                    ho, wo)
            return xp.permute_dims(xp.reshape(out, (k, n, ho, wo)), (1, 0, 2, 3))

        return kernel

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        x, weights = inputs["x"], inputs["weights"]
        return {"conv": reference_conv2d(x, weights, p["stride"], p["pad"]),
                "scale": reference_conv2d(np.abs(x), np.abs(weights), p["stride"], p["pad"])}

    def compare(self, output: np.ndarray, reference: Reference, p: Mapping[str, int],
                dtype: str, float32_math: str = "ieee") -> Check:
        return scaled_check(output, reference["conv"], reference["scale"],
                            dot_tolerance(dtype, p["c"] * p["r"] * p["s"], float32_math))


def reference_conv2d(x: np.ndarray, weights: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """float64 convolution by sliding windows and einsum: independent of im2col."""
    r, s = weights.shape[2], weights.shape[3]
    xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xpad, (r, s), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, Ho, Wo, R, S)
    return np.einsum("nchwrs,kcrs->nkhw", windows, weights, optimize=True)


@Conv2d.native(TorchBackend)
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """torch.nn.functional.conv2d: oneDNN on a CPU, cuDNN on a GPU."""
    import torch.nn.functional as F

    x, weights = arrays["x"], arrays["weights"]
    stride, pad = p["stride"], p["pad"]
    return lambda: F.conv2d(x, weights, stride=stride, padding=pad)


# TensorFlow's layout on a CPU: builds without oneDNN refuse NCHW there, and with oneDNN
# NCHW ran 13% slower here (33.0 vs 28.8 ms eagerly, benchmarks/bench_tf_conv_layout.py).
# The input is converted once, outside the timing, as a TensorFlow model keeps its
# activations NHWC throughout.
TF_CONV_LAYOUT = "NHWC"


@Conv2d.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int],
                      layout: str = TF_CONV_LAYOUT) -> Any:
    """tf.nn.conv2d (oneDNN on a CPU, cuDNN on a GPU) in `layout`, weights as HWIO; the
    output is turned back to NCHW for verification only."""
    import tensorflow as tf

    stride, pad = p["stride"], p["pad"]
    weights = tf.transpose(arrays["weights"], (2, 3, 1, 0))  # KCRS -> RSCK (HWIO)
    if layout == "NHWC":
        x = tf.transpose(arrays["x"], (0, 2, 3, 1))
        paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
        canonical = lambda out: tf.transpose(out, (0, 3, 1, 2))  # noqa: E731
    else:
        x, paddings, canonical = arrays["x"], [[0, 0], [0, 0], [pad, pad], [pad, pad]], None

    def body() -> Any:
        return tf.nn.conv2d(x, weights, strides=stride, padding=paddings, data_format=layout)

    return Step(body, canonical=canonical)


@Conv2d.native(JaxBackend)
def jax_native(p: Mapping[str, int]) -> Any:
    """jax.lax.conv_general_dilated (XLA's convolution) as a pure function of the arrays,
    NCHW/OIHW as the workload's inputs are; jit-compiled by its backend."""
    import jax

    stride, pad = p["stride"], p["pad"]

    def conv(arrays: Mapping[str, Any]) -> Any:
        return jax.lax.conv_general_dilated(
            arrays["x"], arrays["weights"], (stride, stride), [(pad, pad), (pad, pad)],
            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    return conv
