"""A kernel whose amount of work the environment sets: the injected slowdown of the gate's
power check (benchmarks/gate_calibration.py), from outside dlbench's own code.

`extra_work` multiplies two n×n matrices `reps` times per call; with EXTRA_WORK=1.15 in a
run's environment it does 15% more multiplications (round(reps · 1.15)), as a change to a
model that adds work would. Its other cases in the same runs are the A/A control.

  python benchmarks/gate_calibration.py --runs 20 --inject EXTRA_WORK=1.15 -- \\
      --workload-file benchmarks/injected_work.py \\
      --workload matmul,conv2d,mlp_train_step,bandwidth,extra_work
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.kernels import Kernel
from dlbench.workloads import DEFAULT_SEED, Param, Workload, register

FACTOR_VARIABLE = "EXTRA_WORK"


def repetitions(p: Mapping[str, int]) -> int:
    return round(p["reps"] * float(os.environ.get(FACTOR_VARIABLE, "1")))


@register
class ExtraWork(Workload):
    name = "extra_work"
    description = "reps n×n matmuls per call; EXTRA_WORK=1.15 makes it 15% more (gate check)"
    params = (Param("n", 192, "matrix side"), Param("reps", 20, "products per call"))
    size_params = ("n",)
    flops_formula = "2·n³·reps"
    verified = False

    def flops(self, p: Mapping[str, int]) -> float:
        return 2.0 * p["n"] ** 3 * repetitions(p)

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return 3.0 * p["n"] ** 2 * itemsize

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return 3.0 * p["n"] ** 2 * itemsize

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        n = p["n"]
        return {"a": rng.standard_normal((n, n)) / np.sqrt(n),
                "b": rng.standard_normal((n, n)) / np.sqrt(n)}

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        a, b = arrays["a"], arrays["b"]
        reps = repetitions(p)

        def products() -> Any:
            out = a
            for _ in range(reps):
                out = xp.matmul(a, b)
            return out

        return products
