"""Series and their changes: one series per benchmark and machine, change points in each.

Runs are grouped by machine (`machine.Hardware`: host, CPU and GPU models; or, with
`ignore_host`, the CPU and GPU models alone, for CI runners that get a new host name for
every job). A change of setup (a library upgrade, another BLAS kernel or thread count)
stays inside a series, marked where it happens: it is among the causes a history is read
to find. In each series the change points of the
log medians are found by `detect` (E-Divisive means and a t-test); each change's size is
the ratio of the medians of the runs after and before it (up to the neighbouring change
points), with a bootstrap interval, and it is a regression when that ratio is above
1 + threshold, an improvement below 1 / (1 + threshold), else a small change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dlbench import stats
from dlbench.errors import UsageError
from dlbench.history import detect
from dlbench.history.runs import Run

# The same default as `compare`: smaller changes are listed, never failed on.
DEFAULT_THRESHOLD = 0.05
CONFIDENCE = 0.95


class Kind(StrEnum):
    SLOWER = "slower"
    FASTER = "faster"
    SMALL = "small"


@dataclass(frozen=True)
class Settings:
    """How change points are told: the threshold of a regression, the significance level,
    the fewest runs on each side, and the test ("t" or "u", detect.TESTS)."""

    threshold: float = DEFAULT_THRESHOLD
    alpha: float = detect.DEFAULT_MAX_P
    min_runs: int = detect.DEFAULT_MIN_SIZE
    test: str = "t"

    def check(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise UsageError(f"--alpha must be between 0 and 1, got {self.alpha}")
        if self.min_runs < 1:
            raise UsageError(f"--min-runs must be at least 1, got {self.min_runs}")
        if self.test not in detect.TESTS:
            raise UsageError(f"--test must be one of {', '.join(detect.TESTS)}, got "
                             f"{self.test!r}")


@dataclass(frozen=True)
class Machine:
    key: tuple[str, ...]
    line: str  # 'host h · CPU c · GPUs g', or without the host when hosts are ignored
    runs: tuple[Run, ...]  # this machine's runs, in the history's order


@dataclass(frozen=True)
class Change:
    benchmark: str
    machine: str
    at: int  # the position of the first run of the new level among its machine's runs
    run: Run  # that run
    before: Run  # the last run of the old level
    ratio: float  # median after / median before: above 1 is slower
    lo: float
    hi: float
    p: float
    kind: Kind

    @property
    def regression(self) -> bool:
        return self.kind is Kind.SLOWER


@dataclass(frozen=True)
class Series:
    benchmark: str
    machine: Machine
    positions: tuple[int, ...]  # where each value's run stands among the machine's runs
    values: tuple[float, ...]  # median seconds
    changes: tuple[Change, ...] = ()
    note: str = ""  # why no change can be told, when so


@dataclass(frozen=True)
class SetupChange:
    """What differs in the setup (runs.setup) of two consecutive runs of one machine."""

    at: int  # position of the first run with the new setup
    text: str  # 'torch 2.12.0 → 2.13.0, openblas kernel SkylakeX → Haswell'


@dataclass(frozen=True)
class History:
    runs: tuple[Run, ...]
    machines: tuple[Machine, ...]
    series: tuple[Series, ...]
    setups: dict[tuple[str, ...], tuple[SetupChange, ...]]  # by machine key
    settings: Settings
    order: str
    notes: tuple[str, ...] = field(default=())

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    @property
    def alpha(self) -> float:
        return self.settings.alpha

    @property
    def min_runs(self) -> int:
        return self.settings.min_runs

    @property
    def changes(self) -> list[Change]:
        """Every change, newest first."""
        index = {id(r): i for i, r in enumerate(self.runs)}
        found = [c for s in self.series for c in s.changes]
        return sorted(found, key=lambda c: (-index[id(c.run)], c.benchmark))

    @property
    def newest(self) -> list[Change]:
        """The changes that begin at the newest run where any change begins."""
        changes = self.changes
        return [c for c in changes if c.run is changes[0].run] if changes else []

    @property
    def failed(self) -> bool:
        """Whether the newest change point is a regression (any benchmark's, at that run)."""
        return any(c.regression for c in self.newest)


def machine_key(run: Run, ignore_host: bool) -> tuple[tuple[str, ...], str]:
    hw = run.hardware
    if ignore_host:
        facts = tuple((what, value) for what, value in hw.facts if what != "host")
    else:
        facts = hw.facts
    return tuple(v for _, v in facts), " · ".join(f"{what} {value}" for what, value in facts)


def group(runs: Sequence[Run], ignore_host: bool) -> list[Machine]:
    """The machines of `runs`, each with its runs in order, in order of their first run."""
    grouped: dict[tuple[str, ...], tuple[str, list[Run]]] = {}
    for run in runs:
        key, line = machine_key(run, ignore_host)
        grouped.setdefault(key, (line, []))[1].append(run)
    return [Machine(key, line, tuple(rs)) for key, (line, rs) in grouped.items()]


def setup_changes(machine: Machine) -> tuple[SetupChange, ...]:
    """Where the machine's setup changed between consecutive runs."""
    out = []
    for i in range(1, len(machine.runs)):
        old, new = machine.runs[i - 1].setup, machine.runs[i].setup
        moved = [f"{k} {old.get(k, '(unset)')} → {new.get(k, '(unset)')}"
                 for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        if moved:
            out.append(SetupChange(i, ", ".join(moved)))
    return tuple(out)


def changes(benchmark: str, machine: Machine, positions: Sequence[int],
            values: Sequence[float], settings: Settings) -> list[Change]:
    """The change points of one series with their sizes."""
    threshold = settings.threshold
    points = detect.detect([math.log(v) for v in values], settings.alpha, settings.min_runs,
                           detect.TESTS[settings.test])
    bounds = [0, *(c.index for c in points), len(values)]
    out = []
    for i, point in enumerate(points):
        before = values[bounds[i]:point.index]
        after = values[point.index:bounds[i + 2]]
        ratio, lo, hi = stats.ratio_ci(after, before, CONFIDENCE)
        kind = Kind.SLOWER if ratio > 1.0 + threshold else \
            Kind.FASTER if ratio < 1.0 / (1.0 + threshold) else Kind.SMALL
        out.append(Change(benchmark, machine.line, positions[point.index],
                          machine.runs[positions[point.index]],
                          machine.runs[positions[point.index - 1]], ratio, lo, hi, point.p,
                          kind))
    return out


def build(runs: Sequence[Run], settings: Settings | None = None, ignore_host: bool = False,
          order: str = "time", notes: Sequence[str] = (),
          progress: Callable[[int, int], None] | None = None) -> History:
    """The history of `runs` (already in order). Refused: fewer than two runs, and runs
    that share no machine (each machine measured once: no series to follow)."""
    settings = settings or Settings()
    settings.check()
    if len(runs) < 2:
        raise UsageError(f"a history needs at least 2 result files, got {len(runs)}"
                         + (f" ({runs[0].path})" if runs else ""))
    machines = group(runs, ignore_host)
    if all(len(m.runs) < 2 for m in machines):
        raise UsageError(
            f"the {len(runs)} result files come from {len(machines)} different machines: a "
            "history follows runs on one machine"
            + ("" if ignore_host else "; --ignore-host groups runs by CPU and GPU model "
               "(CI runners with a new host name for every job)"))
    series = []
    todo = [(m, b) for m in machines for b in dict.fromkeys(
        ident for run in m.runs for ident in run.medians)]
    for done, (m, benchmark) in enumerate(todo, 1):
        series.append(_series(m, benchmark, settings))
        if progress is not None:
            progress(done, len(todo))
    return History(tuple(runs), tuple(machines), tuple(series),
                   {m.key: setup_changes(m) for m in machines}, settings, order,
                   tuple(notes) + tuple(_notes(machines)))


def _series(m: Machine, benchmark: str, settings: Settings) -> Series:
    positions = tuple(i for i, run in enumerate(m.runs) if benchmark in run.medians)
    values = tuple(m.runs[i].medians[benchmark] for i in positions)
    if len(values) < 2 * settings.min_runs:
        return Series(benchmark, m, positions, values, note=f"{len(values)} run(s): a change "
                      f"needs {settings.min_runs} on each side")
    return Series(benchmark, m, positions, values,
                  tuple(changes(benchmark, m, positions, values, settings)))


def _notes(machines: Sequence[Machine]) -> list[str]:
    alone = [m for m in machines if len(m.runs) < 2]
    return [f"{len(alone)} machine(s) with a single run have no trend: "
            + "; ".join(m.line for m in alone[:3]) + (" …" if len(alone) > 3 else "")
            ] if alone else []
