"""The runner with real spawned workers: interleaving, verification, crash survival."""

import os
import signal
from dataclasses import replace

import pytest

from dlbench import measured, planning, runner
from dlbench.measure import MeasureConfig
from dlbench.planning import Plan
from dlbench.results import CaseSpec, Round
from dlbench.runner import Runner
from tests.helpers import case

pytestmark = pytest.mark.slow

FAST = MeasureConfig(min_time=0.05, max_time=0.3, min_samples=5, warmup_time=0.02,
                     sample_time=0.002, block_time=0.05, block_warmup_time=0.01)


def specs(size, backends=("numpy", "torch"), dtype="float32"):
    return [case(size=size, dtype=dtype, backend=b) for b in backends]


@pytest.fixture(scope="module")
def two_backend_run():
    pytest.importorskip("torch")
    events = []
    plan = Plan(cases=tuple(specs(64) + specs(128)), config=FAST, threads=1)
    runner = Runner(plan, on_event=events.append)
    return runner, runner.run(), events


def test_every_case_measured_and_verified(two_backend_run):
    _, results, _ = two_backend_run
    assert [r.status for r in results] == ["ok"] * 4
    for r in results:
        assert r.verify["ok"] and r.verify["max_rel_err"] <= r.verify["tol"]
        assert r.stats["n"] == len(r.samples_s) >= FAST.min_samples
        assert r.gflops == pytest.approx(r.flops / r.stats["median"] / 1e9)
        assert r.first_call_s is not None and r.inner_loops >= 1


def test_all_workers_ready_before_first_case(two_backend_run):
    _, _, events = two_backend_run
    kinds = [e.kind for e in events]
    first_case = kinds.index("case_start")
    assert kinds[:first_case].count("worker_ready") == 2


def test_a_rows_cases_share_passes_in_rotated_order(two_backend_run):
    _, results, events = two_backend_run
    by = {(r.spec.backend, r.spec.param_dict["m"]): r for r in results}
    # Both rows fit one window: every case is sampled once per pass from the first pass
    # on, so a row's rounds pair up by index (speedups.py) and span the same time.
    for m in (64, 128):
        numpy_rounds, torch_rounds = (by[(b, m)].rounds for b in ("numpy", "torch"))
        assert [r.index for r in numpy_rounds] == list(range(len(numpy_rounds)))
        assert [r.index for r in torch_rounds] == list(range(len(torch_rounds)))
        assert len(numpy_rounds) >= 2 and len(torch_rounds) >= 2
        assert sum(r.n for r in numpy_rounds) == len(by[("numpy", m)].samples_s)
    # Each pass starts with another worker (the order rotates), so neither library
    # always runs first after the other's threads.
    first = {}
    for e in events:
        if e.kind == "block":
            first.setdefault(e.index, e.spec.backend)  # e.index: the case's rounds so far
    assert first[1] != first[2]
    assert all(r.run == results[0].run for r in results) and results[0].run


