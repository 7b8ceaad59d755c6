"""Workloads: the same deep-learning kernels for every backend, in one registry.

The base class and what a workload may declare are in `base`, the tolerances of the
float64 checks in `tolerances`; this module is the registry of the built-in workloads
(each in a module of its own, imported on first use), of those plugins add through the
`dlbench.workloads` entry-point group, and of a user's `--workload-file`
(docs/extending.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from dlbench.registry import BUILT_IN, Registry
from dlbench.workloads.base import (
    DEFAULT_SEED,
    Check,
    Param,
    Reference,
    TrainingData,
    Workload,
    itemsize,
)
from dlbench.workloads.tolerances import (
    ACCUMULATION_DTYPE,
    UNIT_ROUNDOFF,
    dot_tolerance,
    scaled_check,
)

__all__ = ["ACCUMULATION_DTYPE", "DEFAULT_SEED", "UNIT_ROUNDOFF", "Check", "Param",
           "Reference", "TrainingData", "Workload", "code_of", "dot_tolerance", "files", "find",
           "get", "itemsize", "names", "notes", "origin", "register", "scaled_check",
           "why_unknown"]

# Files named by --workload-file, for the worker processes a run spawns (they inherit the
# environment and load the same files with the built-in workloads).
FILES_ENV = "DLBENCH_WORKLOAD_FILES"


def contract_problem(cls: type) -> str | None:
    """Why a class cannot serve as a workload (checked as it registers), or None."""
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        return "is not a dlbench.workloads.Workload"
    for attribute in ("name", "description", "params", "size_params", "flops_formula"):
        if attribute not in dir(cls):
            return f"declares no {attribute}"
    checks = cls.reference is not Workload.reference and cls.compare is not Workload.compare
    if cls.verified and not checks and not cls.distributed:
        return ("has no float64 reference (reference and compare) and does not say "
                "verified = False")
    return None


_REGISTRY: Registry[Workload] = Registry(
    "workload", __name__, helpers=("base", "tolerances", "ranks"),
    entry_points="dlbench.workloads", check=contract_problem, files_env=FILES_ENV)
register = _REGISTRY.register
names = _REGISTRY.names
find = _REGISTRY.find
origin = _REGISTRY.origin
notes = _REGISTRY.notes


def get(name: str) -> Workload:
    return _REGISTRY.get(name)()


def code_of(name: str) -> str | None:
    """What names the code of a workload that is not built in: a plugin's distribution
    and version, or a file's path and the SHA-256 of its content, so that two runs of
    different code are not taken for one machine's drift; None for a built-in one."""
    where = origin(name)
    if where == BUILT_IN:
        return None
    if where.startswith("file "):
        try:
            digest = hashlib.sha256(Path(where.removeprefix("file ")).read_bytes()).hexdigest()
        except OSError:
            return f"{where} (unreadable)"
        return f"{where} sha256:{digest[:16]}"
    return where


def why_unknown(name: object) -> str:
    """Why `name` is no workload here: unknown, or a plugin that did not load."""
    return _REGISTRY.why_unknown(name)


@contextlib.contextmanager
def files(paths: Sequence[Path]) -> Iterator[list[str]]:
    """Load a user's workload files for the length of a command, their workloads also in
    every worker it spawns; the names they registered. A file that cannot be loaded is a
    UsageError saying why. A file this process already has (a rank of a distributed run
    inherits its launcher's) stays as it is."""
    paths = [Path(p).resolve() for p in paths]
    before = os.environ.get(FILES_ENV)
    _REGISTRY.names()  # the files the environment names are loaded first
    fresh = [path for path in paths if str(path) not in _REGISTRY.files]
    added: list[str] = []
    try:
        for path in paths:
            added += _REGISTRY.load_file(path)
        os.environ[FILES_ENV] = os.pathsep.join(dict.fromkeys(
            [*filter(None, (before or "").split(os.pathsep)), *map(str, paths)]))
        yield added
    finally:
        for path in fresh:
            _REGISTRY.unload_file(path)
        if before is None:
            os.environ.pop(FILES_ENV, None)
        else:
            os.environ[FILES_ENV] = before
