"""The speedup table as GitHub-flavoured Markdown (PR comments, CI job summaries)."""

from __future__ import annotations

from dlbench import stats
from dlbench.report.rows import SpeedupTable, cell_lines


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(table: SpeedupTable) -> str:
    header = ["workload", "params", "dtype"] + [
        c + (" (baseline)" if c == table.baseline else "") for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" * len(table.columns)]
    for row in table.rows:
        cells = [_escape(row.workload), _escape(row.params), row.dtype]
        cells += ["<br>".join(_escape(line) for line in
                              cell_lines(row.cells.get(c), table.baseline, c))
                  for c in table.columns]
        lines.append("| " + " | ".join(cells) + " |")
    if table.baseline:
        lines += ["", f"Speedup = {table.baseline} median / column median, 95% bootstrap "
                      "interval; (n.s.) = not significant."]
    lines += [f"- ⚠ `{code}`: {stats.explain(code)}" for code in table.warnings]
    return "\n".join(lines) + "\n"
