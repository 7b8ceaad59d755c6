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
from dlbench.report.cells import format_flops
from dlbench.report.distributed import format_bytes
from dlbench.report.model import Report
from dlbench.report.roofline import roofline
from dlbench.report.rows import across_ranks
from dlbench.report.sweeps import find_sweeps

CHARTS = ("throughput", "speedup", "bars", "roofline")
# Drawn only when the report holds collectives (a distributed run's results).
BUSBW = "busbw"
ROUNDS = "rounds"
# Rows a rounds chart shows at most: the unstable ones first, then in table order.
MAX_ROUND_PANELS = 12
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
    """Plain numbers (256, 1024) at the major ticks of a log₂ size axis."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _plain_number(x: float) -> str:
    return f"{x:,.0f}" if x >= 1000 else f"{x:.3g}"


def _log_ticks(axis: Any, decades: float = 2) -> None:
    """A log axis labelled in plain numbers (0.5, 2, 300) rather than 5×10⁻¹ and 3×10²,
    with some minor ticks labelled where it spans at most `decades` decades, and all
    where it spans under half of one (matplotlib's own rule for which minor ticks to
    label): a short axis then still has more than one label. A horizontal axis, whose
    labels are wide, takes decades=1."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return _plain_number(x)

    axis.set_major_formatter(Plain())
    axis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(decades, 0.4)))


def _fit(text: str, width_inches: float, points: float = 10.8) -> str:
    """`text` wrapped to lines that fit `width_inches` at a font of `points` (a title
    wider than its figure is cut at both ends). A character is about 0.55 em wide."""
    import textwrap

    return textwrap.fill(_safe(text), max(int(width_inches * 72 / (points * 0.55)), 20))


def require(fmt: str) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"--format {fmt} draws charts with matplotlib, which is not "
                         f"installed: {INSTALL}")


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def _axes(parent: Any, count: int, panel: tuple[float, float] = (6.4, 4.2)) -> list[Any]:
    """`count` axes in two columns on `parent` (a Figure or one part of a sheet)."""
    cols = 1 if count == 1 else 2
    rows = math.ceil(count / cols)
    axes = parent.subplots(rows, cols, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    return axes[:count]


def _figure(count: int, panel: tuple[float, float] = (6.4, 4.2)) -> Any:
    """A figure sized for `count` panels in two columns."""
    from matplotlib.figure import Figure

    cols = 1 if count == 1 else 2
    rows = math.ceil(count / cols)
    return Figure(figsize=(panel[0] * cols, panel[1] * rows), layout="constrained")


def _plottable(*values: Any) -> bool:
    """Whether the values can stand on a log axis: numbers, finite and positive (a file may
    hold rates so extreme that a ratio of them overflows)."""
    return all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values)


def _label(report: Report, machine: str, column: str) -> str:
    return column if len(report.machines) == 1 else f"{machine}: {column}"


def _colours(report: Report) -> dict[str, str]:
    """One colour per column label, the same in every chart, in the tables' column order."""
    labels = [_label(report, v.machine.label, c) for v in report.machines
              for c in v.table.columns]
    return {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}


def _errors(speedup: tuple[float, float, float]) -> tuple[float, float]:
    point, lo, hi = speedup
    # A bootstrap interval need not contain its point estimate.
    return max(point - lo, 0.0), max(hi - point, 0.0)


def _series(report: Report, value: str) -> dict[str, dict[str, Any]]:
    """sweep title -> {"size": size names, "lines": {label: (xs, ys, yerr)}}, for the
    sweeps of two sizes or more: a size axis with one point says nothing."""
    out: dict[str, dict[str, Any]] = {}
    for view in report.machines:
        table = view.table
        for sweep in find_sweeps(table.rows):
            if len(sweep.points) < 2:
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
                        xs.append(p.size)
                        ys.append(cell.speedup[0])
                        errs.append(_errors(cell.speedup))
                if xs:
                    entry["lines"][_label(report, view.machine.label, column)] = (xs, ys, errs)
    return {title: e for title, e in out.items() if e["lines"]}


def _nothing(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"nothing to plot: {what}", ha="center", va="center",
            transform=ax.transAxes)
    ax.set_axis_off()


def _width(parent: Any) -> float:
    """The width in inches of a figure, or of a part of a sheet."""
    return float(parent.get_figure(root=True).get_figwidth()
                 * (parent.bbox.width / parent.get_figure(root=True).bbox.width))


