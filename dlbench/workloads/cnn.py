"""cnn_train_step: one SGD step of a small CNN (conv → ReLU → conv → ReLU → 2×2 avg pool →
dense → softmax CE), forward, backward and update.

Both convolutions use stride 1 and "same" padding. FLOPs count the convolution and
dense GEMMs (elementwise work left out): forward conv1 + conv2 + dense; backward the
weight gradient of every layer plus the input gradients of conv2 (col2im) and dense
(the first layer's input needs none):
2·conv1 + 3·conv2 + 3·dense, with conv1 = 2·B·F·H·W·C·R², conv2 = 2·B·F·H·W·F·R²,
dense = 2·B·(F·H·W/4)·classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.errors import UsageError
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads._arrayapi import (
    col2im,
    cols_buffer,
    conv2d_forward,
    device_of,
    pad_into,
    relu_grad,
    sgd_update,
    softmax_cross_entropy,
)
from dlbench.workloads._training import check_step, labelled_data, step_reference
from dlbench.workloads.base import DEFAULT_SEED, IMAGES, Check, Param, Reference, Workload
from dlbench.workloads.conv2d import reference_conv2d

LEARNING_RATE = 0.05
WEIGHTS = ("wc1", "bc1", "wc2", "bc2", "wd", "bd")


@register
class CnnTrainStep(Workload):
    name = "cnn_train_step"
    description = "one SGD training step of a small CNN: two 3×3 convs, pool, dense, softmax CE"
    params = (
        Param("batch", 64, "images per step"),
        Param("channels", 3, "input channels"),
        Param("hw", 32, "image height and width (even)"),
        Param("filters", 32, "filters of both conv layers"),
        Param("kernel", 3, "conv kernel size (odd)"),
        Param("classes", 10, "output classes"),
    )
    size_params = ("batch",)
    flops_formula = ("2·(2·batch·filters·hw²·channels·kernel²) + "
                     "3·(2·batch·filters²·hw²·kernel²) + 3·(2·batch·filters·hw²/4·classes)")
    updates = WEIGHTS
    training = IMAGES

    def validate(self, p: Mapping[str, int]) -> None:
        if p["kernel"] % 2 == 0:
            raise UsageError(f"cnn_train_step: kernel must be odd for 'same' padding, "
                             f"got {p['kernel']}")
        if p["hw"] % 2:
            raise UsageError(f"cnn_train_step: hw must be even for the 2×2 pool, got {p['hw']}")

    def flops(self, p: Mapping[str, int]) -> float:
        b, c, hw, f, r, k = (p[n] for n in ("batch", "channels", "hw", "filters", "kernel",
                                            "classes"))
        conv1 = 2.0 * b * f * hw * hw * c * r * r
        conv2 = 2.0 * b * f * hw * hw * f * r * r
        dense = 2.0 * b * (f * hw * hw // 4) * k
        return 2 * conv1 + 3 * conv2 + 3 * dense

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, c, hw, f = p["batch"], p["channels"], p["hw"], p["filters"]
        activations = b * f * hw * hw
        return float(b * c * hw * hw + 6 * activations) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, c, hw, f, r = p["batch"], p["channels"], p["hw"], p["filters"], p["kernel"]
        cols = b * (c + f) * r * r * hw * hw
        activations = b * f * hw * hw
        return float((2 * cols + 10 * activations) * itemsize + (3 * cols + 12 * activations) * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        b, c, hw, f, r, k = (p[n] for n in ("batch", "channels", "hw", "filters", "kernel",
                                            "classes"))
        x, onehot = labelled_data(b, c * hw * hw, k, seed)
        rng = np.random.default_rng(seed + 1)
        dense_in = f * hw * hw // 4
        return {"x": np.reshape(x, (b, c, hw, hw)), "y": onehot,
                "wc1": rng.standard_normal((f, c, r, r)) * np.sqrt(2.0 / (c * r * r)),
                "bc1": np.zeros(f),
                "wc2": rng.standard_normal((f, f, r, r)) * np.sqrt(2.0 / (f * r * r)),
                "bc2": np.zeros(f),
                "wd": rng.standard_normal((dense_in, k)) * np.sqrt(1.0 / dense_in),
                "bd": np.zeros(k)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        x, y = arrays["x"], arrays["y"]
        weights = [arrays[k] for k in WEIGHTS]  # the same arrays where updated in place
        n, c, hw, f, r = p["batch"], p["channels"], p["hw"], p["filters"], p["kernel"]
        pad, half = r // 2, hw // 2
        device = device_of(x)
        # Channels-first inside (see _arrayapi): zero borders and im2col storage are
        # allocated once; each step copies its activations in.
        buffer1 = xp.zeros((c, n, hw + 2 * pad, hw + 2 * pad), dtype=x.dtype, device=device)
        buffer2 = xp.zeros((f, n, hw + 2 * pad, hw + 2 * pad), dtype=x.dtype, device=device)
        cols1 = cols_buffer(xp, c, r, r, n, hw, hw, like=x)
        cols2 = cols_buffer(xp, f, r, r, n, hw, hw, like=x)
        x_first = xp.permute_dims(x, (1, 0, 2, 3))

        def step() -> tuple[Any, ...]:
            wc1, bc1, wc2, bc2, wd, bd = weights
            z1, c1 = conv2d_forward(xp, pad_into(buffer1, x_first, pad), cols1, wc1, r, r, 1,
                                    hw, hw)
            z1 = z1 + xp.reshape(bc1, (f, 1))  # (F, N·H·W)
            a1 = xp.maximum(z1, xp.zeros_like(z1))
            z2, c2 = conv2d_forward(xp, pad_into(buffer2, xp.reshape(a1, (f, n, hw, hw)), pad),
                                    cols2, wc2, r, r, 1, hw, hw)
            z2 = z2 + xp.reshape(bc2, (f, 1))
            a2 = xp.maximum(z2, xp.zeros_like(z2))
            pooled = xp.mean(xp.reshape(a2, (f, n, half, 2, half, 2)), axis=(3, 5))
            flat = xp.reshape(xp.permute_dims(pooled, (1, 0, 2, 3)), (n, f * half * half))
            logits = xp.matmul(flat, wd) + bd
            _, dlogits = softmax_cross_entropy(xp, logits, y)
            dwd = xp.matmul(flat.T, dlogits)
            dbd = xp.sum(dlogits, axis=0)
            dpooled = xp.reshape(xp.matmul(dlogits, wd.T), (n, f, half, half))
            dpooled = xp.reshape(xp.permute_dims(dpooled, (1, 0, 2, 3)), (f, n, half, 1, half, 1))
            da2 = xp.broadcast_to(dpooled, (f, n, half, 2, half, 2)) * 0.25
            dz2 = relu_grad(xp, xp.reshape(da2, (f, n * hw * hw)), z2)
            dwc2 = xp.matmul(dz2, c2.T)
            dbc2 = xp.sum(dz2, axis=1)
            dcols2 = xp.matmul(xp.reshape(wc2, (f, f * r * r)).T, dz2)
            da1 = col2im(xp, dcols2, f, r, r, n, hw, hw, pad)
            dz1 = relu_grad(xp, xp.reshape(da1, (f, n * hw * hw)), z1)
            dwc1 = xp.matmul(dz1, c1.T)
            dbc1 = xp.sum(dz1, axis=1)
            weights[:] = [sgd_update(param, grad, LEARNING_RATE) for param, grad in
                          ((wc1, xp.reshape(dwc1, wc1.shape)), (bc1, dbc1),
                           (wc2, xp.reshape(dwc2, wc2.shape)), (bc2, dbc2),
                           (wd, dwd), (bd, dbd))]
            return tuple(weights)

        return step

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        return step_reference(*reference_step(inputs))

    def compare(self, output: tuple[np.ndarray, ...], reference: Reference,
                p: Mapping[str, int], dtype: str, float32_math: str = "ieee") -> Check:
        reduction = max(p["batch"] * p["hw"] ** 2, p["filters"] * p["kernel"] ** 2,
                        p["filters"] * p["hw"] ** 2 // 4)
        return check_step(output, reference, WEIGHTS, dtype, reduction, float32_math)


def loss(xp: Any, arrays: Mapping[str, Any]) -> float:
    """Mean cross-entropy of the current weights on the step's data (float64 NumPy)."""
    host = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    *_, value = _reference_forward(host)
    return float(value)


