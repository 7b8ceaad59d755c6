"""lstm and lstm_train_step: a single-layer LSTM over a sequence, the recurrent layer of
speech models (DeepSpeech 2's acoustic model), forward alone and as a training step.

Gates in torch's order (input i, forget f, cell g, output o) and weights in torch's
layout (w_ih 4H×I, w_hh 4H×H, two biases), so the native kernel is torch.nn.LSTM on the
same arrays (oneDNN on a CPU, cuDNN on a GPU). The portable kernel is organised as
cuDNN and oneDNN organise an LSTM: the input projection of the whole sequence is ONE
GEMM (T·B × I by I × 4H); each timestep adds ONE GEMM for the recurrence (B × H by
H × 4H) and elementwise gate math on B × 4H. The loop over timesteps is inherent: step
t needs h_{t−1}. Backward through time mirrors it: one GEMM per step carries ∂h back,
and the weight gradients of the whole sequence are two GEMMs after the loop.

FLOPs count the GEMMs; the gate nonlinearities and products (about 20 operations per
hidden unit and timestep, against 8·(I+H) in the GEMMs) are left out, as is customary.
- forward: 2·4H·(I+H)·B·T — the input projection 2·4H·I·B·T and the recurrence
  2·4H·H·B·T (counting the first step's product with h₀ = 0, which the kernels compute).
- training step: the forward, then backward 2·4H·I·B·T (∂W_ih) + 2·4H·H·B·T (∂W_hh) +
  2·4H·H·B·(T−1) (∂h carried back through the recurrence; the first step's ∂h₀ and the
  layer input's ∂x are not needed, and not counted), plus the per-frame classifier
  3·2·T·B·H·C (its forward, its weight gradient, and ∂h): in all
  8·H·B·(2·T·I + 3·T·H − H) + 6·T·B·H·C, about 2.5× the forward when I = H.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.jax import JaxBackend
from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads._arrayapi import device_of, sgd_update, softmax_cross_entropy
from dlbench.workloads._lstm_reference import (
    LEARNING_RATE,
    WEIGHTS,
    ReferenceForward,
    reference_forward,
    reference_step,
)
from dlbench.workloads._training import chain_tolerance, check_step, step_reference
from dlbench.workloads.base import (
    DEFAULT_SEED,
    Check,
    Param,
    Reference,
    TrainingData,
    Workload,
)
from dlbench.workloads.tolerances import scaled_check

LSTM_WEIGHTS = WEIGHTS[:4]
# torch.nn.LSTM's parameter names for w_ih, w_hh, b_ih, b_hh.
TORCH_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
# One LSTM timestep is one frame of speech features: the usual 10 ms hop (DeepSpeech 2's
# spectrograms, Kaldi's filterbanks).
FRAME_SECONDS = 0.01
# Speech corpora are measured in hours, and dlbench's sequences (25 frames = 0.25 s by
# default) are far shorter than real utterances (LibriSpeech's average about 12 s):
# "sequences/s" would not carry over to a real corpus, audio-seconds/s does (the inverse
# of a real-time factor).
AUDIO = TrainingData(
    "audio-seconds", lambda p: p["batch"] * p["timesteps"] * FRAME_SECONDS,
    (("100 h of audio (LibriSpeech-clean-100-sized)", 100 * 3600),
     ("960 h of audio (LibriSpeech-sized)", 960 * 3600)))
# The label of frame t is the symbol of frame t − DELAY: a memoryless model cannot do
# better than chance on it, so a falling loss shows the recurrence carrying information.
DELAY = 1

_SHAPE = (
    Param("hidden", 512, "hidden units H"),
    Param("batch", 16, "sequences per batch B"),
    Param("timesteps", 25, "sequence length T (frames)"),
    Param("input", 0, "input features I per frame (0: the same as hidden)", minimum=0),
)


class _Lstm(Workload):
    """What the forward and the training step share: shape, inputs, cost model."""

    size_params = ("batch",)

    def resolve(self, size: int | None = None, **overrides: int) -> dict[str, int]:
        p = super().resolve(size, **overrides)
        if p["input"] == 0:
            p["input"] = p["hidden"]
        return p

    def forward_flops(self, p: Mapping[str, int]) -> float:
        return 8.0 * p["hidden"] * (p["input"] + p["hidden"]) * p["batch"] * p["timesteps"]

    def weight_count(self, p: Mapping[str, int]) -> int:
        return 4 * p["hidden"] * (p["input"] + p["hidden"] + 2)

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        frames = p["timesteps"] * p["batch"]
        activations = frames * (p["input"] + p.get("classes", 0) + 12 * p["hidden"])
        weights = self.weight_count(p) + p["hidden"] * p.get("classes", 0)
        # device: the weights, their gradients and a copy in flight, and the activations;
        # the float64 reference: the weights widened, their magnitudes, the new weights and
        # their scales, and values, error scales and magnitudes of the activations
        return float((3 * weights + activations) * itemsize + (5 * weights + 3 * activations) * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        h, i = p["hidden"], p["input"]
        rng = np.random.default_rng(seed + 1)
        bound = 1.0 / np.sqrt(h)  # torch.nn.LSTM's own initialisation

        def uniform(*shape: int) -> np.ndarray:
            return rng.uniform(-bound, bound, shape)

        return {"x": np.random.default_rng(seed).standard_normal(
                    (p["timesteps"], p["batch"], i)),
                "w_ih": uniform(4 * h, i), "w_hh": uniform(4 * h, h),
                "b_ih": uniform(4 * h), "b_hh": uniform(4 * h)}


@register
class Lstm(_Lstm):
    name = "lstm"
    description = "single-layer LSTM forward over a sequence (speech; DeepBench's RNN shapes)"
    params = _SHAPE
    flops_formula = "2·4·hidden·(input+hidden)·batch·timesteps"

    def flops(self, p: Mapping[str, int]) -> float:
        return self.forward_flops(p)

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        frames = p["timesteps"] * p["batch"]
        return float(frames * (p["input"] + p["hidden"]) + self.weight_count(p)) * itemsize

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        cell = Cell(xp, arrays, p["batch"], p["hidden"])
        x = arrays["x"]
        return lambda: xp.stack(cell.forward(x)[0][1:])

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        ref = reference_forward(inputs)
        return {"h": np.stack(ref.h[1:]), "scale": np.stack(ref.h_scale[1:])}

    def compare(self, output: np.ndarray, reference: Reference, p: Mapping[str, int],
                dtype: str, float32_math: str = "ieee") -> Check:
        tol = chain_tolerance(dtype, p["input"] + p["hidden"], float32_math)
        return scaled_check(np.asarray(output), reference["h"], reference["scale"], tol)


@register
class LstmTrainStep(_Lstm):
    name = "lstm_train_step"
    description = ("one SGD step of an LSTM frame classifier: forward, per-frame softmax CE, "
                   "backward through time, update")
    params = (*_SHAPE, Param("classes", 29, "output classes per frame (DeepSpeech's 29 "
                                            "characters)", minimum=2))
    flops_formula = ("8·hidden·batch·(2·timesteps·input + 3·timesteps·hidden − hidden) + "
                     "6·timesteps·batch·hidden·classes")
    updates = WEIGHTS
    training = AUDIO

    def flops(self, p: Mapping[str, int]) -> float:
        h, b, t, i, c = (p[k] for k in ("hidden", "batch", "timesteps", "input", "classes"))
        return 8.0 * h * b * (2 * t * i + 3 * t * h - h) + 6.0 * t * b * h * c

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        frames = p["timesteps"] * p["batch"]
        weights = self.weight_count(p) + (p["hidden"] + 1) * p["classes"]
        # data in, weights read and written, gates and states written and read back
        return float(frames * (p["input"] + p["classes"] + 2 * 6 * p["hidden"])
                     + 2 * weights) * itemsize

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        arrays = super().inputs(p, seed)
        x, onehot = delayed_symbols(p["timesteps"], p["batch"], p["input"], p["classes"], seed)
        rng = np.random.default_rng(seed + 2)
        h, c = p["hidden"], p["classes"]
        return {**arrays, "x": x, "y": onehot,
                "w_out": rng.standard_normal((h, c)) * np.sqrt(1.0 / h), "b_out": np.zeros(c)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        t, b, h, c = p["timesteps"], p["batch"], p["hidden"], p["classes"]
        cell = Cell(xp, arrays, b, h)
        x = arrays["x"]
        weights = {k: arrays[k] for k in WEIGHTS}  # the same arrays where updated in place
        y = xp.reshape(arrays["y"], (t * b, c))
        x_all = xp.reshape(x, (t * b, p["input"]))

        def step() -> tuple[Any, ...]:
            w_out, b_out = weights["w_out"], weights["b_out"]
            hs, saved = cell.forward(x)
            h_all = xp.reshape(xp.stack(hs), ((t + 1) * b, h))
            top = h_all[b:]  # h_1 … h_T, one row per frame
            _, dlogits = softmax_cross_entropy(xp, xp.matmul(top, w_out) + b_out, y)
            dtop = xp.reshape(xp.matmul(dlogits, w_out.T), (t, b, h))
            dz = cell.backward(dtop, saved)  # (T·B, 4H)
            dz_t = dz.T
            db = xp.sum(dz, axis=0)
            grads = {"w_ih": xp.matmul(dz_t, x_all), "w_hh": xp.matmul(dz_t, h_all[:-b]),
                     "b_ih": db, "b_hh": db, "w_out": xp.matmul(top.T, dlogits),
                     "b_out": xp.sum(dlogits, axis=0)}
            for name, grad in grads.items():
                weights[name] = sgd_update(weights[name], grad, LEARNING_RATE)
            cell.w_ih, cell.w_hh = weights["w_ih"], weights["w_hh"]
            cell.b_ih, cell.b_hh = weights["b_ih"], weights["b_hh"]
            return tuple(weights[k] for k in WEIGHTS)

        return step

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        return step_reference(*reference_step(inputs))

    def compare(self, output: tuple[np.ndarray, ...], reference: Reference,
                p: Mapping[str, int], dtype: str, float32_math: str = "ieee") -> Check:
        reduction = max(p["input"] + p["hidden"], 4 * p["hidden"],
                        p["timesteps"] * p["batch"])
        return check_step(output, reference, WEIGHTS, dtype, reduction, float32_math)


def delayed_symbols(timesteps: int, batch: int, features: int, classes: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A frame-labelling task that needs memory: each frame shows a random symbol (a
    Gaussian blob around the symbol's centre) and is labelled with the symbol shown
    DELAY frames earlier (the first frames, with no past, with their own)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, features)) * 1.5
    symbols = rng.integers(0, classes, (timesteps, batch))
    x = centres[symbols] + rng.standard_normal((timesteps, batch, features))
    labels = np.concatenate([symbols[:DELAY], symbols[:-DELAY]]) if timesteps > DELAY \
        else symbols
    return x, np.eye(classes)[labels]


class Cell:
    """The portable LSTM layer: forward over a sequence and backward through time.

    The three sigmoid gates and the tanh gate come from ONE tanh over the B × 4H
    pre-activations, σ(z) = ½ + ½·tanh(z/2): `mul` holds ½ for i, f, o and 1 for g, `off`
    ½ and 0, so gates = tanh(z·mul)·mul + off, and ∂gates/∂z = mul² − (gates − off)².
    Few array operations per step (in place where the array API allows), no exp overflow.
    """

    def __init__(self, xp: Any, arrays: Mapping[str, Any], batch: int, hidden: int) -> None:
        self.xp, self.hidden = xp, hidden
        self.w_ih, self.w_hh = arrays["w_ih"], arrays["w_hh"]
        self.b_ih, self.b_hh = arrays["b_ih"], arrays["b_hh"]
        like = arrays["w_hh"]
        dtype, device = like.dtype, device_of(like)

        def blocks(*values: float) -> Any:
            return xp.concat([xp.full((hidden,), v, dtype=dtype, device=device)
                              for v in values])

        self.mul, self.off = blocks(0.5, 0.5, 1.0, 0.5), blocks(0.5, 0.5, 0.0, 0.5)
        self.mul2 = self.mul * self.mul
        self.zeros = xp.zeros((batch, hidden), dtype=dtype, device=device)

    def split(self, gates: Any) -> tuple[Any, Any, Any, Any]:
        h = self.hidden
        return gates[:, :h], gates[:, h:2 * h], gates[:, 2 * h:3 * h], gates[:, 3 * h:]

    def forward(self, x: Any) -> tuple[list[Any], tuple[list[Any], list[Any], list[Any]]]:
        """h₀ … h_T (h₀ = 0), and what backward needs: per step the gates, c_{t−1} and
        tanh(c_t)."""
        xp = self.xp
        t_len, batch, features = x.shape
        xw = xp.matmul(xp.reshape(x, (t_len * batch, features)), self.w_ih.T)
        xw = xp.reshape(xw, (t_len, batch, 4 * self.hidden))
        xw += self.b_ih + self.b_hh
        w_hh_t = self.w_hh.T
        h, c = self.zeros, self.zeros
        hs, all_gates, cs, tanh_cs = [h], [], [], []
        for t in range(t_len):
            z = xp.matmul(h, w_hh_t)
            z += xw[t]
            z *= self.mul
            gates = xp.tanh(z)
            gates *= self.mul
            gates += self.off
            i, f, g, o = self.split(gates)
            cs.append(c)
            c = f * c
            c += i * g
            tanh_c = xp.tanh(c)
            h = o * tanh_c
            hs.append(h)
            all_gates.append(gates)
            tanh_cs.append(tanh_c)
        return hs, (all_gates, cs, tanh_cs)

    def backward(self, dh_out: Any, saved: tuple[list[Any], list[Any], list[Any]]) -> Any:
        """∂loss/∂z for every step, as one (T·B, 4H) array, from ∂loss/∂h_t (T, B, H)."""
        xp = self.xp
        all_gates, cs, tanh_cs = saved
        t_len = len(all_gates)
        dh_next, dc_next = self.zeros, self.zeros
        dzs: list[Any] = [None] * t_len
        for t in reversed(range(t_len)):
            gates, tanh_c = all_gates[t], tanh_cs[t]
            i, f, g, o = self.split(gates)
            dh = dh_out[t] + dh_next
            dc = tanh_c * tanh_c
            dc -= 1
            dc *= o
            dc *= dh
            dc = dc_next - dc  # dc_next + dh·o·(1 − tanh²c)
            dz = xp.concat((dc * g, dc * cs[t], dc * i, dh * tanh_c), axis=1)
            slope = gates - self.off
            slope *= slope
            dz *= self.mul2 - slope
            dzs[t] = dz
            if t:
                dh_next, dc_next = xp.matmul(dz, self.w_hh), dc * f
        return xp.reshape(xp.stack(dzs), (t_len * dh_out.shape[1], 4 * self.hidden))


def torch_module(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int],
                 train: bool) -> Any:
    """torch.nn.LSTM whose parameters are the case's arrays (shared storage): torch's
    own kernel — oneDNN on a CPU for float32 and bfloat16, cuDNN on a GPU."""
    import torch

    x = arrays["x"]
    module = torch.nn.LSTM(p["input"], p["hidden"], device=x.device, dtype=x.dtype)
    for name, key in zip(TORCH_NAMES, LSTM_WEIGHTS, strict=True):
        setattr(module, name, torch.nn.Parameter(arrays[key], requires_grad=train))
    if x.is_cuda:
        # cuDNN wants the weights in one buffer; else every call copies them into one.
        module.flatten_parameters()
    return module


@Lstm.native(TorchBackend)
def torch_native_forward(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
                         ) -> Kernel:
    """torch.nn.LSTM in inference mode (no autograd graph)."""
    import torch

    module, x = torch_module(backend, arrays, p, train=False), arrays["x"]

    def forward() -> Any:
        with torch.no_grad():
            return module(x)[0]

    return forward


@LstmTrainStep.native(TorchBackend)
def torch_native_step(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
                      ) -> Kernel:
    """torch.nn.LSTM, a linear classifier, cross-entropy, autograd and torch.optim.SGD;
    gradients set to None each step so that no state grows between calls."""
    import torch
    import torch.nn.functional as F

    module = torch_module(backend, arrays, p, train=True)
    w_out, b_out = (arrays[k].requires_grad_(True) for k in ("w_out", "b_out"))
    params = [getattr(module, name) for name in TORCH_NAMES] + [w_out, b_out]
    x = arrays["x"]
    frames = p["timesteps"] * p["batch"]
    y = arrays["y"].reshape(frames, p["classes"])
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step() -> tuple[Any, ...]:
        optimizer.zero_grad(set_to_none=True)
        top = module(x)[0].reshape(frames, p["hidden"])
        F.cross_entropy(top @ w_out + b_out, y).backward()
        optimizer.step()
        return tuple(params)

    return step


def loss(xp: Any, arrays: Mapping[str, Any]) -> float:
    """Mean per-frame cross-entropy of the current weights on the step's data (float64)."""
    host = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    top = np.concatenate(ReferenceForward(host).h[1:], axis=0)
    logits = top @ host["w_out"] + host["b_out"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    y = host["y"].reshape(logits.shape)
    return float(-(y * log_p).sum() / logits.shape[0])


def _tf_lstm(tf: Any, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> Any:
    """h_1 … h_T (T, B, H) of one LSTM layer in TensorFlow ops, torch's gate order
    (i, f, g, o): a Python loop over time, one step's ops eagerly, unrolled under XLA
    (keras.layers.LSTM is Keras, not TensorFlow, and its weights are laid out otherwise)."""
    t_len, batch, features = x.shape
    hidden = w_hh.shape[1]
    xw = tf.reshape(tf.reshape(x, (t_len * batch, features)) @ tf.transpose(w_ih)
                    + (b_ih + b_hh), (t_len, batch, 4 * hidden))
    w_hh_t = tf.transpose(w_hh)
    h = c = tf.zeros((batch, hidden), x.dtype)
    hs = []
    for t in range(t_len):
        i, f, g, o = tf.split(xw[t] + h @ w_hh_t, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        hs.append(h)
    return tf.stack(hs)


@Lstm.native(TensorflowBackend)
def tensorflow_native_forward(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
                              ) -> Any:
    import tensorflow as tf

    x, *weights = (arrays[k] for k in ("x", *LSTM_WEIGHTS))
    return Step(lambda: _tf_lstm(tf, x, *weights))


@LstmTrainStep.native(TensorflowBackend)
def tensorflow_native_step(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]
                           ) -> Any:
    """The same step with tf.GradientTape and an SGD update of tf.Variables."""
    import tensorflow as tf

    frames = p["timesteps"] * p["batch"]
    x, y = arrays["x"], tf.reshape(arrays["y"], (frames, p["classes"]))
    params = tuple(tf.Variable(arrays[k]) for k in WEIGHTS)
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params

    def body() -> None:
        with tf.GradientTape() as tape:
            top = tf.reshape(_tf_lstm(tf, x, w_ih, w_hh, b_ih, b_hh), (frames, p["hidden"]))
            logits = top @ w_out + b_out
            loss = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        for var, grad in zip(params, tape.gradient(loss, params), strict=True):
            var.assign_sub(LEARNING_RATE * grad)

    return Step(body, params)


# JAX's natives are pure functions of the case's arrays, compiled by its backend (jax.jit).
# The recurrence is a jax.lax.scan, not the portable kernel's Python loop: XLA compiles
# one step instead of an unrolled sequence (measured here: 27 s to compile the unrolled
# training step of the default shape).

def _jax_lstm(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> Any:
    """h_1 … h_T (T, B, H), torch's gate order (i, f, g, o)."""
    import jax
    import jax.numpy as jnp

    t_len, batch, features = x.shape
    hidden = w_hh.shape[1]
    xw = jnp.reshape(jnp.reshape(x, (t_len * batch, features)) @ w_ih.T + (b_ih + b_hh),
                     (t_len, batch, 4 * hidden))
    w_hh_t = w_hh.T

    def cell(carry: tuple[Any, Any], xw_t: Any) -> tuple[tuple[Any, Any], Any]:
        h, c = carry
        i, f, g, o = jnp.split(xw_t + h @ w_hh_t, 4, axis=1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((batch, hidden), x.dtype)
    return jax.lax.scan(cell, (zeros, zeros), xw)[1]


@Lstm.native(JaxBackend)
def jax_native_forward(p: Mapping[str, int]) -> Any:
    return lambda a: _jax_lstm(a["x"], *(a[k] for k in LSTM_WEIGHTS))


@LstmTrainStep.native(JaxBackend)
def jax_native_step(p: Mapping[str, int]) -> Any:
    """The step with jax.grad of the loss, and an SGD update returning the new weights."""
    import jax
    import jax.numpy as jnp

    frames = p["timesteps"] * p["batch"]

    def loss(weights: tuple[Any, ...], x: Any, y: Any) -> Any:
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = weights
        top = jnp.reshape(_jax_lstm(x, w_ih, w_hh, b_ih, b_hh), (frames, p["hidden"]))
        log_p = jax.nn.log_softmax(top @ w_out + b_out, axis=1)
        return -jnp.mean(jnp.sum(y * log_p, axis=1))

    def step(a: Mapping[str, Any]) -> tuple[Any, ...]:
        weights = tuple(a[k] for k in WEIGHTS)
        grads = jax.grad(loss)(weights, a["x"], jnp.reshape(a["y"], (frames, p["classes"])))
        return tuple(w - LEARNING_RATE * g for w, g in zip(weights, grads, strict=True))

    return step
