"""One flat CSV row per result, for spreadsheets: every measured field, the machine it ran
on and its speedup, so a pivot table needs nothing else."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from dlbench.report.model import Report
from dlbench.results import Result

FIELDS = ("id", "workload", "params", "dtype", "backend", "device", "impl", "status", "error",
          "median_s", "ci95_lo_s", "ci95_hi_s", "iqr_s", "n", "inner_loops", "gflops",
          "gbytes_per_s", "fraction_of_peak", "verify_ok", "max_rel_err", "tol", "warnings",
          # Added for merged reports; `dlbench run --format csv` leaves the machine ones empty.
          "mean_s", "stdev_s", "min_s", "max_s", "outliers", "timer", "flops", "bytes",
          "arithmetic_intensity", "column", "baseline", "speedup", "speedup_lo", "speedup_hi",
          "speedup_significant", "machine", "fingerprint", "host", "cpu_model", "gpus",
          "source", "created",
          # Added with compiled columns: compile time (the first call) and break-even.
          "first_call_s", "compile_s", "break_even_calls", "break_even_lo",
          "break_even_hi", "break_even_against")


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _break_even(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """A compiled result's break-even as the file stores it (dlbench.breakeven), blank for
    any other result; an unbounded end of the interval is "never"."""
    if not stored:
        return {}
    lo, hi = (list(stored.get("ci95") or []) + [None, None])[:2]
    calls = stored.get("calls")
    return {"compile_s": stored.get("compile_s"),
            "break_even_calls": "never" if calls is None else calls,
            "break_even_lo": _blank(lo), "break_even_hi": "never" if hi is None else hi,
            "break_even_against": stored.get("against")}


def render(results: Sequence[Result],
           context: Sequence[Mapping[str, Any]] | None = None) -> str:
    """`context[i]` holds the extra columns of results[i] (machine, speedup, ...)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for i, r in enumerate(results):
        s, v = r.stats or {}, r.verify or {}
        ci = s.get("ci95") or ["", ""]
        row = {
            "id": r.spec.id, "workload": r.spec.workload,
            "params": ";".join(f"{k}={val}" for k, val in r.spec.params),
            "dtype": r.spec.dtype, "backend": r.spec.backend, "device": r.spec.device,
            "impl": r.spec.impl_label, "status": r.status, "error": r.error or "",
            "median_s": s.get("median", ""), "ci95_lo_s": ci[0], "ci95_hi_s": ci[1],
            "iqr_s": s.get("iqr", ""), "n": s.get("n", ""), "inner_loops": r.inner_loops or "",
            "gflops": _blank(r.gflops), "gbytes_per_s": _blank(r.gbytes_per_s),
            "fraction_of_peak": _blank(r.fraction_of_peak),
            "verify_ok": v.get("ok", ""), "max_rel_err": v.get("max_rel_err", ""),
            "tol": v.get("tol", ""), "warnings": ";".join(r.warnings),
            "mean_s": s.get("mean", ""), "stdev_s": s.get("stdev", ""),
            "min_s": s.get("min", ""), "max_s": s.get("max", ""),
            "outliers": s.get("outliers", ""), "timer": r.timer, "flops": _blank(r.flops),
            "bytes": _blank(r.bytes),
            "arithmetic_intensity": r.flops / r.bytes if r.flops and r.bytes else "",
            "first_call_s": _blank(r.first_call_s),
            "column": r.column, **_break_even(r.break_even),
        }
        row.update({k: _blank(val) for k, val in (context[i] if context else {}).items()})
        writer.writerow({k: row.get(k, "") for k in FIELDS})
    return out.getvalue()


def render_report(report: Report) -> str:
    """Every machine's results; speedups against that machine's own baseline."""
    results, context = [], []
    for view in report.machines:
        m = view.machine
        for r in view.results:
            cell = report.cell(m.label, r.spec)
            speedup = cell.speedup if cell and r.column != view.table.baseline else None
            results.append(r)
            context.append({
                "baseline": view.table.baseline,
                "speedup": speedup[0] if speedup else None,
                "speedup_lo": speedup[1] if speedup else None,
                "speedup_hi": speedup[2] if speedup else None,
                "speedup_significant": cell.significant if speedup and cell else None,
                "machine": m.label, "fingerprint": m.fingerprint, "host": m.host,
                "cpu_model": m.cpu, "gpus": ";".join(m.gpus),
                "source": view.origin[r.spec].name, "created": view.origin[r.spec].created,
                # computed from the samples, also for files that stored no break-even
                **(_break_even(cell.break_even.to_dict()) if cell and cell.break_even else {}),
            })
    return render(results, context)
