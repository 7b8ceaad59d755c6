"""The drift between runs, learned from the earlier runs beside this one, in its intervals.

A run's intervals stand on its rounds and executions (intervals.py): they see what the
machine does during the run. A shared or cloud machine also moves on longer time scales
(a neighbour's job for some minutes), and on such a machine the next run's median falls
outside them far more often than one time in twenty. One run cannot see that; the
earlier runs of the same cases on the same machine, in the same folder, can: how far
their medians lie from this run's, beyond what this run's own intervals explain, is the
variance a run adds by being another run (a random-effects component, estimated by the
method of moments as intervals.between_executions estimates its own).

    d = log(this median / earlier median), over the cells both measured and the earlier runs
    E[d²] = P + 2·B   (P: this cell's own prediction variance, B: the between-run component)
    B = max(0, (mean d² − mean P) / 2), pooled over a worker's cells

Cells differ in how much they move between runs (a GEMM that lands in another regime in
one process, a steady convolution), and five earlier runs are too few to learn each
cell's own B alone, so each cell's B is its own estimate moderated towards the pool:
(PRIOR_RUNS·B_pool + k·B_cell) / (PRIOR_RUNS + k) over its k earlier runs, with t at
PRIOR_RUNS + k degrees of freedom — the empirical-Bayes moderated variance of Smyth,
"Linear models and empirical Bayes methods for assessing differential expression in
microarray experiments", Stat. Appl. Genet. Mol. Biol. 3(1), 2004, with a fixed prior
weight (docs/methodology.md has the measurement that chose it).

Each interval is then widened on each side to √(own² + (t·√(2B))²) in logs. The result
keeps the evidence (stats["between_runs"]: the earlier runs' medians by run, B's SD and
degrees of freedom, the interval before widening), so a speedup's interval is widened
the same way from its own ratios (`speedup_component`, per column), wherever the file
is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from dlbench import intervals
from dlbench.intervals import Estimate
from dlbench.results import Result, RunDocument

# A 95% interval's half-width in SDs: how the own prediction variance is read back from
# an interval.
Z95 = 1.959964
# How many earlier runs of a cell its worker's pooled component weighs as, against the
# cell's own (the prior degrees of freedom of the moderated variance).
PRIOR_RUNS = 5.0


@dataclass(frozen=True)
class Component:
    """The between-run variance of a run's estimate (in logs), its degrees of freedom, and
    how many earlier runs it was measured against."""

    variance: float
    df: float
    runs: int

    def widen(self, value: float, lo: float, hi: float) -> tuple[float, float]:
        """An interval around `value` widened by twice this variance (this run's and the
        next one's), at the t quantile of its degrees of freedom."""
        if self.variance <= 0:
            return lo, hi
        extra = (intervals.t_quantile(0.975, self.df) * math.sqrt(2 * self.variance)) ** 2
        below, above = math.log(value / lo), math.log(hi / value)
        return (value * math.exp(-math.sqrt(below ** 2 + extra)),
                value * math.exp(math.sqrt(above ** 2 + extra)))

    def widen_estimate(self, e: Estimate) -> Estimate:
        lo, hi = self.widen(e.value, e.lo, e.hi)
        return replace(e, lo=lo, hi=hi)


def own_variance(value: float, lo: float, hi: float) -> float:
    """The prediction variance (in logs) an interval stands for."""
    return (math.log(hi / lo) / (2 * Z95)) ** 2


def components(pairs: Iterable[tuple[Estimate, Sequence[float]]], runs: int
               ) -> tuple[Component | None, list[Component | None]]:
    """B pooled over cells, each (this run's estimate, the earlier runs' values of it),
    and each cell's own B moderated towards the pool (None for a cell without an earlier
    value); the pool is None where no cell has one. The pool stays unclipped until each
    cell's share is added, so cells that happened to agree do not bias it upwards."""
    cells: list[tuple[list[float], float] | None] = []
    for estimate, earlier in pairs:
        values = [e for e in earlier if e > 0]
        if not values or estimate.value <= 0 or estimate.lo <= 0:
            cells.append(None)
            continue
        own = own_variance(estimate.value, estimate.lo, estimate.hi)
        cells.append(([math.log(estimate.value / e) ** 2 for e in values], own))
    found = [c for c in cells if c is not None]
    if not found:
        return None, [None] * len(cells)
    squares = [d for ds, _ in found for d in ds]
    owns = [own for ds, own in found for _ in ds]
    pooled = (float(np.mean(squares)) - float(np.mean(owns))) / 2
    moderated: list[Component | None] = []
    for cell in cells:
        if cell is None:
            moderated.append(None)
            continue
        ds, own = cell
        mine = (float(np.mean(ds)) - own) / 2
        b = (PRIOR_RUNS * pooled + len(ds) * mine) / (PRIOR_RUNS + len(ds))
        moderated.append(Component(max(0.0, b), PRIOR_RUNS + len(ds), runs))
    return Component(max(0.0, pooled), float(len(squares)), runs), moderated


def _estimate(r: Result) -> Estimate | None:
    s = r.stats or {}
    if r.status != "ok" or s.get("interval") != "repeat" or not s.get("ci95"):
        return None
    lo, hi = s["ci95"]
    return Estimate(float(s["median"]), float(lo), float(hi), int(s.get("rounds") or 0))


def widen(results: Sequence[Result], earlier: Sequence[RunDocument]) -> list[Result]:
    """This run's results with each median's interval widened by the between-run
    component of its worker, measured against `earlier` runs (newest first) of the same
    cases; unchanged where there is no earlier run or no excess to add."""
    before = [{r.spec.id: r.median for r in doc.results if r.status == "ok" and r.median}
              for doc in earlier]
    ids = [doc.results[0].run if doc.results else None for doc in earlier]
    history: dict[int, dict[str, float]] = {}
    by_label: dict[str, list[tuple[Estimate, list[float]]]] = {}
    for i, r in enumerate(results):
        estimate = _estimate(r)
        values = {str(ids[j] or j): b[r.spec.id] for j, b in enumerate(before)
                  if r.spec.id in b}
        if estimate is None or not values:
            continue
        history[i] = values
        by_label.setdefault(r.spec.label, []).append((estimate, list(values.values())))
    # Each worker's cells' components, taken back below in the order they were gathered.
    found = {label: iter(components(cells, len(earlier))[1]) for label, cells in by_label.items()}
    out = []
    for i, r in enumerate(results):
        c = next(found[r.spec.label]) if i in history else None
        if c is not None:
            lo, hi = c.widen(r.median, *r.stats["ci95"])
            r = replace(r, stats={**r.stats, "ci95": [lo, hi], "between_runs": {
                "runs": c.runs, "sd": math.sqrt(c.variance), "df": c.df,
                "own_ci95": list(r.stats["ci95"]), "earlier": history[i]}})
        out.append(r)
    return out


def own_interval(r: Result) -> tuple[float, float] | None:
    """The median's interval from this run alone (before `widen`), None without one."""
    s = r.stats or {}
    record = s.get("between_runs")
    if isinstance(record, dict) and record.get("own_ci95"):
        lo, hi = record["own_ci95"]
        return float(lo), float(hi)
    return (float(s["ci95"][0]), float(s["ci95"][1])) if s.get("ci95") else None


def earlier_medians(r: Result) -> Mapping[str, float]:
    """The earlier runs' medians of this case that `widen` stored, by run."""
    record = (r.stats or {}).get("between_runs")
    earlier = record.get("earlier") if isinstance(record, dict) else None
    return {str(k): float(v) for k, v in earlier.items()} if isinstance(earlier, dict) else {}


def speedup_components(cells: Sequence[tuple[Result, Result, Estimate]]
                       ) -> tuple[Component | None, list[Component | None]]:
    """The between-run component of one column's speedups, each cell (baseline, column,
    its speedup), from the earlier runs' medians both results stored — in a ratio the
    drift both columns share cancels, so it has a component of its own: the column's
    pool (for summaries over its rows) and each cell's, moderated towards it."""
    pairs, runs = [], set()
    for baseline, column, estimate in cells:
        b, c = earlier_medians(baseline), earlier_medians(column)
        common = [k for k in b if k in c and c[k] > 0]
        runs.update(common)
        pairs.append((estimate, [b[k] / c[k] for k in common]))
    return components(pairs, len(runs)) if runs else (None, [None] * len(pairs))
