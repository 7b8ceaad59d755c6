"""Where a command's output goes: `--format`, `-o/--output` and `--force`, decided once.

Every command that writes refuses an unknown format, an existing file (unless `--force`)
and an output it could not write before any work is done, with the same one-line
messages, and writes files atomically (`results.write_atomic`), so a reader never sees
half a file; `run` also locks its output against a second run.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from dlbench import results
from dlbench.cli import console
from dlbench.errors import UsageError

# `--force` of the commands that write several files (report, history).
Force = Annotated[bool, typer.Option("--force", help="Replace existing output files.")]
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


def folder(output: str | None) -> Path | None:
    """The folder `-o` names for a bundle of files (it ends with a slash, or is an existing
    folder), or None."""
    if output in (None, STDOUT):
        return None
    assert output is not None
    path = Path(output)
    if output.endswith(("/", os.sep)):
        return path
    try:
        return path if path.is_dir() else None
    except OSError:  # a name too long, say: no folder; check_targets says why in one line
        return None


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


def check_targets(paths: Iterable[str | Path | None], force: bool, streams: bool = True
                  ) -> None:
    """Before any work, that every file of `paths` can be written, so that no work is lost
    to an output that fails at the end: its folder exists (it is made) and takes a new
    file, the path is not a folder, and an existing file is replaced only with --force
    (never silently). A FIFO or character device (`-o /dev/stdout`) is written in place,
    where `streams` allows it, and needs no --force: nothing is replaced. Paths are shown
    as the user wrote them; None and '-' (stdout) are skipped."""
    taken = []
    for p in paths:
        if p in (None, STDOUT):
            continue
        kind = _kind(Path(p), str(p))
        if kind == "stream" and not streams:
            raise UsageError(f"{p} is a FIFO or device: a run rewrites its result file after "
                             "every case and needs a regular file path (or --format json "
                             "for stdout)")
        if kind not in (None, "file", "stream"):
            raise UsageError(f"{p} is {kind}; give a file path"
                             + (f" such as {Path(p) / 'result.json'}" if kind == "a folder"
                                else ""))
        if kind == "file":
            taken.append(str(p))
        if kind != "stream":
            _check_folder(Path(p), str(p))
    if taken and not force:
        verb = "exists" if len(taken) == 1 else "exist"
        raise UsageError(f"{', '.join(taken)} already {verb}; use --force to replace it")


def _kind(path: Path, shown: str) -> str | None:
    try:
        return results.output_kind(path)
    except NotADirectoryError:
        raise UsageError(f"{shown}: {_not_a_folder(path)} is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write there ({exc.strerror or exc})") from None


def _not_a_folder(path: Path) -> Path:
    """The first of `path`'s parents that exists and is not a folder."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return path.parent


def _check_folder(path: Path, shown: str) -> None:
    """The folder of `path`, or the nearest existing one it would be made in, takes a new
    file: what the write will need, tried now (a read-only file system, no permission).
    Nothing is made: a command refused later leaves no folder behind."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".dlbench-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except NotADirectoryError:
        raise UsageError(f"{shown}: {_not_a_folder(path)} is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write in {folder} ({exc.strerror or exc})") from None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold `path` for one run: a second run writing the same file is refused, where it
    would silently lose one run's results (both rewrite the file after every case). The
    lock is an flock on a hidden file beside it, removed at the end; the kernel releases
    it however the process ends, so a killed run never leaves the path locked, and the
    next run in the folder removes the file a killed run left. Where there is no flock
    (Windows) the path is not locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = path.with_name(_lock_name(path.name))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path}: cannot make its folder ({exc.strerror or exc})") from None
    fd = _take(lock, path, fcntl)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _remove_stale_locks(path.parent, keep=lock, fcntl=fcntl)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _remove_stale_locks(folder: Path, keep: Path, fcntl: Any) -> None:
    """Remove the lock files that runs killed with SIGKILL left in `folder` (a killed run
    cannot remove its own): a dlbench lock (a hidden '.NAME.lock' holding a pid) that no
    process holds any more. One still held is another run's, and is left alone; a lock
    removed under a run that is about to take it is taken again by that run (_take)."""
    try:
        candidates = [p for p in folder.iterdir()
                      if p.name.startswith(".") and p.name.endswith(".lock") and p != keep]
    except OSError:
        return
    for candidate in candidates:
        try:
            fd = os.open(candidate, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if not os.read(fd, 32).decode(errors="replace").strip().isdigit():
                continue  # not a dlbench lock
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            candidate.unlink(missing_ok=True)
        except OSError:
            continue  # held: a live run's
        finally:
            os.close(fd)


def _lock_name(name: str) -> str:
    """'.NAME.lock', or a shortened NAME with a hash where that would be too long."""
    if len(name.encode()) <= 200:
        return f".{name}.lock"
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f".{name[:100]}-{digest}.lock"


def _take(lock: Path, path: Path, fcntl: Any) -> int:
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"{path}: cannot lock it ({lock}: {exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise UsageError(f"{path} is being written by another dlbench run"
                             + (f" (pid {holder})" if holder.isdigit() else "")
                             + "; wait for it to finish or choose another -o path") from None
        # The run that held the lock removes its file when done: a lock taken on a file
        # removed in between holds nothing, so take it again on the new one.
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def write(target: Path | None, data: str | bytes) -> None:
    """To the file atomically, or to stdout untouched when `target` is None."""
    if target is None:
        console.write_text(data if isinstance(data, str) else data.decode())
    else:
        results.write_atomic(target, data)


class Saver:
    """Writes the result file after every finished case (`run`, and rank 0 of a
    distributed run), so a crash, a dead rank or Ctrl-C later loses nothing that
    finished."""

    def __init__(self, path: Path, doc: results.RunDocument) -> None:
        self.path, self.doc = path, doc
        self.finished: list[results.Result] = []

    def add(self, result: results.Result) -> None:
        self.finished.append(result)
        self.save(self.finished)

    def save(self, finished: Sequence[results.Result], **changes: object
             ) -> results.RunDocument:
        self.doc = self.doc.with_results(tuple(finished), **changes)
        results.dump(self.doc, self.path)
        return self.doc
