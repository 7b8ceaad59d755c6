"""The result file: versioned JSON, validated before use, written atomically.

Schema history (bump SCHEMA_VERSION on any change a reader must know about, add a
migration from the previous version, and a fixture under tests/data/):

* 1 — first version (dlbench 0.1): environment, settings, results with raw samples,
  stats, verification and quality warnings. Added since, readers of 1 ignore them when
  absent: "provenance" (the git commit and CI run a file came from); a result's "run"
  and "rounds" (how its samples split into rounds spread over the run, and which run
  they share passes with) and stats "rounds"/"interval"; a result's "side" and the
  environment's "sides" (an A/B run of `dlbench ab`: which environment measured a
  result, and each environment's interpreter, variables and libraries).

The JSON Schema of the current version is published as dlbench/schema/result.schema.json,
and every file is validated against it before use (`checked`). A new version keeps the old
schema beside it, to validate files of that version before they are migrated. This module
knows documents as JSON data; the data model they become is dlbench.results'.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlbench import schema
from dlbench.errors import DlbenchError, ResultFileError

SCHEMA = "dlbench.result"
SCHEMA_VERSION = 1
# version -> function turning a document of that version into the next version.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}
# progress(done, total): how far a long job over many results is (big files take seconds).
Progress = Callable[[int, int], None]


def json_safe(value: Any) -> Any:
    """`value` with every NaN and infinity replaced by None, through dicts, lists and tuples
    (tuples become lists). JSON has no NaN/inf: every JSON this package writes stores them
    as null rather than emit invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def checked(data: Any, source: str, progress: Progress | None = None) -> dict[str, Any]:
    """Check schema and version, validate against the published schema and migrate old
    versions: the document's data as the current version has it; `progress` follows the
    validation."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ResultFileError(f"{source}: not a dlbench result file (no \"schema\": \"{SCHEMA}\")")
    version = data.get("schema_version")
    if not isinstance(version, int) or not (1 <= version <= SCHEMA_VERSION):
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise ResultFileError(
            f"{source}: schema_version {version!r} is not supported by this dlbench "
            f"(supported: 1..{SCHEMA_VERSION})"
            + ("; it was written by a newer dlbench: upgrade to read it" if newer else ""))
    schema.validate(data, schema.RESULT, source, "the dlbench result schema", progress)
    for key in ("environment", "settings"):
        schema.check_depth(data.get(key), source, key)
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    return data


def dumps(data: Any) -> str:
    """Deterministic JSON: keys in construction order (params keep the workload's order,
    which ids depend on), indented, trailing newline; NaN and infinity as null."""
    return json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"


def write_atomic(path: Path, text: str | bytes, overwrite: bool = True) -> None:
    """Write via a temporary file in the same folder and rename, so a reader never
    sees half a file and a crash never leaves one. Bytes (a PNG) are written as they are.

    A FIFO or a character device (`-o /dev/stdout`, a pipe) is written in place: renaming
    over it would replace the node with a regular file (as root, /dev/null itself).
    Folders, block devices and sockets are refused. Every failure is a ResultFileError."""
    try:
        kind = output_kind(path)
        if kind not in (None, "file", "stream"):
            raise ResultFileError(f"{path} is {kind}; dlbench writes regular files (and "
                                  "FIFOs or character devices in place)")
        if not overwrite and kind is not None:
            raise ResultFileError(f"{path} already exists; choose another -o path or remove it")
        if kind == "stream":
            with open(path, "wb") as fh:
                fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, text)
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _replace(path: Path, text: str | bytes) -> None:
    # A short prefix: the temporary name must fit where a name of the maximum length does.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        # mkstemp creates 0600; a result or report is meant to be shared like any file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_kind(path: Path) -> str | None:
    """What `path` is now: None (nothing), "file", "stream" (a FIFO or character device,
    written in place), or the words for what dlbench never writes ("a folder", ...).
    Raises OSError when it cannot be told (a name too long, a file in the way)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a block device" if stat.S_ISBLK(mode) else "a socket or other special file"


def read_json(path: str | Path) -> Any:
    """A JSON file's content, or a ResultFileError saying why it cannot be had."""
    p = Path(path)
    text = read_text(p)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ResultFileError(f"{p}: nested too deeply to read") from None
    return data


def read_text(path: Path, kind: str = "file",
              error: type[DlbenchError] = ResultFileError) -> str:
    """A UTF-8 file's text, or `error` saying why it cannot be had ("no such <kind>")."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {kind}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read ({exc})") from None
