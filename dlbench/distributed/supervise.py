"""The launching side of `dlbench run --nproc N`: start the launcher (launch.py), wait
for it, and say how every rank ended.

Each rank leaves a small exit report in a status folder (rank-R.json: its exit code and,
when it failed, its message); the launcher leaves which ranks the agent saw fail and
how (exit code or signal). A rank that was killed leaves no report of its own — the
launcher's is then the only word, which is why both exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from dlbench.distributed import STATUS_DIR_ENV
from dlbench.process import PACKAGE_ROOT

# How long the launcher gets to stop its ranks after SIGTERM before it is killed.
STOP_WAIT_S = 10.0
# The status folders' names: this prefix, the launching dlbench's pid, a random tail.
STATUS_PREFIX = "dlbench-ranks-"
# Environment variable carrying the user's own command line to rank 0 (for the file).
COMMAND_ENV = "DLBENCH_DIST_COMMAND"


def write_rank_report(rank: int, code: int | None, message: str | None = None,
                      stage: str | None = None) -> None:
    """A rank's exit report (code set) or how far it got (code None, `stage` said), when
    a launching dlbench waits for one."""
    folder = os.environ.get(STATUS_DIR_ENV)
    if folder:
        with contextlib.suppress(OSError):
            Path(folder, f"rank-{rank}.json").write_text(
                json.dumps({"exit": code, "message": message, "stage": stage}),
                encoding="utf-8")


# What a rank killed without a word of its own was doing, by the last stage it reported.
STAGE_WORDS = {None: "before it reached the rendezvous",
               "joining": "while joining the process group"}


@dataclass
class Outcome:
    """How a launch ended: the launcher's exit code, the failed ranks it saw (rank ->
    exitcode/signal/pid), and each rank's own exit report."""

    returncode: int
    failures: dict[int, dict[str, Any]] = field(default_factory=dict)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.failures and all(
            r.get("exit") == 0 for r in self.reports.values())

    @property
    def usage_error(self) -> bool:
        return any(r.get("exit") == 2 for r in self.reports.values())

    def fault_lines(self) -> list[str]:
        """One line per rank that did not finish cleanly: first those that died without a
        word (killed, crashed: the likely cause), then those that reported a failure
        (often a collective broken by the first), each group in order of failure."""
        lines = []
        order = sorted(self.failures.items(), key=lambda kv: (
            self._said(kv[0]) is not None, kv[1].get("time") or 0, kv[0]))
        seen = set()
        for rank, failure in order:
            seen.add(rank)
            own = self._said(rank)
            if failure.get("signal"):
                how = f"was killed by {failure['signal']}"
                stage = (self.reports.get(rank) or {}).get("stage")
                if own is None and stage in STAGE_WORDS:
                    how += f" {STAGE_WORDS[stage]}"
            else:
                how = f"exited with code {failure.get('exitcode')}"
            lines.append(f"rank {rank} (pid {failure.get('pid')}) {how}"
                         + (f": {own}" if own else ""))
        for rank, report in sorted(self.reports.items()):
            if rank not in seen and report.get("exit") not in (0, None):
                lines.append(f"rank {rank} exited with code {report['exit']}"
                             + (f": {report['message']}" if report.get("message") else ""))
        if not lines and self.returncode != 0:
            tail = self.log.strip().splitlines()[-3:]
            lines.append(f"the launcher exited with code {self.returncode}"
                         + (f": {' | '.join(tail)}" if tail else ""))
        return lines

    def _said(self, rank: int) -> str | None:
        """The message a rank left on its way out, if it left one."""
        return (self.reports.get(rank) or {}).get("message")


def status_prefix(pid: int) -> str:
    return f"{STATUS_PREFIX}{pid}-"


def sweep_stale(folder: Path | None = None) -> list[Path]:
    """Remove the status folders of launching dlbenches that are gone: one killed by
    SIGKILL (or the OOM killer) had no chance to remove its own. A folder whose pid is
    alive is left alone, whoever holds that pid now."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{STATUS_PREFIX}*-*"):
        pid = path.name.removeprefix(STATUS_PREFIX).split("-", 1)[0]
        if pid.isdigit() and path.is_dir() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class Launch:
    """One launcher process running `dlbench ARGS` on `nproc` ranks; `cleanup` removes
    its status folder (call it however the launch ends)."""

    def __init__(self, nproc: int, args: Sequence[str], timeout_s: float,
                 env: dict[str, str] | None = None) -> None:
        sweep_stale()
        self.folder = Path(tempfile.mkdtemp(prefix=status_prefix(os.getpid())))
        try:
            self._start(nproc, args, timeout_s, env)
        except BaseException:
            self.cleanup()
            raise

    def _start(self, nproc: int, args: Sequence[str], timeout_s: float,
               env: dict[str, str] | None) -> None:
        self.report = self.folder / "launcher.json"
        self.log_path = self.folder / "launcher.log"
        environ = {**os.environ, **(env or {}), STATUS_DIR_ENV: str(self.folder),
                   "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT,
                                                              os.environ.get("PYTHONPATH")]))}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dlbench.distributed.launch", str(self.report),
                 str(nproc), str(timeout_s), str(os.getpid()), "--", *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environ,
                start_new_session=True)

    def wait(self) -> Outcome:
        code = self.process.wait()
        return self._outcome(code)

    def stop(self) -> Outcome:
        """SIGTERM: the agent stops its ranks; SIGKILL if it does not end in time (the
        ranks then die with it)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        return self._outcome(self.process.wait())

    def _outcome(self, code: int) -> Outcome:
        failures: dict[int, dict[str, Any]] = {}
        with contextlib.suppress(OSError, ValueError):
            failures = {int(k): v for k, v in json.loads(self.report.read_text()).items()}
        reports: dict[int, dict[str, Any]] = {}
        for path in self.folder.glob("rank-*.json"):
            with contextlib.suppress(OSError, ValueError):
                reports[int(path.stem.removeprefix("rank-"))] = json.loads(path.read_text())
        log = ""
        with contextlib.suppress(OSError):
            log = self.log_path.read_text(errors="replace")
        return Outcome(code, failures, reports, log)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
