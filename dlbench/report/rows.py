"""The speedup table as data: rows = workload/params/dtype, columns = backend-device(-impl).

Every format (terminal, Markdown, CSV) is a view of this one computation.
Speedups are baseline median / column median, with a bootstrap interval from the raw
samples (stats.ratio_ci); a speedup whose interval contains 1 is not significant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dlbench import stats
from dlbench.results import Result

DEFAULT_BASELINE = "numpy-cpu"


@dataclass(frozen=True)
class Cell:
    result: Result
    speedup: tuple[float, float, float] | None = None  # (point, lo, hi)

    @property
    def significant(self) -> bool:
        return self.speedup is not None and not (self.speedup[1] <= 1.0 <= self.speedup[2])


@dataclass(frozen=True)
class Row:
    workload: str
    params: str
    dtype: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeedupTable:
    baseline: str | None
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    warnings: tuple[str, ...]  # every quality-warning code that appears


def speedup_table(results: Sequence[Result], baseline: str | None = DEFAULT_BASELINE
                  ) -> SpeedupTable:
    columns: list[str] = []
    rows: dict[str, Row] = {}
    codes: list[str] = []
    for r in results:
        column = r.spec.column
        if column not in columns:
            columns.append(column)
        params = compact_params(r.spec.params)
        row = rows.setdefault(r.spec.row_key, Row(r.spec.workload, params, r.spec.dtype))
        row.cells[column] = Cell(r)
        codes += [c for c in r.warnings if c not in codes]
    if baseline not in columns:
        baseline = None
    else:
        columns.remove(baseline)
        columns.insert(0, baseline)
        for row in rows.values():
            base = row.cells.get(baseline)
            if base is None or base.result.status != "ok":
                continue
            for column, cell in row.cells.items():
                if cell.result.status == "ok" and cell.result.samples_s:
                    row.cells[column] = Cell(cell.result, stats.ratio_ci(
                        base.result.samples_s, cell.result.samples_s))
    return SpeedupTable(baseline, tuple(columns), tuple(rows.values()), tuple(codes))


def compact_params(params: Sequence[tuple[str, object]]) -> str:
    """'m=n=k=1024' rather than 'm=1024,n=1024,k=1024': equal values share one '='."""
    by_value: dict[object, list[str]] = {}
    for key, value in params:
        by_value.setdefault(value, []).append(key)
    return ",".join("=".join(keys) + f"={value}" for value, keys in by_value.items())


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_flops(flops_per_s: float) -> str:
    for unit, scale in (("TFLOP/s", 1e12), ("GFLOP/s", 1e9), ("MFLOP/s", 1e6)):
        if flops_per_s >= scale:
            return f"{flops_per_s / scale:.3g} {unit}"
    return f"{flops_per_s:.3g} FLOP/s"


def format_speedup(speedup: tuple[float, float, float]) -> str:
    point, lo, hi = speedup
    return f"{point:.2f}× [{lo:.2f}, {hi:.2f}]"


def cell_lines(cell: Cell | None, baseline: str | None, column: str) -> list[str]:
    """The text of one cell, line by line; shared by the terminal and Markdown views."""
    if cell is None:
        return ["—"]
    r = cell.result
    if r.status == "wrong":
        err = r.verify or {}
        return ["✗ wrong", f"err {err.get('max_rel_err', float('nan')):.2g} > tol "
                           f"{err.get('tol', float('nan')):.2g}"]
    if r.status != "ok":
        return [f"{r.status}: {r.error or 'no reason recorded'}"]
    lines = [format_time(r.median) + (" ⚠" if r.warnings else "")]
    rate = []
    if r.gflops is not None:
        rate.append(format_flops(r.gflops * 1e9))
    if r.fraction_of_peak is not None:
        rate.append(f"{100 * r.fraction_of_peak:.0f}% of peak")
    if rate:
        lines.append(" · ".join(rate))
    if cell.speedup is not None and column != baseline:
        mark = "" if cell.significant else " (n.s.)"
        lines.append(format_speedup(cell.speedup) + mark)
    return lines
