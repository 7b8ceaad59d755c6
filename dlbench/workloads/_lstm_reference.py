"""The float64 reference of the LSTM workloads (lstm.py): the forward gate by gate, with
its own loops and products (independent of the portable kernel's fused GEMMs), one SGD
step of the frame classifier through time, and beside every value the scale its
rounding errors have, which the checks divide by."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dlbench.workloads._reference import einsum as _einsum

LEARNING_RATE = 0.5
WEIGHTS = ("w_ih", "w_hh", "b_ih", "b_hh", "w_out", "b_out")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class ReferenceForward:
    """A float64 LSTM forward, written gate by gate (four weight blocks, four products
    per step; independent of the portable fused GEMM), and beside each value the scale
    its rounding errors have, in units of one product's relative error.

    The error model is first order and local: a pre-activation z is a dot product, whose
    error scales with its sum of magnitudes |x|·|W_ih|ᵀ + |h|·|W_hh|ᵀ + |b|; a gate's
    error is that times the gate's derivative; the cell state adds the errors of its
    products and carries its own error forward multiplied by f (< 1, so it stays
    bounded); h = o·tanh(c) adds the errors of o and of c. The error a step inherits
    through h_{t−1}·W_hh is left out: W_hh's entries are ±1/√H, so that product of a
    random-sign error shrinks it, and the sigmoid's derivative (≤ ¼) shrinks it again.
    """

    def __init__(self, a: Mapping[str, np.ndarray]) -> None:
        x, w_ih, w_hh = a["x"], a["w_ih"], a["w_hh"]
        t_len, batch, _ = x.shape
        hidden = w_hh.shape[1]
        blocks = [slice(k * hidden, (k + 1) * hidden) for k in range(4)]
        bias = a["b_ih"] + a["b_hh"]
        mag_bias = np.abs(a["b_ih"]) + np.abs(a["b_hh"])
        abs_x, abs_w_ih, abs_w_hh = np.abs(x), np.abs(w_ih), np.abs(w_hh)
        h = np.zeros((batch, hidden))
        c, c_scale = np.zeros_like(h), np.zeros_like(h)
        self.h, self.h_scale, self.c, self.c_scale = [h], [h], [c], [c]
        self.gates: list[tuple[np.ndarray, ...]] = []
        self.gate_scale: list[tuple[np.ndarray, ...]] = []
        for t in range(t_len):
            pre, mag = [], []
            for s in blocks:
                pre.append(x[t] @ w_ih[s].T + h @ w_hh[s].T + bias[s])
                mag.append(abs_x[t] @ abs_w_ih[s].T + np.abs(h) @ abs_w_hh[s].T + mag_bias[s])
            i, f, o = _sigmoid(pre[0]), _sigmoid(pre[1]), _sigmoid(pre[3])
            g = np.tanh(pre[2])
            e_i, e_f, e_o = (s * (1 - s) * m for s, m in ((i, mag[0]), (f, mag[1]), (o, mag[3])))
            e_g = (1 - g * g) * mag[2]
            c_new = f * c + i * g
            c_scale = (f * c_scale + np.abs(c) * e_f + np.abs(g) * e_i + i * e_g
                       + np.abs(f * c) + np.abs(i * g))
            c = c_new
            tanh_c = np.tanh(c)
            h = o * tanh_c
            self.h_scale.append(np.abs(tanh_c) * e_o + o * (1 - tanh_c ** 2) * c_scale
                                + np.abs(h))
            self.h.append(h)
            self.c.append(c)
            self.c_scale.append(c_scale)
            self.gates.append((i, f, g, o))
            self.gate_scale.append((e_i, e_f, e_g, e_o))


def reference_forward(a: Mapping[str, np.ndarray]) -> ReferenceForward:
    return ReferenceForward(a)


def _frames(v: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(v, axis=0)  # (T·B, …), frame-major as the data


def reference_step(a: Mapping[str, np.ndarray]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One float64 step, and for each updated array the magnitude its rounding errors
    scale with: |w| + lr·(the gradient's computation done on magnitudes).

    Magnitudes are first order and local, like the forward's: every value the backward
    reads from the forward is taken as |value| + its error scale, each product or sum
    as the sum of its terms' magnitudes, while what a step receives from the next one
    through time (∂h, ∂c) is the reference's own value, not a magnitude compounded
    over T steps: that would grow like (√H)^T and accept anything.
    """
    fwd = ReferenceForward(a)
    w_hh, w_out, y = a["w_hh"], a["w_out"], a["y"]
    t_len, batch, classes = y.shape
    hidden = w_hh.shape[1]
    top = _frames(fwd.h[1:])
    top_mag = _frames([np.abs(h) + s for h, s in zip(fwd.h[1:], fwd.h_scale[1:], strict=True)])
    logits = top @ w_out + a["b_out"]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = exp / exp.sum(axis=1, keepdims=True)
    frames_n = t_len * batch
    y2 = y.reshape(frames_n, classes)
    dlogits = (prob - y2) / frames_n
    # δp ≈ p·δlogit, and the logits' error scales with |h|·|W_out|.
    m_dlogits = (prob * (1 + top_mag @ np.abs(w_out)) + y2) / frames_n
    dtop = (dlogits @ w_out.T).reshape(t_len, batch, hidden)
    m_dtop = (m_dlogits @ np.abs(w_out).T).reshape(t_len, batch, hidden)
    dz, m_dz = _reference_bptt(fwd, w_hh, dtop, m_dtop)
    x2 = a["x"].reshape(frames_n, -1)
    h_prev = _frames(fwd.h[:-1])
    h_prev_mag = _frames([np.abs(h) + s for h, s in zip(fwd.h[:-1], fwd.h_scale[:-1],
                                                         strict=True)])
    grads = {"w_ih": _einsum("ng,ni->gi", dz, x2), "w_hh": _einsum("ng,nh->gh", dz, h_prev),
             "b_ih": dz.sum(axis=0), "b_hh": dz.sum(axis=0),
             "w_out": _einsum("nh,nc->hc", top, dlogits), "b_out": dlogits.sum(axis=0)}
    mags = {"w_ih": m_dz.T @ np.abs(x2), "w_hh": m_dz.T @ h_prev_mag,
            "b_ih": m_dz.sum(axis=0), "b_hh": m_dz.sum(axis=0),
            "w_out": top_mag.T @ m_dlogits, "b_out": m_dlogits.sum(axis=0)}
    new = {k: a[k] - LEARNING_RATE * grads[k] for k in WEIGHTS}
    scale = {k: np.abs(a[k]) + LEARNING_RATE * mags[k] for k in WEIGHTS}
    return new, scale