def _line_chart(parent: Any, series: dict[str, dict[str, Any]], ylabel: str, title: str,
                unity: bool, colours: dict[str, str]) -> None:
    axes = _axes(parent, max(len(series), 1))
    panel = _width(parent) / (1 if len(axes) == 1 else 2)
    if not series:
        _nothing(axes[0], "no workload was measured at two sizes or more")
    for ax, (sweep, entry) in zip(axes, series.items(), strict=False):
        for label, (xs, ys, errs) in entry["lines"].items():
            yerr = [[e[0] for e in errs], [e[1] for e in errs]]
            ax.errorbar(xs, ys, yerr=yerr if unity else None, marker="o", capsize=3,
                        label=_safe(label), color=colours.get(label))
        if unity:
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xscale("log", base=2)  # sizes are usually powers of two
        _plain_ticks(ax.xaxis)
        ax.set_yscale("log")
        _log_ticks(ax.yaxis)
        ax.set_xlabel(_safe(f"problem size ({entry['size'] or 'size'})"))
        ax.set_ylabel(_safe(ylabel))
        ax.set_title(_fit(sweep, panel * 0.6))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    parent.suptitle(_fit(title, _width(parent)))


def _single_sizes(report: Report) -> list[tuple[str, list[str], dict[str, list[Any]], str]]:
    """Per machine: (machine label, group labels, {column: [speedup or None per group]},
    the one dtype of every group or "") of the workloads measured at one size only."""
    out = []
    for view in report.machines:
        table = view.table
        sweeps = [s for s in find_sweeps(table.rows) if len(s.points) == 1
                  and any(c.speedup for col, c in s.points[0].row.cells.items()
                          if col != table.baseline)]
        dtypes = {s.dtype for s in sweeps}
        groups = [s.workload if len(dtypes) == 1 else f"{s.workload} {s.dtype}"
                  for s in sweeps]
        bars: dict[str, list[Any]] = {}
        for column in table.columns:
            if column == table.baseline:
                continue
            values = []
            for s in sweeps:
                cell = s.points[0].row.cells.get(column)
                ok = cell is not None and cell.speedup and _plottable(*cell.speedup)
                values.append(cell.speedup if ok else None)
            if any(v is not None for v in values):
                bars[column] = values
        if bars:
            out.append((view.machine.label, groups, bars,
                        next(iter(dtypes)) if len(dtypes) == 1 else ""))
    return out


def _bar_chart(parent: Any, report: Report) -> None:
    """Workloads measured at one size: the speedup of every column over the baseline as
    grouped bars, with their intervals as whiskers, on a log scale (a 270× win and a
    0.8× loss both stay readable)."""
    found = _single_sizes(report)
    colours = _colours(report)
    axes = _axes(parent, max(len(found), 1))
    if not found:
        _nothing(axes[0], "no workload was measured at a single size")
    for ax, (machine, groups, bars, dtype) in zip(axes, found, strict=False):
        width = 0.8 / len(bars)
        for i, (column, values) in enumerate(bars.items()):
            xs = [g + (i - (len(bars) - 1) / 2) * width for g, v in enumerate(values)
                  if v is not None]
            kept = [v for v in values if v is not None]
            errs = [_errors(v) for v in kept]
            ax.bar(xs, [v[0] for v in kept], width=width * 0.95, label=_safe(column),
                   color=colours.get(_label(report, machine, column)),
                   yerr=[[e[0] for e in errs], [e[1] for e in errs]], capsize=2,
                   error_kw={"linewidth": 0.8})
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        _log_ticks(ax.yaxis)
        ax.set_xticks(range(len(groups)), [_safe(g) for g in groups], fontsize=6.5,
                      rotation=30, ha="right", rotation_mode="anchor")
        ax.set_ylabel(_safe(f"speedup over {report.baseline}"))
        note = f" ({dtype})" if dtype else ""
        ax.set_title(_fit(f"one size per workload: {machine}{note}"
                          if len(report.machines) > 1
                          else f"workloads measured at one size{note}",
                          _width(parent) / (1 if len(axes) == 1 else 2) * 0.6))
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    parent.suptitle(_fit(f"speedup over {report.baseline} (95% bootstrap interval)",
                         _width(parent)))


