"""conv2d beyond the shared workload tests: geometries on every backend, reuse of the
kernel's buffers across calls, boundary parameters, and classic convolution bugs."""

import numpy as np
import pytest

from dlbench import backends, workloads
from dlbench.errors import UsageError
from dlbench.workloads.conv2d import reference_conv2d

BACKENDS = ["numpy", "torch"]
GEOMETRIES = [
    {"n": 2, "c": 3, "k": 4, "h": 7, "w": 7, "r": 3, "s": 3, "stride": 1, "pad": 1},
    {"n": 1, "c": 2, "k": 3, "h": 9, "w": 6, "r": 2, "s": 4, "stride": 2, "pad": 0},
    {"n": 2, "c": 4, "k": 2, "h": 10, "w": 13, "r": 5, "s": 3, "stride": 3, "pad": 2},
    {"n": 3, "c": 1, "k": 5, "h": 5, "w": 5, "r": 1, "s": 1, "stride": 2, "pad": 0},
]


def backend(name):
    if name == "torch":
        pytest.importorskip("torch")
    be = backends.get(name)
    backends.import_library(be)
    return be


def build(be, dtype, impl="portable", **params):
    wl = workloads.get("conv2d")
    p = wl.resolve(**params)
    arrays = {k: be.asarray(v, dtype) for k, v in wl.inputs(p).items()}
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    return wl, p, arrays, widened, wl.kernel(impl, be, arrays, p)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "{h}x{w}-r{r}s{s}-st{stride}-p{pad}"
                         .format(**g))
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_portable_matches_the_reference_for_every_geometry(backend_name, geometry):
    be = backend(backend_name)
    wl, p, _, widened, kernel = build(be, "float64", **geometry)
    out = be.to_numpy(kernel())
    expected = reference_conv2d(widened["x"], widened["weights"], p["stride"], p["pad"])
    assert out.shape == (p["n"], p["k"], *wl.out_hw(p))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert wl.check(out, widened, p, "float64").ok


def test_native_torch_agrees_with_portable_torch():
    be = backend("torch")
    params = {"n": 4, "c": 16, "k": 8, "h": 12, "w": 12}
    wl, p, arrays, widened, portable = build(be, "float32", **params)
    native = wl.kernel("native", be, arrays, p)
    a, b = be.to_numpy(portable()), be.to_numpy(native())
    scale = reference_conv2d(np.abs(widened["x"]), np.abs(widened["weights"]), 1, 1)
    assert np.max(np.abs(a - b) / scale) < 2 * wl.check(a, widened, p, "float32").tol
    assert wl.check(b, widened, p, "float32").ok


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_each_call_reads_the_current_input_into_the_reused_buffers(backend_name):
    """The padded buffer and the im2col storage are allocated once per kernel: a call
    must still see the input as it is now, keep the border zero, and leave the output
    of an earlier call untouched."""
    be = backend(backend_name)
    wl, p, arrays, widened, kernel = build(be, "float64", **GEOMETRIES[0])
    first = kernel()
    first_host = be.to_numpy(first)
    new_x = np.random.default_rng(7).standard_normal(widened["x"].shape) * 3.0 + 1.0
    arrays["x"][...] = be.asarray(new_x, "float64")
    second = be.to_numpy(kernel())
    expected = reference_conv2d(new_x, widened["weights"], p["stride"], p["pad"])
    np.testing.assert_allclose(second, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(be.to_numpy(first), first_host)


def test_output_keeps_the_case_dtype():
    """NumPy 2 promotes float32 × a NumPy float64 scalar to float64; the kernel must not."""
    for be, dtype in [(backend("numpy"), "float32"), (backend("torch"), "bfloat16")]:
        _, _, arrays, _, kernel = build(be, dtype, **GEOMETRIES[1])
        assert kernel().dtype == arrays["x"].dtype


def test_a_kernel_as_large_as_the_padded_input_is_allowed_and_one_pixel_larger_is_not():
    wl = workloads.get("conv2d")
    p = wl.resolve(n=1, c=2, k=2, h=4, w=6, r=6, s=3, pad=1)
    assert wl.out_hw(p) == (1, 6)
    with pytest.raises(UsageError, match="must fit the padded input"):
        wl.resolve(n=1, c=2, k=2, h=4, w=6, r=7, s=3, pad=1)
    with pytest.raises(UsageError, match="must fit the padded input"):
        wl.resolve(n=1, c=2, k=2, h=4, w=6, r=3, s=9, pad=1)
    with pytest.raises(UsageError, match="stride must be an integer >= 1"):
        wl.resolve(stride=0)
    be = backend("numpy")
    wl, p, _, widened, kernel = build(be, "float64", n=1, c=2, k=2, h=4, w=6, r=6, s=3, pad=1)
    assert wl.check(kernel(), widened, p, "float64").ok


def test_classic_convolution_bugs_fail_the_check():
    be = backend("numpy")
    wl, p, _, widened, kernel = build(be, "float32", **GEOMETRIES[0])
    x, weights = widened["x"], widened["weights"]
    assert wl.check(kernel(), widened, p, "float32").ok
    # True convolution (flipped kernel) instead of the cross-correlation DL layers compute.
    flipped = reference_conv2d(x, weights[:, :, ::-1, ::-1], p["stride"], p["pad"])
    assert not wl.check(flipped.astype(np.float32), widened, p, "float32").ok
    # Input channels paired with the wrong weight channels.
    swapped = reference_conv2d(x[:, ::-1], weights, p["stride"], p["pad"])
    assert not wl.check(swapped.astype(np.float32), widened, p, "float32").ok
    # The output shifted by one pixel (an off-by-one in the padding offset).
    shifted = np.roll(kernel(), 1, axis=3)
    assert not wl.check(shifted, widened, p, "float32").ok
