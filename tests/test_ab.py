"""`dlbench ab`: two environments in one run, B judged against A from rounds paired by
pass; sides refused up front; the A/B file read by `compare` and `report`."""

import json
import sys
import venv

import numpy as np
import pytest

from dlbench import intervals, planning, results, sides
from dlbench.compare import ABSENT, Verdict, paired
from dlbench.errors import EnvironmentUnusable, UsageError
from dlbench.planning import Selection
from dlbench.results import CaseSpec, Result, Round
from dlbench.runner import Runner
from tests.helpers import ENV, assert_one_line_error, cli, document

TINY = ("--backend", "numpy", "--workload", "matmul", "--size", "64", "--dtype", "float32",
        "--min-time", "0.05", "--max-time", "0.2", "--threads", "1")
SLOWER_ID = "matmul/m=256,n=256,k=256/float32/numpy-cpu/portable"
SAME_ID = "matmul/m=64,n=64,k=64/float32/numpy-cpu/portable"


def test_env_options_are_key_value_pairs():
    assert sides.parse_env(["OMP_NUM_THREADS=1", "EMPTY=", "X=a=b"], "--env-b") == {
        "OMP_NUM_THREADS": "1", "EMPTY": "", "X": "a=b"}
    for bad in ("FOO", "=1", "1X=2", "A B=1"):
        with pytest.raises(UsageError, match="--env-a"):
            sides.parse_env([bad], "--env-a")


def test_a_side_is_part_of_a_cases_label_and_id_and_survives_the_file(tmp_path):
    spec = CaseSpec.make("matmul", {"m": 8, "n": 8, "k": 8}, "float32", "numpy", "cpu",
                         "portable", side="B")
    assert spec.label == "numpy-cpu@B" and spec.column == "numpy-cpu@B"
    assert spec.id == "matmul/m=8,n=8,k=8/float32/numpy-cpu@B/portable"
    assert spec.without_side().id == "matmul/m=8,n=8,k=8/float32/numpy-cpu/portable"
    path = tmp_path / "ab.json"
    results.dump(document(Result(spec, "skipped", error="why")), path)
    assert results.load(path).results[0].spec == spec
    data = json.loads(path.read_text())
    data["results"][0]["side"] = "C"  # the schema knows two sides
    path.write_text(json.dumps(data))
    with pytest.raises(results.ResultFileError):
        results.load(path)


def test_a_split_plan_measures_every_case_on_both_sides_in_one_row():
    plan = planning.build(Selection(backends=("numpy",), workloads=("matmul",), sizes=(64,),
                                    dtypes=("float32",)))
    split = sides.split(plan)
    assert [c.side for c in split.cases] == ["A", "B"] * len(plan.cases)
    assert {c.without_side() for c in split.cases} == set(plan.cases)
    assert len({c.row_key for c in split.cases}) == len({c.row_key for c in plan.cases})
    assert split.backends == ("numpy-cpu@A", "numpy-cpu@B")


def _paired_result(size, side, rounds, run="r1", per_round=5, seed=0):
    """A result whose rounds have these medians (a little noise inside each)."""
    rng = np.random.default_rng(seed)
    samples = [m * (1 + 0.002 * rng.standard_normal()) for m in rounds
               for _ in range(per_round)]
    sizes = [per_round] * len(rounds)
    spec = CaseSpec.make("matmul", {"m": size, "n": size, "k": size}, "float32", "numpy",
                         "cpu", "portable", side=side)
    return Result(spec, "ok", samples_s=tuple(samples),
                  stats=intervals.summary(samples, sizes),
                  rounds=tuple(Round(per_round, i) for i in range(len(rounds))), run=run)


def _ab_document(b_factor=1.3, drift=0.2, rounds=12, seed=1):
    """Side B `b_factor` times slower on the 256 case, unchanged on the 64 case, both
    under a drift of ±`drift` that each pass's two sides share."""
    rng = np.random.default_rng(seed)
    machine = 1 + drift * rng.uniform(-1, 1, rounds)
    a256, a64 = 1e-3 * machine, 1e-5 * machine
    b256 = a256 * b_factor * (1 + 0.01 * rng.standard_normal(rounds))
    b64 = a64 * (1 + 0.01 * rng.standard_normal(rounds))
    environment = {**ENV, "sides": {
        "A": {"python": "/venv-a/bin/python", "env": {}, "libraries": {"numpy": "2.3.5"}},
        "B": {"python": "/venv-b/bin/python", "env": {"OMP_NUM_THREADS": "1"},
              "libraries": {"numpy": "2.4.6"}}}}
    return document(_paired_result(256, "A", a256), _paired_result(256, "B", b256),
                    _paired_result(64, "A", a64), _paired_result(64, "B", b64),
                    environment=environment)


def test_paired_rounds_find_the_change_through_a_drift_that_hides_it_between_runs():
    doc = _ab_document(b_factor=1.10, drift=0.2)
    comparison = paired.judge_sides(doc, "ab.json")
    rows = {r.id: r for r in comparison.rows}
    assert rows[SLOWER_ID].verdict is Verdict.SLOWER
    assert rows[SLOWER_ID].lo > 1.05 and rows[SLOWER_ID].hi < 1.15
    assert rows[SAME_ID].verdict is Verdict.UNCHANGED
    # The same rounds as two unpaired runs: the drift swamps a 10% change.
    unpaired = intervals.change_interval(list(doc.results[1].round_medians().values()),
                                         list(doc.results[0].round_medians().values()))
    assert unpaired.lo < 1.0 < unpaired.hi
    differ = {d.what: (d.base, d.new) for d in comparison.differences}
    assert differ["libraries.numpy"] == ("2.3.5", "2.4.6")
    assert differ["env.OMP_NUM_THREADS"] == (ABSENT, "1")


