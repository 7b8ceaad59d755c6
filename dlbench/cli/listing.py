"""`dlbench list`: backends (available or why not), workloads, suites, and where each
backend and workload comes from (built in, a plugin's distribution, a file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from dlbench import backends, suites, workloads
from dlbench.cli import console


def list_command(
    ctx: typer.Context,
    workload_file: Annotated[list[Path] | None, typer.Option(
        "--workload-file", help="Also list the workloads of this Python file of your own "
        "(as `run --workload-file` loads it).")] = None,
) -> None:
    """List backends (available, or why not), workloads and suites.

    Workloads show their parameters with defaults, FLOP formula and implementations;
    backends and workloads where they come from (built-in, a plugin, a file). A plugin
    that did not load is named in a note, with the reason.

    [bold]Example[/bold]

      dlbench list
    """
    with console.user_errors():
        ctx.with_resource(workloads.files(workload_file or ()))
        be = Table(title="backends")
        for col in ("backend", "device", "available", "version / reason", "dtypes", "compiler",
                    "from"):
            be.add_column(col)
        for target in backends.all_targets():
            ok, reason = target.available()
            be.add_row(target.name, target.device, "yes" if ok else "no",
                       (target.version() or "") if ok else escape(reason), ", ".join(target.dtypes),
                       escape(target.compiler_summary()), escape(backends.origin(target.name)),
                       style="" if ok else "dim")
        wl = Table(title="workloads")
        for col in ("workload", "parameters (default)", "size sets", "FLOPs", "implementations",
                    "what", "from"):
            wl.add_column(col)
        for name in workloads.names():
            w = workloads.get(name)
            params = ", ".join(f"{p.name}={p.default}" for p in w.params)
            wl.add_row(name, params, ",".join(w.size_params), w.flops_formula,
                       implementations(w), w.description, escape(workloads.origin(name)))
        st = Table(title="suites")
        st.add_column("suite")
        st.add_column("description")
        st.add_column("benchmarks")
        for name in suites.builtin_names():
            s = suites.load(name)
            what = "; ".join(f"{e.workload} sizes {','.join(map(str, e.sizes)) or 'default'} "
                             f"[{','.join(e.dtypes)}]" for e in s.entries)
            st.add_row(name, s.description, what)
    for note in (*backends.notes(), *workloads.notes()):
        console.message(f"note: {note}", style="yellow")
    console.print_data(Group(be, wl, st))


def implementations(w: workloads.Workload) -> str:
    """Each implementation with the backends offering it: "portable (numpy, torch, …);
    native (torch, tensorflow, jax); xla (tensorflow)"."""
    offered: dict[str, list[str]] = {}
    for b in backends.names():
        native = w.natives.get(b)
        devices = native.devices if native is not None else None
        for impl in w.impls_for(b):
            where = f" on {'/'.join(devices)}" if impl == "native" and devices else ""
            offered.setdefault(impl, []).append(b + where)
    return "; ".join(f"{impl} ({', '.join(names)})" for impl, names in offered.items())
