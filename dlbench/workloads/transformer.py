"""transformer_train_step: one SGD step of a pre-norm transformer encoder block on a token-
classification task (language): forward, softmax cross-entropy per token, backward, update.

The block, as in GPT-2 and most encoders since: x₂ = x + Attn(LN₁(x))·W_o + b_o,
y = x₂ + GELU(LN₂(x₂)·W₁ + b₁)·W₂ + b₂, with multi-head self-attention over the fused
QKV projection LN₁(x)·W_qkv + b_qkv, an MLP four times the model width, GELU in its
tanh form (the array API has no erf; torch's `approximate="tanh"` is the same
function), and a linear token classifier y·W_c + b_c. The portable backward is written
by hand (attention's in _attention.py); the native step is torch autograd, with
torch's fused scaled_dot_product_attention and layer_norm, and torch.optim.SGD.

FLOPs count the GEMMs (LayerNorm, GELU, softmax and residuals are a few operations
per element and left out), with N = batch·seq tokens and d = d_model:
- forward: QKV 6·N·d², output projection 2·N·d², MLP 16·N·d², attention
  4·N·seq·d (halved when causal, as FlashAttention counts it), classifier 2·N·d·C:
  24·N·d² + 4·N·seq·d + 2·N·d·C.
- backward: every product again twice (the weight gradient and the input gradient;
  attention's four products ∂P, ∂q, ∂k, ∂v), except the classifier's and QKV's input
  gradients, which are needed too (LN₁'s parameters need ∂LN₁(x)); only ∂x, the block's
  input, is not: 48·N·d² + 8·N·seq·d + 4·N·d·C.
- step: 72·N·d² + 12·N·seq·d (÷2 causal) + 6·N·d·C, three times the forward.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.errors import UsageError
from dlbench.kernels import Kernel, Step
from dlbench.workloads import register
from dlbench.workloads._arrayapi import sgd_update, softmax_cross_entropy
from dlbench.workloads._attention import Attention
from dlbench.workloads._training import check_step, step_reference
from dlbench.workloads._transformer_reference import (
    GELU_C,
    GELU_K,
    LN_EPS,
    WEIGHTS,
    forward,
    reference_step,
)
from dlbench.workloads.base import (
    DEFAULT_SEED,
    Check,
    Param,
    Reference,
    TrainingData,
    Workload,
)

# A text corpus is a number of tokens, cut into sequences of whatever length a model uses:
# tokens/s is what carries over from dlbench's sequence length to a real one.
TOKENS = TrainingData("tokens", lambda p: p["batch"] * p["seq"], (
    ("103M tokens (WikiText-103-sized)", 103_227_021),
    ("9B tokens (OpenWebText-sized)", 9_000_000_000)))
# SGD's learning rate is LEARNING_RATE_SCALE / √d_model: an update then moves the logits
# by about the same fraction at every width. A fixed 0.2 (or 0.1) learnt the quick case
# but sent a BERT-base-wide block (d = 768) to NaN within 10–20 steps — and timed calls
# repeat the step hundreds of times, where NaN arithmetic runs at another speed.
LEARNING_RATE_SCALE = 1.6


@register
class TransformerTrainStep(Workload):
    name = "transformer_train_step"
    description = ("one SGD step of a pre-norm transformer encoder block (attention, 4× MLP, "
                   "two LayerNorms) with a token classifier")
    params = (
        Param("batch", 8, "sequences per step B"),
        Param("seq", 128, "tokens per sequence S"),
        Param("d_model", 256, "model width d"),
        Param("heads", 4, "attention heads (each d_model / heads wide)"),
        Param("classes", 9, "token classes (CoNLL-2003 NER's 9 tags)", minimum=2),
        Param("causal", 0, "1: each token attends only to itself and earlier ones (GPT)",
              minimum=0),
    )
    size_params = ("batch",)
    flops_formula = ("72·batch·seq·d_model² + 12·batch·seq²·d_model (÷2 causal) + "
                     "6·batch·seq·d_model·classes")
    updates = WEIGHTS
    training = TOKENS

    def validate(self, p: Mapping[str, int]) -> None:
        if p["d_model"] % p["heads"]:
            raise UsageError(f"transformer_train_step: heads ({p['heads']}) must divide "
                             f"d_model ({p['d_model']})")
        if p["causal"] not in (0, 1):
            raise UsageError(f"transformer_train_step: causal must be 0 or 1, "
                             f"got {p['causal']}")

    def flops(self, p: Mapping[str, int]) -> float:
        n, s, d, c = p["batch"] * p["seq"], p["seq"], p["d_model"], p["classes"]
        attention = 12.0 * n * s * d / (2 if p["causal"] else 1)
        return 72.0 * n * d * d + attention + 6.0 * n * d * c

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        n, d, c = p["batch"] * p["seq"], p["d_model"], p["classes"]
        weights = 12 * d * d + 13 * d + (d + 1) * c
        # data in, weights read and written, activations (about 16 per token and
        # width) written in the forward and read back in the backward
        return float(n * (d + c) + 2 * weights + 2 * 16 * n * d) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        n, s, d = p["batch"] * p["seq"], p["seq"], p["d_model"]
        scores = p["batch"] * p["heads"] * s * s
        arrays = n * (30 * d + 2 * p["classes"]) + 3 * 12 * d * d + 3 * scores
        # the float64 reference keeps values and magnitudes of as much
        return float(arrays * itemsize + 3 * arrays * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        d, c = p["d_model"], p["classes"]
        x, onehot = first_token_task(p["batch"], p["seq"], d, c, seed)
        rng = np.random.default_rng(seed + 1)

        def dense(fan_in: int, fan_out: int) -> np.ndarray:
            return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)

        return {"x": x, "y": onehot,
                "ln1_g": np.ones(d), "ln1_b": np.zeros(d),
                "w_qkv": dense(d, 3 * d), "b_qkv": np.zeros(3 * d),
                "w_o": dense(d, d), "b_o": np.zeros(d),
                "ln2_g": np.ones(d), "ln2_b": np.zeros(d),
                "w_1": dense(d, 4 * d), "b_1": np.zeros(4 * d),
                "w_2": dense(4 * d, d), "b_2": np.zeros(d),
                "w_c": dense(d, c), "b_c": np.zeros(c)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        block = PortableBlock(xp, arrays, p)
        return block.step

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        return step_reference(*reference_step(inputs, p["heads"], bool(p["causal"]),
                                              learning_rate(p)))

    def compare(self, output: tuple[np.ndarray, ...], reference: Reference,
                p: Mapping[str, int], dtype: str, float32_math: str = "ieee") -> Check:
        reduction = max(p["batch"] * p["seq"], 4 * p["d_model"], p["seq"])
        return check_step(output, reference, WEIGHTS, dtype, reduction, float32_math)


def learning_rate(p: Mapping[str, int]) -> float:
    return LEARNING_RATE_SCALE / math.sqrt(p["d_model"])


def first_token_task(batch: int, seq: int, width: int, classes: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Token classification that needs attention: every token of a sequence is labelled
    with the symbol of the sequence's FIRST token (which also carries a marker), while
    each token shows a random symbol of its own. A token-by-token model cannot beat
    chance on all but the first; attending to the first token solves it. Causal
    attention sees the first token too."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, width))
    marker = rng.standard_normal(width)
    symbols = rng.integers(0, classes, (batch, seq))
    x = centres[symbols] + 0.5 * rng.standard_normal((batch, seq, width))
    x[:, 0] += marker
    labels = np.repeat(symbols[:, :1], seq, axis=1)
    return x, np.eye(classes)[labels]


class PortableBlock:
    """The encoder block's step on the array API: every product a GEMM over all N
    tokens (attention's batched over heads), the backward written by hand."""

    def __init__(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> None:
        self.xp, self.arrays = xp, dict(arrays)  # the step rebinds what it updates
        b, s, d, h = p["batch"], p["seq"], p["d_model"], p["heads"]
        self.b, self.s, self.d, self.h, self.dh = b, s, d, h, d // h
        self.n = b * s
        self.x = xp.reshape(arrays["x"], (self.n, d))
        self.y = xp.reshape(arrays["y"], (self.n, p["classes"]))
        self.attention = Attention(xp, self.x, b * h, s, self.dh, bool(p["causal"]))
        self.learning_rate = learning_rate(p)

    # -- pieces ---------------------------------------------------------------------------
    def layer_norm(self, x: Any, g: Any, beta: Any) -> tuple[Any, Any, Any]:
        xp = self.xp
        xhat = x - xp.mean(x, axis=1, keepdims=True)
        rstd = 1.0 / xp.sqrt(xp.mean(xhat * xhat, axis=1, keepdims=True) + LN_EPS)
        xhat *= rstd
        out = xhat * g
        out += beta
        return out, xhat, rstd

    def layer_norm_backward(self, dout: Any, xhat: Any, rstd: Any, g: Any
                            ) -> tuple[Any, Any, Any]:
        """∂x, ∂g, ∂β: ∂x = rstd·(∂x̂ − mean(∂x̂) − x̂·mean(∂x̂·x̂)) with ∂x̂ = ∂out·g; the
        two row means are products with g (mean(∂out·g) = ∂out·g / d), not passes."""
        xp = self.xp
        dout_xhat = dout * xhat
        mean = xp.reshape(xp.matmul(dout, g), (-1, 1)) / self.d
        mean_x = xp.reshape(xp.matmul(dout_xhat, g), (-1, 1)) / self.d
        dx = dout * g
        dx -= mean
        dx -= xhat * mean_x
        dx *= rstd
        return dx, xp.sum(dout_xhat, axis=0), xp.sum(dout, axis=0)

    def gelu(self, u: Any) -> tuple[Any, Any, Any]:
        """GELU (tanh form), ½·u·(1 + t) with t = tanh(c·u·(1 + k·u²)), in place where the
        array API allows; returns it, u² and t, which the backward reuses."""
        xp = self.xp
        u2 = u * u
        inner = u2 * (GELU_C * GELU_K)
        inner += GELU_C
        inner *= u
        t = xp.tanh(inner)
        out = t * 0.5
        out += 0.5
        out *= u
        return out, u2, t

    def gelu_backward(self, dout: Any, u: Any, u2: Any, t: Any) -> Any:
        """∂u = ∂out·½·(1 + t + c·u·(1 − t²)·(1 + 3k·u²))."""
        grad = u2 * (3 * GELU_K * GELU_C)
        grad += GELU_C
        grad *= u
        slope = t * t
        slope -= 1.0
        grad *= slope  # −c·u·(1 − t²)·(1 + 3k·u²)
        grad -= t
        grad -= 1.0
        grad *= -0.5
        grad *= dout
        return grad

    def heads(self, qkv: Any) -> Any:
        """(N, 3d) → (3, B·H, S, Dh): q, k and v, each head's rows contiguous."""
        xp = self.xp
        split = xp.permute_dims(xp.reshape(qkv, (self.b, self.s, 3, self.h, self.dh)),
                                (2, 0, 3, 1, 4))
        return xp.reshape(split, (3, self.b * self.h, self.s, self.dh))

    def merge(self, a: Any) -> Any:
        """(B·H, S, Dh) → (N, d)."""
        xp = self.xp
        a = xp.permute_dims(xp.reshape(a, (self.b, self.h, self.s, self.dh)), (0, 2, 1, 3))
        return xp.reshape(a, (self.n, self.d))

    def split(self, g: Any) -> Any:
        """(N, d) → (B·H, S, Dh), the adjoint of merge."""
        xp = self.xp
        g = xp.permute_dims(xp.reshape(g, (self.b, self.s, self.h, self.dh)), (0, 2, 1, 3))
        return xp.reshape(g, (self.b * self.h, self.s, self.dh))

    def unheads(self, dq: Any, dk: Any, dv: Any) -> Any:
        """Three (B·H, S, Dh) → (N, 3d), the adjoint of heads."""
        xp = self.xp
        g = xp.reshape(xp.stack((dq, dk, dv)), (3, self.b, self.h, self.s, self.dh))
        return xp.reshape(xp.permute_dims(g, (1, 3, 0, 2, 4)), (self.n, 3 * self.d))

    # -- the step -------------------------------------------------------------------------
    def dense(self, x: Any, w: Any, b: Any) -> Any:
        out = self.xp.matmul(x, w)
        out += b
        return out

    def step(self) -> tuple[Any, ...]:
        xp, w = self.xp, self.arrays
        x = self.x
        h1, xhat1, rstd1 = self.layer_norm(x, w["ln1_g"], w["ln1_b"])
        q, k, v = self.heads(self.dense(h1, w["w_qkv"], w["b_qkv"]))
        att, probs = self.attention.forward(q, k, v, keep=True)
        merged = self.merge(att)
        x2 = self.dense(merged, w["w_o"], w["b_o"])
        x2 += x
        h2, xhat2, rstd2 = self.layer_norm(x2, w["ln2_g"], w["ln2_b"])
        u = self.dense(h2, w["w_1"], w["b_1"])
        m, u2, t = self.gelu(u)
        out = self.dense(m, w["w_2"], w["b_2"])
        out += x2
        _, dlogits = softmax_cross_entropy(xp, self.dense(out, w["w_c"], w["b_c"]), self.y)
        grads = {"w_c": xp.matmul(out.T, dlogits), "b_c": xp.sum(dlogits, axis=0)}
        dout = xp.matmul(dlogits, w["w_c"].T)
        grads["w_2"], grads["b_2"] = xp.matmul(m.T, dout), xp.sum(dout, axis=0)
        du = self.gelu_backward(xp.matmul(dout, w["w_2"].T), u, u2, t)
        grads["w_1"], grads["b_1"] = xp.matmul(h2.T, du), xp.sum(du, axis=0)
        dx2, grads["ln2_g"], grads["ln2_b"] = self.layer_norm_backward(
            xp.matmul(du, w["w_1"].T), xhat2, rstd2, w["ln2_g"])
        dx2 += dout
        grads["w_o"], grads["b_o"] = xp.matmul(merged.T, dx2), xp.sum(dx2, axis=0)
        dq, dk, dv = self.attention.backward(self.split(xp.matmul(dx2, w["w_o"].T)),
                                             q, k, v, att, probs)
        dqkv = self.unheads(dq, dk, dv)
        grads["w_qkv"], grads["b_qkv"] = xp.matmul(h1.T, dqkv), xp.sum(dqkv, axis=0)
        _, grads["ln1_g"], grads["ln1_b"] = self.layer_norm_backward(
            xp.matmul(dqkv, w["w_qkv"].T), xhat1, rstd1, w["ln1_g"])
        for name in WEIGHTS:
            w[name] = sgd_update(w[name], grads[name], self.learning_rate)
        return tuple(w[name] for name in WEIGHTS)


@TransformerTrainStep.native(TorchBackend)
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """The same block with torch.nn.functional (layer_norm, scaled_dot_product_attention,
    gelu(approximate="tanh"), cross_entropy), autograd and torch.optim.SGD; gradients
    set to None each step so that no state grows between calls."""
    import torch
    import torch.nn.functional as F

    b, s, d, h = p["batch"], p["seq"], p["d_model"], p["heads"]
    n, causal = b * s, bool(p["causal"])
    x, y = arrays["x"], arrays["y"].reshape(n, p["classes"])
    params = [arrays[k].requires_grad_(True) for k in WEIGHTS]
    w = dict(zip(WEIGHTS, params, strict=True))
    optimizer = torch.optim.SGD(params, lr=learning_rate(p))

    def step() -> tuple[Any, ...]:
        optimizer.zero_grad(set_to_none=True)
        h1 = F.layer_norm(x, (d,), w["ln1_g"], w["ln1_b"], LN_EPS)
        qkv = (h1 @ w["w_qkv"] + w["b_qkv"]).reshape(b, s, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=causal)
        x2 = x + att.transpose(1, 2).reshape(b, s, d) @ w["w_o"] + w["b_o"]
        h2 = F.layer_norm(x2, (d,), w["ln2_g"], w["ln2_b"], LN_EPS)
        mlp = F.gelu(h2 @ w["w_1"] + w["b_1"], approximate="tanh") @ w["w_2"] + w["b_2"]
        logits = (x2 + mlp) @ w["w_c"] + w["b_c"]
        F.cross_entropy(logits.reshape(n, -1), y).backward()
        optimizer.step()
        return tuple(params)

    return step


def loss(xp: Any, arrays: Mapping[str, Any], heads: int, causal: bool) -> float:
    """Mean per-token cross-entropy of the current weights on the step's data (float64)."""
    host = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    return forward(host, heads, causal).loss


@TransformerTrainStep.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Any:
    """The same block with TensorFlow ops (layer norm from moments, attention from two
    batched products and a softmax, tf.nn.gelu(approximate=True)), tf.GradientTape and
    an SGD update of tf.Variables."""
    import tensorflow as tf

    b, s, d, h = p["batch"], p["seq"], p["d_model"], p["heads"]
    n, dh = b * s, d // h
    x, y = tf.reshape(arrays["x"], (n, d)), tf.reshape(arrays["y"], (n, p["classes"]))
    params = tuple(tf.Variable(arrays[k]) for k in WEIGHTS)
    w = dict(zip(WEIGHTS, params, strict=True))
    lr, scale = learning_rate(p), 1.0 / math.sqrt(dh)
    mask = None
    if p["causal"]:
        seen = tf.linalg.band_part(tf.ones((s, s), x.dtype), -1, 0)
        mask = tf.where(seen > 0, tf.zeros_like(seen), tf.fill((s, s), -math.inf))

    def layer_norm(v: Any, g: Any, beta: Any) -> Any:
        mean, var = tf.nn.moments(v, axes=[1], keepdims=True)
        return (v - mean) * tf.math.rsqrt(var + LN_EPS) * g + beta

    def loss() -> Any:
        h1 = layer_norm(x, w["ln1_g"], w["ln1_b"])
        qkv = tf.transpose(tf.reshape(h1 @ w["w_qkv"] + w["b_qkv"], (b, s, 3, h, dh)),
                           (2, 0, 3, 1, 4))
        scores = tf.matmul(qkv[0], qkv[1], transpose_b=True) * scale
        if mask is not None:
            scores = scores + mask
        att = tf.matmul(tf.nn.softmax(scores, axis=-1), qkv[2])  # (B, H, S, Dh)
        merged = tf.reshape(tf.transpose(att, (0, 2, 1, 3)), (n, d))
        x2 = x + merged @ w["w_o"] + w["b_o"]
        h2 = layer_norm(x2, w["ln2_g"], w["ln2_b"])
        mlp = tf.nn.gelu(h2 @ w["w_1"] + w["b_1"], approximate=True) @ w["w_2"] + w["b_2"]
        logits = (x2 + mlp) @ w["w_c"] + w["b_c"]
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def body() -> None:
        with tf.GradientTape() as tape:
            value = loss()
        for var, grad in zip(params, tape.gradient(value, params), strict=True):
            var.assign_sub(lr * grad)

    return Step(body, params)
