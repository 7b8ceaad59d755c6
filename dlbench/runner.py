"""The runner: drives one worker process per backend through a Plan's cases in
interleaved rounds, and turns what the workers report into Results.

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

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlbench import breakeven, environment, measure, stats, worker, workloads
from dlbench.planning import Plan
from dlbench.process import WorkerCrashed, WorkerError, WorkerProcess
from dlbench.results import CaseSpec, Result
from dlbench.worker import BlockReply, Failure, Prepared

# A worker that has crashed this many times is not started again for the run.
MAX_WORKER_CRASHES = 2
# Long enough for torch/OpenMP thread pools and JIT caches to be live before timing.
INIT_WARMUP_S = 0.2


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


class RunInterrupted(Exception):
    """Ctrl-C: carries what finished, so the caller can save it."""

    def __init__(self, results: list[Result]) -> None:
        super().__init__("interrupted")
        self.results = results


@dataclass
class _Slot:
    """A backend's worker as the runner sees it: its process, or why it has none."""

    label: str
    backend: str
    device: str
    process: WorkerProcess | None = None
    describe: Mapping[str, Any] = field(default_factory=dict)
    crashes: int = 0
    dead_reason: str | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


@dataclass
class _Sampling:
    """A case being sampled: what prepare said, and the blocks so far."""

    prepared: Prepared
    samples: list[float] = field(default_factory=list)
    host_samples: list[float] = field(default_factory=list)
    enqueue_samples: list[float] = field(default_factory=list)
    peak_device_bytes: int | None = None
    recompiles: int = 0

    def add(self, reply: BlockReply) -> None:
        self.samples += reply.samples
        self.host_samples += reply.host_samples
        self.enqueue_samples += reply.enqueue_samples
        if reply.peak_device_bytes is not None:
            self.peak_device_bytes = reply.peak_device_bytes
        self.recompiles += reply.recompiles

    def kernel_extra(self) -> dict[str, Any]:
        """What the kernel reported, with a compiled kernel's recompilations while
        sampling added to its compiler record."""
        extra = dict(self.prepared.extra)
        if "compiler" in extra:
            extra["compiler"] = {**extra["compiler"],
                                 "recompiles_while_sampling": self.recompiles}
        return extra


