"""Does `dlbench ab` find a real change, and stay quiet without one? Its calibration check.

Two questions, each answered by running `dlbench ab` itself (separate processes, the
machine as it is):

* **A/A**: identical sides, repeated: how many cases does the gate flag (slower or
  faster)? The target is at most 5% of all cases over 10 runs.
* **A/B**: one injected change, given as --env-b options (OPENBLAS_CORETYPE=Haswell on
  an AVX-512 CPU, or OMP_NUM_THREADS=1 against 2 with --env-a): every case's B/A with
  its interval and verdict. In this script OPENBLAS_* is the injected change on purpose.

    python benchmarks/ab_calibration.py aa [--runs 10] [--out DIR] [-- run options]
    python benchmarks/ab_calibration.py ab --env-b OPENBLAS_CORETYPE=Haswell [-- run options]
    python benchmarks/ab_calibration.py --analyze DIR    # the figures of files already made

The default selection is NumPy's matmul (GEMM) at 128, 256 and 512, float32 and float64.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SELECTION = ["--backend", "numpy", "--workload", "matmul", "--size", "128,256,512",
             "--dtype", "float32,float64"]
FLAGGED = ("slower", "faster")


def ab(path: Path, sides: list[str], extra: list[str]) -> None:
    """One `dlbench ab` run saved to `path`; its exit code 1 (a regression) is data here."""
    command = [sys.executable, "-m", "dlbench", "ab", *sides, *SELECTION, *extra,
               "-o", str(path), "--force", "--quiet"]
    done = subprocess.run(command, check=False)
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} exited {done.returncode}")


def rows(path: Path, threshold: str) -> list[dict]:
    """The A/B judgement of a saved file, as `dlbench compare FILE` gives it."""
    done = subprocess.run([sys.executable, "-m", "dlbench", "compare", str(path),
                           "--threshold", threshold, "--format", "json"],
                          capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        sys.exit(f"compare {path}: {done.stderr.strip()}")
    return json.loads(done.stdout)["rows"]


def show(paths: list[Path], threshold: str) -> None:
    counts: dict[str, int] = {}
    total = 0
    for path in paths:
        print(f"{path.name}:")
        for row in rows(path, threshold):
            total += 1
            counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
            ratio, lo, hi = row.get("ratio"), row.get("lo"), row.get("hi")
            figure = (f"B/A {ratio:.3f} [{lo:.3f}, {hi:.3f}]" if ratio and lo and hi
                      else "no ratio")
            print(f"  {row['id']}: {figure} {row['verdict']}")
    flagged = sum(counts.get(v, 0) for v in FLAGGED)
    print(f"{len(paths)} run(s), {total} case verdicts: "
          + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
          + f"; flagged (slower or faster): {flagged} = {flagged / max(total, 1):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("aa", "ab"), default="aa")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("ab-calibration"))
    parser.add_argument("--env-a", action="append", default=[])
    parser.add_argument("--env-b", action="append", default=[])
    parser.add_argument("--threshold", default="5%")
    parser.add_argument("--analyze", type=Path, help="only read the files in this folder")
    args, extra = parser.parse_known_args()
    extra = [x for x in extra if x != "--"]
    if args.analyze:
        show(sorted(args.analyze.glob("*.json")), args.threshold)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    sides = [*(f"--env-a={e}" for e in args.env_a), *(f"--env-b={e}" for e in args.env_b)]
    runs = args.runs if args.mode == "aa" else 1
    paths = []
    for i in range(runs):
        path = args.out / f"{args.mode}-{i + 1:02d}.json"
        started = time.monotonic()
        ab(path, sides, [*extra, "--threshold", args.threshold])
        print(f"{path}: {time.monotonic() - started:.0f} s", file=sys.stderr)
        paths.append(path)
    show(paths, args.threshold)


if __name__ == "__main__":
    main()
