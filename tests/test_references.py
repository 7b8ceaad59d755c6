"""The float64 reference shared by a row's workers (dlbench.references)."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from dlbench import references, workloads
from dlbench.backends import DeviceOptions
from dlbench.measure import MeasureConfig
from dlbench.planning import Plan
from dlbench.references import ReferenceStore
from dlbench.results import CaseSpec
from dlbench.runner import Runner
from dlbench.worker import Failure, Prepared, Worker

FAST = MeasureConfig(min_time=0.01, max_time=0.02, min_samples=3, warmup_time=0.0,
                     sample_time=0.001)
MATMUL = {"m": 48, "n": 40, "k": 32}


@pytest.fixture
def counted(monkeypatch):
    """How often matmul's reference was computed (a spy: the real method still runs)."""
    calls = []
    real = workloads.get("matmul").reference.__func__

    def spy(self, inputs, p):
        calls.append(p)
        return real(self, inputs, p)

    monkeypatch.setattr(type(workloads.get("matmul")), "reference", spy)
    return calls


def widened(p, dtype="float32"):
    host = workloads.get("matmul").inputs(p)
    return {k: v.astype(dtype).astype(np.float64) for k, v in host.items()}


def test_the_second_worker_of_a_row_loads_the_first_ones_reference(tmp_path, counted):
    pytest.importorskip("torch")
    numpy_case = CaseSpec.make("matmul", MATMUL, "float32", "numpy", "cpu", "portable")
    torch_case = CaseSpec.make("matmul", MATMUL, "float32", "torch", "cpu", "portable")
    first = Worker.start("numpy", "cpu", 1, DeviceOptions()).prepare(
        numpy_case, FAST, True, workloads.DEFAULT_SEED, str(tmp_path))
    second = Worker.start("torch", "cpu", 1, DeviceOptions()).prepare(
        torch_case, FAST, True, workloads.DEFAULT_SEED, str(tmp_path))
    assert isinstance(first, Prepared) and isinstance(second, Prepared)
    assert len(counted) == 1 and len(list(tmp_path.glob("*.npz"))) == 1
    # Same inputs, same reference: the loaded one gives the same verdict to the digit.
    assert first.verify["ok"] and second.verify["ok"]
    alone = Worker.start("torch", "cpu", 1, DeviceOptions()).prepare(
        torch_case, FAST, True, workloads.DEFAULT_SEED)
    assert alone.verify == second.verify and len(counted) == 2


def test_a_loaded_reference_still_catches_a_wrong_output(tmp_path, monkeypatch):
    case = CaseSpec.make("matmul", MATMUL, "float32", "numpy", "cpu", "portable")
    good = Worker.start("numpy", "cpu", 1, DeviceOptions()).prepare(
        case, FAST, True, workloads.DEFAULT_SEED, str(tmp_path))
    assert isinstance(good, Prepared)
    monkeypatch.setenv("DLBENCH_TEST_CORRUPT_OUTPUT", "numpy")
    bad = Worker.start("numpy", "cpu", 1, DeviceOptions()).prepare(
        case, FAST, True, workloads.DEFAULT_SEED, str(tmp_path))
    assert isinstance(bad, Failure) and bad.status == "wrong"
    assert len(list(tmp_path.glob("*.npz"))) == 1  # it was the shared reference that said so


def test_inputs_rounded_differently_get_their_own_reference(tmp_path, counted):
    wl, store = workloads.get("matmul"), ReferenceStore(tmp_path)
    as_float32, as_float16 = widened(MATMUL), widened(MATMUL, "float16")
    one_ulp = {**as_float32, "a": as_float32["a"].copy()}
    one_ulp["a"][3, 5] = np.nextafter(np.float32(one_ulp["a"][3, 5]), np.float32(9))
    for inputs in (as_float32, as_float16, one_ulp, as_float32):
        reference = store.get(wl, MATMUL, inputs)
        np.testing.assert_array_equal(reference["product"], inputs["a"] @ inputs["b"])
    assert len(counted) == 3 and len(list(tmp_path.glob("*.npz"))) == 3


def test_the_key_covers_parameters_names_shapes_and_dtypes():
    a = np.arange(6.0)
    base = references.key("matmul", {"m": 2}, {"a": a})
    assert base == references.key("matmul", {"m": 2}, {"a": a.copy()})
    assert len({base, references.key("conv2d", {"m": 2}, {"a": a}),
                references.key("matmul", {"m": 3}, {"a": a}),
                references.key("matmul", {"m": 2}, {"b": a}),
                references.key("matmul", {"m": 2}, {"a": a.reshape(2, 3)}),
                references.key("matmul", {"m": 2}, {"a": a.astype(np.float32)})}) == 6


def test_without_a_place_to_share_each_worker_computes_its_own(tmp_path, counted):
    wl = workloads.get("matmul")
    inputs = widened(MATMUL)
    gone = tmp_path / "removed"  # a failed write only costs the next worker its own
    for store in (ReferenceStore(None), ReferenceStore(gone)):
        assert store.get(wl, MATMUL, inputs)["product"].shape == (48, 40)
    assert len(counted) == 2 and not gone.exists()


def test_a_cheap_reference_is_never_stored(tmp_path):
    wl = workloads.get("bandwidth")
    p = wl.resolve(size=1000)
    inputs = wl.inputs(p)
    reference = ReferenceStore(tmp_path).get(wl, p, inputs)
    assert not wl.shared_reference and list(tmp_path.iterdir()) == []
    assert wl.compare(reference["z"], reference, p, "float64").ok


def test_the_run_leaves_no_references_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cases = tuple(CaseSpec.make("matmul", {"m": n, "n": n, "k": n}, "float32", "numpy", "cpu",
                                "portable") for n in (32, 48))
    seen = []  # what the run's directory held as each case was prepared
    prepare = Runner._prepare

    def spy(self, *args):
        prepared = prepare(self, *args)
        seen.append([p.name for d in tmp_path.glob("dlbench-references-*") for p in d.iterdir()])
        return prepared

    monkeypatch.setattr(Runner, "_prepare", spy)
    results = Runner(Plan(cases=cases, config=FAST)).run()
    assert [r.status for r in results] == ["ok", "ok"]
    assert [len(names) for names in seen] == [1, 1]  # one row's reference at a time
    assert seen[0] != seen[1]
    assert not list(tmp_path.glob("dlbench-references-*"))
