"""Sweeps: the rows of one workload and dtype whose parameters differ only in the size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlbench import workloads
from dlbench.errors import DlbenchError
from dlbench.report.cells import Row, compact_params


@dataclass(frozen=True)
class Point:
    size: float  # the first size parameter's value: the x of a plot
    label: str  # e.g. "m=n=k=512"
    row: Row


@dataclass(frozen=True)
class Sweep:
    workload: str
    dtype: str
    fixed: str  # the parameters held constant, compact ("" when none)
    size_names: str  # e.g. "m=n=k"
    points: tuple[Point, ...]  # by increasing size

    @property
    def title(self) -> str:
        return f"{self.workload} {self.dtype}" + (f" ({self.fixed})" if self.fixed else "")


def size_params(workload: str, rows: Sequence[Row]) -> tuple[str, ...]:
    """The parameters `--size` sets; for a workload this dlbench does not know (a file from
    a newer version), the parameters whose value varies among its rows."""
    try:
        return tuple(workloads.get(workload).size_params)
    except DlbenchError:
        names = [k for k, _ in rows[0].spec_params]
        return tuple(k for k in names
                     if len({dict(r.spec_params).get(k) for r in rows}) > 1)


def find_sweeps(rows: Sequence[Row]) -> list[Sweep]:
    """Every sweep among `rows`, in the order its first row appears; one-size sweeps too."""
    by_workload: dict[str, list[Row]] = {}
    for row in rows:
        by_workload.setdefault(row.workload, []).append(row)
    groups: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], Row]]] = {}
    names_of: dict[tuple[Any, ...], tuple[str, ...]] = {}
    for workload, members in by_workload.items():
        sizes = size_params(workload, members)
        for row in members:
            fixed = tuple((k, v) for k, v in row.spec_params if k not in sizes)
            key = (workload, row.dtype, fixed)
            size = tuple((k, v) for k, v in row.spec_params if k in sizes)
            groups.setdefault(key, []).append((size, row))
            names_of[key] = tuple(k for k, _ in size)
    sweeps = []
    for (workload, dtype, fixed), members in groups.items():
        members.sort(key=lambda m: tuple(v for _, v in m[0]))
        points = tuple(Point(float(size[0][1]) if size else 0.0, compact_params(size) or "—",
                             row) for size, row in members)
        sweeps.append(Sweep(workload, dtype, compact_params(fixed),
                            "=".join(names_of[(workload, dtype, fixed)]), points))
    return sweeps
