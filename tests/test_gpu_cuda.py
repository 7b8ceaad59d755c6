"""On a real CUDA GPU: event timing, math flags, memory, transfer and the environment.

Each test runs once per GPU library (the `gpu_library` fixture of conftest.py), skipped
with the CUDA probe's own reason where that gpu_library has no usable GPU.
"""

import pytest

from dlbench.backends import DeviceOptions
from dlbench.measure import MeasureConfig
from dlbench.planning import Plan
from dlbench.results import CaseSpec
from dlbench.runner import Runner
from tests.helpers import case

pytestmark = [pytest.mark.gpu, pytest.mark.slow]
FAST = MeasureConfig(min_time=0.05, max_time=0.3, min_samples=5, warmup_time=0.02,
                     sample_time=0.002, block_time=0.05, block_warmup_time=0.01)


def matmul(backend, size=512, dtype="float32"):
    return case(size=size, dtype=dtype, backend=backend, device="cuda")


def test_event_timed_matmul_with_host_time_math_and_peak_memory(gpu_library):
    runner = Runner(Plan(cases=(matmul(gpu_library),), config=FAST))
    result, = runner.run()
    assert result.status == "ok" and result.verify["ok"], result.error
    assert result.timer == "cuda-event"
    assert len(result.host_samples_s) == len(result.samples_s)
    # Host time includes launch and the wait: never below the device time by much.
    assert result.extra()["host_stats"]["median"] >= 0.9 * result.stats["median"]
    assert result.numerics.float32_math == "ieee" and result.numerics.cache == "hot"
    assert result.peak_device_bytes >= 3 * 512 * 512 * 4
    gpu = runner.environment["gpus"][0]
    assert gpu["device"] == "cuda:0" and gpu["memory_total_bytes"] > 0 and gpu["sm_count"] > 0
    assert result.fraction_of_peak is None or 0 < result.fraction_of_peak < 1.2


def test_tf32_on_is_applied_and_verified_with_tf32_tolerance(gpu_library):
    result, = Runner(Plan(cases=(matmul(gpu_library, 1024),), config=FAST,
                           options=DeviceOptions(tf32=True))).run()
    assert result.status == "ok", result.error
    assert result.numerics.float32_math == "tf32"
    assert result.verify["tol"] > 2.0**-11  # the TF32 accumulation term


def test_cold_cache_samples_are_single_calls(gpu_library):
    result, = Runner(Plan(cases=(matmul(gpu_library, 256),), config=FAST,
                           options=DeviceOptions(cold_cache=True))).run()
    assert result.status == "ok" and result.inner_loops == 1
    assert result.numerics.cache == "cold"


def test_transfer_copies_exactly_in_every_direction(gpu_library):
    cases = tuple(CaseSpec.make("transfer", {"n": 2**22}, "float32", gpu_library, "cuda", impl)
                  for impl in ("h2d-pageable", "h2d-pinned", "d2h-pageable", "d2h-pinned"))
    results = Runner(Plan(cases=cases, config=FAST)).run()
    for r in results:
        assert r.status == "ok" and r.verify["max_abs_err"] == 0.0, (r.spec.id, r.error)
        assert r.gbytes_per_s > 0.1


def test_end_to_end_includes_the_copies(gpu_library):
    """Copy-in + compute + copy-out takes longer than the compute alone (the bus is
    slower than the kernel for a 1024² matmul), and the result still verifies."""
    compute = matmul(gpu_library, 1024)
    end_to_end = CaseSpec.make(compute.workload, compute.param_dict, "float32", gpu_library,
                               "cuda", "portable", end_to_end=True)
    results = Runner(Plan(cases=(compute, end_to_end), config=FAST)).run()
    for r in results:
        assert r.status == "ok" and r.verify["ok"], (r.spec.id, r.error)
    assert results[1].spec.column == f"{gpu_library}-cuda+transfer"
    assert results[1].stats["median"] > results[0].stats["median"]


def test_native_matmul_and_enqueue_times(gpu_library):
    """The bare library call beside the portable one; each hot sample carries the host's
    enqueue time, never more than the synchronised host time of the same batch."""
    portable = matmul(gpu_library, 256)
    native = CaseSpec.make("matmul", portable.param_dict, "float32", gpu_library, "cuda",
                           "native")
    results = Runner(Plan(cases=(portable, native), config=FAST)).run()
    assert [r.spec for r in results] == [portable, native]  # plan order
    for r in results:
        assert r.status == "ok" and r.verify["ok"], (r.spec.id, r.error)
        assert len(r.enqueue_samples_s) == len(r.host_samples_s) == len(r.samples_s)
        assert all(e <= h for e, h in zip(r.enqueue_samples_s, r.host_samples_s, strict=True))


def test_graph_mode_times_replays_and_verifies(gpu_library):
    eager = CaseSpec.make("matmul", {"m": 256, "n": 256, "k": 256}, "float32", gpu_library,
                          "cuda", "native")
    graph = CaseSpec.make("matmul", eager.param_dict, "float32", gpu_library, "cuda", "native",
                          graph=True)
    results = Runner(Plan(cases=(eager, graph), config=FAST)).run()
    for r in results:
        assert r.status == "ok" and r.verify["ok"], (r.spec.id, r.error)
    assert results[1].timer == "cuda-graph" and results[1].spec.column.endswith("+graph")
    # Without a launch per call, a 256² GEMM is not launch-bound.
    assert "launch_bound" not in results[1].warnings


def test_cold_samples_keep_no_host_figures(gpu_library):
    result, = Runner(Plan(cases=(matmul(gpu_library, 256),), config=FAST,
                          options=DeviceOptions(cold_cache=True))).run()
    assert result.status == "ok" and result.host_samples_s == result.enqueue_samples_s == ()