def test_compare_reads_an_ab_file_alone_with_compares_exit_codes(tmp_path):
    path = tmp_path / "ab.json"
    results.dump(_ab_document(), path)
    done = cli("compare", path, "--format", "json")
    assert done.exit_code == 1, done.output
    rows = {r["id"]: r["verdict"] for r in json.loads(done.stdout)["rows"]}
    assert rows == {SLOWER_ID: "slower", SAME_ID: "unchanged"}
    assert cli("compare", path, "--threshold", "50%").exit_code == 0
    assert cli("compare", path, "--thresholds", _limits(tmp_path)).exit_code == 0
    plain = tmp_path / "plain.json"
    results.dump(document(), plain)
    assert_one_line_error(cli("compare", plain), "holds no A/B run")


def _limits(tmp_path):
    limits = tmp_path / "limits.toml"
    limits.write_text('"matmul/m=256*" = "40%"\n')  # patterns match ids without a side
    return limits


def test_report_shows_both_sides_with_b_against_a(tmp_path):
    path = tmp_path / "ab.json"
    results.dump(_ab_document(b_factor=2.0, drift=0.0), path)
    done = cli("report", path, "--format", "md")
    assert done.exit_code == 0, done.output
    assert "numpy-cpu@A" in done.stdout and "numpy-cpu@B" in done.stdout
    assert "0.50×" in done.stdout  # B's speedup over A's column, the baseline


# -- sides refused up front: one line, exit 2, nothing written ---------------------------------

@pytest.mark.slow
def test_a_side_that_cannot_run_dlbench_is_refused_in_one_line(tmp_path):
    out = tmp_path / "ab.json"
    script = tmp_path / "not-python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    text = tmp_path / "text"
    text.write_text("x")
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    cases = [((text, text), "not an executable file"),
             ((tmp_path / "missing", sys.executable), "does not exist"),
             ((script, script), "is not a Python interpreter"),
             ((tmp_path, sys.executable), "not a virtual environment"),
             ((bare, sys.executable), "lacks dlbench's dependencies")]
    for pythons, fragment in cases:
        assert_one_line_error(cli("ab", *pythons, *TINY, "-o", out), fragment)
    assert_one_line_error(cli("ab", "--env-b", "PYTHONMALLOC=bogus", *TINY, "-o", out),
                          "B (", "failed while starting", "PYTHONMALLOC")
    assert_one_line_error(cli("ab", sys.executable, *TINY, "-o", out), "two interpreters")
    assert not out.exists()


@pytest.mark.slow
def test_a_side_whose_workers_die_while_starting_stops_the_run_before_any_sample():
    plan = sides.split(planning.build(Selection(
        backends=("numpy",), workloads=("matmul",), sizes=(32,), dtypes=("float32",))))
    broken = {"A": sides.Side("A", sys.executable),
              "B": sides.Side("B", sys.executable, {"PYTHONMALLOC": "bogus"})}
    runner = Runner(plan, sides=broken)
    with pytest.raises(EnvironmentUnusable, match="numpy-cpu@B"):
        runner.run()
    assert runner.results == []


# -- end to end ------------------------------------------------------------------------------

@pytest.mark.slow
def test_ab_with_env_sides_records_both_and_pairs_their_rounds(tmp_path):
    out = tmp_path / "ab.json"
    done = cli("ab", "--env-b", "DLBENCH_AB_MARK=b", *TINY, "--rounds", "4", "-o", out,
               "--threshold", "90%")
    assert done.exit_code == 0, done.output
    assert "dlbench compare: NEW against BASE" in done.stdout
    doc = results.load(out)
    by_side = {r.spec.side: r for r in doc.results}
    assert set(by_side) == {"A", "B"} and all(r.status == "ok" for r in doc.results)
    assert by_side["A"].run == by_side["B"].run
    assert set(by_side["A"].round_medians()) & set(by_side["B"].round_medians())
    recorded = doc.environment["sides"]
    assert recorded["A"]["python"] == recorded["B"]["python"] == sys.executable
    assert recorded["B"]["env"] == {"DLBENCH_AB_MARK": "b"} and recorded["A"]["env"] == {}
    assert recorded["B"]["libraries"]["numpy"] == np.__version__
    assert set(doc.environment["backends"]) == {"numpy-cpu@A", "numpy-cpu@B"}
    again = cli("compare", out, "--threshold", "90%", "--format", "json")
    assert again.exit_code == 0 and len(json.loads(again.stdout)["rows"]) == 1


@pytest.mark.slow
def test_ab_of_two_interpreters_keeps_a_when_b_fails_and_exits_3(tmp_path):
    out = tmp_path / "ab.json"
    done = cli("ab", sys.executable, sys.executable, "--env-b",
               "DLBENCH_TEST_CORRUPT_OUTPUT=numpy", *TINY, "-o", out, "--quiet")
    assert done.exit_code == 3, done.output
    statuses = {r.spec.side: r.status for r in results.load(out).results}
    assert statuses == {"A": "ok", "B": "wrong"}
