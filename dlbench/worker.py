"""The worker process: owns one backend for the whole run and measures on request.

Functions here run inside a spawned single-worker process pool. Module state holds
the backend and the cases prepared so far; the runner calls `init` once, then
`prepare`, `block` (many times) and `release` for each case. Failures inside a case
come back as data (`{"status": "error" | "oom", ...}`) so the runner can tell them from
a crashed process, which surfaces as BrokenProcessPool instead.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbench import backends, workloads
from dlbench.measure import MeasureConfig, calibrate, sample_block, warmup
from dlbench.results import CaseSpec

# Test hook: a backend name here makes its kernels' first output wrong, so tests can
# drive the real verification path and exit code end to end. Never set in normal use.
CORRUPT_ENV = "DLBENCH_TEST_CORRUPT_OUTPUT"
# Test hook: a backend name here makes its worker kill itself (SIGKILL) at its first
# block, as a segfault or the OOM killer would.
KILL_ENV = "DLBENCH_TEST_KILL_WORKER"
# Size of the matmul used to wake the library up at start: big enough to start its
# thread pool and JIT/dispatch caches, small enough to take milliseconds.
INIT_WARMUP_N = 256


@dataclass
class _Prepared:
    kernel: Any
    inner_loops: int


_backend: backends.Backend | None = None
_cases: dict[str, _Prepared] = {}


def ignore_sigint() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle; workers are stopped by it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def init(backend_name: str, device: str, threads: int | None, warmup_s: float) -> dict[str, Any]:
    """Import the library, set threads, and warm it up before any sample is taken anywhere."""
    global _backend
    backend = backends.get(backend_name, device)
    backends.import_library(backend)
    backend.set_threads(threads)
    wl = workloads.get("matmul")
    p = wl.resolve(size=INIT_WARMUP_N)
    arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    kernel = wl.kernel("portable", backend, arrays, p)
    warmup(kernel, backend.timer(), warmup_s)
    _backend = backend
    return {"pid": os.getpid(), "describe": backend.describe()}


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return {"status": "oom", "error": f"out of memory: {exc}".strip()}
    return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}


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
        arrays = {k: _backend.asarray(v, spec.dtype) for k, v in host.items()}
        del host
        kernel = wl.kernel(spec.impl, _backend, arrays, p)
        timer = _backend.timer()
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
        warm = warmup(kernel, timer, config.warmup_time)
        loops = calibrate(kernel, timer, config.sample_time)
        _cases[spec.id] = _Prepared(kernel, loops)
        return {"status": "ok", "verify": check, "first_call_s": first_call_s,
                "warmup_calls": warm.calls, "inner_loops": loops}
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
        timer = _backend.timer()
        samples = sample_block(case.kernel, timer, case.inner_loops, block_time,
                               warmup_time=warmup_time, max_samples=max_samples)
        return {"status": "ok", "samples": samples}
    except Exception as exc:
        return _error(exc)


def release(case_id: str) -> None:
    _cases.pop(case_id, None)
    gc.collect()