def _roofs(roof: Any, lo: float, hi: float) -> list[tuple[str, list[float], list[float]]]:
    """Each roof as one line: per device and dtype the lower of its compute roof and its
    device's bandwidth roof (min(peak, bandwidth × intensity)), as a roofline is drawn; a
    bandwidth roof with no compute roof stays a slope, a compute roof with no bandwidth roof
    flat."""
    import numpy as np

    xs = np.geomspace(lo, hi, 200)
    lines = []
    slopes = {label.split(" ")[0]: (label, bw) for label, bw in roof.bandwidth
              if _plottable(bw * lo, bw * hi)}
    used = set()
    for label, flops in roof.compute:
        if not _plottable(flops):
            continue
        device, dtype = label.split(" ")[:2]
        name = f"{device} {dtype} roof: {format_flops(flops)} peak"
        if device in slopes:
            used.add(device)
            ys = np.minimum(flops, slopes[device][1] * xs)
            lines.append((f"{name}, {_bandwidth(slopes[device][1])}", xs.tolist(), ys.tolist()))
        else:
            lines.append((name, [lo, hi], [flops, flops]))
    for device, (_, bw) in slopes.items():
        if device not in used:
            lines.append((f"{device} roof: {_bandwidth(bw)} measured", xs.tolist(),
                          (bw * xs).tolist()))
    return lines


def _bandwidth(bytes_per_s: float) -> str:
    return (f"{bytes_per_s / 1e12:.3g} TB/s" if bytes_per_s >= 1e12
            else f"{bytes_per_s / 1e9:.3g} GB/s")


def _case_names(view: Any) -> dict[str, str]:
    """Each row's short name on a chart, keyed as roofline points name their case
    ("workload params dtype"): the workload, and its size where it was measured at
    several."""
    names = {}
    sweeps = find_sweeps(view.table.rows)
    dtypes: dict[str, set[str]] = {}
    for sweep in sweeps:
        dtypes.setdefault(sweep.workload, set()).add(sweep.dtype)
    for sweep in sweeps:
        for point in sweep.points:
            row = point.row
            name = f"{row.workload} {point.value}" if len(sweep.points) > 1 else row.workload
            if len(dtypes[row.workload]) > 1:  # the same workload in two dtypes
                name += f" {row.dtype}"
            names[f"{row.workload} {row.params} {row.dtype}"] = name
    return names


def _roofline_chart(parent: Any, report: Report) -> None:
    """Achieved GFLOP/s against arithmetic intensity, each case named beside its highest
    point, under the machine's roofs. Where a compute peak is unknown (a VM that reports
    no maximum clock) the highest rate measured is drawn instead, and said to be."""
    colours = _colours(report)
    axes = _axes(parent, len(report.machines))
    for ax, view in zip(axes, report.machines, strict=True):
        roof = roofline(view)
        points = [p for p in roof.points if _plottable(p.intensity, p.flops_per_s)]
        for column in dict.fromkeys(p.column for p in points):
            pts = [p for p in points if p.column == column]
            ax.scatter([p.intensity for p in pts], [p.flops_per_s / 1e9 for p in pts],
                       label=_safe(column), s=18, zorder=3,
                       color=colours.get(_label(report, view.machine.label, column)))
        xs = [p.intensity for p in points] or [1.0]
        lo, hi = min(xs) / 4, max(xs) * 4
        if not _plottable(lo, hi):
            lo, hi = 0.25, 4.0
        # Roofs are named in the legend, outside the plot: labels on the lines collide
        # where roofs run close (a float32 and a bfloat16 peak, a slope under a peak).
        for label, lx, ly in _roofs(roof, lo, hi):
            ax.plot(lx, [y / 1e9 for y in ly], linewidth=1.4, label=_safe(label),
                    color="black" if "peak" in label else "tab:gray",
                    linestyle="-" if "peak" in label else "--")
        _highest_measured(ax, roof, points, lo, hi)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_ticks(ax.xaxis, decades=1)
        _log_ticks(ax.yaxis)
        ax.set_xlim(lo, hi)
        rates = [p.flops_per_s / 1e9 for p in points]
        if rates and not roof.compute:  # no peak to show: the points fill the plot
            ax.set_ylim(min(rates) / 3, max(rates) * 3)
        ax.set_xlabel("arithmetic intensity (FLOP / byte)")
        ax.set_ylabel("achieved GFLOP/s")
        panel = _width(parent) / (1 if len(axes) == 1 else 2)
        ax.set_title(_fit(f"roofline: {view.machine.label}", panel))
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            # Below the plot: the roofs' names are long, and beside the plot they would
            # take the width the plot needs; in two columns where the panel is wide.
            ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                      ncol=2 if panel >= 5 else 1, frameon=False)
    # Names go where they do not overlap, once the layout has put each plot in its place.
    parent.get_figure(root=True).draw_without_rendering()
    for ax, view in zip(axes, report.machines, strict=True):
        points = [p for p in roofline(view).points if _plottable(p.intensity, p.flops_per_s)]
        _name_points(ax, points, _case_names(view))


