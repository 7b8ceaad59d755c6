"""The drift between runs, learned from earlier runs in the same folder, widens a run's
intervals where the earlier medians say the machine moves more than one run sees, and
leaves them alone where they agree."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dlbench import between_runs, drift, intervals, resultfile
from dlbench.report.rows import speedup_table
from dlbench.results import Result, Round
from tests.helpers import case, cli, document

SIZES = (64, 128, 192, 256, 320, 384, 448, 512)
ROOT = Path(__file__).resolve().parent.parent


def measured(size, median_s, seed, backend="numpy", run="now", noise=0.005):
    """A result of six rounds tight around `median_s` (its own interval a few % wide)."""
    rng = np.random.default_rng(seed)
    samples = tuple((median_s * rng.lognormal(0.0, noise, 48)).tolist())
    sizes = [8] * 6
    return Result(spec=case(size=size, backend=backend), status="ok", samples_s=samples,
                  stats=intervals.summary(samples, sizes), run=run,
                  rounds=tuple(Round(8, i, float(i), 0) for i in range(6)))


def run(levels, seed, backend="numpy", run_id="now"):
    return [measured(size, 1e-3 * size / 64 * level, seed + i, backend, run_id)
            for i, (size, level) in enumerate(zip(SIZES, levels, strict=True))]


def earlier(levels_by_run, backend="numpy"):
    return [document(*run(levels, 100 * (k + 1), backend, f"r{k}"))
            for k, levels in enumerate(levels_by_run)]


def test_earlier_runs_that_moved_widen_the_intervals_until_they_hold_them():
    rng = np.random.default_rng(5)
    moved = [np.exp(rng.normal(0, 0.10, len(SIZES))) for _ in range(3)]
    now = run([1.0] * len(SIZES), 1)
    docs = earlier(moved)
    widened = between_runs.widen(now, docs)
    # The drift note still judges the run's own intervals, which the earlier runs miss.
    own = drift.compare_runs(now, docs[0].results, "earlier.json")
    assert drift.compare_runs(widened, docs[0].results, "earlier.json") == own
    assert own.drifted
    for before, after, *_ in zip(now, widened, strict=True):
        lo, hi = after.stats["ci95"]
        assert lo < before.stats["ci95"][0] and hi > before.stats["ci95"][1]
        assert after.median == before.median
        record = after.stats["between_runs"]
        assert record["runs"] == 3 and len(record["earlier"]) == 3
        assert 0.05 < record["sd"] < 0.2  # the runs moved by 10% (SD) each
    # Widened, the intervals hold the earlier medians, as a 95% interval should.
    inside = [after.stats["ci95"][0] <= m <= after.stats["ci95"][1]
              for after in widened for m in after.stats["between_runs"]["earlier"].values()]
    assert np.mean(inside) >= 0.85


def test_earlier_runs_that_agree_leave_the_intervals_as_they_were():
    now = run([1.0] * len(SIZES), 1)
    widened = between_runs.widen(now, earlier([[1.0] * len(SIZES)] * 2))
    for before, after in zip(now, widened, strict=True):
        assert after.stats["ci95"] == pytest.approx(before.stats["ci95"], rel=1e-9)
        assert after.stats["between_runs"]["sd"] == 0.0
    assert between_runs.widen(now, []) == now  # no earlier run: nothing to learn from


def test_a_cell_that_moves_between_runs_is_widened_more_than_its_steady_siblings():
    # One cell of eight landed 30% away in each earlier run (a GEMM in another regime in
    # another process); the other seven agreed. Each cell's share of the drift is its own,
    # moderated towards the worker's pool: the mover's interval reaches its earlier
    # medians, the steady cells keep intervals much narrower than the pool alone gives.
    moved = [[1.3] + [1.0] * 7, [0.75] + [1.0] * 7, [1.3] + [1.0] * 7]
    now = run([1.0] * len(SIZES), 1)
    widened = between_runs.widen(now, earlier(moved))
    mover, *steady = widened
    lo, hi = mover.stats["ci95"]
    assert all(lo <= m <= hi for m in mover.stats["between_runs"]["earlier"].values())
    pool, _ = between_runs.components(
        [(intervals.Estimate(r.median, *r.stats["ci95"], 6), [r.median * f for f in fs])
         for r, fs in zip(now, zip(*moved, strict=True), strict=True)], runs=3)
    mover_width = hi / lo
    for before, after in zip(now[1:], steady, strict=True):
        width = after.stats["ci95"][1] / after.stats["ci95"][0]
        pooled_lo, pooled_hi = pool.widen(before.median, *before.stats["ci95"])
        assert width < pooled_hi / pooled_lo and width < mover_width ** 0.5
        assert after.stats["between_runs"]["sd"] < mover.stats["between_runs"]["sd"] / 2


def test_a_speedup_whose_columns_drift_together_is_not_widened():
    # Both columns 20% slower or faster together from run to run: the times' intervals
    # widen, the speedups' do not (the drift cancels in the ratio).
    shifts = [[1.2] * len(SIZES), [0.85] * len(SIZES)]
    baseline = between_runs.widen(run([1.0] * len(SIZES), 1),
                                  earlier(shifts))
    column = between_runs.widen(run([0.5] * len(SIZES), 50, "torch"),
                                earlier([[0.5 * f for f in s] for s in shifts], "torch"))
    # The earlier documents of both backends are one run each: give them one run id.
    assert baseline[0].stats["between_runs"]["sd"] > 0.05
    table = speedup_table([*baseline, *column], baseline="numpy-cpu")
    for row in table.rows:
        value, lo, hi = row.cells["torch-cpu"].speedup
        assert value == pytest.approx(2.0, rel=0.03) and hi / lo - 1 < 0.06
    # Columns that drift apart do widen their speedups.
    apart = between_runs.widen(run([0.5] * len(SIZES), 50, "torch"),
                               earlier([[0.5 * f for f in s] for s in ([[1.0] * len(SIZES),
                                                                      [1.3] * len(SIZES)])],
                                       "torch"))
    table = speedup_table([*baseline, *apart], baseline="numpy-cpu")
    value, lo, hi = table.rows[0].cells["torch-cpu"].speedup
    assert hi / lo - 1 > 0.2


def test_the_run_widens_its_intervals_by_the_earlier_runs_in_its_folder(tmp_path):
    args = ("run", "--backend", "numpy", "--workload", "matmul", "--size", "32,64,128",
            "--max-time", "0.05", "--rounds", "3", "--quiet")
    first = tmp_path / "first.json"
    alone = cli(*args[:-1], "-o", first)
    assert alone.exit_code == 0, alone.output
    # Alone in its folder, the run says its intervals know nothing yet of the drift
    # between runs, and what to do.
    assert "next run into this folder" in " ".join(alone.output.split())
    # An earlier run on this machine that measured every case twice as slow: far beyond
    # what three rounds of real timing on a busy machine can make their own intervals.
    data = json.loads(first.read_text())
    for r in data["results"]:
        if r["status"] == "ok":
            r["stats"]["median"] *= 2.0
    data["created"] = "2026-01-01T00:00:00+00:00"
    first.write_text(resultfile.dumps(data))
    second = tmp_path / "second.json"
    result = cli(*args[:-1], "-o", second)
    assert result.exit_code == 0, result.output
    assert "earlier run" in result.output
    assert "next run into this folder" not in " ".join(result.output.split())
    from dlbench import results
    doc = results.load(second)
    ok = [r for r in doc.results if r.status == "ok"]
    for r in ok:
        record = r.stats["between_runs"]
        assert record["runs"] == 1 and record["sd"] > 0.1
        assert r.stats["ci95"][1] >= next(iter(record["earlier"].values()))
    assert ok
    # The first run, alone in its folder, showed only what it saw itself.
    assert all("between_runs" not in (r.get("stats") or {}) for r in data["results"])


def test_widening_adds_variances_not_widths():
    c = between_runs.Component(variance=0.0, df=50.0, runs=2)
    assert c.widen(1.0, 0.9, 1.1) == (0.9, 1.1)
    c = between_runs.Component(variance=0.01, df=1e6, runs=2)
    lo, hi = c.widen(1.0, 1.0, 1.0)  # no own width: the drift's alone, ±1.96·√0.02
    assert math.log(hi) == pytest.approx(1.959964 * math.sqrt(0.02), rel=1e-3)
    assert math.log(lo) == pytest.approx(-math.log(hi))
    record = replace(c, variance=0.0)
    assert record.widen_estimate(intervals.Estimate(2.0, 1.8, 2.2, 6)).lo == 1.8


def test_an_edited_workload_file_is_a_change_of_code_not_drift_of_the_machine(tmp_path):
    kernel = tmp_path / "mine.py"
    kernel.write_text((ROOT / "examples" / "rmsnorm_workload.py").read_text())
    args = ("run", "--workload-file", kernel, "--backend", "numpy", "--workload",
            "matmul,rmsnorm", "--size", "32,64", "--max-time", "0.05", "--rounds", "3")
    first = tmp_path / "first.json"
    assert cli(*args, "--quiet", "-o", first).exit_code == 0
    data = json.loads(first.read_text())
    code = data["settings"]["workload_code"]
    assert list(code) == ["rmsnorm"]
    assert str(kernel.resolve()) in code["rmsnorm"] and "sha256:" in code["rmsnorm"]
    for r in data["results"]:  # an earlier run twice as slow in every case
        if r["status"] == "ok":
            r["stats"]["median"] *= 2.0
    data["created"] = "2026-01-01T00:00:00+00:00"
    first.write_text(resultfile.dumps(data))
    # The user edits their kernel between the runs.
    kernel.write_text(kernel.read_text() + "\n# made faster\n")
    second = tmp_path / "second.json"
    result = cli(*args, "-o", second)
    assert result.exit_code == 0, result.output
    from dlbench import results
    ok = [r for r in results.load(second).results if r.status == "ok"]
    widened = {r.spec.workload for r in ok if "between_runs" in r.stats}
    assert widened == {"matmul"}  # the built-in kernel's history still counts
    assert {r.spec.workload for r in ok} == {"matmul", "rmsnorm"}
