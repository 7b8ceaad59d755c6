"""The regression gate's core: read two runs, judge every benchmark's change, list what differs.

One module per job, each importable on its own; this package re-exports their public names
so that callers write `compare.read(...)`, `compare.compare(...)`, `compare.Verdict`:

* `reading` — dlbench result files and pytest-benchmark JSON, reduced to a `Source`;
* `thresholds` — "5%" or 0.05, and per-benchmark thresholds from a TOML or JSON file;
* `environments` — the differences between two runs' environments and settings;
* `judging` — ratio, interval, U test and verdict per benchmark; the suite-wide shift.

Whether two files come from one machine is `dlbench.machine`'s to say, for `report` too.
"""

from dlbench.compare.environments import (
    ABSENT,
    UI_LIBRARIES,
    VOLATILE_KEYS,
    EnvDifference,
    differences,
)
from dlbench.compare.judging import (
    DEFAULT_ALPHA,
    IQR_PER_SIGMA,
    MIN_ROWS_FOR_SHIFT,
    MIN_SAMPLES,
    SEVERITY,
    SHIFT_ID,
    UTEST_MIN_SAMPLES,
    Comparison,
    Row,
    Shift,
    Verdict,
    compare,
    judge,
    shift_row,
    suite_shift,
)
from dlbench.compare.reading import Source, Timing, from_document, from_pytest_benchmark, read
from dlbench.compare.thresholds import (
    DEFAULT_THRESHOLD,
    load_thresholds,
    parse_threshold,
    threshold_for,
)

__all__ = [
    "ABSENT", "DEFAULT_ALPHA", "DEFAULT_THRESHOLD", "IQR_PER_SIGMA", "MIN_ROWS_FOR_SHIFT",
    "MIN_SAMPLES", "SEVERITY", "SHIFT_ID", "UI_LIBRARIES", "UTEST_MIN_SAMPLES", "VOLATILE_KEYS",
    "Comparison", "EnvDifference", "Row", "Shift", "Source", "Timing", "Verdict", "compare",
    "differences", "from_document", "from_pytest_benchmark", "judge", "load_thresholds",
    "parse_threshold", "read", "shift_row", "suite_shift", "threshold_for",
]
