"""The speedup table as data: rows = workload/params/dtype, columns = backend-device(-impl).

Every format (terminal, Markdown, CSV, HTML, JSON) is a view of this one computation.
Speedups are baseline time / column time from rounds paired in time (speedups.py), with
the interval a repeat of the run would fall in; a speedup whose interval contains 1 is
not significant.
Columns are labelled by the caller (`labelled_table`), so results of several machines
can share one table ("host: torch-cpu"); `speedup_table` labels them by backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dlbench import backends, between_runs, breakeven, intervals, speedups, stats
from dlbench.i18n import N_, _, ngettext
from dlbench.report.cells import (
    Cell,
    Row,
    format_break_even,
    format_flops,
    format_params,
    format_speedup,
    format_time,
)
from dlbench.report.crossover import Crossover, find_crossovers
from dlbench.results import SIDE_MARK, SIDES, Result

DEFAULT_BASELINE = "numpy-cpu"
GEOMEAN_NOTE = N_("geometric mean = the row speedups averaged on a log scale, over the rows where "
                "both the column and the baseline ran ok; every row counts the "
                "same whatever its size; interval: bootstrap resampling every row's rounds "
                "(its samples, in files without rounds)")
COMPILED_NOTE = N_("-compiled = the library's compiler over its eager kernel, one kind of "
                   "column for every library; compile = its first call (never sampled) beyond "
                   "one call; pays off after = the calls that win the compile time back from "
                   "the eager column, with the interval that its speedup's 95% interval gives")


def across_ranks(result: Result) -> bool:
    """A result of a run across ranks (a collective, a DDP step): shown in the
    distributed tables, never in a speedup table."""
    return result.distributed is not None or "ranks" in result.spec.param_dict


@dataclass(frozen=True)
class GeoMean:
    """A column's suite-level speedup: the geometric mean of its row speedups."""

    point: float
    lo: float
    hi: float
    rows: int

    @property
    def significant(self) -> bool:
        return not (self.lo <= 1.0 <= self.hi)


@dataclass(frozen=True)
class SpeedupTable:
    baseline: str | None
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    warnings: tuple[str, ...]  # every quality-warning code that appears
    geomeans: dict[str, GeoMean] = field(default_factory=dict)  # by column, 2+ rows only
    crossovers: tuple[Crossover, ...] = ()


def speedup_table(results: Sequence[Result], baseline: str | None = DEFAULT_BASELINE
                  ) -> SpeedupTable:
    return labelled_table([(r.column, r) for r in results], baseline)


def labelled_table(labelled: Sequence[tuple[str, Result]],
                   baseline: str | None = DEFAULT_BASELINE,
                   progress: Callable[[int, int], None] | None = None) -> SpeedupTable:
    """The table of (column label, result) pairs; a later result replaces an earlier one
    of the same row and column. `progress(done, total)` follows the speedups' bootstrap
    intervals (milliseconds per result), in results."""
    tick = progress or (lambda done, total: None)
    columns: list[str] = []
    rows: dict[str, Row] = {}
    codes: list[str] = []
    first: dict[str, Result] = {}
    for column, r in labelled:
        if column not in columns:
            columns.append(column)
            first[column] = r
        params = format_params(r.spec.params)
        row = rows.setdefault(r.spec.row_key, Row(r.spec.workload, params, r.spec.dtype,
                                                  spec_params=r.spec.params))
        row.cells[column] = Cell(r)
        codes += [c for c in r.warnings if c not in codes]
    geomeans: dict[str, GeoMean] = {}
    baseline = side_baseline(baseline, columns)
    columns = order_columns(columns, first, baseline)
    for row in rows.values():
        _add_break_evens(row)
    if baseline not in columns:
        baseline = None
    else:
        pooled = _pooled(baseline, columns, rows.values())
        taken: dict[str, list[tuple[Result, Result, intervals.Estimate]]] = {}
        done = 0
        for row in rows.values():
            done += len(row.cells)
            base = row.cells.get(baseline)
            if base is None or base.result.status != "ok":
                continue
            for column, cell in row.cells.items():
                if cell.result.status == "ok" and cell.result.samples_s:
                    estimate = speedups.speedup(base.result, cell.result,
                                                pooled.get(column))
                    taken.setdefault(column, []).append((base.result, cell.result, estimate))
            tick(done, len(labelled))
        drift = {}
        for column, cells in taken.items():
            drift[column], each = between_runs.speedup_components(cells)
            for (_, result, estimate), component in zip(cells, each, strict=True):
                e = component.widen_estimate(estimate) if component else estimate
                row = rows[result.spec.row_key]
                row.cells[column] = replace(row.cells[column], speedup=(e.value, e.lo, e.hi))
        geomeans = _geomeans(baseline, columns, rows.values(), pooled, drift)
    tick(len(labelled), len(labelled))
    return SpeedupTable(baseline, tuple(columns), tuple(rows.values()), tuple(codes), geomeans,
                        find_crossovers(baseline, tuple(columns), tuple(rows.values())))


