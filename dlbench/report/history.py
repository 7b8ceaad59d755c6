"""Views of a `history.History`: the table of changes for the terminal, Markdown and JSON.

Every view shows the same rows, newest change first: when the new level began (its run's
time, commit and CI job, and the run before it, between which a bisection would look),
which benchmark on which machine, and how much: the ratio of the medians after and before
with its interval. The headline says whether the newest change is a regression, which is
what `dlbench history`'s exit code says.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dlbench.history import Change, History, Kind, Series
from dlbench.report.cells import format_time
from dlbench.report.markdown import escape
from dlbench.results import json_safe

SCHEMA = "dlbench.history"
SCHEMA_VERSION = 1
STYLE = {Kind.SLOWER: "bold red", Kind.FASTER: "green", Kind.SMALL: "dim"}
TESTS = {"t": "Student's t-test of the log medians", "u": "Mann-Whitney U test"}


def legend(h: History) -> str:
    return (f"A change point starts a new level of a benchmark's median (E-Divisive means, "
            f"{TESTS[h.settings.test]} at alpha); change = median of the runs after it / "
            "median of the runs before it, up to the neighbouring change points, with its 95% "
            "bootstrap interval; slower/faster beyond the threshold, small within it.")


def headline(h: History) -> str:
    """One line: how much was read, how many changes, and what the newest one is."""
    counted = sum(1 for s in h.series if s.changes)
    span = f"{len(h.runs)} runs on {len(h.machines)} machine(s), {len(h.series)} series"
    if not h.changes:
        return f"no change point · {span}"
    newest = h.newest
    kinds = ", ".join(f"{sum(c.kind is k for c in newest)} {k.value}" for k in Kind
                      if any(c.kind is k for c in newest))
    head = ("the newest change is a REGRESSION" if h.failed
            else "the newest change is no regression")
    return (f"{head} ({newest[0].run.label}: {kinds}) · {len(h.changes)} change point(s) in "
            f"{counted} series · {span} · threshold {h.threshold:.0%}, alpha {h.alpha:g}")


def when(c: Change) -> list[str]:
    """The lines saying when a new level began: the first run at it (time, then commit and
    CI job), and the run before it: the commit is shown where it differs, the range a
    bisection would search."""
    previous = f"after {c.before.when}"
    if c.before.commit and c.before.commit != c.run.commit:
        previous += f" · {c.before.commit}"
    return [c.run.when, *([c.run.origin] if c.run.origin else []), previous]


def change_text(c: Change) -> str:
    return f"{c.ratio - 1.0:+.1%}"


def interval(c: Change) -> str:
    return f"[{c.lo - 1.0:+.1%}, {c.hi - 1.0:+.1%}]"


def p_value(c: Change) -> str:
    return "<1e-6" if c.p < 1e-6 else f"{c.p:.2g}"


def levels(c: Change, series: Series) -> str:
    """'1.34 ms → 1.52 ms': the medians of the runs on either side."""
    at = series.positions.index(c.at)
    bounds = [0, *(series.positions.index(x.at) for x in series.changes), len(series.values)]
    i = bounds.index(at)
    before = statistics.median(series.values[bounds[i - 1]:at])
    after = statistics.median(series.values[at:bounds[i + 1]])
    return f"{format_time(before)} → {format_time(after)}"


def _series_of(h: History) -> dict[tuple[str, str], Series]:
    return {(s.benchmark, s.machine.line): s for s in h.series}


def render_table(h: History) -> Group:
    """The terminal view. Text, never str, for anything from a file: rich would read
    "[...]" as markup."""
    parts: list[RenderableType] = []
    several = len(h.machines) > 1
    by_key = _series_of(h)
    t = Table(title=Text("dlbench history: change points, newest first"), show_lines=True)
    t.add_column("from (first run of the new level)", overflow="fold")
    t.add_column("benchmark" + (" · machine" if several else ""), overflow="fold")
    t.add_column("change [95% interval]", justify="right")
    t.add_column("median before → after", justify="right")
    t.add_column("p", justify="right")
    t.add_column("verdict")
    for c in h.changes:
        lines = when(c)
        first = Text("\n".join(lines[:-1]))
        first.append(f"\n{lines[-1]}", style="dim")
        what = Text(c.benchmark)
        if several:
            what.append(f"\n{c.machine}", style="dim")
        t.add_row(first, what, Text(f"{change_text(c)}\n{interval(c)}"),
                  Text(levels(c, by_key[(c.benchmark, c.machine)])), Text(p_value(c)),
                  Text(c.kind.value, style=STYLE[c.kind]))
    if h.changes:
        parts.append(t)
    parts += setup_lines(h)
    parts.append(Text(headline(h), style="bold red" if h.failed else "bold"))
    parts.append(Text(legend(h), style="dim"))
    parts += [Text(f"note: {n}", style="dim") for n in notes(h)]
    return Group(*parts)


def setup_lines(h: History) -> list[Text]:
    """Where each machine's setup changed: libraries, BLAS kernel, threads, variables."""
    out = []
    for m in h.machines:
        for u in h.setups.get(m.key, ()):
            where = f" on {m.line}" if len(h.machines) > 1 else ""
            out.append(Text(f"setup changed{where} from {m.runs[u.at].label}: {u.text}",
                            style="yellow"))
    return out


