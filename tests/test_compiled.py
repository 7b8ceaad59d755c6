"""Compiled implementations: torch.compile's column for every workload, what compiling
costs and when it pays (break-even), graph breaks and recompilations, a missing or
failing C++ compiler, reduce-overhead's CUDA-graph logic on a fake device, and one kind
of column with JAX's jit and TensorFlow's XLA in tables, files and the headline.

torch.compile costs seconds per compile on a 2-core CPU (and about ten to start Inductor
once per process): each workload is compiled once, at tiny sizes, and the compiled kernel
is shared by the tests that verify it, check what compiling did, and train it."""

import csv
import importlib.util
import io
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from dlbench import backends, breakeven, measured, schema, stats, workloads
from dlbench.backends import DeviceOptions
from dlbench.compilers import CompileOptions, CompileRefused
from dlbench.errors import UsageError
from dlbench.measure import Sampler
from dlbench.planning import Selection, build, uncompilable
from dlbench.report import headline
from dlbench.report import json as json_report
from dlbench.report.model import build as build_report
from dlbench.report.rows import cell_lines, speedup_table, table_notes
from dlbench.results import CaseSpec, Numerics, Result, Round, RunDocument, dumps, parse
from dlbench.runner import _Sampling
from dlbench.worker import BlockReply, Prepared, Worker
from dlbench.workloads import cnn, lstm, mlp, transformer
from tests.helpers import ENV, FAST_SAMPLING, SETTINGS, assert_one_line_error, noisy

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed")
TINY = {
    "matmul": {"m": 24, "n": 16, "k": 40},
    "conv2d": {"n": 2, "c": 3, "k": 4, "h": 9, "w": 7, "stride": 2, "pad": 1},
    "bandwidth": {"elements": 1000},
    "attention": {"batch": 2, "seq": 13, "heads": 3, "head_dim": 8, "causal": 1},
    "lstm": {"hidden": 12, "batch": 3, "timesteps": 5, "input": 7},
    "mlp_train_step": {"batch": 24, "features": 12, "hidden": 10, "classes": 3},
    "cnn_train_step": {"batch": 6, "channels": 2, "hw": 6, "filters": 3, "classes": 3},
    "lstm_train_step": {"hidden": 12, "batch": 16, "timesteps": 6, "input": 8, "classes": 4},
    "transformer_train_step": {"batch": 8, "seq": 8, "d_model": 16, "heads": 2,
                               "classes": 4},
}
FORWARD = ("matmul", "conv2d", "bandwidth", "attention")
STEPS = ("mlp_train_step", "cnn_train_step", "lstm_train_step", "transformer_train_step")
# Data of another seed than the suites', as the eager training tests use.
SEED = 12345


# -- break-even: the arithmetic -----------------------------------------------------------
def test_break_even_is_the_compile_time_over_what_each_call_saves():
    # 10 s of compiling, a 10 ms compiled call, 2× faster: each call saves 10 ms.
    b = breakeven.break_even(10.0, 0.01, (2.0, 1.5, 3.0), "torch-cpu-native")
    assert b.calls == pytest.approx(1000)
    assert (b.lo, b.hi) == (pytest.approx(500), pytest.approx(2000))
    assert b.verdict == "pays"
    assert b.to_dict() == {"against": "torch-cpu-native", "compile_s": 10.0,
                           "speedup": [2.0, 1.5, 3.0], "calls": 1000, "ci95": [500, 2000]}


def test_a_slower_compiled_kernel_never_pays_and_an_unclear_one_has_no_upper_end():
    slower = breakeven.break_even(5.0, 0.01, (0.8, 0.7, 0.9), "x")
    assert slower.verdict == "never" and slower.calls is None
    assert slower.to_dict()["calls"] is None and slower.to_dict()["ci95"] == [None, None]
    unclear = breakeven.break_even(5.0, 0.01, (1.1, 0.95, 1.25), "x")
    assert unclear.verdict == "unclear"
    assert unclear.lo == pytest.approx(2000) and unclear.hi is None