def _reference_bptt(fwd: ReferenceForward, w_hh: np.ndarray, dtop: np.ndarray,
                    m_dtop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """∂loss/∂z per frame (T·B, 4H), gate by gate, and its magnitude."""
    t_len = dtop.shape[0]
    hidden = w_hh.shape[1]
    blocks = [w_hh[k * hidden:(k + 1) * hidden] for k in range(4)]
    abs_blocks = [np.abs(w) for w in blocks]
    dh_next = dc_next = m_dh_next = np.zeros_like(dtop[0])
    dzs, m_dzs = [None] * t_len, [None] * t_len
    for t in reversed(range(t_len)):
        i, f, g, o = fwd.gates[t]
        e_i, e_f, e_g, e_o = fwd.gate_scale[t]
        c_prev, tanh_c = fwd.c[t], np.tanh(fwd.c[t + 1])
        dh = dtop[t] + dh_next
        m_dh = m_dtop[t] + m_dh_next
        dc = dc_next + dh * o * (1 - tanh_c ** 2)
        e_tanh_c = (1 - tanh_c ** 2) * fwd.c_scale[t + 1]
        m_dc = np.abs(dc_next) + m_dh * (o + e_o)
        dz = [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
              dh * tanh_c * o * (1 - o)]
        # each gate's derivative is evaluated at a value with an error: magnitude + scale
        m_dz = [m_dc * (np.abs(g) + e_g) * (i * (1 - i) + e_i),
                m_dc * (np.abs(c_prev) + fwd.c_scale[t]) * (f * (1 - f) + e_f),
                m_dc * (i + e_i) * (1 - g * g + e_g),
                m_dh * (np.abs(tanh_c) + e_tanh_c) * (o * (1 - o) + e_o)]
        dzs[t], m_dzs[t] = np.concatenate(dz, axis=1), np.concatenate(m_dz, axis=1)
        dh_next = sum(d @ w for d, w in zip(dz, blocks, strict=True))
        m_dh_next = sum(np.abs(d) @ w for d, w in zip(dz, abs_blocks, strict=True))
        dc_next = dc * f
    return _frames(dzs), _frames(m_dzs)