def _add_break_evens(row: Row) -> None:
    """Each compiled cell's break-even against its library's eager cell of the same
    machine in this row."""
    for column, cell in row.cells.items():
        r = cell.result
        if r.compiler is None:
            continue
        machine = column.removesuffix(r.column)
        same_machine = [c.result for name, c in row.cells.items()
                        if name.removesuffix(c.result.column) == machine]
        eager = breakeven.eager_for(r, same_machine)
        found = breakeven.payoff(r, eager) if eager is not None else None
        if found is not None:
            row.cells[column] = replace(cell, break_even=replace(
                found, against=machine + found.against))


def side_baseline(baseline: str | None, columns: Sequence[str]) -> str | None:
    """An A/B run (`dlbench ab`) has each column once per side: a baseline named without
    a side is side A's."""
    first_side = f"{baseline}{SIDE_MARK}{SIDES[0]}"
    return first_side if baseline not in columns and first_side in columns else baseline


def order_columns(columns: Sequence[str], first: Mapping[str, Result], baseline: str | None
                  ) -> list[str]:
    """Columns in the order a reader compares them: the baseline first, then by machine
    (a label's prefix before its backend-device column, in order of appearance), device
    (the CPU, then the others by name), backend (the baseline's first, then by name) and
    implementation (portable, then native and the rest, the compiled one last, marked
    ones after their plain sibling), so each library's kernels stand side by side, its
    compiled one beside its eager ones. Nothing names a particular backend or device but
    the CPU."""
    base = first.get(baseline or "")
    machines = list(dict.fromkeys(c.removesuffix(first[c].column) for c in columns))

    def key(column: str) -> tuple[object, ...]:
        r = first[column]
        spec = r.spec
        return (column != baseline, machines.index(column.removesuffix(r.column)),
                spec.device != "cpu", spec.device,
                base is None or spec.backend != base.spec.backend, spec.backend,
                spec.impl != "portable", r.compiler is not None, spec.impl, spec.end_to_end,
                spec.graph, spec.side or "")

    return sorted(columns, key=key)


def _pooled(baseline: str, columns: Sequence[str], rows: Iterable[Row]
            ) -> dict[str, intervals.Between]:
    """Each column's between-execution component of its speedups, pooled over its rows."""
    out = {}
    for column in columns:
        pairs = [(row.cells[baseline].result, row.cells[column].result) for row in rows
                 if column != baseline and baseline in row.cells and column in row.cells
                 and row.cells[baseline].result.status == row.cells[column].result.status
                 == "ok"]
        found = speedups.between(pairs)
        if found is not None:
            out[column] = found
    return out


def _geomeans(baseline: str, columns: Sequence[str], rows: Sequence[Row],
              pooled: Mapping[str, intervals.Between],
              drift: Mapping[str, between_runs.Component | None]) -> dict[str, GeoMean]:
    """Each column's geometric mean speedup over its rows, widened as its cells are by
    the drift between runs (a bound: the rows' drifts need not add up in a mean)."""
    out = {}
    for column in columns:
        pairs = [(row.cells[baseline].result, row.cells[column].result)
                 for row in rows
                 if column != baseline and column in row.cells and row.cells[column].speedup]
        if len(pairs) >= 2:  # the mean of one row is that row's cell
            estimate = speedups.across_rows(pairs, pooled=pooled.get(column))
            component = drift.get(column)
            if component is not None:
                estimate = component.widen_estimate(estimate)
            out[column] = GeoMean(estimate.value, estimate.lo, estimate.hi, rows=len(pairs))
    return out


def cell_lines(cell: Cell | None, baseline: str | None, column: str) -> list[str]:
    """The text of one cell, line by line; shared by the terminal and Markdown views."""
    if cell is None:
        return ["—"]
    r = cell.result
    if r.status == "wrong":
        err = r.verify or {}
        return ["✗ wrong", f"err {_number(err.get('max_rel_err')):.2g} > tol "
                           f"{_number(err.get('tol')):.2g}"]
    if r.status != "ok":
        return [f"{r.status}: {r.error or 'no reason recorded'}"]
    lines = [format_time(r.median) + (" ⚠" if r.warnings else "")]
    rate = []
    if r.memory_bound and r.gbytes_per_s is not None:
        rate.append(f"{r.gbytes_per_s:.3g} GB/s")  # bandwidth is its figure of merit
    elif r.gflops is not None:
        rate.append(format_flops(r.gflops * 1e9))
    if r.fraction_of_peak is not None:
        # Beyond the peak only by counting more operations than the library did.
        rate.append(">100% of peak" if r.fraction_of_peak > 1 else
                    f"{100 * r.fraction_of_peak:.0f}% of peak")
    if rate:
        lines.append(" · ".join(rate))
    if stats.QualityWarning.LAUNCH_BOUND.value in r.warnings:
        lines.append("launch-bound")  # the GPU waited on the host: not the kernel's time
    if stats.QualityWarning.UNVERIFIED.value in r.warnings:
        lines.append("unverified")  # no float64 reference: the output was never checked
    if cell.speedup is not None and column != baseline:
        mark = "" if cell.significant else " (n.s.)"
        lines.append(format_speedup(cell.speedup) + mark)
    return lines + compiled_lines(cell)


