"""mlp_train_step: one SGD step of a two-layer perceptron (dense → ReLU → dense → softmax CE).

FLOPs (the GEMMs; elementwise work is a few per element and left out, as is customary):
forward 2·B·(F·H + H·C), backward 2·B·(F·H + 2·H·C) — the weight gradient of each layer
and the input gradient of the second (the first layer's input needs none): in all
2·B·(2·F·H + 3·H·C), about three GEMMs per layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads._arrayapi import relu_grad, sgd_update, softmax_cross_entropy
from dlbench.workloads._training import check_step, labelled_data, step_reference
from dlbench.workloads.base import DEFAULT_SEED, IMAGES, Check, Param, Reference, Workload

LEARNING_RATE = 0.1
WEIGHTS = ("w1", "b1", "w2", "b2")


@register
class MlpTrainStep(Workload):
    name = "mlp_train_step"
    description = ("one SGD training step of an MLP: forward, softmax cross-entropy, "
                   "backward, update")
    params = (
        Param("batch", 256, "samples per step"),
        Param("features", 784, "input features (28×28 images)"),
        Param("hidden", 1024, "hidden units"),
        Param("classes", 10, "output classes"),
    )
    size_params = ("batch",)
    flops_formula = "2·batch·(2·features·hidden + 3·hidden·classes)"
    updates = WEIGHTS
    training = IMAGES

    def flops(self, p: Mapping[str, int]) -> float:
        b, f, h, c = p["batch"], p["features"], p["hidden"], p["classes"]
        return 2.0 * b * (2 * f * h + 3 * h * c)

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, f, h, c = p["batch"], p["features"], p["hidden"], p["classes"]
        weights = f * h + h + h * c + c
        # data in, weights read and written, activations written and read back
        return float(b * (f + c) + 2 * weights + 4 * b * h) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, f, h, c = p["batch"], p["features"], p["hidden"], p["classes"]
        arrays = b * (f + c) + 3 * (f * h + h * c) + 6 * b * h
        return float(arrays * itemsize + 3 * arrays * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        b, f, h, c = p["batch"], p["features"], p["hidden"], p["classes"]
        x, onehot = labelled_data(b, f, c, seed)
        rng = np.random.default_rng(seed + 1)
        return {"x": x, "y": onehot,
                "w1": rng.standard_normal((f, h)) * np.sqrt(2.0 / f), "b1": np.zeros(h),
                "w2": rng.standard_normal((h, c)) * np.sqrt(1.0 / h), "b2": np.zeros(c)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        x, y = arrays["x"], arrays["y"]
        weights = [arrays[k] for k in WEIGHTS]  # the same arrays where updated in place

        def step() -> tuple[Any, ...]:
            w1, b1, w2, b2 = weights
            z1 = xp.matmul(x, w1) + b1
            a1 = xp.maximum(z1, xp.zeros_like(z1))
            logits = xp.matmul(a1, w2) + b2
            _, dlogits = softmax_cross_entropy(xp, logits, y)
            dw2 = xp.matmul(a1.T, dlogits)
            db2 = xp.sum(dlogits, axis=0)
            dz1 = relu_grad(xp, xp.matmul(dlogits, w2.T), z1)
            dw1 = xp.matmul(x.T, dz1)
            db1 = xp.sum(dz1, axis=0)
            weights[:] = [sgd_update(param, grad, LEARNING_RATE) for param, grad in
                          ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2))]
            return tuple(weights)

        return step

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        return step_reference(*reference_step(inputs))

    def compare(self, output: tuple[np.ndarray, ...], reference: Reference,
                p: Mapping[str, int], dtype: str, float32_math: str = "ieee") -> Check:
        return check_step(output, reference, WEIGHTS, dtype,
                          max(p["batch"], p["features"], p["hidden"]), float32_math)


def loss(xp: Any, arrays: Mapping[str, Any]) -> float:
    """The mean cross-entropy of the current weights on the step's data."""
    z1 = xp.matmul(arrays["x"], arrays["w1"]) + arrays["b1"]
    logits = xp.matmul(xp.maximum(z1, xp.zeros_like(z1)), arrays["w2"]) + arrays["b2"]
    value, _ = softmax_cross_entropy(xp, logits, arrays["y"])
    return float(value)


def reference_step(inputs: Mapping[str, np.ndarray]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One float64 step, and for each updated array the magnitude its rounding errors
    scale with: |w| + lr·(the gradient's computation done on absolute values)."""
    x, y = inputs["x"], inputs["y"]
    w1, b1, w2, b2 = (inputs[k] for k in WEIGHTS)
    batch = x.shape[0]
    z1 = x @ w1 + b1
    a1 = np.maximum(z1, 0.0)
    logits = a1 @ w2 + b2
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = exp / exp.sum(axis=1, keepdims=True)
    dlogits = (prob - y) / batch
    dz1 = (dlogits @ w2.T) * (z1 > 0)
    grads = {"w1": x.T @ dz1, "b1": dz1.sum(axis=0), "w2": a1.T @ dlogits,
             "b2": dlogits.sum(axis=0)}
    mag_dlogits = (prob + y) / batch
    mag_dz1 = mag_dlogits @ np.abs(w2).T
    mags = {"w1": np.abs(x).T @ mag_dz1, "b1": mag_dz1.sum(axis=0),
            "w2": np.abs(a1).T @ mag_dlogits, "b2": mag_dlogits.sum(axis=0)}
    new = {k: inputs[k] - LEARNING_RATE * grads[k] for k in WEIGHTS}
    scale = {k: np.abs(inputs[k]) + LEARNING_RATE * mags[k] for k in WEIGHTS}
    return new, scale


@MlpTrainStep.native(TorchBackend)
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """The same step with autograd and torch.optim.SGD, gradients set to None each step
    so that no state grows between calls."""
    import torch
    import torch.nn.functional as F

    x, y = arrays["x"], arrays["y"]
    params = [arrays[k].requires_grad_(True) for k in WEIGHTS]
    w1, b1, w2, b2 = params
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step() -> tuple[Any, ...]:
        optimizer.zero_grad(set_to_none=True)
        logits = F.relu(x @ w1 + b1) @ w2 + b2
        F.cross_entropy(logits, y).backward()
        optimizer.step()
        return tuple(params)

    return step


@MlpTrainStep.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Any:
    """The same step with tf.GradientTape and an SGD update of tf.Variables."""
    import tensorflow as tf

    x, y = arrays["x"], arrays["y"]
    params = tuple(tf.Variable(arrays[k]) for k in WEIGHTS)
    w1, b1, w2, b2 = params

    def body() -> None:
        with tf.GradientTape() as tape:
            logits = tf.nn.relu(x @ w1 + b1) @ w2 + b2
            loss = _tf_cross_entropy(tf, logits, y)
        for var, grad in zip(params, tape.gradient(loss, params), strict=True):
            var.assign_sub(LEARNING_RATE * grad)

    return Step(body, params)


def _tf_cross_entropy(tf: Any, logits: Any, onehot: Any) -> Any:
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits))
