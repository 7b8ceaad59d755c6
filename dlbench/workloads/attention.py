"""attention: multi-head scaled dot-product attention forward, softmax(q·kᵀ/√D)·v — the
kernel at the heart of a transformer (language).

Self-attention: queries and keys are the same sequence, so the score matrix is square
and a causal mask (each position sees itself and the positions before it) always
applies. FLOPs as FlashAttention's benchmark counts them: the two GEMMs,
4·B·S²·H·D, halved when causal (the masked half is work a kernel need not do); the
softmax's exp, max and sums (about 5 per score, against 4·D in the GEMMs) are left out.
The portable kernel (_attention.py) is the textbook algorithm in cache-sized blocks;
the native one is torch's fused scaled_dot_product_attention, whose backend (flash,
memory-efficient, cuDNN or math) torch chooses per call and the kernel records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.backends.torch import TorchBackend
from dlbench.errors import UsageError
from dlbench.kernels import Kernel, ReportingKernel, Step
from dlbench.workloads import register
from dlbench.workloads._attention import GPU_BLOCK_BYTES, Attention
from dlbench.workloads._training import chain_tolerance
from dlbench.workloads.base import DEFAULT_SEED, Check, Param, Reference, Workload
from dlbench.workloads.tolerances import scaled_check


@register
class MultiHeadAttention(Workload):
    name = "attention"
    description = ("multi-head scaled dot-product attention forward (language; BERT-base's "
                   "12 heads of 64 by default)")
    params = (
        Param("batch", 8, "sequences B"),
        Param("seq", 512, "sequence length S (queries and keys)"),
        Param("heads", 12, "attention heads H"),
        Param("head_dim", 64, "features per head D"),
        Param("causal", 0, "1: each position sees only itself and earlier ones", minimum=0),
    )
    size_params = ("seq",)
    flops_formula = "4·batch·seq²·heads·head_dim (÷2 when causal)"

    def validate(self, p: Mapping[str, int]) -> None:
        if p["causal"] not in (0, 1):
            raise UsageError(f"attention: causal must be 0 or 1, got {p['causal']}")

    def flops(self, p: Mapping[str, int]) -> float:
        full = 4.0 * p["batch"] * p["seq"] ** 2 * p["heads"] * p["head_dim"]
        return full / 2 if p["causal"] else full

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        # q, k, v read and the output written: all a fused kernel must move
        return 4.0 * p["batch"] * p["heads"] * p["seq"] * p["head_dim"] * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        b, s, h, d = p["batch"], p["seq"], p["heads"], p["head_dim"]
        # device: q, k, v, out and three score-sized arrays of a block (a GPU's blocks
        # are the largest); the float64 reference (one head at a time): six S×S arrays,
        # and the inputs, output and scale
        block = min(b * h * s * s * itemsize, GPU_BLOCK_BYTES)
        return float(4 * b * h * s * d * itemsize + 3 * block + (6 * s * s + 8 * b * h * s * d) * 8)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        shape = (p["batch"], p["heads"], p["seq"], p["head_dim"])
        return {name: rng.standard_normal(shape) for name in ("q", "k", "v")}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        b, s, h, d = p["batch"], p["seq"], p["heads"], p["head_dim"]
        q, k, v = (xp.reshape(arrays[n], (b * h, s, d)) for n in ("q", "k", "v"))
        attention = Attention(xp, q, b * h, s, d, bool(p["causal"]))

        def kernel() -> Any:
            out, _ = attention.forward(q, k, v)
            return xp.reshape(out, (b, h, s, d))

        return kernel

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        out, scale = reference_attention(inputs["q"], inputs["k"], inputs["v"],
                                         bool(p["causal"]))
        return {"out": out, "scale": scale}

    def compare(self, output: np.ndarray, reference: Reference, p: Mapping[str, int],
                dtype: str, float32_math: str = "ieee") -> Check:
        tol = chain_tolerance(dtype, max(p["seq"], p["head_dim"]), float32_math)
        return scaled_check(np.asarray(output), reference["out"], reference["scale"], tol)


def reference_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool
                        ) -> tuple[np.ndarray, np.ndarray]:
    """float64 attention over whole score matrices, one head of one sequence at a time
    (independent of the blocked portable kernel), and the scale of its rounding errors.

    With A = |q|·|k|ᵀ/√D, a score's error is at most ε·A (a dot product of D terms); the
    softmax turns it into δP_ij ≤ P_ij·ε·(A_ij + Σ_k P_ik·A_ik), and the product with v
    adds its own ε·P·|v|. So each output element's error scale, in units of ε, is
    P·|v| + (P⊙A)·|v| + (Σ_k P_ik·A_ik)·(P·|v|)."""
    seq, d = q.shape[-2:]
    keep = np.tril(np.ones((seq, seq), dtype=bool)) if causal else np.ones((seq, seq), bool)
    out, scale = np.empty_like(q), np.empty_like(q)
    for n, h in np.ndindex(q.shape[:2]):
        s = np.where(keep, q[n, h] @ k[n, h].T / np.sqrt(d), -np.inf)
        a = np.abs(q[n, h]) @ np.abs(k[n, h]).T / np.sqrt(d)
        prob = np.exp(s - s.max(axis=-1, keepdims=True))
        prob /= prob.sum(axis=-1, keepdims=True)
        pa = prob * a
        p_v = prob @ np.abs(v[n, h])
        out[n, h] = prob @ v[n, h]
        scale[n, h] = p_v + pa @ np.abs(v[n, h]) + pa.sum(axis=-1, keepdims=True) * p_v
    return out, scale


def sdpa_backend(q: Any, k: Any, v: Any, causal: bool) -> str:
    """Which backend torch's scaled_dot_product_attention chooses for these arrays, as
    torch's own dispatcher answers (torch._fused_sdp_choice, what SDPA itself calls):
    'flash_attention', 'efficient_attention', 'cudnn_attention' or 'math'; 'unknown'
    where this torch does not say."""
    import torch

    choose = getattr(torch, "_fused_sdp_choice", None)
    if choose is None:
        return "unknown"
    try:
        from torch.nn.attention import SDPBackend

        return SDPBackend(choose(q, k, v, is_causal=causal)).name.lower()
    except Exception:  # a torch whose private API moved: say so, never fail the case
        return "unknown"


class TorchSdpa(ReportingKernel):
    """torch.nn.functional.scaled_dot_product_attention on the (B, H, S, D) arrays; its
    note is the backend torch chose for them, `sdpa_backend`."""

    def __init__(self, q: Any, k: Any, v: Any, causal: bool) -> None:
        import torch.nn.functional as F

        self.sdpa, self.q, self.k, self.v, self.causal = (
            F.scaled_dot_product_attention, q, k, v, causal)

    def __call__(self) -> Any:
        return self.sdpa(self.q, self.k, self.v, is_causal=self.causal)

    def notes(self) -> Mapping[str, Any]:
        return {"sdpa_backend": sdpa_backend(self.q, self.k, self.v, self.causal)}


@MultiHeadAttention.native(TorchBackend)
def torch_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    return TorchSdpa(arrays["q"], arrays["k"], arrays["v"], bool(p["causal"]))


@MultiHeadAttention.native(TensorflowBackend)
def tensorflow_native(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Any:
    """softmax(q·kᵀ/√D [+ causal mask])·v with TensorFlow ops on the (B, H, S, D) arrays
    (TensorFlow has no fused attention op outside Keras)."""
    import math

    import tensorflow as tf

    q, k, v = arrays["q"], arrays["k"], arrays["v"]
    s = p["seq"]
    scale = 1.0 / math.sqrt(p["head_dim"])
    mask = None
    if p["causal"]:
        seen = tf.linalg.band_part(tf.ones((s, s), q.dtype), -1, 0)  # the lower triangle
        mask = tf.where(seen > 0, tf.zeros_like(seen), tf.fill((s, s), -math.inf))

    def body() -> Any:
        scores = tf.matmul(q, k, transpose_b=True) * scale
        if mask is not None:
            scores = scores + mask
        return tf.matmul(tf.nn.softmax(scores, axis=-1), v)

    return Step(body)
