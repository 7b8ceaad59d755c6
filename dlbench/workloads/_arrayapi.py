"""Array-API building blocks shared by the portable kernels.

Written once against the Python array API (array_api_compat namespaces), so NumPy,
CuPy, PyTorch and JAX run the same code. The standard has no pad and no convolution: both
are built from slicing, stacking and one matrix product, never from a Python loop
over pixels (only over the R·S kernel offsets, which are few).

Writes into reused buffers and in-place weight updates are what make the kernels fast
on NumPy, CuPy and torch, but JAX arrays are immutable. Every such write goes through
one of the helpers here, which write in place where the array allows it and otherwise
return a new array (array_api_extra's `at`, JAX's `.at[]` underneath); callers always
use the returned array, so one kernel serves both kinds of library.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import array_api_extra as xpx
import numpy as np

# Whether arrays of a type can be written in place, asked once per type: every write of
# a kernel asks, and array_api_compat's check costs about a microsecond on torch.
_WRITABLE_BY_TYPE: dict[type, bool] = {}


def writable(x: Any) -> bool:
    """Can x be written in place? (False for JAX arrays.)"""
    if isinstance(x, np.ndarray):  # per array: a NumPy view may be read-only
        return bool(x.flags.writeable)
    kind = type(x)
    if kind not in _WRITABLE_BY_TYPE:
        _WRITABLE_BY_TYPE[kind] = bool(array_api_compat.is_writeable_array(x))
    return _WRITABLE_BY_TYPE[kind]


def pad_into(buffer: Any, x: Any, pad: int) -> Any:
    """Copy x into the interior of a zero-bordered buffer allocated once by the caller
    (the border stays zero), and return the buffer (a new array where the buffer is
    immutable)."""
    h, w = x.shape[-2], x.shape[-1]
    if writable(buffer):
        buffer[..., pad:pad + h, pad:pad + w] = x
        return buffer
    return xpx.at(buffer)[..., pad:pad + h, pad:pad + w].set(x)


def set_at(x: Any, index: Any, value: Any) -> Any:
    """x[index] = value, in place where x allows it; returns the updated array."""
    if writable(x):
        x[index] = value
        return x
    return xpx.at(x)[index].set(value)


def add_at(x: Any, index: Any, value: Any) -> Any:
    """x[index] += value, in place where x allows it; returns the updated array."""
    if writable(x):
        x[index] += value
        return x
    return xpx.at(x)[index].add(value)


def out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


# The portable convolutions work channels-first, (C, N, H, W): the im2col matrix is then
# (C·R·S, N·Ho·Wo) without a transposing copy, the whole layer is ONE large GEMM
# (K × C·R·S × N·Ho·Wo, the shape BLAS runs fastest) and its (K, N·Ho·Wo) output is
# already the channels-first input of the next layer.

def cols_buffer(xp: Any, c: int, r: int, s: int, n: int, ho: int, wo: int, like: Any) -> Any:
    """The im2col matrix's storage, allocated once per kernel: a fresh 100 MB array per
    call would spend as long in page faults as in copying (measured: NumPy's stack of
    the slices took 24 ms where filling a reused buffer took 14 ms)."""
    return xp.empty((c, r * s, n, ho, wo), dtype=like.dtype, device=device_of(like))


def im2col(xp: Any, xpad: Any, cols: Any, r: int, s: int, stride: int, ho: int, wo: int
           ) -> Any:
    """(C, N, Hp, Wp) → (C·R·S, N·Ho·Wo) in `cols` (from cols_buffer): one strided slice
    per kernel offset. Positive-step slices only: torch rejects negative steps."""
    c, n = xpad.shape[0], xpad.shape[1]
    if writable(cols):
        for i in range(r):
            for j in range(s):
                cols[:, i * s + j] = xpad[:, :, i:i + stride * (ho - 1) + 1:stride,
                                          j:j + stride * (wo - 1) + 1:stride]
    else:  # immutable arrays: one stack, not R·S copies of the whole buffer
        cols = xp.stack([xpad[:, :, i:i + stride * (ho - 1) + 1:stride,
                              j:j + stride * (wo - 1) + 1:stride]
                         for i in range(r) for j in range(s)], axis=1)
    return xp.reshape(cols, (c * r * s, n * ho * wo))


def col2im(xp: Any, dcols: Any, c: int, r: int, s: int, n: int, h: int, w: int,
           pad: int) -> Any:
    """Adjoint of im2col for stride 1: (C·R·S, N·H·W) → (C, N, H, W) input gradient,
    accumulating the R·S shifted slices into a padded buffer."""
    parts = xp.reshape(dcols, (c, r * s, n, h, w))
    dxpad = xp.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype,
                     device=device_of(dcols))
    for i in range(r):
        for j in range(s):
            dxpad = add_at(dxpad, (slice(None), slice(None), slice(i, i + h),
                                   slice(j, j + w)), parts[:, i * s + j])
    return dxpad[:, :, pad:pad + h, pad:pad + w]


def conv2d_forward(xp: Any, xpad: Any, cols: Any, weights: Any, r: int, s: int,
                   stride: int, ho: int, wo: int) -> tuple[Any, Any]:
    """Convolution as im2col + one matrix product: returns (out, cols), out of shape
    (K, N·Ho·Wo); cols (the 2-D view of the buffer) is kept for the weight gradient."""
    k = weights.shape[0]
    cols = im2col(xp, xpad, cols, r, s, stride, ho, wo)
    return xp.matmul(xp.reshape(weights, (k, cols.shape[0])), cols), cols


def softmax_cross_entropy(xp: Any, logits: Any, onehot: Any) -> tuple[Any, Any]:
    """(mean loss, gradient of the mean loss w.r.t. logits), numerically stable."""
    batch = logits.shape[0]
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    exp = xp.exp(shifted)
    total = xp.sum(exp, axis=1, keepdims=True)
    loss = -xp.sum(onehot * (shifted - xp.log(total))) / batch
    return loss, (exp / total - onehot) / batch


def sgd_update(param: Any, grad: Any, learning_rate: float) -> Any:
    """param − lr·grad, written in place as an optimizer does (the step's memory stays
    constant and the caller's array is the one updated) where param allows it; the new
    array otherwise. Callers keep the returned array either way."""
    if writable(param):
        param -= learning_rate * grad
        return param
    return param - learning_rate * grad


def relu_grad(xp: Any, grad: Any, pre: Any) -> Any:
    return grad * xp.astype(pre > 0, grad.dtype)


def device_of(x: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(x)
