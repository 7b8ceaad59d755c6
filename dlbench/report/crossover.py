"""Crossover sizes: in each sweep, the smallest size from which a column beats the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dlbench.i18n import _
from dlbench.report.cells import Row, format_speedup
from dlbench.report.sweeps import find_sweeps


@dataclass(frozen=True)
class Crossover:
    sweep: str  # the sweep's title, e.g. "matmul float32"
    column: str
    baseline: str
    size: str | None  # the crossover size's label; None when it never beats the baseline
    speedup: tuple[float, float, float] | None  # at that size
    smallest: str  # the sweep's measured range
    largest: str
    at_smallest: bool  # it already wins at the smallest size measured
    holds: bool  # and keeps winning at every larger size measured

    def text(self) -> str:
        if self.size is None or self.speedup is None:
            return _("{sweep}: {column} does not beat {baseline} at any size measured "
                     "({smallest} … {largest})").format(
                sweep=self.sweep, column=self.column, baseline=self.baseline,
                smallest=self.smallest, largest=self.largest)
        text = _("{sweep}: {column} beats {baseline} from {size} ({speedup})").format(
            sweep=self.sweep, column=self.column, baseline=self.baseline, size=self.size,
            speedup=format_speedup(self.speedup))
        if self.at_smallest:
            text += _(", already at the smallest size measured")
        if not self.holds:
            text += _(", but not at every larger size")
        return text


def find_crossovers(baseline: str | None, columns: Sequence[str], rows: Sequence[Row]
                    ) -> tuple[Crossover, ...]:
    """The crossovers of a table's columns against its baseline (None: no speedups, so no
    crossovers). A win is a speedup whose whole interval lies above 1. Sweeps with fewer
    than two sizes with speedups for a column have no crossover to speak of."""
    if baseline is None:
        return ()
    found = []
    for sweep in find_sweeps(rows):
        for column in columns:
            if column == baseline:
                continue
            measured = [(p.label, cell.speedup) for p in sweep.points
                        if (cell := p.row.cells.get(column)) is not None and cell.speedup]
            if len(measured) < 2:
                continue
            wins = [speedup[1] > 1.0 for _, speedup in measured]
            first = wins.index(True) if True in wins else None
            found.append(Crossover(
                sweep=sweep.title, column=column, baseline=baseline,
                size=measured[first][0] if first is not None else None,
                speedup=measured[first][1] if first is not None else None,
                smallest=measured[0][0], largest=measured[-1][0],
                at_smallest=first == 0, holds=first is not None and all(wins[first:])))
    return tuple(found)
