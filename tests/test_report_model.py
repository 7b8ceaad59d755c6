"""The merged report's data: machines, crossovers, geometric means, epochs, roofline."""

import math

import pytest

from dlbench import stats
from dlbench.report import epoch, machines, model
from dlbench.report.roofline import roofline
from dlbench.report.rows import speedup_table
from dlbench.results import CaseSpec, Result, RunDocument
from tests.helpers import GPU_BOX, LAPTOP, build, case


def result(workload, params, backend, device, median, dtype="float32", n=8):
    samples = tuple(median * (1 + 0.01 * (i - n / 2) / n) for i in range(n))
    return Result(spec=case(workload, dtype=dtype, backend=backend, device=device, params=params),
                  status="ok", samples_s=samples,
                  stats={"median": median, "ci95": [median * 0.99, median * 1.01]})


def document(results, host="h", **env):
    return RunDocument(dlbench_version="0.1.0", created="2026-11-25T00:00:00+00:00",
                       command=("dlbench", "run"), environment={"host": host, **env},
                       settings={}, results=tuple(results))


def test_fingerprint_tells_machines_apart_by_hardware_and_key_libraries():
    base = {"host": "a", "cpu": {"model": "X"}, "gpus": [], "libraries": {"numpy": "2.1"}}
    same = {**base, "libraries": {"numpy": "2.1", "rich": "15", "dlbench": "0.2"}, "os": "other"}
    assert machines.fingerprint(base) == machines.fingerprint(same)
    for change in ({"cpu": {"model": "Y"}}, {"gpus": [{"name": "H100"}]},
                   {"libraries": {"numpy": "2.2"}}, {"host": "b"}):
        assert machines.fingerprint(base) != machines.fingerprint({**base, **change})


def test_same_host_with_two_fingerprints_gets_both_in_its_label():
    envs = [{"host": "a", "libraries": {"torch": "2.3"}},
            {"host": "a", "libraries": {"torch": "2.4"}}, {"host": "b"}]
    labels = [m.label for m in machines.machines(envs)]
    assert labels[0].startswith("a (") and labels[1].startswith("a (") and labels[0] != labels[1]
    assert labels[2] == "b"


def test_merge_keeps_machines_apart_and_builds_a_side_by_side_table():
    report = build(LAPTOP, GPU_BOX)
    assert [v.machine.label for v in report.machines] == ["laptop", "gpu-box"]
    assert report.machines[1].machine.gpus == ("NVIDIA H100 80GB HBM3",)
    assert report.cross.baseline == "laptop: numpy-cpu"
    assert "gpu-box: torch-cuda" in report.cross.columns
    # each machine's own table compares against its own baseline
    gpu = {r.params: r for r in report.machines[1].table.rows}
    assert gpu["m=256, n=256, k=256"].cells["torch-cuda"].speedup[0] == pytest.approx(700 / 40)


def test_same_machine_files_merge_and_a_later_measurement_replaces_an_earlier():
    first = document([result("matmul", {"m": 64}, "numpy", "cpu", 1e-3)])
    again = document([result("matmul", {"m": 64}, "numpy", "cpu", 2e-3),
                      result("matmul", {"m": 64}, "torch", "cpu", 1e-3)])
    report = model.build([("one.json", first), ("two.json", again)])
    assert len(report.machines) == 1 and report.cross is None
    view = report.machines[0]
    assert [r.median for r in view.results] == [2e-3, 1e-3]
    assert view.origin[view.results[0].spec].name == "two.json"
    assert any("two.json: 1 result(s) replace" in n for n in report.notes)


def test_crossover_is_the_smallest_size_whose_interval_is_above_one():
    table = build(LAPTOP).machines[0].table
    (cross,) = table.crossovers
    assert (cross.column, cross.size, cross.smallest, cross.largest) == (
        "torch-cpu", "m, n, k = 128", "m, n, k = 64", "m, n, k = 256")  # 512 failed: no speedup
    assert cross.speedup[1] > 1 and cross.holds and not cross.at_smallest
    assert "torch-cpu beats numpy-cpu from m, n, k = 128 (1.25×" in cross.text()


def test_no_crossover_when_never_faster_and_a_warning_when_it_does_not_hold():
    rows = [result("matmul", {"m": s, "n": s, "k": s}, "numpy", "cpu", 1e-3)
            for s in (64, 128, 256)]
    slow = [result("matmul", {"m": s, "n": s, "k": s}, "torch", "cpu", 2e-3) for s in (64, 128)]
    table = speedup_table(rows + slow)
    assert table.crossovers[0].size is None
    assert "does not beat numpy-cpu at any size measured (m, n, k = 64 … m, n, k = 128)" in \
        table.crossovers[0].text()
    mixed = [result("matmul", {"m": s, "n": s, "k": s}, "torch", "cpu", t)
             for s, t in ((64, 0.5e-3), (128, 2e-3), (256, 0.5e-3))]
    (cross,) = speedup_table(rows + mixed).crossovers
    assert cross.at_smallest and not cross.holds and "not at every larger size" in cross.text()


