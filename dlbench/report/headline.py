"""The headline: a few plain sentences that say what a speedup table shows.

Computed from a table (and the epoch extrapolations of its training steps), knowing
nothing of how it is shown: the terminal, Markdown, HTML and JSON views print the same
sentences. Every sentence names the rows and columns it is about, and says only what the
intervals support: a win is a speedup whose whole 95% interval lies above 1, a loss one
whose interval lies below 1; a column whose interval holds 1 is said to be no faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dlbench import stats
from dlbench.breakeven import BreakEven
from dlbench.i18n import _, ngettext
from dlbench.report.cells import Cell, Row, format_count, format_time
from dlbench.report.epoch import EpochEstimate, format_duration, training_data
from dlbench.report.rows import GeoMean, SpeedupTable

CPU = "cpu"
# Device names that are a GPU (torch's and JAX's spellings); any other non-CPU device is
# named as it is.
GPUS = {"cuda", "gpu", "rocm", "hip", "mps", "xpu"}
# How many losing rows a sentence lists by name before it counts the rest.
MAX_NAMED = 3


@dataclass(frozen=True)
class Measured:
    """One non-baseline cell with a speedup, and the row it is in."""

    row: Row
    column: str
    cell: Cell

    @property
    def speedup(self) -> tuple[float, float, float]:
        assert self.cell.speedup is not None
        return self.cell.speedup

    def name(self) -> str:
        return _("{row} on {column}").format(row=row_name(self.row), column=self.column)


def row_name(row: Row) -> str:
    return f"{row.workload} ({row.params}, {row.dtype})" if row.params else \
        f"{row.workload} ({row.dtype})"


def ratio(value: float) -> str:
    """A speedup as a person says it: 270×, 49×, 3.4×, 0.83×."""
    if value >= 100:
        return f"{value:.0f}×"
    if value >= 10:
        return f"{value:.1f}×".replace(".0×", "×")
    return f"{value:.2g}×" if value < 0.1 else f"{value:.2f}×"


def interval(lo: float, hi: float) -> str:
    return f"[{ratio(lo)[:-1]}, {ratio(hi)[:-1]}]"


def column_devices(table: SpeedupTable) -> dict[str, str]:
    """Each column's device, from the results in it."""
    out: dict[str, str] = {}
    for row in table.rows:
        for column, cell in row.cells.items():
            out.setdefault(column, cell.result.spec.device)
    return out


def sentences(table: SpeedupTable, epochs: Sequence[EpochEstimate] = ()) -> list[str]:
    """3–6 sentences on `table`: what was compared, the suite-wide speedup of the fastest
    column, its biggest and smallest win, where a column loses, and what a training step
    means for an epoch. Fewer when the numbers do not support more; none for a table
    without rows (a file of distributed results only: they have tables of their own)."""
    if not table.rows:
        return []
    devices = column_devices(table)
    others = [c for c in table.columns if c != table.baseline]
    out = [_compared(table, devices)]
    unchecked = _unverified(table)
    if unchecked:
        out.append(unchecked)
    if table.baseline is None:
        out.append(_("No speedups: the baseline column was not measured."))
        return out + compiled_payoffs(table)
    measured = [Measured(row, column, cell) for row in table.rows
                for column, cell in row.cells.items()
                if column != table.baseline and cell.speedup is not None]
    if not measured:
        out.append(_("No row has both {baseline} and another column measured, so there is "
                     "no speedup to report.").format(baseline=table.baseline))
        return out
    best = _best_column(table, measured, others)
    out.append(_overall(table, best, measured))
    out += _extremes(table, best, measured)
    loss = _losses(table, devices, measured)
    if loss:
        out.append(loss)
    out += compiled_payoffs(table)
    story = _epoch(table, best, epochs)
    if story:
        out.append(story)
    return out


def _compared(table: SpeedupTable, devices: dict[str, str]) -> str:
    workloads = list(dict.fromkeys(row.workload for row in table.rows))
    columns = ", ".join(c + (" " + _("(baseline)") if c == table.baseline else "")
                        for c in table.columns)
    what = _("Compared {columns} on {rows} row(s) of {count} workload(s) ({workloads}).").format(
        columns=columns, rows=len(table.rows), count=len(workloads),
        workloads=", ".join(workloads))
    gpus = sorted({d for d in devices.values() if d != CPU})
    if not gpus:
        what += " " + _("No GPU was measured: every column ran on the CPU.")
    else:
        what += " " + _("Devices: {devices}.").format(
            devices=", ".join(dict.fromkeys([CPU, *gpus])))
    return what


