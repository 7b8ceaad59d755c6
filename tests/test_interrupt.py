"""Ctrl-C: the run stops, keeps what finished, and exits 130 without a traceback."""

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.helpers import cli

pytestmark = pytest.mark.slow


def test_sigint_saves_finished_results_and_exits_130(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "dlbench", "run", "--backend", "numpy", "--workload", "matmul",
           "--dtype", "float32",
           "--size", "48,64,80,96,112,128,144,160", "--min-time", "0.3", "--max-time", "0.5",
           "-o", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    finished = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists():
            finished = len(json.loads(out.read_text())["results"])
            if finished >= 1:
                break
        time.sleep(0.05)
    assert finished >= 1, "no case finished in time"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True
    assert 1 <= len(doc["results"]) < 8
    assert all(r["status"] == "ok" for r in doc["results"])


def run_command(tmp_path, *extra):
    return [sys.executable, "-m", "dlbench", "run", "--backend", "numpy", "--workload",
            "matmul", "--dtype", "float32", "--size", "64", "--min-time", "5", "--max-time",
            "10", "-o", str(tmp_path / "r.json"), "--quiet", *extra]


def workers_of(pid, timeout=30.0):
    """The worker processes a dlbench run started, once they are up."""
    parent = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [p for p in parent.children(recursive=True)
                   if "dlbench.process" in " ".join(p.cmdline())]
        if workers:
            return workers
        time.sleep(0.05)
    raise AssertionError("no worker started in time")


def gone(process):
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # dead, not yet reaped by init
    except psutil.NoSuchProcess:
        return True


def test_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL (a CI timeout, the OOM killer) gives the parent no chance to stop its
    workers: they must go by themselves, or they hold the run's output open."""
    proc = subprocess.Popen(run_command(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    workers = workers_of(proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(gone(w) for w in workers):
        time.sleep(0.05)
    assert all(gone(w) for w in workers), [w.pid for w in workers if not gone(w)]


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_sigint_while_starting_up_is_one_line_and_130(tmp_path, delay):
    """Ctrl-C while the CLI is still importing (typer, rich, numpy, then Typer's own
    imports before a command starts). The signal comes from a timer started once the
    entry point is imported, so it lands inside dlbench's start-up however slow the
    machine (the interpreter's own start-up before that is Python's)."""
    argv = ["dlbench", *run_command(tmp_path)[3:]]
    code = ("import os, signal, sys, threading\n"
            "from dlbench.__main__ import main\n"
            f"threading.Timer({delay}, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
            f"sys.argv = {argv!r}\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "interrupted" in proc.stderr


def test_ctrl_c_just_after_the_last_case_keeps_everything_and_says_interrupted(
        tmp_path, monkeypatch):
    """The run is over but the command is not: the file still says interrupted, holds
    every result, and records the backends."""

    from dlbench.runner import Runner

    finish = Runner.run

    def run_then_ctrl_c(self):
        finish(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "run", run_then_ctrl_c)
    out = tmp_path / "r.json"
    result = cli(*run_command(tmp_path)[3:-1] + ["--max-time", "0.1",
                                                                    "--min-time", "0"])
    assert result.exit_code == 130, result.output
    assert "interrupted: 1 finished result(s) saved" in result.stderr
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and len(doc["results"]) == 1
    assert "numpy-cpu" in doc["environment"]["backends"]
