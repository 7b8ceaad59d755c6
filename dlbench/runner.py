"""The runner: expands a plan into cases, drives one worker process per backend in
interleaved rounds, and turns what it observes into Results.

Why processes and rounds (measured on the development machine, DESIGN.md):
NumPy's OpenBLAS and torch's OpenMP threads spin-wait while idle, so two libraries in
one process slowed each other 2–21×. Each backend therefore gets its own spawned
worker, kept for the whole run. A case is measured on every backend in rounds of
sample blocks (A B A B …, like asv's `rounds` and Google Benchmark's random
interleaving), so slow drift of a shared machine hits every backend alike instead of
biasing the speedups. Every worker finishes importing and warming up before the first
sample anywhere: a worker still importing torch made the other measure 2–3× slow.

Nothing here knows rich or typer: progress leaves as events through a callback.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from dlbench import environment, measure, stats, worker, workloads
from dlbench.measure import MeasureConfig, StopState
from dlbench.results import CaseSpec, Result

# A worker that has crashed this many times is not started again for the run.
MAX_WORKER_CRASHES = 2
# How long to wait for a dead worker's exit status to become readable.
EXIT_STATUS_WAIT_S = 5.0
# Long enough for torch/OpenMP thread pools and JIT caches to be live before timing.
INIT_WARMUP_S = 0.2


@dataclass(frozen=True)
class Plan:
    """Everything the runner needs: the cases and how to measure them."""

    cases: tuple[CaseSpec, ...]
    config: MeasureConfig = MeasureConfig()
    threads: int | None = None
    verify: bool = True
    seed: int = workloads.DEFAULT_SEED
    skipped: tuple[tuple[CaseSpec, str], ...] = ()  # known up front not to run, with reason
    tf32: str = "off"  # GPU float32 math: "on" lets torch and CuPy use TF32 tensor cores
    cache: str = "hot"  # "cold": flush the GPU's L2 before every sample

    @property
    def worker_options(self) -> dict[str, str]:
        return {"tf32": self.tf32, "cache": self.cache}


@dataclass(frozen=True)
class Event:
    """A progress event: kind is one of workers_starting, worker_ready, case_start,
    block, case_done."""

    kind: str
    spec: CaseSpec | None = None
    worker: str | None = None
    pid: int | None = None
    samples: int = 0
    result: Result | None = None
    index: int = 0
    total: int = 0
    message: str = ""


class WorkerCrashed(Exception):
    pass


class RunInterrupted(Exception):
    """Ctrl-C: carries what finished, so the caller can save it."""

    def __init__(self, results: list[Result]) -> None:
        super().__init__("interrupted")
        self.results = results


@dataclass
class _Worker:
    label: str
    backend: str
    device: str
    pool: ProcessPoolExecutor | None = None
    pid: int | None = None
    describe: dict[str, Any] = field(default_factory=dict)
    crashes: int = 0
    dead_reason: str | None = None
    # The pool forgets its processes once it breaks; keep them to read the exit status.
    processes: list[Any] = field(default_factory=list)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.pool is None:
            raise WorkerCrashed(self.dead_reason or "worker not running")
        try:
            future: Future = self.pool.submit(fn, *args)
            return future.result()
        except BrokenProcessPool:
            raise WorkerCrashed(self._crash_message()) from None

    def _crash_message(self) -> str:
        code = None
        deadline = time.monotonic() + EXIT_STATUS_WAIT_S
        for proc in self.processes:
            # The pool's own thread reaps the dead process too; whichever waitpid loses
            # the race sees no status yet, so poll until the winner has stored it.
            while (code := proc.exitcode) is None and time.monotonic() < deadline:
                time.sleep(0.01)
        how = f"exit code {code}" if code is not None and code >= 0 else (
            f"killed by signal {-code}" if code is not None else "exit status unknown")
        return f"the {self.label} worker process (pid {self.pid}) died ({how})"


class Runner:
    def __init__(self, plan: Plan, on_event: Callable[[Event], None] | None = None,
                 on_result: Callable[[Result], None] | None = None,
                 environment_record: dict[str, Any] | None = None) -> None:
        self.plan = plan
        self.environment = environment_record or {}
        self.on_event = on_event or (lambda e: None)
        self.on_result = on_result or (lambda r: None)
        self.workers: dict[str, _Worker] = {}
        self.results: list[Result] = []
        self._ctx = multiprocessing.get_context("spawn")

    # -- public ---------------------------------------------------------------------------
    def run(self) -> list[Result]:
        try:
            self._start_workers()
            skipped = dict(self.plan.skipped)
            total = len(self.plan.cases) + len(skipped)
            done = 0
            for group in _group([*self.plan.cases, *skipped]):
                for spec in group:
                    if spec in skipped:
                        self._finish(Result(spec=spec, status="skipped", error=skipped[spec]))
                measured = [spec for spec in group if spec not in skipped]
                self._run_group(measured, done, total)
                done += len(group)
        except KeyboardInterrupt:
            self._stop_workers(kill=True)
            raise RunInterrupted(self.results) from None
        self._stop_workers()
        return self.results

    def backend_descriptions(self) -> dict[str, Any]:
        return {w.label: w.describe for w in self.workers.values() if w.describe}

    # -- workers --------------------------------------------------------------------------
    def _start_workers(self) -> None:
        labels: dict[str, tuple[str, str]] = {}
        for spec in self.plan.cases:
            labels.setdefault(f"{spec.backend}-{spec.device}", (spec.backend, spec.device))
        self.on_event(Event("workers_starting", total=len(labels)))
        for label, (backend, device) in labels.items():
            self.workers[label] = _Worker(label, backend, device)
        # Submit every init first so the imports overlap, then wait for all of them:
        # no sample is taken anywhere while a worker is still importing.
        pending = {w.label: self._spawn(w) for w in self.workers.values()}
        for label, future in pending.items():
            self._await_init(self.workers[label], future)

    def _spawn(self, w: _Worker) -> Future:
        w.pool = ProcessPoolExecutor(max_workers=1, mp_context=self._ctx,
                                     initializer=worker.ignore_sigint)
        future = w.pool.submit(worker.init, w.backend, w.device, self.plan.threads,
                               INIT_WARMUP_S, self.plan.worker_options)
        # The pool starts its process on the first submit, and forgets it once broken.
        w.processes = list(getattr(w.pool, "_processes", {}).values())
        return future

    def _await_init(self, w: _Worker, future: Future) -> None:
        try:
            info = future.result()
        except BrokenProcessPool:
            self._mark_dead(w, w._crash_message() + " while starting")
            return
        except Exception as exc:  # import failure, bad thread count: the reason is the message
            self._mark_dead(w, f"{w.label} could not start: {exc}")
            return
        w.pid, w.describe = info["pid"], info["describe"]
        if "gpu" in w.describe:  # known only inside the worker: the parent never asks CUDA
            environment.add_gpu(self.environment, w.describe["gpu"])
        self.on_event(Event("worker_ready", worker=w.label, pid=w.pid))

    def _mark_dead(self, w: _Worker, reason: str) -> None:
        if w.pool is not None:
            _shutdown(w.pool, kill=True)
        w.pool, w.dead_reason = None, reason

    def _restart(self, w: _Worker) -> None:
        """A crashed worker comes back for the next call: the crash costs only its case."""
        self._await_init(w, self._spawn(w))

    def _stop_workers(self, kill: bool = False) -> None:
        for w in self.workers.values():
            if w.pool is not None:
                _shutdown(w.pool, kill=kill)
                w.pool = None

    # -- cases ----------------------------------------------------------------------------
    def _run_group(self, group: Sequence[CaseSpec], done: int, total: int) -> None:
        """Measure one row (workload, params, dtype) on every backend, interleaved."""
        config = self.plan.config
        prepared: dict[CaseSpec, dict[str, Any]] = {}
        states: dict[CaseSpec, StopState] = {}
        host: dict[CaseSpec, list[float]] = {}  # host times paired with event-timed samples
        for i, spec in enumerate(group):
            w = self.workers[f"{spec.backend}-{spec.device}"]
            self.on_event(Event("case_start", spec=spec, worker=w.label, pid=w.pid,
                                index=done + i, total=total))
            info = self._call(w, worker.prepare, spec, config, self.plan.verify,
                              self.plan.seed)
            if info["status"] != "ok":
                self._finish(self._failed(spec, info))
                continue
            prepared[spec], states[spec], host[spec] = info, StopState(), []
        active = list(prepared)
        while active:
            for spec in list(active):
                w = self.workers[f"{spec.backend}-{spec.device}"]
                state = states[spec]
                remaining = config.max_samples - len(state.samples)
                reply = self._call(w, worker.block, spec.id, config.block_time,
                                   config.block_warmup_time, remaining)
                if reply["status"] != "ok":
                    active.remove(spec)
                    self._finish(self._failed(spec, {**prepared[spec], **reply}))
                    continue
                state.samples += reply["samples"]
                host[spec] += reply.get("host_samples", [])
                if "peak_device_bytes" in reply:
                    prepared[spec]["peak_device_bytes"] = reply["peak_device_bytes"]
                state.sampling_time += sum(reply["samples"]) * prepared[spec]["inner_loops"]
                self.on_event(Event("block", spec=spec, worker=w.label, pid=w.pid,
                                    samples=len(state.samples)))
                stop = measure.stop_reason(state, config)
                if stop is not None:
                    active.remove(spec)
                    self._call(w, worker.release, spec.id)
                    self._finish(self._measured(spec, prepared[spec], state, stop, host[spec]))

    def _call(self, w: _Worker, fn: Callable[..., Any], *args: Any) -> Any:
        """Call into a worker; a crash becomes this call's error, and the worker is
        started again for the next call unless it keeps crashing."""
        if w.pool is None and w.dead_reason is None:
            self._restart(w)
        if w.pool is None:
            return {"status": "error", "error": w.dead_reason}
        try:
            return w.call(fn, *args)
        except WorkerCrashed as exc:
            w.crashes += 1
            self._mark_dead(w, str(exc))
            if w.crashes < MAX_WORKER_CRASHES:
                w.dead_reason = None
            return {"status": "error", "error": str(exc)}

    def _failed(self, spec: CaseSpec, info: dict[str, Any]) -> Result:
        return Result(spec=spec, status=info["status"], error=info.get("error"),
                      verify=info.get("verify"), first_call_s=info.get("first_call_s"),
                      **self._cost(spec))

    def _cost(self, spec: CaseSpec) -> dict[str, float]:
        wl = workloads.get(spec.workload)
        p = spec.param_dict
        return {"flops": wl.flops(p), "bytes": wl.bytes(p, workloads.itemsize(spec.dtype))}

    def _measured(self, spec: CaseSpec, info: dict[str, Any], state: StopState,
                  stop: str, host_samples: Sequence[float] = ()) -> Result:
        summary = stats.summarize(state.samples)
        cost = self._cost(spec)
        median = summary.median
        gflops = cost["flops"] / median / 1e9 if median > 0 else None
        extra = dict(info.get("extra") or {})
        peak = environment.peak_for(self.environment, spec.device, spec.dtype,
                                    math=extra.get("float32_math"))
        if host_samples:
            # Device (event) time is the headline; the synchronised host time of the same
            # batches is kept beside it (cupyx.profiler.benchmark reports both).
            extra["host_samples_s"] = list(host_samples)
            extra["host_stats"] = stats.summarize(list(host_samples)).to_dict()
        if "peak_device_bytes" in info:
            extra["peak_device_bytes"] = info["peak_device_bytes"]
        return Result(
            spec=spec, status="ok", samples_s=tuple(state.samples),
            inner_loops=info["inner_loops"], stats=summary.to_dict(),
            timer=info.get("timer", "host"), extra=extra,
            gflops=gflops,
            gbytes_per_s=cost["bytes"] / median / 1e9 if median > 0 else None,
            fraction_of_peak=gflops * 1e9 / peak if (gflops and peak) else None,
            verify=info.get("verify"), warnings=tuple(measure.quality_warnings(summary, stop)),
            first_call_s=info.get("first_call_s"), stop=stop, **cost)

    def _finish(self, result: Result) -> None:
        self.results.append(result)
        self.on_result(result)
        self.on_event(Event("case_done", spec=result.spec, result=result,
                            index=len(self.results),
                            total=len(self.plan.cases) + len(self.plan.skipped)))


def _group(cases: Sequence[CaseSpec]) -> list[list[CaseSpec]]:
    groups: dict[str, list[CaseSpec]] = {}
    for spec in cases:
        groups.setdefault(spec.row_key, []).append(spec)
    return list(groups.values())


def _shutdown(pool: ProcessPoolExecutor, kill: bool) -> None:
    if kill:
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)
