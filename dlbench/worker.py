"""The worker process: owns one backend for the whole run and measures on request.

Functions here run inside a spawned single-worker process pool. Module state holds
the backend and the cases prepared so far; the runner calls `init` once, then
`prepare`, `block` (many times) and `release` for each case. Failures inside a case
come back as data (`{"status": "error" | "oom", ...}`) so the runner can tell them from
a crashed process, which surfaces as BrokenProcessPool instead.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbench import backends, workloads
from dlbench.measure import MeasureConfig, Timer, calibrate, sample_block, warmup
from dlbench.results import CaseSpec
from dlbench.timers import EventTimer, HostEvent
from dlbench.workloads._endtoend import split_impl, with_transfers

# Test hook: a backend name here makes its kernels' first output wrong, so tests can
# drive the real verification path and exit code end to end. Never set in normal use.
CORRUPT_ENV = "DLBENCH_TEST_CORRUPT_OUTPUT"
# Test hook: a backend name here makes its worker kill itself (SIGKILL) at its first
# block, as a segfault or the OOM killer would.
KILL_ENV = "DLBENCH_TEST_KILL_WORKER"
# Size of the matmul used to wake the library up at start: big enough to start its
# thread pool and JIT/dispatch caches, small enough to take milliseconds.
INIT_WARMUP_N = 256
# Test hook: a backend name here makes its worker time with EventTimer over host events
# (timer "host-event"), so the event path through runner and result file runs on a CPU.
EVENT_TIMER_ENV = "DLBENCH_TEST_EVENT_TIMER"
# What a library's error says when device memory ran out: torch/CuPy allocators say
# "out of memory"; cuBLAS/cuDNN workspaces and the runtime use their own codes.
OOM_MARKERS = ("out of memory", "cublas_status_alloc_failed", "cudnn_status_alloc_failed",
               "cudaerrormemoryallocation", "cuda_error_out_of_memory")


@dataclass
class _Prepared:
    kernel: Any
    inner_loops: int


_backend: backends.Backend | None = None
_cases: dict[str, _Prepared] = {}
_options: dict[str, Any] = {}


def ignore_sigint() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle; workers are stopped by it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def init(backend_name: str, device: str, threads: int | None, warmup_s: float,
         options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Import the library, set threads, and warm it up before any sample is taken anywhere.

    `options` (tf32: on/off, cache: hot/cold) reach the backend before its library is
    imported (CuPy reads CUPY_TF32 then) and again after, when a GPU backend selects its
    device, sets its math flags and creates its context and library handles.
    """
    global _backend
    _options.clear()
    _options.update(options or {})
    backend = backends.get(backend_name, device)
    backend.prepare_env(_options)
    backends.import_library(backend)
    backend.set_threads(threads)
    backend.setup()
    # Verification tolerances follow the float32 math this backend now uses.
    workloads.FLOAT32_MATH.set(backend.float32_math())
    wl = workloads.get("matmul")
    p = wl.resolve(size=INIT_WARMUP_N)
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    kernel = wl.kernel("portable", backend, arrays, p)
    warmup(kernel, backend.timer(), warmup_s)
    _backend = backend
    return {"pid": os.getpid(), "describe": backend.describe()}


def describe_only(backend_name: str, device: str) -> dict[str, Any]:
    """What a backend says about itself and its GPU, asked in a spawned child so that
    the asking process (`dlbench env`) never initialises CUDA itself."""
    backend = backends.get(backend_name, device)
    backend.prepare_env({})
    backends.import_library(backend)
    backend.setup()
    return backend.describe()


def _error(exc: BaseException) -> dict[str, Any]:
    if _backend is not None:
        with contextlib.suppress(Exception):
            _backend.free_cached()  # so that the next case does not inherit a full device
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or any(marker in text for marker in OOM_MARKERS):
        return {"status": "oom", "error": f"out of memory: {exc}".strip()}
    return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}


def _timer() -> Timer:
    assert _backend is not None
    if os.environ.get(EVENT_TIMER_ENV) == _backend.name:
        backend = _backend
        return EventTimer(HostEvent, sync=backend.synchronize, name="host-event")
    return _backend.timer()


def _cold() -> bool:
    return _options.get("cache") == "cold"


def device_need(wl: workloads.Workload, p: Mapping[str, int], host: Mapping[str, Any],
                dtype: str) -> float:
    """Device bytes a case needs: the workload's own figure where it gives one, else its
    inputs at `dtype` twice over (inputs, plus as much again for outputs and scratch)."""
    itemsize = workloads.itemsize(dtype)
    own = getattr(wl, "device_bytes", None)
    if own is not None:
        return float(own(p, itemsize))
    return 2.0 * sum(int(np.size(a)) for a in host.values()) * itemsize


