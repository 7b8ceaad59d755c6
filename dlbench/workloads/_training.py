"""What the training-step workloads share: labelled synthetic data and the step check."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from dlbench.workloads.base import Check, Reference
from dlbench.workloads.tolerances import (
    ACCUMULATION_DTYPE,
    UNIT_ROUNDOFF,
    dot_tolerance,
    scaled_check,
)

# A step chains three products (forward, output gradient, weight gradient) and an
# exp/log; each can cost the error of one product, and low precision adds rounding of
# every intermediate: a factor of a few over one product's tolerance covers honest
# kernels while a wrong gradient (errors of order one) fails by orders of magnitude.
STEP_TOLERANCE_FACTOR = 4.0
# Extra slack for bfloat16/float16 steps, whose activations, softmax and updates are
# each rounded to 8 (or 11) bits: measured errors stay within a few units of u_out.
LOW_PRECISION_INTERMEDIATES = 4.0


def labelled_data(batch: int, features: int, classes: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable classes: each class is a Gaussian blob around its own centre,
    so a few dozen steps visibly lower the loss."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, features)) * 1.5
    labels = rng.integers(0, classes, batch)
    x = centres[labels] + rng.standard_normal((batch, features))
    return x, np.eye(classes)[labels]


def step_reference(new: Mapping[str, np.ndarray], scale: Mapping[str, np.ndarray]
                   ) -> Reference:
    """A float64 step as one reference: each updated array and its error scale."""
    return {**{f"new.{k}": v for k, v in new.items()},
            **{f"scale.{k}": v for k, v in scale.items()}}


def check_step(output: Sequence[np.ndarray], reference: Reference, names: Sequence[str],
               dtype: str, length: int, float32_math: str = "ieee") -> Check:
    """Every updated array against the float64 step (step_reference), errors relative
    to its scale; the worst array decides."""
    tol = STEP_TOLERANCE_FACTOR * dot_tolerance(dtype, length, float32_math)
    if ACCUMULATION_DTYPE[dtype] != dtype:
        tol += LOW_PRECISION_INTERMEDIATES * UNIT_ROUNDOFF[dtype]
    if len(output) != len(names):
        return Check(False, math.inf, math.inf, tol)
    checks = [scaled_check(np.asarray(got), reference[f"new.{name}"],
                           reference[f"scale.{name}"], tol)
              for got, name in zip(output, names, strict=True)]
    return Check(all(c.ok for c in checks), max(c.max_abs_err for c in checks),
                 max(c.max_rel_err for c in checks), tol)


def chain_tolerance(dtype: str, length: int, float32_math: str = "ieee") -> float:
    """The tolerance of a chain of products and nonlinearities (a training step, a
    recurrence, an attention layer) whose error scale the caller has propagated: the
    same factors as check_step's, for a check of one output array."""
    tol = STEP_TOLERANCE_FACTOR * dot_tolerance(dtype, length, float32_math)
    if ACCUMULATION_DTYPE[dtype] != dtype:
        tol += LOW_PRECISION_INTERMEDIATES * UNIT_ROUNDOFF[dtype]
    return tol
