"""The front door: `--help` that shows every choice and name, `list` that fits 80
columns and tells the truth, JSON for programs, one-line errors for a bad choice, and
`--no-save`."""

import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlbench import backends, suites, workloads
from dlbench.cli import app
from tests.helpers import assert_one_line_error

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
WIDE = {"COLUMNS": "200"}
TINY = ["--workload", "matmul", "--size", "32", "--dtype", "float32", "--min-time", "0.02",
        "--max-time", "0.05"]


def help_of(*command):
    result = runner.invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(("command", "choices"), [
    ("run", ["<table|json|md|csv>", "<hot|cold>", "<off|on>", "<gloo|nccl>", "<en|ko>"]),
    ("compare", ["<table|md|summary|json>", "<en|ko>"]),
    ("env", ["<table|json>", "<en|ko>"]),
    ("list", ["<table|json>", "<en|ko>"]),
    ("report", ["table (terminal), md, csv, html, json or png", "<en|ko>"]),
])
def test_help_shows_the_choices_of_every_enumerated_option(command, choices):
    text = help_of(command)
    for choice in choices:
        assert choice in text, choice
    assert "<bool>" not in text and "<str>" not in text.split("Arguments")[-1]


def test_run_help_names_what_the_registries_hold():
    text = " ".join(help_of("run").split())  # the help wraps names across lines
    for name in backends.names() + workloads.names() + suites.builtin_names():
        assert re.search(rf"\b{name}\b", text), name
    for dtype in suites.DTYPES:
        assert dtype in text


def test_help_texts_have_no_leaked_indentation():
    """Each prose paragraph of a command's help is one line (the terminal wraps it); only
    the indented example lines keep their breaks."""
    import typer

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for paragraph in command.help.split("\n\n"):
            if not paragraph.startswith("  "):
                assert "\n" not in paragraph and "  " not in paragraph, (name, paragraph)
    summary = " ".join(help_of().split())
    assert "Compare runs benchmark by benchmark; exit 1 on a regression." in summary


def test_the_front_page_says_what_dlbench_runs_and_how_to_complete_and_colour():
    text = " ".join(help_of().split())
    for library in ("NumPy", "PyTorch", "TensorFlow", "JAX", "CuPy"):
        assert library in text
    assert "--install-completion" in text and "NO_COLOR" in text
    description = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["description"]
    assert all(lib in description for lib in ("NumPy", "PyTorch", "TensorFlow", "JAX", "CuPy"))


def test_a_value_outside_the_choices_is_one_line():
    line = assert_one_line_error(runner.invoke(app, ["run", "--format", "yaml"]))
    assert "'yaml' is not one of 'table', 'json', 'md', 'csv'" in line
    assert "(dlbench run --help)" in line
    line = assert_one_line_error(runner.invoke(app, ["list", "--bogus"]))
    assert line == "error: No such option: --bogus (dlbench list --help)"


def test_completion_offers_the_names_after_a_comma():
    from dlbench.cli import options

    complete = options.completer(backends.names)
    assert complete("numpy,to") == ["numpy,torch"]
    assert "tensorflow" in complete("")


def test_list_at_80_columns_cuts_no_name_and_shows_every_dtype():
    result = runner.invoke(app, ["list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    for name in workloads.names():
        assert any(line.startswith(name + " ") for line in lines), name
    for label in (t.label for t in backends.all_targets()):
        assert any(line.startswith(label + " ") for line in lines), label
    shown = " ".join(result.stdout.split())
    for name in suites.builtin_names():
        for entry in suites.load(name).entries:
            assert f"{entry.workload}:" in shown and ", ".join(entry.dtypes) in shown


def test_list_json_says_which_backend_runs_which_implementation():
    result = runner.invoke(app, ["list", "--format", "json"])
    assert result.exit_code == 0
    catalog = json.loads(result.stdout)
    entries = {w["name"]: w for w in catalog["workloads"]}
    # Collectives run on torch.distributed alone; transfer on GPUs alone.
    assert entries["allreduce"]["implementations"] == {"native": ["torch-cpu", "torch-cuda"]}
    assert all(label.endswith("-cuda") for labels in entries["transfer"]["implementations"]
               .values() for label in labels)
    assert "tensorflow-cpu" not in entries["matmul"]["implementations"]["portable"]
    assert {b["label"] for b in catalog["backends"]} == {t.label for t in backends.all_targets()}
    assert {s["name"] for s in catalog["suites"]} == set(suites.builtin_names())


def test_list_escapes_what_rich_would_read_as_markup():
    result = runner.invoke(app, ["list"], env=WIDE)
    assert "float32, float64" in result.stdout  # a dtype list in brackets used to vanish


# Each phrase a suite description may use to claim coverage, and the workloads it claims.
CLAIMS = {
    "every workload a CPU runs": lambda w: not w.distributed and any(
        w.supports(t)[0] for t in backends.all_targets() if t.device == "cpu"),
    "every single-machine workload": lambda w: not w.distributed,
    "every distributed workload": lambda w: w.distributed,
}


@pytest.mark.parametrize("name", suites.builtin_names())
def test_a_suite_description_claims_only_what_the_suite_holds(name):
    suite = suites.load(name)
    held = {e.workload for e in suite.entries}
    named = {w for w in workloads.names() if re.search(rf"\b{w}\b", suite.description)}
    assert named <= held
    assert suite.description.count("every") == sum(c in suite.description for c in CLAIMS), \
        f"{name}: 'every' outside the known claims: {suite.description!r}"
    for phrase, claimed in CLAIMS.items():
        if phrase in suite.description:
            assert {w for w in workloads.names() if claimed(workloads.get(w))} <= held, phrase


def test_no_save_with_an_output_is_refused():
    assert_one_line_error(runner.invoke(app, ["run", "--no-save", "-o", "r.json", *TINY]),
                          "--no-save writes no result file")


@pytest.mark.slow
def test_no_save_leaves_no_file(tmp_path):
    result = runner.invoke(app, ["run", "--backend", "numpy", *TINY, "--no-save", "--format",
                                 "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["status"] == "ok"
    assert "saved" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_color_turns_colour_off():
    import os
    import subprocess
    import sys

    def stderr(**env):
        return subprocess.run([sys.executable, "-m", "dlbench", "run", "--backend", "nosuch"],
                              env={**os.environ, "FORCE_COLOR": "1", **env},
                              capture_output=True, text=True).stderr

    assert "\x1b[31m" in stderr()
    assert "\x1b[" not in stderr(NO_COLOR="1")
