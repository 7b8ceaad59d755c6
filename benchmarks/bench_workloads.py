"""Every registered workload as a pytest-benchmark case, per CPU backend, for gating.

The same kernels dlbench runs, timed by pytest-benchmark instead, so projects that
already gate on pytest-benchmark can keep doing so — with its own
`--benchmark-compare-fail` or with `dlbench compare`, which reads pytest-benchmark JSON
(see benchmarks/README.md). Both backends share this one process, which dlbench itself
avoids (idle BLAS/OpenMP threads of one library slow the other): the cases are grouped
by backend so each library's threads go idle before the next one starts, and the
figures are for comparing runs of this file with each other, not libraries.
"""

from __future__ import annotations

import importlib.util

import pytest

from dlbench import backends, workloads

# Small sizes: a gate wants many quick, stable rounds, not a big problem.
SIZES = {"matmul": 256, "conv2d": 16, "mlp_train_step": 64, "cnn_train_step": 16,
         "bandwidth": 1 << 20, "lstm": 4, "lstm_train_step": 4, "attention": 128,
         "transformer_train_step": 2}
BACKENDS = [name for name in ("numpy", "torch") if importlib.util.find_spec(name)]


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
    backend = backends.get(backend_name)
    backends.import_library(backend)
    wl = workloads.get(workload)
    p = wl.resolve(size=SIZES.get(workload))
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    kernel = wl.kernel(impl, backend, arrays, p)
    benchmark.group = backend_name
    benchmark.extra_info.update(params=p, flops=wl.flops(p))
    benchmark(kernel)
