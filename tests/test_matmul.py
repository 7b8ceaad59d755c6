"""matmul: cost model, deterministic inputs, verification that catches wrong kernels."""

import numpy as np
import pytest

from dlbench import backends, workloads
from dlbench.errors import UsageError


@pytest.fixture
def matmul():
    return workloads.get("matmul")


def run_portable(backend_name, dtype, p):
    wl = workloads.get("matmul")
    be = backends.get(backend_name)
    arrays = {k: be.asarray(v, dtype) for k, v in wl.inputs(p).items()}
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    out = be.to_numpy(wl.kernel("portable", be, arrays, p)())
    return wl, out, widened


def test_params_and_cost(matmul):
    p = matmul.resolve(size=128, k=64)
    assert p == {"m": 128, "n": 128, "k": 64}
    assert matmul.flops(p) == 2 * 128 * 128 * 64
    assert matmul.bytes(p, 4) == (128 * 64 * 2 + 128 * 128) * 4


@pytest.mark.parametrize("bad", [{"size": 0}, {"m": -3}, {"k": 1.5}, {"q": 3}])
def test_invalid_params(matmul, bad):
    with pytest.raises(UsageError):
        matmul.resolve(**bad)


def test_inputs_are_deterministic(matmul):
    p = matmul.resolve(size=16)
    a, b = matmul.inputs(p), matmul.inputs(p)
    assert np.array_equal(a["a"], b["a"]) and a["a"].dtype == np.float64
    assert not np.array_equal(matmul.inputs(p, seed=1)["a"], a["a"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_portable_verifies(dtype):
    p = {"m": 96, "n": 80, "k": 200}
    wl, out, inputs = run_portable("numpy", dtype, p)
    check = wl.check(out, inputs, p, dtype)
    assert check.ok and check.max_rel_err < check.tol
    assert check.tol == pytest.approx(workloads.UNIT_ROUNDOFF[dtype] * (1 + 2 * np.sqrt(200)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_torch_portable_verifies(dtype):
    pytest.importorskip("torch")
    p = {"m": 64, "n": 64, "k": 512}
    wl, out, inputs = run_portable("torch", dtype, p)
    assert wl.check(out, inputs, p, dtype).ok


def test_wrong_kernels_fail_verification():
    p = {"m": 64, "n": 64, "k": 64}
    wl, out, inputs = run_portable("numpy", "float32", p)
    assert not wl.check(out.T, inputs, p, "float32").ok  # transposed result
    off = out.copy()
    off[3, 5] += 1e-3 * np.abs(off).max()
    assert not wl.check(off, inputs, p, "float32").ok  # one element slightly off
    assert not wl.check(out[:, :-1], inputs, p, "float32").ok  # wrong shape
    assert not wl.check(np.full_like(out, np.nan), inputs, p, "float32").ok


def test_reduced_precision_fails_a_float32_tolerance():
    # A float32 matmul computed from inputs rounded to bfloat16-like precision (what a
    # silent TF32/bf16 switch does) must not pass as float32.
    p = {"m": 64, "n": 64, "k": 256}
    wl, out, inputs = run_portable("numpy", "float32", p)
    rough = {k: np.round(v * 2**7) / 2**7 for k, v in inputs.items()}
    assert not wl.check(rough["a"] @ rough["b"], inputs, p, "float32").ok


def test_native_matmul_is_measured_on_gpus_only(matmul):
    # torch.compile builds from the native call on every device, measured or not.
    assert matmul.impls_for("torch", "cuda") == ("portable", "native", "compiled")
    assert matmul.impls_for("cupy", "cuda:1") == ("portable", "native")
    assert matmul.impls_for("torch", "cpu") == ("portable", "compiled")
    assert matmul.impls_for("numpy", "cpu") == ("portable",)
    # what `dlbench list` shows
    assert matmul.impls_for("torch") == ("portable", "native", "compiled")


def test_native_torch_matmul_is_the_bare_call_and_verifies(matmul):
    """The kernel is torch.matmul bound to its arguments (run here on CPU tensors)."""
    torch = pytest.importorskip("torch")
    be = backends.get("torch")
    p = matmul.resolve(size=48)
    arrays = {k: be.asarray(v, "float32") for k, v in matmul.inputs(p).items()}
    kernel = matmul.kernel("native", be, arrays, p)
    assert kernel.func is torch.matmul
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    assert matmul.check(be.to_numpy(kernel()), widened, p, "float32").ok
