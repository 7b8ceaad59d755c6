"""dlbench's all-reduce against a plain torch.distributed loop timed by hand, side by side.

    python benchmarks/bench_distributed.py [--nproc 2] [--rounds 15] [--no-sweep]

Starts N gloo ranks through torch.distributed.run (as `dlbench run --nproc N` does) and,
in that one run:

1. sweeps the all-reduce from 8 B to 64 MiB (×2) through dlbench's own path — the
   workload's rank case, measure.Sampler with the slowest-rank timer, verification on
   every rank (rank.RankRunner.case, what a `dlbench run --nproc N` rank calls) — and
   prints nccl-tests-style rows (size, time, algbw, busbw, #wrong);
2. at the large sizes, alternates rounds of dlbench's measurement with two hand-timed
   loops, the order rotated every round so the shared machine's drift hits all alike:
   "hand" — one barrier, then back-to-back `dist.all_reduce` calls, each timed with
   perf_counter on every rank, the slowest rank's time per call (MAX over ranks, as
   dlbench takes), median over calls; "hand+barrier" — the same with a barrier before
   every call, as dlbench's samples have one. From the "hand" loop it also keeps rank
   0's own clock (no MAX), to show what the MAX changes. Prints each side's busbw and the
   medians over rounds of the ratios. Target: dlbench within 5% of the hand loop.

Rounds run when the large sizes' batches hold one call each (`inner_loops` is printed):
dlbench's sample is then one call after a barrier, the slowest rank's time — the same
quantity as "hand+barrier" by construction; "hand" differs from it only by the barrier.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

SWEEP = [8 * 2**i for i in range(24)]  # 8 B .. 64 MiB
LARGE = [16 * 2**20, 64 * 2**20]
# Seconds of calls each side gets per round (dlbench: min_time; the hand loop: as many
# calls as fit, counted from the sweep's median so every rank makes the same number).
ROUND_SECONDS = 0.5
MIN_HAND_CALLS = 10


def launch(nproc: int, rounds: int, no_sweep: bool) -> int:
    # torchrun's agent leaves a torchelastic_* log folder in the temp folder: a temporary
    # one of our own takes it, and goes with it.
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        return subprocess.call(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
             str(nproc), __file__, "--rounds", str(rounds),
             *(["--no-sweep"] if no_sweep else [])], env={**os.environ, "TMPDIR": tmp})


def hand_timed(size: int, rank: int, world: int, calls: int, barrier: bool = False
               ) -> tuple[float, float]:
    """Median over calls of the slowest rank's time for one all-reduce of `size` bytes,
    and the median of this rank's own times; `barrier`: one before every call."""
    import torch
    import torch.distributed as dist

    from dlbench.workloads.collectives import rank_values

    buffer = torch.tensor(rank_values(size // 4, rank), dtype=torch.float32)
    for _ in range(2):
        dist.all_reduce(buffer)
    dist.barrier()
    times = []
    for _ in range(calls):
        if barrier:
            dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(buffer)
        times.append(time.perf_counter() - start)
    slowest = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)  # per call: the slowest rank's time
    return statistics.median(slowest.tolist()), statistics.median(times)


def ranks(rounds: int, sweep_all: bool) -> None:
    from dlbench import backends, workloads
    from dlbench.distributed.rank import Group, RankInfo, RankRunner
    from dlbench.measure import MeasureConfig
    from dlbench.planning import Plan
    from dlbench.report.distributed import format_bytes
    from dlbench.results import CaseSpec

    info = RankInfo.from_environment()
    backend = backends.get("torch", "cpu")
    backends.import_library(backend)
    backend.set_threads(max(1, (os.cpu_count() or 1) // info.local_world_size))
    backend.setup()
    group = Group(info, "gloo", "cpu", 120.0)
    group.join()
    factor = workloads.get("allreduce").bus_factor(info.world_size)
    runner = RankRunner(Plan(cases=(), config=MeasureConfig(min_time=0.2, max_time=0.6)),
                        group, backend)
    say = print if info.rank == 0 else (lambda *a, **k: None)

    def measured(size: int) -> object:
        spec = CaseSpec.make("allreduce", {"bytes": size, "ranks": info.world_size},
                             "float32", "torch", "cpu", "native")
        return runner.case(spec)

    say(f"all-reduce, {info.world_size} gloo ranks, float32, through dlbench's path")
    say(f"{'size':>10} {'time':>12} {'algbw GB/s':>11} {'busbw GB/s':>11} {'#wrong':>7}")
    sweep = {}
    for size in SWEEP if sweep_all else LARGE:
        r = measured(size)
        sweep[size] = r.median
        d = r.distributed or {}
        say(f"{format_bytes(size):>10} {r.median * 1e6:>10.1f}µs "
            f"{d.get('algbw_gbytes_per_s', 0):>11.4f} {d.get('busbw_gbytes_per_s', 0):>11.4f} "
            f"{r.verify['wrong'] if r.verify else '-':>7} {r.status} "
            f"(inner_loops {r.inner_loops})")
    say(f"\nlarge messages, {rounds} rounds, order rotated every round")
    runner.plan = Plan(cases=(), config=MeasureConfig(min_time=ROUND_SECONDS,
                                                      max_time=2 * ROUND_SECONDS))
    sides = ("dlbench", "hand", "hand+barrier")
    for size in LARGE:
        calls = max(MIN_HAND_CALLS, round(ROUND_SECONDS / sweep[size]))
        times: dict[str, list[float]] = {side: [] for side in (*sides, "hand rank 0")}
        loops = set()
        for round_no in range(rounds):
            shift = round_no % len(sides)
            for side in sides[shift:] + sides[:shift]:
                if side == "dlbench":
                    r = measured(size)
                    loops.add(r.inner_loops)
                    times[side].append(r.median)
                else:
                    slowest, own = hand_timed(size, info.rank, info.world_size, calls,
                                              barrier=side == "hand+barrier")
                    times[side].append(slowest)
                    if side == "hand":
                        times["hand rank 0"].append(own)
        busbw = {side: size / statistics.median(t) / 1e9 * factor for side, t in times.items()}
        say(f"{format_bytes(size):>10}: dlbench inner_loops {sorted(loops)}; busbw GB/s "
            + ", ".join(f"{side} {b:.4f}" for side, b in busbw.items()))
        for top, bottom in (("dlbench", "hand"), ("dlbench", "hand+barrier"),
                            ("hand+barrier", "hand"), ("hand rank 0", "hand")):
            ratios = [a / b for a, b in zip(times[top], times[bottom], strict=True)]
            spread = ""
            if len(ratios) > 1:
                q1, _, q3 = statistics.quantiles(ratios, n=4)
                spread = f", quartiles {q1:.3f}–{q3:.3f}"
            say(f"{'':>12}time {top}/{bottom}: median of rounds "
                f"{statistics.median(ratios):.3f}{spread}")
    group.leave()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-sweep", action="store_true",
                        help="only the large sizes' rounds, not the 8 B..64 MiB sweep")
    args = parser.parse_args()
    if args.rounds < 1 or args.nproc < 2:
        parser.error("--rounds must be at least 1 and --nproc at least 2")
    from dlbench.distributed import in_torchrun

    if not in_torchrun():
        return launch(args.nproc, args.rounds, args.no_sweep)
    ranks(args.rounds, not args.no_sweep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
