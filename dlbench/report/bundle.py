"""The whole report as a folder of files (`report -o DIR/`): HTML, Markdown, CSV, JSON, one
PNG per chart, and an index page that says what each file is."""

from __future__ import annotations

from html import escape

from dlbench.report import csv as csv_report
from dlbench.report import headline, html, markdown, plots
from dlbench.report import json as json_report
from dlbench.report.model import Report, machine_epochs

INDEX = "index.html"
DESCRIPTIONS = {
    "report.html": "the whole report on one page: headline, tables, environment, charts",
    "report.md": "the tables as Markdown (a pull-request comment, a CI job summary)",
    "report.csv": "one flat row per result, with its machine and speedup",
    "report.json": "the derived numbers (tables, speedups, crossovers, epochs, headline)",
}


def names(report: Report) -> list[str]:
    """Every file the bundle of `report` writes, the index last."""
    return [*DESCRIPTIONS, *(f"{chart}.png" for chart in plots.charts(report)), INDEX]


def render(report: Report) -> dict[str, str | bytes]:
    """File name -> contents, in the order of names()."""
    svgs = plots.render(report, "svg")
    pngs = plots.render(report, "png")
    out: dict[str, str | bytes] = {
        "report.html": html.render(report, svgs),
        "report.md": markdown.render_report(report),
        "report.csv": csv_report.render_report(report),
        "report.json": json_report.render(report),
    }
    out.update({f"{chart}.png": png for chart, png in pngs.items()})
    out[INDEX] = _index(report)
    return out


def _index(report: Report) -> str:
    story = "".join(
        f"<h2>In short: {escape(v.machine.label)}</h2><ul>"
        + "".join(f"<li>{escape(s)}</li>" for s in headline.sentences(
            v.table, machine_epochs(report, v))) + "</ul>" for v in report.machines)
    files = "".join(f'<li><a href="{name}">{name}</a>: {escape(what)}</li>'
                    for name, what in DESCRIPTIONS.items())
    charts = "".join(f'<li><a href="{chart}.png">{chart}.png</a>: '
                     f"{escape(html.CAPTIONS.get(chart, chart))}</li>"
                     for chart in plots.charts(report))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{html.POLICY}">'
            "<title>dlbench report: index</title>"
            f"<style>{html.CSS}</style></head><body>\n<h1>dlbench report</h1>{story}"
            f"<h2>Files</h2><ul>{files}{charts}</ul>\n</body></html>\n")
