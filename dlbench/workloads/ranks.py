"""The base of workloads run by every rank of a torch.distributed group at once
(dlbench.distributed), never in a worker: each rank makes its part of the case and
checks its own output, and the workload says what its results across ranks report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dlbench.errors import UsageError
from dlbench.kernels import Kernel
from dlbench.workloads.base import Check, Workload


@dataclass(frozen=True)
class RankCase:
    """One rank's part of a distributed case: the call to time, and how to check the
    output of its first call (returns this rank's wrong-element count and worst error;
    a check may itself communicate, every rank calls it)."""

    kernel: Kernel
    check: Callable[[Any], dict[str, Any]]
    # The same work on this rank alone, without communication: the scaling baseline.
    alone: Kernel | None = None


class RankWorkload(Workload):
    """A workload run by every rank of a torch.distributed group at once: its inputs are
    made, and its output checked, on each rank (`rank_case`), never in a worker."""

    distributed: ClassVar[bool] = True

    def supports(self, backend: Any) -> tuple[bool, str]:
        if backend.name != "torch":
            return False, f"{self.name} runs on torch.distributed, not {backend.name}"
        return True, ""

    def inputs(self, p: Mapping[str, int], seed: int = 0) -> dict[str, np.ndarray]:
        return {}

    def check(self, output: Any, inputs: Mapping[str, np.ndarray], p: Mapping[str, int],
              dtype: str, float32_math: str = "ieee") -> Check:
        raise UsageError(f"{self.name} is checked on every rank (rank_case)")

    def rank_case(self, impl: str, backend: Any, p: Mapping[str, int], dtype: str,
                  rank: int, world: int, seed: int) -> RankCase:
        raise NotImplementedError

    def figures(self, p: Mapping[str, int], nbytes: float, median: float, world: int
                ) -> dict[str, Any]:
        """What its result across `world` ranks reports beside the usual figures
        (extra.distributed): a collective's bandwidths, a training step's samples/s."""
        return {}
