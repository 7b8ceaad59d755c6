"""Views of a `compare.Comparison`: a rich table for the terminal, Markdown, and JSON; and the
gate's extras: only the changed rows, a pull-request summary with the rest folded away,
and several NEW files against one BASE side by side."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dlbench.compare import SEVERITY, Comparison, Row, Verdict
from dlbench.report.cells import format_time
from dlbench.report.markdown import escape
from dlbench.results import json_safe

SCHEMA = "dlbench.compare"
SCHEMA_VERSION = 1
STYLE = {Verdict.SLOWER: "bold red", Verdict.INCONCLUSIVE: "yellow", Verdict.INVALID: "red",
         Verdict.MISSING: "cyan", Verdict.NEW: "cyan", Verdict.FASTER: "green",
         Verdict.UNCHANGED: "dim"}
LEGEND = ("slower/faster: a change beyond the threshold that is significant (its interval "
          "excludes no change; p < alpha where p is shown); "
          "unchanged: the whole interval within the threshold, even if a smaller change is "
          "significant; inconclusive: neither.")
RELATIVE = ("relative: each change is NEW/BASE divided by the whole suite's shift (the row "
            "'(whole suite)'), which is judged by the same rules.")
ACROSS_MACHINES = ("BASE and NEW were measured on different machines: the changes below "
                   "compare the machines as much as the code.")


def headline(c: Comparison) -> str:
    """One line saying whether the gate found a regression, and what else it saw."""
    counts = {k: v for k, v in c.counts().items() if v}
    detail = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    regressions = len(c.regressions)
    if regressions:
        head = f"{regressions} regression{'s' if regressions > 1 else ''}"
    else:
        possible = sum(r.may_regress for r in c.rows)
        head = "no regression" + (f" ({possible} inconclusive may hide one)" if possible else "")
    return (f"{head} · {detail} · threshold {c.threshold:.0%}, alpha {c.alpha:g}"
            + (" · relative to the whole suite" if c.relative else "")
            + ("" if c.same_machine else " · different machines"))


def change(row: Row) -> str:
    return "" if row.ratio is None else f"{row.ratio - 1.0:+.1%}"


def interval(row: Row) -> str:
    if row.lo is None or row.hi is None:
        return ""
    return f"[{row.lo - 1.0:+.1%}, {row.hi - 1.0:+.1%}]"


def p_value(row: Row) -> str:
    if row.p is None:
        return "—"
    return "<0.001" if row.p < 0.001 else f"{row.p:.3f}"


def median(value: float | None, n: int) -> str:
    return "—" if value is None else f"{format_time(value)} (n={n})"


def note(row: Row, c: Comparison) -> str:
    own = f"threshold {row.threshold:.0%}" if row.threshold != c.threshold else ""
    return "; ".join(x for x in (row.reason, own) if x)


def render_table(c: Comparison) -> Group:
    """The terminal view; environment differences come first, where they cannot be missed.
    Text, never str, for anything from a file: rich would read "[...]" as markup."""
    parts: list[RenderableType] = [
        Text(f"BASE {c.base}: {c.machines[0]}"), Text(f"NEW  {c.new}: {c.machines[1]}")]
    if not c.same_machine:
        parts.append(Text(f"⚠ {ACROSS_MACHINES}", style="bold red"))
    if c.differences:
        env = Table(title=Text("⚠ environment differences", style="yellow"), title_justify="left")
        env.add_column("what")
        env.add_column("BASE")
        env.add_column("NEW")
        for d in c.differences:
            env.add_row(Text(d.what), Text(d.base), Text(d.new))
        parts.append(env)
    confidence = f"{1.0 - c.alpha:.0%}"
    t = Table(title=Text("dlbench compare: NEW against BASE"), show_lines=True)
    t.add_column("benchmark", overflow="fold")
    t.add_column("BASE median", justify="right")
    t.add_column("NEW median", justify="right")
    t.add_column(f"change [{confidence} interval]", justify="right")
    t.add_column("p", justify="right")
    t.add_column("verdict")
    for row in c.rows:
        label = Text(row.id)
        why = note(row, c)
        if why:
            label.append("\n" + why, style="dim")
        t.add_row(label, Text(median(row.base_median, row.n_base)),
                  Text(median(row.new_median, row.n_new)),
                  Text("\n".join(x for x in (change(row), interval(row)) if x)),
                  Text(p_value(row)), Text(row.verdict.value, style=STYLE[row.verdict]))
    parts.append(t)
    parts.append(Text(headline(c), style="bold red" if c.regressions else "bold"))
    parts.append(Text(LEGEND, style="dim"))
    if c.relative:
        parts.append(Text(RELATIVE, style="dim"))
    parts += [Text(f"note: {n}", style="dim") for n in c.notes]
    return Group(*parts)


def rows_table(rows: list[Row], c: Comparison) -> list[str]:
    """The rows as a Markdown table, most urgent first as given."""
    confidence = f"{1.0 - c.alpha:.0%}"
    out = [f"| benchmark | verdict | change | {confidence} interval | p | BASE median | "
           "NEW median | note |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        verdict = f"**{row.verdict.value}**" if row.regression or row.may_regress \
            else row.verdict.value
        out.append("| " + " | ".join([
            f"`{escape(row.id)}`", verdict, change(row), interval(row), p_value(row),
            median(row.base_median, row.n_base), median(row.new_median, row.n_new),
            escape(note(row, c))]) + " |")
    return out


def render_markdown(c: Comparison) -> str:
    """For a PR comment or $GITHUB_STEP_SUMMARY."""
    out = ["## dlbench compare", "", f"**{escape(headline(c))}**", "",
           f"- **BASE** `{escape(c.base)}`: {escape(c.machines[0])}",
           f"- **NEW** `{escape(c.new)}`: {escape(c.machines[1])}", ""]
    if not c.same_machine:
        out += [f"> ⚠ **{ACROSS_MACHINES}**", ""]
    if c.differences:
        out += ["**⚠ Environment differences**", "", "| what | BASE | NEW |", "|---|---|---|"]
        out += [f"| {escape(d.what)} | {escape(d.base)} | {escape(d.new)} |"
                for d in c.differences]
        out.append("")
    out += rows_table(list(c.rows), c)
    out += ["", f"- {LEGEND}"] + ([f"- {RELATIVE}"] if c.relative else [])
    out += [f"- note: {escape(n)}" for n in c.notes]
    return "\n".join(out) + "\n"


def render_json(c: Comparison) -> str:
    """The rows and their numbers for other programs; ratios are NEW/BASE (above 1: slower)."""
    doc = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "base": c.base, "new": c.new, "threshold": c.threshold, "alpha": c.alpha,
        "confidence": 1.0 - c.alpha, "same_machine": c.same_machine,
        "machines": {"base": c.machines[0], "new": c.machines[1]},
        "environment_differences": [asdict(d) for d in c.differences],
        "counts": c.counts(), "regressions": [r.id for r in c.regressions],
        "possible_regressions": [r.id for r in c.rows if r.may_regress],
        "rows": [{**asdict(r), "verdict": r.verdict.value, "regression": r.regression,
                  "may_regress": r.may_regress} for r in c.rows],
        "notes": list(c.notes),
        "relative": c.relative, "shift": asdict(c.shift) if c.shift else None,
    }
    return json.dumps(json_safe(doc), indent=2, sort_keys=True, allow_nan=False) + "\n"


# -- the gate's extras: only the changed rows, a pull-request summary, several NEW files --

# Rows a reader of a gate must see: everything but "unchanged".
def changed_rows(c: Comparison) -> list[Row]:
    return [r for r in c.rows if r.verdict is not Verdict.UNCHANGED]


def only_changed(c: Comparison) -> Comparison:
    """The comparison with its unchanged rows left out (`--only-changed`), and a note saying
    how many: every view then shows, counts and judges the changed rows alone."""
    rows = changed_rows(c)
    hidden = len(c.rows) - len(rows)
    return replace(c, rows=tuple(rows), notes=c.notes + (
        (f"{hidden} unchanged benchmark(s) not shown (--only-changed)",) if hidden else ()))


def verdict_line(c: Comparison, fail_on_inconclusive: bool = False) -> str:
    """'❌ 2 regressions · ...' or '✅ no regression · ...': the first line of a PR comment."""
    mark = "❌" if c.failed(fail_on_inconclusive) else "✅"
    return f"{mark} **{escape(headline(c))}**"


def render_summary(c: Comparison, fail_on_inconclusive: bool = False,
                   title: str = "dlbench compare") -> str:
    """Markdown for a pull-request comment: the verdict line, the changed rows, and
    everything else (unchanged rows, environment differences, notes) folded in <details>."""
    changed = changed_rows(c)
    unchanged = [r for r in c.rows if r.verdict is Verdict.UNCHANGED]
    out = [f"### {escape(title)}", "", verdict_line(c, fail_on_inconclusive), ""]
    if not c.same_machine:
        out += [f"> ⚠ **{ACROSS_MACHINES}**", ""]
    if changed:
        out += rows_table(changed, c) + [""]
    details = [f"- **BASE** `{escape(c.base)}`: {escape(c.machines[0])}",
               f"- **NEW** `{escape(c.new)}`: {escape(c.machines[1])}", ""]
    if unchanged:
        details += [f"{len(unchanged)} unchanged benchmark(s):", ""] + rows_table(unchanged, c)
        details.append("")
    if c.differences:
        details += ["Environment differences:", "", "| what | BASE | NEW |", "|---|---|---|"]
        details += [f"| {escape(d.what)} | {escape(d.base)} | {escape(d.new)} |"
                    for d in c.differences]
        details.append("")
    details += [f"- {LEGEND}"] + ([f"- {RELATIVE}"] if c.relative else [])
    details += [f"- note: {escape(n)}" for n in c.notes]
    summary = f"{len(unchanged)} unchanged, environment and notes"
    out += ["<details>", f"<summary>{escape(summary)}</summary>", "", *details, "",
            "</details>"]
    return "\n".join(out) + "\n"


# -- one BASE, several NEW files (pyperf's compare_to) -----------------------------------

def _cell(row: Row | None) -> Text:
    if row is None:
        return Text("—", style="dim")
    text = Text("\n".join(x for x in (change(row), interval(row)) if x))
    text.append(("\n" if text.plain else "") + row.verdict.value, style=STYLE[row.verdict])
    return text


def _ids(comparisons: list[Comparison]) -> list[str]:
    """Every benchmark of every comparison, the most urgent verdict of any first."""
    worst: dict[str, int] = {}
    for c in comparisons:
        for r in c.rows:
            worst[r.id] = min(worst.get(r.id, len(SEVERITY)), SEVERITY[r.verdict])
    return sorted(worst, key=lambda i: worst[i])


def render_many_table(comparisons: list[Comparison]) -> Group:
    """One row per benchmark, one column per NEW file, against the one BASE."""
    first = comparisons[0]
    parts: list[RenderableType] = [Text(f"BASE {first.base}: {first.machines[0]}")]
    for c in comparisons:
        parts.append(Text(f"NEW  {c.new}: {c.machines[1]}"
                          + ("" if c.same_machine else " ⚠ another machine")))
    confidence = f"{1.0 - first.alpha:.0%}"
    t = Table(title=Text(f"dlbench compare: each NEW against BASE (change, {confidence} "
                         "interval, verdict)"), show_lines=True)
    t.add_column("benchmark", overflow="fold")
    for c in comparisons:
        t.add_column(Text(c.new), justify="right", overflow="fold")
    by_file = [{r.id: r for r in c.rows} for c in comparisons]
    for ident in _ids(comparisons):
        t.add_row(Text(ident), *(_cell(rows.get(ident)) for rows in by_file))
    parts.append(t)
    for c in comparisons:
        parts.append(Text(f"{c.new}: {headline(c)}", style="bold red" if c.regressions
                          else "bold"))
    parts.append(Text(LEGEND, style="dim"))
    parts += [Text(f"note: {n}", style="dim") for c in comparisons for n in c.notes]
    return Group(*parts)


def render_many_markdown(comparisons: list[Comparison], only: bool = False) -> str:
    """Each NEW file's comparison in turn (its own table), under one heading."""
    parts = [f"## dlbench compare: {len(comparisons)} runs against "
             f"`{escape(comparisons[0].base)}`", ""]
    for c in comparisons:
        shown = only_changed(c) if only else c
        parts.append(render_markdown(shown).replace("## dlbench compare",
                                                    f"### `{escape(c.new)}`", 1))
    return "\n".join(parts)


def render_many_summary(comparisons: list[Comparison], fail_on_inconclusive: bool = False
                        ) -> str:
    return "\n".join(render_summary(c, fail_on_inconclusive, f"dlbench compare: {c.new}")
                     for c in comparisons)


def render_many_json(comparisons: list[Comparison]) -> str:
    """{"schema": "dlbench.compare.many", "comparisons": [each file's compare JSON]}."""
    doc = {"schema": f"{SCHEMA}.many", "schema_version": SCHEMA_VERSION,
           "base": comparisons[0].base,
           "comparisons": [json.loads(render_json(c)) for c in comparisons]}
    return json.dumps(json_safe(doc), indent=2, sort_keys=True, allow_nan=False) + "\n"