class Runner:
    def __init__(self, plan: Plan, on_event: Callable[[Event], None] | None = None,
                 on_result: Callable[[Result], None] | None = None,
                 environment_record: dict[str, Any] | None = None) -> None:
        self.plan = plan
        self.environment = environment_record if environment_record is not None else {}
        self.on_event = on_event or (lambda e: None)
        self.on_result = on_result or (lambda r: None)
        self.slots: dict[str, _Slot] = {}
        self.results: list[Result] = []
        self.options = plan.options  # with the run's compile cache folder once it has one

    # -- public ---------------------------------------------------------------------------
    def run(self) -> list[Result]:
        try:
            with tempfile.TemporaryDirectory(prefix="dlbench-references-",
                                             ignore_cleanup_errors=True) as references, \
                    self._compile_cache():
                self._run(Path(references))
        except KeyboardInterrupt:
            self.stop(kill=True)
            raise RunInterrupted(self.in_plan_order()) from None
        except BaseException:  # a failed save, a bug: no worker outlives the run
            self.stop(kill=True)
            raise
        return self.in_plan_order()

    def _run(self, references: Path) -> None:
        self._start_workers()
        skipped = dict(self.plan.skipped)
        done = 0
        for group in _rows([*self.plan.cases, *skipped]):
            for spec in group:
                if spec in skipped:
                    self._finish(Result(spec=spec, status="skipped", error=skipped[spec]))
            self._measure_row([s for s in group if s not in skipped], done, references)
            done += len(group)
            # A row's reference serves only that row: the disk holds one at a time.
            for shared in references.iterdir():
                shared.unlink(missing_ok=True)
        self.stop()

    def in_plan_order(self) -> list[Result]:
        """The results so far in the plan's order (they finish in another: a row's cases
        end when each converges), each compiled one with its break-even against its
        library's eager kernel."""
        order = {spec: i for i, spec in enumerate([*self.plan.cases,
                                                   *(s for s, _ in self.plan.skipped)])}
        return breakeven.annotate(sorted(self.results,
                                         key=lambda r: order.get(r.spec, len(order))))

    @contextlib.contextmanager
    def _compile_cache(self) -> Iterator[None]:
        """The run's own empty cache folder for compiled kernels, removed at the end,
        unless the user named a persistent one (--compile-cache)."""
        options = self.plan.options
        if options.compile.cache_dir is not None:
            yield
            return
        with tempfile.TemporaryDirectory(prefix="dlbench-compile-",
                                         ignore_cleanup_errors=True) as folder:
            self.options = replace(options, compile=replace(options.compile,
                                                            cache_dir=folder))
            yield

    def backend_descriptions(self) -> dict[str, Any]:
        return {s.label: dict(s.describe) for s in self.slots.values() if s.describe}

    # -- workers --------------------------------------------------------------------------
    def _start_workers(self) -> None:
        for spec in self.plan.cases:
            if spec.label not in self.slots:
                self.slots[spec.label] = _Slot(spec.label, spec.backend, spec.device)
        self.on_event(Event("workers_starting", total=len(self.slots)))
        # Send every start first so the imports overlap, then wait for all of them:
        # no sample is taken anywhere while a worker is still importing.
        for slot in self.slots.values():
            self._spawn(slot)
        for slot in self.slots.values():
            self._await_start(slot)

    def _spawn(self, slot: _Slot) -> None:
        slot.process = WorkerProcess(slot.label)
        slot.process.send(worker.start, slot.backend, slot.device, self.plan.threads,
                          INIT_WARMUP_S, self.options)

    def _await_start(self, slot: _Slot) -> None:
        assert slot.process is not None
        try:
            started: worker.Started = slot.process.receive()
        except WorkerCrashed as exc:
            self._mark_dead(slot, f"{exc} while starting")
            return
        except WorkerError as exc:  # import failure, bad thread count: the reason is the message
            self._mark_dead(slot, f"{slot.label} could not start: {exc}")
            return
        slot.describe = started.describe
        if "gpu" in started.describe:  # known only inside the worker: the parent never asks CUDA
            environment.add_gpu(self.environment, dict(started.describe["gpu"]))
        self.on_event(Event("worker_ready", worker=slot.label, pid=slot.pid))

    def _mark_dead(self, slot: _Slot, reason: str) -> None:
        if slot.process is not None:
            slot.process.stop(kill=True)
        slot.process, slot.dead_reason = None, reason

    def stop(self, kill: bool = False) -> None:
        """Stop every worker still running (killed, after a Ctrl-C); idempotent."""
        for slot in self.slots.values():
            if slot.process is not None:
                slot.process.stop(kill=kill)
                slot.process = None

    def _call(self, slot: _Slot, fn: Callable[..., Any], *args: Any) -> Any:
        """Call into a worker. A crash becomes this call's Failure, and the worker is
        started again for the next call unless it keeps crashing."""
        if slot.process is None and slot.dead_reason is None:
            self._spawn(slot)
            self._await_start(slot)
        if slot.process is None:  # this case never reached a worker: say so, and why
            return Failure("error", f"not run: {slot.dead_reason or 'no worker'}")
        try:
            return slot.process.call(fn, *args)
        except WorkerError as exc:
            return Failure("error", str(exc))
        except WorkerCrashed as exc:
            slot.crashes += 1
            self._mark_dead(slot, f"the {slot.label} worker died {slot.crashes} times and is "
                                  f"not started again (last: {exc})")
            if slot.crashes < MAX_WORKER_CRASHES:
                slot.dead_reason = None
            return Failure("error", str(exc))

    # -- cases ----------------------------------------------------------------------------
    def _measure_row(self, row: Sequence[CaseSpec], done: int, references: Path) -> None:
        """Measure one row (workload, params, dtype) on every backend, interleaved."""
        plan = self.plan
        sampling: dict[CaseSpec, _Sampling] = {}
        for i, spec in enumerate(row):
            slot = self.slots[spec.label]
            self.on_event(Event("case_start", spec=spec, worker=slot.label, pid=slot.pid,
                                index=done + i, total=self.plan.total))
            reply = self._call(slot, worker.prepare, spec, plan.config, plan.verify, plan.seed,
                               str(references))
            if isinstance(reply, Failure):
                self._finish(self._failed(spec, reply))
            else:
                sampling[spec] = _Sampling(reply)
        while sampling:
            for spec, case in list(sampling.items()):
                slot = self.slots[spec.label]
                reply = self._call(slot, worker.block, spec.id)
                if isinstance(reply, Failure):
                    del sampling[spec]
                    self._finish(self._failed(spec, reply, case.prepared))
                    continue
                case.add(reply)
                self.on_event(Event("block", spec=spec, worker=slot.label, pid=slot.pid,
                                    samples=len(case.samples)))
                if reply.stop is not None:
                    del sampling[spec]
                    self._call(slot, worker.release, spec.id)
                    self._finish(self._measured(spec, case, reply.stop))

    def _failed(self, spec: CaseSpec, failure: Failure, prepared: Prepared | None = None
                ) -> Result:
        verify = failure.verify if failure.verify is not None else (
            prepared.verify if prepared else None)
        first = failure.first_call_s if failure.first_call_s is not None else (
            prepared.first_call_s if prepared else None)
        flops, nbytes = _cost(spec)
        return Result(spec=spec, status=failure.status, error=failure.error, verify=verify,
                      first_call_s=first, flops=flops, bytes=nbytes)

    def _measured(self, spec: CaseSpec, case: _Sampling, stop: str) -> Result:
        summary = stats.summarize(case.samples)
        flops, nbytes = _cost(spec)
        median = summary.median
        prepared = case.prepared
        result = Result(
            spec=spec, status="ok", samples_s=tuple(case.samples),
            inner_loops=prepared.inner_loops, stats=summary.to_dict(), timer=prepared.timer,
            flops=flops, bytes=nbytes,
            gflops=flops / median / 1e9 if median > 0 else None,
            gbytes_per_s=nbytes / median / 1e9 if median > 0 else None,
            verify=prepared.verify, first_call_s=prepared.first_call_s, stop=stop,
            numerics=prepared.numerics, host_samples_s=tuple(case.host_samples),
            enqueue_samples_s=tuple(case.enqueue_samples),
            peak_device_bytes=case.peak_device_bytes, kernel_extra=case.kernel_extra())
        fraction = self._fraction_of_peak(result)
        warnings = measure.quality_warnings(
            summary, stop, measure.launch_bound(case.enqueue_samples, case.samples))
        if fraction is not None and fraction > 1:
            warnings.append(stats.QualityWarning.ABOVE_PEAK.value)
        if case.recompiles:  # compile time landed in the samples
            warnings.append(stats.QualityWarning.RECOMPILED.value)
        return replace(result, fraction_of_peak=fraction, warnings=tuple(warnings))

    def _fraction_of_peak(self, r: Result) -> float | None:
        """Achieved over theoretical: bandwidth for memory-bound work, FLOP/s otherwise."""
        spec = r.spec
        if r.memory_bound:
            peak = environment.peak_bandwidth_for(self.environment, spec.device)
            rate = r.gbytes_per_s
        else:
            assert r.numerics is not None
            peak = environment.peak_for(self.environment, spec.device, spec.dtype,
                                        math=r.numerics.float32_math)
            rate = r.gflops
        return rate * 1e9 / peak if (rate and peak) else None

    def _finish(self, result: Result) -> None:
        self.results.append(result)
        self.on_result(result)
        self.on_event(Event("case_done", spec=result.spec, result=result,
                            index=len(self.results), total=self.plan.total))


def _cost(spec: CaseSpec) -> tuple[float, float]:
    wl = workloads.get(spec.workload)
    p = spec.param_dict
    return wl.flops(p), wl.bytes(p, workloads.itemsize(spec.dtype))


def _rows(cases: Sequence[CaseSpec]) -> list[list[CaseSpec]]:
    """Cases grouped by row (workload, params, dtype), rows in order of first appearance."""
    rows: dict[str, list[CaseSpec]] = {}
    for spec in cases:
        rows.setdefault(spec.row_key, []).append(spec)
    return list(rows.values())
