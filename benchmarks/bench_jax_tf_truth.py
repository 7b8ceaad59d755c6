"""dlbench's medians of native TensorFlow and JAX matmuls against each library's own best
timing practice, side by side.

Target (issue 12): native TF and JAX matmul 1024² and 2048² float32 on a CPU within 10%
of a `timeit` loop synchronised the library's way — `block_until_ready()` on every
result for JAX (its documented practice), `tf.test.experimental.sync_devices()` after
every call for TensorFlow. Each library runs in a child process of its own (never two
libraries' thread pools in one process: docs/methodology.md), which alternates rounds of the
dlbench path (a `worker.Worker` preparing the case and sampling it block by block, as
the runner drives it over the pipe) and of the reference, the order swapped every round
so that the machine's drift cancels in the per-round ratio; the figure is the median
ratio over the rounds. Skipped where the library is not installed.

    pytest benchmarks/bench_jax_tf_truth.py --benchmark-only -s
    python benchmarks/bench_jax_tf_truth.py jax 1024     # one child's figures as JSON
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import timeit

import pytest

THREADS = 2
ROUNDS = 7
REFERENCE_REPEATS = 5
TOLERANCE = 0.10


def _child(backend: str, size: int) -> dict[str, float]:
    from dlbench.backends import DeviceOptions
    from dlbench.measure import MeasureConfig
    from dlbench.results import CaseSpec
    from dlbench.worker import Failure, Worker

    config = MeasureConfig(min_time=0.5, max_time=1.0, warmup_time=0.1, block_time=0.1,
                           block_warmup_time=0.05)
    worker = Worker.start(backend, "cpu", THREADS, DeviceOptions())
    spec = CaseSpec.make("matmul", {"m": size, "n": size, "k": size}, "float32", backend,
                         "cpu", "native")

    def dlbench_median() -> float:
        prepared = worker.prepare(spec, config, True, 1)
        assert not isinstance(prepared, Failure), prepared
        # The worker's own Sampler, block after block until its stopping rule says.
        samples = worker.cases[spec.id].run().samples_s
        return statistics.median(samples)

    reference_call = _reference(backend, worker.backend, size)

    def reference_median() -> float:
        number, _ = timeit.Timer(reference_call).autorange()
        repeats = timeit.repeat(reference_call, number=number, repeat=REFERENCE_REPEATS)
        return statistics.median(repeats) / number

    ratios = []
    for i in range(ROUNDS):
        if i % 2:
            reference = reference_median()
            ratios.append(dlbench_median() / reference)
        else:
            ratios.append(dlbench_median() / reference_median())
    return {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "rounds": ROUNDS,
            "dlbench_s": dlbench_median(), "reference_s": reference_median()}


def _reference(backend: str, handle, size: int):
    """The library's own fastest way to call a matmul, synchronised its own way."""
    import numpy as np

    rng = np.random.default_rng(1)
    a, b = (handle.asarray(rng.standard_normal((size, size)), "float32") for _ in range(2))
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        f = jax.jit(jnp.matmul)
        f(a, b).block_until_ready()  # compile outside the timing
        return lambda: f(a, b).block_until_ready()
    import tensorflow as tf

    sync = tf.test.experimental.sync_devices
    return lambda: (tf.linalg.matmul(a, b), sync())


@pytest.mark.parametrize("size", [1024, 2048])
@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_native_matmul_agrees_with_the_library_timeit(benchmark, backend, size):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")

    def measure() -> dict[str, float]:
        out = subprocess.run([sys.executable, __file__, backend, str(size)],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    figures = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print(f"\n{backend} matmul {size}² f32: dlbench {figures['dlbench_s'] * 1e3:.2f} ms, "
          f"timeit {figures['reference_s'] * 1e3:.2f} ms; median ratio "
          f"{figures['ratio_median']:.3f} (spread {figures['ratio_min']:.3f}.."
          f"{figures['ratio_max']:.3f} over {figures['rounds']} rounds)")
    assert abs(figures["ratio_median"] - 1) < TOLERANCE


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], int(sys.argv[2]))))
