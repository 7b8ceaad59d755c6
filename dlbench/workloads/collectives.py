"""allreduce, allgather, reduce_scatter, broadcast: torch.distributed collectives across ranks.

Sizes and bandwidths follow nccl-tests (PERFORMANCE.md there): the `bytes` parameter is
S, the message size — the buffer reduced (all-reduce), the whole gathered output
(all-gather), the whole input that is scattered (reduce-scatter), the buffer sent
(broadcast). algbw = S / t. busbw = algbw · factor, the factor being what each rank's
link must carry for the collective with an optimal algorithm, relative to S: all-reduce
2(n−1)/n, all-gather and reduce-scatter (n−1)/n, broadcast 1. busbw is comparable
with a link's peak bandwidth, whatever the number of ranks.

Inputs are small integers (−3..3, different on every rank), so sums are exact in
float32 and bfloat16 and a result is right or wrong element by element: verification
counts the wrong elements on every rank (nccl-tests' `#wrong`).

torch's all_reduce and broadcast work in place (there is no output argument); they are
timed as PyTorch users and DistributedDataParallel call them. The verified first call
reduces a copy of the input; the timed calls go on reducing that buffer, whose values
grow to ±inf and stay there, at the same cost per element. all_gather_into_tensor and
reduce_scatter_tensor are out of place, as nccl-tests times every collective.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.errors import UsageError
from dlbench.workloads import register
from dlbench.workloads.base import Param, itemsize
from dlbench.workloads.ranks import RankCase, RankWorkload

# Rank r's element i is ((i + 3r) mod 7) − 3: every rank's data differ, sums of up to
# 80 ranks stay exact in bfloat16's 8 bits.
VALUE_SPAN = 7


def rank_values(count: int, rank: int) -> np.ndarray:
    """The input rank `rank` contributes (float64 host array)."""
    return ((np.arange(count) + 3 * rank) % VALUE_SPAN - (VALUE_SPAN // 2)).astype(np.float64)


def count_wrong(output: np.ndarray, expected: np.ndarray) -> dict[str, Any]:
    got = np.asarray(output, dtype=np.float64).reshape(-1)
    if got.shape != expected.shape:
        return {"wrong": int(expected.size), "max_abs_err": float("inf")}
    diff = np.abs(got - expected)
    bad = ~np.isfinite(got) | (diff > 0)
    return {"wrong": int(np.count_nonzero(bad)),
            "max_abs_err": float(diff[np.isfinite(diff)].max()) if diff.size else 0.0}


class Collective(RankWorkload):
    """A collective over `ranks` processes; `bytes` is the message size S."""

    params = (Param("bytes", 1 << 20, "message size S in bytes (nccl-tests' size)"),
              Param("ranks", 2, "ranks taking part (the world size)"))
    size_params = ("bytes",)
    # What each rank's link carries relative to S, as a function of the rank count.
    flops_formula = "0 (communication)"

    def bus_factor(self, ranks: int) -> float:
        raise NotImplementedError

    def figures(self, p: Mapping[str, int], nbytes: float, median: float, world: int
                ) -> dict[str, Any]:
        algbw = nbytes / median / 1e9
        factor = self.bus_factor(world)
        return {"algbw_gbytes_per_s": algbw, "bus_factor": factor,
                "busbw_gbytes_per_s": algbw * factor}

    def elements(self, p: Mapping[str, int], itemsize: int) -> int:
        """Elements of S: whole elements, and a whole number of them per rank where the
        buffer is split between ranks."""
        return max(p["bytes"] // itemsize, 1)

    def validate(self, p: Mapping[str, int]) -> None:
        if p["bytes"] < 8:
            raise UsageError(f"{self.name}: bytes must be at least 8, got {p['bytes']}")

    def flops(self, p: Mapping[str, int]) -> float:
        return 0.0

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return float(self.elements(p, itemsize) * itemsize)

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        # input and output on every rank, and float64 host copies to check against
        per_rank = self.elements(p, itemsize) * (2 * itemsize + 16)
        return float(per_rank * p["ranks"])

    def impls_for(self, backend_name: str, device: str | None = None) -> tuple[str, ...]:
        return ("native",)



def _torch_dist() -> tuple[Any, Any]:
    import torch
    import torch.distributed as dist

    return torch, dist


@register
class AllReduce(Collective):
    name = "allreduce"
    description = "all-reduce (sum) across ranks; busbw = algbw·2(n−1)/n"

    def bus_factor(self, ranks: int) -> float:
        return 2.0 * (ranks - 1) / ranks

    def rank_case(self, impl: str, backend: Any, p: Mapping[str, int], dtype: str,
                  rank: int, world: int, seed: int) -> RankCase:
        _, dist = _torch_dist()
        count = self.elements(p, itemsize(dtype))
        buffer = backend.asarray(rank_values(count, rank), dtype)
        expected = sum(rank_values(count, r) for r in range(world))

        def reduce() -> Any:
            dist.all_reduce(buffer)
            return buffer

        return RankCase(reduce, lambda out: count_wrong(backend.to_numpy(out), expected))


class SplitCollective(Collective):
    """A collective whose buffer is split into one chunk per rank: each rank's link
    carries all chunks but its own."""

    def bus_factor(self, ranks: int) -> float:
        return (ranks - 1) / ranks

    def elements(self, p: Mapping[str, int], itemsize: int) -> int:
        per_rank = max(p["bytes"] // itemsize // p["ranks"], 1)
        return per_rank * p["ranks"]


@register
class AllGather(SplitCollective):
    name = "allgather"
    description = "all-gather: every rank ends with all ranks' chunks; busbw = algbw·(n−1)/n"

    def rank_case(self, impl: str, backend: Any, p: Mapping[str, int], dtype: str,
                  rank: int, world: int, seed: int) -> RankCase:
        _, dist = _torch_dist()
        chunk = self.elements(p, itemsize(dtype)) // world
        source = backend.asarray(rank_values(chunk, rank), dtype)
        output = backend.asarray(np.zeros(chunk * world), dtype)
        expected = np.concatenate([rank_values(chunk, r) for r in range(world)])

        def gather() -> Any:
            dist.all_gather_into_tensor(output, source)
            return output

        return RankCase(gather, lambda out: count_wrong(backend.to_numpy(out), expected))


@register
class ReduceScatter(SplitCollective):
    name = "reduce_scatter"
    description = ("reduce-scatter (sum): rank r ends with the sum of every rank's chunk r; "
                   "busbw = algbw·(n−1)/n")

    def rank_case(self, impl: str, backend: Any, p: Mapping[str, int], dtype: str,
                  rank: int, world: int, seed: int) -> RankCase:
        _, dist = _torch_dist()
        count = self.elements(p, itemsize(dtype))
        chunk = count // world
        source = backend.asarray(rank_values(count, rank), dtype)
        output = backend.asarray(np.zeros(chunk), dtype)
        total = sum(rank_values(count, r) for r in range(world))
        expected = total[rank * chunk:(rank + 1) * chunk]

        def scatter() -> Any:
            dist.reduce_scatter_tensor(output, source)
            return output

        return RankCase(scatter, lambda out: count_wrong(backend.to_numpy(out), expected))


@register
class Broadcast(Collective):
    name = "broadcast"
    description = "broadcast from rank 0 to every rank; busbw = algbw"

    def bus_factor(self, ranks: int) -> float:
        return 1.0

    def rank_case(self, impl: str, backend: Any, p: Mapping[str, int], dtype: str,
                  rank: int, world: int, seed: int) -> RankCase:
        _, dist = _torch_dist()
        count = self.elements(p, itemsize(dtype))
        root = rank_values(count, 0)
        buffer = backend.asarray(root if rank == 0 else np.zeros(count), dtype)

        def send() -> Any:
            dist.broadcast(buffer, src=0)
            return buffer

        return RankCase(send, lambda out: count_wrong(backend.to_numpy(out), root))

