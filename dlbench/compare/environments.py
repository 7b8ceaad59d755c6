"""Environment differencing: what differs between the machines and settings of two runs.

A comparison across a library upgrade, another thread count or another machine compares
those as much as the code, so `compare` lists every such difference before its verdicts.
Records are flattened to (dotted key, text) pairs; keys that change on every run, or only
repeat another key, are left out, as are helper libraries, so the list shows what matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Environment keys that change from run to run on the same machine, or only repeat
# what another key says: listing them as differences would hide the ones that matter.
VOLATILE_KEYS = frozenset({
    "available_bytes", "memory_free_bytes", "temperature_c", "sm_clock_mhz", "filepath",
    "flags", "peak_flops", "nvml_error", "source", "pci_bus_id", "hz_actual",
    "hz_actual_friendly", "python_build", "cpuinfo_version", "cpuinfo_version_string",
    "mhz_nominal",  # read from /proc/cpuinfo's "cpu MHz": the current clock, not a constant
})
# Helper libraries that do not touch the arithmetic being timed.
UI_LIBRARIES = frozenset({"typer", "rich", "psutil", "click", "threadpoolctl"})
# Text that stands for "no value" in an environment difference.
ABSENT = "(absent)"


@dataclass(frozen=True)
class EnvDifference:
    what: str
    base: str
    new: str


def environment_facts(environment: Mapping[str, Any], settings: Mapping[str, Any]
                      ) -> list[tuple[str, str]]:
    """A dlbench run's environment record and settings as (dotted key, text) pairs:
    library versions first (the likeliest cause of a change), then the rest."""
    facts = flatten("", {k: v for k, v in environment.items() if k != "libraries"})
    libraries = {k: v for k, v in (environment.get("libraries") or {}).items()
                 if k not in UI_LIBRARIES}
    return flatten("libraries", libraries) + facts + flatten("settings", settings)


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    """(dotted key, text) pairs for every scalar in a nested record."""
    if isinstance(value, Mapping):
        out = []
        for key, item in value.items():
            if key not in VOLATILE_KEYS:
                out += flatten(f"{prefix}.{key}" if prefix else str(key), item)
        return out
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return [(prefix, ", ".join(str(v) for v in value))] if value else []
        out = []
        for i, item in enumerate(value):
            out += flatten(f"{prefix}[{i}]", item)
        return out
    return [(prefix, "null" if value is None else str(value))]


def differences(base: Iterable[tuple[str, str]], new: Iterable[tuple[str, str]]
                ) -> list[EnvDifference]:
    """Keys whose values differ, in BASE's order then NEW's additions."""
    a, b = dict(base), dict(new)
    keys = list(a) + [k for k in b if k not in a]
    return [EnvDifference(k, a.get(k, ABSENT), b.get(k, ABSENT)) for k in keys
            if a.get(k) != b.get(k)]