def _unverified(table: SpeedupTable) -> str | None:
    """The workloads whose results were never checked (they have no float64 reference)."""
    found = list(dict.fromkeys(
        row.workload for row in table.rows for cell in row.cells.values()
        if stats.QualityWarning.UNVERIFIED.value in cell.result.warnings))
    if not found:
        return None
    return (f"Not verified: {', '.join(found)} (no float64 reference: the outputs were "
            "never checked, and a wrong kernel would look as fast).")


def _best_column(table: SpeedupTable, measured: Sequence[Measured], others: Sequence[str]
                 ) -> str:
    """The column with the highest geometric-mean speedup (its only row's speedup where it
    has one row)."""
    def score(column: str) -> float:
        g = table.geomeans.get(column)
        if g is not None:
            return g.point
        points = [m.speedup[0] for m in measured if m.column == column]
        return points[0] if len(points) == 1 else 0.0
    with_speedups = [c for c in others if any(m.column == c for m in measured)]
    return max(with_speedups, key=score)


def _overall(table: SpeedupTable, best: str, measured: Sequence[Measured]) -> str:
    g: GeoMean | None = table.geomeans.get(best)
    if g is None:
        m = next(m for m in measured if m.column == best)
        point, lo, hi = m.speedup
        scope = _("on its one row, {row}").format(row=row_name(m.row))
    else:
        point, lo, hi = g.point, g.lo, g.hi
        scope = _("over {rows} rows (geometric mean)").format(rows=g.rows)
        missing = [row for row in table.rows if not (c := row.cells.get(best)) or not c.speedup]
        if missing and len(missing) <= MAX_NAMED:
            scope = ngettext(
                "over {rows} rows (geometric mean; without {names}, which lacks a speedup)",
                "over {rows} rows (geometric mean; without {names}, which lack a speedup)",
                len(missing)).format(rows=g.rows, names=", ".join(map(row_name, missing)))
        elif missing:
            scope = _("over {rows} rows (geometric mean; {missing} rows lack a speedup)"
                      ).format(rows=g.rows, missing=len(missing))
    if lo > 1.0:
        verdict = _("is {ratio} faster than {baseline}")
    elif hi < 1.0:
        verdict = _("is slower than {baseline}: {ratio}")
    else:
        verdict = _("is not measurably faster than {baseline} ({ratio})")
    return _("Fastest column: {best} {verdict} {scope}, 95% interval {interval}.").format(
        best=best, verdict=verdict.format(ratio=ratio(point), baseline=table.baseline),
        scope=scope, interval=interval(lo, hi))


def _extremes(table: SpeedupTable, best: str, measured: Sequence[Measured]) -> list[str]:
    wins = sorted((m for m in measured if m.cell.significant and m.speedup[1] > 1.0),
                  key=lambda m: m.speedup[0])
    if not wins:
        return [_("No column beats {baseline} on any row.").format(baseline=table.baseline)]
    top = wins[-1]
    out = [_("Biggest win: {name}, {ratio} ({times}).").format(
        name=top.name(), ratio=ratio(top.speedup[0]), times=_times(table, top))]
    own = [m for m in wins if m.column == best]
    if own and own[0] is not top:
        low = own[0]
        out.append(_("Smallest win of {column}: {row}, {ratio} ({times}){launch}.").format(
            column=best, row=row_name(low.row), ratio=ratio(low.speedup[0]),
            times=_times(table, low), launch=_launch(low)))
    return out


def _times(table: SpeedupTable, m: Measured) -> str:
    base = m.row.cells[table.baseline or ""].result.median or 0.0
    return _("{time} on {baseline} → {new_time}").format(
        time=format_time(base), baseline=table.baseline,
        new_time=format_time(m.cell.result.median or 0.0))


def _launch(m: Measured) -> str:
    """Said beside a GPU time that is the launch rate, not the kernel's."""
    return (_(", launch-bound") if stats.QualityWarning.LAUNCH_BOUND.value
            in m.cell.result.warnings else "")


def _losses(table: SpeedupTable, devices: dict[str, str], measured: Sequence[Measured]
            ) -> str | None:
    """Where a column is significantly slower than the baseline: the GPU's losses first
    (small sizes, launch-bound), else any column's."""
    losses = [m for m in measured if m.cell.significant and m.speedup[2] < 1.0]
    gpu = [m for m in losses if devices.get(m.column) != CPU]
    chosen = gpu or losses
    if not chosen:
        return None
    chosen.sort(key=lambda m: m.speedup[0])
    named = "; ".join(f"{m.name()} {ratio(m.speedup[0])}{_launch(m)}"
                      for m in chosen[:MAX_NAMED])
    more = (_("; and {count} more").format(count=len(chosen) - MAX_NAMED)
            if len(chosen) > MAX_NAMED else "")
    lost_on = sorted({devices.get(m.column, "") for m in gpu})
    who = (_("A column") if not gpu else _("The GPU") if set(lost_on) <= GPUS
           else _("A {devices} column").format(devices="/".join(lost_on)))
    return _("{who} loses to {baseline} on {count} cell(s): {named}{more}.").format(
        who=who, baseline=table.baseline, count=len(chosen), named=named, more=more)


