"""Trend charts of a history, one per benchmark and machine, and the HTML page holding them.

Each chart plots a series' medians run by run, the level (median) of each stretch between
change points as a flat line, each change point as a dashed line labelled with its size
(red: slower, green: faster, grey: within the threshold), and each change of the machine's
setup (a library upgrade, another BLAS kernel or thread count) as a dotted line.
matplotlib is imported lazily.
"""

from __future__ import annotations

import base64
import re
import statistics
from html import escape
from typing import Any

from dlbench.history import History, Kind, Series
from dlbench.report import history as views
from dlbench.report import html as page
from dlbench.report import plots

SETUP_COLOUR = "#7b1fa2"
COLOURS = {Kind.SLOWER: "#c62828", Kind.FASTER: "#2e7d32", Kind.SMALL: "#888888"}
# Axis labels of at most this many runs; more would overlap.
MAX_TICKS = 12
PANEL = (7.0, 3.6)
CSS = "td.slower { color: #c62828; font-weight: bold; }\ntd.faster { color: #2e7d32; }\n"


def ordered(h: History) -> list[Series]:
    """Series with changes first (newest change first), then the rest in file order."""
    runs = {id(r): i for i, r in enumerate(h.runs)}

    def newest(s: Series) -> int:
        return max((runs[id(c.run)] for c in s.changes), default=-1)

    return sorted(h.series, key=lambda s: -newest(s))


def names(h: History) -> dict[int, str]:
    """id(series) -> a file name for its chart, unique and safe on every file system."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    several = len(h.machines) > 1
    for s in ordered(h):
        base = re.sub(r"[^A-Za-z0-9=,.+-]+", "_", s.benchmark).strip("_.") or "series"
        if several:
            base += f"@machine{[m.key for m in h.machines].index(s.machine.key) + 1}"
        name, n = base[:150], 2
        while name in taken:
            name, n = f"{base[:150]}-{n}", n + 1
        taken.add(name)
        out[id(s)] = name
    return out


def _levels(s: Series) -> list[tuple[int, int, float]]:
    """(first position, last position, median) of each stretch between change points."""
    cuts = [0, *(s.positions.index(c.at) for c in s.changes), len(s.values)]
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        out.append((s.positions[a], s.positions[b - 1], statistics.median(s.values[a:b])))
    return out


def unit(values: tuple[float, ...]) -> tuple[str, float]:
    """The time unit the largest value reads best in, and seconds per unit."""
    top = max(values)
    for name, size in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if top >= size:
            return name, size
    return "ns", 1e-9


def draw(ax: Any, s: Series, h: History) -> None:
    name, size = unit(s.values)
    ax.plot(s.positions, [v / size for v in s.values], marker="o", markersize=3.5,
            linewidth=0.8, color="C0")
    for first, last, level in _levels(s):
        ax.hlines(level / size, first - 0.4, last + 0.4, color="black", linewidth=1.4,
                  alpha=0.6)
    top = max(s.values) / size
    for c in s.changes:
        ax.axvline(c.at - 0.5, color=COLOURS[c.kind], linestyle="--", linewidth=1.2)
        ax.annotate(f"{views.change_text(c)}", (c.at - 0.5, top), textcoords="offset points",
                    xytext=(3, -10), color=COLOURS[c.kind], fontsize=8, fontweight="bold")
    for n, u in enumerate(h.setups.get(s.machine.key, ()), 1):
        ax.axvline(u.at - 0.5, color=SETUP_COLOUR, linestyle=":", linewidth=1.0)
        # Short: the change itself is listed under the chart, where it has room.
        note = ax.annotate(f"setup {n}", (u.at - 0.5, 0.03), xycoords=("data", "axes fraction"),
                           fontsize=6, color=SETUP_COLOUR, xytext=(2, 0),
                           textcoords="offset points", va="bottom")
        note.set_in_layout(False)
    runs = s.machine.runs
    step = max(1, -(-len(runs) // MAX_TICKS))
    ticks = list(range(0, len(runs), step))
    by_commit = len({r.commit for r in runs}) > 1
    ax.set_xticks(ticks)
    ax.set_xticklabels([plots._safe(_tick(runs[i], by_commit)) for i in ticks], rotation=30,
                       ha="right", fontsize=7)
    ax.set_xlim(-0.7, len(runs) - 0.3)
    ax.set_ylabel(f"median time per call ({name})")
    title = s.benchmark + (f"\n{s.machine.line}" if len(h.machines) > 1 else "")
    ax.set_title(plots._safe(title), fontsize=8)
    ax.grid(True, alpha=0.3)


def _tick(run: Any, by_commit: bool) -> str:
    """A run's axis label: its short commit and day where the runs' commits differ, else
    when it ran."""
    if by_commit and run.commit:
        return f"{run.commit[:7]} {run.created.strftime('%m-%d') if run.created else ''}"
    return run.created.strftime("%m-%d %H:%M") if run.created else run.path[-20:]


def render(h: History, fmt: str) -> dict[str, bytes]:
    """file name (no suffix) -> the chart's bytes, one per series; fmt is "png" or "svg"."""
    plots.require(fmt)
    from matplotlib.figure import Figure

    out = {}
    files = names(h)
    with plots._style():
        for s in ordered(h):
            fig = Figure(figsize=PANEL, layout="constrained")
            draw(fig.add_subplot(), s, h)
            out[files[id(s)]] = plots._save(fig, fmt)
    return out