def _name_points(ax: Any, points: list[Any], names: dict[str, str]) -> None:
    """Each case's name once, beside its highest point (the columns of one case share its
    intensity and stand one above the other). Called once the axes' limits are set: a
    name that would overlap one already placed moves below or above its point, as far as
    it must."""
    best: dict[str, Any] = {}
    for p in points:
        if p.label not in best or p.flops_per_s > best[p.label].flops_per_s:
            best[p.label] = p
    placed: list[tuple[float, float, float, float]] = []
    height = 7.0  # points: a 6-point font and a little air
    for label, p in sorted(best.items(), key=lambda item: -item[1].flops_per_s):
        text = _safe(names.get(label, label.split(" ")[0]))
        x, y = ax.transData.transform((p.intensity, p.flops_per_s / 1e9))
        scale = ax.figure.dpi / 72  # display pixels per point
        width = len(text) * 3.4 * scale
        # Left of the point where the name would run past the plot's right edge.
        dx = 4.0 if x + (4 * scale + width) <= ax.bbox.x1 else -4.0 - width / scale
        for dy in (3, -10, 10, -17, 17, -24, 24, -31, 31):
            box = (x + dx * scale, y + dy * scale, x + dx * scale + width,
                   y + (dy + height) * scale)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in placed):
                break
        placed.append(box)
        ax.annotate(text, (p.intensity, p.flops_per_s / 1e9), xytext=(dx, dy),
                    textcoords="offset points", fontsize=6, color="0.25", zorder=4)


def _highest_measured(ax: Any, roof: Any, points: list[Any], lo: float, hi: float) -> None:
    """For each device whose compute peak is unknown, a dotted line at the highest rate
    measured there, and the reason in the legend: the roof is at least that high."""
    for unknown in roof.unknown:
        if not unknown.startswith("compute roof ("):
            ax.plot([], [], " ", label=_safe(unknown.split(" — ")[0]))
            continue
        device, dtype = unknown.removeprefix("compute roof (").split(")")[0].split(" ")[:2]
        rates = [p.flops_per_s for p in points
                 if f"-{device}" in p.column and p.label.rsplit(" ", 1)[-1] == dtype]
        if not rates:
            continue
        top = max(rates) / 1e9
        ax.plot([lo, hi], [top, top], linestyle=":", color="black", linewidth=1.0,
                label=_safe(f"{device} {dtype} peak unknown; highest measured "
                            f"{_plain_number(top)} GFLOP/s"))


def charts(report: Report) -> tuple[str, ...]:
    """The charts this report gets: CHARTS, busbw when it holds collectives, and rounds
    when its results were measured in rounds."""
    return (CHARTS + ((BUSBW,) if busbw_series(report) else ())
            + ((ROUNDS,) if round_series(report) else ()))


def round_series(report: Report) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """row title -> {column label: (round start in the run (s), round median (ms))}, for
    the rows measured in rounds; rows with an unstable case first (their title says so),
    at most MAX_ROUND_PANELS."""
    rows: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    unstable: set[str] = set()
    for view in report.machines:
        for row in view.table.rows:
            for column, cell in row.cells.items():
                r = cell.result
                if r.status != "ok" or len(r.rounds) < 2:
                    continue
                title = f"{row.workload} {row.params} {row.dtype}"
                if len(report.machines) > 1:
                    title = f"{view.machine.label}: {title}"
                medians = r.round_medians()
                points = sorted((rd.start_s, medians[rd.index] * 1e3) for rd in r.rounds
                                if _plottable(medians[rd.index]))
                rows.setdefault(title, {})[_label(report, view.machine.label, column)] = (
                    [x for x, _ in points], [y for _, y in points])
                if "unstable" in r.warnings:
                    unstable.add(title)
    order = sorted(rows, key=lambda t: t not in unstable)[:MAX_ROUND_PANELS]
    return {(f"{t} (unstable)" if t in unstable else t): rows[t] for t in order}


