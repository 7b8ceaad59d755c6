"""What the float64 NumPy references share."""

from __future__ import annotations

import numpy as np


def einsum(spec: str, *operands: np.ndarray) -> np.ndarray:
    """np.einsum with optimize=True, which hands contractions to BLAS: without it a
    reference of a standard-suite case (an LSTM of 2048 units, 25 steps) runs its
    products in einsum's own loops, for minutes."""
    return np.einsum(spec, *operands, optimize=True)
