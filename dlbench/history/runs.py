"""The runs of a history: result files found, read, and put in order.

A history is read from folders (every `*.json` below them that is a dlbench result file)
and files (each must be one). A run is reduced to what a trend needs: when it ran, the
commit and CI job it came from, its machine, its setup (the versions of the libraries that
do the arithmetic, dlbench's own, the BLAS kernel, the thread settings and the variables
that steer them), and each benchmark's median. Files from other dlbench versions read as
`results.load` reads them; a benchmark missing from some runs leaves a gap in its series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dlbench import machine, provenance, results
from dlbench.errors import UsageError

ORDERS = ("time", "commit")


@dataclass(frozen=True)
class Run:
    """One result file as a point in time."""

    path: str
    created: datetime | None
    provenance: Mapping[str, Any]
    hardware: machine.Hardware
    setup: Mapping[str, str]  # what may change a machine's speed besides the code: setup()
    medians: Mapping[str, float]  # benchmark id -> median seconds, for cases that ran ok

    @property
    def commit(self) -> str | None:
        return provenance.short_commit(self.provenance)

    @property
    def commit_time(self) -> datetime | None:
        return _when((self.provenance.get("git") or {}).get("commit_time"))

    @property
    def when(self) -> str:
        """'2026-12-06 01:30:05' (UTC), or the file's name when the run says nothing of it."""
        return self.created.strftime("%Y-%m-%d %H:%M:%S") if self.created \
            else Path(self.path).name

    @property
    def origin(self) -> str:
        """'a1b2c3d4e5 (main) · github-actions #12', or '' when not known."""
        return provenance.label(self.provenance)

    @property
    def label(self) -> str:
        """'2026-12-06 01:30:05 · a1b2c3d4e5 (main)': when and where from, for tables and axes."""
        return f"{self.when} · {self.origin}" if self.origin else self.when


def _when(text: Any) -> datetime | None:
    """An ISO-8601 time as an aware datetime (UTC when the text names no zone)."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def from_document(doc: results.RunDocument, path: str) -> Run:
    medians = {r.spec.id: float(r.median) for r in doc.results
               if r.status == "ok" and r.median is not None}
    return Run(path=path, created=_when(doc.created), provenance=doc.provenance,
               hardware=machine.hardware(doc.environment),
               setup=setup(doc), medians=medians)


def setup(doc: results.RunDocument) -> dict[str, str]:
    """What besides the code may change a machine's speed, as text by name: the key
    libraries' versions, dlbench's own, each BLAS library's kernel, the thread count asked
    for, and the recorded variables (OPENBLAS_CORETYPE, OMP_NUM_THREADS, ...)."""
    env = doc.environment
    out = {**machine.key_libraries(env), "dlbench": doc.dlbench_version}
    for lib in env.get("blas") or ():
        if isinstance(lib, Mapping) and lib.get("architecture"):
            out[f"{lib.get('internal_api', 'BLAS')} kernel"] = str(lib["architecture"])
    threads = doc.settings.get("threads")
    out["--threads"] = "default" if threads is None else str(threads)
    for name, value in (env.get("env_vars") or {}).items():
        out[name] = str(value)
    return out


def find(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """(file, named) for every file named and every `*.json` below the folders named
    (hidden files and folders left out), each once; `named` is False for a file found in a
    folder."""
    found: dict[Path, bool] = {}
    for path in paths:
        if not path.is_dir():
            found[path] = True
            continue
        for file in sorted(path.rglob("*.json")):
            if not any(part.startswith(".") for part in file.relative_to(path).parts):
                found.setdefault(file, False)
    return list(found.items())


def _other_json(data: Any) -> bool:
    """JSON that says it is something else than a dlbench result: a comparison or report
    (another "schema"), or pytest-benchmark's file. Passed over in a folder."""
    if not isinstance(data, dict):
        return False
    return data.get("schema", results.SCHEMA) != results.SCHEMA or (
        "schema" not in data and "benchmarks" in data)


def load(paths: Iterable[Path], order: str = "time",
         progress: Callable[[int, int], None] | None = None) -> tuple[list[Run], list[str]]:
    """Every run of the files and folders given, in `order` ("time": when each run started;
    "commit": the committer time of its git commit, then when it started), with notes on
    what was passed over. A file named on its own must be a result file; in a folder, JSON
    that says it is something else (a comparison written beside the results) is passed
    over, and anything unreadable is refused as it would be when named."""
    if order not in ORDERS:
        raise UsageError(f"--order must be one of {', '.join(ORDERS)}, got {order!r}")
    files = find(paths)
    runs, skipped = [], 0
    for i, (path, named) in enumerate(files):
        data = results.read_json(path)
        if not named and _other_json(data):
            skipped += 1
        else:
            runs.append(from_document(results.parse(data, str(path)), str(path)))
        if progress is not None:
            progress(i + 1, len(files))
    notes = [f"{skipped} JSON file(s) in the folders given are not dlbench result files and "
             "were passed over"] if skipped else []
    return sorted(runs, key=lambda r: _order_key(r, order)), notes


def _order_key(run: Run, order: str) -> tuple[Any, ...]:
    # Runs that say nothing of their time go first, by name: they cannot be placed.
    start = datetime.min.replace(tzinfo=UTC)
    created = run.created or start
    if order == "commit":
        return (run.commit_time or created, created, run.path)
    return (created, run.path)
