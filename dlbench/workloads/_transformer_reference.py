"""The float64 reference of transformer_train_step: one step, and the scale of each
updated array's rounding errors.

Independent of the portable kernel: four-dimensional einsums per head, attention one
sequence at a time over whole score matrices (no blocks), its own LayerNorm and GELU.

Error scales are magnitudes, |w| + lr·M(∂w), where M(∂w) is the gradient's last
product evaluated on magnitudes, |activation|ᵀ·M(δ), and M(δ) the magnitude of the
operation that made the incoming gradient δ, evaluated on the true values of its own
inputs: each operation's own sum of magnitudes, which is what its rounding errors scale
with. Magnitudes are not compounded through the whole block: taken through six GEMMs
they would grow like √K per layer (by about 10⁶ here) and accept any gradient. Errors
arriving from earlier operations are random-signed and are covered by the step
tolerance's factor (measured: the worst honest error is below a tenth of it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlbench.workloads._reference import einsum as _einsum

# The block's constants, here with the reference that defines what the kernels compute:
# torch's LayerNorm epsilon, and GELU's tanh form c·(u + k·u³).
LN_EPS = 1e-5
GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715
WEIGHTS = ("ln1_g", "ln1_b", "w_qkv", "b_qkv", "w_o", "b_o", "ln2_g", "ln2_b",
           "w_1", "b_1", "w_2", "b_2", "w_c", "b_c")


def _layer_norm(x: np.ndarray, g: np.ndarray, beta: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xc = x - x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt((xc ** 2).mean(axis=-1, keepdims=True) + LN_EPS)
    return xc * rstd * g + beta, xc * rstd, rstd


def _attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """(B, S, H, Dh) arrays → output (B, S, H, Dh) and probabilities (B, H, S, S)."""
    seq, dh = q.shape[1], q.shape[3]
    keep = np.tril(np.ones((seq, seq), dtype=bool)) if causal else np.ones((seq, seq), bool)
    out, probs = np.empty_like(q), np.empty((q.shape[0], q.shape[2], seq, seq))
    for n in range(q.shape[0]):
        s = np.where(keep, _einsum("shd,thd->hst", q[n], k[n]) / np.sqrt(dh), -np.inf)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        probs[n] = e / e.sum(axis=-1, keepdims=True)
        out[n] = _einsum("hst,thd->shd", probs[n], v[n])
    return out, probs


@dataclass
class Forward:
    """Every activation of the reference forward, (B, S, ·) shaped."""

    x: np.ndarray
    h1: np.ndarray
    xhat1: np.ndarray
    rstd1: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    probs: np.ndarray
    att: np.ndarray
    merged: np.ndarray
    x2: np.ndarray
    h2: np.ndarray
    xhat2: np.ndarray
    rstd2: np.ndarray
    u: np.ndarray
    t: np.ndarray
    m: np.ndarray
    out: np.ndarray
    prob: np.ndarray
    loss: float


def forward(a: Mapping[str, np.ndarray], heads: int, causal: bool) -> Forward:
    x = a["x"]
    b, s, d = x.shape
    h1, xhat1, rstd1 = _layer_norm(x, a["ln1_g"], a["ln1_b"])
    qkv = (_einsum("bsd,de->bse", h1, a["w_qkv"]) + a["b_qkv"]).reshape(b, s, 3, heads, -1)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    att, probs = _attention(q, k, v, causal)
    merged = att.reshape(b, s, d)
    x2 = x + _einsum("bsd,de->bse", merged, a["w_o"]) + a["b_o"]
    h2, xhat2, rstd2 = _layer_norm(x2, a["ln2_g"], a["ln2_b"])
    u = _einsum("bsd,de->bse", h2, a["w_1"]) + a["b_1"]
    t = np.tanh(GELU_C * (u + GELU_K * u ** 3))
    m = 0.5 * u * (1 + t)
    out = x2 + _einsum("bse,ed->bsd", m, a["w_2"]) + a["b_2"]
    logits = _einsum("bsd,dc->bsc", out, a["w_c"]) + a["b_c"]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = float(-(a["y"] * log_prob).sum() / (b * s))
    return Forward(x, h1, xhat1, rstd1, q, k, v, probs, att, merged, x2, h2, xhat2, rstd2,
                   u, t, m, out, np.exp(log_prob), loss)


def _tokens(z: np.ndarray) -> np.ndarray:
    return z.reshape(-1, z.shape[-1])


def _dense(inputs: np.ndarray, delta: np.ndarray, m_delta: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A dense layer's weight and bias gradients and their magnitudes."""
    x2, d2, m2 = _tokens(inputs), _tokens(delta), _tokens(m_delta)
    return (_einsum("ni,no->io", x2, d2), d2.sum(axis=0),
            np.abs(x2).T @ m2, m2.sum(axis=0))