def compiled_result(eager_median, compiled_median, first_call_s, impl="compiled",
                    backend="torch", eager="native", size=256, **record):
    spec = CaseSpec.make("matmul", {"m": size, "n": size, "k": size}, "float32", backend, "cpu",
                         impl)
    samples = noisy(compiled_median, seed=1)
    return Result(spec=spec, status="ok", samples_s=samples,
                  stats=stats.summarize(samples).to_dict(), first_call_s=first_call_s,
                  kernel_extra={"compiler": {"frontend": "torch.compile", "compiler": "inductor",
                                             "eager": eager, "mode": "default",
                                             "graph_breaks": 0, **record}})


def eager_result(median, impl, backend="torch", size=256):
    spec = CaseSpec.make("matmul", {"m": size, "n": size, "k": size}, "float32", backend, "cpu",
                         impl)
    samples = noisy(median, seed=2)
    return Result(spec=spec, status="ok", samples_s=samples,
                  stats=stats.summarize(samples).to_dict(), first_call_s=median)


def test_the_compiled_kernel_is_weighed_against_the_eager_kernel_its_record_names():
    native, portable = eager_result(0.02, "native"), eager_result(0.03, "portable")
    compiled = compiled_result(0.01, 0.01, 2.01)
    assert breakeven.eager_for(compiled, [portable, native, compiled]) is native
    # torch's matmul on a CPU has no native column: the portable one stands in
    assert breakeven.eager_for(compiled, [portable, compiled]) is portable
    other_size = eager_result(0.02, "native", size=512)
    assert breakeven.eager_for(compiled, [other_size]) is None
    stored = {r.spec.impl: r for r in breakeven.annotate([portable, native, compiled])}
    b = stored["compiled"].break_even
    assert b["against"] == "torch-cpu-native"
    # 2 s beyond one call, 10 ms saved per call
    assert b["calls"] == pytest.approx(200, rel=0.05)
    assert stored["native"].break_even is None and stored["portable"].break_even is None


def test_compiled_results_round_trip_through_the_file_and_its_schema():
    native = eager_result(0.02, "native")
    compiled = compiled_result(0.02, 0.01, 2.0, graphs=2, graph_breaks=1,
                               break_reasons=["Tensor.backward()"], recompiles=0,
                               recompiles_while_sampling=0, cache="fresh", startup_s=9.5)
    doc = RunDocument("0.1.0", "2026-12-06T00:00:00+00:00", ("dlbench", "run"), ENV, SETTINGS,
                      tuple(breakeven.annotate([native, compiled])))
    data = json.loads(dumps(doc))
    schema.validate(data, schema.RESULT, "test", "the dlbench result schema")
    back = parse(data, "test").results[1]
    assert back.spec.impl == "compiled" and back.column == "torch-cpu-compiled"
    assert back.compiler["graph_breaks"] == 1 and back.break_even["against"] == "torch-cpu-native"
    assert data["results"][1]["impl"] == "compiled"  # exactly what ran


def test_every_librarys_compiled_kernel_is_one_kind_of_column_beside_its_eager_one():
    jax_jit = compiled_result(0.02, 0.01, 1.0, impl="native", backend="jax", eager="portable")
    jax_jit = replace(jax_jit, kernel_extra={"compiler": {"frontend": "jax.jit",
                                                          "compiler": "XLA",
                                                          "eager": "portable"}})
    rows = [eager_result(0.03, "portable", backend="numpy"), eager_result(0.03, "portable"),
            compiled_result(0.02, 0.01, 1.0), eager_result(0.02, "native"),
            eager_result(0.02, "portable", backend="jax"), jax_jit]
    table = speedup_table(rows)
    assert table.columns == ("numpy-cpu", "jax-cpu", "jax-cpu-compiled", "torch-cpu",
                             "torch-cpu-native", "torch-cpu-compiled")
    cell = table.rows[0].cells["jax-cpu-compiled"]
    assert cell.break_even.against == "jax-cpu"
    lines = cell_lines(table.rows[0].cells["torch-cpu-compiled"], table.baseline,
                       "torch-cpu-compiled")
    assert any(line.startswith("compile ") and "pays off after" in line for line in lines)
    notes = table_notes(table)
    assert "torch-cpu-compiled: torch.compile (inductor, mode default), weighed against " \
           "torch-cpu-native" in notes
    assert "jax-cpu-compiled: jax.jit (XLA), weighed against jax-cpu" in notes
    story = headline.sentences(table)
    assert any(s.startswith("torch.compile (torch-cpu-compiled) pays off on this machine: "
                            "after ") for s in story), story


