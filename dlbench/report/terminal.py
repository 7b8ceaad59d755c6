"""The speedup table as a rich renderable (printed by cli/console.py only)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dlbench import stats
from dlbench.report import epoch
from dlbench.report.machines import summary
from dlbench.report.model import Report
from dlbench.report.rows import SpeedupTable, cell_lines, format_geomean, table_notes

STYLE = {"ok": "", "wrong": "bold red", "error": "red", "oom": "red", "skipped": "dim"}


def render(table: SpeedupTable, title: str = "dlbench results") -> Group:
    # Text, never str: labels come from result files, and rich would read "[...]" as markup.
    t = Table(title=Text(title), show_lines=True)
    t.add_column("workload")
    t.add_column("params")
    t.add_column("dtype")
    for column in table.columns:
        label = column + (" (baseline)" if column == table.baseline else "")
        t.add_column(Text(label), justify="right")
    for row in table.rows:
        cells = []
        for column in table.columns:
            cell = row.cells.get(column)
            text = "\n".join(cell_lines(cell, table.baseline, column))
            style = STYLE.get(cell.result.status, "") if cell else "dim"
            if cell and cell.speedup and not cell.significant and column != table.baseline:
                style = "dim"
            cells.append(Text(text, style=style))
        t.add_row(Text(row.workload), Text(row.params), Text(row.dtype), *cells)
    if table.geomeans:
        t.add_row(Text("geometric mean", style="bold"), Text(""), Text(""),
                  *(Text(format_geomean(table.geomeans[c]).replace(" over", "\nover"),
                         style="bold") if c in table.geomeans else Text("")
                    for c in table.columns))
    notes = table_notes(table)
    notes += [f"⚠ {code}: {stats.explain(code)}" for code in table.warnings]
    return Group(t, *(Text(n, style="dim") for n in notes))


def render_report(report: Report) -> Group:
    """Every machine's environment and table, the machines side by side, and what a
    measured training step means."""
    parts: list[RenderableType] = []
    for view in report.machines:
        env = Table(title=Text(f"machine {view.machine.label}"), show_header=False)
        env.add_column("what", style="bold")
        env.add_column("value")
        for what, value in summary(view.machine):
            env.add_row(Text(what), Text(value))
        env.add_row(Text("files"), Text(", ".join(f.name for f in view.sources)))
        parts += [env, render(view.table, title=f"{view.machine.label}: speedups")]
    if report.cross is not None:
        parts.append(render(report.cross, title="all machines side by side"))
    if report.epochs:
        parts.append(Text("What this means: one epoch, extrapolated", style="bold"))
        parts += [Text(line) for e in report.epochs for line in epoch.lines(e)]
        parts += [Text(epoch.FORMULA, style="dim"), Text(epoch.CAVEAT, style="dim")]
    parts += [Text(f"note: {n}", style="yellow") for n in report.notes]
    return Group(*parts)
