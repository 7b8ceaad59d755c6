"""`dlbench history`'s core: result files over time, one series per benchmark and machine,
and the change points in each.

* `runs` — result files found, read and put in order (by time or by commit);
* `detect` — change points of one series: E-Divisive means with a t-test (Otava's method);
* `analysis` — series per benchmark and machine, each change with its size and interval,
  and whether the newest change is a regression.
"""

from dlbench.history.analysis import (
    DEFAULT_THRESHOLD,
    Change,
    History,
    Kind,
    Machine,
    Series,
    Settings,
    SetupChange,
    build,
)
from dlbench.history.detect import DEFAULT_MAX_P, DEFAULT_MIN_SIZE, TESTS, ChangePoint
from dlbench.history.runs import ORDERS, Run, load

__all__ = [
    "DEFAULT_MAX_P", "DEFAULT_MIN_SIZE", "DEFAULT_THRESHOLD", "ORDERS", "Change", "ChangePoint",
    "History", "Kind", "Machine", "Run", "Series", "SetupChange", "Settings", "TESTS", "build",
    "load",
]
