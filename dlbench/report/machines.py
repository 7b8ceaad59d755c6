"""Machines: tell result files apart by a fingerprint of the environment they were run in.

What a machine is, and its fingerprint, are defined once in `dlbench.machine`, which
`compare` uses too; this module groups a report's files by them and describes each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlbench.machine import fingerprint, hardware, key_libraries


@dataclass(frozen=True)
class Machine:
    label: str  # short and unique within one report: the host, plus the fingerprint if needed
    fingerprint: str  # 12 hex digits
    host: str
    cpu: str
    gpus: tuple[str, ...]
    libraries: tuple[tuple[str, str], ...]
    environment: Mapping[str, Any]


def machines(environments: Sequence[Mapping[str, Any]]) -> list[Machine]:
    """One Machine per distinct fingerprint, in order of first appearance. A host that shows
    up with two fingerprints (say, before and after a torch upgrade) gets them in its label."""
    first: dict[str, Mapping[str, Any]] = {}
    for env in environments:
        first.setdefault(fingerprint(env), env)
    hosts = [hardware(env).host for env in first.values()]
    out = []
    for fp, env in first.items():
        hw = hardware(env)
        label = hw.host if hosts.count(hw.host) == 1 else f"{hw.host} ({fp[:8]})"
        out.append(Machine(label=label, fingerprint=fp, host=hw.host, cpu=hw.cpu,
                           gpus=hw.gpus or (),
                           libraries=tuple(key_libraries(env).items()), environment=env))
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
