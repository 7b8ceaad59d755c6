"""The speedup table as a rich renderable (printed by cli/console.py only)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from dlbench import stats
from dlbench.report.rows import SpeedupTable, cell_lines

STYLE = {"ok": "", "wrong": "bold red", "error": "red", "oom": "red", "skipped": "dim"}


def render(table: SpeedupTable, title: str = "dlbench results") -> Group:
    t = Table(title=title, show_lines=True)
    t.add_column("workload")
    t.add_column("params")
    t.add_column("dtype")
    for column in table.columns:
        label = column + (" (baseline)" if column == table.baseline else "")
        t.add_column(label, justify="right")
    for row in table.rows:
        cells = []
        for column in table.columns:
            cell = row.cells.get(column)
            text = "\n".join(cell_lines(cell, table.baseline, column))
            style = STYLE.get(cell.result.status, "") if cell else "dim"
            if cell and cell.speedup and not cell.significant and column != table.baseline:
                style = "dim"
            cells.append(Text(text, style=style))
        t.add_row(row.workload, row.params, row.dtype, *cells)
    notes = []
    if table.baseline:
        notes.append(f"speedup = {table.baseline} median / column median, with its 95% bootstrap "
                     "interval; (n.s.) = not significant")
    notes += [f"⚠ {code}: {stats.explain(code)}" for code in table.warnings]
    return Group(t, *(Text(n, style="dim") for n in notes))
