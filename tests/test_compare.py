"""The regression gate's core: the U test, verdicts, thresholds, environments, file kinds."""

import json
import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlbench import compare, results, stats
from dlbench.compare import Timing, Verdict, judging
from dlbench.errors import ResultFileError, UsageError
from tests.helpers import (
    ENV,
    PYTEST_BENCHMARK,
    SETTINGS,
    document,
    noisy,
    result,
    scaled_copy,
    source,
    suite_pair,
    timing,
)

ID = "matmul/m=256,n=256,k=256/float32/numpy-cpu/portable"


# -- Mann–Whitney U ------------------------------------------------------------------------------

def test_mann_whitney_u_fully_separated_samples_by_hand():
    # U = 0 pairs with a > b; mean 3·3/2 = 4.5; variance 3·3/12·(6+1) = 5.25 (no ties);
    # z = (4.5 - 0.5)/sqrt(5.25) = 1.74574; p = erfc(z/√2) = 0.0808556.
    u, p = stats.mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert u == 0.0
    assert p == pytest.approx(0.0808556, abs=1e-7)
    assert p == pytest.approx(math.erfc(4.0 / math.sqrt(5.25) / math.sqrt(2.0)), rel=1e-12)


def test_mann_whitney_u_with_ties_by_hand():
    # Pooled 1,2,2,2,3,3,3,4 → average ranks 1, 3,3,3, 6,6,6, 8. Ranks of a: 1+3+3+6 = 13,
    # U = 13 - 4·5/2 = 3 (pairs: 2 vs 2 twice → 1, 3 vs 2 → 1, 3 vs 3 twice → 1).
    # Tie term Σ(t³-t) = 24 + 24 = 48 over n(n-1) = 56; variance 16/12·(9 - 48/56) =
    # 10.857143; z = (|3 - 8| - 0.5)/3.295017 = 1.365698; p = 0.172034.
    u, p = stats.mann_whitney_u([1, 2, 2, 3], [2, 3, 3, 4])
    assert u == 3.0
    assert p == pytest.approx(0.172034, abs=1e-6)


def test_mann_whitney_u_degenerate_and_empty():
    assert stats.mann_whitney_u([1.0, 1.0, 1.0], [1.0, 1.0]) == (3.0, 1.0)
    with pytest.raises(ValueError):
        stats.mann_whitney_u([], [1.0])


@given(st.lists(st.sampled_from([1.0, 2.0, 2.5, 3.0, 7.0]), min_size=1, max_size=12),
       st.lists(st.sampled_from([1.0, 2.0, 2.5, 3.0, 7.0]), min_size=1, max_size=12))
def test_mann_whitney_u_counts_pairs_and_is_symmetric(a, b):
    pairs = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
    u_ab, p_ab = stats.mann_whitney_u(a, b)
    u_ba, p_ba = stats.mann_whitney_u(b, a)
    assert u_ab == pytest.approx(pairs)
    assert u_ab + u_ba == pytest.approx(len(a) * len(b))
    assert p_ab == pytest.approx(p_ba) and 0.0 < p_ab <= 1.0


def test_mann_whitney_u_tells_shifted_from_same_distribution():
    base = noisy(1e-3, n=20, seed=1)
    assert stats.mann_whitney_u(noisy(1.1e-3, n=20, seed=2), base)[1] < 1e-5
    assert stats.mann_whitney_u(noisy(1e-3, n=20, seed=2), base)[1] > 0.05


def test_median_ci_survives_thousands_of_samples():
    # Regression: 0.5**n underflowed and comb(n, k) overflowed a float past ~1030 samples,
    # which crashed `dlbench run --suite ci` on fast cases.
    xs = np.random.default_rng(0).lognormal(0.0, 0.03, 5000).tolist()
    lo, hi, coverage = stats.median_ci(xs)
    assert lo < float(np.median(xs)) < hi and 0.95 <= coverage < 0.96


# -- verdicts on synthetic runs -----------------------------------------------------------------

