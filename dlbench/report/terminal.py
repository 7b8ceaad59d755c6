"""The speedup table as a rich renderable (printed by cli/console.py only).

Made to fit the terminal it is printed on (80 columns in a CI log): a cell holds the
median time and the speedup, two lines at most; GFLOP/s, % of peak and the speedup's
interval are in the wide view (`--wide`) and in every file format. Rows are grouped by
sweep: the workload, dtype and fixed parameters are written once above the group, and
each row is labelled by its size alone. Columns that do not fit side by side go on to a
second block, each block repeating the baseline, so every speedup stands beside it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from dlbench import stats
from dlbench.i18n import N_, _
from dlbench.report import epoch, headline
from dlbench.report.cells import Cell, format_time
from dlbench.report.machines import summary
from dlbench.report.model import Report
from dlbench.report.rows import (
    SpeedupTable,
    cell_lines,
    format_geomean,
    speedup_table,
    table_notes,
)
from dlbench.report.sweeps import find_sweeps
from dlbench.results import Result

STYLE = {"ok": "", "wrong": "bold red", "error": "red", "oom": "red", "skipped": "dim"}
FAILED_MARK = {"wrong": N_("✗ wrong"), "error": N_("✗ error"), "oom": N_("✗ oom"),
               "skipped": N_("skipped")}
# Each column's cell padding: one space either side (rich's default).
PADDING = 2
LABEL = N_("size")
GEOMEAN = N_("geometric mean")


def _speedup_short(cell: Cell) -> str:
    assert cell.speedup is not None
    return headline.ratio(cell.speedup[0]) + ("" if cell.significant else " n.s.")


def short_lines(cell: Cell | None, baseline: str | None, column: str) -> list[str]:
    """A cell in two lines at most: the median time (⚠ when a quality warning was
    raised) and the speedup; a failure in one word, its reason listed under the table."""
    if cell is None:
        return ["—"]
    r = cell.result
    if r.status != "ok":
        return [_(FAILED_MARK[r.status]) if r.status in FAILED_MARK else r.status]
    lines = [format_time(r.median or 0.0) + (" ⚠" if r.warnings else "")]
    if cell.speedup is not None and column != baseline:
        lines.append(_speedup_short(cell))
    return lines


def _style(cell: Cell | None, baseline: str | None, column: str) -> str:
    if cell is None:
        return "dim"
    if cell.speedup and not cell.significant and column != baseline:
        return "dim"
    return STYLE.get(cell.result.status, "")


def _header(column: str, result: Result | None, baseline: str | None) -> str:
    """A column's label over lines short enough for a narrow column: the machine (in a
    table of several), the backend-device, the implementation, '(baseline)'."""
    lines = []
    head, sep, rest = column.rpartition(": ")
    if sep:
        lines.append(head + ":")
    if result is not None and rest.endswith(result.column):
        lines.append(result.spec.label)
        impl = rest.removeprefix(result.spec.label).removeprefix("-")
        if impl:
            lines.append(impl)
    else:
        lines.append(rest)
    if column == baseline:
        lines.append(_("(baseline)"))
    return "\n".join(lines)


@dataclass
class _Layout:
    table: SpeedupTable
    wide: bool

    def lines(self, cell: Cell | None, column: str) -> list[str]:
        # A failure's reason is listed under the table in either view: in a cell it
        # would make the column as wide as the longest message.
        if self.wide and (cell is None or cell.result.status in ("ok", "wrong")):
            return cell_lines(cell, self.table.baseline, column)
        return short_lines(cell, self.table.baseline, column)

    def geomean(self, column: str) -> list[str]:
        g = self.table.geomeans.get(column)
        if g is None:
            return [""]
        if self.wide:
            return [format_geomean(g)]
        mark = "" if g.significant else " n.s."
        return [headline.ratio(g.point) + mark,
                headline.interval(g.lo, g.hi)]

    @functools.cached_property
    def specs(self) -> dict[str, Result]:
        """Each column's first result: what its header is made from."""
        out: dict[str, Result] = {}
        for row in self.table.rows:
            for column, cell in row.cells.items():
                out.setdefault(column, cell.result)
        return out


