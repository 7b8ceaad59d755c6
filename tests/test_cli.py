"""The command line through Typer's CliRunner: outputs, exit codes, one-line errors."""

import json

import pytest

from tests.helpers import assert_one_line_error, cli

TINY = ["--workload", "matmul", "--size", "64", "--dtype", "float32", "--min-time", "0.05",
        "--max-time", "0.2"]


def test_help_lists_commands_and_examples():
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "list", "env"):
        assert command in result.stdout
    run_help = cli("run", "--help")
    assert run_help.exit_code == 0 and "Examples" in run_help.stdout
    assert "--baseline" in run_help.stdout and "--no-verify" in run_help.stdout


def test_version():
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("dlbench ")


def test_list_shows_backends_workloads_suites():
    result = cli("list")
    assert result.exit_code == 0
    for text in ("numpy", "matmul", "2·m·n·k", "quick", "ci"):
        assert text in result.stdout


def test_list_explains_a_missing_library(monkeypatch, request):
    import importlib.util

    from dlbench.backends import cuda

    # The CUDA answers other tests cached (torch-cuda usable on a GPU machine) would
    # outlive the patch below: ask again with torch gone, and forget that answer after.
    cuda.forget()
    request.addfinalizer(cuda.forget)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    result = cli("list", env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "torch is not installed" in result.stdout
    refused = cli("run", "--backend", "torch", *TINY)
    assert_one_line_error(refused, "torch-cpu is unavailable", "torch is not installed",
                          "pip install")


@pytest.mark.slow  # describes every backend: imports each library, GPU ones in a child
def test_env_json_has_the_record():
    result = cli("env", "--format", "json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["cpu"]["logical_cores"] >= 1
    assert "numpy" in record["libraries"]
    assert record["backends"]["numpy-cpu"]["available"] is True
    assert "peak_flops" in record


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--backend", "tensorflowx"], ["unknown backend 'tensorflowx'", "numpy"]),
        (["--workload", "fft"], ["unknown workload 'fft'"]),
        (["--dtype", "float8"], ["unknown dtype 'float8'"]),
        (["--suite", "nightly"], ["unknown suite 'nightly'"]),
        (["--suite", "missing.toml"], ["suite file missing.toml: cannot read"]),
        (["--size", "0"], ["--size: '0' is not a positive integer"]),
        (["--size", "12x"], ["--size: '12x' is not a positive integer"]),
        (["--size", "300000"], ["needs about", "GiB", "available"]),
        (["--device", "tpu"], ["unknown device 'tpu'"]),
        (["--format", "xml"], ["'--format': 'xml' is not one of 'table', 'json', 'md', 'csv'",
                               "(dlbench run --help)"]),
        (["--baseline", "nosuch-cpu"], ["--baseline nosuch-cpu is not among"]),
        (["--min-time", "3", "--max-time", "1"], ["exceeds --max-time"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragments):
    assert_one_line_error(cli("run", *args), *fragments)


def test_threads_below_one_is_usage_error():
    result = cli("run", "--threads", "0")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_bad_suite_file_names_file_key_and_problem(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text('[[benchmark]]\nworkload = "matmul"\nsizes = [64, -1]\n')
    assert_one_line_error(cli("run", "--suite", str(suite)), "mine.toml",
                          "benchmark[0].sizes", "positive integers")


@pytest.mark.slow
def test_run_json_to_stdout_and_file(tmp_path):
    out = tmp_path / "r.json"
    result = cli("run", "--backend", "numpy", *TINY, "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stdout holds only the document: it pipes
    assert doc["schema"] == "dlbench.result"
    assert [r["status"] for r in doc["results"]] == ["ok"]
    assert doc["results"][0]["verify"]["ok"] is True
    assert json.loads(out.read_text())["results"] == doc["results"]
    assert doc["environment"]["backends"]["numpy-cpu"]["version"]
    again = cli("run", "--backend", "numpy", *TINY, "-o", str(out))
    assert_one_line_error(again, "already exists", "--force")


@pytest.mark.slow
def test_run_table_marks_wrong_results_and_exits_3(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBENCH_TEST_CORRUPT_OUTPUT", "numpy")
    out = tmp_path / "r.json"
    result = cli("run", "--backend", "numpy", *TINY, "-o", str(out), env={"COLUMNS": "160"})
    assert result.exit_code == 3
    assert "✗ wrong" in result.stdout
    assert "1 case(s) failed" in result.stderr
    saved = json.loads(out.read_text())
    assert saved["results"][0]["status"] == "wrong"


@pytest.mark.slow
def test_run_markdown_and_csv(tmp_path):
    md = cli("run", "--backend", "numpy", *TINY, "--format", "md", "-o",
                str(tmp_path / "a.json"))
    assert md.exit_code == 0
    assert md.stdout.startswith("| workload | params | dtype | numpy-cpu (baseline) |")
    assert "**In short**\n\n- Compared numpy-cpu (baseline) on " in md.stdout
    csv = cli("run", "--backend", "numpy", *TINY, "--format", "csv", "-o",
                 str(tmp_path / "b.json"))
    assert csv.exit_code == 0
    header, row = csv.stdout.splitlines()
    assert header.startswith("id,workload,params") and ",ok," in row


def test_max_time_alone_lowers_the_suites_min_time():
    from dlbench.planning import Selection, build

    plan = build(Selection(suite="quick", max_time=0.1, backends=("numpy",)))
    assert (plan.config.min_time, plan.config.max_time) == (0.1, 0.1)
    plan = build(Selection(suite="quick", min_time=5.0, backends=("numpy",)))
    assert (plan.config.min_time, plan.config.max_time) == (5.0, 5.0)


def test_a_suite_sets_the_block_length_and_the_file_records_it(tmp_path):
    from dlbench.planning import Selection, build

    quick = build(Selection(suite="quick", backends=("numpy",)))
    assert quick.config.block_time == 0.1 and quick.settings()["block_time"] == 0.1
    assert quick.config.min_rounds == 5 and quick.settings()["min_rounds"] == 5
    suite = tmp_path / "blocks.toml"
    suite.write_text('[settings]\nblock_time = 0.05\n[[benchmark]]\nworkload = "matmul"\n')
    assert build(Selection(suite=str(suite), backends=("numpy",))).config.block_time == 0.05
    suite.write_text('[settings]\nblock_time = 0\n[[benchmark]]\nworkload = "matmul"\n')
    assert_one_line_error(cli("run", "--suite", str(suite)), "settings.block_time",
                          "positive number")


def test_rounds_and_repeat_come_from_the_suite_or_the_command_line(tmp_path):
    from dlbench.planning import Selection, build

    plan = build(Selection(suite="quick", backends=("numpy",), rounds=9, repeat=3))
    assert (plan.config.min_rounds, plan.repeat) == (9, 3)
    assert (plan.settings()["min_rounds"], plan.settings()["repeat"]) == (9, 3)
    # Asked-for rounds fit in the budget (quick: blocks of 0.1 s, at most 0.5 s a case),
    # unless --max-time is given too.
    assert plan.config.max_time == pytest.approx(0.9)
    assert build(Selection(suite="quick", backends=("numpy",), rounds=3)).config.max_time == 0.5
    assert build(Selection(suite="quick", backends=("numpy",), rounds=9,
                           max_time=0.4)).config.max_time == 0.4
    suite = tmp_path / "rounds.toml"
    suite.write_text('[settings]\nmin_rounds = 7\nrepeat = 2\n[[benchmark]]\n'
                     'workload = "matmul"\n')
    plan = build(Selection(suite=str(suite), backends=("numpy",)))
    assert (plan.config.min_rounds, plan.repeat) == (7, 2)
    assert build(Selection(suite=str(suite), backends=("numpy",), repeat=1)).repeat == 1
    for option in ("--repeat", "--rounds"):  # click's own range check: exit 2, no traceback
        result = cli("run", option, "0")
        assert result.exit_code == 2 and option in result.output
        assert "Traceback" not in result.output
    suite.write_text('[settings]\nrepeat = 1000\n[[benchmark]]\nworkload = "matmul"\n')
    assert_one_line_error(cli("run", "--suite", str(suite)), "repeat", "executions")


def test_suite_threads_setting_gives_way_to_the_command_line(tmp_path):
    from dlbench.planning import Selection, build

    plan = build(Selection(suite="ci", backends=("numpy",)))
    assert plan.threads == 1 and plan.settings()["threads"] == 1
    plan = build(Selection(suite="ci", threads=2, backends=("numpy",)))
    assert plan.threads == 2 and plan.settings()["threads"] == 2
    assert build(Selection(suite="quick", backends=("numpy",))).threads is None
    suite = tmp_path / "bad.toml"
    suite.write_text('[settings]\nthreads = 0\n[[benchmark]]\nworkload = "matmul"\n')
    assert_one_line_error(cli("run", "--suite", str(suite)), "bad.toml", "settings.threads",
                          "positive number")


@pytest.mark.slow
def test_default_run_leaves_out_a_missing_library_and_says_so(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    result = cli("run", *TINY, "-o", str(tmp_path / "r.json"), env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert result.stderr.count("torch-cpu left out: torch is not installed") == 1
    assert "numpy-cpu" in result.stdout and "torch-cpu" not in result.stdout
    # the run ends with its headline, which says no GPU was measured
    story = result.stdout.split("In short\n")[1]
    assert story.startswith("Compared numpy-cpu (baseline)") and "No GPU was measured" in story
    assert "torch" not in story


def test_nothing_to_run_is_a_usage_error():
    assert_one_line_error(cli("run", "--backend", "numpy", "--dtype", "bfloat16"),
                          "nothing to run", "numpy has no bfloat16")


@pytest.mark.slow
def test_crashing_worker_gives_honest_exit_code_and_keeps_other_results(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "r.json"
    result = cli("run", "--backend", "numpy,torch", "--device", "cpu", "--workload",
                    "matmul", "--size", "64,96,128", "--dtype", "float32",
                    "--min-time", "0.05", "--max-time", "0.2", "-o", str(out),
                    env={"COLUMNS": "200", "DLBENCH_TEST_KILL_WORKER": "torch"})
    assert result.exit_code == 3, result.output
    assert "3 case(s) failed" in result.stderr and "torch-cpu/portable: error" in result.stderr
    saved = {r["id"]: r for r in json.loads(out.read_text())["results"]}
    numpy_ok = [r for r in saved.values() if r["backend"] == "numpy"]
    assert len(numpy_ok) == 3 and all(r["status"] == "ok" and r["samples_s"] for r in numpy_ok)
    torch_errors = [r["error"] for r in saved.values() if r["backend"] == "torch"]
    # Two cases ran into the crash (the worker is started again once); the third never
    # reached a worker, and says so rather than that a worker died running it.
    assert all(e.startswith("the torch-cpu worker process (pid ") and
               "killed by signal 9" in e for e in torch_errors[:2])
    assert torch_errors[2].startswith("not run: the torch-cpu worker died 2 times and is "
                                      "not started again (last: the torch-cpu worker")
    assert "error: the torch-cpu worker" in result.stdout  # the table says why
