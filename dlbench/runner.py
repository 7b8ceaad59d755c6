"""The runner: drives one worker process per backend through a Plan's cases in
interleaved rounds, and turns what the workers report into Results.

Why processes and rounds (docs/methodology.md; figures in docs/measurements.md):
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
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from dlbench import breakeven, environment, measured, worker, workloads
from dlbench.errors import EnvironmentUnusable
from dlbench.measured import Measured
from dlbench.planning import Plan
from dlbench.process import WorkerCrashed, WorkerError, WorkerProcess
from dlbench.results import CaseSpec, Result, Round
from dlbench.sides import Side
from dlbench.worker import BlockReply, Failure, Prepared

# A worker that has crashed this many times is not started again for the run.
MAX_WORKER_CRASHES = 2
# Long enough for torch/OpenMP thread pools and JIT caches to be live before timing.
INIT_WARMUP_S = 0.2
# What the cases of a window may hold at once in one worker, by the workloads' own
# estimates (which count the float64 reference's working set too, so they run several
# times what a prepared case holds). A device worker keeps room for the next window.
WINDOW_BYTES = 2**30
# The host's workers share its memory: together they may plan on this share of what is
# available when the run starts (each at least WINDOW_BYTES). With 1 GiB alone, the
# default selection's convolution row (0.8 GB estimated per case) had to be a window of
# its own, and a case's five rounds spanned 3 s of a 20-s run: they saw none of the
# drift between the first rows and the last. A suite of large cases still measures a
# few rows at a time.
HOST_SHARE = 0.5


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
    side: Side | None = None  # an A/B run's environment; None: this interpreter as it is
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
    rounds: list[Round] = field(default_factory=list)
    peak_device_bytes: int | None = None
    done: bool = False  # finished: measured, or failed in some execution
    pid: int | None = None  # the worker process it is prepared in
    recompiles: int = 0  # a compiled kernel's compilations while sampling

    def add(self, reply: BlockReply, round_: Round) -> None:
        self.rounds.append(round_)
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

    def measured(self, stop: str) -> Measured:
        """What the worker reported for the case, as the one value a Result is built from."""
        prepared = self.prepared
        return Measured(
            tuple(self.samples), tuple(self.rounds), tuple(self.host_samples),
            tuple(self.enqueue_samples), prepared.inner_loops, stop, prepared.timer,
            prepared.first_call_s, self.peak_device_bytes, prepared.verify,
            prepared.numerics, self.kernel_extra())


class Runner:
    def __init__(self, plan: Plan, on_event: Callable[[Event], None] | None = None,
                 on_result: Callable[[Result], None] | None = None,
                 environment_record: dict[str, Any] | None = None,
                 sides: Mapping[str, Side] | None = None) -> None:
        self.plan = plan
        # An A/B run's environments by name (cases carry the name): each side's workers
        # run its interpreter with its variables, and every one of them must start.
        self.sides = dict(sides or {})
        self.environment = environment_record if environment_record is not None else {}
        self.on_event = on_event or (lambda e: None)
        self.on_result = on_result or (lambda r: None)
        self.slots: dict[str, _Slot] = {}
        self.results: list[Result] = []
        self.options = plan.options  # with the run's compile cache folder once it has one
        self._clock_zero = time.monotonic()
        # Stamped on every result: results of one run share its passes (speedups.py).
        self.run_id = uuid.uuid4().hex[:12]
        self._passes = 0  # passes so far over the whole run: a round's index
        self._executions = 0
        self._last_worker: str | None = None

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
        if self.sides:
            # An A/B run compares the sides case by case: one side without its workers
            # measures nothing worth saving, so it is refused before any sample.
            dead = [slot.dead_reason for slot in self.slots.values() if slot.dead_reason]
            if dead:
                raise EnvironmentUnusable(dead[0])
        self._clock_zero = time.monotonic()
        skipped = dict(self.plan.skipped)
        for spec in skipped:
            self._finish(Result(spec=spec, status="skipped", error=skipped[spec]))
        measuring = [s for s in self.plan.cases if s not in skipped]
        windows = _windows(_rows(measuring),
                           window_budgets(measuring, psutil.virtual_memory().available))
        # Each execution measures every case again in fresh worker processes with fresh
        # inputs (JMH's forks, pyperf's processes): what a process or an allocation fixes
        # for its lifetime varies between executions, and their rounds pool into one
        # result, finished after the last.
        cases: dict[CaseSpec, _Sampling] = {}
        for execution in range(self.plan.repeat):
            self._executions = execution
            if execution:
                self._restart_workers()
            for window in windows:
                self._measure_window(window, references, cases)
        self.stop()
        if self.plan.repeat > 1:
            self.results = measured.pool_executions(self.results)

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
        unless the user named a persistent one (--compile-cache). Workers started again
        under --repeat share it: an execution after the first compiles from a warm cache,
        and only the first execution's first call is kept as the compile time."""
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
                self.slots[spec.label] = _Slot(spec.label, spec.backend, spec.device,
                                               self.sides.get(spec.side or ""))
        self.on_event(Event("workers_starting", total=len(self.slots)))
        # Send every start first so the imports overlap, then wait for all of them:
        # no sample is taken anywhere while a worker is still importing.
        for slot in self.slots.values():
            self._spawn(slot)
        for slot in self.slots.values():
            self._await_start(slot)

    def _restart_workers(self) -> None:
        """Fresh processes for every live worker (a worker that kept crashing stays out)."""
        for slot in self.slots.values():
            if slot.process is not None:
                slot.process.stop()
                slot.process = None
        live = [slot for slot in self.slots.values() if slot.dead_reason is None]
        for slot in live:
            self._spawn(slot)
        for slot in live:
            self._await_start(slot)
        self._last_worker = None

    def _spawn(self, slot: _Slot) -> None:
        side = slot.side
        slot.process = WorkerProcess(slot.label, side and side.python, side and side.env)
        try:
            slot.process.send(worker.start, slot.backend, slot.device, self.plan.threads,
                              INIT_WARMUP_S, self.options)
        except WorkerCrashed as exc:  # it died before reading (a bad interpreter, a bad env)
            self._mark_dead(slot, f"{exc} while starting")

    def _await_start(self, slot: _Slot) -> None:
        if slot.process is None:  # died already while being sent its start
            return
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
    def _measure_window(self, window: Sequence[Sequence[CaseSpec]], references: Path,
                        cases: dict[CaseSpec, _Sampling]) -> None:
        """Prepare a window's cases on their workers, then sample them in passes until each
        case stops: a pass gives every case still sampling one block (a round), the
        workers and each worker's cases in an order rotated every pass, so a case's rounds
        are spread over the window's whole duration and the rounds of a row's cases that
        share a pass are close in time (paired for speedups). `cases` carries each case's
        rounds from one execution to the next."""
        sampling: list[CaseSpec] = []
        for row in window:
            for spec in row:
                if self._prepare(spec, references, cases):
                    sampling.append(spec)
            # A row's reference serves only that row: the disk holds one at a time.
            for shared in references.iterdir():
                shared.unlink(missing_ok=True)
        while sampling:
            self._pass(sampling, cases)
            self._passes += 1

    def _prepare(self, spec: CaseSpec, references: Path, cases: dict[CaseSpec, _Sampling]
                 ) -> bool:
        """Prepare a case on its worker (verified in the first execution only); False when
        it failed, which finishes it."""
        plan, slot = self.plan, self.slots[spec.label]
        first = spec not in cases
        if first:
            self.on_event(Event("case_start", spec=spec, worker=slot.label, pid=slot.pid,
                                index=len(self.results), total=plan.total))
        elif cases[spec].done:  # failed in an earlier execution
            return False
        reply = self._call(slot, worker.prepare, spec, plan.config, plan.verify and first,
                           plan.seed, str(references))
        if isinstance(reply, Failure):
            self._finish(self._failed(spec, reply, None if first else cases[spec].prepared))
            if not first:
                cases[spec].done = True
            return False
        if first:
            cases[spec] = _Sampling(reply)
        cases[spec].pid = slot.pid
        return True

    def _pass(self, sampling: list[CaseSpec], cases: dict[CaseSpec, _Sampling]) -> None:
        """One block of every case still sampling, grouped by worker: only the first block
        after another worker ran needs the long warm-up that lets that worker's threads
        go idle."""
        by_worker: dict[str, list[CaseSpec]] = {}
        for spec in sampling:
            by_worker.setdefault(spec.label, []).append(spec)
        for label in _rotated(list(by_worker), self._passes):
            for spec in _rotated(by_worker[label], self._passes):
                warmup = (None if label != self._last_worker
                          else self.plan.config.followup_warmup_time)
                self._last_worker = label
                if self._block(spec, cases[spec], warmup):
                    sampling.remove(spec)

    def _block(self, spec: CaseSpec, case: _Sampling, warmup: float | None) -> bool:
        """One round of a case; True when the case stopped (converged, out of budget or
        failed) for this execution."""
        slot = self.slots[spec.label]
        if slot.pid != case.pid:
            # Its worker died for another case and was started again: prepared there anew.
            reply = self._call(slot, worker.prepare, spec, self.plan.config, False,
                               self.plan.seed, None)
            if not isinstance(reply, Failure):
                case.pid = slot.pid
        started = time.monotonic() - self._clock_zero
        reply = self._call(slot, worker.block, spec.id, warmup)
        if isinstance(reply, Failure):
            case.done = True
            self._finish(self._failed(spec, reply, case.prepared))
            return True
        case.add(reply, Round(len(reply.samples), self._passes, started, self._executions))
        self.on_event(Event("block", spec=spec, worker=slot.label, pid=slot.pid,
                            samples=len(case.samples), index=len(case.rounds)))
        if reply.stop is None:
            return False
        self._call(slot, worker.release, spec.id)
        if self._executions == self.plan.repeat - 1:
            case.done = True
            self._finish(self._measured(spec, case, reply.stop))
        return True

    def _failed(self, spec: CaseSpec, failure: Failure, prepared: Prepared | None = None
                ) -> Result:
        verify = failure.verify if failure.verify is not None else (
            prepared.verify if prepared else None)
        first = failure.first_call_s if failure.first_call_s is not None else (
            prepared.first_call_s if prepared else None)
        return measured.failed(spec, failure.status, failure.error, verify, first)

    def _measured(self, spec: CaseSpec, case: _Sampling, stop: str) -> Result:
        return measured.result(spec, case.measured(stop), self.environment)

    def _finish(self, result: Result) -> None:
        result = replace(result, run=self.run_id)
        self.results.append(result)
        self.on_result(result)
        self.on_event(Event("case_done", spec=result.spec, result=result,
                            index=len(self.results), total=self.plan.total))