def test_verdicts_slower_faster_unchanged():
    base = source(result(noisy(1e-3, seed=1)), result(noisy(2e-3, seed=2), size=512),
                  result(noisy(3e-3, seed=3), size=1024))
    new = source(result(noisy(1.2e-3, seed=4)), result(noisy(1.6e-3, seed=5), size=512),
                 result(noisy(3e-3, seed=6), size=1024), path="new.json")
    c = compare.compare(base, new)
    verdicts = {r.id.split("/")[1]: r.verdict for r in c.rows}
    assert verdicts == {"m=256,n=256,k=256": Verdict.SLOWER,
                        "m=512,n=512,k=512": Verdict.FASTER,
                        "m=1024,n=1024,k=1024": Verdict.UNCHANGED}
    slower = c.rows[0]  # most urgent first
    assert slower.regression and c.regressions == [slower] and c.failed()
    assert slower.ratio == pytest.approx(1.2, rel=0.02)
    assert slower.lo < slower.ratio < slower.hi and slower.p < 1e-6
    assert c.counts()["slower"] == 1 and c.counts()["unchanged"] == 1
    assert c.same_machine and not c.differences


def test_significant_change_within_threshold_is_unchanged():
    row = compare.judge(ID, timing(noisy(1e-3, spread=0.002, seed=1)),
                        timing(noisy(1.02e-3, spread=0.002, seed=2)))
    assert row.verdict is Verdict.UNCHANGED and row.p < 1e-6
    assert row.lo > 1.01 and row.hi < 1.05


def test_noisy_data_is_inconclusive_and_gates_only_when_asked():
    base = source(result(noisy(1e-3, n=12, spread=0.15, seed=1)))
    new = source(result(noisy(1.03e-3, n=12, spread=0.15, seed=2)), path="new.json")
    c = compare.compare(base, new)
    (row,) = c.rows
    assert row.verdict is Verdict.INCONCLUSIVE and row.may_regress
    assert row.hi > 1.05 and "not ruled out" in row.reason
    assert not c.failed() and c.failed(fail_on_inconclusive=True)


@pytest.mark.parametrize(("ratio", "lo", "hi", "p", "verdict", "may_regress"), [
    (1.20, 1.15, 1.25, 1e-6, Verdict.SLOWER, False),
    (1.07, 1.03, 1.11, 1e-3, Verdict.SLOWER, False),  # significant, beyond: asv's rule
    (1.07, 0.98, 1.15, 0.20, Verdict.INCONCLUSIVE, True),  # beyond, not significant
    (1.03, 1.01, 1.06, 1e-3, Verdict.INCONCLUSIVE, True),  # within, >5% not ruled out
    (1.03, 1.02, 1.04, 1e-9, Verdict.UNCHANGED, False),
    (0.96, 0.93, 1.01, 0.20, Verdict.INCONCLUSIVE, False),  # at worst 1% slower
    (0.80, 0.75, 0.85, 1e-6, Verdict.FASTER, False),
    (1.20, 1.10, 1.30, None, Verdict.SLOWER, False),  # no U test: the interval excludes 1
    (1.20, 0.99, 1.40, None, Verdict.INCONCLUSIVE, True),
])
def test_verdict_rule(ratio, lo, hi, p, verdict, may_regress):
    got, _ = judging.verdict_of(ratio, lo, hi, p, threshold=0.05, alpha=0.01)
    assert got is verdict
    row = compare.Row(ID, got, 0.05, ratio=ratio, lo=lo, hi=hi, p=p)
    assert row.may_regress is may_regress and row.regression is (verdict is Verdict.SLOWER)


def test_big_change_without_significance_is_inconclusive():
    # Bimodal times (two clock states): one sample moving from the fast to the slow mode
    # moves the median by 20%, while the ranks barely change.
    base = [1.0, 1.001, 1.002, 1.003, 1.004, 1.2, 1.201, 1.202, 1.203]
    new = [1.0, 1.001, 1.002, 1.003, 1.2, 1.201, 1.202, 1.203, 1.204]
    row = compare.judge(ID, timing(base), timing(new))
    assert row.ratio > 1.05 and row.p >= compare.DEFAULT_ALPHA
    assert row.verdict is Verdict.INCONCLUSIVE and "not significant" in row.reason


