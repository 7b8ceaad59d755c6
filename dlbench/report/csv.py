"""One flat CSV row per result, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from dlbench.results import Result

FIELDS = ("id", "workload", "params", "dtype", "backend", "device", "impl", "status", "error",
          "median_s", "ci95_lo_s", "ci95_hi_s", "iqr_s", "n", "inner_loops", "gflops",
          "gbytes_per_s", "fraction_of_peak", "verify_ok", "max_rel_err", "tol", "warnings")


def render(results: Sequence[Result]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        s, v = r.stats or {}, r.verify or {}
        writer.writerow({
            "id": r.spec.id, "workload": r.spec.workload,
            "params": ";".join(f"{k}={val}" for k, val in r.spec.params),
            "dtype": r.spec.dtype, "backend": r.spec.backend, "device": r.spec.device,
            "impl": r.spec.impl, "status": r.status, "error": r.error or "",
            "median_s": s.get("median", ""), "ci95_lo_s": (s.get("ci95") or ["", ""])[0],
            "ci95_hi_s": (s.get("ci95") or ["", ""])[1], "iqr_s": s.get("iqr", ""),
            "n": s.get("n", ""), "inner_loops": r.inner_loops or "",
            "gflops": r.gflops if r.gflops is not None else "",
            "gbytes_per_s": r.gbytes_per_s if r.gbytes_per_s is not None else "",
            "fraction_of_peak": r.fraction_of_peak if r.fraction_of_peak is not None else "",
            "verify_ok": v.get("ok", ""), "max_rel_err": v.get("max_rel_err", ""),
            "tol": v.get("tol", ""), "warnings": ";".join(r.warnings),
        })
    return out.getvalue()
