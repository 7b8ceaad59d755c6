"""Does a run's 95% interval hold on the next run? The calibration check of dlbench itself.

Runs the same selection several times in a row, each `dlbench run` a separate process
(so nothing but the machine's own drift connects them), and asks of every pair of
consecutive runs:

* **medians**: does run i's interval of a cell's median contain run i+1's median?
* **speedups**: does run i's interval of a cell's speedup contain run i+1's speedup?
* **width**: are the intervals still useful — their median width (hi/lo − 1) against the
  median spread of each cell's estimates over all runs (max/min − 1)?
* **detection**: which runs said that their rounds disagreed ("unstable" cells), and
  which runs said that the previous run lay outside their intervals (dlbench/drift.py:
  the note `dlbench run` prints when the output folder holds an earlier run).

A 95% interval that means what it says contains the next run's estimate in about 95% of
the cells; the target is at least 90%, with widths at most twice the run-to-run spread.
Beside each width/spread ratio the report gives what a perfectly calibrated 95% interval
would show on the same runs (each cell's estimates normal with their SD over the series,
known exactly): 2.3–2.7 for blocks of 6 runs, so twice the spread is out of reach of
any interval that holds 95% of the time; it asks for about 90% (1.9–2.1).

    python benchmarks/calibration.py [--runs 6] [--out DIR] [-- extra dlbench run options]
    python benchmarks/calibration.py --analyze DIR     # the figures of runs already made
    python benchmarks/calibration.py --analyze DIR --rewiden   # ... widened by this code
    python benchmarks/calibration.py --analyze DIR --own       # ... each run on its own

`--exclude TEXT` leaves out the cases whose id contains TEXT and widens again without
them, so the runs of a gate series (benchmarks/gate_calibration.py) can be judged
without the case whose injected slowdown would count as drift; `--earlier N` widens
with the N runs before each instead of the number dlbench uses.

`--rewiden` judges stored runs as if this checkout of dlbench had made them: each run's
intervals are taken back to its own (before the earlier runs widened them) and widened
again by `between_runs.widen` with the runs before it in the series, so two versions of
that step can be compared on the same runs.

The default selection is matmul 256 and 1024, conv2d, mlp_train_step and attention on
NumPy and torch, float32, with the default suite's settings.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The width target is against the spread of 6 runs in a row.
WINDOW = 6
SELECTION = ["--backend", "numpy,torch", "--workload", "matmul,conv2d,mlp_train_step,attention",
             "--dtype", "float32"]


def make_runs(out: Path, runs: int, extra: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(runs):
        path = out / f"run-{i + 1:02d}.json"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "dlbench", "run", *SELECTION, *extra, "-o",
                        str(path), "--force", "--quiet"], check=False)
        print(f"run {i + 1}/{runs}: {time.monotonic() - started:.0f} s", file=sys.stderr)
        paths.append(path)
    return paths


def load(path: Path) -> dict:
    from dlbench import results
    return {r.spec.id: r for r in results.load(path).results if r.status == "ok"}


def without(doc, exclude: str | None):
    """A run's document less the results whose id contains `exclude` (a gate series'
    injected case, which would otherwise count as the machine's drift)."""
    from dataclasses import replace
    if not exclude:
        return doc
    return replace(doc, results=[r for r in doc.results if exclude not in r.spec.id])


def rewidened(paths: list[Path], widen: bool = True, earlier_runs: int | None = None,
              exclude: str | None = None) -> list[dict]:
    """Each run's results with its intervals widened again by this code's between_runs,
    from its own intervals and the runs before it in `paths` (as many as a run uses, or
    `earlier_runs`); with `widen` False, its own intervals alone (what a run in a fresh
    folder shows)."""
    from dataclasses import replace

    from dlbench import between_runs, drift, results
    docs = [without(results.load(p), exclude) for p in paths]
    earlier_runs = earlier_runs if earlier_runs is not None else drift.EARLIER_RUNS
    runs = []
    for i, doc in enumerate(docs):
        own = []
        for r in doc.results:
            stats = {k: v for k, v in (r.stats or {}).items() if k != "between_runs"}
            interval = between_runs.own_interval(r)
            if interval:
                stats["ci95"] = list(interval)
            own.append(replace(r, stats=stats))
        earlier = docs[max(0, i - earlier_runs):i][::-1]
        runs.append({r.spec.id: r for r in (between_runs.widen(own, earlier) if widen else own)
                     if r.status == "ok"})
    return runs


def speedup_cells(run: dict) -> dict:
    """Every cell's speedup over numpy-cpu, as the report computes it."""
    from dlbench.report.rows import speedup_table
    table = speedup_table(list(run.values()))
    out = {}
    for row in table.rows:
        for column, cell in row.cells.items():
            if column != table.baseline and cell.speedup is not None:
                out[(row.workload, row.params, row.dtype, column)] = cell.speedup
    return out


def coverage(tables: list[dict]) -> tuple[int, int, list[float]]:
    """(contained, compared, widths) over consecutive pairs of runs."""
    hit = total = 0
    widths = []
    for this, nxt in zip(tables, tables[1:], strict=False):
        for key, (_, lo, hi) in this.items():
            widths.append(hi / lo - 1)
            if key in nxt:
                total += 1
                hit += lo <= nxt[key][0] <= hi
    return hit, total, widths


def series(tables: list[dict]) -> dict:
    """Each cell's estimates over all the runs, for the cells every run has."""
    return {key: [t[key][0] for t in tables] for key in tables[0]
            if all(key in t for t in tables)}


