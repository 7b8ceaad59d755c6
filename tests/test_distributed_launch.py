"""How a distributed run starts and ends, with real processes: ranks that cannot
rendezvous, Ctrl-C and SIGTERM, a SIGKILLed launching dlbench, and the status folders
the launching dlbench keeps in the temp folder (none may stay behind)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from dlbench import results
from dlbench.distributed.rank import FAULT_ENV
from dlbench.distributed.supervise import Outcome, status_prefix, sweep_stale
from tests.helpers import assert_no_orphans, dlbench, left_behind

pytest.importorskip("torch")

ALLREDUCE = ("run", "--workload", "allreduce", "--dtype", "float32")
FAST = ("--min-time", "0.02", "--max-time", "0.05", "--quiet")


def free_port():
    """A port where nothing listens (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_env(rank, world, port):
    return {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": "0",
            "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}


@pytest.fixture
def tmpdir_env(tmp_path):
    """A temp folder of the run's own (TMPDIR), to see what the run leaves in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder, {"TMPDIR": str(folder)}


def stderr_lines(proc):
    return [line for line in proc.stderr.splitlines() if line.strip()]


# -- a rank that cannot rendezvous ----------------------------------------------------------

@pytest.mark.slow
def test_a_rank_whose_master_address_has_no_one_listening_exits_3(tmp_path):
    out = tmp_path / "nobody.json"
    proc = dlbench(*ALLREDUCE, "--size", "1024", "--dist-timeout", "2", "-o", str(out),
                   env=torchrun_env(1, 2, free_port()), timeout=60)
    assert proc.returncode == 3, proc.stderr
    # c10d's own logs of each failed connection (with C++ backtraces) are silenced
    [line] = stderr_lines(proc)
    assert line.startswith("rank 1 could not join the process group (gloo, 2 ranks) "
                           "within 2 s:"), line
    assert "127.0.0.1" in line
    assert not out.exists()
    assert_no_orphans(str(out))


@pytest.mark.slow
def test_rank_0_alone_waits_for_a_world_size_never_reached_and_exits_3(tmp_path):
    out = tmp_path / "alone.json"
    proc = dlbench(*ALLREDUCE, "--size", "1024", "--dist-timeout", "2", "-o", str(out),
                   env=torchrun_env(0, 2, free_port()), timeout=60)
    assert proc.returncode == 3, proc.stderr
    [line] = stderr_lines(proc)
    assert line.startswith("rank 0 could not join the process group (gloo, 2 ranks) "
                           "within 2 s:"), line
    assert "1/2 clients joined" in line
    assert not out.exists()
    assert_no_orphans(str(out))


@pytest.mark.slow
def test_a_rank_that_never_reaches_the_rendezvous_is_named(tmp_path, tmpdir_env):
    folder, env = tmpdir_env
    out = tmp_path / "late.json"
    proc = dlbench("run", "--nproc", "2", *ALLREDUCE[1:], "--size", "1024", *FAST,
                   "--dist-timeout", "3", "-o", str(out),
                   env={**env, FAULT_ENV: "1:join:hang"}, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = stderr_lines(proc)
    assert lines[0].startswith("rank 1 (pid ") and lines[0].endswith(
        "was killed by SIGTERM before it reached the rendezvous"), lines
    assert "rank 0 could not join the process group (gloo, 2 ranks) within 3 s" in lines[1]
    assert lines[-1] == "the run ended early: no case finished, nothing saved"
    assert not out.exists()
    assert_no_orphans(str(out))
    assert list(folder.iterdir()) == []


def test_ranks_killed_while_joining_say_so():
    outcome = Outcome(1, failures={1: {"exitcode": -15, "signal": "SIGTERM", "pid": 7,
                                       "time": 1}},
                      reports={1: {"exit": None, "message": None, "stage": "joining"}})
    assert outcome.fault_lines() == [
        "rank 1 (pid 7) was killed by SIGTERM while joining the process group"]
    assert not outcome.ok


# -- the status folder, however the run ends ------------------------------------------------

@pytest.mark.slow
def test_a_finished_run_leaves_nothing_in_the_temp_folder(tmp_path, tmpdir_env):
    folder, env = tmpdir_env
    out = tmp_path / "done.json"
    proc = dlbench("run", "--nproc", "2", *ALLREDUCE[1:], "--size", "64", *FAST,
                   "-o", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r.status for r in results.load(out).results] == ["ok"]
    assert list(folder.iterdir()) == []  # nor torchelastic_* log folders


@pytest.mark.slow
def test_a_killed_rank_leaves_nothing_in_the_temp_folder(tmp_path, tmpdir_env):
    folder, env = tmpdir_env
    out = tmp_path / "failed.json"
    proc = dlbench("run", "--nproc", "2", *ALLREDUCE[1:], "--size", "8,16", *FAST,
                   "-o", str(out), env={**env, FAULT_ENV: "0:1"})
    assert proc.returncode == 3, proc.stderr
    assert len(results.load(out).results) == 1
    assert list(folder.iterdir()) == []


def start_sweep(out, env, min_time="0.3"):
    """A run long enough to be stopped, and its first result awaited."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlbench", "run", "--nproc", "2", "--workload", "allreduce",
         "--dtype", "float32", "--size", "8..1M:x2", "--min-time", min_time, "--max-time",
         "0.5", "--quiet", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **env})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if json.loads(out.read_text())["results"]:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_every_rank_and_keeps_what_finished(tmp_path, tmpdir_env,
                                                                    signum):
    folder, env = tmpdir_env
    out = tmp_path / "stopped.json"
    proc = start_sweep(out, env)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    doc = results.load(out)
    assert doc.interrupted and 1 <= len(doc.results) < 18
    assert all(r.status == "ok" for r in doc.results)
    assert_no_orphans(str(out))
    assert list(folder.iterdir()) == []