def test_few_samples():
    five = compare.judge(ID, timing(noisy(1e-3, n=5, seed=1)), timing(noisy(2e-3, n=5, seed=2)))
    assert five.verdict is Verdict.INCONCLUSIVE and five.lo is None
    assert "too few samples" in five.reason and five.may_regress
    # 6 to 8 samples: an interval, but no U test; the interval excluding 1 decides.
    seven = compare.judge(ID, timing(noisy(1e-3, n=7, seed=1)), timing(noisy(2e-3, n=7, seed=2)))
    assert seven.verdict is Verdict.SLOWER and seven.p is None
    assert "U test skipped" in seven.reason


def test_new_missing_invalid_and_skipped():
    base = source(result(noisy(1e-3, seed=1)), result(noisy(2e-3, seed=2), dtype="float64"),
                  result(noisy(3e-3, seed=3), size=512),
                  result((), dtype="bfloat16", status="skipped", error="no bfloat16"),
                  result(noisy(5e-3, seed=5), backend="torch"))
    new = source(result(noisy(1e-3, seed=6)),
                 result(noisy(2e-3, seed=7), dtype="float64", status="wrong",
                        error="max_rel_err 0.5 > tol 1e-6"),
                 result(noisy(4e-3, seed=8), size=1024),
                 result((), dtype="bfloat16", status="skipped", error="no bfloat16"),
                 result((), backend="torch", status="skipped", error="over time budget"),
                 path="new.json")
    c = compare.compare(base, new)
    by_verdict = {r.verdict: r for r in c.rows}
    assert set(by_verdict) == {Verdict.UNCHANGED, Verdict.INVALID, Verdict.MISSING,
                               Verdict.NEW}
    invalid = [r for r in c.rows if r.verdict is Verdict.INVALID]
    assert [r.reason for r in invalid] == ["NEW wrong: max_rel_err 0.5 > tol 1e-6",
                                          "NEW skipped: over time budget"]
    assert by_verdict[Verdict.MISSING].id.startswith("matmul/m=512")
    assert by_verdict[Verdict.NEW].id.startswith("matmul/m=1024")
    assert not any("bfloat16" in r.id for r in c.rows)
    assert "1 benchmark(s) skipped in both files are left out" in c.notes
    assert not c.failed()


def test_nothing_to_compare_is_a_usage_error():
    base = source(result(noisy(1e-3)))
    with pytest.raises(UsageError, match="no benchmark in common"):
        compare.compare(base, source(result(noisy(1e-3), size=512), path="new.json"))
    broken = source(result(noisy(1e-3), status="error", error="boom"), path="new.json")
    with pytest.raises(UsageError, match="no benchmark has a valid timing on both sides"):
        compare.compare(base, broken)
    with pytest.raises(UsageError, match="alpha"):
        compare.compare(base, base, alpha=0.0)


# -- thresholds -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [("5%", 0.05), (" 12.5% ", 0.125), (0.05, 0.05),
                                             ("0.1", 0.1), (0, 0.0), ("200%", 2.0)])
def test_parse_threshold(text, value):
    assert compare.parse_threshold(text, "--threshold") == pytest.approx(value)


@pytest.mark.parametrize("bad", [10, "10", "five", -0.1, "-3%", True, None, "nan%", [5]])
def test_parse_threshold_refuses(bad):
    with pytest.raises(UsageError, match="--threshold"):
        compare.parse_threshold(bad, "--threshold")