def compiled_lines(cell: Cell) -> list[str]:
    """A compiled cell's compile time, break-even, and graph breaks where there were any."""
    r = cell.result
    if r.compiler is None or r.first_call_s is None:
        return []
    b = cell.break_even
    lines = [_("compile {time}").format(time=format_time(b.compile_s if b else r.first_call_s))
             + (f" · {format_break_even(b)}" if b else "")]
    breaks = r.compiler.get("graph_breaks")
    if isinstance(breaks, int) and breaks:
        lines.append(ngettext("{n} graph break", "{n} graph breaks", breaks).format(n=breaks))
    return lines


def _number(value: object) -> float:
    """A recorded error or tolerance; NaN where there is none (a NaN output's error is
    stored as null)."""
    return float(value) if isinstance(value, int | float) else float("nan")


def format_geomean(g: GeoMean) -> str:
    mark = "" if g.significant else " (n.s.)"
    return f"{format_speedup((g.point, g.lo, g.hi))}{mark} over {g.rows} rows"


def table_notes(table: SpeedupTable) -> list[str]:
    """The lines under a table (what a speedup is, crossovers); shared by every text view."""
    notes = []
    if table.baseline:
        ways = "; ".join(_(speedups.HOW[w]) for w in speedups.HOW if w in _ways(table))
        notes.append(_("speedup = {baseline} time / column time, {ways}; (n.s.) = not "
                       "significant").format(baseline=table.baseline, ways=ways))
    if table.geomeans:
        notes.append(_(GEOMEAN_NOTE))
    notes += [_("crossover: {text}").format(text=text)
              for text in crossover_texts(table.crossovers)]
    notes += unstable_lines(table)
    notes += backend_notes({cell.result.spec.backend for row in table.rows
                            for cell in row.cells.values()})
    return notes + compiled_notes(table)


def compiled_notes(table: SpeedupTable) -> list[str]:
    """What each compiled column ran (from its results' compiler records) and the eager
    columns it is weighed against, after the note on what the kind of column means."""
    ran: dict[str, tuple[str, list[str]]] = {}
    for row in table.rows:
        for column, cell in row.cells.items():
            record = cell.result.compiler
            if record is None:
                continue
            what, against = ran.setdefault(column, (breakeven.from_record(record), []))
            if cell.break_even is not None and cell.break_even.against not in against:
                against.append(cell.break_even.against)
    return [_(COMPILED_NOTE)] + [
        f"{column}: {what}" + (_(", weighed against {columns}").format(
            columns=_(" or ").join(against)) if against else "")
        for column, (what, against) in ran.items()] if ran else []


def _ways(table: SpeedupTable) -> set[str]:
    """How the table's speedups were taken (speedups.how), to say so under it."""
    assert table.baseline is not None
    return {speedups.how(row.cells[table.baseline].result, cell.result)
            for row in table.rows if table.baseline in row.cells
            for column, cell in row.cells.items()
            if column != table.baseline and cell.speedup is not None}


def unstable_lines(table: SpeedupTable) -> list[str]:
    """Each cell whose rounds disagreed, once, with how far apart they ran: what changed
    (the explanation of the code, what to do, follows the table once)."""
    out = []
    for row in table.rows:
        for column, cell in row.cells.items():
            r = cell.result
            if stats.QualityWarning.UNSTABLE.value in r.warnings and r.samples_s:
                medians = r.round_medians().values()
                out.append(_("⚠ {workload} ({params}, {dtype}) on {column}: its {rounds} "
                             "rounds ran between {low} and {high}").format(
                    workload=row.workload, params=row.params, dtype=row.dtype, column=column,
                    rounds=len(medians), low=format_time(min(medians)),
                    high=format_time(max(medians))))
    return out


def backend_notes(names: set[str]) -> list[str]:
    """What the backends of a table say under it (a library without portable kernels says
    why), in the order of their names; a backend this dlbench does not know says nothing."""
    found = (backends.find(name) for name in sorted(names))
    return [_(cls.table_note) for cls in found if cls is not None and cls.table_note]


def crossover_texts(crossovers: Sequence[Crossover]) -> list[str]:
    """One line per crossover, except that the columns of a sweep that win at every size
    measured share one line: on a GPU machine that is most of them."""
    out: list[str] = []
    always: dict[str, list[Crossover]] = {}
    for c in crossovers:
        if c.at_smallest and c.holds:
            always.setdefault(c.sweep, []).append(c)
    done: set[str] = set()
    for c in crossovers:
        group = always.get(c.sweep, [])
        if c not in group or len(group) == 1:
            out.append(c.text())
        elif c.sweep not in done:
            done.add(c.sweep)
            columns = ", ".join(g.column for g in group)
            out.append(_("{sweep}: {columns} beat {baseline} at every size measured "
                         "({smallest} … {largest})").format(
                sweep=c.sweep, columns=columns, baseline=c.baseline, smallest=c.smallest,
                largest=c.largest))
    return out
