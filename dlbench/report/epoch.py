"""What a measured training step means: the time one epoch of a dataset size would take.

An extrapolation, and labelled as one: it multiplies a measured median step time by the
number of steps an epoch needs. It ignores data loading, evaluation and everything else a
real training loop does, and the model is dlbench's small workload, not the model a
dataset of that size is usually trained with. Without a measured training step there is
nothing to extrapolate from, and nothing is said.

Each training step counts its data in its own unit, the one its datasets are measured in,
and says so itself (`Workload.training`): an image model's step `batch` samples, a
language model's batch·seq tokens, a speech model's seconds of audio. A workload that is
no training step, or one this dlbench does not know, gets no extrapolation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlbench import workloads
from dlbench.report.cells import format_params, format_time
from dlbench.results import Result
from dlbench.workloads.base import IMAGES, SAMPLES, TrainingData

FORMULA = ("samples/s = batch / median step time; epoch time ≈ ⌈N / batch⌉ × median step time "
           "(interval: the same with the ends of the median's 95% interval)")
CAVEAT = ("an extrapolation from one measured training step of dlbench's small model: no data "
          "loading, no evaluation, not the real model usually trained on a dataset of that size")


@dataclass(frozen=True)
class Epoch:
    dataset: str
    samples: int
    steps: int
    seconds: float
    lo: float
    hi: float


@dataclass(frozen=True)
class EpochEstimate:
    machine: str
    column: str
    workload: str
    params: str
    dtype: str
    batch: int
    median_s: float
    ci95: tuple[float, float]
    epochs: tuple[Epoch, ...]

    @property
    def samples_per_s(self) -> float:
        return self.batch / self.median_s

    @property
    def rate_unit(self) -> str:
        return "samples"

    @property
    def rate(self) -> float:
        """Units of data (rate_unit) trained on per second."""
        return self.samples_per_s


@dataclass(frozen=True)
class UnitEpochEstimate(EpochEstimate):
    """An estimate whose data is counted in a unit other than samples (tokens, seconds of
    audio): `per_step` units per step, each epoch's `samples` in that unit. samples/s
    stays batch / step time (sequences/s)."""

    unit: str
    per_step: float

    @property
    def rate_unit(self) -> str:
        return self.unit

    @property
    def rate(self) -> float:
        return self.per_step / self.median_s


def _epochs(datasets: Sequence[tuple[str, int]], per_step: float, median: float,
            ci: Sequence[float]) -> tuple[Epoch, ...]:
    out = []
    for dataset, n in datasets:
        # round() first: 16·25·0.01 audio-seconds is 3.9999999999999996 in binary
        steps = math.ceil(round(n / per_step, 9))
        out.append(Epoch(dataset, n, steps, steps * median, steps * ci[0], steps * ci[1]))
    return tuple(out)


def _units_per_step(training: TrainingData, p: Mapping[str, Any]) -> float | None:
    """Units one step trains on; None where a (hand-made or older) file lacks a parameter
    the unit needs: the estimate then counts samples, as for any training step."""
    try:
        per_step = float(training.per_step(p))
    except (KeyError, TypeError):
        return None
    return per_step if math.isfinite(per_step) and per_step > 0 else None


def estimates(labelled: Sequence[tuple[str, Result]]) -> tuple[EpochEstimate, ...]:
    """One estimate per measured (status ok) training-step result with a batch size;
    `labelled` pairs each result with its machine's label."""
    out: list[EpochEstimate] = []
    for machine, r in labelled:
        p = r.spec.param_dict
        batch = p.get("batch")
        median = r.median
        training = training_data(r.spec.workload)
        if (training is None or r.status != "ok" or not isinstance(batch, int)
                or batch < 1 or not median or median <= 0):
            continue
        ci = (r.stats or {}).get("ci95") or [median, median]
        common = (machine, r.column, r.spec.workload, format_params(r.spec.params),
                  r.spec.dtype, batch, median, (float(ci[0]), float(ci[1])))
        per_step = _units_per_step(training, p)
        if training.unit == SAMPLES or per_step is None:
            datasets = training.datasets if training.unit == SAMPLES else IMAGES.datasets
            out.append(EpochEstimate(*common, _epochs(datasets, batch, median, ci)))
            continue
        out.append(UnitEpochEstimate(*common, _epochs(training.datasets, per_step, median, ci),
                                     training.unit, per_step))
    return tuple(out)


def training_data(workload: str) -> TrainingData | None:
    """What one step of `workload` trains on; None for a workload that is no training
    step, or that this dlbench does not know (a newer file's, a plugin's not installed)."""
    cls = workloads.find(workload)
    return cls.training if cls is not None else None


def by_unit(found: Sequence[EpochEstimate]) -> list[list[EpochEstimate]]:
    """The estimates grouped by the unit their data is counted in (and its datasets), in
    order of first appearance: a table's rate column and epoch columns hold one unit."""
    groups: dict[tuple[str, tuple[str, ...]], list[EpochEstimate]] = {}
    for e in found:
        groups.setdefault((e.rate_unit, tuple(ep.dataset for ep in e.epochs)), []).append(e)
    return list(groups.values())


def format_duration(seconds: float) -> str:
    """Seconds to the unit a person would say: '42 s', '3.5 min', '2.1 h', '4.2 days'."""
    for unit, scale in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * scale:
            return f"{seconds / scale:.3g} {unit}"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms"


def lines(e: EpochEstimate) -> list[str]:
    """The estimate in words, with its inputs, for the text views."""
    units = isinstance(e, UnitEpochEstimate)
    head = (f"{e.machine}: {e.column} {e.workload} {e.params} {e.dtype}: median step "
            f"{format_time(e.median_s)} [{format_time(e.ci95[0])}, {format_time(e.ci95[1])}] "
            f"→ {e.samples_per_s:,.0f} {'sequences' if units else 'samples'}/s")
    per_step = f"{e.batch}"
    if isinstance(e, UnitEpochEstimate):
        head += f" = {e.rate:,.0f} {e.unit}/s ({e.per_step:,.4g} {e.unit} per step)"
        per_step = f"{e.per_step:,.4g} {e.unit}"
    return [head] + [
        f"  {ep.dataset}: ⌈{ep.samples:,} / {per_step}⌉ = {ep.steps:,} steps × "
        f"{format_time(e.median_s)} ≈ {format_duration(ep.seconds)} "
        f"[{format_duration(ep.lo)}, {format_duration(ep.hi)}]" for ep in e.epochs]