def test_thresholds_files_and_last_match_wins(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text('"*" = "4%"\n"matmul/*/float64/*" = 0.15\n"conv2d/*" = "1%"\n')
    overrides = compare.load_thresholds(toml)
    assert overrides == (("*", 0.04), ("matmul/*/float64/*", 0.15), ("conv2d/*", 0.01))
    as_json = tmp_path / "t.json"
    as_json.write_text(json.dumps(dict(overrides)))
    assert compare.load_thresholds(as_json) == overrides
    f64 = "matmul/m=256,n=256,k=256/float64/numpy-cpu/portable"
    assert compare.threshold_for(f64, 0.05, overrides) == 0.15
    assert compare.threshold_for(ID, 0.05, overrides) == 0.04
    assert compare.threshold_for(ID, 0.05, ()) == 0.05

    # A 10% slowdown: a regression at the default, not under a 15% allowance.
    base = source(result(noisy(1e-3, seed=1)), result(noisy(1e-3, seed=2), dtype="float64"))
    new = source(result(noisy(1.1e-3, seed=3)), result(noisy(1.1e-3, seed=4), dtype="float64"),
                 path="new.json")
    c = compare.compare(base, new, overrides=overrides)
    verdict = {r.id: (r.verdict, r.threshold) for r in c.rows}
    assert verdict[ID] == (Verdict.SLOWER, 0.04)
    assert verdict[f64][0] is not Verdict.SLOWER and verdict[f64][1] == 0.15
    assert "threshold pattern 'conv2d/*' matches no benchmark" in c.notes


@pytest.mark.parametrize(("name", "text", "message"), [
    ("t.yaml", "a: 1", "must be .toml or .json"),
    ("t.toml", "not toml [", "not valid TOML"),
    ("t.json", "[1, 2]", "expected a mapping"),
    ("t.json", '{"*": "lots"}', "not a threshold"),
])
def test_bad_thresholds_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        compare.load_thresholds(path)
    with pytest.raises(UsageError, match="no such thresholds file"):
        compare.load_thresholds(tmp_path / "absent.toml")


# -- environments -----------------------------------------------------------------------------

def test_environment_differences_are_listed():
    env = json.loads(json.dumps(ENV))
    env["memory"]["available_bytes"] = 1  # changes between any two runs: not a difference
    env["blas"][0]["num_threads"] = 1
    env["backends"]["torch-cpu"]["math"]["float32_matmul_precision"] = "high"
    env["libraries"]["torch"] = "2.14.0+cpu"
    env["libraries"]["rich"] = "16.0.0"  # a UI helper: not a difference
    c = compare.compare(source(result(noisy(1e-3))),
                        source(result(noisy(1e-3, seed=9)), path="new.json", environment=env,
                               settings={**SETTINGS, "threads": 1, "tf32": "on"}))
    diffs = {d.what: (d.base, d.new) for d in c.differences}
    assert diffs == {
        "libraries.torch": ("2.13.0+cpu", "2.14.0+cpu"),
        "blas[0].num_threads": ("2", "1"),
        "backends.torch-cpu.math.float32_matmul_precision": ("highest", "high"),
        "settings.threads": ("null", "1"),
        "settings.tf32": ("off", "on"),
    }
    assert c.same_machine


def test_different_machines_are_said_so():
    env = {**ENV, "host": "laptop", "cpu": {"model": "Apple M3"}}
    c = compare.compare(source(result(noisy(1e-3))),
                        source(result(noisy(1e-3)), path="new.json", environment=env))
    assert not c.same_machine
    assert c.machines == ("host ci-runner · CPU Intel(R) Xeon(R) Processor · GPUs none",
                          "host laptop · CPU Apple M3 · GPUs none")
    assert {"host", "cpu.model"} <= {d.what for d in c.differences}


def test_interrupted_run_is_noted(tmp_path):
    doc = document(result(noisy(1e-3))).with_results(document(result(noisy(1e-3))).results,
                                                     interrupted=True)
    path = tmp_path / "cut.json"
    results.dump(doc, path)
    assert "interrupted run" in compare.read(path).notes[0]


# -- reading files -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "neither a dlbench result file"),
    ('{"schema": "dlbench.report", "schema_version": 1}', "not a dlbench result file"),
    ('{"schema": "dlbench.result", "schema_version": 99}', "schema_version 99 is not supported"),
    ('{"benchmarks": [{"stats": {"median": 1}}]}',
     r'does not match pytest-benchmark JSON at \$\.benchmarks\[0\]: required key "name"'),
])
def test_read_refuses_bad_files(tmp_path, text, message):
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(ResultFileError, match=message):
        compare.read(path)
    with pytest.raises(ResultFileError, match="no such file"):
        compare.read(tmp_path / "absent.json")