def _back_dense(delta: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """∂input of a dense layer and its magnitude."""
    return _einsum("bso,io->bsi", delta, w), np.abs(delta) @ np.abs(w).T


def _layer_norm_backward(dout: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, g: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    dxhat = dout * g
    mean, mean_x = dxhat.mean(axis=-1, keepdims=True), (dxhat * xhat).mean(axis=-1,
                                                                          keepdims=True)
    mag = rstd * (np.abs(dxhat) + np.abs(dxhat).mean(axis=-1, keepdims=True)
                  + np.abs(xhat) * np.abs(dxhat * xhat).mean(axis=-1, keepdims=True))
    return rstd * (dxhat - mean - xhat * mean_x), mag


def _norm_params(dout: np.ndarray, m_dout: np.ndarray, xhat: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A LayerNorm's ∂g, ∂β and their magnitudes."""
    d2, m2, x2 = _tokens(dout), _tokens(m_dout), _tokens(xhat)
    return (d2 * x2).sum(axis=0), d2.sum(axis=0), (m2 * np.abs(x2)).sum(axis=0), m2.sum(axis=0)


def _attention_backward(f: Forward, datt: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """∂q, ∂k, ∂v stacked as (B, S, 3, H, Dh), and the magnitudes."""
    dh = f.q.shape[-1]
    grads = np.empty(f.q.shape[:2] + (3,) + f.q.shape[2:])
    mags = np.empty_like(grads)
    for n in range(f.q.shape[0]):
        p, q, k, v, o, g = f.probs[n], f.q[n], f.k[n], f.v[n], f.att[n], datt[n]
        dp = _einsum("shd,thd->hst", g, v)
        delta = _einsum("shd,shd->hs", g, o)[..., None]
        ds = p * (dp - delta)
        m_ds = p * (_einsum("shd,thd->hst", np.abs(g), np.abs(v))
                    + _einsum("shd,shd->hs", np.abs(g), np.abs(o))[..., None])
        grads[n, :, 0] = _einsum("hst,thd->shd", ds, k) / np.sqrt(dh)
        grads[n, :, 1] = _einsum("hst,shd->thd", ds, q) / np.sqrt(dh)
        grads[n, :, 2] = _einsum("hst,shd->thd", p, g)
        mags[n, :, 0] = _einsum("hst,thd->shd", m_ds, np.abs(k)) / np.sqrt(dh)
        mags[n, :, 1] = _einsum("hst,shd->thd", m_ds, np.abs(q)) / np.sqrt(dh)
        mags[n, :, 2] = _einsum("hst,shd->thd", p, np.abs(g))
    return grads, mags


def reference_step(a: Mapping[str, np.ndarray], heads: int, causal: bool,
                   learning_rate: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One float64 SGD step: the new arrays, and the scale of each one's rounding errors."""
    f = forward(a, heads, causal)
    b, s, d = f.x.shape
    g: dict[str, np.ndarray] = {}
    mg: dict[str, np.ndarray] = {}
    dlogits = (f.prob - a["y"]) / (b * s)
    m_dlogits = (f.prob + a["y"]) / (b * s)
    g["w_c"], g["b_c"], mg["w_c"], mg["b_c"] = _dense(f.out, dlogits, m_dlogits)
    dout, m_dout = _back_dense(dlogits, a["w_c"])
    g["w_2"], g["b_2"], mg["w_2"], mg["b_2"] = _dense(f.m, dout, m_dout)
    dm, m_dm = _back_dense(dout, a["w_2"])
    slope = np.abs(0.5 * (1 + f.t)) + np.abs(
        0.5 * f.u * (1 - f.t ** 2) * GELU_C * (1 + 3 * GELU_K * f.u ** 2))
    du = dm * (0.5 * (1 + f.t) + 0.5 * f.u * (1 - f.t ** 2) * GELU_C
               * (1 + 3 * GELU_K * f.u ** 2))
    m_du = m_dm * slope
    g["w_1"], g["b_1"], mg["w_1"], mg["b_1"] = _dense(f.h2, du, m_du)
    dh2, m_dh2 = _back_dense(du, a["w_1"])
    g["ln2_g"], g["ln2_b"], mg["ln2_g"], mg["ln2_b"] = _norm_params(dh2, m_dh2, f.xhat2)
    dx2_ln, m_dx2_ln = _layer_norm_backward(dh2, f.xhat2, f.rstd2, a["ln2_g"])
    dx2, m_dx2 = dout + dx2_ln, np.abs(dout) + m_dx2_ln
    g["w_o"], g["b_o"], mg["w_o"], mg["b_o"] = _dense(f.merged, dx2, m_dx2)
    dmerged, _ = _back_dense(dx2, a["w_o"])
    dqkv, m_dqkv = _attention_backward(f, dmerged.reshape(f.att.shape))
    dqkv, m_dqkv = dqkv.reshape(b, s, 3 * d), m_dqkv.reshape(b, s, 3 * d)
    g["w_qkv"], g["b_qkv"], mg["w_qkv"], mg["b_qkv"] = _dense(f.h1, dqkv, m_dqkv)
    dh1, m_dh1 = _back_dense(dqkv, a["w_qkv"])
    g["ln1_g"], g["ln1_b"], mg["ln1_g"], mg["ln1_b"] = _norm_params(dh1, m_dh1, f.xhat1)
    new = {k: a[k] - learning_rate * g[k] for k in WEIGHTS}
    scale = {k: np.abs(a[k]) + learning_rate * mg[k] for k in WEIGHTS}
    return new, scale
