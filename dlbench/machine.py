"""The machine a result was measured on: one definition for `compare` and `report`.

Two questions, answered here once so that the commands can never disagree:

* the *hardware* (host, CPU model, GPU models): whether two files come from one machine.
  `compare` warns when they do not, and lists every other difference (library versions,
  settings) as an environment difference;
* the *fingerprint*: the hardware plus the versions of the libraries that do the
  arithmetic. `report` keeps results with different fingerprints apart, so a host measured
  before and after a torch upgrade shows as two columns of one host, never as a merge.
  Equal fingerprints imply equal hardware, so a file `report` merges is never one that
  `compare` calls another machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# CuPy ships one distribution per CUDA major version; any of them provides `cupy`, and each
# is a different build of the arithmetic. The one list of their names.
CUPY_DISTRIBUTIONS = ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy")
# Versions that change what a benchmark measures; dlbench's own version does not change the
# machine, and the helpers (typer, rich, psutil) do not change its speed.
KEY_LIBRARIES = ("numpy", "torch", *CUPY_DISTRIBUTIONS)
UNKNOWN_HOST = "unknown host"
UNKNOWN_CPU = "unknown CPU"


@dataclass(frozen=True)
class Hardware:
    """What makes two result files the same machine."""

    host: str
    cpu: str
    gpus: tuple[str, ...] | None  # None: the file does not say (pytest-benchmark JSON)

    @property
    def facts(self) -> tuple[tuple[str, str], ...]:
        """(what, value) pairs, in the order a reader sees them."""
        facts = (("host", self.host), ("CPU", self.cpu))
        if self.gpus is None:
            return facts
        return (*facts, ("GPUs", ", ".join(self.gpus) or "none"))

    def line(self) -> str:
        """'host h · CPU c · GPUs g': one line describing the machine."""
        return " · ".join(f"{what} {value}" for what, value in self.facts)


def hardware(environment: Mapping[str, Any]) -> Hardware:
    """The hardware of a dlbench environment record; tolerant of missing fields, so that
    files from older or newer versions still read."""
    return Hardware(
        host=str(environment.get("host") or UNKNOWN_HOST),
        cpu=str((environment.get("cpu") or {}).get("model") or UNKNOWN_CPU),
        gpus=tuple(str(g.get("name", "?")) for g in environment.get("gpus") or []
                   if isinstance(g, Mapping)))


def same_machine(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two environment records come from one machine (library versions aside)."""
    return hardware(a) == hardware(b)


def key_libraries(environment: Mapping[str, Any]) -> dict[str, str]:
    libraries = environment.get("libraries") or {}
    return {k: str(libraries[k]) for k in KEY_LIBRARIES if k in libraries}


def identity(environment: Mapping[str, Any]) -> dict[str, Any]:
    """What the fingerprint is made of: the hardware and the key libraries' versions."""
    hw = hardware(environment)
    return {"host": hw.host, "cpu": hw.cpu, "gpus": list(hw.gpus or ()),
            "libraries": key_libraries(environment)}


def fingerprint(environment: Mapping[str, Any]) -> str:
    """12 hex digits of a hash of `identity`: equal for files from one machine and one set of
    key library versions."""
    canonical = json.dumps(identity(environment), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