def test_read_pytest_benchmark_with_raw_data():
    src = compare.read(PYTEST_BENCHMARK)
    assert src.kind == "pytest-benchmark" and not src.notes
    by_id = {t.id: t for t in src.timings}
    assert set(by_id) == {"test_tiny.py::test_sum", "test_tiny.py::test_matmul[16]",
                          "test_tiny.py::test_matmul[32]", "test_tiny.py::test_sort_pedantic"}
    assert by_id["test_tiny.py::test_sum"].n == 12
    assert by_id["test_tiny.py::test_sort_pedantic"].n == 5  # rounds=5 in benchmark.pedantic
    assert dict(src.machine.facts) == {"host": "vm", "CPU": "Intel(R) Xeon(R) Processor"}


def test_pytest_benchmark_comparison(tmp_path):
    c = compare.compare(compare.read(PYTEST_BENCHMARK),
                        compare.read(scaled_copy(tmp_path, 1.5)))
    verdicts = {r.id: r.verdict for r in c.rows}
    assert verdicts["test_tiny.py::test_sort_pedantic"] is Verdict.INCONCLUSIVE  # 5 rounds
    assert [v for k, v in verdicts.items() if "pedantic" not in k] == [Verdict.SLOWER] * 3
    assert all(r.p is not None and r.p < compare.DEFAULT_ALPHA for r in c.rows if r.regression)
    same = compare.compare(compare.read(PYTEST_BENCHMARK), compare.read(PYTEST_BENCHMARK))
    assert not same.failed() and all(r.ratio == 1.0 for r in same.rows)


def test_pytest_benchmark_without_raw_data(tmp_path):
    new = compare.read(scaled_copy(tmp_path, 1.5, keep_data=False))
    assert "no raw timings" in new.notes[0]
    c = compare.compare(compare.read(PYTEST_BENCHMARK), new)
    judged = [r for r in c.rows if "pedantic" not in r.id]
    assert all(r.p is None and "U test unavailable" in r.reason for r in judged)
    assert all(r.ratio == pytest.approx(1.5) and r.lo < 1.5 < r.hi for r in judged)
    assert {r.verdict for r in judged} <= {Verdict.SLOWER, Verdict.INCONCLUSIVE}
    assert c.failed()


def test_summary_without_spread_is_inconclusive():
    base = Timing("x", "ok", median=1e-3, n=50)
    row = compare.judge("x", base, Timing("x", "ok", median=2e-3, n=50))
    assert row.verdict is Verdict.INCONCLUSIVE and row.ratio == 2.0 and row.lo is None


def test_dlbench_against_pytest_benchmark_has_nothing_in_common(tmp_path):
    path = tmp_path / "run.json"
    results.dump(document(result(noisy(1e-3))), path)
    with pytest.raises(UsageError, match="no benchmark in common"):
        compare.compare(compare.read(path), compare.read(PYTEST_BENCHMARK))


# -- statistical validation ---------------------------------------------------------------------

def realistic(rng, n, scale=1.0):
    """A shared machine's run times: lognormal with 3% spread, and one sample in 20 hit by
    a disturbance that makes it 1.2-2x slower."""
    x = 1e-3 * scale * rng.lognormal(0.0, 0.03, n)
    hit = rng.random(n) < 0.05
    x[hit] *= rng.uniform(1.2, 2.0, hit.sum())
    return x.tolist()


def test_gate_false_alarms_and_power_under_realistic_noise():
    """(c) of the validation: few false alarms on A/A pairs, a 10% slowdown caught. Seeded,
    so the figures are fixed: 0 false alarms in 400 A/A pairs, 200/200 slowdowns caught
    (15 samples a side, about what a short CI case collects). Half the A/A pairs are
    inconclusive at this sample count, which is why --fail-on-inconclusive is opt-in."""
    rng = np.random.default_rng(20261125)
    n = 15
    aa = [compare.judge(ID, timing(realistic(rng, n)), timing(realistic(rng, n)))
          for _ in range(400)]
    ab = [compare.judge(ID, timing(realistic(rng, n)), timing(realistic(rng, n, 1.10)))
          for _ in range(200)]
    false_alarms = sum(r.regression for r in aa)
    caught = sum(r.regression for r in ab)
    assert false_alarms <= 0.01 * len(aa)
    assert caught >= 0.95 * len(ab)
    # A/A pairs never come out faster-or-slower beyond the threshold in either direction...
    assert Counter(r.verdict for r in aa)[Verdict.FASTER] <= 0.01 * len(aa)
    # ...and a slowdown is never called a speedup.
    assert not any(r.verdict is Verdict.FASTER for r in ab)