def sheet(h: History) -> bytes:
    """Every series' chart on one PNG, two columns: `history -o FILE.png`."""
    plots.require("png")
    series = ordered(h)
    with plots._style():
        fig = plots._figure(len(series), PANEL)
        for ax, s in zip(plots._axes(fig, len(series)), series, strict=True):
            draw(ax, s, h)
        fig.suptitle(plots._safe(f"dlbench history: {views.headline(h)}"), fontsize=9)
        return plots._save(fig, "png", 110)


def render_html(h: History, svgs: dict[str, bytes]) -> str:
    """One self-contained page (report.html's policy: nothing fetched, no script): the
    headline, the changes, the setup changes, and every series' chart."""
    rows = []
    for c in h.changes:
        rows.append(
            f"<tr><td>{'<br>'.join(escape(line) for line in views.when(c))}</td>"
            f"<td>{escape(c.benchmark)}"
            + (f'<br><span class="note">{escape(c.machine)}</span>' if len(h.machines) > 1
               else "")
            + f'</td><td class="num {c.kind.value}">{escape(views.change_text(c))}<br>'
            f"{escape(views.interval(c))}</td><td class=\"num\">{escape(views.p_value(c))}"
            f"</td><td class=\"{c.kind.value}\">{escape(c.kind.value)}</td></tr>")
    table = ("<table><thead><tr><th>when</th><th>benchmark</th><th>change [95% interval]</th>"
             f"<th>p</th><th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
             if rows else "<p>No change point.</p>")
    files = names(h)
    figures = []
    for s in ordered(h):
        data = base64.b64encode(svgs[files[id(s)]]).decode("ascii")
        caption = s.benchmark + (f" · {s.machine.line}" if len(h.machines) > 1 else "") + (
            f" · {s.note}" if s.note else "") + "".join(
            f" · setup {n}: {u.text}" for n, u in enumerate(h.setups.get(s.machine.key, ()), 1))
        figures.append(f'<figure><img class="chart" alt="{escape(s.benchmark)} trend" '
                       f'src="data:image/svg+xml;base64,{data}"><figcaption>{escape(caption)}'
                       "</figcaption></figure>")
    extra = "".join(f'<p class="note">{escape(line.plain)}</p>'
                    for line in views.setup_lines(h))
    notes = "".join(f'<p class="note">note: {escape(n)}</p>' for n in views.notes(h))
    css = page.CSS + CSS
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{page.POLICY}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>dlbench history</title><style>{css}</style></head><body>\n"
            f"<h1>dlbench history</h1><p class=\"headline\">{escape(views.headline(h))}</p>"
            f"<h2>Change points, newest first</h2>{table}{extra}"
            f'<p class="note">{escape(views.legend(h))}</p>{notes}'
            f"<h2>Trends</h2>{''.join(figures)}\n</body></html>\n")
