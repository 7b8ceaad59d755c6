"""Training steps beyond the shared workload tests: portable and native steps agree, the
in-place update contract holds over repeated calls, and wrong updates fail the check."""

import numpy as np
import pytest

from dlbench import backends, workloads
from dlbench.workloads import cnn, mlp
from tests.helpers import fast_impls

SMALL = {
    "mlp_train_step": {"batch": 24, "features": 12, "hidden": 10, "classes": 3},
    "cnn_train_step": {"batch": 6, "channels": 2, "hw": 6, "filters": 3, "classes": 3},
}
MODULES = {"mlp_train_step": mlp, "cnn_train_step": cnn}
NAMES = list(SMALL)


def backend(name):
    if name == "torch":
        pytest.importorskip("torch")
    be = backends.get(name)
    backends.import_library(be)
    return be


def build(name, be, dtype, impl="portable", seed=workloads.DEFAULT_SEED):
    wl = workloads.get(name)
    p = wl.resolve(**SMALL[name])
    arrays = {k: be.asarray(v, dtype) for k, v in wl.inputs(p, seed).items()}
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    return wl, p, arrays, widened, wl.kernel(impl, be, arrays, p)


def to_host(be, output):
    return tuple(be.to_numpy(a).astype(np.float64) for a in output)


@pytest.mark.parametrize("name", NAMES)
def test_portable_and_native_torch_steps_agree(name):
    """Hand-written backward vs autograd + torch.optim.SGD, from the same weights, in
    float64: the two implementations must agree to rounding, whatever the reference."""
    be = backend("torch")
    _, _, _, _, portable = build(name, be, "float64")
    _, _, _, _, native = build(name, be, "float64", "native")
    for step in range(3):  # and keep agreeing, step after step, as the weights move
        a, b = to_host(be, portable()), to_host(be, native())
        for got, want in zip(a, b, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"step {step + 1}")


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_each_call_is_one_more_step_on_the_callers_arrays(name, backend_name):
    """The worker widens the inputs before the first call and checks that call only;
    timing then calls again: each call must update the caller's arrays in place and
    train from where the previous call left them."""
    be = backend(backend_name)
    module = MODULES[name]
    wl, p, arrays, widened, step = build(name, be, "float64")
    first = step()
    for got, key in zip(first, module.WEIGHTS, strict=True):
        assert got is arrays[key]
    after_one = {**widened, **dict(zip(module.WEIGHTS, to_host(be, first), strict=True))}
    expected, _ = module.reference_step(after_one)
    second = to_host(be, step())
    for got, key in zip(second, module.WEIGHTS, strict=True):
        np.testing.assert_allclose(got, expected[key], rtol=1e-10, atol=1e-12)
    assert wl.check(second, after_one, p, "float64").ok
    assert not wl.check(second, widened, p, "float64").ok  # two steps are not one


@pytest.mark.parametrize("name", NAMES)
def test_wrong_updates_fail_the_check(name):
    be = backend("numpy")
    module = MODULES[name]
    wl, p, _, widened, step = build(name, be, "float32")
    good = to_host(be, step())
    assert wl.check(good, widened, p, "float32").ok
    new, _ = module.reference_step(widened)
    old = tuple(widened[k] for k in module.WEIGHTS)
    want = tuple(new[k] for k in module.WEIGHTS)
    ascent = tuple(2 * w - n for w, n in zip(old, want, strict=True))  # sign of the grad
    double = tuple(2 * n - w for w, n in zip(old, want, strict=True))  # gradient not / batch
    stale = old  # no update at all
    for bad in (ascent, double, stale):
        assert not wl.check(bad, widened, p, "float32").ok
    # One layer's gradient wrong while the rest is right: the check looks at every array.
    last_bias_frozen = (*want[:-1], old[-1] + 1e-3)
    assert not wl.check(last_bias_frozen, widened, p, "float32").ok


@pytest.mark.parametrize("name", NAMES)
def test_updated_weights_keep_the_case_dtype(name):
    """A float64 scalar anywhere in the step would promote float32 weights on NumPy 2
    (and the in-place update would then fail or silently widen)."""
    for backend_name, dtype in [("numpy", "float32"), ("torch", "bfloat16")]:
        be = backend(backend_name)
        wl, p, arrays, widened, step = build(name, be, dtype)
        out = step()
        assert all(a.dtype == arrays["x"].dtype for a in out)
        assert wl.check(to_host(be, out), widened, p, dtype).ok


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_training_learns_a_separable_dataset_from_another_seed(name, backend_name):
    """Forty steps on fresh data (another seed than the suites use) reach a small loss
    and classify the batch correctly: the step optimises, on every implementation."""
    be = backend(backend_name)
    module = MODULES[name]
    for impl in fast_impls(workloads.get(name), backend_name):
        _, _, arrays, widened, step = build(name, be, "float32", impl, seed=12345)
        before = module.loss(np, widened)
        for _ in range(40):
            step()
        now = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
        after = module.loss(np, now)
        assert after < 0.25 * before, (impl, before, after)
        assert after < 0.3, (impl, after)
