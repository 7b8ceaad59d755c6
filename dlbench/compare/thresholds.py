"""Thresholds: the smallest slowdown that counts as a regression, globally or per benchmark.

Written as "5%" or 0.05 on the command line, and per benchmark id glob pattern in a TOML
or JSON file (pytest-benchmark's `mean:5%` rules, by id instead of by statistic).
"""

from __future__ import annotations

import fnmatch
import json
import math
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlbench import results
from dlbench.errors import UsageError

# A 5% slowdown is below what most users would call a regression on a shared machine
# yet above the few-percent run-to-run drift of a quiet one (TorchBench uses ±7%).
DEFAULT_THRESHOLD = 0.05


def parse_threshold(value: Any, where: str) -> float:
    """A threshold as "5%" or 0.05. A bare number of 1 or more is refused: "10" is far more
    likely a mistyped 10% than a 1000% allowance that would never fail."""
    percent = isinstance(value, str) and value.strip().endswith("%")
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value.strip().rstrip("%")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {value!r} is not a threshold; write 5% or 0.05") from None
    if percent:
        number /= 100.0
    elif number >= 1.0:
        raise UsageError(f"{where}: {value!r} would allow a {number:.0%} slowdown; write a "
                         f"fraction (0.05) or a percentage (\"{value}%\")")
    if not math.isfinite(number) or number < 0:
        raise UsageError(f"{where}: {value!r} is not a threshold; it must be 0 or more")
    return number


def load_thresholds(path: str | Path) -> tuple[tuple[str, float], ...]:
    """Per-benchmark thresholds from a TOML or JSON file mapping id glob patterns (fnmatch:
    `*` also crosses `/`) to thresholds, e.g. `"matmul/*/float64/*" = "10%"`. When several
    patterns match an id the last one in the file wins, so general patterns go first.

    A bad thresholds file is a usage error (an option's value) that names the option's
    file, not a result file."""
    p = Path(path)
    text = results.read_text(p, "thresholds file", UsageError)
    suffix = p.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise UsageError(f"{p}: a thresholds file must be .toml or .json")
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{p}: not valid {suffix[1:].upper()} ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{p}: expected a mapping of benchmark id patterns to thresholds")
    return tuple((str(k), parse_threshold(v, f"{p}: {k!r}")) for k, v in data.items())


def threshold_for(ident: str, default: float, overrides: Sequence[tuple[str, float]]) -> float:
    """The threshold of one benchmark id: the last matching pattern's, else the default."""
    chosen = default
    for pattern, threshold in overrides:
        if fnmatch.fnmatchcase(ident, pattern):
            chosen = threshold
    return chosen


def unmatched(overrides: Sequence[tuple[str, float]], ids: Sequence[str]) -> list[str]:
    """The patterns that match none of `ids`: most likely a typo the user should hear of."""
    return [pattern for pattern, _ in overrides
            if not any(fnmatch.fnmatchcase(i, pattern) for i in ids)]
