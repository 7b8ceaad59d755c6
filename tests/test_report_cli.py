"""`dlbench report` through Typer's CliRunner: formats, files, --force, one-line errors."""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.helpers import DATA, GPU_BOX, LAPTOP, assert_one_line_error, cli

CPU_RUN = DATA / "run-cpu.json"
H200_RUN = DATA / "run-h200.json"



def test_default_is_the_table_in_the_terminal():
    result = cli("report", LAPTOP, GPU_BOX, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("machine laptop", "gpu-box: speedups", "all machines side by side",
                 "geometric mean", "crossover: matmul float32", "one epoch, extrapolated"):
        assert text in result.stdout


@pytest.mark.parametrize(("fmt", "start"), [("md", "## dlbench report"), ("csv", "id,workload"),
                                            ("json", "{")])
def test_text_formats_go_to_stdout(fmt, start):
    result = cli("report", LAPTOP, "--format", fmt)
    assert result.exit_code == 0 and result.stdout.startswith(start)
    dash = cli("report", LAPTOP, "--format", fmt, "-o", "-")
    assert dash.stdout == result.stdout


def test_format_from_suffix_atomic_write_and_force(tmp_path):
    out = tmp_path / "r.json"
    result = cli("report", LAPTOP, GPU_BOX, "-o", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.stderr
    assert json.loads(out.read_text())["schema"] == "dlbench.report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    assert_one_line_error(cli("report", LAPTOP, "-o", out), "already exists", "--force")
    assert len(json.loads(out.read_text())["machines"]) == 2  # untouched
    forced = cli("report", LAPTOP, "-o", out, "--force")
    assert forced.exit_code == 0 and len(json.loads(out.read_text())["machines"]) == 1


def test_png_writes_exactly_the_file_named_one_slide_sized_sheet(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    from dlbench.report import plots

    result = cli("report", H200_RUN, "-o", tmp_path / "charts.png")
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["charts.png"]
    with Image.open(tmp_path / "charts.png") as image:
        assert image.size == (16 * plots.SHEET_DPI, 9 * plots.SHEET_DPI)  # 16:9, 1920×1080
    again = cli("report", LAPTOP, "--format", "png", "-o", tmp_path / "charts.png")
    assert_one_line_error(again, "charts.png", "already exists", "--force")


def test_a_folder_gets_the_bundle_with_an_index(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    result = cli("report", CPU_RUN, H200_RUN, "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["index.html", "report.html", "report.md", "report.csv",
                            "report.json", "throughput.png", "speedup.png", "bars.png",
                            "roofline.png"])
    index = (out / "index.html").read_text()
    for name in names:
        if name != "index.html":
            assert f'href="{name}"' in index
    assert "In short: h200-box" in index and "No GPU was measured" in index
    assert json.loads((out / "report.json").read_text())["headline"]["h200-box"]
    # an existing folder is a bundle too, and its files are not replaced without --force
    again = cli("report", CPU_RUN, "-o", out)
    assert_one_line_error(again, "already exist", "--force")
    assert cli("report", CPU_RUN, "-o", out, "--force").exit_code == 0
    assert_one_line_error(cli("report", CPU_RUN, "-o", out, "--format", "md"),
                          "gets the whole bundle")


def test_report_on_a_gpu_machine_starts_with_the_headline():
    result = cli("report", H200_RUN, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "In short (h200-box)"
    assert lines[1].startswith("Compared numpy-cpu (baseline), torch-cpu, torch-cpu-native")
    assert "Fastest column: torch-cuda-native" in result.stdout


def test_html_file(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    assert cli("report", LAPTOP, GPU_BOX, "-o", out).exit_code == 0
    assert out.read_text().count('<img class="chart"') == 4  # throughput, speedup, bars, roofline


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["missing.json"], ["missing.json: no such file"]),
        ([LAPTOP, "--format", "xml"], ["'--format': 'xml' is not one of"]),
        ([LAPTOP, "--format", "png"], ["--format png writes image files", "-o PATH.png"]),
        ([LAPTOP, "--format", "png", "-o", "-"], ["not stdout"]),
        ([LAPTOP, "-o", "table.txt"], ["the table is for the terminal"]),
        ([LAPTOP, "--baseline", "cupy-cuda"], ["--baseline cupy-cuda is not a column"]),
        # Too long for a file name: the check whether -o names a folder must not fail.
        ([LAPTOP, "-o", "n" * 300 + ".md"], ["cannot write there (File name too long)"]),
        ([LAPTOP, "-o", "n" * 300 + "/"], ["cannot write there (File name too long)"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragments):
    assert_one_line_error(cli("report", *args), *fragments)


def test_unreadable_files_are_one_line_errors(tmp_path):
    not_json = tmp_path / "a.json"
    not_json.write_text("{ nope")
    assert_one_line_error(cli("report", not_json), "a.json: not JSON")
    other = tmp_path / "b.json"
    other.write_text('{"schema": "something.else"}')
    assert_one_line_error(cli("report", other), "b.json: not a dlbench result file")
    newer = tmp_path / "c.json"
    newer.write_text('{"schema": "dlbench.result", "schema_version": 99}')
    assert_one_line_error(cli("report", newer), "schema_version 99", "newer dlbench")


@pytest.mark.parametrize("fmt", ["png", "html"])
def test_charts_without_matplotlib_say_what_to_install(monkeypatch, tmp_path, fmt):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = cli("report", LAPTOP, "--format", fmt, "-o", tmp_path / f"x.{fmt}")
    assert_one_line_error(result, "matplotlib", "pip install 'dlbench[report]'")
    assert list(tmp_path.iterdir()) == []


def test_help_does_not_import_matplotlib():
    code = ("import sys\nfrom dlbench.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
    assert "report" in out.stdout


def test_a_wrong_result_whose_error_is_unknown_still_shows(tmp_path):
    """A NaN output's error is written as null (JSON has no NaN): shown as nan, no crash."""
    data = json.loads(LAPTOP.read_text())
    wrong = next(r for r in data["results"] if r["status"] == "wrong")
    wrong["verify"]["max_rel_err"] = None
    path = tmp_path / "nan-error.json"
    path.write_text(json.dumps(data))
    for fmt in ("table", "md"):
        result = cli("report", path, "--format", fmt, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "err nan " in result.stdout and "tol 1e-05" in result.stdout


def test_charts_leave_out_values_no_log_axis_can_hold(tmp_path):
    """Rates so extreme that a ratio overflows, and a subnormal byte count (an infinite
    intensity): the charts draw what they can instead of failing."""
    pytest.importorskip("matplotlib")
    data = json.loads(LAPTOP.read_text())
    data["results"][0]["flops"] = 1.7e308
    data["results"][1]["bytes"] = 5e-324
    data["results"][2]["samples_s"][:2] = [1e-12, 1e6]  # the extremes a time may take
    path = tmp_path / "extreme.json"
    path.write_text(json.dumps(data))
    for out in ("r.html", "charts.png"):
        result = cli("report", path, "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