def test_an_old_file_without_compiler_records_keeps_its_columns():
    old = eager_result(0.01, "native", backend="jax")  # a jit result written before records
    assert old.compiler is None and old.column == "jax-cpu-native"
    assert speedup_table([old]).columns == ("jax-cpu-native",)


def test_the_report_carries_compile_time_and_break_even_into_json_and_csv(tmp_path):
    from dlbench.report import csv as csv_report

    doc = RunDocument("0.1.0", "2026-12-06T00:00:00+00:00", ("dlbench", "run"), ENV, SETTINGS,
                      (eager_result(0.02, "native"), compiled_result(0.02, 0.01, 2.0)))
    report = build_report([("run.json", doc)])
    cells = json.loads(json_report.render(report))["tables"][0]["rows"][0]["cells"]
    assert cells["torch-cpu-compiled"]["break_even"]["against"] == "torch-cpu-native"
    assert cells["torch-cpu-compiled"]["first_call_s"] == 2.0
    rows = {r["column"]: r for r in csv.DictReader(io.StringIO(csv_report.render_report(report)))}
    assert int(rows["torch-cpu-compiled"]["break_even_calls"]) > 0
    assert rows["torch-cpu-compiled"]["break_even_against"] == "torch-cpu-native"
    assert rows["torch-cpu-native"]["break_even_calls"] == ""


def test_a_recompilation_while_sampling_is_a_warning_on_the_cell():
    spec = CaseSpec.make("matmul", {"m": 8, "n": 8, "k": 8}, "float32", "torch", "cpu",
                         "compiled")
    prepared = Prepared(1, 2.0, "host", Numerics(), None,
                        {"compiler": {"frontend": "torch.compile", "compiler": "inductor",
                                      "eager": "portable", "recompiles": 0}})
    for recompiles in (0, 2):
        case = _Sampling(prepared)
        for index in range(3):
            samples = noisy(1e-3, n=10, seed=index)
            case.add(BlockReply(samples, (), (), None, None, recompiles if index == 1 else 0),
                     Round(len(samples), index))
        result = measured.result(spec, case.measured("converged"))
        assert result.compiler["recompiles_while_sampling"] == recompiles
        assert ("recompiled" in result.warnings) == bool(recompiles)


# -- planning: which columns, and why one is skipped ----------------------------------------
def test_quick_leaves_torch_compile_out_unless_asked_and_standard_has_it():
    def impls(sel):
        return {(c.workload, c.impl) for c in build(sel).cases if c.backend == "torch"}

    quick = Selection(backends=("torch",), workloads=("matmul",), sizes=(64,))
    assert ("matmul", "compiled") not in impls(quick)
    assert ("matmul", "compiled") in impls(replace(quick, compile=True))
    assert ("matmul", "compiled") in impls(replace(quick, suite="standard"))
    plan = build(replace(quick, compile=True, compile_mode="max-autotune"))
    assert plan.settings()["compile"] == {"mode": "max-autotune", "cache": "fresh"}


