"""What a measured training step means: the time one epoch of a dataset size would take.

An extrapolation, and labelled as one: it multiplies a measured median step time by the
number of steps an epoch needs. It ignores data loading, evaluation and everything else a
real training loop does, and the model is dlbench's small workload, not the model a
dataset of that size is usually trained with. Without a measured training step there is
nothing to extrapolate from, and nothing is said.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dlbench.report.cells import compact_params, format_time
from dlbench.results import Result

SUFFIX = "_train_step"
# Dataset *sizes*; the names only say which well-known dataset has that many samples.
DATASET_SIZES = (
    ("60,000 samples (MNIST-sized)", 60_000),
    ("1.28M samples (ImageNet-1k-sized)", 1_281_167),
)
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


def estimates(labelled: Sequence[tuple[str, Result]]) -> tuple[EpochEstimate, ...]:
    """One estimate per measured (status ok) training-step result with a batch size;
    `labelled` pairs each result with its machine's label."""
    out = []
    for machine, r in labelled:
        batch = r.spec.param_dict.get("batch")
        median = r.median
        if (not r.spec.workload.endswith(SUFFIX) or r.status != "ok" or not isinstance(batch, int)
                or batch < 1 or not median or median <= 0):
            continue
        ci = (r.stats or {}).get("ci95") or [median, median]
        epochs = []
        for dataset, n in DATASET_SIZES:
            steps = math.ceil(n / batch)
            epochs.append(Epoch(dataset, n, steps, steps * median, steps * ci[0], steps * ci[1]))
        out.append(EpochEstimate(machine, r.spec.column, r.spec.workload,
                                 compact_params(r.spec.params), r.spec.dtype, batch, median,
                                 (float(ci[0]), float(ci[1])), tuple(epochs)))
    return tuple(out)


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
    head = (f"{e.machine}: {e.column} {e.workload} {e.params} {e.dtype}: median step "
            f"{format_time(e.median_s)} [{format_time(e.ci95[0])}, {format_time(e.ci95[1])}] "
            f"→ {e.samples_per_s:,.0f} samples/s")
    return [head] + [
        f"  {ep.dataset}: ⌈{ep.samples:,} / {e.batch}⌉ = {ep.steps:,} steps × "
        f"{format_time(e.median_s)} ≈ {format_duration(ep.seconds)} "
        f"[{format_duration(ep.lo)}, {format_duration(ep.hi)}]" for ep in e.epochs]
