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

from dataclasses import dataclass
from pathlib import Path

from dlbench import compare as core
from dlbench import results
from dlbench.cli import console
from dlbench.cli import output as destinations
from dlbench.cli.compare import Judge
from dlbench.report import compare as views


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
        if self.show_table:
            console.print_data(views.render_table(comparison))
        else:
            console.message(f"compare: {views.headline(comparison)}")
        if self.summary is not None:
            target = destinations.destination(self.summary)
            destinations.write(target, views.render_summary(comparison))
            if target is not None:
                console.message(f"wrote {target}")
        return console.EXIT_REGRESSION if comparison.failed() else console.EXIT_OK
