"""Progress through long jobs over many results: `compare` and `report` of big files.

Reading, validating and comparing take about 1 to 15 ms per result (jsonschema, then
bootstrap intervals), so a file of 10^5 results takes minutes: the core reports
`progress(done, total)` and this module shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from dlbench.cli import console

# From this many results a step takes seconds, and is said to; from BAR_FROM, long enough
# to show a bar on a terminal.
LONG_JOB = 2_000
BAR_FROM = 200
# JSON parses at about 100 MiB/s: from this size a file's parsing alone takes a second.
BIG_FILE_BYTES = 100 * 2**20


class Steps:
    """Progress through a long job over many results (`compare` and `report` of big files):
    a transient bar on stderr where it is a terminal, and, wherever it goes (a CI log shows
    no bar), one note for each step of LONG_JOB results or more, so that a long silence is
    never mistaken for a hang. Nothing at all for small jobs."""

    def __init__(self) -> None:
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console.err,
                            transient=True)
        self.started = False

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.bar.stop()

    def reading(self, path: Path) -> Callable[[int, int], None]:
        """The progress of checking `path`'s entries, after a note when the file is so
        big that parsing its JSON alone takes seconds, before any entry is counted."""
        try:
            size = path.stat().st_size
        except OSError:
            size = 0  # the reading says why it cannot be read
        if size >= BIG_FILE_BYTES:
            console.message(f"note: reading {console.one_line(str(path))} "
                            f"({size / 2**20:,.0f} MiB)", style="yellow")
        return self.step(f"checking {path}")

    def step(self, description: str) -> Callable[[int, int], None]:
        """A `progress(done, total)` callback for the core, shown as `description`."""
        task: list[TaskID] = []

        def progress(done: int, total: int) -> None:
            if total < BAR_FROM:
                return  # over in a blink: a bar would only flicker
            if not task:
                task.append(self.bar.add_task(description, total=total))
                if total >= LONG_JOB:
                    console.message(f"note: {console.one_line(description)}: {total:,} "
                                    "results; this takes a while", style="yellow")
                if console.err.is_terminal and not self.started:
                    self.bar.start()
                    self.started = True
            self.bar.update(task[0], completed=done, total=total)

        return progress
