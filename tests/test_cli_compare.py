"""`dlbench compare` through Typer's CliRunner: exit codes, formats, one-line errors."""

import json

import pytest

from dlbench import results
from tests.helpers import (
    ENV,
    PYTEST_BENCHMARK,
    SETTINGS,
    assert_one_line_error,
    cli,
    document,
    noisy,
    result,
    scaled_copy,
    suite_pair,
)


def invoke(*args):
    return cli("compare", *args)


def write(tmp_path, name, *rs, **kwargs):
    path = tmp_path / name
    results.dump(document(*rs, **kwargs), path)
    return path


@pytest.fixture
def runs(tmp_path):
    """BASE; an A/A repeat of it; a run 20% slower on one case; one 7% slower, noisy."""
    base = write(tmp_path, "base.json", result(noisy(1e-3, seed=1)),
                 result(noisy(2e-3, seed=2), dtype="float64"))
    same = write(tmp_path, "same.json", result(noisy(1e-3, seed=3)),
                 result(noisy(2e-3, seed=4), dtype="float64"))
    slower = write(tmp_path, "slower.json", result(noisy(1.2e-3, seed=5)),
                   result(noisy(2e-3, seed=6), dtype="float64"))
    noisy_base = write(tmp_path, "noisy-base.json",
                       result(noisy(1e-3, n=12, spread=0.15, seed=1)))
    noisy_new = write(tmp_path, "noisy-new.json",
                      result(noisy(1.03e-3, n=12, spread=0.15, seed=2)))
    return {"base": base, "same": same, "slower": slower, "noisy_base": noisy_base,
            "noisy_new": noisy_new}


def test_help_is_registered_with_examples():
    res = cli("--help")
    assert res.exit_code == 0 and "compare" in res.stdout
    res = invoke("--help")
    assert res.exit_code == 0 and "Examples" in res.stdout
    for option in ("--threshold", "--thresholds", "--alpha", "--fail-on-inconclusive",
                   "--format", "--output"):
        assert option in res.stdout


def test_no_regression_exits_0(runs):
    res = invoke(runs["base"], runs["same"])
    assert res.exit_code == 0, res.output
    assert "no regression · 2 unchanged" in res.stdout
    assert "matmul/m=256,n=256,k=256/float64/numpy-cpu/portable" in res.stdout


def test_regression_exits_1(runs):
    res = invoke(runs["base"], runs["slower"])
    assert res.exit_code == 1, res.output
    assert "1 regression · 1 slower, 1 unchanged" in res.stdout
    assert "+20." in res.stdout and "slower" in res.stdout


def test_threshold_options_change_the_outcome(runs, tmp_path):
    assert invoke(runs["base"], runs["slower"], "--threshold", "25%").exit_code == 0
    overrides = tmp_path / "thresholds.toml"
    overrides.write_text('"matmul/*/float32/*" = "30%"\n')
    res = invoke(runs["base"], runs["slower"], "--thresholds", overrides)
    assert res.exit_code == 0, res.output
    assert "threshold 30%" in res.stdout


def test_fail_on_inconclusive(runs):
    res = invoke(runs["noisy_base"], runs["noisy_new"])
    assert res.exit_code == 0 and "inconclusive" in res.stdout
    assert "1 inconclusive may hide one" in res.stdout
    res = invoke(runs["noisy_base"], runs["noisy_new"], "--fail-on-inconclusive")
    assert res.exit_code == 1


def test_markdown_to_stdout_with_verdict_on_stderr(runs):
    res = invoke(runs["base"], runs["slower"], "--format", "md")
    assert res.exit_code == 1
    assert res.stdout.startswith("## dlbench compare\n")
    assert "| `matmul/m=256,n=256,k=256/float32/numpy-cpu/portable` | **slower** |" in res.stdout
    assert res.stderr.startswith("compare: 1 regression")


def test_json_is_the_same_rows(runs):
    res = invoke(runs["base"], runs["slower"], "--format", "json", "--alpha", "0.05")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["schema"] == "dlbench.compare" and doc["alpha"] == 0.05
    assert doc["confidence"] == pytest.approx(0.95)
    assert doc["regressions"] == ["matmul/m=256,n=256,k=256/float32/numpy-cpu/portable"]
    assert [r["verdict"] for r in doc["rows"]] == ["slower", "unchanged"]
    assert doc["rows"][0]["ratio"] == pytest.approx(1.2, rel=0.02)


def test_output_file(runs, tmp_path):
    target = tmp_path / "compare.md"
    res = invoke(runs["base"], runs["same"], "-o", target)
    assert res.exit_code == 0 and res.stdout == ""
    assert target.read_text().startswith("## dlbench compare")
    assert f"(wrote {target})" in res.stderr
    assert_one_line_error(invoke(runs["base"], runs["same"], "-o", target), "already exists",
                          "--force")
    assert invoke(runs["base"], runs["same"], "-o", target, "--force").exit_code == 0
    as_json = tmp_path / "compare.json"
    assert invoke(runs["base"], runs["slower"], "-o", as_json).exit_code == 1
    assert json.loads(as_json.read_text())["counts"]["slower"] == 1


