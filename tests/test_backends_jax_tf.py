"""JAX and TensorFlow: the functional path of the portable kernels, which implementations
each library offers, and every workload run and verified in real workers (small shapes),
with XLA's own FLOP count beside dlbench's formula. Skipped where the library is not
installed (the README's test command installs both)."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from dlbench import workloads
from dlbench.backends import DeviceOptions
from dlbench.backends.tensorflow import TensorflowBackend
from dlbench.measure import MeasureConfig
from dlbench.planning import Plan
from dlbench.results import CaseSpec
from dlbench.runner import Runner
from dlbench.workloads import _arrayapi
from tests.helpers import fast_impls

HAVE_JAX = importlib.util.find_spec("jax") is not None
HAVE_TF = importlib.util.find_spec("tensorflow") is not None
needs_jax = pytest.mark.skipif(not HAVE_JAX, reason="jax is not installed")
FAST = MeasureConfig(min_time=0.02, max_time=0.1, min_samples=3, warmup_time=0.01,
                     sample_time=0.002, block_time=0.02, block_warmup_time=0.005)
# Every workload at a shape that compiles and runs in well under a second.
SMALL = {
    "matmul": {"m": 64, "n": 48, "k": 32},
    "conv2d": {"n": 2, "c": 4, "h": 8, "w": 8, "k": 6, "r": 3, "s": 3, "stride": 1, "pad": 1},
    "mlp_train_step": {"batch": 8, "features": 16, "hidden": 32, "classes": 4},
    "cnn_train_step": {"batch": 4, "channels": 2, "hw": 8, "filters": 4, "kernel": 3,
                       "classes": 3},
    "bandwidth": {"elements": 4096},
    "lstm": {"hidden": 16, "batch": 2, "timesteps": 4, "input": 8},
    "lstm_train_step": {"hidden": 16, "batch": 2, "timesteps": 4, "input": 8, "classes": 5},
    "attention": {"batch": 1, "seq": 16, "heads": 2, "head_dim": 8, "causal": 1},
    "transformer_train_step": {"batch": 2, "seq": 8, "d_model": 16, "heads": 2, "classes": 3,
                               "causal": 1},
}


# -- the functional path: in place where arrays allow it, new arrays where they don't ------
def test_helpers_write_numpy_arrays_in_place():
    buffer = np.zeros((2, 4, 4))
    assert _arrayapi.pad_into(buffer, np.ones((2, 2, 2)), 1) is buffer
    assert buffer.sum() == 8 and buffer[:, 0].sum() == 0
    param = np.ones(3)
    assert _arrayapi.sgd_update(param, np.ones(3), 0.5) is param
    assert param.tolist() == [0.5, 0.5, 0.5]
    x = np.zeros(4)
    assert _arrayapi.add_at(_arrayapi.set_at(x, slice(1, 3), 2.0), slice(2, 4), 1.0) is x
    assert x.tolist() == [0.0, 2.0, 3.0, 1.0]


@needs_jax
def test_helpers_return_new_jax_arrays_and_leave_the_old_ones():
    import jax.numpy as jnp

    buffer = jnp.zeros((2, 4, 4))
    padded = _arrayapi.pad_into(buffer, jnp.ones((2, 2, 2)), 1)
    assert float(padded.sum()) == 8 and float(padded[:, 0].sum()) == 0
    assert float(buffer.sum()) == 0
    param = jnp.ones(3)
    assert _arrayapi.sgd_update(param, jnp.ones(3), 0.5).tolist() == [0.5, 0.5, 0.5]
    assert param.tolist() == [1.0, 1.0, 1.0]
    x = _arrayapi.add_at(_arrayapi.set_at(jnp.zeros(4), slice(1, 3), 2.0), slice(2, 4), 1.0)
    assert x.tolist() == [0.0, 2.0, 3.0, 1.0]


@needs_jax
def test_im2col_and_col2im_agree_between_the_two_paths():
    import array_api_compat.numpy as xnp
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    xpad = rng.standard_normal((3, 2, 7, 7)).astype(np.float32)
    args = (3, 3, 1, 5, 5)
    in_place = _arrayapi.im2col(xnp, xpad, _arrayapi.cols_buffer(xnp, 3, 3, 3, 2, 5, 5, xpad),
                                *args)
    functional = _arrayapi.im2col(jnp, jnp.asarray(xpad), jnp.zeros((3, 9, 2, 5, 5)), *args)
    np.testing.assert_array_equal(np.asarray(functional), in_place)
    dcols = rng.standard_normal((27, 2 * 5 * 5)).astype(np.float32)
    back = _arrayapi.col2im(xnp, dcols, 3, 3, 3, 2, 5, 5, 1)
    np.testing.assert_allclose(
        np.asarray(_arrayapi.col2im(jnp, jnp.asarray(dcols), 3, 3, 3, 2, 5, 5, 1)), back,
        rtol=1e-6)


# -- which implementations each library offers ------------------------------------------
def test_tensorflow_is_native_only_with_an_xla_twin_and_jax_jits_the_portable_kernel():
    for name in workloads.names():
        w = workloads.get(name)
        if not w.device_kernels or w.distributed:  # copies; torch.distributed's own
            continue
        # A workload without a TensorFlow native has nothing on TensorFlow, and none is
        # required: every one here has one.
        tf = ("native", "xla") if "tensorflow" in w.natives else ()
        assert w.impls_for("tensorflow", "cpu") == tf, name
        assert w.impls_for("jax", "cpu") == ("portable", "native"), name
    assert all("tensorflow" in workloads.get(name).natives for name in SMALL)
    matmul = workloads.get("matmul")
    # torch's and CuPy's native matmul stay GPU-only; TensorFlow's runs everywhere.
    assert fast_impls(matmul, "torch", "cpu") == ("portable",)
    assert fast_impls(matmul, "torch", "cuda") == ("portable", "native")
    assert matmul.impls_for("tensorflow", "cuda") == ("native", "xla")


@pytest.mark.skipif(not (HAVE_JAX and HAVE_TF), reason="needs jax and tensorflow installed")
def test_a_suite_names_the_implementations_a_backend_runs():
    from dlbench.planning import Selection, build

    quick = build(Selection(suite="quick", backends=("numpy", "jax", "tensorflow")))
    impls = {(c.backend, c.impl) for c in quick.cases}
    # The default suite: JAX jit-compiled, TensorFlow eager; NumPy as ever.
    assert impls == {("numpy", "portable"), ("jax", "native"), ("tensorflow", "native")}
    standard = build(Selection(suite="standard", backends=("jax", "tensorflow")))
    assert {(c.backend, c.impl) for c in standard.cases} == {
        ("jax", "portable"), ("jax", "native"), ("tensorflow", "native"),
        ("tensorflow", "xla")}


def test_a_suite_naming_an_implementation_no_backend_has_is_refused(tmp_path):
    from tests.helpers import assert_one_line_error, cli

    suite = tmp_path / "bad.toml"
    suite.write_text('[impls]\njax = ["fast"]\n[[benchmark]]\nworkload = "matmul"\n')
    assert_one_line_error(cli("run", "--suite", str(suite)), "bad.toml",
                          "impls.jax",
                          "portable, native, xla")


def test_the_parent_never_imports_tensorflow_or_jax_for_the_cli():
    code = ("import sys\nimport dlbench.cli\nfrom dlbench.cli import listing\n"
            "print([m in sys.modules for m in ('jax', 'tensorflow', 'torch')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[-1] == "[False, False, False]"


# -- real workers ------------------------------------------------------------------------
def small_cases(backend):
    cases = []
    for name, params in SMALL.items():
        w = workloads.get(name)
        for impl in fast_impls(w, backend, "cpu"):
            cases.append(CaseSpec.make(name, w.resolve(**params), "float32", backend, "cpu",
                                       impl))
    return tuple(cases)


def run(cases, **options):
    threads = options.pop("threads", None)
    return Runner(Plan(cases=cases, config=FAST, threads=threads,
                       options=DeviceOptions(**options))).run()


@pytest.mark.slow
@needs_jax
def test_every_workload_verifies_on_jax_portable_and_jit():
    results = run(small_cases("jax"))
    assert len(results) == 2 * len(SMALL)
    for r in results:
        assert r.status == "ok" and r.verify["ok"], (r.spec.id, r.error)
        # jit compiles in the first call, never in a sample: it is much slower than one.
        if r.spec.impl == "native":
            assert r.first_call_s > 2 * r.median, r.spec.id
            assert r.kernel_extra["xla_flops"] > 0, r.spec.id
            # one kind of column with torch.compile's; the file keeps what ran
            assert r.column == "jax-cpu-compiled", r.spec.id
            assert r.compiler["frontend"] == "jax.jit" and r.compiler["eager"] == "portable"
            assert r.to_dict()["impl"] == "native"
    # the jit column is weighed against the op-by-op one: its break-even is stored
    assert all(r.break_even["against"] == "jax-cpu" for r in results
               if r.spec.impl == "native"), [r.break_even for r in results]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TF, reason="tensorflow is not installed")
def test_every_workload_verifies_on_tensorflow_eager_and_xla(capfd):
    results = run(small_cases("tensorflow"), threads=1)
    assert len(results) == 2 * len(SMALL)
    for r in results:
        assert r.status == "ok" and r.verify["ok"], (r.spec.id, r.error)
        if r.spec.impl == "xla":
            assert r.column == "tensorflow-cpu-compiled", r.spec.id
            assert r.compiler["frontend"] == "tf.function(jit_compile=True)"
            assert r.compiler["recompiles_while_sampling"] == 0, r.spec.id
            assert r.break_even["against"] == "tensorflow-cpu-native", r.spec.id
    # TensorFlow's start-up notices are kept by the worker, never written to stderr.
    assert "oneDNN custom operations" not in capfd.readouterr().err


@pytest.mark.slow
@needs_jax
def test_xla_flops_agree_with_the_formula_for_matmul_and_conv():
    """Within 5%. XLA counts the products a convolution makes with the input, not with the
    zero padding: at 28×28 with pad 1 that is (82/84)² = 95.3% of the formula."""
    conv = workloads.get("conv2d")
    cases = (CaseSpec.make("matmul", {"m": 256, "n": 128, "k": 64}, "float32", "jax", "cpu",
                           "native"),
             CaseSpec.make("conv2d", conv.resolve(n=2, c=16, h=28, w=28, k=8), "float32",
                           "jax", "cpu", "native"),
             CaseSpec.make("conv2d", conv.resolve(n=2, c=16, h=28, w=28, k=8, pad=0),
                           "float32", "jax", "cpu", "native"))
    for r in run(cases):
        assert r.status == "ok", r.error
        assert r.kernel_extra["xla_flops"] == pytest.approx(r.flops, rel=0.05), r.spec.id
        assert r.to_dict()["extra"]["xla_flops"] == r.kernel_extra["xla_flops"]


@pytest.mark.slow
@needs_jax
def test_float64_is_really_float64_on_jax():
    """JAX computes float64 in float32 unless x64 is on: the float64 tolerance catches it."""
    case = CaseSpec.make("matmul", {"m": 64, "n": 64, "k": 256}, "float64", "jax", "cpu",
                         "native")
    r, = run((case,))
    assert r.status == "ok" and r.verify["ok"] and r.verify["max_rel_err"] < 1e-13
    assert r.numerics.math["jax_enable_x64"] is True


# -- GPUs --------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_matmul_and_a_training_step_verify_on_the_gpu(backend):
    from dlbench import backends

    ok, reason = backends.get(backend, "cuda").available()
    if not ok:
        pytest.skip(f"no usable GPU for {backend}: {reason}")
    cases = tuple(CaseSpec.make(c.workload, c.param_dict, c.dtype, backend, "cuda", c.impl)
                  for c in small_cases(backend) if c.workload in ("matmul", "mlp_train_step"))
    for r in run(cases):
        assert r.status == "ok" and r.verify["ok"], (r.spec.id, r.error)
        assert r.numerics.float32_math == "ieee"  # --tf32 off: TF32 switched off


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_gpu_modes_they_cannot_time_are_skipped_with_the_reason(backend):
    from dlbench import backends
    from dlbench.planning import Selection, unsupported_mode

    gpu = backends.get(backend, "cuda")
    plain = CaseSpec.make("matmul", {"m": 8, "n": 8, "k": 8}, "float32", backend, "cuda",
                          "native")
    graph = CaseSpec.make("matmul", {"m": 8, "n": 8, "k": 8}, "float32", backend, "cuda",
                          "native", graph=True)
    assert unsupported_mode(plain, gpu, Selection()) is None
    assert "CUDA-graph" in unsupported_mode(graph, gpu, Selection())
    assert "cold L2" in unsupported_mode(plain, gpu, Selection(cache="cold"))
    # torch and CuPy time every mode; a CPU column is never refused one.
    assert unsupported_mode(graph, backends.get("torch", "cuda"), Selection()) is None
    assert unsupported_mode(plain, backends.get(backend, "cpu"), Selection(cache="cold")) is None
    ok, why = workloads.get("transfer").supports(gpu)
    assert not ok and backend in why


def test_a_table_with_tensorflow_says_why_it_has_no_portable_column():
    from dataclasses import replace

    from dlbench.report import rows
    from tests.helpers import noisy, result

    base = result(noisy(1e-3))
    tf_native = result(noisy(5e-4), backend="tensorflow")
    tf_native = replace(tf_native, spec=replace(tf_native.spec, impl="native"))
    with_tf = rows.table_notes(rows.speedup_table([base, tf_native]))
    note = TensorflowBackend.table_note
    assert note in with_tf and "native only" in note
    assert note not in rows.table_notes(rows.speedup_table([base]))


@pytest.mark.slow
@needs_jax
def test_one_thread_reaches_xla_before_import_and_is_recorded():
    from dlbench.backends.jax import ONE_THREAD_FLAGS

    case = CaseSpec.make("matmul", {"m": 64, "n": 64, "k": 64}, "float32", "jax", "cpu",
                         "native")
    runner = Runner(Plan(cases=(case,), config=FAST, threads=1))
    result, = runner.run()
    assert result.status == "ok", result.error
    described = runner.backend_descriptions()["jax-cpu"]
    assert described["threads"] == 1 and ONE_THREAD_FLAGS in described["xla_flags"]
    assert described["env"]["JAX_ENABLE_X64"] == "1"