@pytest.mark.slow
def test_ranks_die_with_a_killed_launching_dlbench_and_the_next_launch_sweeps(tmp_path,
                                                                               tmpdir_env):
    """SIGKILL gives the launching dlbench no chance to stop anything: the launcher dies
    with it and every rank with the launcher (PR_SET_PDEATHSIG at each level). Its status
    folder stays until a later launch sees that its pid is gone."""
    folder, env = tmpdir_env
    out = tmp_path / "killed-parent.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlbench", "run", "--nproc", "2", "--workload", "allreduce",
         "--dtype", "float32", "--size", "8..1M:x2", "--quiet", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **env})
    deadline = time.monotonic() + 120
    # the launching dlbench, the launcher and both ranks are up
    while time.monotonic() < deadline and len(left_behind(str(out))) < 4:
        time.sleep(0.1)
    assert len(left_behind(str(out))) == 4
    proc.kill()
    proc.wait()
    assert_no_orphans(str(out))
    [stale] = folder.iterdir()
    assert stale.name.startswith(status_prefix(proc.pid))
    assert sweep_stale(folder) == [stale]
    assert list(folder.iterdir()) == []


def test_the_sweep_leaves_the_folders_of_live_launches(tmp_path):
    mine = tmp_path / f"{status_prefix(os.getpid())}abc"
    mine.mkdir()
    (mine / "launcher.log").write_text("")
    other = tmp_path / "dlbench-ranks-notapid"
    other.mkdir()
    assert sweep_stale(tmp_path) == []
    assert sorted(tmp_path.iterdir()) == sorted([mine, other])


# -- several nodes ---------------------------------------------------------------------------

@pytest.mark.slow
def test_two_torchrun_agents_on_one_host_run_as_two_nodes(tmp_path):
    """The README's multi-node command, both "nodes" on this host: two torchrun agents
    started separately meet at a c10d rendezvous. Each runs in a folder of its own, as on
    two machines, with the same relative -o: only rank 0's node writes the file and shows
    the results, and the file records both ranks, their node and host."""
    port = free_port()
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
               "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
               f"localhost:{port}", "--rdzv-id", "two-nodes", "-m", "dlbench", "run",
               "--workload", "allreduce", "--dtype", "float32", "--size", "1K,1M",
               "--threads", "1", "--min-time", "0.05", "--max-time", "0.1",
               "--format", "json", "-o", "results/2x1.json"]
    homes = [tmp_path / "node-a", tmp_path / "node-b"]
    agents = []
    for home in homes:
        home.mkdir()
        # TMPDIR: torchrun's agent leaves a torchelastic_* log folder there
        agents.append(subprocess.Popen(command, cwd=home, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True,
                                       env={**os.environ, "TMPDIR": str(tmp_path)}))
    outputs = [agent.communicate(timeout=120) for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0], [e for _, e in outputs]
    written = [home for home in homes if (home / "results" / "2x1.json").exists()]
    assert len(written) == 1
    [shown] = [json.loads(out) for out, _ in outputs if out.strip()]
    doc = results.load(written[0] / "results" / "2x1.json")
    assert shown["results"] == json.loads(
        (written[0] / "results" / "2x1.json").read_text())["results"]
    assert [r.status for r in doc.results] == ["ok", "ok"]
    dist = doc.environment["distributed"]
    assert dist["world_size"] == 2 and dist["nodes"] == 2
    assert sorted(r["rank"] for r in dist["ranks"]) == [0, 1]
    assert sorted(r["node"] for r in dist["ranks"]) == [0, 1]
    assert {r["host"] for r in dist["ranks"]} == {socket.gethostname()}
    assert dist["hosts"] == [socket.gethostname()]
    assert all(r["threads"] == 1 for r in dist["ranks"])
