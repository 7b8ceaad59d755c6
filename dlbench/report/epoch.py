"""What a measured training step means: the time one epoch of a dataset size would take.

An extrapolation, and labelled as one: it multiplies a measured median step time by the
number of steps an epoch needs. It ignores data loading, evaluation and everything else a
real training loop does, and the model is dlbench's small workload, not the model a
dataset of that size is usually trained with. Without a measured training step there is
nothing to extrapolate from, and nothing is said.

Each field counts its data in its own unit, the one its datasets are measured in:
- image (mlp, cnn steps): samples; a step trains on `batch` of them.
- language (transformer_train_step): tokens, batch·seq per step. A text corpus is a
  number of tokens, cut into sequences of whatever length a model uses, so tokens/s is
  what carries over from dlbench's sequence length to a real one.
- speech (lstm_train_step): seconds of audio, batch·timesteps frames per step with one
  frame per FRAME_SECONDS. Speech corpora are measured in hours; dlbench's sequences
  (25 frames = 0.25 s by default) are far shorter than real utterances (LibriSpeech's
  average about 12 s), so "sequences/s" would not carry over, audio-seconds/s does (the
  inverse of a real-time factor).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlbench.report.cells import format_params, format_time
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
# One LSTM timestep is one frame of speech features: the usual 10 ms hop (DeepSpeech 2's
# spectrograms, Kaldi's filterbanks).
FRAME_SECONDS = 0.01


@dataclass(frozen=True)
class Field:
    """How a field's training step counts its data: the unit, how many units one step
    trains on, and dataset sizes in that unit."""

    unit: str
    per_step: Callable[[Mapping[str, Any]], float]
    datasets: tuple[tuple[str, int], ...]


FIELDS = {
    "lstm_train_step": Field(
        "audio-seconds", lambda p: p["batch"] * p["timesteps"] * FRAME_SECONDS,
        (("100 h of audio (LibriSpeech-clean-100-sized)", 100 * 3600),
         ("960 h of audio (LibriSpeech-sized)", 960 * 3600))),
    "transformer_train_step": Field(
        "tokens", lambda p: p["batch"] * p["seq"],
        (("103M tokens (WikiText-103-sized)", 103_227_021),
         ("9B tokens (OpenWebText-sized)", 9_000_000_000))),
}


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


def _units_per_step(field: Field | None, p: Mapping[str, Any]) -> float | None:
    """Units one step trains on; None where a (hand-made or older) file lacks a parameter
    the unit needs: the estimate then counts samples, as for any training step."""
    if field is None:
        return None
    try:
        per_step = float(field.per_step(p))
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
        if (not r.spec.workload.endswith(SUFFIX) or r.status != "ok" or not isinstance(batch, int)
                or batch < 1 or not median or median <= 0):
            continue
        ci = (r.stats or {}).get("ci95") or [median, median]
        common = (machine, r.column, r.spec.workload, format_params(r.spec.params),
                  r.spec.dtype, batch, median, (float(ci[0]), float(ci[1])))
        field = FIELDS.get(r.spec.workload)
        per_step = _units_per_step(field, p)
        if field is None or per_step is None:
            out.append(EpochEstimate(*common, _epochs(DATASET_SIZES, batch, median, ci)))
            continue
        out.append(UnitEpochEstimate(*common, _epochs(field.datasets, per_step, median, ci),
                                     field.unit, per_step))
    return tuple(out)


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
