"""GPU logic that runs on a CPU: peaks, tolerances, the transfer workload on a fake device,
the worker's memory refusal, OOM, cold cache and event-timer paths."""

import csv
import io
import math

import numpy as np
import pytest

from dlbench import environment, worker, workloads
from dlbench.backends import DeviceOptions, cuda
from dlbench.backends.numpy import NumpyBackend
from dlbench.errors import UsageError
from dlbench.measure import MeasureConfig
from dlbench.planning import Plan, Selection, build, case_spec
from dlbench.report import csv as csv_report
from dlbench.results import CaseSpec, Numerics, Result
from dlbench.runner import Runner
from dlbench.timers import HostEvent
from dlbench.worker import BlockReply, Failure, Prepared, Worker
from dlbench.workloads._endtoend import with_transfers
from tests.helpers import case

FAST = MeasureConfig(min_time=0.02, max_time=0.1, min_samples=3, warmup_time=0.01,
                     sample_time=0.002, block_time=0.02, block_warmup_time=0.0)


# -- peaks ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "dtype", "tflops"), [
    ("NVIDIA H100 80GB HBM3", "float32", 67), ("NVIDIA H100 80GB HBM3", "tf32", 494.5),
    ("NVIDIA H100 80GB HBM3", "bfloat16", 989.5), ("NVIDIA H100 PCIe", "float16", 756.5),
    ("NVIDIA H100 NVL", "tf32", 417.5), ("NVIDIA H200", "bfloat16", 989.5),
    ("NVIDIA A100-SXM4-80GB", "float64", 19.5), ("NVIDIA A100-PCIE-40GB", "tf32", 156),
    ("NVIDIA A10", "float32", 31.2), ("NVIDIA L4", "bfloat16", 121),
    ("NVIDIA L40S", "float32", 91.6), ("NVIDIA GeForce RTX 4090", "float16", 165.2),
    ("Tesla V100-SXM2-16GB", "float16", 125), ("Tesla T4", "float32", 8.1),
])
def test_gpu_peaks_from_the_datasheet_table(name, dtype, tflops):
    assert environment.gpu_peak_flops(name)[dtype]["flops"] == pytest.approx(tflops * 1e12)


def test_unknown_gpu_and_missing_dtype():
    assert environment.gpu_peak_flops("Radeon RX 7900") == {
        "unknown": "no datasheet entry for GPU 'Radeon RX 7900'"}
    assert "float64" not in environment.gpu_peak_flops("NVIDIA L4")  # not on its datasheet


def test_peak_for_finds_the_gpu_and_its_math():
    env = {"gpus": [], "peak_flops": {}}
    environment.add_gpu(env, {"device": "cuda:0", "name": "NVIDIA H100 80GB HBM3"})
    environment.add_gpu(env, {"device": "cuda:0", "name": "again, ignored"})
    assert len(env["gpus"]) == 1
    assert environment.peak_for(env, "cuda", "float32") == pytest.approx(67e12)
    assert environment.peak_for(env, "cuda:0", "float32", math="tf32") == pytest.approx(494.5e12)
    assert environment.peak_for(env, "cuda:0", "bfloat16", math="tf32") == pytest.approx(989.5e12)
    assert environment.peak_for(env, "cuda:1", "float32") is None


# -- tolerance and flush size -----------------------------------------------------------
def test_tf32_widens_only_the_float32_accumulation_term():
    k = 1024
    assert workloads.dot_tolerance("float32", k) == 2.0**-24 + 2 * 32 * 2.0**-24
    assert workloads.dot_tolerance("float32", k, "tf32") == 2.0**-24 + 2 * 32 * 2.0**-11
    assert workloads.dot_tolerance("float64", k, "tf32") == workloads.dot_tolerance("float64", k)


