"""Distributed results as nccl-tests shows them: per collective and world size, busbw
against message size (time, algbw, busbw, #wrong per size); and per data-parallel step,
samples/s and scaling efficiency with its interval. Rows are computed once; the
terminal and Markdown tables are views of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from rich.console import Group
from rich.table import Table
from rich.text import Text

from dlbench.report.cells import format_time, markdown_cell
from dlbench.report.model import Report
from dlbench.report.rows import across_ranks
from dlbench.results import Result

COLLECTIVE_HEADER = ("collective", "ranks", "dtype", "size", "time", "algbw GB/s",
                     "busbw GB/s", "#wrong", "status")
BUSBW_NOTE = ("busbw = algbw × 2(n−1)/n (all-reduce), (n−1)/n (all-gather, reduce-scatter), "
              "1 (broadcast): comparable with the link's bandwidth at any rank count")
# The columns shown right-aligned (numbers), the same in both tables.
NUMERIC = frozenset({1, 3, 4, 5, 6, 7})
STEP_HEADER = ("ddp step", "ranks", "dtype", "batch/rank", "step time", "samples/s",
               "scaling efficiency [95% CI]", "#wrong", "status")


@dataclass(frozen=True)
class Tables:
    collectives: list[tuple[str, ...]]
    steps: list[tuple[str, ...]]

    def __bool__(self) -> bool:
        return bool(self.collectives or self.steps)


def format_bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _num(value: object, fmt: str = ".3g") -> str:
    return format(value, fmt) if isinstance(value, int | float) else "–"


def tables(results: Iterable[Result]) -> Tables:
    """The rows, each table ordered by workload, world size, dtype, then size."""
    collectives, steps = [], []
    for r in results:
        if not across_ranks(r):
            continue
        p, d = r.spec.param_dict, r.distributed or {}
        ranks = p.get("ranks", d.get("world_size", 0))
        wrong = str(r.verify["wrong"]) if r.verify and "wrong" in r.verify else "–"
        time = format_time(r.median) if r.median else "–"
        status = r.status if r.status == "ok" else f"{r.status}: {r.error or ''}"
        if "bytes" in p:
            size = int(r.bytes or p["bytes"])
            collectives.append(((r.spec.workload, ranks, r.spec.dtype, size), (
                r.spec.workload, str(ranks), r.spec.dtype, format_bytes(size), time,
                _num(d.get("algbw_gbytes_per_s")), _num(d.get("busbw_gbytes_per_s")),
                wrong, status)))
        else:
            eff = d.get("scaling_efficiency")
            efficiency = (f"{eff['value']:.2f} [{eff['ci95'][0]:.2f}, {eff['ci95'][1]:.2f}]"
                          if eff else "–")
            steps.append(((r.spec.impl, ranks, r.spec.dtype, p.get("batch", 0)), (
                f"{r.spec.impl}", str(ranks), r.spec.dtype, str(p.get("batch")), time,
                _num(d.get("samples_per_s"), ".4g"), efficiency, wrong, status)))
    return Tables([row for _, row in sorted(collectives, key=lambda kv: kv[0])],
                  [row for _, row in sorted(steps, key=lambda kv: kv[0])])


def render_terminal(t: Tables, title: str = "distributed results") -> Group:
    parts = []
    for header, rows, name in ((COLLECTIVE_HEADER, t.collectives, "collectives"),
                               (STEP_HEADER, t.steps, "data-parallel training steps")):
        if not rows:
            continue
        table = Table(title=Text(f"{title}: {name}"))
        for column in header:
            table.add_column(column, justify="left" if column in (
                "collective", "ddp step", "dtype", "status") else "right")
        for row in rows:
            table.add_row(*(Text(cell, style="" if row[-1] == "ok" else "red")
                            for cell in row))
        parts.append(table)
    if t.collectives:
        parts.append(Text(BUSBW_NOTE, style="dim"))
    return Group(*parts)


def report_tables(report: Report) -> Tables:
    """A report's tables: each machine's rows are labelled with it when there are
    several."""
    parts = [(v.machine.label, v.results) for v in report.machines]
    if len(parts) == 1:
        return tables(parts[0][1])
    collectives, steps = [], []
    for machine, rs in parts:
        t = tables(rs)
        collectives += [(f"{machine}: {row[0]}", *row[1:]) for row in t.collectives]
        steps += [(f"{machine}: {row[0]}", *row[1:]) for row in t.steps]
    return Tables(collectives, steps)


def render_html(t: Tables) -> str:
    """The tables as HTML (escaped), with the busbw note."""
    out = []
    for header, rows, name in ((COLLECTIVE_HEADER, t.collectives, "collectives"),
                               (STEP_HEADER, t.steps, "data-parallel training steps")):
        if not rows:
            continue
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f'<td class="{"num" if i in NUMERIC else "text"}'
                             f'{"" if row[-1] == "ok" else " wrong"}">{escape(c)}</td>'
                             for i, c in enumerate(row)) + "</tr>" for row in rows)
        out.append(f"<h3>{escape(name)}</h3><table><thead><tr>{head}</tr></thead>"
                   f"<tbody>{body}</tbody></table>")
    if t.collectives:
        out.append(f'<p class="note">{escape(BUSBW_NOTE)}</p>')
    return "".join(out)


def render_markdown(t: Tables) -> str:
    """The tables as GitHub Markdown, every cell escaped, with the busbw note."""
    out = []
    for header, rows in ((COLLECTIVE_HEADER, t.collectives), (STEP_HEADER, t.steps)):
        if not rows:
            continue
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
        out.append("")
    if t.collectives:
        out += [f"- {markdown_cell(BUSBW_NOTE)}", ""]
    return "\n".join(out)
