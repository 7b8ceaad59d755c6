"""A one-off workload of a user's own, for `dlbench run --workload-file` (docs/extending.md):
RMSNorm over the rows of x, y = x / √(mean(x²) + ε) · g, in LLaMA's form.

It has no float64 reference yet, and says so (`verified = False`): dlbench then measures
it without checking its output, and every table and the headline call it unverified.

  dlbench run --workload-file examples/rmsnorm_workload.py --workload rmsnorm
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.kernels import Kernel
from dlbench.workloads import DEFAULT_SEED, Param, Workload, register

EPS = 1e-6


@register
class RmsNorm(Workload):
    name = "rmsnorm"
    description = "RMSNorm over rows: y = x / sqrt(mean(x²) + eps) · g (no reference yet)"
    params = (Param("rows", 4096, "rows (tokens)"), Param("width", 1024, "features per row"))
    size_params = ("rows",)
    flops_formula = "4·rows·width"
    verified = False

    def flops(self, p: Mapping[str, int]) -> float:
        return 4.0 * p["rows"] * p["width"]

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return float(2 * p["rows"] * p["width"] + p["width"]) * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return float(4 * p["rows"] * p["width"] * itemsize)

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        return {"x": rng.standard_normal((p["rows"], p["width"])),
                "g": rng.uniform(0.5, 1.5, p["width"])}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        x, g = arrays["x"], arrays["g"]

        def norm() -> Any:
            return x / xp.sqrt(xp.mean(x * x, axis=1, keepdims=True) + EPS) * g

        return norm
