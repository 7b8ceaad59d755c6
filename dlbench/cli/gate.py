"""`dlbench run --compare BASE.json`: measure, save, then judge against BASE in one step.

The baseline is read and every option checked before anything is measured, so a bad
baseline costs no run. After the run is saved the comparison is shown (the table after the
run's, or its verdict alone on stderr when stdout holds other data), the Markdown summary
for a pull request is written where `--summary` says, and the exit code is `compare`'s: 1
on a regression. A case that failed (exit 3) outranks a regression, an interrupted run
(130) is not compared, and a comparison that cannot be made (no benchmark in common) is
exit 2 with the result file kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbench import compare as core
from dlbench import results, sides
from dlbench.cli import console
from dlbench.cli import output as destinations
from dlbench.cli.compare import Judge
from dlbench.compare import paired
from dlbench.errors import UsageError
from dlbench.i18n import _
from dlbench.planning import Plan
from dlbench.report import compare as views

# Where `dlbench ab` leaves its AbRun for `run` (click's Context.meta, shared down the
# command's contexts).
AB_KEY = "dlbench.ab"


@dataclass(frozen=True)
class Gate:
    base: core.Source
    judge: Judge
    summary: str | None  # a file, or '-' for stdout
    show_table: bool

    @classmethod
    def prepare(cls, base: Path, threshold: str, thresholds: Path | None, relative: bool,
                summary: str | None, force: bool, show_table: bool) -> Gate:
        """Everything checked up front: the baseline read and validated, the thresholds
        parsed, the summary file writable."""
        judge = Judge(core.parse_threshold(threshold, "--threshold"),
                      core.load_thresholds(thresholds) if thresholds else (),
                      relative=relative)
        destinations.check_targets([summary], force)
        return cls(core.read(base), judge, summary, show_table)

    def finish(self, doc: results.RunDocument, path: Path) -> int:
        """Judge the saved run; its exit code (0, or EXIT_REGRESSION)."""
        comparison = self.judge(self.base, core.from_document(doc, str(path)))
        return publish(comparison, self.show_table, self.summary)


def publish(comparison: core.Comparison, show_table: bool, summary: str | None,
            fail_on_inconclusive: bool = False, what: str = "compare") -> int:
    """Show a gate's comparison (its table, or its verdict alone on stderr when stdout
    holds other data), write its pull-request summary, and give its exit code."""
    if show_table:
        console.print_data(views.render_table(comparison))
    else:
        console.message(f"{what}: {views.headline(comparison)}")
    if summary is not None:
        target = destinations.destination(summary)
        destinations.write(target, views.render_summary(comparison, fail_on_inconclusive))
        if target is not None:
            console.message(f"wrote {target}")
    return console.EXIT_REGRESSION if comparison.failed(fail_on_inconclusive) \
        else console.EXIT_OK


@dataclass(frozen=True)
class AbRun:
    """What `dlbench ab` adds to a run: its two sides, and how B is judged against A."""

    sides: tuple[sides.Side, ...]
    fail_on_inconclusive: bool = False

    def by_name(self) -> dict[str, sides.Side]:
        return {side.name: side for side in self.sides}

    def split(self, plan: Plan) -> Plan:
        return sides.split(plan, [side.name for side in self.sides])

    def probe(self, plan: Plan) -> dict[str, Any]:
        """Each side's record for the result file; a side that cannot run the plan's
        backends is refused here (EnvironmentUnusable), before any worker starts."""
        targets = list(dict.fromkeys((c.backend, c.device) for c in plan.cases))
        records = {side.name: sides.probe(side, targets) for side in self.sides}
        clash = sides.thread_variables(self.sides)
        if plan.threads is not None and clash:
            console.note(_("--threads {n} sets the threads in every worker, over {names} "
                           "given for a side").format(n=plan.threads, names=", ".join(clash)))
        return records

    def gate(self, compare: Path | None, threshold: str, thresholds: Path | None,
             relative: bool, summary: str | None, force: bool, distributed: bool,
             show_table: bool) -> AbGate:
        """B judged against A after the run, with every option checked up front."""
        refused = [name for name, given in (("--compare", compare), ("--relative", relative),
                                            ("--nproc", distributed)) if given]
        if refused:
            raise UsageError(_("dlbench ab judges B against A in one run: {options} cannot "
                               "be used with it").format(options=", ".join(refused)))
        destinations.check_targets([summary], force)
        return AbGate(core.parse_threshold(threshold, "--threshold"),
                      core.load_thresholds(thresholds) if thresholds else (), summary,
                      show_table, self.fail_on_inconclusive)


@dataclass(frozen=True)
class AbGate:
    threshold: float
    overrides: Sequence[tuple[str, float]]
    summary: str | None
    show_table: bool
    fail_on_inconclusive: bool

    def finish(self, doc: results.RunDocument, path: Path) -> int:
        comparison = paired.judge_sides(doc, str(path), self.threshold,
                                        overrides=self.overrides)
        return publish(comparison, self.show_table, self.summary, self.fail_on_inconclusive,
                       "ab")