def _conv_weight_grad(inputs: np.ndarray, dz: np.ndarray, r: int) -> np.ndarray:
    pad = r // 2
    xpad = np.pad(inputs, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xpad, (r, r), axis=(2, 3))
    return np.einsum("nchwrs,nkhw->kcrs", windows, dz, optimize=True)


def _conv_input_grad(dz: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Stride-1 'same' convolution's input gradient: a convolution with the flipped,
    transposed kernels (independent of the portable col2im)."""
    flipped = np.flip(weights, axis=(2, 3)).transpose(1, 0, 2, 3)
    return reference_conv2d(dz, flipped, 1, weights.shape[2] // 2)


def _reference_forward(a: Mapping[str, np.ndarray]) -> tuple[Any, ...]:
    r = a["wc1"].shape[2]
    pad = r // 2
    z1 = reference_conv2d(a["x"], a["wc1"], 1, pad) + a["bc1"][:, None, None]
    a1 = np.maximum(z1, 0.0)
    z2 = reference_conv2d(a1, a["wc2"], 1, pad) + a["bc2"][:, None, None]
    a2 = np.maximum(z2, 0.0)
    n, f, h, w = a2.shape
    flat = a2.reshape(n, f, h // 2, 2, w // 2, 2).mean(axis=(3, 5)).reshape(n, -1)
    logits = flat @ a["wd"] + a["bd"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    value = -(a["y"] * (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))).sum()
    return z1, a1, z2, flat, prob, value / n


def _unpool(grad_flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, f, h, w = shape
    g = grad_flat.reshape(n, f, h // 2, 1, w // 2, 1)
    return np.broadcast_to(g, (n, f, h // 2, 2, w // 2, 2)).reshape(shape) * 0.25


def reference_step(a: Mapping[str, np.ndarray]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One float64 step, and the magnitude each updated array's errors scale with."""
    r = a["wc1"].shape[2]
    z1, a1, z2, flat, prob, _ = _reference_forward(a)
    n = prob.shape[0]
    dlogits = (prob - a["y"]) / n
    dz2 = _unpool(dlogits @ a["wd"].T, z2.shape) * (z2 > 0)
    dz1 = _conv_input_grad(dz2, a["wc2"]) * (z1 > 0)
    grads = {"wd": flat.T @ dlogits, "bd": dlogits.sum(axis=0),
             "wc2": _conv_weight_grad(a1, dz2, r), "bc2": dz2.sum(axis=(0, 2, 3)),
             "wc1": _conv_weight_grad(a["x"], dz1, r), "bc1": dz1.sum(axis=(0, 2, 3))}
    m_dlogits = (prob + a["y"]) / n
    m_dz2 = _unpool(m_dlogits @ np.abs(a["wd"]).T, z2.shape)
    m_dz1 = _conv_input_grad(m_dz2, np.abs(a["wc2"]))
    mags = {"wd": np.abs(flat).T @ m_dlogits, "bd": m_dlogits.sum(axis=0),
            "wc2": _conv_weight_grad(np.abs(a1), m_dz2, r), "bc2": m_dz2.sum(axis=(0, 2, 3)),
            "wc1": _conv_weight_grad(np.abs(a["x"]), m_dz1, r),
            "bc1": m_dz1.sum(axis=(0, 2, 3))}
    new = {k: a[k] - LEARNING_RATE * grads[k] for k in WEIGHTS}
    scale = {k: np.abs(a[k]) + LEARNING_RATE * mags[k] for k in WEIGHTS}
    return new, scale


@CnnTrainStep.native(TorchBackend)
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """The same network with torch.nn.functional, autograd and torch.optim.SGD."""
    import torch
    import torch.nn.functional as F

    x, y = arrays["x"], arrays["y"]
    params = [arrays[k].requires_grad_(True) for k in WEIGHTS]
    wc1, bc1, wc2, bc2, wd, bd = params
    pad = p["kernel"] // 2
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step() -> tuple[Any, ...]:
        optimizer.zero_grad(set_to_none=True)
        a1 = F.relu(F.conv2d(x, wc1, bc1, padding=pad))
        a2 = F.relu(F.conv2d(a1, wc2, bc2, padding=pad))
        logits = F.avg_pool2d(a2, 2).flatten(1) @ wd + bd
        F.cross_entropy(logits, y).backward()
        optimizer.step()
        return tuple(params)

    return step


@CnnTrainStep.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Any:
    """The same network with tf.nn (NHWC, TensorFlow's layout on a CPU; see conv2d),
    tf.GradientTape and an SGD update of tf.Variables. Kernels are kept HWIO and turned
    back to KCRS for verification only."""
    import tensorflow as tf

    n = p["batch"]
    x, y = tf.transpose(arrays["x"], (0, 2, 3, 1)), arrays["y"]
    hwio = {"wc1", "wc2"}
    params = tuple(tf.Variable(tf.transpose(arrays[k], (2, 3, 1, 0)) if k in hwio
                               else arrays[k]) for k in WEIGHTS)
    wc1, bc1, wc2, bc2, wd, bd = params

    def body() -> None:
        with tf.GradientTape() as tape:
            a1 = tf.nn.relu(tf.nn.conv2d(x, wc1, 1, "SAME") + bc1)
            a2 = tf.nn.relu(tf.nn.conv2d(a1, wc2, 1, "SAME") + bc2)
            pooled = tf.nn.avg_pool2d(a2, 2, 2, "VALID")
            # Flattened channel-major, as the reference's dense layer reads it.
            flat = tf.reshape(tf.transpose(pooled, (0, 3, 1, 2)), (n, -1))
            loss = _tf_cross_entropy(tf, flat @ wd + bd, y)
        for var, grad in zip(params, tape.gradient(loss, params), strict=True):
            var.assign_sub(LEARNING_RATE * grad)

    def canonical(state: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(tf.transpose(v, (3, 2, 0, 1)) if k in hwio else v
                     for k, v in zip(WEIGHTS, state, strict=True))

    return Step(body, params, canonical)


def _tf_cross_entropy(tf: Any, logits: Any, onehot: Any) -> Any:
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits))
