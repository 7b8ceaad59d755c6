"""How far a kernel's output may be from the float64 reference: unit roundoffs, the
tolerance of dot products, and the componentwise check every workload's `compare` uses."""

from __future__ import annotations

import math

import numpy as np

from dlbench.workloads.base import Check

# Unit roundoff u = 2^-(mantissa bits + 1) of each dtype.
UNIT_ROUNDOFF = {
    "float64": 2.0**-53,
    "float32": 2.0**-24,
    "float16": 2.0**-11,
    "bfloat16": 2.0**-8,
}
# Precision products are accumulated in: BLAS libraries accumulate float16/bfloat16
# products in float32 (MKL, oneDNN, OpenBLAS's sbgemm).
ACCUMULATION_DTYPE = {"float64": "float64", "float32": "float32", "float16": "float32",
                      "bfloat16": "float32"}
# TF32 (float32 on tensor cores) keeps 10 mantissa bits: u = 2^-11.
TF32_UNIT_ROUNDOFF = 2.0**-11
# Elements scaled_check compares at a time (64 Ki float64: 512 KiB, within L2).
CHECK_CHUNK = 1 << 16


def scaled_check(output: np.ndarray, reference: np.ndarray, scale: np.ndarray,
                 tol: float) -> Check:
    """Componentwise error relative to `scale` (e.g. |A|·|B| for a product).

    Errors of floating-point sums are bounded by a multiple of the sum of magnitudes,
    not of the result, which can be near zero by cancellation; dividing by the
    magnitudes keeps the check meaningful for every element.
    """
    if output.shape != reference.shape:
        return Check(False, math.inf, math.inf, tol)
    out, ref, magnitude = (np.ravel(a) for a in (output, reference, scale))
    tiny = np.finfo(np.float64).tiny
    max_abs = max_rel = 0.0
    # A chunk at a time: the float64 temporaries stay in cache rather than costing page
    # faults on fresh arrays the size of the output (2^24 float32 against float64:
    # 0.23–1.2 s whole, 0.08 s in chunks).
    for start in range(0, out.size, CHECK_CHUNK):
        part = slice(start, start + CHECK_CHUNK)
        got = out[part].astype(np.float64)
        if not np.all(np.isfinite(got)):
            return Check(False, math.inf, math.inf, tol)
        diff = np.abs(got - ref[part])
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float(np.max(diff / np.maximum(magnitude[part], tiny))))
    return Check(ok=max_rel <= tol, max_abs_err=max_abs, max_rel_err=max_rel, tol=tol)


def dot_tolerance(dtype: str, length: int, float32_math: str = "ieee") -> float:
    """Allowed componentwise error of dot products of `length` terms in `dtype`.

    Rounding the result to the output dtype costs u_out; accumulating `length`
    products costs about sqrt(length)·u_acc for random-sign data (the deterministic
    bound is length·u_acc, rarely approached by blocked BLAS). A factor 2 of slack on
    the accumulation term keeps honest kernels well inside the bound, while a
    lower-precision accumulation (TF32 instead of float32: u 2^-11 vs 2^-24) or a
    wrong kernel (errors of order 1) fails it.
    """
    u_out = UNIT_ROUNDOFF[dtype]
    u_acc = UNIT_ROUNDOFF[ACCUMULATION_DTYPE[dtype]]
    # With TF32 on, float32 inputs are rounded to TF32 on tensor cores: the products'
    # error is TF32's, so the accumulation term uses its unit roundoff.
    if dtype == "float32" and float32_math == "tf32":
        u_acc = TF32_UNIT_ROUNDOFF
    return u_out + 2.0 * math.sqrt(length) * u_acc
