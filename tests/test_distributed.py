"""Distributed runs: nccl-tests' bus factors, the lockstep timer, rank checks, fault
reports, usage errors, and real 2-rank gloo runs through torch.distributed.run (the
killed rank, the hung rank, and `torchrun -m dlbench run` itself)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dlbench import results, workloads
from dlbench.cli.distributed import rank_args
from dlbench.cli.options import positive_ints
from dlbench.clock import WorkClock
from dlbench.distributed import in_torchrun
from dlbench.distributed.rank import FAULT_ENV, combine_checks
from dlbench.distributed.supervise import Outcome
from dlbench.distributed.timing import CollectiveTimer
from dlbench.errors import UsageError
from dlbench.measure import MeasureConfig, Sampler
from dlbench.timers import HostTimer
from dlbench.workloads.collectives import count_wrong, rank_values
from tests.helpers import assert_no_orphans, assert_one_line_error, cli, dlbench

pytest.importorskip("torch")
TORCHRUN_ENV = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "x",
                "MASTER_PORT": "1"}


# -- what a collective moves -------------------------------------------------------------

@pytest.mark.parametrize(("name", "ranks", "factor"), [
    ("allreduce", 2, 1.0), ("allreduce", 8, 1.75), ("allgather", 2, 0.5),
    ("allgather", 8, 0.875), ("reduce_scatter", 4, 0.75), ("broadcast", 8, 1.0)])
def test_bus_factors_are_nccl_tests(name, ranks, factor):
    assert workloads.get(name).bus_factor(ranks) == factor


def test_message_size_is_whole_elements_and_a_whole_chunk_per_rank():
    gather = workloads.get("allgather")
    p = gather.resolve(size=1000, ranks=3)
    assert gather.bytes(p, 4) == 996.0  # 83 float32 per rank
    reduce = workloads.get("allreduce")
    assert reduce.bytes(reduce.resolve(size=1 << 20, ranks=3), 2) == float(1 << 20)


def test_rank_inputs_differ_and_sum_exactly_in_bfloat16():
    import torch

    total = sum(rank_values(4096, r) for r in range(16))
    assert not np.array_equal(rank_values(64, 0), rank_values(64, 1))
    as_bf16 = torch.tensor(total).to(torch.bfloat16).double().numpy()
    assert np.array_equal(as_bf16, total)


def test_wrong_elements_are_counted_one_by_one():
    expected = rank_values(100, 0) + rank_values(100, 1)
    got = expected.copy()
    got[[3, 50, 99]] += 1.0
    got[7] = np.nan
    found = count_wrong(got, expected)
    assert found["wrong"] == 4 and found["max_abs_err"] == 1.0
    assert count_wrong(expected[:10], expected)["wrong"] == 100


def test_checks_of_all_ranks_combine_into_one_verdict():
    ok = combine_checks([{"wrong": 0, "max_abs_err": 0.0}, {"wrong": 0, "max_abs_err": 0.0}])
    assert ok["ok"] and ok["wrong"] == 0
    bad = combine_checks([{"wrong": 0, "max_abs_err": 0.0}, {"wrong": 5, "max_abs_err": 2.0}])
    assert not bad["ok"] and bad["wrong"] == 5 and bad["wrong_by_rank"] == [0, 5]
    reference = combine_checks([{"wrong": 0, "max_abs_err": 0.1, "ok": False, "tol": 1e-5,
                                 "max_rel_err": 0.3}, {"wrong": 0, "max_abs_err": 0.0}])
    assert not reference["ok"] and reference["tol"] == 1e-5


# -- the slowest rank's time, the same decisions on every rank -------------------------------

def test_collective_timer_reports_the_slowest_rank_and_a_shared_clock():
    clock = WorkClock([0.002])
    barriers = []
    timer = CollectiveTimer(HostTimer(clock), lambda: barriers.append(1),
                            reduce_max=lambda mine: max(mine, 0.005))
    assert timer.time_batch(clock.work, 1) == 0.005
    assert timer.time_batch(clock.work, 2) == 0.005
    assert timer.clock() == 0.01 and len(barriers) == 2


def test_ranks_with_different_speeds_take_the_same_samples():
    """The sampler's loops, blocks and stop must agree across ranks, or one waits in a
    collective the other never calls: with the MAX exchanged (here a slower third rank
    whose per-call times are noisy), a fast and a slow rank take exactly the same
    samples, though their own clocks differ 50-fold."""
    config = MeasureConfig(min_time=0.05, max_time=0.2, warmup_time=0.01, block_time=0.05,
                           block_warmup_time=0.01, sample_time=0.002)
    outcomes = []
    for own in (1e-6, 5e-5):
        clock = WorkClock([own])
        noise = iter(np.random.default_rng(7).lognormal(0, 0.2, 100_000) * 2e-4)
        # The slowest rank's batch: as many calls as this rank's (mine / own), each slower.
        timer = CollectiveTimer(HostTimer(clock), lambda: None,
                                reduce_max=lambda mine, n=noise, o=own: round(mine / o) * next(n))
        sampler = Sampler(clock.work, timer, config)
        sampler.first_call_s = 0.0
        m = sampler.run()
        outcomes.append((m.inner_loops, m.samples_s, m.stop))
    assert outcomes[0] == outcomes[1]


# -- reports of how ranks ended --------------------------------------------------------------

def test_a_killed_rank_is_named_with_its_signal():
    outcome = Outcome(1, failures={1: {"exitcode": -9, "signal": "SIGKILL", "pid": 42,
                                       "time": 2},
                                   0: {"exitcode": 3, "signal": None, "pid": 41, "time": 1}},
                      reports={0: {"exit": 3, "message": "rank 0: a collective failed"},
                               1: {"exit": None, "message": None, "stage": "running"}})
    lines = outcome.fault_lines()
    assert lines[0] == "rank 1 (pid 42) was killed by SIGKILL"
    assert lines[1] == "rank 0 (pid 41) exited with code 3: rank 0: a collective failed"
    assert len(lines) == 2
    assert not outcome.ok and not outcome.usage_error


def test_rank_arguments_lose_nproc_and_gain_the_output():
    args = rank_args(["--nproc", "2", "--workload", "allreduce", "--nproc=3", "-q"],
                     __import__("pathlib").Path("r.json"))
    assert args == ["--workload", "allreduce", "-q", "-o", "r.json"]


@pytest.mark.parametrize(("text", "sizes"), [
    ("8..64", (8, 16, 32, 64)), ("8..64M:x4", tuple(8 * 4**i for i in range(12))),
    ("1K,2M,1G", (1024, 2 * 2**20, 2**30)), ("3..10:x3", (3, 9))])
def test_sizes_take_suffixes_and_nccl_tests_ranges(text, sizes):
    assert positive_ints([text], "--size") == sizes


@pytest.mark.parametrize("text", ["8..4", "8..64:x1", "1..2G:x1", "K", "8..", "2x"])
def test_bad_ranges_are_refused(text):
    with pytest.raises(UsageError, match="--size"):
        positive_ints([text], "--size")


def test_torchrun_environment_is_recognised():
    assert in_torchrun(TORCHRUN_ENV)
    assert not in_torchrun({**TORCHRUN_ENV, "MASTER_ADDR": ""})


# -- usage errors: one line, exit 2, no rank started ----------------------------------------

@pytest.mark.parametrize(("args", "fragment"), [
    (["--nproc", "0"], "--nproc must be at least 1"),
    (["--nproc", "-2"], "--nproc must be at least 1"),
    (["--nproc", "2", "--dist-backend", "nccl"], "nccl needs GPUs"),
    (["--nproc", "2", "--dist-backend", "mpi"], "'mpi' is not one of 'gloo', 'nccl'"),
    (["--nproc", "2", "--backend", "numpy"], "--backend torch only"),
    (["--nproc", "2", "--dist-timeout", "0"], "--dist-timeout must be positive"),
    (["--workload", "allreduce"], "add --nproc N"),
    (["--nproc", "2", "--workload", "matmul"], "not a distributed workload"),
])
def test_bad_distributed_usage_is_one_line_and_exit_2(args, fragment):
    result = cli("run", *args)
    assert_one_line_error(result, fragment)


def test_nproc_under_torchrun_is_refused(monkeypatch):
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    assert_one_line_error(cli("run", "--nproc", "2"), "under torchrun")


# -- real ranks ------------------------------------------------------------------------------

FAST = ("--min-time", "0.02", "--max-time", "0.05", "--quiet")


@pytest.mark.slow
def test_two_gloo_ranks_run_every_collective_and_ddp_verified(tmp_path):
    out = tmp_path / "dist.json"
    proc = dlbench("run", "--nproc", "2", "--workload",
                   "allreduce,allgather,reduce_scatter,broadcast,ddp_train_step",
                   "--dtype", "float32,bfloat16", "--size", "16,64", *FAST, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = results.load(out)  # validated against the published schema
    dist = doc.environment["distributed"]
    assert dist["world_size"] == 2 and dist["backend"] == "gloo"
    assert [r["rank"] for r in dist["ranks"]] == [0, 1]
    assert doc.settings["world_size"] == 2 and doc.settings["dist_backend"] == "gloo"
    collectives = [r for r in doc.results if r.spec.workload != "ddp_train_step"]
    assert len(collectives) == 4 * 2 * 2
    for r in collectives:
        assert r.status == "ok", (r.spec.id, r.error)
        assert r.verify["wrong"] == 0 and r.verify["wrong_by_rank"] == [0, 0]
        d = r.distributed
        assert d["algbw_gbytes_per_s"] == pytest.approx(r.bytes / r.median / 1e9)
        factor = workloads.get(r.spec.workload).bus_factor(2)
        assert d["busbw_gbytes_per_s"] == pytest.approx(d["algbw_gbytes_per_s"] * factor)
    steps = {r.spec.impl: r for r in doc.results if r.spec.workload == "ddp_train_step"}
    # batch 16 and 64 per rank in float32 and bfloat16: mlp and cnn, each checked
    assert {r.status for r in steps.values()} == {"ok"}, [r.error for r in steps.values()]
    for r in steps.values():
        eff = r.distributed["scaling_efficiency"]
        assert eff["ci95"][0] <= eff["value"] <= eff["ci95"][1]
        assert r.verify["ok"] and r.verify["wrong"] == 0
    assert_no_orphans(str(out))


@pytest.mark.slow
def test_a_killed_rank_ends_the_run_with_exit_3_and_keeps_what_finished(tmp_path):
    out = tmp_path / "killed.json"
    proc = dlbench("run", "--nproc", "2", "--workload", "allreduce", "--dtype", "float32",
                   "--size", "8,16,32,64,128", *FAST, "-o", str(out),
                   env={FAULT_ENV: "1:2"})
    assert proc.returncode == 3, proc.stderr
    assert "rank 1" in proc.stderr and "SIGKILL" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "2 finished result(s) saved" in proc.stderr
    doc = results.load(out)
    assert [r.spec.param_dict["bytes"] for r in doc.results] == [8, 16]
    assert all(r.status == "ok" for r in doc.results)
    assert_no_orphans(str(out))


@pytest.mark.slow
def test_a_hung_rank_times_out_with_exit_3(tmp_path):
    out = tmp_path / "hung.json"
    proc = dlbench("run", "--nproc", "2", "--workload", "allreduce", "--dtype", "float32",
                   "--size", "8,16,32", *FAST, "--dist-timeout", "3", "-o", str(out),
                   env={FAULT_ENV: "1:1:hang"})
    assert proc.returncode == 3, proc.stderr
    assert "rank 0" in proc.stderr and "hung past 3 s" in proc.stderr
    assert len(results.load(out).results) == 1
    assert_no_orphans(str(out))


@pytest.mark.slow
def test_torchrun_launches_dlbench_as_users_do_across_nodes(tmp_path):
    """`torchrun --nnodes ... -m dlbench run`: the ranks take the rendezvous from torchrun's
    environment; rank 0 writes and shows the results, the others stay quiet. Then
    `compare` gates the file like any other: a 4x slower copy is a regression. (Such a
    short run has two rounds a case; compare's interval from two rounds a side reaches
    from one round's ratio to the other's, so a 1.5x copy was inconclusive whenever the
    loaded machine made the two rounds differ by half.)"""
    out = tmp_path / "torchrun.json"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", "-m", "dlbench", "run", "--workload", "allreduce", "--dtype", "float32",
         "--size", "1024,65536", "--min-time", "0.05", "--max-time", "0.1", "-o", str(out),
         "--format", "json"], capture_output=True, text=True, timeout=240,
        # torchrun's agent leaves a torchelastic_* log folder in the temp folder
        env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)  # rank 0 alone printed the document
    assert [r["status"] for r in shown["results"]] == ["ok", "ok"]
    base = results.load(out)
    slower = results.RunDocument.from_dict(json.loads(out.read_text()))
    slower = slower.with_results(tuple(
        r.__class__(**{**r.__dict__, "samples_s": tuple(s * 4 for s in r.samples_s),
                       "stats": {**r.stats, "median": r.stats["median"] * 4}})
        for r in slower.results))
    new = tmp_path / "slower.json"
    results.dump(slower, new)
    same = dlbench("compare", str(out), str(out))
    assert same.returncode == 0, same.stdout + same.stderr
    worse = dlbench("compare", str(out), str(new))
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "allreduce" in worse.stdout
    assert len(base.results) == 2


# -- what a distributed result file says, and how report shows it ----------------------------

def distributed_result(workload, params, extra, impl="native", wrong=0, median=1e-3):
    from dlbench.results import CaseSpec, Result

    samples = (median, median * 1.01, median * 0.99)
    return Result(spec=CaseSpec.make(workload, params, "float32", "torch", "cpu", impl),
                  status="ok", samples_s=samples, inner_loops=1,
                  stats={"median": median, "n": 3}, bytes=float(params.get("bytes", 0)),
                  verify={"ok": wrong == 0, "wrong": wrong, "wrong_by_rank": [0, wrong],
                          "max_abs_err": 0.0},
                  distributed={"world_size": params["ranks"], **extra})


def distributed_doc():
    rs = [distributed_result("allreduce", {"bytes": b, "ranks": 2},
                             {"algbw_gbytes_per_s": b / 1e-3 / 1e9, "bus_factor": 1.0,
                              "busbw_gbytes_per_s": b / 1e-3 / 1e9})
          for b in (1 << 20, 8)]
    rs.append(distributed_result("ddp_train_step", {"batch": 64, "ranks": 2},
                                 {"samples_per_s": 128 / 1e-2, "single_rank_samples_s":
                                  [5e-3, 5.1e-3], "scaling_efficiency":
                                  {"value": 0.5, "ci95": [0.45, 0.55]}},
                                 impl="mlp", median=1e-2))
    env = {"host": "a", "distributed": {"world_size": 2, "backend": "gloo", "hosts": ["a"],
                                        "ranks": [{"rank": 0, "host": "a"},
                                                  {"rank": 1, "host": "a"}]}}
    return results.RunDocument("0.1.0", "2026-11-26T00:00:00+00:00", ("dlbench",), env,
                               {"world_size": 2}, tuple(rs))


def test_distributed_fields_round_trip_through_the_published_schema(tmp_path):
    path = tmp_path / "d.json"
    results.dump(distributed_doc(), path)
    back = results.load(path)  # validated
    assert back.results[0].distributed["busbw_gbytes_per_s"] == pytest.approx(1.048576)
    assert back.environment["distributed"]["ranks"][1]["rank"] == 1
    assert back.results[2].distributed["scaling_efficiency"]["ci95"] == [0.45, 0.55]


def test_distributed_tables_show_busbw_by_size_and_scaling_efficiency():
    from dlbench.report import distributed as table

    t = table.tables(distributed_doc().results)
    assert [row[3] for row in t.collectives] == ["8 B", "1 MiB"]  # sorted by size
    assert t.collectives[1][6] == "1.05"  # busbw GB/s
    assert t.steps[0][0] == "mlp" and t.steps[0][6] == "0.50 [0.45, 0.55]"
    md = table.render_markdown(t)
    assert "| allreduce | 2 | float32 | 1 MiB |" in md and "busbw GB/s" in md


def test_report_shows_the_distributed_tables(tmp_path):
    path = tmp_path / "d.json"
    results.dump(distributed_doc(), path)
    result = cli("report", str(path), "--format", "md")
    assert result.exit_code == 0, result.output
    assert "busbw GB/s" in result.stdout and "scaling efficiency" in result.stdout


@pytest.mark.gpu
@pytest.mark.slow
def test_nccl_ranks_on_gpus_time_with_events_and_verify(tmp_path, cuda_probes):
    """The NCCL path, thin: one rank per GPU (NCCL refuses two ranks on one GPU), CUDA
    events inside the slowest-rank timer, every collective and the DDP steps verified."""
    probe = cuda_probes["torch"]
    if not probe.ok:
        pytest.skip(f"no usable GPU for torch: {probe.reason}")
    out = tmp_path / "nccl.json"
    nproc = min(2, len(probe.devices))
    proc = dlbench("run", "--nproc", str(nproc), "--device", "cuda", "--workload",
                   "allreduce,allgather,reduce_scatter,broadcast,ddp_train_step",
                   "--size", "16,64", *FAST, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = results.load(out)
    assert doc.environment["distributed"]["backend"] == "nccl"
    assert all(r["gpu"] for r in doc.environment["distributed"]["ranks"])
    assert len(doc.results) == 14  # allreduce in float32 and bfloat16 (the suite), 2 sizes
    for r in doc.results:
        assert r.status == "ok", (r.spec.id, r.error)
        assert r.timer.startswith("cuda-event"), r.timer
        assert r.verify["ok"]
    assert_no_orphans(str(out))