def test_unknown_workload_sweeps_over_the_params_that_vary():
    rows = [result("future_op", {"batch": b, "width": 8}, backend, "cpu", t)
            for b in (16, 32) for backend, t in (("numpy", 1e-3), ("torch", 0.5e-3))]
    (cross,) = speedup_table(rows).crossovers
    assert cross.sweep == "future_op float32 (width=8)" and cross.size == "batch = 16"


def test_geomean_over_rows_with_an_interval_and_note():
    table = build(LAPTOP).machines[0].table
    g = table.geomeans["torch-cpu"]
    assert g.rows == 3  # the wrong and errored 512 row is left out
    assert g.point == pytest.approx((20 / 20.2 * 1.25 * 1.6) ** (1 / 3))
    assert g.lo < g.point < g.hi and g.significant
    point, lo, hi = stats.geomean_ratio_ci([((2.0, 2.0, 2.1), (1.0, 1.0, 1.1))] * 2)
    assert point == pytest.approx(2.0) and lo <= point <= hi


def test_epoch_extrapolation_from_a_measured_training_step():
    doc = document([result("mlp_train_step", {"batch": 128, "hidden": 64}, "torch", "cpu", 0.01),
                    result("cnn_train_step", {"batch": 32}, "numpy", "cpu", 0.5),
                    result("matmul", {"m": 64}, "numpy", "cpu", 1e-3)])
    (mlp, cnn) = epoch.estimates([("box", r) for r in doc.results])
    assert mlp.samples_per_s == pytest.approx(12_800)
    mnist, imagenet = mlp.epochs
    assert (mnist.samples, mnist.steps, mnist.seconds) == (60_000, 469, pytest.approx(4.69))
    assert (mnist.lo, mnist.hi) == (pytest.approx(4.69 * 0.99), pytest.approx(4.69 * 1.01))
    assert imagenet.steps == math.ceil(1_281_167 / 128)
    assert cnn.epochs[0].steps == 1875 and cnn.epochs[0].seconds == pytest.approx(937.5)
    text = "\n".join(epoch.lines(mlp))
    assert "⌈60,000 / 128⌉ = 469 steps × 10 ms ≈ 4.69 s" in text and "12,800 samples/s" in text
    assert "MNIST-sized" in text and "ImageNet-1k-sized" in text
    assert epoch.format_duration(937.5) == "15.6 min"


def test_no_training_step_no_extrapolation():
    assert build(LAPTOP).epochs == ()
    failed = Result(spec=CaseSpec.make("mlp_train_step", {"batch": 8}, "float32", "numpy", "cpu",
                                       "portable"), status="error", error="boom")
    assert epoch.estimates([("h", failed)]) == ()


def test_roofline_roofs_known_and_unknown():
    laptop, gpu = build(LAPTOP, GPU_BOX).machines
    roof = roofline(gpu)
    assert roof.compute == (("cpu float32 peak 1000 GFLOP/s", 1e12),)
    assert roof.bandwidth[0][1] == pytest.approx(12.0 * (1 << 20) / 2e-4)
    assert any(u.startswith("compute roof (cuda float32): unknown") for u in roof.unknown)
    assert any(u.startswith("bandwidth roof (cuda): unknown") for u in roof.unknown)
    lap = roofline(laptop)
    assert lap.compute == () and lap.bandwidth == ()
    assert "compute roof (cpu float32): unknown — the OS does not report" in lap.unknown[0]
    point = next(p for p in lap.points if p.label == "matmul m=64, n=64, k=64 float32")
    assert point.intensity == pytest.approx(2 * 64**3 / (12 * 64**2))


def test_no_extrapolation_from_parameters_the_workload_would_refuse():
    """A hand-edited training step without its sequence length, or with a zero one, is
    tabled but not extrapolated (the extrapolation would divide by it); so is a workload
    this dlbench does not know, whatever its name: only a workload says what it trains on."""
    from dlbench import workloads

    good = workloads.get("transformer_train_step").resolve(size=4)
    missing = {k: v for k, v in good.items() if k != "seq"}
    rs = [result("transformer_train_step", params, "numpy", "cpu", 1e-3)
          for params in (good, missing, {**good, "seq": 0})]
    rs.append(result("future_train_step", {"batch": 8}, "numpy", "cpu", 1e-3))
    rep = model.build([("a.json", document(rs))])
    assert [e.workload for e in rep.epochs] == ["transformer_train_step"]
    assert len(rep.machines[0].table.rows) == 4
