"""The report as ONE self-contained HTML page: tables, each machine's environment, and the
charts as SVG data URIs; nothing is fetched, and no script runs (the page's policy
forbids both, so even a mistake in escaping could not run code)."""

from __future__ import annotations

import base64
from html import escape

from dlbench import stats
from dlbench.report import distributed, epoch, headline
from dlbench.report.cells import Row
from dlbench.report.machines import summary
from dlbench.report.model import Report, machine_epochs
from dlbench.report.roofline import roofline
from dlbench.report.rows import SpeedupTable, cell_lines, format_geomean, table_notes
from dlbench.report.sweeps import find_sweeps

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; }
td.params { overflow-wrap: anywhere; }
td.dtype, td.size { white-space: nowrap; }
th { background: #f3f3f3; }
thead th { position: sticky; top: 0; z-index: 1; }
tr.group td { background: #fafafa; font-weight: 600; overflow-wrap: anywhere; }
td.num { text-align: right; }
td.num span { white-space: nowrap; }
p.headline { font-size: 1.05em; }
ul.headline li { margin: 0.2em 0; }
td.wrong, td.error, td.oom { color: #b00; }
td.skipped, td.ns { color: #888; }
tr.geomean td { font-weight: bold; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dl.env dt { font-weight: bold; }
dl.env dd { margin: 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; }
.note { color: #555; font-size: 0.92em; }
"""
CAPTIONS = {
    "throughput": "Throughput (GFLOP/s) against problem size, log-log, one line per backend.",
    "speedup": "Speedup over each machine's baseline against problem size, with its 95% "
               "bootstrap interval; the dashed line is 1× (no faster).",
    "bars": "Workloads measured at one size: each column's speedup over the baseline, "
            "whiskers for the 95% bootstrap interval, log scale; the dashed line is 1×.",
    "roofline": "Roofline: arithmetic intensity (FLOP per byte moved) against achieved FLOP/s; "
                "each roof is the lower of the compute peak (from the environment) and the "
                "bandwidth roof (from a measured bandwidth result), where known.",
    "busbw": "Bus bandwidth (nccl-tests' busbw: algbw × the collective's bus factor) "
             "against message size, log-log, one line per collective, world size and dtype "
             "(and machine, when there are several).",
}


def _lines(lines: list[str]) -> str:
    """A cell's lines, each kept whole where it fits (a time, a rate, a speedup and its
    interval); a line longer than the column breaks at its spaces rather than widening
    the page."""
    return "<br>".join(" ".join(f"<span>{escape(part)}</span>" for part in _parts(line))
                       if line[:1].isdigit() else escape(line) for line in lines)


def _parts(line: str) -> list[str]:
    """'1.25× [1.24, 1.26] (n.s.)' -> ['1.25×', '[1.24, 1.26]', '(n.s.)']: the pieces of a
    line that read wrong when broken inside."""
    out: list[str] = []
    for word in line.split(" "):
        if out and (out[-1].count("[") > out[-1].count("]") or word in ("µs", "ms", "s", "ns")
                    or word.startswith(("GFLOP", "TFLOP", "MFLOP", "GB/s", "FLOP", "of"))):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


# Value columns in one table beside the baseline: more are split into further tables that
# repeat it, so a table of many backends or machines fits a 1280-px window.
COLUMNS_PER_TABLE = 5


def _blocks(table: SpeedupTable) -> list[list[str]]:
    base = [table.baseline] if table.baseline else []
    others = [c for c in table.columns if c != table.baseline]
    chunks = [others[i:i + COLUMNS_PER_TABLE]
              for i in range(0, len(others), COLUMNS_PER_TABLE)] or [[]]
    return [base + chunk for chunk in chunks]


def _breakable(name: str) -> str:
    """A workload name that may break after its underscores (transformer_train_step)."""
    return "_<wbr>".join(escape(part) for part in name.split("_"))


def _cell(table: SpeedupTable, row: Row, column: str) -> str:
    cell = row.cells.get(column)
    css = ["num"]
    if cell is not None:
        css.append(cell.result.status)
        if cell.speedup and not cell.significant and column != table.baseline:
            css.append("ns")
    text = _lines(cell_lines(cell, table.baseline, column))
    return f'<td class="{" ".join(css)}">{text}</td>'


def _table(table: SpeedupTable, caption: str) -> str:
    blocks = _blocks(table)
    parts = []
    for i, columns in enumerate(blocks):
        title = caption if len(blocks) == 1 else f"{caption} ({i + 1} of {len(blocks)})"
        head = "".join(f"<th>{escape(c)}{' (baseline)' if c == table.baseline else ''}</th>"
                       for c in columns)
        body = []
        # Rows grouped by sweep: what a group shares is written once, in a row across
        # the table, and each row is labelled by its size.
        for sweep in find_sweeps(table.rows):
            body.append(f'<tr class="group"><td colspan="{len(columns) + 1}">'
                        f"{escape(sweep.heading)}</td></tr>")
            body += [f'<tr><td class="size">{escape(point.value)}</td>'
                     + "".join(_cell(table, point.row, c) for c in columns) + "</tr>"
                     for point in sweep.points]
        if table.geomeans:
            cells = "".join(f'<td class="num">{_lines([format_geomean(table.geomeans[c])])}</td>'
                            if c in table.geomeans else "<td></td>" for c in columns)
            body.append(f'<tr class="geomean"><td>geometric mean</td>{cells}</tr>')
        parts.append(f"<table><caption>{escape(title)}</caption><thead><tr><th>size</th>"
                     f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    notes = table_notes(table) + [f"⚠ {code}: {stats.explain(code)}" for code in table.warnings]
    return "".join(parts) + "".join(f'<p class="note">{escape(n)}</p>' for n in notes)


def _epochs(report: Report) -> str:
    if not report.epochs:
        return ""
    tables = "".join(_epoch_table(group) for group in epoch.by_unit(report.epochs))
    return ("<h2>What this means: one epoch, extrapolated</h2>" + tables
            + f'<p class="note">{escape(epoch.FORMULA)}</p>'
            f'<p class="note">{escape(epoch.CAVEAT)}</p>')


def _epoch_table(group: list[epoch.EpochEstimate]) -> str:
    """One table per unit of data, headed by that unit's rate and datasets."""
    first = group[0]
    head = "".join(f"<th>epoch of {escape(ep.dataset)}</th>" for ep in first.epochs)
    rows = []
    for e in group:
        cells = "".join(f'<td class="num">{ep.steps:,} steps ≈ '
                        f"<span>{escape(epoch.format_duration(ep.seconds))}</span> "
                        f"<span>[{escape(epoch.format_duration(ep.lo))}, "
                        f"{escape(epoch.format_duration(ep.hi))}]</span></td>"
                        for ep in e.epochs)
        rows.append(f"<tr><td>{escape(e.machine)}</td><td>{escape(e.column)}</td>"
                    f'<td>{_breakable(e.workload)}</td><td class="params">{escape(e.params)}</td>'
                    f'<td class="dtype">{escape(e.dtype)}</td><td class="num">{e.batch}</td>'
                    f'<td class="num">{e.rate:,.0f}</td>{cells}</tr>')
    return ("<table><thead><tr><th>machine</th><th>backend</th><th>workload</th>"
            f"<th>params</th><th>dtype</th><th>batch</th><th>{escape(first.rate_unit)}/s</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def render(report: Report, charts: dict[str, bytes]) -> str:
    """`charts` maps a chart name to its SVG (plots.render(report, "svg"))."""
    parts = [f"<h1>dlbench report</h1><p>{sum(len(v.sources) for v in report.machines)} "
             f"result file(s) from {len(report.machines)} machine(s); each machine's speedups "
             f"are against its own {escape(report.baseline)}.</p>"]
    for view in report.machines:
        story = headline.sentences(view.table, machine_epochs(report, view))
        if story:
            parts.append(f'<section class="headline"><h2>In short: '
                     f'{escape(view.machine.label)}</h2><ul class="headline">'
                     + "".join(f"<li>{escape(line)}</li>" for line in story) + "</ul></section>")
    for view in report.machines:
        env = "".join(f"<dt>{escape(what)}</dt><dd>{escape(value)}</dd>"
                      for what, value in summary(view.machine))
        files = ", ".join(escape(f"{f.name} ({f.created})") for f in view.sources)
        parts.append(f"<section><h2>Machine {escape(view.machine.label)}</h2>"
                     f'<dl class="env">{env}<dt>files</dt><dd>{files}</dd></dl>'
                     + (_table(view.table, f"{view.machine.label}: speedups")
                        if view.table.rows else "") + "</section>")
    if report.cross is not None:
        parts.append("<section><h2>All machines side by side</h2>"
                     + _table(report.cross, "every column against the first machine's "
                                            "baseline") + "</section>")
    across = distributed.report_tables(report)
    if across:
        parts.append("<section><h2>Across ranks (torch.distributed)</h2>"
                     + distributed.render_html(across) + "</section>")
    parts.append("<section><h2>Charts</h2>")
    for name, svg in charts.items():
        data = base64.b64encode(svg).decode("ascii")
        parts.append(f'<figure><img class="chart" id="chart-{escape(name)}" '
                     f'alt="{escape(name)} chart" src="data:image/svg+xml;base64,{data}">'
                     f"<figcaption>{escape(CAPTIONS.get(name, name))}</figcaption></figure>")
        if name == "roofline":
            for view in report.machines:
                roof = roofline(view)
                known = [label for label, _ in roof.compute + roof.bandwidth]
                parts += [f'<p class="note">{escape(view.machine.label)}: {escape(line)}</p>'
                          for line in known + list(roof.unknown)]
    parts.append("</section>")
    parts.append(_epochs(report))
    parts += [f'<p class="note">note: {escape(n)}</p>' for n in report.notes]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>dlbench report</title><style>{CSS}</style></head><body>\n"
            + "\n".join(p for p in parts if p) + "\n</body></html>\n")