def notes(h: History) -> list[str]:
    """The history's own notes, and the series too short to tell a change in."""
    short = [s for s in h.series if s.note]
    out = list(h.notes)
    if short:
        out.append(f"{len(short)} series too short to tell a change "
                   f"(a change needs {h.min_runs} runs on each side)")
    return out


def render_markdown(h: History) -> str:
    """For a CI job summary or an issue: the headline, then the table of changes."""
    several = len(h.machines) > 1
    by_key = _series_of(h)
    out = ["## dlbench history", "", f"**{escape(headline(h))}**", ""]
    if h.changes:
        out += ["| from | benchmark | change | 95% interval | median before → after | p "
                "| verdict |", "|---|---|---:|---:|---:|---:|---|"]
        for c in h.changes:
            verdict = f"**{c.kind.value}**" if c.regression else c.kind.value
            name = f"`{escape(c.benchmark)}`" + (f"<br>{escape(c.machine)}" if several else "")
            out.append("| " + " | ".join([
                "<br>".join(escape(line) for line in when(c)), name, change_text(c),
                interval(c), levels(c, by_key[(c.benchmark, c.machine)]), p_value(c),
                verdict]) + " |")
        out.append("")
    out += [f"- {escape(line.plain)}" for line in setup_lines(h)]
    out += [f"- {legend(h)}"] + [f"- note: {escape(n)}" for n in notes(h)]
    return "\n".join(out) + "\n"


def _change_dict(c: Change) -> dict[str, Any]:
    return {"benchmark": c.benchmark, "machine": c.machine, "run": c.run.path,
            "run_label": c.run.label, "before": c.before.path, "before_label": c.before.label,
            "commit": c.run.commit, "commit_before": c.before.commit,
            "ratio": c.ratio, "lo": c.lo, "hi": c.hi, "p": c.p, "kind": c.kind.value,
            "regression": c.regression}


def render_json(h: History) -> str:
    """Runs, series (every point) and changes, for other programs; ratios are after/before
    (above 1: slower)."""
    doc = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "order": h.order, "threshold": h.threshold, "alpha": h.alpha,
        "min_runs": h.min_runs, "failed": h.failed,
        "runs": [{"path": r.path, "created": r.created.isoformat() if r.created else None,
                  "label": r.label, "provenance": dict(r.provenance),
                  "machine": r.hardware.line()} for r in h.runs],
        "series": [{"benchmark": s.benchmark, "machine": s.machine.line,
                    "points": [{"run": s.machine.runs[p].path, "median_s": v}
                               for p, v in zip(s.positions, s.values, strict=True)],
                    "changes": [_change_dict(c) for c in s.changes], "note": s.note or None}
                   for s in h.series],
        "changes": [_change_dict(c) for c in h.changes],
        "newest": [_change_dict(c) for c in h.newest],
        "setup_changes": [{"machine": m.line, "run": m.runs[u.at].path, "what": u.text}
                          for m in h.machines for u in h.setups.get(m.key, ())],
        "notes": notes(h),
    }
    return json.dumps(json_safe(doc), indent=2, sort_keys=True, allow_nan=False) + "\n"
