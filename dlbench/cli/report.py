"""`dlbench report`: merge result files (one machine or many) into tables, charts and files."""

from __future__ import annotations

import inspect
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dlbench import results
from dlbench.cli import console, options
from dlbench.cli import output as destinations
from dlbench.cli.steps import Steps
from dlbench.errors import UsageError
from dlbench.report import bundle, distributed, html, markdown, model, plots, terminal
from dlbench.report import csv as csv_report
from dlbench.report import json as json_report
from dlbench.report.rows import DEFAULT_BASELINE


class Format(StrEnum):
    table = "table"
    md = "md"
    csv = "csv"
    html = "html"
    json = "json"
    png = "png"


FORMATS = tuple(Format)

SUFFIXES = {".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html", ".htm": "html",
            ".json": "json", ".png": "png"}

EXAMPLES = """
[bold]Examples[/bold]

  dlbench report results/*.json                   [dim]# tables in the terminal[/dim]
  dlbench report laptop.json gpu-box.json -o report.html
  dlbench report ci.json --format md >> "$GITHUB_STEP_SUMMARY"
  dlbench report a.json --format csv -o results.csv
  dlbench report a.json -o charts.png             [dim]# one slide-sized sheet[/dim]
  dlbench report a.json b.json -o out/            [dim]# every format, index.html[/dim]
"""


def report(
    files: Annotated[list[Path], typer.Argument(
        show_default=False,
        help="Result files to merge; files from different machines are shown side by side.")],
    fmt: Annotated[Format | None, typer.Option(
        "--format", show_default=False, metavar="FORMAT",
        help="table (terminal), md, csv, html, json or png. "
        "Default: from the -o suffix, else table.")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="PATH",
        help="File to write, or '-' for stdout (text formats; the default). "
        "FILE.png is one sheet of every chart; a folder (DIR/) gets the whole bundle: HTML, "
        "Markdown, CSV, JSON, one PNG per chart and index.html.")] = None,
    baseline: Annotated[str, typer.Option(
        metavar="BACKEND-DEVICE", help="The column speedups are relative to, on every "
        "machine.")] = DEFAULT_BASELINE,
    force: destinations.Force = False,
    wide: Annotated[bool, typer.Option(
        "--wide", "-w", help="Terminal table cells with GFLOP/s, % of peak and the speedup's "
        "interval (the default shows time and speedup, to fit 80 columns).")] = False,
    lang: options.LangOption = None,
) -> None:
    """Merge result files (many machines allowed) into speedup tables, crossovers and charts.

    Also: geometric-mean speedups, each machine's environment, and what a measured training
    step means for one epoch. HTML and PNG draw their charts with matplotlib:
    pip install 'dlbench\\[report]'.
    """
    with console.user_errors():
        folder = destinations.folder(output)
        if folder is not None:
            if fmt is not None:
                raise UsageError(f"-o {output} is a folder and gets the whole bundle; leave "
                                 "out --format, or give a file name")
            _write_bundle(files, baseline, folder, force)
            return
        fmt = destinations.choose_format(fmt, output, FORMATS, SUFFIXES)
        if fmt == "png" and destinations.destination(output) is None:
            raise UsageError("--format png writes image files, not stdout: give -o PATH.png")
        if fmt in ("png", "html"):
            plots.require(fmt)
        targets = _targets(fmt, output)
        destinations.check_targets(targets, force)
        rep = _build(files, baseline)
        if fmt == "table":
            console.print_data(terminal.render_report(rep, wide=wide))
            # busbw against size per world size, after the speedups (distributed runs).
            shown = distributed.report_tables(rep)
            if shown:
                console.print_data(distributed.render_terminal(shown))
            return
        rendered = _render(fmt, rep)
        for target, data in zip(targets, rendered, strict=True):
            destinations.write(target, data)
            if target is not None:
                console.message(f"wrote {target}")


def _write_bundle(files: list[Path], baseline: str, folder: Path, force: bool) -> None:
    plots.require("png")
    rep = _build(files, baseline)
    targets = [folder / name for name in bundle.names(rep)]
    destinations.check_targets(targets, force)
    for target, data in zip(targets, bundle.render(rep).values(), strict=True):
        destinations.write(target, data)
    console.message(f"wrote {len(targets)} files to {folder}; open {folder / bundle.INDEX}")


def _build(files: list[Path], baseline: str) -> model.Report:
    with Steps() as steps:
        docs = [(str(f), results.load(f, steps.reading(f))) for f in files]
        rep = model.build(docs, baseline, steps.step("computing speedups"))
    if baseline != DEFAULT_BASELINE and not any(v.table.baseline for v in rep.machines):
        raise UsageError(f"--baseline {baseline} is not a column of any result file")
    return rep


def _targets(fmt: str, output: str | None) -> list[Path | None]:
    """Where each rendered piece goes (None: stdout); a PNG is the one file named."""
    path = destinations.destination(output)
    return [None] if fmt == "table" or path is None else [path]


def _render(fmt: str, rep: model.Report) -> list[str | bytes]:
    if fmt == "md":
        return [markdown.render_report(rep)]
    if fmt == "csv":
        return [csv_report.render_report(rep)]
    if fmt == "json":
        return [json_report.render(rep)]
    if fmt == "html":
        return [html.render(rep, plots.render(rep, "svg"))]
    return [plots.sheet(rep)]


report.__doc__ = inspect.cleandoc(report.__doc__ or "") + "\n" + EXAMPLES
