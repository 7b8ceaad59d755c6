"""The harness's own cost, and agreement of dlbench's medians with independent timers.

Targets (DESIGN.md): under 1 µs of harness per call; medians within ±3% of `timeit`
(NumPy) and `torch.utils.benchmark.Timer` (PyTorch) on a 1024³ float32 matmul with 2
threads. The two timers alternate in rounds inside one process, so the machine's slow
drift hits both alike and cancels in the per-round ratio.
"""

from __future__ import annotations

import statistics
import timeit

import numpy as np
import pytest

from dlbench import backends, workloads
from dlbench.measure import HostTimer, MeasureConfig, measure

THREADS = 2
ROUNDS = 7
NOOP_LOOPS = 200_000
# Engine settings for the agreement rounds: about a second of samples per round.
ROUND_CONFIG = MeasureConfig(min_time=1.0, max_time=2.0, warmup_time=0.2)


def _noop() -> None:
    return None


def test_harness_overhead_per_call(benchmark):
    """Seconds the engine's batch loop adds per call, timing a no-op callable."""
    timer = HostTimer()
    per_call = benchmark(lambda: timer.time_batch(_noop, NOOP_LOOPS) / NOOP_LOOPS)
    floor = min(timeit.repeat(_noop, number=NOOP_LOOPS, repeat=5)) / NOOP_LOOPS
    benchmark.extra_info.update(harness_ns_per_call=per_call * 1e9,
                                timeit_ns_per_call=floor * 1e9)
    print(f"\nharness: {per_call * 1e9:.1f} ns per call (timeit's own loop: "
          f"{floor * 1e9:.1f} ns)")
    assert per_call < 1e-6


def _matmul_kernel(backend_name: str):
    wl = workloads.get("matmul")
    backend = backends.get(backend_name)
    backends.import_library(backend)
    backend.set_threads(THREADS)
    p = wl.resolve(size=1024)
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    return wl.kernel("portable", backend, arrays, p)


def _rounds(dlbench_median, reference_median) -> dict[str, float]:
    ratios = []
    for _ in range(ROUNDS):
        ratios.append(dlbench_median() / reference_median())
    return {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "rounds": ROUNDS}


def _report(benchmark, name: str, figures: dict[str, float]) -> None:
    benchmark.extra_info.update(figures)
    print(f"\n{name}: dlbench/reference median ratio {figures['ratio_median']:.4f} "
          f"(spread {figures['ratio_min']:.4f}..{figures['ratio_max']:.4f} over "
          f"{figures['rounds']} rounds)")


def test_agreement_with_timeit_numpy(benchmark):
    kernel = _matmul_kernel("numpy")

    def ours() -> float:
        return statistics.median(measure(kernel, ROUND_CONFIG).samples_s)

    def reference() -> float:
        number, _ = timeit.Timer(kernel).autorange()
        return statistics.median(timeit.repeat(kernel, number=number, repeat=15)) / number

    figures = benchmark.pedantic(lambda: _rounds(ours, reference), rounds=1, iterations=1)
    _report(benchmark, "numpy vs timeit", figures)
    assert abs(figures["ratio_median"] - 1) < 0.03


def test_agreement_with_torch_timer(benchmark):
    torch_benchmark = pytest.importorskip("torch.utils.benchmark")
    kernel = _matmul_kernel("torch")
    # Timer defaults to num_threads=1: without this it reports torch 2× slow.
    timer = torch_benchmark.Timer(stmt="kernel()", globals={"kernel": kernel},
                                  num_threads=THREADS)

    def ours() -> float:
        return statistics.median(measure(kernel, ROUND_CONFIG).samples_s)

    def reference() -> float:
        return timer.blocked_autorange(min_run_time=1.0).median

    figures = benchmark.pedantic(lambda: _rounds(ours, reference), rounds=1, iterations=1)
    _report(benchmark, "torch vs torch.utils.benchmark.Timer", figures)
    assert abs(figures["ratio_median"] - 1) < 0.03
    assert np.isfinite(figures["ratio_max"])
