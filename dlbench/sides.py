"""The two environments of an A/B run (`dlbench ab`): which interpreter each side runs,
with which variables set, and whether it can run dlbench's worker at all.

A side is an interpreter (a virtual environment with other library versions) and the
variables set on top of this process's environment (TF_ENABLE_ONEDNN_OPTS, OMP_*,
OPENBLAS_CORETYPE, ...). Its workers import the dlbench of this checkout (process.py puts
it first on their path) and the side's own libraries. Before anything is measured each
side is asked, in a child of its own interpreter whose output is kept, for its Python,
its libraries and the requested backends: a path that is no Python, an environment
without dlbench's dependencies or without a requested backend, and an interpreter that
dies while starting are refused in one line each, before any worker starts.

Nothing here knows rich or typer.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlbench import process
from dlbench.errors import EnvironmentUnusable, UsageError
from dlbench.i18n import _
from dlbench.planning import Plan
from dlbench.results import SIDE_MARK, SIDES

# A side asked about itself imports dlbench's core (numpy, jsonschema): seconds on a busy
# machine, never minutes.
PROBE_TIMEOUT_S = 120.0
MIN_PYTHON = (3, 11)  # pyproject's requires-python
# What a Python that fails says in its error output, and another program would not.
PYTHON_WORDS = ("Python", "Traceback", "Error:")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The side's own child runs this: written for any Python 3, so that an old one is named
# as such rather than failing on syntax; its last line of output is the answer.
PROBE = f"""\
import json, sys
if sys.version_info < {MIN_PYTHON!r}:
    print(json.dumps({{"too_old": "%d.%d.%d" % tuple(sys.version_info[:3])}}))
    sys.exit(0)
try:
    from dlbench import sides
except ImportError as exc:
    print(json.dumps({{"missing": str(exc)}}))
    sys.exit(0)
