"""Every registered workload as a pytest-benchmark case, per CPU backend, for gating.

The same kernels dlbench runs, timed by pytest-benchmark instead, so projects that
already gate on pytest-benchmark can keep doing so — with its own
`--benchmark-compare-fail` or with `dlbench compare`, which reads pytest-benchmark JSON
(see benchmarks/README.md). The backends share this one process, which dlbench itself
avoids (idle BLAS/OpenMP threads of one library slow the other): the cases are grouped
by backend so each library's threads go idle before the next one starts, and the
figures are for comparing runs of this file with each other, not libraries.

Each backend starts as a dlbench worker does (environment before the import: JAX's
float64 and XLA thread flags, TensorFlow's device selection), every call ends with the
backend's sync (JAX dispatches asynchronously: without `block_until_ready` the figure
would be the dispatch alone), and the first call — XLA's compilation, up to 16 s for
TensorFlow's LSTM — runs before pytest-benchmark's rounds, as dlbench keeps it out of
its samples.
"""

from __future__ import annotations

import functools
import importlib.util

import pytest

from dlbench import backends, workloads
from dlbench.backends import DeviceOptions
from dlbench.worker import Worker

# Small sizes: a gate wants many quick, stable rounds, not a big problem.
SIZES = {"matmul": 256, "conv2d": 16, "mlp_train_step": 64, "cnn_train_step": 16,
         "bandwidth": 1 << 20, "lstm": 4, "lstm_train_step": 4, "attention": 128,
         "transformer_train_step": 2}
BACKENDS = [name for name in ("numpy", "torch", "tensorflow", "jax")
            if importlib.util.find_spec(name)]


@functools.cache
def _backend(name: str) -> backends.Backend:
    # Once per process: TensorFlow's devices cannot be chosen again after its first op.
    return Worker.start(name, "cpu", None, DeviceOptions()).backend


def _cases():
    for backend_name in BACKENDS:
        backend = backends.get(backend_name)
        for name in workloads.names():
            wl = workloads.get(name)
            ok, _ = wl.supports(backend)
            if not ok or wl.distributed:  # across ranks: bench_distributed.py
                continue
            for impl in wl.impls_for(backend_name):
                yield pytest.param(backend_name, name, impl,
                                   id=f"{backend_name}-{name}-{impl}")


@pytest.mark.parametrize(("backend_name", "workload", "impl"), list(_cases()))
def test_workload(benchmark, backend_name, workload, impl):
    backend = _backend(backend_name)
    wl = workloads.get(workload)
    p = wl.resolve(size=SIZES.get(workload))
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    kernel = backend.track(wl.kernel(impl, backend, arrays, p))

    def call() -> None:
        kernel()
        backend.synchronize()

    call()  # the first call: compilation and caches, never a round
    benchmark.group = backend_name
    benchmark.extra_info.update(params=p, flops=wl.flops(p))
    benchmark(call)