@pytest.mark.parametrize(("flags", "capability", "env", "torch_library", "math_"), [
    (True, (9, 0), {}, False, "tf32"),
    (False, (9, 0), {}, False, "ieee"),
    (True, (7, 0), {}, False, "ieee"),  # V100: no TF32 tensor cores, the flag does nothing
    (True, (8, 0), {"NVIDIA_TF32_OVERRIDE": "0"}, True, "ieee"),  # the driver's switch wins
    (False, (8, 6), {"TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "1"}, True, "tf32"),
    (False, (8, 6), {"TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "1"}, False, "ieee"),  # torch's only
    (False, (7, 5), {"TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "1"}, True, "ieee"),
])
def test_the_float32_math_in_force_is_more_than_the_flags(flags, capability, env,
                                                          torch_library, math_):
    assert cuda.effective_float32_math(flags, capability, env, torch_library) == math_


def test_variables_that_change_gpu_numerics_are_recorded_and_said():
    record = {"env_vars": environment.collect_env_vars(
        {"NVIDIA_TF32_OVERRIDE": "0", "CUDA_LAUNCH_BLOCKING": "1", "UNRELATED": "x",
         "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "0"})}
    assert record["env_vars"] == {"NVIDIA_TF32_OVERRIDE": "0", "CUDA_LAUNCH_BLOCKING": "1",
                                  "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "0"}
    notes = environment.gpu_env_notes(record)
    assert len(notes) == 2  # the override at 0 changes nothing: no note
    assert notes[0].startswith("NVIDIA_TF32_OVERRIDE=0 is set")
    assert notes[1].startswith("CUDA_LAUNCH_BLOCKING=1 is set")


def tf32(x):
    """float32 values rounded to TF32's 10 mantissa bits (what tensor cores multiply)."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


def test_the_check_follows_the_float32_math_it_is_told():
    """A product computed from TF32-rounded inputs is right for a backend that says it
    runs TF32, and wrong for one that claims IEEE float32."""
    wl = workloads.get("matmul")
    p = wl.resolve(m=64, n=64, k=1024)
    host = {k: v.astype(np.float32) for k, v in wl.inputs(p).items()}
    widened = {k: v.astype(np.float64) for k, v in host.items()}
    on_tensor_cores = tf32(host["a"]).astype(np.float64) @ tf32(host["b"]).astype(np.float64)
    assert wl.check(on_tensor_cores, widened, p, "float32", "tf32").ok
    assert not wl.check(on_tensor_cores, widened, p, "float32", "ieee").ok
    assert wl.check(host["a"] @ host["b"], widened, p, "float32", "ieee").ok


def test_flush_is_twice_l2_or_tritons_fixed_buffer():
    assert cuda.flush_bytes(50 * 2**20) == 100 * 2**20
    assert cuda.flush_bytes(None) == cuda.flush_bytes(0) == 256 * 2**20
    assert cuda.version_text(12090) == "12.9" and cuda.version_text(0) is None


# -- the transfer workload on a fake device ---------------------------------------------
class FakeGpu(NumpyBackend):
    """NumPy arrays standing in for device and pinned memory, copies logged."""

    name = "fakegpu"
    devices = ("cuda",)

    def __init__(self, device="cuda", free=None):
        super().__init__(device)
        self.free = free
        self.copies = []

    def host_empty(self, n, dtype, pinned):
        return np.empty(n, dtype=dtype)

    def device_empty(self, n, dtype):
        return np.empty(n, dtype=dtype)

    def copy(self, dst, src, non_blocking):
        self.copies.append(non_blocking)
        dst[...] = src

    def memory_free(self):
        return self.free

    # Device timing on the host: events read the clock, a 2 MiB "L2" is flushed.
    def new_event(self):
        return HostEvent()

    def l2_bytes(self):
        return 2**20

    def fill_zero(self, buffer):
        self.flushes = getattr(self, "flushes", 0) + 1
        buffer.fill(0)

    def capture(self, fn, calls):
        """A "graph" that replays `calls` calls of fn; the captures are counted."""
        self.captures = [*getattr(self, "captures", []), calls]

        def replay():
            for _ in range(calls):
                fn()

        return replay


@pytest.mark.parametrize("impl", ["h2d-pageable", "h2d-pinned", "d2h-pageable", "d2h-pinned"])
def test_transfer_copies_exactly(impl):
    wl, backend = workloads.get("transfer"), FakeGpu()
    p = wl.resolve(size=1000)
    host = wl.inputs(p)
    arrays = {k: backend.asarray(v, "float32") for k, v in host.items()}
    out = wl.kernel(impl, backend, arrays, p)()
    widened = {"x": arrays["x"].astype(np.float64)}
    check = wl.check(backend.to_numpy(out), widened, p, "float32")
    assert check.ok and check.max_abs_err == 0.0
    assert backend.copies[-1] is impl.endswith("pinned")  # async only from pinned memory
    wrong = backend.to_numpy(out).copy()
    wrong[7] += 1e-3
    assert not wl.check(wrong, widened, p, "float32").ok


def test_transfer_cost_and_support():
    wl = workloads.get("transfer")
    assert wl.flops({"n": 10}) == 0.0 and wl.bytes({"n": 10}, 4) == 40.0
    assert wl.supports(FakeGpu()) == (True, "")
    assert wl.supports(NumpyBackend()) == (
        False, "transfer copies between host and GPU memory; numpy-cpu has no GPU")


def test_planning_skips_transfer_on_cpu_and_records_cache_and_tf32():
    plan = build(Selection(backends=("numpy",), workloads=("matmul", "transfer"),
                           sizes=(64,), dtypes=("float32",)))
    assert {s.workload for s in plan.cases} == {"matmul"}
    reasons = {spec.impl: why for spec, why in plan.skipped}
    assert set(reasons) == {"h2d-pageable", "h2d-pinned", "d2h-pageable", "d2h-pinned"}
    assert reasons["h2d-pinned"].endswith("numpy-cpu has no GPU")
    assert plan.settings()["cache"] == "hot" and plan.settings()["tf32"] == "off"
    assert plan.options == DeviceOptions(tf32=False, cold_cache=False)


# -- the worker, in this process --------------------------------------------------------
def spec(size=64, backend="numpy", device="cpu", end_to_end=False):
    return case(size=size, backend=backend, device=device, end_to_end=end_to_end)


def test_case_too_big_for_free_device_memory_is_refused_with_numbers():
    reply = Worker(FakeGpu(free=2**19), DeviceOptions()).prepare(
        spec(256, "fakegpu", "cuda"), FAST, True, 1)
    # Inputs 2 × 256² float32 = 0.5 MiB, twice over for outputs and scratch.
    assert reply == Failure("skipped", "needs about 1.0 MiB of device memory but 0.5 MiB "
                                       "is free on fakegpu-cuda")
    worker_ = Worker(FakeGpu(free=2**21), DeviceOptions())
    assert isinstance(worker_.prepare(spec(256, "fakegpu", "cuda"), FAST, True, 1), Prepared)


def test_transfer_declares_its_own_device_need():
    wl = workloads.get("transfer")
    p = {"n": 2**20}
    assert worker.device_need(wl, p, {"x": np.zeros(1)}, "float32") == 2 * 2**22
    matmul = workloads.get("matmul")
    host = matmul.inputs(matmul.resolve(size=8))
    assert worker.device_need(matmul, {}, host, "float16") == 2 * 128 * 2


@pytest.mark.parametrize("message", [
    "CUDA out of memory. Tried to allocate 2.00 GiB",
    "Out of memory allocating 1,024 bytes (allocated so far: 0 bytes).",
    "CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
    "cudaErrorMemoryAllocation: out of memory",
])
def test_device_oom_messages_become_status_oom(message):
    w = Worker(FakeGpu(), DeviceOptions())
    assert w.failure(RuntimeError(message)).status == "oom"
    assert w.failure(RuntimeError("illegal memory access")) == Failure(
        "error", "RuntimeError: illegal memory access")


def test_a_prepared_case_samples_in_blocks_until_the_rule_stops_it():
    w = Worker(NumpyBackend(), DeviceOptions())
    s = spec()
    prepared = w.prepare(s, FAST, True, 1)
    assert isinstance(prepared, Prepared) and prepared.verify["ok"]
    assert prepared.timer == "host" and prepared.numerics == Numerics("ieee", {}, None)
    replies = []
    while not replies or replies[-1].stop is None:
        replies.append(w.block(s.id))
    assert all(isinstance(r, BlockReply) and r.samples and r.host_samples == ()
               and r.peak_device_bytes is None for r in replies)
    assert replies[-1].stop in ("converged", "max_time")
    w.release(s.id)
    assert isinstance(w.block(s.id), Failure)  # released: nothing left to sample


def test_event_timer_hook_reports_host_samples(monkeypatch):
    monkeypatch.setenv(worker.EVENT_TIMER_ENV, "numpy")
    w = Worker(NumpyBackend(), DeviceOptions())
    s = spec()
    prepared = w.prepare(s, FAST, True, 1)
    assert prepared.timer == "host-event" and prepared.numerics.float32_math == "ieee"
    reply = w.block(s.id)
    assert len(reply.host_samples) == len(reply.samples) >= 1
    assert all(h >= d > 0 for h, d in zip(reply.host_samples, reply.samples, strict=True))


def test_cold_cache_times_one_call_per_sample_after_a_flush():
    backend = FakeGpu()
    w = Worker(backend, DeviceOptions(cold_cache=True))
    backend.prepare_env(w.options)
    s = spec(64, "fakegpu", "cuda")
    prepared = w.prepare(s, FAST, True, 1)
    assert prepared.inner_loops == 1 and prepared.numerics.cache == "cold"
    assert prepared.timer == "cuda-event"
    flushed = backend.flushes
    reply = w.block(s.id)
    assert backend.flushes - flushed == len(reply.samples)
    # The host times of a cold sample would hold the flush's tail: none are kept.
    assert reply.host_samples == reply.enqueue_samples == ()


def test_failure_after_prepare_keeps_the_verification_in_the_result():
    prepared = Prepared(4, 0.5, "host", Numerics(), {"ok": True, "tol": 1e-6})
    result = Runner(Plan(cases=()))._failed(spec(), Failure("oom", "out of memory"), prepared)
    assert (result.status, result.error, result.verify, result.first_call_s) == (
        "oom", "out of memory", {"ok": True, "tol": 1e-6}, 0.5)
    assert result.flops == 2 * 64**3


@pytest.mark.slow
def test_event_timed_results_keep_host_time_through_the_runner(monkeypatch):
    monkeypatch.setenv(worker.EVENT_TIMER_ENV, "numpy")
    result, = Runner(Plan(cases=(spec(),), config=FAST)).run()
    assert result.status == "ok" and result.timer == "host-event"
    assert len(result.host_samples_s) == len(result.enqueue_samples_s) == len(result.samples_s)
    # Host "events" are read while the host works: queueing is the whole window.
    assert "launch_bound" in result.warnings
    extra = Result.from_dict(result.to_dict()).extra()
    assert extra["host_stats"]["n"] == len(result.samples_s)
    assert math.isfinite(extra["host_stats"]["median"])


# -- end-to-end timing (--include-transfer) on the fake device ------------------------
def wrapped(name, backend, impl="portable", **params):
    wl = workloads.get(name)
    p = wl.resolve(**params)
    host = wl.inputs(p)
    arrays = {k: backend.asarray(v, "float32") for k, v in host.items()}
    kernel = wl.kernel(impl, backend, arrays, p)
    return wl, p, arrays, kernel, with_transfers(backend, kernel, arrays, "float32")


def test_end_to_end_copies_every_input_in_and_the_output_out():
    backend = FakeGpu()
    wl, p, arrays, plain, end_to_end = wrapped("matmul", backend, size=48)
    staged = len(backend.copies)
    assert staged == len(arrays)  # each input's host copy, filled once
    out = end_to_end()
    assert len(backend.copies) - staged == len(arrays) + 1
    assert not any(backend.copies)  # pageable and synchronous, as a user's arrays are
    np.testing.assert_array_equal(out, plain())
    widened = {k: v.astype(np.float64) for k, v in arrays.items()}
    assert wl.check(out, widened, p, "float32").ok


def test_end_to_end_restores_the_inputs_each_call():
    """A training step updates its weights in place; copied in again, every end-to-end
    call computes the same step, while the bare kernel's second call moves on."""
    small = {"batch": 16, "features": 8, "hidden": 6, "classes": 3}
    _, _, _, _, end_to_end = wrapped("mlp_train_step", FakeGpu(), **small)
    first = [a.copy() for a in end_to_end()]
    again = end_to_end()
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    _, _, _, bare, _ = wrapped("mlp_train_step", FakeGpu(), **small)
    first = [a.copy() for a in bare()]
    assert any(not np.array_equal(a, b) for a, b in zip(first, bare(), strict=True))


def test_end_to_end_marks_gpu_cases_only():
    matmul, transfer = workloads.get("matmul"), workloads.get("transfer")
    p = {"m": 8}
    on = Selection(include_transfer=True)
    gpu = case_spec(matmul, p, "float32", FakeGpu(), "native", on)
    assert gpu.end_to_end and gpu.impl == "native" and gpu.impl_label == "native+transfer"
    assert not case_spec(matmul, p, "float32", FakeGpu(), "native", Selection()).end_to_end
    assert not case_spec(matmul, p, "float32", NumpyBackend(), "portable", on).end_to_end
    assert not case_spec(transfer, p, "float32", FakeGpu(), "h2d-pinned", on).end_to_end
    cupy = CaseSpec.make("matmul", p, "float32", "cupy", "cuda", "portable", True)
    assert cupy.column == "cupy-cuda+transfer"
    assert cupy.id == "matmul/m=8/float32/cupy-cuda/portable+transfer"
    torch = CaseSpec.make("matmul", p, "float32", "torch", "cuda", "native", True)
    assert torch.column == "torch-cuda-native+transfer"


def test_end_to_end_mark_round_trips_through_the_result_file():
    spec_ = CaseSpec.make("matmul", {"m": 8}, "float32", "torch", "cuda", "native", True)
    result = Result(spec=spec_, status="skipped", error="x")
    d = result.to_dict()
    assert d["impl"] == "native+transfer"
    assert Result.from_dict(d).spec == spec_
    row = next(csv.DictReader(io.StringIO(csv_report.render([result]))))
    assert row["impl"] == "native+transfer"


def test_end_to_end_case_through_the_worker():
    backend = FakeGpu()
    w = Worker(backend, DeviceOptions())
    s = spec(64, "fakegpu", "cuda", end_to_end=True)
    prepared = w.prepare(s, FAST, True, 1)
    assert isinstance(prepared, Prepared) and prepared.verify["ok"]
    copies = len(backend.copies)
    reply = w.block(s.id)
    assert reply.samples
    # Every call copied both inputs in and the output out.
    assert (len(backend.copies) - copies) % 3 == 0 and len(backend.copies) > copies


def test_include_transfer_needs_a_gpu_backend():
    with pytest.raises(UsageError, match="--include-transfer times host↔device copies"):
        build(Selection(backends=("numpy",), include_transfer=True))


@pytest.mark.parametrize("name", ["mlp_train_step", "cnn_train_step"])
def test_end_to_end_native_torch_step_with_torch_copies(name):
    """torch's own copy hook (run here on CPU tensors): writing into weights that
    require grad must not trip autograd, and the step still verifies."""
    pytest.importorskip("torch")
    from dlbench import backends

    backend = backends.get("torch")
    backends.import_library(backend)
    small = {"mlp_train_step": {"batch": 16, "features": 8, "hidden": 6, "classes": 3},
             "cnn_train_step": {"batch": 4, "channels": 2, "hw": 6, "filters": 3,
                                "classes": 3}}[name]
    wl = workloads.get(name)
    p = wl.resolve(**small)
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    widened = {k: backend.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
    end_to_end = with_transfers(backend, wl.kernel("native", backend, arrays, p), arrays,
                                "float32")
    first = tuple(backend.to_numpy(a) for a in end_to_end())
    assert wl.check(first, widened, p, "float32").ok
    for a, b in zip(first, end_to_end(), strict=True):
        np.testing.assert_array_equal(a, backend.to_numpy(b))


# -- % of peak: bandwidth for memory-bound rows, FLOP/s otherwise -----------------------
def measured(spec_, samples, environment_record):
    from dlbench.runner import _Sampling

    runner = Runner(Plan(cases=()), environment_record=environment_record)
    prepared = Prepared(1, 1e-3, "cuda-event", Numerics("ieee", {}, "hot"), None)
    return runner._measured(spec_, _Sampling(prepared, list(samples)), "converged")


def h200():
    env = {"gpus": []}
    environment.add_gpu(env, {"device": "cuda:0", "name": "NVIDIA H200"})
    return env


def test_a_memory_bound_row_is_held_against_the_memory_bandwidth():
    wl = workloads.get("bandwidth")
    p = wl.resolve()
    s = CaseSpec.make("bandwidth", p, "float32", "torch", "cuda", "native")
    nbytes = wl.bytes(p, 4)
    result = measured(s, [nbytes / 4.0e12] * 10, h200())  # 4.0 TB/s measured
    assert result.memory_bound and result.gbytes_per_s == pytest.approx(4000)
    assert result.fraction_of_peak == pytest.approx(4.0 / 4.8)  # H200: 4.8 TB/s HBM3e
    cpu = CaseSpec.make("bandwidth", p, "float32", "numpy", "cpu", "portable")
    assert measured(cpu, [1e-3] * 10, h200()).fraction_of_peak is None  # no CPU figure


def test_more_than_the_peak_is_said_not_printed_as_a_percentage():
    p = workloads.get("conv2d").resolve()
    s = CaseSpec.make("conv2d", p, "float32", "torch", "cuda", "native")
    flops = workloads.get("conv2d").flops(p)
    fast = measured(s, [flops / 90e12] * 10, h200())  # 90 TFLOP/s: beyond FP32's 67
    assert fast.fraction_of_peak > 1 and "above_peak" in fast.warnings
    slow = measured(s, [flops / 30e12] * 10, h200())
    assert slow.fraction_of_peak == pytest.approx(30 / 67) and "above_peak" not in slow.warnings
    from dlbench.report.rows import Cell, cell_lines

    assert any(">100% of peak" in line for line in cell_lines(Cell(fast), None, "x"))


# -- --graph on the fake device ----------------------------------------------------------
def test_a_graph_case_is_timed_by_replays_and_verified_eagerly():
    backend = FakeGpu()
    w = Worker(backend, DeviceOptions())
    s = spec(64, "fakegpu", "cuda")
    s = CaseSpec.make(s.workload, s.param_dict, "float32", "fakegpu", "cuda", "portable",
                      graph=True)
    prepared = w.prepare(s, FAST, True, 1)
    assert isinstance(prepared, Prepared) and prepared.verify["ok"]  # the eager first call
    assert prepared.timer == "cuda-graph"
    assert backend.captures[0] == 1  # warm-up and calibration start from one call
    reply = w.block(s.id)
    assert reply.samples and prepared.inner_loops in backend.captures
    assert len(set(backend.captures)) == len(backend.captures)  # each size captured once
    assert s.column == "fakegpu-cuda+graph" and s.id.endswith("/portable+graph")


def test_a_case_that_cannot_be_captured_is_skipped_with_the_reason():
    class NoGraphs(FakeGpu):
        def capture(self, fn, calls):
            raise RuntimeError("operation not permitted when stream is capturing")

    s = CaseSpec.make("matmul", {"m": 32, "n": 32, "k": 32}, "float32", "fakegpu", "cuda",
                      "portable", graph=True)
    reply = Worker(NoGraphs(), DeviceOptions()).prepare(s, FAST, True, 1)
    assert reply == Failure("skipped", "cannot be timed as a CUDA graph: RuntimeError: "
                                       "operation not permitted when stream is capturing")


def test_graph_mode_marks_gpu_kernels_and_is_recorded():
    matmul = workloads.get("matmul")
    on = Selection(graph=True, include_transfer=True)
    both = case_spec(matmul, {"m": 8}, "float32", FakeGpu(), "native", on)
    assert both.impl_label == "native+transfer+graph"
    assert Result.from_dict(Result(spec=both, status="skipped", error="x").to_dict()).spec == both
    assert not case_spec(matmul, {"m": 8}, "float32", NumpyBackend(), "portable", on).graph
    with pytest.raises(UsageError, match="--graph times CUDA-graph replays"):
        build(Selection(backends=("numpy",), graph=True))
    assert build(Selection(backends=("numpy",), sizes=(64,))).settings()["graph"] is False
