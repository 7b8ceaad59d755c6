"""Where a command's output goes: `--format`, `-o/--output` and `--force`, decided once.

Every command that writes refuses an unknown format and an existing file (unless
`--force`) before any work is done, with the same one-line messages, and writes files
atomically (`results.write_atomic`), so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from dlbench import results
from dlbench.cli import console
from dlbench.errors import UsageError

# The format drawn by rich for a terminal: never written to a file.
TERMINAL = "table"
STDOUT = "-"


def check_format(fmt: str, formats: Sequence[str]) -> str:
    """`fmt`, if it is one of `formats`."""
    if fmt not in formats:
        raise UsageError(f"--format must be one of {', '.join(formats)}, got {fmt!r}")
    return fmt


def destination(output: str | None) -> Path | None:
    """The file `-o` names; None for stdout (no -o, or '-')."""
    return None if output in (None, STDOUT) else Path(output)


def choose_format(fmt: str | None, output: str | None, formats: Sequence[str],
                  suffixes: Mapping[str, str]) -> str:
    """The --format asked for, else the one the -o file's suffix names, else the terminal
    table; refused when unknown, or when the table would go to a file."""
    target = destination(output)
    chosen = check_format(
        fmt or (suffixes.get(target.suffix.lower()) if target else None) or TERMINAL, formats)
    if chosen == TERMINAL and target is not None:
        files = [f for f in formats if f != TERMINAL]
        choices = ", ".join(files[:-1]) + " or " + files[-1] if len(files) > 1 else files[0]
        raise UsageError(f"the table is for the terminal; to write a file choose --format "
                         f"{choices}")
    return chosen


def refuse_existing(paths: Iterable[str | Path | None], force: bool) -> None:
    """Never overwrite silently: the files of `paths` that exist are an error without
    --force. Paths are shown as the user wrote them; None and '-' (stdout) are skipped."""
    taken = [str(p) for p in paths if p not in (None, STDOUT) and Path(p).exists()]
    if taken and not force:
        verb = "exists" if len(taken) == 1 else "exist"
        raise UsageError(f"{', '.join(taken)} already {verb}; use --force to replace it")


def write(target: Path | None, data: str | bytes) -> None:
    """To the file atomically, or to stdout untouched when `target` is None."""
    if target is None:
        console.write_text(data if isinstance(data, str) else data.decode())
    else:
        results.write_atomic(target, data)