def spreads(tables: list[dict], window: int) -> list[float]:
    """Each cell's spread (max/min − 1) over each block of `window` consecutive runs."""
    out = []
    for start in range(0, len(tables) - window + 1, window):
        out += [max(v) / min(v) - 1 for v in series(tables[start:start + window]).values()]
    return out


def ideal_ratio(tables: list[dict], window: int, draws: int = 20000) -> float:
    """Width/spread of a perfectly calibrated interval: each cell's estimates normal in
    logs with their SD over these runs, known exactly; a run's 95% interval for the next
    run's estimate is then ±1.96·√2·SD wide, and a block of `window` runs spreads by its
    range. What the width/spread target can ask of a 95% interval at best."""
    import numpy as np
    rng = np.random.default_rng(0)
    widths, expected = [], []
    for values in series(tables).values():
        sd = float(np.std(np.log(values), ddof=1))
        widths.append(math.expm1(2 * 1.959964 * math.sqrt(2) * sd))
        draws_of = rng.normal(0.0, sd, (draws, window))
        expected.append(float(np.median(np.expm1(np.ptp(draws_of, axis=1)))))
    return statistics.median(widths) / statistics.median(expected)


def median_cells(run: dict) -> dict:
    return {k: (r.median, *r.stats["ci95"]) for k, r in run.items()}


def execution_spread(paths: list[Path]) -> str | None:
    """With --repeat: how much the executions' means of log round medians differ, against
    what the spread of rounds inside each execution predicts (median over cells); None
    for runs of one execution."""
    import numpy as np

    from dlbench import results
    ratios, between, within = [], [], []
    for path in paths:
        for r in results.load(path).results:
            medians, executions = r.round_medians(), r.round_executions()
            groups: dict[int, list[float]] = {}
            for index, m in medians.items():
                groups.setdefault(executions[index], []).append(float(np.log(m)))
            if r.status != "ok" or len(groups) < 2 or min(map(len, groups.values())) < 2:
                continue
            expected = float(np.mean([np.var(g, ddof=1) / len(g) for g in groups.values()]))
            observed = float(np.var([np.mean(g) for g in groups.values()], ddof=1))
            if expected > 0:
                ratios.append(observed / expected)
                between.append(observed ** 0.5)
                within.append(expected ** 0.5)
    if not ratios:
        return None
    return (f"executions: over {len(ratios)} cells the executions' means differ with variance "
            f"{statistics.median(ratios):.1f}x (median) what their rounds predict, more in "
            f"{sum(x > 1 for x in ratios) / len(ratios):.0%} of cells; SD between executions "
            f"{statistics.median(between):.1%}, expected from rounds "
            f"{statistics.median(within):.1%}")


def report(paths: list[Path], rewiden: bool = False, own: bool = False,
           earlier_runs: int | None = None, exclude: str | None = None) -> None:
    if rewiden or own or exclude:
        runs = rewidened(paths, not own, earlier_runs, exclude)
    else:
        runs = [load(p) for p in paths]
    for name, estimates in (("medians", median_cells), ("speedups", speedup_cells)):
        tables = [estimates(run) for run in runs]
        hit, total, widths = coverage(tables)
        width = statistics.median(widths)
        line = (f"{name}: run i's interval contains run i+1's estimate in {hit}/{total} "
                f"= {hit / total:.0%} of cells; median interval width {width:.1%}")
        for window in sorted({len(runs), WINDOW}):
            if window <= len(runs):
                spread = statistics.median(spreads(tables, window))
                line += (f"; median spread over {window} runs {spread:.1%}: width/spread "
                         f"{width / spread:.2f} (perfectly calibrated: "
                         f"{ideal_ratio(tables, window):.2f})")
        print(line)
    line = execution_spread(paths)
    if line:
        print(line)
    from dlbench import drift
    for i, (path, run) in enumerate(zip(paths, runs, strict=True)):
        unstable = [k for k, r in run.items() if "unstable" in r.warnings]
        line = f"{path.name}: {len(unstable)} of {len(run)} cells unstable"
        if i:
            between = drift.compare_runs(run.values(), runs[i - 1].values(), paths[i - 1].name)
            if between is not None:
                line += (f"; {between.outside}/{between.compared} of the previous run's medians "
                         f"outside its intervals (typical change {between.typical_change:.0%})"
                         f"{' -> the run says the machine drifts' if between.drifted else ''}")
        print(line)


def positive(text: str) -> int:
    """An option's whole number of at least 1 (0 would silently mean "as dlbench does")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path("calibration-runs"))
    ap.add_argument("--analyze", type=Path, help="only analyse the run-*.json files there")
    ap.add_argument("--rewiden", action="store_true",
                    help="with --analyze: widen each run again with this code's between_runs")
    ap.add_argument("--own", action="store_true",
                    help="with --analyze: each run's own intervals, before earlier runs "
                         "widened them")
    ap.add_argument("--earlier", type=positive, metavar="N",
                    help="with --rewiden: widen with the N runs before each (default: as "
                         "many as dlbench uses)")
    ap.add_argument("--exclude", metavar="TEXT",
                    help="with --analyze: leave out the cases whose id contains TEXT, and "
                         "widen again without them (a gate series' injected case)")
    ap.add_argument("extra", nargs="*", help="more `dlbench run` options, after --")
    args = ap.parse_args()
    if args.analyze:
        paths = sorted(args.analyze.glob("run-*.json"))
        if len(paths) < 2:
            ap.error(f"{args.analyze}: needs two run-*.json files or more, found {len(paths)}")
    else:
        paths = make_runs(args.out, args.runs, args.extra)
    report(paths, args.rewiden, args.own, args.earlier, args.exclude)


if __name__ == "__main__":
    main()
