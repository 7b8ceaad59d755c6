"""Drift between runs: a run tells when the previous run's medians fall outside its intervals
far more often than chance, and stays silent when they do not."""

from dataclasses import replace

import numpy as np
import pytest

from dlbench import drift, intervals, resultfile
from dlbench.results import Result, Round
from tests.helpers import ENV, case, document

SIZES = (64, 128, 256, 384, 512, 640, 768, 896, 1024, 1152)


def measured(size, median_s, seed, rounds=6, per_round=8, spread=0.01):
    """A result measured in `rounds` rounds around `median_s`, with its interval."""
    rng = np.random.default_rng(seed)
    samples = tuple((median_s * rng.lognormal(0.0, spread, rounds * per_round)).tolist())
    sizes = [per_round] * rounds
    return Result(spec=case(size=size), status="ok", samples_s=samples,
                  stats=intervals.summary(samples, sizes),
                  rounds=tuple(Round(per_round, i, float(i), 0) for i in range(rounds)))


def run(factors, seed=0):
    return [measured(size, 1e-3 * size / 64 * factor, seed + i)
            for i, (size, factor) in enumerate(zip(SIZES, factors, strict=True))]


def test_a_steady_machine_is_not_called_drifting():
    earlier, now = run([1.0] * 10, seed=0), run([1.0] * 10, seed=100)
    between = drift.compare_runs(now, earlier, "earlier.json")
    assert between.compared == 10
    assert between.outside <= 1
    assert not between.drifted


def test_a_machine_that_moved_between_runs_is_called_drifting():
    # The regimes of a shared host: half the cells 15-40% slower in the later run.
    factors = [1.0, 1.15, 1.0, 1.4, 1.0, 1.2, 1.0, 1.3, 1.0, 1.25]
    earlier, now = run([1.0] * 10, seed=0), run(factors, seed=100)
    between = drift.compare_runs(now, earlier, "earlier.json", minutes=4.0)
    assert between.drifted
    assert between.outside == 5
    assert between.largest_change == pytest.approx(0.4, abs=0.02)
    assert between.largest_id == now[3].spec.id


def test_cells_without_rounds_or_in_common_are_left_out():
    earlier = run([1.0] * 10)
    without_rounds = [replace(r, rounds=(), stats={**r.stats, "interval": "samples"})
                      for r in run([2.0] * 10, seed=5)]
    assert drift.compare_runs(without_rounds, earlier, "e.json") is None
    assert drift.compare_runs(run([2.0] * 10)[:4], earlier, "e.json") is None


def test_the_previous_run_is_the_newest_earlier_file_of_the_same_machine_and_libraries(
        tmp_path):
    def save(name, created, factors, environment=ENV):
        doc = replace(document(*run(factors), environment=environment), created=created)
        path = tmp_path / name
        path.write_text(resultfile.dumps(doc.to_dict()))
        return path, doc

    save("a.json", "2026-12-06T10:00:00+00:00", [1.0] * 10)
    save("other-machine.json", "2026-12-06T10:30:00+00:00", [1.0] * 10,
         environment={**ENV, "host": "elsewhere"})
    save("torch-upgrade.json", "2026-12-06T10:40:00+00:00", [1.0] * 10,
         environment={**ENV, "libraries": {**ENV["libraries"], "torch": "2.14.0+cpu"}})
    (tmp_path / "notes.json").write_text('{"not": "a result file"}')
    path, doc = save("b.json", "2026-12-06T11:00:00+00:00",
                     [1.3, 1.0, 1.3, 1.0, 1.3, 1.0, 1.3, 1.0, 1.3, 1.0])
    earlier = drift.earlier_runs(path.parent, path, doc.created, dict(doc.environment))
    between = drift.against_newest(doc.results, earlier, doc.created)
    assert between.earlier.endswith("a.json")
    assert between.minutes == pytest.approx(60.0)
    assert between.drifted and between.outside == 5


def test_the_run_says_what_drifted_and_what_to_do(capsys):
    from dlbench.cli.run import _say_drift
    between = drift.BetweenRuns("results/a.json", 12.0, 26, 9, 0.08, "matmul/n=1024", 0.43)
    _say_drift(between)
    said = " ".join(capsys.readouterr().err.split())
    assert "9 of 26 medians of results/a.json (12 min earlier)" in said
    assert "matmul/n=1024 +43%" in said and "--repeat 3" in said
    _say_drift(replace(between, outside=1))
    assert capsys.readouterr().err == ""