def test_invalid_cases_are_listed_and_the_rest_compared(tmp_path, runs):
    new = write(tmp_path, "partly-wrong.json", result(noisy(1e-3, seed=7)),
                result(noisy(2e-3, seed=8), dtype="float64", status="wrong",
                       error="max_rel_err 0.3 > tol 1e-06"))
    res = invoke(runs["base"], new)
    assert res.exit_code == 0, res.output
    assert "invalid" in res.stdout and "NEW wrong: max_rel_err 0.3 > tol 1e-06" in res.stdout
    assert "1 invalid, 1 unchanged" in res.stdout


def test_environment_differences_shown_first(tmp_path, runs):
    other = {**ENV, "host": "laptop", "cpu": {"model": "AMD Ryzen 9 7950X"}}
    new = write(tmp_path, "laptop.json", result(noisy(1e-3, seed=3)),
                result(noisy(2e-3, seed=4), dtype="float64"), environment=other,
                settings={**SETTINGS, "threads": 1})
    res = invoke(runs["base"], new, "--format", "md")
    assert res.exit_code == 0
    text = res.stdout
    assert "different machines" in text
    assert "| settings.threads | null | 1 |" in text and "| host | ci-runner | laptop |" in text
    assert text.index("Environment differences") < text.index("| benchmark |")
    table = invoke(runs["base"], new)
    assert "measured on different machines" in table.stdout
    assert "environment differences" in table.stdout


def test_pytest_benchmark_files(tmp_path):
    res = invoke(PYTEST_BENCHMARK, scaled_copy(tmp_path, 1.5))
    assert res.exit_code == 1, res.output
    assert "test_tiny.py::test_matmul[32]" in res.stdout
    res = invoke(PYTEST_BENCHMARK, PYTEST_BENCHMARK)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("content", "fragments"), [
    (None, ("no such file",)),
    ("{oops", ("not JSON",)),
    ('{"schema": "dlbench.result", "schema_version": 7}', ("schema_version 7", "newer")),
    ('{"schema": "something.else"}', ("not a dlbench result file",)),
    ("[]", ("neither a dlbench result file", "nor pytest-benchmark JSON")),
])
def test_bad_input_files_exit_2_with_one_line(tmp_path, runs, content, fragments):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert_one_line_error(invoke(runs["base"], bad), "bad.json", *fragments)
    assert_one_line_error(invoke(bad, runs["base"]), "bad.json", *fragments)


def test_bad_options_exit_2_with_one_line(tmp_path, runs):
    assert_one_line_error(invoke(runs["base"], PYTEST_BENCHMARK), "no benchmark in common")
    assert_one_line_error(invoke(runs["base"], runs["same"], "--threshold", "10"),
                          "--threshold", "10%")
    assert_one_line_error(invoke(runs["base"], runs["same"], "--alpha", "0"), "alpha")
    assert_one_line_error(invoke(runs["base"], runs["same"], "--format", "html"), "--format")
    assert_one_line_error(invoke(runs["base"], runs["same"], "-o", tmp_path / "x.txt"),
                          "table is for the terminal")
    assert_one_line_error(invoke(runs["base"], runs["same"], "--thresholds",
                                 tmp_path / "none.toml"), "no such thresholds file")


def test_relative_through_the_command_line(tmp_path):
    base, new = suite_pair([1.03 * x for x in (1.03, 0.97, 1.02, 0.98, 1.0, 1.03, 0.99, 1.01)])
    paths = {}
    for name, src in (("base", base), ("new", new)):
        paths[name] = tmp_path / f"{name}.json"
        results.dump(document(*(result(t.samples, int(t.id.split("=")[1].split(",")[0]))
                                for t in src.timings)), paths[name])
    assert invoke(paths["base"], paths["new"]).exit_code == 1
    res = invoke(paths["base"], paths["new"], "--relative", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["relative"] is True and doc["shift"]["rows"] == 8
    assert "(whole suite)" in [r["id"] for r in doc["rows"]]
    few = write(tmp_path, "few.json", result(noisy(1e-3, seed=1)))
    assert_one_line_error(invoke(few, few, "--relative"), "--relative needs at least 5")


def test_a_new_file_of_impossible_timings_does_not_pass_the_gate(tmp_path, runs):
    """Negative, zero or NaN samples (a corrupted or hand-edited file) are refused in one
    line (exit 2), where they used to read as "faster" (exit 0)."""
    for bad in (-1e-3, 0.0, float("nan")):
        data = json.loads(runs["base"].read_text())
        data["results"][0]["samples_s"] = [bad] * len(data["results"][0]["samples_s"])
        path = tmp_path / "garbage.json"
        path.write_text(json.dumps(data))
        assert_one_line_error(invoke(runs["base"], path), "garbage.json: does not match the "
                              "dlbench result schema at $.results[0].samples_s[0]: expected")
    data = json.loads(PYTEST_BENCHMARK.read_text())
    data["benchmarks"][0]["stats"]["median"] = -1
    path.write_text(json.dumps(data))
    assert_one_line_error(invoke(PYTEST_BENCHMARK, path),
                          "$.benchmarks[0].stats.median: expected a number > 0, got -1")
