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
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlbench.distributed import STATUS_DIR_ENV
from dlbench.process import PACKAGE_ROOT

# How long the launcher gets to stop its ranks after SIGTERM before it is killed.
STOP_WAIT_S = 10.0
# Environment variable carrying the user's own command line to rank 0 (for the file).
COMMAND_ENV = "DLBENCH_DIST_COMMAND"


def write_rank_report(rank: int, code: int, message: str | None = None) -> None:
    """A rank's exit report, when a launching dlbench waits for one."""
    folder = os.environ.get(STATUS_DIR_ENV)
    if folder:
        with contextlib.suppress(OSError):
            Path(folder, f"rank-{rank}.json").write_text(
                json.dumps({"exit": code, "message": message}), encoding="utf-8")


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
            kv[0] in self.reports, kv[1].get("time") or 0, kv[0]))
        seen = set()
        for rank, failure in order:
            seen.add(rank)
            own = (self.reports.get(rank) or {}).get("message")
            if failure.get("signal"):
                how = f"was killed by {failure['signal']}"
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


class Launch:
    """One launcher process running `dlbench ARGS` on `nproc` ranks."""

    def __init__(self, nproc: int, args: Sequence[str], timeout_s: float,
                 env: dict[str, str] | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="dlbench-ranks-"))
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
        for path in self.folder.iterdir():
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.folder.rmdir()
