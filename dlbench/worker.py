"""The worker: owns one backend for the whole run and measures its cases on request.

A `Worker` lives in a spawned process (process.py) and is driven by the runner: one
`start`, then for each case `prepare` (inputs, first call, verification, warm-up and
calibration), `block` many times, and `release`. Each case is a `measure.Sampler`:
the same engine `measure()` runs in one process, driven block by block over the pipe.
Failures inside a case come back as a `Failure` value so the runner can tell them from
a crashed process, which surfaces as `process.WorkerCrashed` instead.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbench import backends, kernels, workloads
from dlbench.backends import Backend, DeviceOptions
from dlbench.compilers import CompiledKernel, CompileRefused
from dlbench.measure import MeasureConfig, Sampler
from dlbench.references import ReferenceStore
from dlbench.results import CaseSpec, Numerics
from dlbench.timers import CaptureError, EventTimer, HostEvent, Timer
from dlbench.workloads._endtoend import with_transfers

# Test hook: a backend name here makes its kernels' first output wrong, so tests can
# drive the real verification path and exit code end to end. Never set in normal use.
CORRUPT_ENV = "DLBENCH_TEST_CORRUPT_OUTPUT"
# Test hook: a backend name here makes its worker kill itself (SIGKILL) at its first
# block, as a segfault or the OOM killer would.
KILL_ENV = "DLBENCH_TEST_KILL_WORKER"
# Test hook: a backend name here makes its worker time with EventTimer over host events
# (timer "host-event"), so the event path through runner and result file runs on a CPU.
EVENT_TIMER_ENV = "DLBENCH_TEST_EVENT_TIMER"
# What a library's error says when device memory ran out: torch/CuPy allocators say
# "out of memory"; cuBLAS/cuDNN workspaces and the runtime use their own codes.
OOM_MARKERS = ("out of memory", "cublas_status_alloc_failed", "cudnn_status_alloc_failed",
               "cudaerrormemoryallocation", "cuda_error_out_of_memory")


@dataclass(frozen=True)
class Started:
    """A worker ready to measure: its process and what its backend says about itself."""

    pid: int
    describe: Mapping[str, Any]


@dataclass(frozen=True)
class Prepared:
    """A case ready to sample: verified, warmed up and calibrated."""

    inner_loops: int
    first_call_s: float
    timer: str
    numerics: Numerics
    verify: Mapping[str, Any] | None
    extra: Mapping[str, Any] = field(default_factory=dict)  # the kernel's own notes


@dataclass(frozen=True)
class BlockReply:
    """One block of a case: samples (and the paired host and enqueue times of event-timed
    ones), the stopping rule's answer, and the device memory high-water mark so far
    (None on a CPU)."""

    samples: tuple[float, ...]
    host_samples: tuple[float, ...]
    enqueue_samples: tuple[float, ...]
    stop: str | None
    peak_device_bytes: int | None
    recompiles: int = 0  # how often a compiled kernel compiled again during the block


@dataclass(frozen=True)
class Failure:
    """Why a case has no samples: status wrong, oom, error or skipped, and the message."""

    status: str
    error: str
    verify: Mapping[str, Any] | None = None
    first_call_s: float | None = None


class Worker:
    """One backend, set up once, and the cases prepared on it so far."""

    def __init__(self, backend: Backend, options: DeviceOptions) -> None:
        self.backend = backend
        self.options = options
        self.cases: dict[str, Sampler] = {}
        self.compiled: dict[str, CompiledKernel] = {}

    @classmethod
    def start(cls, backend_name: str, device: str, threads: int | None,
              options: DeviceOptions) -> Worker:
        """Import the library, set threads, select the device and apply the options.

        The options reach the backend before its library is imported (CuPy reads
        CUPY_TF32 then) and again after, when a GPU backend selects its device, sets
        its math flags and creates its context and library handles.
        """
        backend = backends.get(backend_name, device)
        backend.prepare_env(options)
        backend.threads_before_import(threads)
        backends.import_library(backend)
        backend.set_threads(threads)
        backend.setup()
        return cls(backend, options)

    def warm_up(self, seconds: float) -> None:
        """The backend's small matrix product for `seconds`: thread pools and dispatch
        caches live before any sample is taken anywhere."""
        kernel = self.backend.track(self.backend.warm_up_kernel())
        Sampler(kernel, self.timer(), MeasureConfig(warmup_time=seconds)).prepare()

    def timer(self, graph: bool = False) -> Timer:
        if os.environ.get(EVENT_TIMER_ENV) == self.backend.name:
            return EventTimer(HostEvent, sync=self.backend.synchronize, name="host-event")
        return self.backend.timer(graph=graph)

    def numerics(self) -> Numerics:
        backend = self.backend
        cache = None if backend.device == "cpu" else (
            "cold" if self.options.cold_cache else "hot")
        return Numerics(backend.float32_math(), backend.math_state(), cache)

    # -- a case -----------------------------------------------------------------------
    def prepare(self, spec: CaseSpec, config: MeasureConfig, verify: bool, seed: int,
                references: str | None = None) -> Prepared | Failure:
        """Build inputs, run the kernel once (its latency is the first-call time), check its
        output against the float64 reference (shared through the directory `references`
        with the row's other workers), then warm up and calibrate."""
        try:
            outcome = self._prepare(spec, config, verify, seed, ReferenceStore(references))
        except Exception as exc:
            outcome = self.failure(exc)
        # Out of the except clause: the traceback, and the arrays its frames hold, are gone.
        if isinstance(outcome, Failure):
            self.release(spec.id)
        return outcome

    def _prepare(self, spec: CaseSpec, config: MeasureConfig, verify: bool, seed: int,
                 references: ReferenceStore) -> Prepared | Failure:
        backend = self.backend
        wl = workloads.get(spec.workload)
        p = spec.param_dict
        host = wl.inputs(p, seed)
        refused = self._refuse_oversized(wl, p, host, spec.dtype)
        if refused is not None:
            return refused
        backend.reset_peak_memory()
        arrays = {k: backend.asarray(v, spec.dtype) for k, v in host.items()}
        del host
        built = wl.kernel(spec.impl, backend, arrays, p)
        kernel = backend.track(built)
        if spec.end_to_end:
            kernel = with_transfers(backend, kernel, arrays, spec.dtype)
        # Widen the inputs before the first call: training steps update them in place.
        widened = ({k: backend.to_numpy(v).astype(np.float64) for k, v in arrays.items()}
                   if verify and wl.verified else None)
        timer = self.timer(spec.graph)
        sampler = Sampler(kernel, timer, config)
        output = sampler.first_call()
        # A compiled kernel knows more once compiled (XLA's FLOP count, its compiler
        # record); one kept in a library's preferred layout says how to turn its output
        # into the workload's.
        extra = kernels.notes(built)
        compiled = built if isinstance(built, CompiledKernel) else None
        after_first = compiled.compilations() if compiled is not None else 0
        output = kernels.canonical(built, output)
        numerics = self.numerics()
        check = None
        if widened is not None:
            check = wl.compare(self._to_host(output), references.get(wl, p, widened), p,
                               spec.dtype, numerics.float32_math).to_dict()
            del widened
        del output
        if check is not None and not check["ok"]:
            return Failure("wrong", f"output differs from the float64 reference: scaled error "
                                    f"{check['max_rel_err']:.3g} > tolerance {check['tol']:.3g}",
                           check, sampler.first_call_s)
        # The first call paid for kernel compilation (CuPy), cuDNN autotuning
        # (cudnn.benchmark) and workspace allocation; the warm-up lets clocks and caches
        # settle, and none of it is a sample (docs/methodology.md).
        loops = sampler.prepare()
        self.cases[spec.id] = sampler
        if compiled is not None:
            # Compiling again while warming up or calibrating is not in the samples, but
            # says the kernel's guards do not hold from one call to the next.
            extra["compiler"] = {**extra["compiler"],
                                 "recompiles": compiled.compilations() - after_first}
            self.compiled[spec.id] = compiled
        assert sampler.first_call_s is not None
        return Prepared(loops, sampler.first_call_s, timer.name, numerics, check, extra)

    def _refuse_oversized(self, wl: workloads.Workload, p: Mapping[str, int],
                          host: Mapping[str, Any], dtype: str) -> Failure | None:
        """Refused before any device allocation, with the numbers in the message."""
        free = self.backend.memory_free()
        if free is None:
            return None
        need = device_need(wl, p, host, dtype)
        if need <= free:
            return None
        return Failure("skipped", f"needs about {_size(need)} of device memory but "
                                  f"{_size(free)} is free on {self.backend.label}")

    def _to_host(self, output: Any) -> Any:
        """A kernel returns one array or a tuple of them (a training step's new weights)."""
        backend = self.backend
        if isinstance(output, tuple | list):
            host: Any = tuple(backend.to_numpy(x) for x in output)
        else:
            host = backend.to_numpy(output)
        if os.environ.get(CORRUPT_ENV) == backend.name:
            host = np.asarray(host) + 1.0
        return host

    def block(self, case_id: str, warmup: float | None = None) -> BlockReply | Failure:
        """One block of samples for a prepared case, after its discarded warm-up (of
        `warmup` seconds; the config's block warm-up by default)."""
        if os.environ.get(KILL_ENV) == self.backend.name:
            os.kill(os.getpid(), signal.SIGKILL)
        compiled = self.compiled.get(case_id)
        try:
            before = compiled.compilations() if compiled is not None else 0
            block = self.cases[case_id].block(warmup)
            again = compiled.compilations() - before if compiled is not None else 0
            return BlockReply(block.samples, block.host_samples, block.enqueue_samples,
                              block.stop, self.backend.peak_memory(), again)
        except Exception as exc:
            failure = self.failure(exc)
        # Out of the except clause: the traceback, and the arrays its frames hold, are gone.
        self.release(case_id)
        return failure

    def release(self, case_id: str) -> None:
        """Drop a case and give its device memory back: the next case, and the other GPU
        worker on this device, may need it (after a failure, so as not to inherit a
        full device)."""
        self.cases.pop(case_id, None)
        self.compiled.pop(case_id, None)
        # Host arrays go with their last reference; only device memory held by a cycle
        # (a traceback, an autograd graph) must be collected now, and a full collection
        # in a process that has imported torch costs 0.1 s a case.
        if self.backend.device != "cpu":
            gc.collect()
        with contextlib.suppress(Exception):  # a device in an error state stays reported
            self.backend.free_cached()

    def failure(self, exc: BaseException) -> Failure:
        """What an exception inside a case means: out of memory, or another error."""
        if isinstance(exc, CaptureError):  # the case cannot run in this mode: not an error
            return Failure("skipped", f"cannot be timed as a CUDA graph: {exc}")
        if isinstance(exc, CompileRefused):  # the compiler's own reason, in one line
            return Failure("skipped", str(exc))
        text = str(exc).lower()
        if isinstance(exc, MemoryError) or any(marker in text for marker in OOM_MARKERS):
            return Failure("oom", f"out of memory: {exc}".strip())
        return Failure("error", f"{type(exc).__name__}: {exc}")


def device_need(wl: workloads.Workload, p: Mapping[str, int], host: Mapping[str, Any],
                dtype: str) -> float:
    """Device bytes a case needs: the workload's own figure where it gives one, else its
    inputs at `dtype` twice over (inputs, plus as much again for outputs and scratch)."""
    itemsize = workloads.itemsize(dtype)
    own = wl.device_bytes(p, itemsize)
    if own is not None:
        return float(own)
    return 2.0 * sum(int(np.size(a)) for a in host.values()) * itemsize


def _size(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


# -- the process's entry points: one Worker per process, called over the pipe ----------
_worker: Worker | None = None


def start(backend_name: str, device: str, threads: int | None, warmup_s: float,
          options: DeviceOptions) -> Started:
    """Set the worker up and warm it before any sample is taken anywhere."""
    global _worker
    _worker = Worker.start(backend_name, device, threads, options)
    _worker.warm_up(warmup_s)
    return Started(os.getpid(), _worker.backend.describe())


def _current() -> Worker:
    if _worker is None:
        raise RuntimeError("start() must run first")
    return _worker


def prepare(spec: CaseSpec, config: MeasureConfig, verify: bool, seed: int,
            references: str | None = None) -> Prepared | Failure:
    return _current().prepare(spec, config, verify, seed, references)


def block(case_id: str, warmup: float | None = None) -> BlockReply | Failure:
    return _current().block(case_id, warmup)


def release(case_id: str) -> None:
    _current().release(case_id)


def describe_only(backend_name: str, device: str) -> dict[str, Any]:
    """What a backend says about itself and its GPU, asked in a spawned child so that
    the asking process (`dlbench env`) never initialises CUDA itself."""
    return dict(Worker.start(backend_name, device, None, DeviceOptions()).backend.describe())
