"""Machines: tell result files apart by a fingerprint of the environment they were run in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Versions that change what a benchmark measures; dlbench's own version does not change the
# machine, and the helpers (typer, rich, psutil) do not change its speed.
KEY_LIBRARIES = ("numpy", "torch", "cupy", "cupy-cuda12x", "cupy-cuda13x")


@dataclass(frozen=True)
class Machine:
    label: str  # short and unique within one report: the host, plus the fingerprint if needed
    fingerprint: str  # 12 hex digits
    host: str
    cpu: str
    gpus: tuple[str, ...]
    libraries: tuple[tuple[str, str], ...]
    environment: Mapping[str, Any]


def identity(environment: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two environments the same machine: host, CPU and GPU models, and the
    versions of the libraries that do the arithmetic."""
    libraries = environment.get("libraries") or {}
    return {
        "host": str(environment.get("host") or "unknown host"),
        "cpu": str((environment.get("cpu") or {}).get("model") or "unknown CPU"),
        "gpus": [str(g.get("name", "?")) for g in environment.get("gpus") or []
                 if isinstance(g, Mapping)],
        "libraries": {k: str(libraries[k]) for k in KEY_LIBRARIES if k in libraries},
    }


def fingerprint(environment: Mapping[str, Any]) -> str:
    canonical = json.dumps(identity(environment), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def machines(environments: Sequence[Mapping[str, Any]]) -> list[Machine]:
    """One Machine per distinct fingerprint, in order of first appearance. A host that shows
    up with two fingerprints (say, before and after a torch upgrade) gets them in its label."""
    first: dict[str, Mapping[str, Any]] = {}
    for env in environments:
        first.setdefault(fingerprint(env), env)
    hosts = [identity(env)["host"] for env in first.values()]
    out = []
    for fp, env in first.items():
        ident = identity(env)
        label = ident["host"] if hosts.count(ident["host"]) == 1 else f"{ident['host']} ({fp[:8]})"
        out.append(Machine(label=label, fingerprint=fp, host=ident["host"], cpu=ident["cpu"],
                           gpus=tuple(ident["gpus"]),
                           libraries=tuple(ident["libraries"].items()), environment=env))
    return out


def summary(machine: Machine) -> list[tuple[str, str]]:
    """A short environment summary, (what, value) pairs; tolerant of missing fields so that
    files from older or newer versions still read."""
    env = machine.environment
    cpu = env.get("cpu") or {}
    lines = [("host", machine.host)]
    if env.get("os") or env.get("python"):
        lines.append(("system", f"{env.get('os', '?')} · Python {env.get('python', '?')}"))
    cores = cpu.get("usable_cores") or cpu.get("logical_cores")
    lines.append(("CPU", machine.cpu + (f" · {cores} usable cores" if cores else "")
                  + (" · virtual machine" if cpu.get("virtualized") else "")))
    blas = [f"{b.get('internal_api', '?')} {b.get('version', '')}".strip()
            + (f" ({b['num_threads']} threads)" if b.get("num_threads") else "")
            for b in env.get("blas") or [] if isinstance(b, Mapping)]
    if blas:
        lines.append(("BLAS (NumPy)", ", ".join(blas)))
    lines.append(("GPUs", ", ".join(machine.gpus) or "none"))
    libraries = env.get("libraries") or {}
    lines.append(("libraries", ", ".join(f"{k} {v}" for k, v in libraries.items()) or "unknown"))
    lines.append(("CPU peak", peak_text(env)))
    lines.append(("fingerprint", machine.fingerprint))
    return lines


def peak_text(env: Mapping[str, Any]) -> str:
    peak = env.get("peak_flops") or {}
    if not peak:
        return "unknown: not recorded"
    if "unknown" in peak:
        return f"unknown: {peak['unknown']}"
    return "; ".join(f"{dtype} {entry['flops'] / 1e9:.0f} GFLOP/s"
                     for dtype, entry in peak.items()
                     if isinstance(entry, Mapping) and isinstance(entry.get("flops"), int | float))
