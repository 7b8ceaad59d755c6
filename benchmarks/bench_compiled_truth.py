"""dlbench's medians of torch.compile'd kernels against a hand-written
torch.utils.benchmark.Timer over the very same compiled function, side by side.

Target (issue 22): within ±5% for kernels of 1 ms or more. One child process compiles
each case once through a `worker.Worker` (the path a run takes: inputs, the compiled
first call, verification, warm-up, calibration), then alternates rounds of dlbench's
Sampler over the compiled kernel and of a `torch.utils.benchmark.Timer` calling that
same kernel object, the order swapped every round so that the machine's drift cancels
in the per-round ratio; the figure is the median ratio over the rounds. The Timer is
given the worker's thread count: it defaults to num_threads=1, which on a 2-vCPU VM
reported torch 2× slower than it runs with two threads.

    pytest benchmarks/bench_compiled_truth.py --benchmark-only -s
    python benchmarks/bench_compiled_truth.py matmul conv2d   # the child's figures, JSON
"""

from __future__ import annotations

import functools
import importlib.util
import json
import statistics
import subprocess
import sys
from collections.abc import Callable

import pytest

ROUNDS = 7
TOLERANCE = 0.05
TIMER_MIN_RUN_S = 1.0
# Default sizes: every kernel here takes a millisecond or more on a 2-vCPU CPU.
CASES = ("matmul", "conv2d", "mlp_train_step", "transformer_train_step")


def _child(names: list[str]) -> dict[str, dict[str, float]]:
    import torch.utils.benchmark as torch_benchmark

    from dlbench import workloads
    from dlbench.backends import DeviceOptions
    from dlbench.measure import MeasureConfig, Sampler
    from dlbench.results import CaseSpec
    from dlbench.worker import Failure, Worker

    config = MeasureConfig(min_time=0.5, max_time=1.0, warmup_time=0.1, block_time=0.2,
                           block_warmup_time=0.05)
    import torch

    worker = Worker.start("torch", "cpu", None, DeviceOptions())
    threads = torch.get_num_threads()  # the worker's, which the Timer would not use
    out = {}
    for name in names:
        wl = workloads.get(name)
        spec = CaseSpec.make(name, wl.resolve(), "float32", "torch", "cpu", "compiled")
        prepared = worker.prepare(spec, config, True, 1)
        assert not isinstance(prepared, Failure), prepared
        kernel = worker.compiled[spec.id]  # the compiled function both sides call

        def dlbench_median(kernel=kernel) -> float:
            # the worker's own engine, a fresh Sampler per round over the same kernel
            sampler = Sampler(worker.backend.track(kernel), worker.timer(), config)
            return statistics.median(sampler.run().samples_s)

        timer = torch_benchmark.Timer("kernel()", globals={"kernel": kernel},
                                      num_threads=threads)

        def timer_median(timer=timer) -> float:
            return timer.blocked_autorange(min_run_time=TIMER_MIN_RUN_S).median

        ratios = [_ratio(dlbench_median, timer_median, swap=bool(i % 2)) for i in range(ROUNDS)]
        out[name] = {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                     "ratio_max": max(ratios), "rounds": ROUNDS,
                     "dlbench_s": dlbench_median(), "timer_s": timer_median(),
                     "compile_s": prepared.first_call_s, "threads": threads}
        worker.release(spec.id)
    return out


def _ratio(ours: Callable[[], float], theirs: Callable[[], float], swap: bool) -> float:
    """ours / theirs of one round, measured in the order `swap` says."""
    if swap:
        reference = theirs()
        return ours() / reference
    mine = ours()
    return mine / theirs()


@functools.cache
def _figures() -> dict[str, dict[str, float]]:
    """Every case in one child: Inductor starts once (about 10 s here)."""
    out = subprocess.run([sys.executable, __file__, *CASES], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("name", CASES)
def test_compiled_timing_agrees_with_torch_timer(benchmark, name):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    figures = benchmark.pedantic(lambda: _figures()[name], rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print(f"\ntorch.compile {name}: dlbench {figures['dlbench_s'] * 1e3:.2f} ms, Timer "
          f"{figures['timer_s'] * 1e3:.2f} ms; median ratio {figures['ratio_median']:.3f} "
          f"(spread {figures['ratio_min']:.3f}..{figures['ratio_max']:.3f} over "
          f"{figures['rounds']} rounds); compiled in {figures['compile_s']:.1f} s")
    assert figures["timer_s"] >= 1e-3, "the ±5% target holds for kernels of 1 ms or more"
    assert abs(figures["ratio_median"] - 1) < TOLERANCE


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1:])))
