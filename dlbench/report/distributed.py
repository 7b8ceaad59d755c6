"""Distributed results as nccl-tests shows them: per collective and world size, one row
per message size with time, algbw, busbw and #wrong; and per training step, samples/s
and scaling efficiency. Rows are computed once; terminal and Markdown are views."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

from dlbench.report.cells import format_time
from dlbench.results import Result


@dataclass(frozen=True)
class Row:
    workload: str
    world_size: int
    size: str  # the message size (collectives) or the batch per rank (training steps)
    dtype: str
    impl: str
    status: str
    time: str
    figures: str  # algbw/busbw in GB/s, or samples/s and scaling efficiency
    wrong: str


def is_distributed(result: Result) -> bool:
    return result.distributed is not None or "ranks" in result.spec.param_dict


def format_bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def rows(results: Iterable[Result]) -> list[Row]:
    """One row per distributed result, ordered by workload, world size, dtype, size."""
    out = []
    for r in results:
        if not is_distributed(r):
            continue
        p = r.spec.param_dict
        d = r.distributed or {}
        size = format_bytes(int(r.bytes or p.get("bytes", 0))) if "bytes" in p else (
            f"batch {p.get('batch')}/rank")
        if "busbw_gbytes_per_s" in d:
            figures = (f"algbw {d['algbw_gbytes_per_s']:.3g} GB/s, "
                       f"busbw {d['busbw_gbytes_per_s']:.3g} GB/s")
        elif "samples_per_s" in d:
            eff = d.get("scaling_efficiency") or {}
            figures = f"{d['samples_per_s']:.4g} samples/s"
            if eff:
                lo, hi = eff["ci95"]
                figures += f", efficiency {eff['value']:.2f} [{lo:.2f}, {hi:.2f}]"
        else:
            figures = r.error or ""
        wrong = str(r.verify["wrong"]) if r.verify and "wrong" in r.verify else "–"
        out.append(Row(r.spec.workload, int(p.get("ranks", d.get("world_size", 0))), size,
                       r.spec.dtype, r.spec.impl, r.status,
                       format_time(r.median) if r.median else "–", figures, wrong))
    return sorted(out, key=lambda row: (row.workload, row.world_size, row.dtype, row.impl))


HEADER = ("workload", "ranks", "size", "dtype", "impl", "status", "time", "bandwidth / rate",
          "#wrong")


def render_terminal(table_rows: Sequence[Row], title: str = "distributed results") -> Table:
    t = Table(title=Text(title))
    for name in HEADER:
        t.add_column(name, justify="right" if name in ("size", "time", "#wrong") else "left")
    for row in table_rows:
        style = "" if row.status == "ok" else "red"
        t.add_row(*(Text(str(v), style=style) for v in (
            row.workload, row.world_size, row.size, row.dtype, row.impl, row.status,
            row.time, row.figures, row.wrong)))
    return t


def render_markdown(table_rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in table_rows:
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in (
            row.workload, row.world_size, row.size, row.dtype, row.impl, row.status,
            row.time, row.figures, row.wrong)) + " |")
    return "\n".join(lines) + "\n"