class FittedTable:
    """The table, laid out when rich knows the width it is printed in."""

    def __init__(self, table: SpeedupTable, title: str, wide: bool = False) -> None:
        self.layout = _Layout(table, wide)
        self.title = title
        self.sweeps = find_sweeps(table.rows)

    @functools.cached_property
    def _widths(self) -> tuple[int, dict[str, int]]:
        return self._measure()

    def widths(self) -> tuple[int, dict[str, int]]:
        """The label column's width and each column's: the longest line it must hold."""
        return self._widths

    def _measure(self) -> tuple[int, dict[str, int]]:
        table = self.layout.table
        specs = self.layout.specs
        label = max([cell_len(_(LABEL)), cell_len(_(GEOMEAN))]
                    + [cell_len(p.value) for s in self.sweeps for p in s.points])
        out = {}
        for column in table.columns:
            texts = [self.layout.lines(row.cells.get(column), column) for row in table.rows]
            texts.append(self.layout.geomean(column))
            texts.append(_header(column, specs.get(column), table.baseline).split("\n"))
            out[column] = max(cell_len(line) for lines in texts for line in lines)
        return label, out

    def blocks(self, width: int) -> list[list[str]]:
        """The columns in blocks that fit `width`, the baseline repeated in each."""
        label, widths = self.widths()
        baseline = self.layout.table.baseline
        base = [baseline] if baseline else []
        fixed = label + PADDING + sum(widths[c] + PADDING for c in base)
        blocks: list[list[str]] = []
        current: list[str] = []
        used = fixed
        for column in self.layout.table.columns:
            if column == baseline:
                continue
            need = widths[column] + PADDING
            if current and used + need > width:
                blocks.append(current)
                current, used = [], fixed
            current.append(column)
            used += need
        if current or not blocks:
            blocks.append(current)
        return [base + b for b in blocks]

    def _table(self, columns: Sequence[str], title: str | None, header: bool) -> Table:
        """An empty block table: every block and group uses the same fixed widths, so the
        group tables stacked under one header line up as one table."""
        table = self.layout.table
        label, widths = self.widths()
        specs = self.layout.specs
        t = Table(title=Text(title) if title else None, box=box.SIMPLE_HEAD, show_edge=False,
                  show_header=header, pad_edge=False)
        t.add_column(Text(_(LABEL)), width=label, no_wrap=True)
        for column in columns:
            t.add_column(Text(_header(column, specs.get(column), table.baseline)),
                         justify="right", width=widths[column], no_wrap=not self.layout.wide)
        return t

    def _block(self, columns: Sequence[str], title: str) -> Iterator[RenderableType]:
        table = self.layout.table
        yield self._table(columns, title, header=True)
        for sweep in self.sweeps:
            yield Text(sweep.heading, style="bold")
            t = self._table(columns, None, header=False)
            for point in sweep.points:
                t.add_row(Text(point.value), *(
                    Text("\n".join(self.layout.lines(point.row.cells.get(c), c)),
                         style=_style(point.row.cells.get(c), table.baseline, c))
                    for c in columns))
            yield t
        if table.geomeans:
            t = self._table(columns, None, header=False)
            t.add_row(Text(_(GEOMEAN), style="bold"),
                      *(Text("\n".join(self.layout.geomean(c)), style="bold") for c in columns))
            yield Text(_("all rows"), style="bold")
            yield t

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        blocks = self.blocks(options.max_width)
        for i, columns in enumerate(blocks):
            title = self.title if len(blocks) == 1 else \
                _("{title} ({block} of {blocks})").format(title=self.title, block=i + 1,
                                                          blocks=len(blocks))
            yield from self._block(columns, title)


def _failures(table: SpeedupTable) -> list[str]:
    """Why each failed cell failed, named by row and column: too long for a cell. Skipped
    cells are counted by column and reason (a library without a dtype skips many)."""
    out = []
    skipped: dict[tuple[str, str], int] = {}
    for row in table.rows:
        for column, cell in row.cells.items():
            r = cell.result
            if r.status in ("wrong", "error", "oom"):
                detail = " ".join(cell_lines(cell, table.baseline, column))
                out.append(_("✗ {workload} ({params}, {dtype}) on {column}: {detail}").format(
                    workload=row.workload, params=row.params, dtype=row.dtype, column=column,
                    detail=detail))
            elif r.status == "skipped":
                key = (column, r.error or "no reason recorded")
                skipped[key] = skipped.get(key, 0) + 1
    out += [_("{column}: {count} row(s) skipped: {reason}").format(
                column=column, count=count, reason=reason)
            for (column, reason), count in skipped.items()]
    return out


def render(table: SpeedupTable, title: str | None = None, wide: bool = False,
           story: Sequence[str] = ()) -> Group:
    title = _("dlbench results") if title is None else title
    notes = table_notes(table) + _failures(table)
    notes += [f"⚠ {code}: {stats.explain(code)}" for code in table.warnings]
    parts: list[RenderableType] = [FittedTable(table, title, wide)]
    parts += [Text(n, style="dim") for n in notes]
    if story:
        parts += [Text(_("In short"), style="bold")] + [Text(s) for s in story]
    return Group(*parts)


def render_run(results: Sequence[Result], baseline: str, wide: bool = False) -> Group:
    """What `dlbench run` ends with: the speedup table, its notes, and the headline."""
    table = speedup_table(results, baseline)
    story = headline.sentences(table, epoch.estimates([("", r) for r in results]))
    return render(table, wide=wide, story=story)


def render_report(report: Report, wide: bool = False) -> Group:
    """The headline of each machine first, then every machine's environment and table, the
    machines side by side, and what a measured training step means."""
    parts: list[RenderableType] = []
    for view in report.machines:
        lines = headline.sentences(view.table, [e for e in report.epochs
                                                if e.machine == view.machine.label])
        if lines:
            parts.append(Text(_("In short ({machine})").format(machine=view.machine.label),
                              style="bold"))
            parts += [Text(s) for s in lines]
    for view in report.machines:
        env = Table(title=Text(_("machine {machine}").format(machine=view.machine.label)),
                    show_header=False)
        env.add_column("what", style="bold")
        env.add_column("value")
        for what, value in summary(view.machine):
            env.add_row(Text(what), Text(value))
        env.add_row(Text(_("files")), Text(", ".join(f.name for f in view.sources)))
        parts.append(env)
        if view.table.rows:
            parts.append(render(view.table, wide=wide, title=_("{machine}: speedups").format(
                machine=view.machine.label)))
    if report.cross is not None:
        parts.append(render(report.cross, title=_("all machines side by side"), wide=wide))
    if report.epochs:
        parts.append(Text(_("What this means: one epoch, extrapolated"), style="bold"))
        parts += [Text(line) for e in report.epochs for line in epoch.lines(e)]
        parts += [Text(epoch.FORMULA, style="dim"), Text(epoch.CAVEAT, style="dim")]
    parts += [Text(_("note: {text}").format(text=n), style="yellow") for n in report.notes]
    return Group(*parts)
