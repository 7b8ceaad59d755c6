"""The speedup table as GitHub-flavoured Markdown (PR comments, CI job summaries)."""

from __future__ import annotations

from dlbench import stats
from dlbench.report import distributed, epoch, headline
from dlbench.report.cells import format_time, markdown_cell
from dlbench.report.epoch import CAVEAT, FORMULA, format_duration
from dlbench.report.machines import summary
from dlbench.report.model import Report, machine_epochs
from dlbench.report.rows import SpeedupTable, cell_lines, format_geomean, table_notes

# The environment lines short enough for a PR comment.
SUMMARY = ("CPU", "GPUs", "BLAS (NumPy)", "libraries", "CPU peak")


# The escaping of every cell and line from a result file (shared with the distributed tables).
escape = markdown_cell


def render(table: SpeedupTable) -> str:
    header = ["workload", "params", "dtype"] + [
        escape(c) + (" (baseline)" if c == table.baseline else "") for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" * len(table.columns)]
    for row in table.rows:
        cells = [escape(row.workload), escape(row.params), escape(row.dtype)]
        cells += ["<br>".join(escape(line) for line in
                              cell_lines(row.cells.get(c), table.baseline, c))
                  for c in table.columns]
        lines.append("| " + " | ".join(cells) + " |")
    if table.geomeans:
        lines.append("| **geometric mean** | | | " + " | ".join(
            f"**{format_geomean(table.geomeans[c])}**" if c in table.geomeans else ""
            for c in table.columns) + " |")
    notes = table_notes(table)
    if notes:
        lines.append("")
        lines += [f"- {escape(note)}" for note in notes]
    lines += [f"- ⚠ `{code}`: {stats.explain(code)}" for code in table.warnings]
    return "\n".join(lines) + "\n"


def render_headline(story: list[str], title: str = "In short") -> str:
    """The headline's sentences as a short list under a heading."""
    if not story:
        return ""
    return "\n".join([f"**{escape(title)}**", ""] + [f"- {escape(s)}" for s in story]) + "\n"


def render_report(report: Report) -> str:
    """The whole report: per machine a short environment summary and its table, the
    machines side by side, and the training-step extrapolation when there is one."""
    files = sum(len(v.sources) for v in report.machines)
    out = ["## dlbench report", "",
           f"{files} result file(s) from {len(report.machines)} machine(s); each machine's "
           f"speedups are against its own {escape(report.baseline)}.", ""]
    for view in report.machines:
        out.append(render_headline(headline.sentences(view.table, machine_epochs(report, view)),
                                   f"In short ({view.machine.label})"))
    for view in report.machines:
        out += [f"### {escape(view.machine.label)}", ""]
        out += [f"- **{what}**: {escape(value)}" for what, value in summary(view.machine)
                if what in SUMMARY]
        out += [f"- **files**: {escape(', '.join(f.name for f in view.sources))}", ""]
        if view.table.rows:
            out.append(render(view.table))
    if report.cross is not None:
        out += ["### All machines side by side", "",
                "Every column against the first machine's baseline.", "", render(report.cross)]
    across = distributed.report_tables(report)
    if across:
        out += ["### Across ranks (torch.distributed)", "", distributed.render_markdown(across)]
    if report.epochs:
        out += ["### What this means: one epoch, extrapolated", ""]
        for group in epoch.by_unit(report.epochs):
            out += _epoch_table(group) + [""]
        out += [f"- {escape(FORMULA)}", f"- {escape(CAVEAT)}", ""]
    out += [f"- note: {escape(n)}" for n in report.notes]
    return "\n".join(out).rstrip("\n") + "\n"


def _epoch_table(group: list[epoch.EpochEstimate]) -> list[str]:
    """One table per unit of data: its rate column and datasets are that unit's."""
    first = group[0]
    header = ["machine", "backend", "workload", "params", "dtype", "median step",
              f"{first.rate_unit}/s"] + [f"epoch of {ep.dataset}" for ep in first.epochs]
    out = ["| " + " | ".join(escape(h) for h in header) + " |",
           "|" + "---|" * 5 + "---:|" * (len(header) - 5)]
    for e in group:
        cells = [escape(e.machine), escape(e.column), escape(e.workload), escape(e.params),
                 escape(e.dtype),
                 f"{format_time(e.median_s)} [{format_time(e.ci95[0])}, "
                 f"{format_time(e.ci95[1])}]", f"{e.rate:,.0f}"]
        cells += [f"{ep.steps:,} steps ≈ {format_duration(ep.seconds)} "
                  f"[{format_duration(ep.lo)}, {format_duration(ep.hi)}]" for ep in e.epochs]
        out.append("| " + " | ".join(cells) + " |")
    return out