def _rounds_chart(parent: Any, report: Report) -> None:
    series = round_series(report)
    axes = _axes(parent, max(len(series), 1))
    panel = _width(parent) / (1 if len(axes) == 1 else 2)
    colours = _colours(report)
    for ax, (title, lines) in zip(axes, series.items(), strict=False):
        for label, (xs, ys) in lines.items():
            ax.plot(xs, ys, marker="o", markersize=3, label=_safe(label),
                    color=colours.get(label))
        ax.set_xlabel("time into the run (s)")
        ax.set_ylabel("round median (ms)")
        ax.set_title(_fit(title, panel * 0.6))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    parent.suptitle(_fit("each round's median through the run: drift shows as a slope "
                         "or a step", _width(parent)))


def busbw_series(report: Report) -> dict[str, tuple[list[int], list[float]]]:
    """label -> (message sizes, busbw GB/s), one line per machine (when several),
    collective, world size and dtype; measured (ok) points only, by size."""
    lines: dict[str, list[tuple[int, float]]] = {}
    for view in report.machines:
        for r in view.results:
            d = r.distributed or {}
            busbw, size = d.get("busbw_gbytes_per_s"), r.spec.param_dict.get("bytes")
            if not across_ranks(r) or r.status != "ok" or not _plottable(size, busbw):
                continue
            label = f"{r.spec.workload}, {d.get('world_size', '?')} ranks, {r.spec.dtype}"
            if len(report.machines) > 1:
                label = f"{view.machine.label}: {label}"
            lines.setdefault(label, []).append((int(size), float(busbw)))
    return {label: ([s for s, _ in sorted(points)], [b for _, b in sorted(points)])
            for label, points in sorted(lines.items())}


def _busbw_chart(parent: Any, report: Report) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    [ax] = _axes(parent, 1)
    for label, (sizes, busbw) in busbw_series(report).items():
        ax.plot(sizes, busbw, marker="o", label=_safe(label))
    ax.set_xscale("log", base=2)  # nccl-tests' sweeps double the size
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _: format_bytes(int(v)) if v >= 1 and float(v).is_integer() else ""))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_yscale("log")
    _log_ticks(ax.yaxis)
    ax.set_xlabel("message size")
    ax.set_ylabel("busbw (GB/s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    parent.suptitle(_fit("bus bandwidth against message size (nccl-tests' busbw)",
                         _width(parent)))


def _draw(name: str, parent: Any, report: Report) -> None:
    baseline = report.baseline
    if name == "throughput":
        _line_chart(parent, _series(report, "gflops"), "GFLOP/s",
                    "throughput against problem size", unity=False, colours=_colours(report))
    elif name == "speedup":
        _line_chart(parent, _series(report, "speedup"), f"speedup over {baseline}",
                    f"speedup over {baseline} against problem size (95% bootstrap interval)",
                    unity=True, colours=_colours(report))
    elif name == "bars":
        _bar_chart(parent, report)
    elif name == BUSBW:
        _busbw_chart(parent, report)
    elif name == ROUNDS:
        _rounds_chart(parent, report)
    else:
        _roofline_chart(parent, report)


def _panels(name: str, report: Report) -> int:
    if name == "throughput":
        return max(len(_series(report, "gflops")), 1)
    if name == "speedup":
        return max(len(_series(report, "speedup")), 1)
    if name == "bars":
        return max(len(_single_sizes(report)), 1)
    if name == BUSBW:
        return 1
    if name == ROUNDS:
        return max(len(round_series(report)), 1)
    return len(report.machines)


def _save(fig: Any, fmt: str, dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def render(report: Report, fmt: str) -> dict[str, bytes]:
    """Each chart of charts(report) as a file's bytes; fmt is "png" or "svg"."""
    require(fmt)
    out = {}
    with _style():
        for name in charts(report):
            panel = (7.2, 4.2) if name == "bars" else (6.4, 4.2)
            fig = _figure(_panels(name, report), panel)
            _draw(name, fig, report)
            out[name] = _save(fig, fmt)
    return out


# A 16:9 slide at 1920 × 1080 pixels.
SHEET_INCHES = (16.0, 9.0)
SHEET_DPI = 120


def sheet(report: Report) -> bytes:
    """Every chart on one PNG sized for a slide: `report -o FILE.png`."""
    require("png")
    from matplotlib.figure import Figure

    with _style():
        fig = Figure(figsize=SHEET_INCHES, layout="constrained")
        machines = ", ".join(v.machine.label for v in report.machines)
        fig.suptitle(_safe(f"dlbench report: {machines}"), fontsize=12)
        names = charts(report)
        parts = fig.subfigures(2, math.ceil(len(names) / 2)).ravel()
        for name, part in zip(names, parts, strict=False):
            _draw(name, part, report)
        return _save(fig, "png", SHEET_DPI)