def test_a_missing_cpp_compiler_skips_the_column_with_the_reason(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    plan = build(Selection(backends=("torch",), workloads=("matmul",), sizes=(64,),
                           compile=True))
    skipped = {spec.impl: reason for spec, reason in plan.skipped}
    assert "C++ compiler" in skipped["compiled"] and "/nonexistent/c++" in skipped["compiled"]
    assert {c.impl for c in plan.cases} == {"portable"}
    summary = backends.get("torch").compiler_summary()
    assert summary.startswith("torch.compile (inductor) unavailable: ")


def test_list_says_which_compiler_each_backend_has(monkeypatch):
    from typer.testing import CliRunner

    from dlbench.cli import app

    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    out = CliRunner().invoke(app, ["list"]).stdout
    assert "torch.compile (inductor) unavailable: torch.compile (Inductor) needs a working " \
           "C++ compiler" in out


def test_bad_compile_options_are_one_line_errors(tmp_path):
    from typer.testing import CliRunner

    from dlbench.cli import app

    result = CliRunner().invoke(app, ["run", "--compile-mode", "fast"])
    assert_one_line_error(result, "--compile-mode", "'default', 'reduce-overhead', "
                                  "'max-autotune'")
    with pytest.raises(UsageError, match="--compile-mode must be one of"):  # the core's own
        build(Selection(compile_mode="fast"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["run", "--compile-cache", str(blocker / "sub")])
    assert_one_line_error(result, "--compile-cache", "cannot use it as a folder")


def test_reduce_overhead_inside_graph_capture_is_refused_and_said_once_on_a_cpu():
    gpu = backends.get("torch", "cuda")  # constructed, never started: no GPU is asked
    spec = CaseSpec.make("matmul", {"m": 64, "n": 64, "k": 64}, "float32", "torch", "cuda",
                         "compiled", graph=True)
    reduce = Selection(compile_mode="reduce-overhead")
    assert "cannot be captured inside --graph's" in uncompilable(spec, gpu, reduce)
    assert uncompilable(spec, gpu, Selection()) is None
    assert uncompilable(replace(spec, impl="native"), gpu, reduce) is None
    plan = build(Selection(backends=("torch",), workloads=("matmul",), sizes=(64,),
                           compile=True, compile_mode="reduce-overhead"))
    assert any("on the CPU torch.compile has none to replay" in n for n in plan.notes)


# -- torch.compile itself: each workload compiled once, shared by the tests ------------------
@pytest.fixture(scope="module")
def torch_cpu():
    torch = pytest.importorskip("torch")
    from dlbench.backends import torch_compile

    found, why = torch_compile.cxx_compiler()
    if found is None:
        pytest.skip(why)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny arrays: a second thread only spins
    be = backends.get("torch")
    be.prepare_env(DeviceOptions())
    backends.import_library(be)
    yield be
    torch.set_num_threads(threads)


class Compiled:
    """One workload's compiled kernel on tiny inputs, and what its first call gave."""

    def __init__(self, be, name):
        self.be, self.name = be, name
        self.wl = workloads.get(name)
        self.p = self.wl.resolve(**TINY[name])
        self.arrays = {k: be.asarray(v, "float32") for k, v in self.wl.inputs(self.p, SEED).items()}
        self.widened = {k: be.to_numpy(v).astype(np.float64) for k, v in self.arrays.items()}
        self.kernel = self.wl.kernel("compiled", be, self.arrays, self.p)
        try:
            self.first, self.refused = self.kernel(), None
        except CompileRefused as exc:
            self.first, self.refused = None, str(exc)

    def host(self, output):
        if isinstance(output, tuple):
            return tuple(self.be.to_numpy(a).astype(np.float64) for a in output)
        return self.be.to_numpy(output).astype(np.float64)

    def verified(self):
        """This kernel, once its first call compiled and matched the float64 reference."""
        assert self.refused is None, self.refused
        check = self.wl.check(self.host(self.first), self.widened, self.p, "float32")
        assert check.ok and check.max_rel_err <= check.tol, check
        return self


@pytest.fixture(scope="module")
def compiled(torch_cpu):
    built = {}

    def get(name):
        if name not in built:
            built[name] = Compiled(torch_cpu, name)
        return built[name]

    return get


@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("name", FORWARD)
def test_each_compiled_kernel_verifies_against_the_float64_reference(compiled, name):
    c = compiled(name).verified()
    record = c.kernel.record()
    assert record["frontend"] == "torch.compile" and record["compiler"] == "inductor"
    assert record["mode"] == "default" and record["dynamic"] is False
    assert record["graphs"] >= 1 and record["graph_breaks"] == 0, record
    assert record["startup_s"] > 0
    # torch's matmul on a CPU is weighed against the portable column, the others the native
    assert record["eager"] == ("portable" if name == "matmul" else "native")
    before = c.kernel.compilations()
    for _ in range(3):
        c.kernel()
    assert c.kernel.compilations() == before  # the guards hold: no recompilation


@pytest.mark.slow
@needs_torch
def test_an_lstm_that_dynamo_cannot_trace_is_refused_with_its_reason(compiled):
    c = compiled("lstm")
    assert c.refused == ("torch.compile compiled no graph: Dynamo does not support RNN, GRU, "
                         "or LSTM.")


@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("name", STEPS)
def test_each_compiled_training_step_verifies_and_updates_the_callers_weights(compiled, name):
    c = compiled(name).verified()
    # the caller's arrays themselves (their storage: the LSTM's are nn.Parameters over it)
    assert all(got.data_ptr() == c.arrays[k].data_ptr()
               for got, k in zip(c.first, c.wl.updates, strict=True))
    record = c.kernel.record()
    reasons = " ".join(record["break_reasons"])
    # the whole step is compiled, the optimizer's update in a graph of its own after the
    # break Dynamo makes at Tensor.backward(); in the LSTM's step, after nn.LSTM (which
    # Dynamo leaves to run eagerly), Dynamo compiles the update only
    assert record["graph_breaks"] >= 1 and "Optimizer.zero_grad" in reasons, record
    if name == "lstm_train_step":
        assert record["graphs"] >= 1 and "LSTM" in reasons, record
    else:
        assert record["graphs"] >= 2 and "Tensor.backward()" in reasons, record


LOSSES = {
    "mlp_train_step": lambda a, p: mlp.loss(np, a),
    "cnn_train_step": lambda a, p: cnn.loss(np, a),
    "lstm_train_step": lambda a, p: lstm.loss(np, a),
    "transformer_train_step": lambda a, p: transformer.loss(np, a, p["heads"], bool(p["causal"])),
}


@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("name", STEPS)
def test_each_compiled_training_step_learns(compiled, name):
    """Forty compiled steps lower the loss as the eager ones do (below what a model that
    looks at each position alone can reach, for the LSTM and the transformer), without
    compiling again."""
    c = compiled(name)
    assert c.refused is None, c.refused
    before = LOSSES[name](c.widened, c.p)
    compilations = c.kernel.compilations()
    for _ in range(40):
        c.kernel()
    assert c.kernel.compilations() == compilations
    after = LOSSES[name]({k: c.be.to_numpy(v).astype(np.float64)
                          for k, v in c.arrays.items()}, c.p)
    length = c.p.get("timesteps", c.p.get("seq"))
    if length:  # as the eager sequence tests: below the memoryless bound
        bound = 0.6 * min(before, math.log(c.p["classes"]) * (length - 1) / length)
    else:  # as the eager MLP and CNN tests
        bound = 0.25 * before
    assert after < bound, (before, after, bound)


@pytest.mark.slow
@needs_torch
def test_graph_breaks_are_counted_with_their_reasons(torch_cpu):
    import torch

    x = torch.ones(16)

    def kernel():
        y = x * 2
        torch._dynamo.graph_break()
        return y + 1

    k = torch_cpu.compile(kernel, "native")
    assert torch.equal(k(), x * 2 + 1)
    record = k.record()
    assert (record["graphs"], record["graph_breaks"]) == (2, 1), record
    assert record["break_reasons"] == ["User-inserted graph break. Message: None"]


@pytest.mark.slow
@needs_torch
def test_a_recompilation_while_sampling_is_counted_by_the_worker(torch_cpu):
    """A guard that fails between prepare and sampling (the input's shape changed): the
    block that recompiles says so, the next one does not."""
    import torch

    inputs = {"x": torch.ones(8)}
    k = torch_cpu.compile(lambda: inputs["x"] * 2, "native")
    worker = Worker(torch_cpu, DeviceOptions())
    sampler = Sampler(k, worker.timer(), FAST_SAMPLING)
    sampler.prepare()
    worker.cases["case"], worker.compiled["case"] = sampler, k
    inputs["x"] = torch.ones(16)
    assert worker.block("case").recompiles == 1
    assert worker.block("case").recompiles == 0


@pytest.mark.slow
@needs_torch
def test_reduce_overhead_on_a_gpu_marks_a_step_before_every_call(torch_cpu, monkeypatch):
    """The CUDA-graph logic on a fake device: the kernel is told it runs on "cuda" while
    its tensors stay on the CPU. Each call begins a new CUDA-graph step (torch's rule for
    a loop that drops its outputs), and Inductor, seeing CPU tensors, skips its CUDA
    graphs and says so — the count goes in the record."""
    import torch

    steps = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: steps.append(1))
    x = torch.arange(6.0)
    k = backends.get("torch", "cuda")
    k.options = DeviceOptions(compile=CompileOptions("reduce-overhead"))
    kernel = k.compile(lambda: torch.sin(x) + 1, "native")
    for _ in range(3):
        assert torch.allclose(kernel(), torch.sin(x) + 1)
    assert len(steps) == 3
    record = kernel.record()
    assert record["mode"] == "reduce-overhead" and record["cudagraph_skips"] >= 1, record
    on_cpu = torch_cpu.compile(lambda: torch.cos(x), "native")
    on_cpu()
    assert len(steps) == 3 and "cudagraph_skips" not in on_cpu.record()


@pytest.mark.slow
@needs_torch
def test_a_kernel_the_cpp_compiler_cannot_build_is_refused_in_one_line(torch_cpu, tmp_path,
                                                                        monkeypatch):
    """A C++ compiler that answers --version and fails to compile: the case is refused
    with Inductor's error and the compiler's own words, in one line."""
    import torch
    from torch._inductor import config, cpp_builder

    fake = tmp_path / "c++"
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "fake 1.0"; exit 0; }\n'
                    'echo "fake c++: cannot compile anything" >&2\nexit 1\n')
    fake.chmod(0o755)
    from dlbench.backends import torch_compile

    torch_compile.start_compiler()  # Inductor started with the real compiler first
    monkeypatch.setattr(config.cpp, "cxx", (None, str(fake)))
    cpp_builder.cpp_compiler_search.cache_clear()
    try:
        x = torch.linspace(0, 1, 11)
        kernel = torch_cpu.compile(lambda: torch.tanh(x) * 3 - x, "native")
        with pytest.raises(CompileRefused) as refused:
            kernel()
    finally:
        cpp_builder.cpp_compiler_search.cache_clear()
    message = str(refused.value)
    assert "\n" not in message and "CppCompileError" in message
    assert message.endswith("fake c++: cannot compile anything"), message


