"""A report: result files merged by machine, every table computed once for all views."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dlbench import workloads
from dlbench.errors import DlbenchError
from dlbench.report import epoch
from dlbench.report.cells import Cell
from dlbench.report.machines import Machine, fingerprint, machines
from dlbench.report.rows import DEFAULT_BASELINE, SpeedupTable, across_ranks, labelled_table
from dlbench.results import CaseSpec, Result, RunDocument
from dlbench.workloads.base import SAMPLES


@dataclass(frozen=True)
class SourceFile:
    name: str
    created: str
    dlbench_version: str


@dataclass(frozen=True)
class MachineView:
    machine: Machine
    sources: tuple[SourceFile, ...]  # the files measured on it
    results: tuple[Result, ...]  # one per case: a later file's measurement replaces an earlier
    origin: Mapping[CaseSpec, SourceFile]  # the file each result comes from
    # speedups against this machine's own baseline, of the results not across ranks
    table: SpeedupTable


@dataclass(frozen=True)
class Report:
    baseline: str
    machines: tuple[MachineView, ...]
    cross: SpeedupTable | None  # every machine side by side, when there are several
    epochs: tuple[epoch.EpochEstimate, ...]
    notes: tuple[str, ...]

    def cell(self, machine: str, spec: CaseSpec) -> Cell | None:
        """The cell (and speedup) a result has in its machine's table."""
        for view in self.machines:
            if view.machine.label == machine:
                for row in view.table.rows:
                    for cell in row.cells.values():
                        if cell.result.spec == spec:
                            return cell
        return None


def machine_epochs(report: Report, view: MachineView) -> list[epoch.EpochEstimate]:
    """The epoch estimates of one machine's training steps."""
    return [e for e in report.epochs if e.machine == view.machine.label]


def cross_label(machine: str, column: str) -> str:
    return f"{machine}: {column}"


def build(docs: Sequence[tuple[str, RunDocument]], baseline: str = DEFAULT_BASELINE,
          progress: Callable[[int, int], None] | None = None) -> Report:
    """Merge documents (with the names they were read from) into one report.
    `progress(done, total)` follows the tables' speedups, in results."""
    found = machines([doc.environment for _, doc in docs])
    by_fp = {m.fingerprint: m for m in found}
    sources: dict[str, list[SourceFile]] = {m.label: [] for m in found}
    merged: dict[str, dict[CaseSpec, Result]] = {m.label: {} for m in found}
    origin: dict[str, dict[CaseSpec, SourceFile]] = {m.label: {} for m in found}
    notes = []
    for name, doc in docs:
        label = by_fp[fingerprint(doc.environment)].label
        source = SourceFile(name, doc.created, doc.dlbench_version)
        sources[label].append(source)
        origin[label].update(dict.fromkeys((r.spec for r in doc.results), source))
        measured = merged[label]
        again = sum(r.spec in measured for r in doc.results)
        if again:
            notes.append(f"{name}: {again} result(s) replace those of an earlier file from "
                         f"{label}")
        for r in doc.results:
            measured.pop(r.spec, None)  # the newer measurement takes the later place
            measured[r.spec] = r
        if doc.interrupted:
            notes.append(f"{name}: the run was interrupted; its results are partial")
    # Results across ranks (collectives, DDP steps) have tables of their own
    # (report/distributed.py): only torch runs them, so a speedup column would hold
    # nothing to compare, and the headline would count them as torch's rows.
    compared = {label: [r for r in rs.values() if not across_ranks(r)]
                for label, rs in merged.items()}
    tables = _Tables(sum(map(len, compared.values())) * (2 if len(found) > 1 else 1), progress)
    views = tuple(
        MachineView(m, tuple(sources[m.label]), tuple(merged[m.label].values()), origin[m.label],
                    tables.make([(r.column, r) for r in compared[m.label]], baseline))
        for m in found)
    cross = None
    if len(views) > 1:
        with_base = [v.machine.label for v in views if v.table.baseline == baseline]
        cross = tables.make(
            [(cross_label(v.machine.label, r.column), r) for v in views
             for r in compared[v.machine.label]],
            cross_label(with_base[0], baseline) if with_base else None)
    epochs = epoch.estimates([(v.machine.label, r) for v in views
                              for r in compared[v.machine.label] if _own_params(r)])
    return Report(baseline, views, cross, epochs, tuple(notes))


def _own_params(r: Result) -> bool:
    """Whether the parameters of a result, of a workload this dlbench knows, are ones that
    workload accepts (in range, none unknown): what an extrapolation may compute with. A
    hand-edited file can hold a zero batch, and the fields whose extrapolation reads more
    than the batch (tokens per step: batch·seq) need every parameter in the file; older
    files of other workloads may lack the parameters added since. A workload this dlbench
    does not know (a newer file's) is left to the extrapolation's own checks."""
    try:
        wl = workloads.get(r.spec.workload)
    except DlbenchError:
        return True
    params = r.spec.param_dict
    try:
        resolved = wl.resolve(**params)
    except DlbenchError:
        return False
    training = wl.training
    return training is None or training.unit == SAMPLES or resolved == params


class _Tables:
    """Makes a report's tables, telling `progress` how far they are all together."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def make(self, labelled: Sequence[tuple[str, Result]], baseline: str | None
             ) -> SpeedupTable:
        start, progress = self.done, self.progress
        table = labelled_table(labelled, baseline, None if progress is None else
                               lambda done, _: progress(start + done, self.total))
        self.done += len(labelled)
        return table
