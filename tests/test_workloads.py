"""conv2d, training steps and bandwidth: every implementation on every CPU backend matches
the float64 reference, wrong kernels fail, bad parameters are refused, training learns."""

import importlib

import numpy as np
import pytest

from dlbench import backends, workloads
from dlbench.errors import UsageError
from tests.helpers import fast_impls

BACKENDS = ["numpy", pytest.param("torch", marks=pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"))]
SMALL = {
    "conv2d": {"n": 3, "c": 5, "k": 4, "h": 11, "w": 9, "stride": 2, "pad": 1},
    "mlp_train_step": {"batch": 32, "features": 20, "hidden": 16, "classes": 4},
    "cnn_train_step": {"batch": 8, "channels": 2, "hw": 8, "filters": 4, "classes": 3},
    "bandwidth": {"elements": 1000},
}


def prepare(name, backend_name, dtype, impl="portable", **overrides):
    wl = workloads.get(name)
    be = backends.get(backend_name)
    backends.import_library(be)
    p = wl.resolve(**{**SMALL[name], **overrides})
    arrays = {k: be.asarray(v, dtype) for k, v in wl.inputs(p).items()}
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    return wl, be, p, arrays, widened, wl.kernel(impl, be, arrays, p)


def host(be, output):
    return tuple(be.to_numpy(a) for a in output) if isinstance(output, tuple) else \
        be.to_numpy(output)


def dtypes_for(backend_name):
    return ["float32", "float64"] + (["bfloat16"] if backend_name == "torch" else [])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("name", list(SMALL))
def test_every_implementation_verifies(name, backend_name):
    wl = workloads.get(name)
    for dtype in dtypes_for(backend_name):
        for impl in fast_impls(wl, backend_name):
            wl, be, p, _, widened, kernel = prepare(name, backend_name, dtype, impl)
            check = wl.check(host(be, kernel()), widened, p, dtype)
            assert check.ok, (name, backend_name, dtype, impl, check)
            assert check.max_rel_err <= check.tol


@pytest.mark.parametrize("overrides", [{"stride": 1, "pad": 0}, {"stride": 3, "pad": 2},
                                       {"r": 1, "s": 1, "pad": 0}, {"r": 5, "s": 3}])
def test_conv2d_geometries_match_torch(overrides):
    torch = pytest.importorskip("torch")
    wl, be, p, arrays, widened, kernel = prepare("conv2d", "torch", "float64", **overrides)
    expected = torch.nn.functional.conv2d(arrays["x"], arrays["weights"], stride=p["stride"],
                                          padding=p["pad"])
    assert torch.allclose(kernel(), expected, rtol=1e-12, atol=1e-12)
    assert wl.check(be.to_numpy(kernel()), widened, p, "float64").ok


def test_conv2d_cost_model():
    wl = workloads.get("conv2d")
    p = wl.resolve(n=2, c=3, k=4, h=10, w=8, r=3, s=3, stride=2, pad=1)
    assert wl.out_hw(p) == (5, 4)
    assert wl.flops(p) == 2 * 2 * 4 * 5 * 4 * 3 * 3 * 3
    assert wl.resolve(size=56)["h"] == wl.resolve(size=56)["w"] == 56


@pytest.mark.parametrize(("name", "bad", "rule"), [
    ("conv2d", {"stride": 0}, "stride must be an integer >= 1"),
    ("conv2d", {"r": 9, "h": 4, "pad": 1}, "kernel (9×3) must fit the padded input (6×11)"),
    ("conv2d", {"pad": -1}, "pad must be an integer >= 0"),
    ("cnn_train_step", {"kernel": 4}, "kernel must be odd"),
    ("cnn_train_step", {"hw": 7}, "hw must be even"),
    ("mlp_train_step", {"hidden": 0}, "hidden must be an integer >= 1"),
    ("bandwidth", {"elements": -5}, "elements must be an integer >= 1"),
])
def test_invalid_parameters_name_the_rule(name, bad, rule):
    with pytest.raises(UsageError, match=None) as info:
        workloads.get(name).resolve(**{**SMALL[name], **bad})
    assert rule in str(info.value)


def test_wrong_kernels_fail():
    wl, be, p, _, widened, kernel = prepare("conv2d", "numpy", "float32")
    out = kernel()
    assert not wl.check(out[:, ::-1], widened, p, "float32").ok  # filters swapped
    assert not wl.check(out * (1 + 1e-4), widened, p, "float32").ok  # slightly scaled
    wl, be, p, _, widened, step = prepare("mlp_train_step", "numpy", "float32")
    w1, b1, w2, b2 = (np.array(a) for a in step())
    assert not wl.check((w1, b1, w2 + 1e-3, b2), widened, p, "float32").ok
    assert not wl.check((w1, b1, w2), widened, p, "float32").ok  # an array missing
    wl, be, p, arrays, widened, step = prepare("cnn_train_step", "numpy", "float32")
    original = {k: v.copy() for k, v in widened.items()}
    step()
    step()  # two steps where one was due: the update differs from the reference's
    assert not wl.check(tuple(arrays[k] for k in ("wc1", "bc1", "wc2", "bc2", "wd", "bd")),
                        original, p, "float32").ok


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("name", ["mlp_train_step", "cnn_train_step"])
def test_a_few_dozen_steps_reduce_the_loss(name, backend_name):
    module = importlib.import_module(f"dlbench.workloads.{name.split('_')[0]}")
    for impl in fast_impls(workloads.get(name), backend_name):
        _, be, _, arrays, widened, step = prepare(name, backend_name, "float32", impl)
        before = module.loss(np, widened)
        for _ in range(30):
            step()
        after = module.loss(np, {k: be.to_numpy(v).astype(np.float64)
                                 for k, v in arrays.items()})
        assert after < 0.2 * before, (impl, before, after)


def test_training_flop_formulas():
    mlp = workloads.get("mlp_train_step")
    p = mlp.resolve(batch=2, features=3, hidden=5, classes=7)
    assert mlp.flops(p) == 2 * 2 * (2 * 3 * 5 + 3 * 5 * 7)
    cnn = workloads.get("cnn_train_step")
    p = cnn.resolve(batch=2, channels=3, hw=4, filters=5, kernel=3, classes=7)
    conv1, conv2, dense = 2 * 2 * 5 * 16 * 3 * 9, 2 * 2 * 5 * 16 * 5 * 9, 2 * 2 * 20 * 7
    assert cnn.flops(p) == 2 * conv1 + 3 * conv2 + 3 * dense


def test_bandwidth_counts_bytes_and_flops():
    wl = workloads.get("bandwidth")
    p = wl.resolve(size=1024)
    assert (wl.flops(p), wl.bytes(p, 4)) == (2048, 3 * 1024 * 4)
