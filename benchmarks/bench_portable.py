"""Efficiency of the portable kernels: are they honest competitors?

Targets (the workloads issue): portable conv2d on NumPy ≥ 60% of NumPy's own GEMM
GFLOP/s for a ResNet-like layer (N=32, C=K=128, 28×28, 3×3); the portable MLP step
≥ 70% of GEMM GFLOP/s; portable kernels on torch CPU within 1.5× of torch's native
ones. Each figure is a ratio of two medians taken in the same process, one after the
other, with dlbench's own engine; the GEMM reference is reported both for a square
matrix of about the same FLOPs and for the exact shape the convolution's GEMM has.
"""

from __future__ import annotations

import pytest

from dlbench import backends, workloads
from dlbench.measure import MeasureConfig, measure

CONFIG = MeasureConfig(min_time=1.0, max_time=4.0, warmup_time=0.3)
CONV = {"n": 32, "c": 128, "k": 128, "h": 28, "w": 28, "r": 3, "s": 3, "stride": 1, "pad": 1}


def gflops(backend_name: str, name: str, impl: str = "portable", **params: int) -> float:
    backend = backends.get(backend_name)
    backends.import_library(backend)
    wl = workloads.get(name)
    p = wl.resolve(**params)
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    median = measure(wl.kernel(impl, backend, arrays, p), CONFIG).summary.median
    return wl.flops(p) / median / 1e9


def report(benchmark, **figures: float) -> None:
    benchmark.extra_info.update(figures)
    print("\n" + ", ".join(f"{k} {v:.3g}" for k, v in figures.items()))


def test_numpy_portable_conv2d_vs_gemm(benchmark):
    conv = benchmark.pedantic(lambda: gflops("numpy", "conv2d", **CONV), rounds=1, iterations=1)
    square = gflops("numpy", "matmul", size=1536)  # 7.2 GFLOP, the layer's 7.4
    same_shape = gflops("numpy", "matmul", m=128, k=128 * 9, n=32 * 28 * 28)
    report(benchmark, conv_gflops=conv, gemm_square_gflops=square,
           gemm_same_shape_gflops=same_shape, ratio_square=conv / square,
           ratio_same_shape=conv / same_shape)
    assert conv / square >= 0.6


def test_numpy_portable_mlp_vs_gemm(benchmark):
    mlp = benchmark.pedantic(lambda: gflops("numpy", "mlp_train_step"), rounds=1, iterations=1)
    square = gflops("numpy", "matmul", size=1024)
    report(benchmark, mlp_gflops=mlp, gemm_gflops=square, ratio=mlp / square)
    assert mlp / square >= 0.7


@pytest.mark.parametrize(("name", "params"), [("conv2d", CONV), ("mlp_train_step", {}),
                                              ("cnn_train_step", {})])
def test_torch_portable_vs_native(benchmark, name, params):
    pytest.importorskip("torch")
    portable = benchmark.pedantic(lambda: gflops("torch", name, **params), rounds=1,
                                  iterations=1)
    native = gflops("torch", name, "native", **params)
    report(benchmark, portable_gflops=portable, native_gflops=native,
           native_over_portable=native / portable)
    assert native / portable <= 1.5
