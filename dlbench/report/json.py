"""The report as JSON: the derived numbers (tables, speedups, crossovers, extrapolations)
for other programs; the raw samples stay in the result files it names."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from dlbench.report import epoch, headline
from dlbench.report.model import Report, machine_epochs
from dlbench.report.rows import SpeedupTable, across_ranks
from dlbench.results import Result, json_safe

SCHEMA = "dlbench.report"
SCHEMA_VERSION = 1


def _table(table: SpeedupTable, machine: str | None) -> dict[str, Any]:
    rows = []
    for row in table.rows:
        cells = {}
        for column, cell in row.cells.items():
            r = cell.result
            speedup = cell.speedup if column != table.baseline else None
            cells[column] = {
                "id": r.spec.id, "status": r.status, "error": r.error,
                "median_s": r.median, "ci95_s": list((r.stats or {}).get("ci95") or []) or None,
                "gflops": r.gflops, "fraction_of_peak": r.fraction_of_peak,
                "warnings": list(r.warnings),
                "speedup": list(speedup) if speedup else None,
                "significant": cell.significant if speedup else None,
                # compiled columns (added in schema_version 1): what ran, its compile
                # time (the first call) and when it pays off
                "first_call_s": r.first_call_s, "compiler": r.compiler,
                "break_even": cell.break_even.to_dict() if cell.break_even else None,
            }
        rows.append({"workload": row.workload, "params": dict(row.spec_params),
                     "dtype": row.dtype, "cells": cells})
    return {
        "machine": machine, "baseline": table.baseline, "columns": list(table.columns),
        "rows": rows,
        "geomeans": {c: {**asdict(g), "significant": g.significant}
                     for c, g in table.geomeans.items()},
        "crossovers": [{**asdict(c), "text": c.text()} for c in table.crossovers],
    }


def _across(machine: str, r: Result) -> dict[str, Any]:
    d = r.distributed or {}
    return {"machine": machine, "id": r.spec.id, "workload": r.spec.workload,
            "impl": r.spec.impl, "params": r.spec.param_dict, "dtype": r.spec.dtype,
            "status": r.status, "error": r.error, "median_s": r.median,
            "wrong": (r.verify or {}).get("wrong"),
            **{k: d.get(k) for k in ("world_size", "algbw_gbytes_per_s",
                                     "busbw_gbytes_per_s", "samples_per_s",
                                     "scaling_efficiency")}}


def render(report: Report) -> str:
    """The report's derived numbers; "headline" holds each machine's sentences and
    "distributed" the results across ranks (fields added in schema_version 1: readers
    ignore keys they do not know)."""
    doc = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "baseline": report.baseline,
        "machines": [{
            "label": v.machine.label, "fingerprint": v.machine.fingerprint,
            "host": v.machine.host, "cpu": v.machine.cpu, "gpus": list(v.machine.gpus),
            "libraries": dict(v.machine.libraries),
            "files": [asdict(f) for f in v.sources],
            "environment": v.machine.environment,
        } for v in report.machines],
        "tables": [_table(v.table, v.machine.label) for v in report.machines]
        + ([_table(report.cross, None)] if report.cross else []),
        "epoch_estimates": {
            "formula": epoch.FORMULA, "caveat": epoch.CAVEAT,
            "estimates": [{**asdict(e), "samples_per_s": e.samples_per_s}
                          for e in report.epochs],
        } if report.epochs else None,
        # Results across ranks: not in the speedup tables (only torch runs them).
        "distributed": [_across(v.machine.label, r) for v in report.machines
                        for r in v.results if across_ranks(r)],
        "headline": {v.machine.label: headline.sentences(v.table, machine_epochs(report, v))
                     for v in report.machines},
        "notes": list(report.notes),
    }
    return json.dumps(json_safe(doc), indent=2, sort_keys=True, allow_nan=False) + "\n"
