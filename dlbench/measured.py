"""One measured value, and the one builder that turns it into a Result.

As pyperf's worker returns the very run it stores, every path that measures a case —
a worker of the runner, the ranks of a distributed run — reports a `Measured`: the
samples and what the worker saw alongside them. `result` derives the rest once, the
same way for every path: the summary, the cost model's FLOPs and bytes, the rates, the
fraction of the hardware's peak where the environment knows it, and the quality
warnings. A case that produced no samples becomes a Result through `failed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dlbench import environment, intervals, measure, stats, workloads
from dlbench.results import CaseSpec, Numerics, Result, Round

# The warning of a workload that has no float64 reference: its outputs were not checked.
UNVERIFIED = stats.QualityWarning.UNVERIFIED.value


@dataclass(frozen=True)
class Measured:
    """What sampling one case observed: the samples (seconds per call), how many calls a
    sample holds, why sampling stopped, the timer, the first call's latency, and what the
    worker saw beside them (its verification, the math in force, event-timed samples'
    host and enqueue times, the device memory high-water mark, the kernel's own notes,
    and for a case across ranks its figures there)."""

    samples_s: tuple[float, ...]
    # How samples_s splits into rounds, in order (dlbench.results.Round).
    rounds: tuple[Round, ...] = ()
    # Event-timed samples' paired host and enqueue times (empty where host-timed).
    host_samples_s: tuple[float, ...] = ()
    enqueue_samples_s: tuple[float, ...] = ()
    inner_loops: int = 1
    stop: str = ""
    timer: str = "host"
    first_call_s: float | None = None
    peak_device_bytes: int | None = None
    verify: Mapping[str, Any] | None = None
    numerics: Numerics | None = None
    kernel_extra: Mapping[str, Any] = field(default_factory=dict)
    distributed: Mapping[str, Any] | None = None


def cost(spec: CaseSpec) -> tuple[float, float]:
    """(FLOPs, bytes) of one call of the case, from its workload's cost model."""
    wl = workloads.get(spec.workload)
    p = spec.param_dict
    return wl.case_flops(spec.impl, p), wl.bytes(p, workloads.itemsize(spec.dtype))


def result(spec: CaseSpec, m: Measured, environment_record: Mapping[str, Any] | None = None
           ) -> Result:
    """The Result of a measured case; `environment_record` gives the peaks a fraction of
    peak is computed against (None: not computed)."""
    sizes = [r.n for r in m.rounds] or [len(m.samples_s)]
    summary = intervals.summary(m.samples_s, sizes, [r.execution for r in m.rounds] or None)
    flops, nbytes = cost(spec)
    median = summary["median"]
    r = Result(
        spec=spec, status="ok", samples_s=tuple(m.samples_s), inner_loops=m.inner_loops,
        stats=summary, timer=m.timer, flops=flops, bytes=nbytes,
        gflops=flops / median / 1e9 if median > 0 else None,
        gbytes_per_s=nbytes / median / 1e9 if median > 0 else None,
        verify=m.verify, first_call_s=m.first_call_s, stop=m.stop, numerics=m.numerics,
        host_samples_s=tuple(m.host_samples_s), enqueue_samples_s=tuple(m.enqueue_samples_s),
        peak_device_bytes=m.peak_device_bytes, kernel_extra=dict(m.kernel_extra),
        distributed=m.distributed, rounds=tuple(m.rounds))
    fraction = (fraction_of_peak(r, environment_record)
                if environment_record is not None else None)
    warnings = measure.quality_warnings(
        m.samples_s, sizes, measure.launch_bound(m.enqueue_samples_s, m.samples_s))
    if fraction is not None and fraction > 1:
        warnings.append(stats.QualityWarning.ABOVE_PEAK.value)
    if not workloads.get(spec.workload).verified:
        warnings.append(UNVERIFIED)
    if (r.compiler or {}).get("recompiles_while_sampling"):  # compile time in the samples
        warnings.append(stats.QualityWarning.RECOMPILED.value)
    return replace(r, fraction_of_peak=fraction, warnings=tuple(warnings))


def pool_executions(results: Sequence[Result]) -> list[Result]:
    """The results of a run of two executions or more (--repeat), each median's interval
    taken again with the between-execution component pooled over the cases of its worker
    (intervals.between_executions): a case's own two or three executions say little of
    how much a fresh process moves it, its worker's cases together say it well. Results
    of one execution, and failed ones, stay as they are."""
    def repeated(r: Result) -> bool:
        return r.status == "ok" and len(set(r.round_executions().values())) >= 2

    pooled: dict[str, list[Result]] = {}
    for r in filter(repeated, results):
        pooled.setdefault(r.spec.label, []).append(r)
    between = {label: intervals.between_executions(
        (list(r.round_medians().values()), list(r.round_executions().values())) for r in rs)
        for label, rs in pooled.items()}
    out = []
    for r in results:
        component = between.get(r.spec.label)
        if component is not None and repeated(r):
            summary = intervals.summary(r.samples_s, r.round_sizes,
                                        [round_.execution for round_ in r.rounds], component)
            r = replace(r, stats={**r.stats, **summary} if r.stats else summary)
        out.append(r)
    return out


def failed(spec: CaseSpec, status: str, error: str, verify: Mapping[str, Any] | None = None,
           first_call_s: float | None = None) -> Result:
    """The Result of a case that has no samples: why, and what was known before."""
    flops, nbytes = cost(spec)
    return Result(spec=spec, status=status, error=error, verify=verify,
                  first_call_s=first_call_s, flops=flops, bytes=nbytes)


def fraction_of_peak(r: Result, environment_record: Mapping[str, Any]) -> float | None:
    """Achieved over theoretical: bandwidth for memory-bound work, FLOP/s otherwise."""
    spec = r.spec
    record = dict(environment_record)
    if r.memory_bound:
        peak = environment.peak_bandwidth_for(record, spec.device)
        rate = r.gbytes_per_s
    else:
        math = r.numerics.float32_math if r.numerics is not None else None
        peak = environment.peak_for(record, spec.device, spec.dtype, math=math)
        rate = r.gflops
    return rate * 1e9 / peak if (rate and peak) else None
