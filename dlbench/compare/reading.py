"""Reading a comparison's inputs: dlbench result files and pytest-benchmark JSON.

Both are reduced to a `Source`: one `Timing` per benchmark, the flattened environment,
and the machine. The kind of file is told apart by its content, not its name. A
pytest-benchmark file saved without raw samples still compares: the interval then comes
from its summary statistics and the U test is skipped, which each row says.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbench import intervals, results, schema
from dlbench.compare.environments import environment_facts, flatten
from dlbench.errors import ResultFileError
from dlbench.machine import UNKNOWN_CPU, UNKNOWN_HOST, Hardware, hardware


@dataclass(frozen=True)
class Timing:
    """One benchmark as one file observed it, whichever tool wrote the file."""

    id: str
    status: str  # "ok", or why there is no usable timing (dlbench: wrong, error, oom, skipped)
    error: str | None = None
    samples: tuple[float, ...] = ()
    median: float | None = None
    iqr: float | None = None
    n: int = 0
    # Round medians, where the file recorded rounds (dlbench since rounds): comparisons
    # then stand on the spread between rounds, not between samples.
    rounds: tuple[float, ...] = ()
    round_groups: tuple[int, ...] = ()  # each round's execution (--repeat)
    # The between-execution component its run pooled over its worker's cases (--repeat).
    between: intervals.Between | None = None


@dataclass(frozen=True)
class Source:
    """A result file reduced to what a comparison needs."""

    path: str
    kind: str  # "dlbench" or "pytest-benchmark"
    timings: tuple[Timing, ...]
    facts: tuple[tuple[str, str], ...]  # flattened environment and settings, in file order
    machine: Hardware  # what makes it the same machine: host, CPU, GPUs
    notes: tuple[str, ...] = ()


def read(path: str | Path, progress: results.Progress | None = None) -> Source:
    """A dlbench result file or pytest-benchmark JSON, told apart by content, and
    validated against its schema before use; `progress` follows the validation."""
    p = Path(path)
    data = results.read_json(p)
    if isinstance(data, dict) and "schema" in data:
        return from_document(results.parse(data, str(p), progress), str(p))
    if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):
        schema.validate(data, schema.PYTEST_BENCHMARK, str(p), "pytest-benchmark JSON",
                        progress)
        for key in ("machine_info", "commit_info"):
            schema.check_depth(data.get(key), str(p), key)
        return from_pytest_benchmark(data, str(p))
    raise ResultFileError(f"{p}: neither a dlbench result file (\"schema\": "
                          f"\"{results.SCHEMA}\") nor pytest-benchmark JSON (\"benchmarks\")")


def timing(r: results.Result, ident: str | None = None) -> Timing:
    """One dlbench result as a comparison sees it, under its own id or `ident`."""
    s = r.stats or {}
    median = s.get("median")
    if median is None and r.samples_s:
        median = statistics.median(r.samples_s)
    rounds = tuple(r.round_medians().values()) if r.rounds else ()
    groups = tuple(r.round_executions().values()) if r.rounds else ()
    return Timing(id=ident or r.spec.id, status=r.status, error=r.error,
                  samples=tuple(r.samples_s), median=median, iqr=s.get("iqr"),
                  n=len(r.samples_s) or int(s.get("n") or 0), rounds=rounds,
                  round_groups=groups, between=intervals.Between.from_dict(s.get("executions")))


def from_document(doc: results.RunDocument, path: str) -> Source:
    timings = [timing(r) for r in doc.results]
    notes = (f"{path} is from an interrupted run: only its finished cases are compared",) \
        if doc.interrupted else ()
    return Source(path=path, kind="dlbench", timings=tuple(timings),
                  facts=tuple(environment_facts(doc.environment, doc.settings)),
                  machine=hardware(doc.environment), notes=notes)


def from_pytest_benchmark(data: Mapping[str, Any], path: str) -> Source:
    """pytest-benchmark's JSON: per benchmark "fullname" and "stats", with the raw per-call
    times in stats["data"] when written by --benchmark-json or --benchmark-save-data."""
    timings = []
    try:
        for b in data["benchmarks"]:
            ident = str(b.get("fullname") or b["name"])
            s = b.get("stats")
            if not isinstance(s, Mapping) or s.get("median") is None:
                timings.append(Timing(id=ident, status="error", error="no timings recorded"))
                continue
            samples = tuple(float(x) for x in s.get("data") or ())
            timings.append(Timing(id=ident, status="ok", samples=samples,
                                  median=float(s["median"]), iqr=_float(s.get("iqr")),
                                  n=len(samples) or int(s.get("rounds") or 0)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultFileError(f"{path}: malformed pytest-benchmark entry ({exc!r})") from None
    info = data.get("machine_info") or {}
    commit = data.get("commit_info") or {}
    facts = flatten("", info) + flatten("commit", {k: commit.get(k) for k in
                                                   ("id", "branch", "dirty") if k in commit})
    cpu = info.get("cpu") or {}
    machine = Hardware(host=str(info.get("node") or UNKNOWN_HOST),
                       cpu=str(cpu.get("brand_raw") or info.get("processor") or UNKNOWN_CPU),
                       gpus=None)  # pytest-benchmark records no GPU
    notes = () if all(t.samples for t in timings if t.status == "ok") else (
        f"{path} has no raw timings (saved without --benchmark-save-data): the U test is "
        "unavailable, verdicts come from an interval estimated from its quartiles",)
    return Source(path=path, kind="pytest-benchmark", timings=tuple(timings),
                  facts=tuple(facts), machine=machine, notes=notes)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
