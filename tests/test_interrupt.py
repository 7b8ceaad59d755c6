"""Ctrl-C: the run stops, keeps what finished, and exits 130 without a traceback."""

import json
import signal
import subprocess
import sys
import time

import pytest

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