sides.answer(json.loads(sys.argv[1]))
"""


@dataclass(frozen=True)
class Side:
    """One environment: its name ("A" or "B"), its interpreter, the variables set for it."""

    name: str
    python: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        """How messages name it: the side, its interpreter and what it sets."""
        sets = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"{self.name} ({self.python}{', ' + sets if sets else ''})"


def parse_env(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """KEY=VALUE items of --env-a/--env-b; an empty VALUE sets the variable empty."""
    env: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not NAME.fullmatch(key):
            raise UsageError(_("{option}: {item!r} is not KEY=VALUE").format(
                option=option, item=item))
        env[key] = value
    return env


def interpreter(path: str | None, name: str) -> str:
    """The interpreter a side runs: this one by default, a virtual environment's own
    for its folder, or the file given (made absolute, not resolved: a venv's python is a
    link to the base interpreter, and only its own path gives the venv's libraries)."""
    if path is None:
        return sys.executable
    p = Path(path).expanduser()
    if p.is_dir():
        venv = p / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if not venv.is_file():
            raise EnvironmentUnusable(_("{side}: {path} is a folder without bin/python: not a "
                                        "virtual environment").format(side=name, path=path))
        p = venv
    if not p.exists():
        raise EnvironmentUnusable(_("{side}: {path} does not exist").format(side=name,
                                                                             path=path))
    if not p.is_file() or not os.access(p, os.X_OK):
        raise EnvironmentUnusable(_("{side}: {path} is not an executable file (give a Python "
                                    "interpreter or a virtual environment's folder)").format(
                                        side=name, path=path))
    return str(p.absolute())


def probe(side: Side, targets: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Ask the side, in a child of its interpreter, what it is and whether it can run the
    worker of each (backend, device) in `targets`; its record for the result file, or
    EnvironmentUnusable saying in one line what it lacks."""
    try:
        done = subprocess.run([side.python, "-c", PROBE, json.dumps(list(targets))],
                              env=process.child_environment(side.env), capture_output=True,
                              text=True, errors="replace", timeout=PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise EnvironmentUnusable(_("{side} cannot be started: {why}").format(
            side=side.shown, why=exc.strerror or exc)) from None
    except subprocess.TimeoutExpired:
        raise EnvironmentUnusable(_("{side} did not answer within {seconds:.0f} s").format(
            side=side.shown, seconds=PROBE_TIMEOUT_S)) from None
    answer = _answer(done.stdout)
    if done.returncode != 0 or answer is None:
        raise EnvironmentUnusable(_refusal(side, done, answer))
    if "too_old" in answer:
        raise EnvironmentUnusable(_("{side} is Python {version}; dlbench needs {minimum} or "
                                    "newer").format(side=side.shown, version=answer["too_old"],
                                                    minimum=".".join(map(str, MIN_PYTHON))))
    if "missing" in answer:
        raise EnvironmentUnusable(_("{side} lacks dlbench's dependencies ({missing}): install "
                                    "them there (pip install numpy jsonschema psutil "
                                    "threadpoolctl array-api-compat array-api-extra)").format(
                                        side=side.shown, missing=answer["missing"]))
    for label, reason in dict(answer.get("unavailable") or {}).items():
        raise EnvironmentUnusable(_("{side} cannot run {backend}: {reason}").format(
            side=side.shown, backend=label, reason=reason))
    return {"python": side.python, "python_version": str(answer.get("python_version", "")),
            "prefix": str(answer.get("prefix", "")), "env": dict(side.env),
            "libraries": dict(answer.get("libraries") or {})}


def _answer(stdout: str) -> dict[str, Any] | None:
    """The probe's answer: its last line of output, a JSON object (a library may print
    before it)."""
    lines = stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _refusal(side: Side, done: subprocess.CompletedProcess[str], answer: Any) -> str:
    """Why a side's child gave no answer, in one line: the signal that killed it, the last
    line it wrote to stderr (a Python's fatal error, an exception), or what it printed."""
    said = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
    # A Python's fatal error names the cause on its first line; an exception on its last.
    fatal = [line for line in said if line.startswith("Fatal Python error")]
    last = (fatal or said[-1:] or [""])[0]
    if done.returncode < 0:
        try:
            how = signal.Signals(-done.returncode).name
        except ValueError:
            how = f"signal {-done.returncode}"
        return _("{side} crashed while starting ({how}){last}").format(
            side=side.shown, how=how, last=f": {last}" if last else "")
    if done.returncode != 0 and not any(word in " ".join(said) for word in PYTHON_WORDS):
        return _("{side} is not a Python interpreter (it exited with code {code}{last})"
                 ).format(side=side.shown, code=done.returncode, last=f": {last}" if last else "")
    if done.returncode != 0:
        return _("{side} failed while starting (exit code {code}){last}").format(
            side=side.shown, code=done.returncode, last=f": {last}" if last else "")
    printed = (done.stdout or "").strip().splitlines()
    return _("{side} is not a Python interpreter that runs dlbench (it printed {text!r})"
             ).format(side=side.shown, text=(printed[-1] if printed else "")[:80])


def answer(targets: Sequence[Sequence[str]]) -> None:
    """Run in the side's own interpreter (PROBE): print what it is, and which of the
    requested backends it cannot run and why, as one JSON line."""
    try:
        from dlbench import backends, environment, worker  # noqa: F401 - the worker's imports
    except ImportError as exc:
        print(json.dumps({"missing": str(exc)}))
        return
    unavailable = {}
    for backend, device in targets:
        target = backends.get(backend, device)
        ok, reason = target.available()
        if not ok:
            unavailable[target.label] = reason
    print(json.dumps({"python_version": platform.python_version(), "prefix": sys.prefix,
                      "libraries": environment.collect_libraries(),
                      "unavailable": unavailable}))


def split(plan: Plan, names: Sequence[str] = SIDES) -> Plan:
    """The plan with every case measured once per side: a case's sides share its row, so
    the runner samples them in the same passes, in an order rotated every pass."""
    return replace(plan,
                   cases=tuple(replace(c, side=s) for c in plan.cases for s in names),
                   skipped=tuple((replace(c, side=s), why) for c, why in plan.skipped
                                 for s in names),
                   backends=tuple(f"{label}{SIDE_MARK}{s}" for label in plan.backends
                                  for s in names))


def thread_variables(sides: Sequence[Side]) -> list[str]:
    """The thread-count variables the sides set, which --threads overrides in every
    worker (each backend sets its threads itself)."""
    return sorted({key for side in sides for key in side.env if key.endswith("_NUM_THREADS")})