def _size(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _case_extra() -> dict[str, Any]:
    """What a result records about how its backend computed: math flags, float32 math,
    cache state, timer."""
    assert _backend is not None
    math = _backend.math_state()
    extra: dict[str, Any] = {"float32_math": _backend.float32_math()}
    if math:
        extra["math"] = math
    if _backend.device != "cpu":
        extra["cache"] = _options.get("cache", "hot")
    return extra


def _to_host(backend: backends.Backend, output: Any) -> Any:
    """A kernel returns one array or a tuple of them (a training step's new weights)."""
    if isinstance(output, tuple | list):
        return tuple(backend.to_numpy(x) for x in output)
    return backend.to_numpy(output)


def prepare(spec: CaseSpec, config: MeasureConfig, verify: bool, seed: int) -> dict[str, Any]:
    """Build inputs, run the kernel once (its latency is the first-call time), check its
    output against the float64 reference, then warm up and calibrate."""
    assert _backend is not None, "init() must run first"
    try:
        wl = workloads.get(spec.workload)
        p = spec.param_dict
        host = wl.inputs(p, seed)
        free = _backend.memory_free()
        if free is not None:
            need = device_need(wl, p, host, spec.dtype)
            if need > free:
                # Refused before any device allocation, with the numbers (DESIGN.md).
                return {"status": "skipped", "error":
                        f"needs about {_size(need)} of device memory but {_size(free)} "
                        f"is free on {_backend.label}"}
        _backend.reset_peak_memory()
        arrays = {k: _backend.asarray(v, spec.dtype) for k, v in host.items()}
        del host
        impl, end_to_end = split_impl(spec.impl)
        kernel = wl.kernel(impl, _backend, arrays, p)
        if end_to_end:
            kernel = with_transfers(_backend, kernel, arrays, spec.dtype)
        timer = _timer()
        # Widen the inputs before the first call: training steps update them in place.
        widened = ({k: _backend.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
                   if verify else None)
        start = time.perf_counter()
        output = kernel()
        _backend.synchronize()
        first_call_s = time.perf_counter() - start
        check = None
        if widened is not None:
            host_output = _to_host(_backend, output)
            if os.environ.get(CORRUPT_ENV) == _backend.name:
                host_output = np.asarray(host_output) + 1.0
            check = wl.check(host_output, widened, p, spec.dtype).to_dict()
            del widened
        del output
        if check is not None and not check["ok"]:
            return {"status": "wrong", "verify": check, "first_call_s": first_call_s,
                    "error": f"output differs from the float64 reference: scaled error "
                             f"{check['max_rel_err']:.3g} > tolerance {check['tol']:.3g}"}
        # The first call above paid for kernel compilation (CuPy), cuDNN autotuning
        # (cudnn.benchmark) and workspace allocation; the warm-up below lets clocks and
        # caches settle, and none of it is a sample (FIELD.md P5).
        warm = warmup(kernel, timer, config.warmup_time)
        # Cold: every sample is one call after its own L2 flush, as nvbench's cold
        # measurement; a batch would leave all calls but the first hot.
        loops = 1 if _cold() else calibrate(kernel, timer, config.sample_time)
        _cases[spec.id] = _Prepared(kernel, loops)
        return {"status": "ok", "verify": check, "first_call_s": first_call_s,
                "warmup_calls": warm.calls, "inner_loops": loops,
                "timer": getattr(timer, "name", "host"), "extra": _case_extra()}
    except Exception as exc:
        return _error(exc)


def block(case_id: str, block_time: float, warmup_time: float, max_samples: int
          ) -> dict[str, Any]:
    """One block of samples for a prepared case, after a discarded warm-up."""
    assert _backend is not None
    if os.environ.get(KILL_ENV) == _backend.name:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        case = _cases[case_id]
        timer = _timer()
        host_samples: list[float] = []
        samples = sample_block(case.kernel, timer, case.inner_loops, block_time,
                               warmup_time=warmup_time, max_samples=max_samples,
                               host_samples=host_samples)
        reply: dict[str, Any] = {"status": "ok", "samples": samples}
        if isinstance(timer, EventTimer):
            reply["host_samples"] = host_samples
        peak = _backend.peak_memory()
        if peak is not None:
            reply["peak_device_bytes"] = peak
        return reply
    except Exception as exc:
        return _error(exc)


def release(case_id: str) -> None:
    _cases.pop(case_id, None)
    gc.collect()
    if _backend is not None:
        _backend.free_cached()  # the other GPU worker on this device may need it
