"""Charts with matplotlib (imported lazily, only when a chart is made): throughput against
problem size, speedup against the baseline, and a roofline per machine."""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dlbench.errors import UsageError
from dlbench.report.model import Report
from dlbench.report.roofline import roofline
from dlbench.report.sweeps import find_sweeps

CHARTS = ("throughput", "speedup", "roofline")
INSTALL = "pip install 'dlbench[report]' (or: pip install matplotlib)"
RC = {
    "svg.hashsalt": "dlbench",  # the same report gives the same SVG ids
    "svg.fonttype": "path",  # text as outlines: no fonts needed where the file is opened
    "font.size": 9,
}


def _safe(text: str) -> str:
    """Text from a result file, shown as written: matplotlib would read '$...$' as math."""
    return text.replace("$", r"\$")


def _plain_ticks(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def require(fmt: str) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"--format {fmt} draws charts with matplotlib, which is not "
                         f"installed: {INSTALL}")


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def _axes(count: int) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    cols = 1 if count == 1 else 2
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(6.4 * cols, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    return fig, axes[:count]


def _plottable(*values: Any) -> bool:
    """Whether the values can stand on a log axis: numbers, finite and positive (a file may
    hold rates so extreme that a ratio of them overflows)."""
    return all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values)


def _label(report: Report, machine: str, column: str) -> str:
    return column if len(report.machines) == 1 else f"{machine}: {column}"


def _series(report: Report, value: str) -> dict[str, dict[str, Any]]:
    """sweep title -> {"size": size names, "lines": {label: (xs, ys, yerr)}}."""
    out: dict[str, dict[str, Any]] = {}
    for view in report.machines:
        table = view.table
        for sweep in find_sweeps(table.rows):
            if not sweep.size_names:  # one size, no sweep: nothing to put on a size axis
                continue
            entry = out.setdefault(sweep.title, {"size": sweep.size_names, "lines": {}})
            for column in table.columns:
                xs, ys, errs = [], [], []
                for p in sweep.points:
                    cell = p.row.cells.get(column)
                    if cell is None or cell.result.status != "ok":
                        continue
                    if value == "gflops" and _plottable(p.size, cell.result.gflops):
                        xs.append(p.size)
                        ys.append(cell.result.gflops)
                        errs.append((0.0, 0.0))
                    elif (value == "speedup" and cell.speedup and column != table.baseline
                          and _plottable(p.size, *cell.speedup)):
                        point, lo, hi = cell.speedup
                        xs.append(p.size)
                        ys.append(point)
                        # A bootstrap interval need not contain its point estimate.
                        errs.append((max(point - lo, 0.0), max(hi - point, 0.0)))
                if xs:
                    entry["lines"][_label(report, view.machine.label, column)] = (xs, ys, errs)
    return {title: e for title, e in out.items() if e["lines"]}


def _line_chart(series: dict[str, dict[str, Any]], ylabel: str, title: str,
                unity: bool) -> Any:
    fig, axes = _axes(max(len(series), 1))
    if not series:
        axes[0].text(0.5, 0.5, "nothing to plot: no measured results with these numbers",
                     ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_axis_off()
    for ax, (sweep, entry) in zip(axes, series.items(), strict=False):
        for label, (xs, ys, errs) in entry["lines"].items():
            yerr = [[e[0] for e in errs], [e[1] for e in errs]]
            ax.errorbar(xs, ys, yerr=yerr if unity else None, marker="o", capsize=3,
                        label=_safe(label))
        if unity:
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xscale("log", base=2)  # sizes are usually powers of two
        _plain_ticks(ax.xaxis)
        ax.set_yscale("log")
        ax.set_xlabel(_safe(f"problem size ({entry['size'] or 'size'})"))
        ax.set_ylabel(_safe(ylabel))
        ax.set_title(_safe(sweep))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(_safe(title))
    return fig


def _roofline_chart(report: Report) -> Any:
    fig, axes = _axes(len(report.machines))
    for ax, view in zip(axes, report.machines, strict=True):
        roof = roofline(view)
        points = [p for p in roof.points if _plottable(p.intensity, p.flops_per_s)]
        for column in dict.fromkeys(p.column for p in points):
            pts = [p for p in points if p.column == column]
            ax.scatter([p.intensity for p in pts], [p.flops_per_s for p in pts],
                       label=_safe(column))
        xs = [p.intensity for p in points] or [1.0]
        lo, hi = min(xs) / 4, max(xs) * 4
        if not _plottable(lo, hi):
            lo, hi = 0.25, 4.0
        for label, flops in roof.compute:
            if not _plottable(flops):
                continue
            ax.axhline(flops, color="tab:red", linewidth=1.2)
            ax.annotate(_safe(label), (lo, flops), va="bottom", fontsize=7, color="tab:red")
        for label, bandwidth in roof.bandwidth:
            if not _plottable(bandwidth * lo, bandwidth * hi):
                continue
            ax.plot([lo, hi], [bandwidth * lo, bandwidth * hi], color="tab:gray", linewidth=1.2)
            ax.annotate(_safe(label), (lo, bandwidth * lo), va="bottom", fontsize=7,
                        color="tab:gray")
        if roof.unknown:
            ax.text(0.98, 0.02, _safe("\n".join(u.split(" — ")[0] for u in roof.unknown)),
                    ha="right", va="bottom", fontsize=7, transform=ax.transAxes)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("arithmetic intensity (FLOP / byte)")
        ax.set_ylabel("achieved FLOP/s")
        ax.set_title(_safe(f"roofline: {view.machine.label}"))
        ax.grid(True, which="both", alpha=0.3)
        if points:
            ax.legend(fontsize=8, loc="upper left")
    return fig


def render(report: Report, fmt: str) -> dict[str, bytes]:
    """Each chart of CHARTS as a file's bytes; fmt is "png" or "svg"."""
    require(fmt)
    with _style():
        baseline = report.baseline
        figures = {
            "throughput": _line_chart(_series(report, "gflops"), "GFLOP/s",
                                      "throughput against problem size", unity=False),
            "speedup": _line_chart(_series(report, "speedup"), f"speedup over {baseline}",
                                   f"speedup over each machine's {baseline} "
                                   "(95% bootstrap interval)", unity=True),
            "roofline": _roofline_chart(report),
        }
        out = {}
        for name, fig in figures.items():
            buf = io.BytesIO()
            metadata = {"Date": None} if fmt == "svg" else {}
            fig.savefig(buf, format=fmt, dpi=150, metadata=metadata)
            out[name] = buf.getvalue()
    return out
