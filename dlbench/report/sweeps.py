"""Sweeps: the rows of one workload and dtype whose parameters differ only in the size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlbench import workloads
from dlbench.errors import DlbenchError
from dlbench.i18n import _
from dlbench.report.cells import Row, format_params


@dataclass(frozen=True)
class Point:
    size: float  # the first size parameter's value: the x of a plot
    label: str  # e.g. "m, n, k = 512"
    row: Row
    value: str = ""  # the size alone, e.g. "512"


@dataclass(frozen=True)
class Sweep:
    workload: str
    dtype: str
    fixed: str  # the parameters held constant ("" when none)
    size_names: str  # e.g. "m, n, k": the parameters that are the size ("" when none)
    points: tuple[Point, ...]  # by increasing size

    @property
    def title(self) -> str:
        return f"{self.workload} {self.dtype}" + (f" ({self.fixed})" if self.fixed else "")

    @property
    def heading(self) -> str:
        """'conv2d float32 · n=32, c=128 · size: h, w': what a group of rows shares, written
        once above them (the workload, dtype and fixed parameters), and which parameters
        each row's size is."""
        parts = [f"{self.workload} {self.dtype}"]
        if self.fixed:
            parts.append(self.fixed)
        if self.size_names:
            parts.append(_("size: {names}").format(names=self.size_names))
        return " · ".join(parts)


def size_params(workload: str, rows: Sequence[Row]) -> tuple[str, ...]:
    """The parameters `--size` sets; for a workload this dlbench does not know (a file from
    a newer version), the parameters whose value varies among its rows."""
    try:
        return tuple(workloads.get(workload).size_params)
    except DlbenchError:
        names = [k for k, _ in rows[0].spec_params]
        return tuple(k for k in names
                     if len({dict(r.spec_params).get(k) for r in rows}) > 1)


def _split(row: Row, sizes: Sequence[str]) -> tuple[tuple[tuple[str, Any], ...],
                                                   tuple[tuple[str, Any], ...]]:
    """(the size: the first size parameter and those equal to it, as `--size` sets them;
    everything else, fixed). A size parameter that differs from the first (a GEMM shape
    m=35, n=700, k=2048) is not part of the sweep's size: rows that differ in it are not
    one sweep, so it is held fixed."""
    present = [(k, v) for k, v in row.spec_params if k in sizes]
    if not present:
        return (), tuple(row.spec_params)
    first = present[0][1]
    size = tuple((k, v) for k, v in present if v == first)
    tied = {k for k, _ in size}
    fixed = tuple((k, v) for k, v in row.spec_params if k not in tied)
    return size, fixed


def find_sweeps(rows: Sequence[Row]) -> list[Sweep]:
    """Every sweep among `rows`, in the order its first row appears; one-size sweeps too.
    A sweep's rows differ in the primary size alone: the same workload, dtype and every
    other parameter."""
    by_workload: dict[str, list[Row]] = {}
    for row in rows:
        by_workload.setdefault(row.workload, []).append(row)
    groups: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], Row]]] = {}
    for workload, members in by_workload.items():
        sizes = size_params(workload, members)
        for row in members:
            size, fixed = _split(row, sizes)
            key = (workload, row.dtype, fixed, tuple(k for k, _ in size))
            groups.setdefault(key, []).append((size, row))
    sweeps = []
    for (workload, dtype, fixed, names), members in groups.items():
        members.sort(key=lambda m: tuple(v for _, v in m[0]))
        points = tuple(Point(float(size[0][1]) if size else 0.0, size_label(size),
                             row, str(size[0][1]) if size else "—")
                       for size, row in members)
        sweeps.append(Sweep(workload, dtype, format_params(fixed), ", ".join(names), points))
    return sweeps


def size_label(size: Sequence[tuple[str, Any]]) -> str:
    """'m, n, k = 512': the size parameters, which `--size` sets together, and their one
    value; '—' when a workload has none."""
    if not size:
        return "—"
    return f"{', '.join(k for k, _ in size)} = {size[0][1]}"
