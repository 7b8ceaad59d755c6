"""`dlbench list`: backends (available or why not), workloads, suites, and where each
backend and workload comes from (built in, a plugin's distribution, a file).

Made for 80 columns: names are never cut (their column does not wrap), and a workload's
or suite's details stack in lines under its name rather than in side-by-side columns.
Every cell is a Text, never markup: a reason or a dtype list may hold brackets.
`--format json` gives the same facts to a program.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from dlbench import backends, suites, workloads
from dlbench.cli import console, options
from dlbench.i18n import _


class Format(StrEnum):
    table = "table"
    json = "json"


def list_command(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="A table for people, or JSON.")]
    = Format.table,
    workload_file: Annotated[list[Path] | None, typer.Option(
        "--workload-file", metavar="PATH", help="Also list the workloads of this Python file "
        "of your own (as `run --workload-file` loads it).")] = None,
    lang: options.LangOption = None,
) -> None:
    """List backends (available, or why not), workloads and suites.

    Workloads show their parameters with defaults, FLOP formula and which backend runs
    each implementation; suites what they measure; backends and workloads where they
    come from (built in, a plugin, a file). A plugin that did not load is named in a
    note, with the reason.

    [bold]Examples[/bold]

      dlbench list
      dlbench list --format json | jq '.workloads[].name'
    """
    with console.user_errors():
        ctx.with_resource(workloads.files(workload_file or ()))
        catalog = {"backends": backend_entries(), "workloads": workload_entries(),
                   "suites": suite_entries()}
    if fmt == Format.json:
        console.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n")
    else:
        console.print_data(Group(_backends_table(catalog["backends"]),
                                 _workloads_table(catalog["workloads"]),
                                 _suites_table(catalog["suites"])))
    for note in (*backends.notes(), *workloads.notes()):
        console.note(note)


# -- the facts ----------------------------------------------------------------------------

def backend_entries() -> list[dict[str, Any]]:
    out = []
    for target in backends.all_targets():
        ok, reason = target.available()
        out.append({"name": target.name, "device": target.device, "label": target.label,
                    "available": ok, "version": target.version() if ok else None,
                    "reason": None if ok else reason, "dtypes": list(target.dtypes),
                    "compiler": target.compiler_summary() or None,
                    "from": backends.origin(target.name)})
    return out


def workload_entries() -> list[dict[str, Any]]:
    out = []
    for name in workloads.names():
        w = workloads.get(name)
        out.append({"name": name, "description": w.description,
                    "parameters": {p.name: p.default for p in w.params},
                    "size_sets": list(w.size_params), "flops": w.flops_formula,
                    "distributed": w.distributed, "implementations": implementations(w),
                    "from": workloads.origin(name)})
    return out


def implementations(w: workloads.Workload) -> dict[str, list[str]]:
    """Each implementation with the backend-devices that run it: the workload's own
    answer (`supports`: collectives run on torch alone, transfer on GPUs alone) and the
    implementations each backend offers on each device."""
    offered: dict[str, list[str]] = {}
    for target in backends.all_targets():
        if not w.supports(target)[0]:
            continue
        for impl in w.impls_for(target.name, target.device):
            offered.setdefault(impl, []).append(target.label)
    return offered


def suite_entries() -> list[dict[str, Any]]:
    out = []
    for name in suites.builtin_names():
        s = suites.load(name)
        out.append({"name": name, "description": s.description, "settings": s.settings,
                    "impls": {b: list(i) for b, i in s.impls.items()},
                    "benchmarks": [{"workload": e.workload, "sizes": list(e.sizes),
                                    "dtypes": list(e.dtypes), "params": e.params}
                                   for e in s.entries]})
    return out


# -- the tables ---------------------------------------------------------------------------

def _table(title: str, *columns: str) -> Table:
    t = Table(title=Text(title, style="bold"), box=box.SIMPLE_HEAD, pad_edge=False,
              show_edge=False)
    for i, column in enumerate(columns):
        # The first column holds the names a user types: never wrapped, never cut.
        t.add_column(Text(column), no_wrap=i == 0, overflow="ellipsis" if i == 0 else "fold")
    return t


def _backends_table(entries: Sequence[dict[str, Any]]) -> Table:
    t = _table(_("backends"), _("backend"), _("available"), _("version, or why not"),
               _("dtypes"), _("from"))
    for e in entries:
        state = [Text(e["version"] or "" if e["available"] else e["reason"])]
        if e["compiler"]:  # and whether its compiler can run here (a C++ compiler found)
            state.append(Text(_("compiler: {compiler}").format(compiler=e["compiler"]),
                              style="dim"))
        t.add_row(Text(e["label"]), Text(_("yes") if e["available"] else _("no")),
                  _lines(state), Text(", ".join(e["dtypes"])), Text(e["from"]),
                  style="" if e["available"] else "dim")
    return t


def _workloads_table(entries: Sequence[dict[str, Any]]) -> Table:
    t = _table(_("workloads"), _("workload"), _("what, parameters (default), FLOPs, "
                                                  "implementations"))
    for e in entries:
        params = ", ".join(f"{k}={v}" for k, v in e["parameters"].items())
        lines = [Text(e["description"]),
                 Text(_("from: {origin}").format(origin=e["from"]), style="dim"),
                 Text(_("parameters: {params}; --size sets {names}").format(
                     params=params, names=", ".join(e["size_sets"])), style="dim"),
                 Text(_("FLOPs: {formula}").format(formula=e["flops"]), style="dim")]
        lines += [Text(f"{impl}: {_grouped(labels)}", style="dim")
                  for impl, labels in e["implementations"].items()]
        t.add_row(Text(e["name"], style="bold"), _lines(lines))
    return t


def _suites_table(entries: Sequence[dict[str, Any]]) -> Table:
    t = _table(_("suites"), _("suite"), _("what it measures: workload, sizes, dtypes"))
    for e in entries:
        lines = [Text(e["description"])]
        for b in e["benchmarks"]:
            sizes = ", ".join(map(_size, b["sizes"])) or _("default size")
            fixed = "".join(f", {k}={v}" for k, v in b["params"].items())
            lines.append(Text(f"{b['workload']}: {sizes}{fixed} · {', '.join(b['dtypes'])}",
                              style="dim"))
        t.add_row(Text(e["name"], style="bold"), _lines(lines))
    return t


def _size(n: int) -> str:
    """Sizes from 64K up with the binary suffix `--size` takes (16M, not 16777216)."""
    for suffix, scale in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if n >= max(scale, 2**16) and n % scale == 0:
            return f"{n // scale}{suffix}"
    return str(n)


def _lines(lines: Iterable[Text]) -> Text:
    return Text("\n").join(lines)


def _grouped(labels: Sequence[str]) -> str:
    """Backend-devices by backend: "numpy, torch (cpu, cuda)" reads as "torch-cpu and
    torch-cuda"; a backend on one device keeps its full label."""
    by_backend: dict[str, list[str]] = {}
    for label in labels:
        name, _sep, device = label.rpartition("-")
        by_backend.setdefault(name, []).append(device)
    return ", ".join(f"{name} ({', '.join(devices)})" if len(devices) > 1
                     else f"{name}-{devices[0]}" for name, devices in by_backend.items())
