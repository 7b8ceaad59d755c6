"""`dlbench report`: merge result files (one machine or many) into tables, charts and files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlbench import results
from dlbench.cli import console
from dlbench.cli import output as destinations
from dlbench.cli.steps import Steps
from dlbench.errors import UsageError
from dlbench.report import csv as csv_report
from dlbench.report import distributed, html, markdown, model, plots, terminal
from dlbench.report import json as json_report
from dlbench.report.rows import DEFAULT_BASELINE

FORMATS = ("table", "md", "csv", "html", "json", "png")
SUFFIXES = {".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html", ".htm": "html",
            ".json": "json", ".png": "png"}

EXAMPLES = """
[bold]Examples[/bold]

  dlbench report results/*.json                        [dim]# tables in the terminal[/dim]
  dlbench report laptop.json gpu-box.json -o report.html
  dlbench report ci.json --format md >> "$GITHUB_STEP_SUMMARY"
  dlbench report a.json --format csv -o results.csv
  dlbench report a.json -o charts.png                  [dim]# charts-throughput.png, ...[/dim]
"""


def report(
    files: Annotated[list[Path], typer.Argument(
        help="Result files to merge; files from different machines are shown side by side.",
        show_default=False)],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="table (terminal), md, csv, html, json or png. Default: from the -o "
        "suffix, else table.")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="File to write, or '-' for stdout (text formats; the default). "
        "png writes PATH-throughput.png, PATH-speedup.png and PATH-roofline.png.")] = None,
    baseline: Annotated[str, typer.Option(
        help="The column speedups are relative to, on every machine.")] = DEFAULT_BASELINE,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Merge result files (many machines allowed) into speedup tables, crossovers and charts.

    Also: geometric-mean speedups, each machine's environment, and what a measured training
    step means for one epoch. HTML and PNG draw their charts with matplotlib:
    pip install 'dlbench\\[report]'.
    """
    with console.user_errors():
        fmt = destinations.choose_format(fmt, output, FORMATS, SUFFIXES)
        if fmt == "png" and destinations.destination(output) is None:
            raise UsageError("--format png writes image files, not stdout: give -o PATH.png")
        if fmt in ("png", "html"):
            plots.require(fmt)
        targets = _targets(fmt, output)
        destinations.check_targets(targets, force)
        with Steps() as steps:
            docs = [(str(f), results.load(f, steps.reading(f))) for f in files]
            rep = model.build(docs, baseline, steps.step("computing speedups"))
        if baseline != DEFAULT_BASELINE and not any(v.table.baseline for v in rep.machines):
            raise UsageError(f"--baseline {baseline} is not a column of any result file")
        # busbw against size per world size, beside the speedups (distributed runs only).
        shown = distributed.tables(r for _, doc in docs for r in doc.results)
        if fmt == "table":
            console.print_data(terminal.render_report(rep))
            if shown:
                console.print_data(distributed.render_terminal(shown))
            return
        rendered = _render(fmt, rep)
        if fmt == "md" and shown:
            rendered = [f"{rendered[0]}\n{distributed.render_markdown(shown)}"]
        for target, data in zip(targets, rendered, strict=True):
            destinations.write(target, data)
            if target is not None:
                console.message(f"wrote {target}")


def _targets(fmt: str, output: str | None) -> list[Path | None]:
    """Where each rendered piece goes (None: stdout)."""
    path = destinations.destination(output)
    if fmt == "table" or path is None:
        return [None]
    if fmt == "png":
        stem = path.with_suffix("") if path.suffix.lower() == ".png" else path
        return [stem.with_name(f"{stem.name}-{chart}.png") for chart in plots.CHARTS]
    return [path]


def _render(fmt: str, rep: model.Report) -> list[str | bytes]:
    if fmt == "md":
        return [markdown.render_report(rep)]
    if fmt == "csv":
        return [csv_report.render_report(rep)]
    if fmt == "json":
        return [json_report.render(rep)]
    if fmt == "html":
        return [html.render(rep, plots.render(rep, "svg"))]
    charts = plots.render(rep, "png")
    return [charts[chart] for chart in plots.CHARTS]


report.__doc__ = (report.__doc__ or "") + EXAMPLES
