"""Does the regression gate stay quiet when nothing changed, and speak when something did?

Runs a suite several times in a row, each `dlbench run` a separate process, and judges
every run against the next with `dlbench compare`'s own code (default threshold and
alpha), as a CI job judges a pull request's run against the main branch's:

* **A/A** (nothing injected): how many pairs would fail the gate, and how many of the
  comparisons are flagged `slower`. The target is at most 5% of the comparisons.
* **power** (`--inject KEY=VALUE`, set in the environment of every second run, e.g.
  `OPENBLAS_CORETYPE=Sandybridge`, which makes NumPy's GEMM use an older, slower kernel,
  or `EXTRA_WORK=1.15` with benchmarks/injected_work.py, a kernel doing 15% more work):
  for the pairs where the new run carries the change, how often each benchmark is
  flagged `slower`, with the ratio measured — a benchmark the change slows by more than
  the threshold should be flagged in most pairs, the others in few. With `--affects
  TEXT`, the benchmarks whose id lacks TEXT are the A/A control in every pair, so one
  series of runs gives both figures.

    python benchmarks/gate_calibration.py [--runs 6] [--out DIR] [--inject K=V] [-- run options]
    python benchmarks/gate_calibration.py --analyze DIR [--inject K=V] [--affects TEXT]

The 15% check of the issue "honest intervals" (20 runs, 10 pairs towards the change, 19
pairs of A/A control):

    python benchmarks/gate_calibration.py --runs 20 --inject EXTRA_WORK=1.15 \
        --affects extra_work -- --workload-file benchmarks/injected_work.py \
        --workload matmul,conv2d,mlp_train_step,bandwidth,extra_work

The default selection is the `ci` suite on NumPy and torch (one thread per backend, as
docs/ci-example.yml runs it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

SELECTION = ["--suite", "ci", "--backend", "numpy,torch"]


def injected(index: int, inject: list[str]) -> bool:
    """Runs 2, 4, 6 … carry the injected change (when there is one)."""
    return bool(inject) and index % 2 == 1


def make_runs(out: Path, runs: int, inject: list[str], extra: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(runs):
        env = dict(os.environ)
        if injected(i, inject):
            env.update(item.split("=", 1) for item in inject)
        path = out / f"run-{i + 1:02d}.json"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "dlbench", "run", *SELECTION, *extra, "-o",
                        str(path), "--force", "--quiet"], check=False, env=env)
        print(f"run {i + 1}/{runs}{' (injected)' if injected(i, inject) else ''}: "
              f"{time.monotonic() - started:.0f} s", file=sys.stderr)
        paths.append(path)
    return paths


def judge_pairs(paths: list[Path]):
    from dlbench.compare import judging, reading
    sources = [reading.read(p) for p in paths]
    return [judging.compare(a, b) for a, b in zip(sources, sources[1:], strict=False)]


def report(paths: list[Path], inject: list[str], affects: str | None = None) -> None:
    comparisons = judge_pairs(paths)
    plain = [c for i, c in enumerate(comparisons)
             if not injected(i, inject) and not injected(i + 1, inject)]
    if affects is not None:  # the untouched benchmarks of every pair are the control
        plain = comparisons

    def control(row) -> bool:
        return affects is None or affects not in row.id

    if plain or not inject:
        aa = comparisons if not inject else plain
        judged = [r for c in aa for r in c.rows if r.ratio is not None and control(r)]
        slower = [r for r in judged if r.verdict == "slower"]
        changes = [abs(r.ratio - 1.0) for r in judged]
        failing = sum(any(r.verdict == "slower" for r in c.rows if control(r)) for c in aa)
        print(f"A/A: {failing} of {len(aa)} pairs would fail the gate; "
              f"{len(slower)} of {len(judged)} comparisons flagged slower "
              f"({len(slower) / max(len(judged), 1):.1%}); median |change| "
              f"{statistics.median(changes):.1%}, largest {max(changes):.1%}")
        for row in slower:
            print(f"  flagged: {row.id} {row.ratio - 1:+.1%} "
                  f"[{row.lo - 1:+.1%}, {row.hi - 1:+.1%}]")
    if not inject:
        return
    # Pairs whose new run carries the change: run 1 -> 2, 3 -> 4, …
    towards = [c for i, c in enumerate(comparisons) if injected(i + 1, inject)]
    flagged: dict[str, list[bool]] = defaultdict(list)
    ratios: dict[str, list[float]] = defaultdict(list)
    for comparison in towards:
        for row in comparison.rows:
            if row.ratio is not None:
                flagged[row.id].append(row.verdict == "slower")
                ratios[row.id].append(row.ratio)
    print(f"power ({' '.join(inject)} in the new run), {len(towards)} pairs:")
    for ident in sorted(flagged, key=lambda k: -statistics.median(ratios[k])):
        print(f"  {ident}: flagged slower in {sum(flagged[ident])}/{len(flagged[ident])}; "
              f"change {statistics.median(ratios[ident]) - 1:+.1%} (median)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path("gate-runs"))
    ap.add_argument("--inject", action="append", default=[], metavar="KEY=VALUE",
                    help="environment change of every second run (repeatable)")
    ap.add_argument("--affects", help="text in the ids of the benchmarks the injection "
                    "changes: the others are the A/A control of every pair")
    ap.add_argument("--analyze", type=Path, help="only analyse the run-*.json files there")
    ap.add_argument("extra", nargs="*", help="more `dlbench run` options, after --")
    args = ap.parse_args()
    if any("=" not in item for item in args.inject):
        ap.error("--inject takes KEY=VALUE")
    if args.analyze:
        paths = sorted(args.analyze.glob("run-*.json"))
    else:
        paths = make_runs(args.out, args.runs, args.inject, args.extra)
    report(paths, args.inject, args.affects)


if __name__ == "__main__":
    main()
