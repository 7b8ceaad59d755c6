"""bandwidth beyond the shared workload tests: wrong kernels fail, inputs stay untouched,
the native kernel writes one preallocated output, and the cost model counts honestly."""

import numpy as np
import pytest

from dlbench import backends, workloads
from dlbench.errors import UsageError
from dlbench.workloads.bandwidth import ALPHA

N = 4099  # odd and not a power of two: no kernel may assume a friendly length


def backend(name):
    if name == "torch":
        pytest.importorskip("torch")
    be = backends.get(name)
    backends.import_library(be)
    return be


def build(be, dtype, impl="portable", elements=N):
    wl = workloads.get("bandwidth")
    p = wl.resolve(size=elements)
    arrays = {k: be.asarray(v, dtype) for k, v in wl.inputs(p).items()}
    widened = {k: be.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    return wl, p, arrays, widened, wl.kernel(impl, be, arrays, p)


@pytest.mark.parametrize(("backend_name", "impl"), [("numpy", "portable"),
                                                    ("torch", "portable"),
                                                    ("torch", "native")])
def test_every_kernel_matches_and_leaves_its_inputs_alone(backend_name, impl):
    be = backend(backend_name)
    for dtype in ("float32", "float64"):
        wl, p, arrays, widened, kernel = build(be, dtype, impl)
        out = kernel()
        assert out.dtype == arrays["x"].dtype and tuple(out.shape) == (N,)
        check = wl.check(be.to_numpy(out), widened, p, dtype)
        assert check.ok and check.max_rel_err <= check.tol, (dtype, check)
        kernel()
        for key in ("x", "y"):
            np.testing.assert_array_equal(be.to_numpy(arrays[key]), widened[key])


def test_native_torch_reuses_one_preallocated_output():
    """The fused native kernel must not allocate per call: its GB/s would then include
    first-touch page faults, which is what the portable a·x + y shows instead."""
    be = backend("torch")
    _, _, arrays, _, kernel = build(be, "float32", "native")
    first, second = kernel(), kernel()
    assert first.data_ptr() == second.data_ptr()
    assert first.data_ptr() not in (arrays["x"].data_ptr(), arrays["y"].data_ptr())


def test_wrong_kernels_fail_the_check():
    be = backend("numpy")
    wl, p, _, widened, kernel = build(be, "float32")
    x, y = widened["x"], widened["y"]
    assert wl.check(kernel(), widened, p, "float32").ok
    wrong = {
        "y dropped": ALPHA * x,
        "a dropped": x + y,
        "a off by 1e-4": (ALPHA * (1 + 1e-4)) * x + y,
        "x and y swapped": ALPHA * y + x,
        "last element missed": np.concatenate([(ALPHA * x + y)[:-1], [0.0]]),
        "one element short": (ALPHA * x + y)[:-1],
    }
    for what, out in wrong.items():
        assert not wl.check(out.astype(np.float32), widened, p, "float32").ok, what


def test_cost_model_counts_reads_and_writes():
    wl = workloads.get("bandwidth")
    p = wl.resolve(size=1000)
    assert wl.flops(p) == 2000  # one multiply and one add per element
    # x and y read once, z written once; per dtype size.
    assert wl.bytes(p, 4) == 12_000 and wl.bytes(p, 8) == 24_000
    with pytest.raises(UsageError, match="elements must be an integer >= 1"):
        wl.resolve(size=0)