# -- the suite-wide shift and relative mode ----------------------------------------------------

def test_machine_drift_below_the_threshold_fails_absolute_but_not_relative():
    """The A/A failure seen on a shared VM: every benchmark 3.5% slower (the machine),
    each also up to ±3% on its own, so some cross 5% absolutely."""
    own = [1.03, 0.97, 1.02, 0.98, 1.0, 1.03, 0.99, 1.01]
    base, new = suite_pair([1.03 * x for x in own])
    absolute = compare.compare(base, new)
    assert absolute.failed() and absolute.shift.ratio == pytest.approx(1.035, abs=0.01)
    assert any("the whole suite moved +3" in n for n in absolute.notes)
    relative = compare.compare(base, new, relative=True)
    assert not relative.failed()
    whole = next(r for r in relative.rows if r.id == compare.SHIFT_ID)
    assert whole.verdict is Verdict.UNCHANGED and whole.ratio == pytest.approx(1.035, abs=0.01)
    # NEW's medians are shown as measured; the change is the one against the shift.
    row = next(r for r in relative.rows if r.id.startswith("matmul/m=64,"))
    assert row.new_median == pytest.approx(1e-3 * 1.03 * 1.03, rel=0.01)
    assert row.ratio == pytest.approx(1.03 * 1.03 / whole.ratio, abs=0.002)


def test_relative_mode_still_catches_one_regression_and_a_suite_wide_one():
    base, new = suite_pair([1.04, 1.04, 1.15 * 1.04, 1.04, 1.04, 1.04])
    c = compare.compare(base, new, relative=True)
    assert [r.id for r in c.regressions] == ["matmul/m=192,n=192,k=192/float32/numpy-cpu/portable"]
    base, new = suite_pair([1.2] * 6)
    c = compare.compare(base, new, relative=True)
    assert [r.id for r in c.regressions] == [compare.SHIFT_ID] and c.failed()


def test_relative_mode_needs_enough_benchmarks():
    base, new = suite_pair([1.0] * 4)
    assert compare.compare(base, new).shift is None
    with pytest.raises(UsageError, match="--relative needs at least 5 benchmarks"):
        compare.compare(base, new, relative=True)


def test_median_ratio_ignores_a_few_rows_that_moved_on_their_own():
    rng = np.random.default_rng(3)
    pairs = [(rng.lognormal(np.log(1.02), 0.01, 30), rng.lognormal(0.0, 0.01, 30))
             for _ in range(7)]
    pairs += [(rng.lognormal(np.log(2.0), 0.01, 30), rng.lognormal(0.0, 0.01, 30))
              for _ in range(2)]
    ratio, lo, hi = stats.median_ratio_ci(pairs)
    assert lo < ratio < hi and ratio == pytest.approx(1.02, abs=0.01)
    assert stats.geomean_ratio_ci(pairs)[0] > 1.15  # the mean follows the two outliers


@pytest.mark.parametrize("bad", [[-1e-3] * 12, [0.0] * 12, [math.nan] * 12, [math.inf] * 12])
def test_impossible_timings_are_invalid_never_faster(bad):
    base = result(noisy(1e-3, n=12))
    new = replace(result(noisy(1e-3, n=12)), samples_s=tuple(bad),
                  stats={"median": bad[0], "iqr": 0.0, "n": 12})
    row = compare.compare(source(base, result(noisy(2e-3), size=512)),
                          source(new, result(noisy(2e-3, seed=3), size=512),
                                 path="new.json")).rows
    judged = {r.id: r for r in row}[base.spec.id]
    assert judged.verdict is Verdict.INVALID
    assert "NEW has impossible times (each must be positive and finite)" in judged.reason
