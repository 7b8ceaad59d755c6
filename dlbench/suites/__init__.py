"""Named suites as TOML data: which workloads, sizes and dtypes a run measures.

A suite file has an optional `description`, optional `[settings]` (measurement
defaults the command line can override, and `threads`), an optional `[impls]` table
(backend name = the implementations of it to run, e.g. `jax = ["native"]`; a backend
not named runs all of its own) and one `[[benchmark]]` table per workload:
`workload`, `sizes` (the workload's primary size), `dtypes`, and optional `params`
(other parameters held fixed).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dlbench import backends, workloads
from dlbench.errors import UsageError

# threads: BLAS/OpenMP threads per backend, as --threads (which overrides it); the rest
# are MeasureConfig fields.
SETTINGS = {"min_time": float, "max_time": float, "block_time": float, "target_ci": float,
            "min_samples": int, "min_rounds": int, "repeat": int, "threads": int}
DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class Entry:
    workload: str
    sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    params: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    settings: dict[str, Any]
    entries: tuple[Entry, ...]
    impls: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by backend name


def builtin_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in resources.files(__package__).iterdir()
                  if p.name.endswith(".toml"))


def load(name_or_path: str) -> Suite:
    """A built-in suite by name, or a user's suite file by path (ending in .toml)."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"suite file {path}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"suite file {path}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None
        return parse(text, source=str(path), name=path.stem)
    if name_or_path not in builtin_names():
        raise UsageError(f"unknown suite {name_or_path!r} (built-in: {', '.join(builtin_names())}; "
                         "or give a path to a .toml file)")
    text = resources.files(__package__).joinpath(f"{name_or_path}.toml").read_text("utf-8")
    return parse(text, source=f"built-in suite {name_or_path}", name=name_or_path)


def parse(text: str, source: str, name: str) -> Suite:
    def bad(where: str, problem: str) -> UsageError:
        return UsageError(f"{source}: {where}: {problem}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML ({exc})") from None
    unknown = set(data) - {"description", "settings", "impls", "benchmark"}
    if unknown:
        raise bad(", ".join(sorted(unknown)), "unknown key (expected description, settings, "
                  "impls, benchmark)")
    settings = _settings(data.get("settings", {}), bad)
    raw_entries = data.get("benchmark")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise bad("benchmark", "at least one [[benchmark]] table is required")
    entries = tuple(_entry(raw, f"benchmark[{i}]", bad) for i, raw in enumerate(raw_entries))
    return Suite(name, str(data.get("description", "")), settings, entries,
                 _impls(data.get("impls", {}), bad))


Complaint = Callable[[str, str], UsageError]


def _settings(settings: Any, bad: Complaint) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise bad("settings", "must be a table")
    for key, value in settings.items():
        kind = SETTINGS.get(key)
        if kind is None:
            raise bad(f"settings.{key}", f"unknown setting (known: {', '.join(SETTINGS)})")
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise bad(f"settings.{key}", f"must be a positive number, got {value!r}")
        settings[key] = kind(value)
    return settings


def _impls(raw: Any, bad: Complaint) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise bad("impls", "must be a table of backend = [implementations]")
    out = {}
    known = implementations()
    for backend, impls in raw.items():
        if (not isinstance(impls, list) or not impls
                or any(not isinstance(i, str) or i not in known for i in impls)):
            raise bad(f"impls.{backend}", f"must be a non-empty list drawn from "
                      f"{', '.join(known)}")
        out[str(backend)] = tuple(impls)
    return out


def implementations() -> list[str]:
    """Every implementation a backend here offers: portable, native, and those derived."""
    offered = (backends.backend_class(name).implementations(native=True)
               for name in backends.names())
    return list(dict.fromkeys(impl for impls in offered for impl in impls))


def _entry(raw: Any, where: str, bad: Complaint) -> Entry:
    if not isinstance(raw, dict):
        raise bad(where, "must be a table")
    extra = set(raw) - {"workload", "sizes", "dtypes", "params"}
    if extra:
        raise bad(f"{where}.{sorted(extra)[0]}", "unknown key (expected workload, sizes, "
                  "dtypes, params)")
    wl_name = raw.get("workload")
    if not isinstance(wl_name, str) or workloads.find(wl_name) is None:
        raise bad(f"{where}.workload", workloads.why_unknown(wl_name))
    sizes = raw.get("sizes", [])
    if not isinstance(sizes, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise bad(f"{where}.sizes", "must be a list of positive integers")
    dtypes = raw.get("dtypes", ["float32"])
    if not isinstance(dtypes, list) or not dtypes or any(d not in DTYPES for d in dtypes):
        raise bad(f"{where}.dtypes", f"must be a non-empty list drawn from {', '.join(DTYPES)}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise bad(f"{where}.params", "must be a table")
    wl = workloads.get(wl_name)
    try:
        for size in sizes or [None]:
            wl.resolve(size=size, **params)
    except UsageError as exc:
        raise bad(where, str(exc)) from None
    return Entry(wl_name, tuple(sizes), tuple(dtypes), dict(params))