def _epoch(table: SpeedupTable, best: str, epochs: Sequence[EpochEstimate]) -> str | None:
    """A training step of the fastest column beside the baseline's same step, as the
    wall time of one epoch of the largest dataset size (the step with the largest speedup
    when there are several)."""
    pairs = []
    for e in epochs:
        if e.column != best or not e.epochs:
            continue
        base = next((b for b in epochs if b.column == table.baseline and b.machine == e.machine
                     and (b.workload, b.params, b.dtype) == (e.workload, e.params, e.dtype)),
                    None)
        if base is not None:
            pairs.append((base.median_s / e.median_s, base, e))
    if not pairs:
        return None
    _speedup, base, e = max(pairs, key=lambda p: p[0])
    big, base_big = e.epochs[-1], base.epochs[-1]
    return _("One {workload} ({params}, {dtype}) takes {base_time} on {baseline} and {time} "
             "on {column}: one epoch of {dataset} would take about {base_epoch} against "
             "{epoch} (extrapolated, no data loading).").format(
        workload=e.workload, params=e.params, dtype=e.dtype,
        base_time=format_time(base.median_s), baseline=base.column,
        time=format_time(e.median_s), column=e.column, dataset=big.dataset,
        base_epoch=format_duration(base_big.seconds), epoch=format_duration(big.seconds))


def compiled_payoffs(table: SpeedupTable) -> list[str]:
    """One sentence per compiled column: on how many rows compiling pays off, soonest and
    latest after how many calls (steps, for a training step), and where it does not."""
    found: dict[str, list[tuple[Row, str, BreakEven]]] = {}
    for row in table.rows:
        for column, cell in row.cells.items():
            if cell.break_even is not None and cell.result.compiler is not None:
                frontend = str(cell.result.compiler.get("frontend", column))
                found.setdefault(column, []).append((row, frontend, cell.break_even))
    return [_payoff(column, cells) for column, cells in found.items()]


def _payoff(column: str, cells: list[tuple[Row, str, BreakEven]]) -> str:
    who = f"{cells[0][1]} ({column})"
    paying = sorted((c for c in cells if c[2].verdict == "pays"), key=lambda c: c[2].calls or 0)
    slower = [c for c in cells if c[2].verdict == "never"]
    unclear = len(cells) - len(paying) - len(slower)
    if not paying:
        text = _("{who} does not pay off on this machine").format(who=who)
    elif len(cells) == 1:
        text = _("{who} pays off on this machine: after {calls}").format(
            who=who, calls=_calls(paying[0]))
    elif len(paying) == 1:
        text = _("{who} pays off on 1 of {rows} rows on this machine: after {calls}").format(
            who=who, rows=len(cells), calls=_calls(paying[0]))
    else:
        text = _("{who} pays off on {paying} of {rows} rows on this machine: soonest after "
                 "{first}, latest after {last}").format(
            who=who, paying=len(paying), rows=len(cells), first=_calls(paying[0]),
            last=_calls(paying[-1]))
    clauses = []
    if slower:
        clauses.append(_("it is slower than eager on {rows}").format(rows=_named(slower)))
    if unclear:
        clauses.append(ngettext("it is not measurably faster on {n} row",
                                "it is not measurably faster on {n} rows", unclear
                                ).format(n=unclear))
    return text + "".join("; " + clause for clause in clauses) + "."


def _calls(item: tuple[Row, str, BreakEven]) -> str:
    row, _frontend, b = item
    hi = _("never") if b.hi is None else format_count(b.hi)
    what = (_("{n} steps of {row}") if training_data(row.workload) is not None
            else _("{n} calls of {row}")).format(n=format_count(b.calls or 0), row=row_name(row))
    return _("{what} [{lo}, {hi}] (compile {compile})").format(
        what=what, lo=format_count(b.lo or 0), hi=hi, compile=format_time(b.compile_s))


def _named(items: list[tuple[Row, str, BreakEven]]) -> str:
    named = ", ".join(f"{row_name(row)} {ratio(b.speedup[0])}" for row, _f, b in items[:MAX_NAMED])
    if len(items) > MAX_NAMED:
        named += _(" and {n} more").format(n=len(items) - MAX_NAMED)
    return named