def _rotated(items: list[Any], by: int) -> list[Any]:
    """`items` started at position `by` (mod its length): each pass starts elsewhere, so
    no backend or case always runs first (Google Benchmark's random interleaving, made
    deterministic)."""
    if not items:
        return items
    k = by % len(items)
    return items[k:] + items[:k]


def window_budgets(cases: Sequence[CaseSpec], available: float) -> dict[str, float]:
    """Each worker's budget for a window: a device worker WINDOW_BYTES, a host worker its
    share of HOST_SHARE of the `available` host memory (at least WINDOW_BYTES)."""
    labels = {spec.label: spec.device for spec in cases}
    host = [label for label, device in labels.items() if device == "cpu"]
    share = max(float(WINDOW_BYTES), HOST_SHARE * available / max(1, len(host)))
    return {label: share if device == "cpu" else float(WINDOW_BYTES)
            for label, device in labels.items()}


def _windows(rows: Sequence[Sequence[CaseSpec]], budgets: Mapping[str, float]
             ) -> list[list[Sequence[CaseSpec]]]:
    """Consecutive rows grouped so that each group's cases, all prepared at once on their
    workers, need at most each worker's budget in bytes (a row bigger than a budget is a
    window of its own). Rounds are spread over a window: the larger the windows, the
    longer the drift a case's interval sees."""
    windows: list[list[Sequence[CaseSpec]]] = []
    held: dict[str, float] = {}
    for row in rows:
        need: dict[str, float] = {}
        for spec in row:
            need[spec.label] = need.get(spec.label, 0.0) + _memory(spec)
        if windows and all(held.get(label, 0.0) + n <= budgets.get(label, WINDOW_BYTES)
                           for label, n in need.items()):
            windows[-1].append(row)
            for label, n in need.items():
                held[label] = held.get(label, 0.0) + n
        else:
            windows.append([row])
            held = dict(need)
    return windows


def _memory(spec: CaseSpec) -> float:
    return workloads.get(spec.workload).memory_bytes(spec.param_dict,
                                                      workloads.itemsize(spec.dtype))


def _rows(cases: Sequence[CaseSpec]) -> list[list[CaseSpec]]:
    """Cases grouped by row (workload, params, dtype), rows in order of first appearance."""
    rows: dict[str, list[CaseSpec]] = {}
    for spec in cases:
        rows.setdefault(spec.row_key, []).append(spec)
    return list(rows.values())
