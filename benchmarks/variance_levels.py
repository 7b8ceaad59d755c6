"""Where the variance of a timing comes from on this machine: samples, rounds, worker
processes, or time.

Kalibera & Jones ("Rigorous Benchmarking in Reasonable Time", ISMM 2013) ask a benchmark
to repeat at every level where variance arises and to spend repetitions where it is.
This script measures the levels dlbench could repeat, through the runner's own workers:

* **pairs** (time): `--pairs` groups, one after another, each with fresh workers;
* **processes**: in each pair, two worker processes per backend measure the same cases
  in alternation, so they share the machine's drift and differ only by being different
  processes (thread placement, memory layout, library state fixed at start-up);
* **rounds**: in each pair, `--rounds` rounds; in a round every worker measures one block
  of each of its cases, workers and cases in rotated order;
* **samples** within a block.

Per case it prints the standard deviation (as % of the time) each level adds, estimated
by a nested analysis of variance on log block medians, and whether the first block after
another worker ran is slower than the worker's later blocks (what the block warm-up must
absorb).

    python benchmarks/variance_levels.py [--pairs 6] [--rounds 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlbench import planning, worker  # noqa: E402
from dlbench.process import WorkerProcess  # noqa: E402

WORKLOADS = ("matmul", "conv2d", "mlp_train_step", "attention")
SWITCH_WARMUP_S = 0.15
CASE_WARMUP_S = 0.02
BLOCK_S = 0.1


def start_pair(plan: planning.Plan) -> dict[str, WorkerProcess]:
    """Two started workers per backend: NAME#a and NAME#b."""
    procs = {f"{label}#{copy}": WorkerProcess(f"{label}#{copy}")
             for label in sorted({s.label for s in plan.cases}) for copy in "ab"}
    for name, proc in procs.items():
        backend, device = name.split("#")[0].rsplit("-", 1)
        proc.send(worker.start, backend, device, plan.threads, 0.2, plan.options)
    for proc in procs.values():
        proc.receive()
    return procs


def prepare_all(plan: planning.Plan, procs: dict[str, WorkerProcess]) -> dict[str, list]:
    """Every case prepared on both workers of its backend: the cases each worker holds."""
    cases: dict[str, list] = defaultdict(list)
    for name, proc in procs.items():
        for spec in plan.cases:
            if spec.label == name.split("#")[0]:
                reply = proc.call(worker.prepare, spec, plan.config, False, plan.seed, None)
                if not isinstance(reply, worker.Failure):
                    cases[name].append(spec)
    return cases


def measure_pair(plan: planning.Plan, pair: int, rounds: int, t0: float) -> list[dict]:
    """One pair: two workers per backend, every case prepared on both, then rounds."""
    procs = start_pair(plan)
    cases = prepare_all(plan, procs)
    records = []
    names = list(procs)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            mine = cases[name][r % len(cases[name]):] + cases[name][:r % len(cases[name])]
            for position, spec in enumerate(mine):
                warm = SWITCH_WARMUP_S if position == 0 else CASE_WARMUP_S
                reply = procs[name].call(worker.block, spec.id, warm)
                if isinstance(reply, worker.Failure):
                    continue
                records.append(dict(pair=pair, proc=name[-1], case=spec.id, round=r,
                                    position=position, t=time.monotonic() - t0,
                                    median=statistics.median(reply.samples),
                                    n=len(reply.samples)))
    for proc in procs.values():
        proc.stop()
    return records


def components(records: list[dict], rounds: int) -> dict[str, float]:
    """Nested ANOVA on log block medians: the SD each level adds, in % of the time."""
    by = defaultdict(list)
    for rec in records:
        by[(rec["pair"], rec["proc"])].append(math.log(rec["median"]))
    within = statistics.mean(statistics.variance(v) for v in by.values() if len(v) > 1)
    pairs = sorted({p for p, _ in by})
    diffs, pair_means = [], []
    for p in pairs:
        a, b = by.get((p, "a")), by.get((p, "b"))
        if a and b:
            diffs.append(statistics.mean(a) - statistics.mean(b))
            pair_means.append((statistics.mean(a) + statistics.mean(b)) / 2)
    proc_var = max(0.0, statistics.mean(d * d for d in diffs) / 2 - within / rounds)
    pair_var = max(0.0, statistics.variance(pair_means) - proc_var / 2 - within / (2 * rounds)
                   ) if len(pair_means) > 1 else float("nan")
    pct = lambda v: 100 * math.sqrt(v) if v == v else float("nan")  # noqa: E731
    return {"round": pct(within), "process": pct(proc_var), "time": pct(pair_var)}


def switch_effect(records: list[dict]) -> float | None:
    """Median over cases of (first block after a switch) / (later blocks), in %."""
    ratios = []
    by = defaultdict(lambda: ([], []))
    for rec in records:
        by[rec["case"]][rec["position"] > 0].append(rec["median"])
    for first, later in by.values():
        if first and later:
            ratios.append(statistics.median(first) / statistics.median(later))
    return 100 * (statistics.median(ratios) - 1) if ratios else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--pause", type=float, default=0.0, help="seconds between pairs")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    plan = planning.build(planning.Selection(backends=("numpy", "torch"), workloads=WORKLOADS,
                                             dtypes=("float32",), verify=False))
    plan = planning.replace(plan, config=planning.replace(plan.config, block_time=BLOCK_S))
    t0 = time.monotonic()
    records = []
    for pair in range(args.pairs):
        records += measure_pair(plan, pair, args.rounds, t0)
        print(f"pair {pair + 1}/{args.pairs} done at {time.monotonic() - t0:.0f} s",
              file=sys.stderr)
        time.sleep(args.pause)
    if args.json:
        args.json.write_text(json.dumps(records))
    by_case = defaultdict(list)
    for rec in records:
        by_case[rec["case"]].append(rec)
    print(f"{'case':60} {'round%':>7} {'proc%':>7} {'time%':>7}")
    rows = []
    for case, recs in by_case.items():
        c = components(recs, args.rounds)
        rows.append(c)
        print(f"{case:60} {c['round']:7.2f} {c['process']:7.2f} {c['time']:7.2f}")
    for level in ("round", "process", "time"):
        values = [c[level] for c in rows if c[level] == c[level]]
        print(f"median SD added by {level}: {statistics.median(values):.2f}%")
    effect = switch_effect(records)
    if effect is not None:
        print(f"first block after a switch vs later blocks: {effect:+.1f}% (median over cases)")


if __name__ == "__main__":
    main()