# -- a run, end to end ------------------------------------------------------------------------
@pytest.mark.slow
@needs_torch
def test_a_compiled_run_verifies_and_reports_compile_time_and_break_even(tmp_path, monkeypatch,
                                                                         capfd):
    from typer.testing import CliRunner

    from dlbench.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "run.json"
    result = CliRunner().invoke(app, [
        "run", "--backend", "torch", "--workload", "matmul,mlp_train_step", "--size", "16",
        "--dtype", "float32",
        "--compile", "--wide", "--min-time", "0.02", "--max-time", "0.1", "--threads", "1",
        "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    compiled = [r for r in doc["results"] if r["impl"] == "compiled"]
    assert len(compiled) == 2
    for r in compiled:
        assert r["status"] == "ok" and r["verify"]["ok"], r
        assert r["first_call_s"] > 0
        assert r["extra"]["compiler"]["cache"] == "fresh"
        assert r["extra"]["break_even"]["against"] in ("torch-cpu", "torch-cpu-native")
    assert "compiled" in result.stdout and "compile " in result.stdout
    assert "torch.compile (torch-cpu-compiled)" in result.stdout
    assert doc["settings"]["compile"] == {"mode": "default", "cache": "fresh"}
    # The worker's stderr: Dynamo's note on the optimizer's profiler annotation is kept off.
    assert "Profiler record function" not in capfd.readouterr().err


# -- a real run's file: load, compare and report --------------------------------------------
def test_a_file_with_compiled_columns_reports_and_compares(tmp_path):
    """tests/data/run-compiled.json: a real `dlbench run --compile` (numpy and torch on a
    2-vCPU VM), trimmed to matmul 256, the transformer step and the LSTM whose compiled
    column Dynamo cannot build."""
    from typer.testing import CliRunner

    from dlbench.cli import app
    from tests.helpers import DATA

    source = DATA / "run-compiled.json"
    result = CliRunner().invoke(app, ["report", str(source), "--format", "md"])
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert "torch-cpu-compiled" in md and "compile " in md
    assert "torch.compile (torch-cpu-compiled)" in md
    assert "Dynamo does not support RNN, GRU, or LSTM" in md
    result = CliRunner().invoke(app, ["compare", str(source), str(source)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["report", str(source), "--format", "json"])
    cells = [cell for table in json.loads(result.stdout)["tables"] for row in table["rows"]
             for cell in row["cells"].values() if cell["break_even"]]
    assert {c["break_even"]["against"] for c in cells} == {"torch-cpu", "torch-cpu-native"}