def test_threads_are_set_and_recorded(two_backend_run):
    runner, _, _ = two_backend_run
    described = runner.backend_descriptions()
    assert described["torch-cpu"]["threads"] == 1
    blas = [lib for lib in described["numpy-cpu"]["blas"] if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_killed_worker_costs_only_its_own_case():
    pytest.importorskip("torch")
    killed = []

    def on_event(event):
        # Kill the torch worker as soon as it has delivered its first block of the
        # first case: its next request finds the process gone.
        if event.kind == "block" and event.spec.backend == "torch" and not killed:
            os.kill(event.pid, signal.SIGKILL)
            killed.append(event.pid)

    # min_time spans several blocks, so the first case still needs the killed worker
    # (with FAST's min_time one block could finish it, and the kill would hit case 2).
    config = replace(FAST, min_time=0.3, max_time=0.6)
    plan = Plan(cases=tuple(specs(64) + specs(96)), config=config)
    results = Runner(plan, on_event=on_event).run()
    by_id = {(r.spec.backend, r.spec.param_dict["m"]): r for r in results}
    assert killed
    # The case whose request found the process gone carries the crash; the worker is
    # started again, the other torch case prepared there anew, and it measures normally.
    torch_cases = [by_id[("torch", m)] for m in (64, 96)]
    crashed = [r for r in torch_cases if r.status == "error"]
    assert len(crashed) == 1
    assert f"pid {killed[0]}" in crashed[0].error and "signal 9" in crashed[0].error
    assert [r.status for r in torch_cases if r not in crashed] == ["ok"]
    assert by_id[("numpy", 64)].status == "ok" and by_id[("numpy", 64)].stats["n"] > 0
    assert by_id[("numpy", 96)].status == "ok"


def test_case_error_is_recorded_and_run_goes_on():
    bad = CaseSpec.make("matmul", {"m": 64, "n": 64, "k": 64}, "float32", "numpy", "cpu",
                        "no-such-impl")
    plan = Plan(cases=(bad, *specs(64, backends=("numpy",))), config=FAST)
    results = Runner(plan).run()
    assert results[0].status == "error" and "no 'no-such-impl' implementation" in results[0].error
    assert results[1].status == "ok"


def test_wrong_output_is_status_wrong(monkeypatch):
    monkeypatch.setenv("DLBENCH_TEST_CORRUPT_OUTPUT", "numpy")  # inherited by spawned workers
    plan = Plan(cases=tuple(specs(64, backends=("numpy",))), config=FAST)
    (result,) = Runner(plan).run()
    assert result.status == "wrong" and not result.verify["ok"]
    assert result.samples_s == ()  # a wrong answer is never timed as if it were a result
    assert "float64 reference" in result.error


def test_repeat_measures_again_in_fresh_workers_and_pools_the_rounds():
    events = []
    plan = Plan(cases=tuple(specs(64, backends=("numpy",))), config=FAST, threads=1, repeat=2)
    (result,) = Runner(plan, on_event=events.append).run()
    assert result.status == "ok" and result.verify["ok"]
    assert {r.execution for r in result.rounds} == {0, 1}
    assert len({e.pid for e in events if e.kind == "block"}) == 2  # a fresh process each
    assert [e.kind for e in events].count("case_done") == 1  # one result, after the last
    assert sum(r.n for r in result.rounds) == len(result.samples_s)
    # Its interval stands on the between-execution component its worker's cases share.
    executions = result.stats["executions"]
    assert executions["count"] == 2 and executions["df"] == 1
    assert executions["between_sd"] >= 0


def test_pooling_gives_a_workers_cases_one_between_execution_component():
    def repeated(spec, levels):
        samples, rounds = [], []
        for index, level in enumerate(levels):
            samples += [level, level * 1.01, level * 0.99]
            rounds.append(Round(3, index, float(index), index // 3))
        return measured.result(spec, measured.Measured(tuple(samples), tuple(rounds)))

    cases = [case(size=n, dtype="float32", backend="numpy") for n in (64, 128, 256)]
    # Three cases, two executions of three rounds each, the second 10% slower or faster.
    results = [repeated(spec, [1.0, 1.0, 1.0, 1.1, 1.1, 1.1] if i % 2 else
                        [1.0, 1.0, 1.0, 0.9, 0.9, 0.9]) for i, spec in enumerate(cases)]
    single = measured.result(cases[0], measured.Measured((1.0, 1.0, 1.0), ()))
    pooled = measured.pool_executions([*results, single])
    components = {tuple(sorted(r.stats["executions"].items())) for r in pooled[:3]}
    assert len(components) == 1  # one component for the worker's three cases
    (component,) = components
    assert dict(component)["df"] == 3 and dict(component)["between_sd"] > 0.05
    assert "executions" not in pooled[3].stats  # one execution: left as it was
    assert [r.median for r in pooled[:3]] == [r.median for r in results]


def test_a_columns_speedups_pool_their_own_between_execution_component():
    from dlbench import speedups

    def repeated(backend, n, levels):
        samples, rounds = [], []
        for index, level in enumerate(levels):
            samples += [level] * 3
            rounds.append(Round(3, index, float(index), index // 2))
        spec = case(size=n, dtype="float32", backend=backend)
        return replace(measured.result(spec, measured.Measured(tuple(samples), tuple(rounds))),
                       run="r1")

    # Two executions of two rounds; the machine is 20% slower in the second for both
    # columns: the speedup does not move, so its component is nil while the times' is not.
    pairs = [(repeated("numpy", n, [1.0, 1.01, 1.2, 1.21]),
              repeated("torch", n, [0.5, 0.5, 0.6, 0.6])) for n in (64, 128, 256, 512)]
    ratio = speedups.between(pairs)
    assert ratio.df == 4 and ratio.variance < 1e-4
    times = measured.pool_executions([b for b, _ in pairs])[0].stats["executions"]
    assert times["between_sd"] > 0.1
    steady = speedups.speedup(*pairs[0], pooled=ratio)
    assert steady.value == pytest.approx(2.0, rel=0.02) and steady.rel_width < 0.05


def test_host_workers_share_the_memory_available_and_a_device_worker_keeps_its_window():
    specs = [case(backend="numpy"), case(backend="torch"), case(backend="torch", device="cuda")]
    budgets = runner.window_budgets(specs, available=16 * 2**30)
    assert budgets["numpy-cpu"] == budgets["torch-cpu"] == 4 * 2**30  # half of 16, by two
    assert budgets["torch-cuda"] == runner.WINDOW_BYTES
    short = runner.window_budgets(specs, available=2**29)
    assert set(short.values()) == {runner.WINDOW_BYTES}  # never less than one window's


def test_the_default_selection_spreads_its_rounds_over_one_window_where_memory_allows():
    plan = planning.build(planning.Selection(backends=("numpy",)), available_memory=16 * 2**30)
    rows = runner._rows(list(plan.cases))
    roomy = runner._windows(rows, runner.window_budgets(plan.cases, 16 * 2**30))
    assert len(roomy) == 1 and sum(len(r) for r in roomy[0]) == len(plan.cases)
    # With one window's bytes alone its convolution row stands apart, and the rows
    # before and after it never share a pass: their rounds see different minutes.
    tight = runner._windows(rows, runner.window_budgets(plan.cases, 2**30))
    assert len(tight) > 1
    assert sorted(spec.id for window in tight for row in window for spec in row) == sorted(
        spec.id for spec in plan.cases)
