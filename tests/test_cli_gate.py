"""The one-step gate: `run --compare BASE`, `compare --only-changed`, the pull-request
summary, and several NEW files against one BASE."""

import json

import pytest
from typer.testing import CliRunner

from dlbench import results
from dlbench.cli import app
from tests.helpers import assert_one_line_error, document, noisy, result

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
SLOWER = "matmul/m=256,n=256,k=256/float32/numpy-cpu/portable"
SAME = "matmul/m=512,n=512,k=512/float32/numpy-cpu/portable"


def invoke(*args, env=None):
    return runner.invoke(app, [*map(str, args)], env={**WIDE, **(env or {})})


def write(tmp_path, name, scale_256, seed):
    path = tmp_path / name
    results.dump(document(result(noisy(1e-3 * scale_256, seed=seed), size=256),
                          result(noisy(4e-3, seed=seed + 1), size=512)), path)
    return path


@pytest.fixture
def runs(tmp_path):
    return {"base": write(tmp_path, "base.json", 1.0, 1),
            "slower": write(tmp_path, "slower.json", 1.25, 3),
            "same": write(tmp_path, "same.json", 1.0, 5)}


def test_only_changed_leaves_out_the_unchanged_rows_and_says_how_many(runs):
    full = invoke("compare", runs["base"], runs["slower"], "--format", "md")
    only = invoke("compare", runs["base"], runs["slower"], "--format", "md", "--only-changed")
    assert full.exit_code == only.exit_code == 1
    assert SAME in full.stdout and SAME not in only.stdout and SLOWER in only.stdout
    assert "1 unchanged benchmark(s) not shown (--only-changed)" in only.stdout
    doc = json.loads(invoke("compare", runs["base"], runs["slower"], "--format", "json",
                            "--only-changed").stdout)
    assert [r["id"] for r in doc["rows"]] == [SLOWER]


def test_the_summary_puts_the_verdict_first_and_folds_the_unchanged_rows(runs):
    done = invoke("compare", runs["base"], runs["slower"], "--format", "summary")
    assert done.exit_code == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "### dlbench compare"
    assert lines[2].startswith("❌ **1 regression")
    head, folded = done.stdout.split("<details>")
    assert SLOWER in head and SAME not in head
    assert SAME in folded and folded.rstrip().endswith("</details>")
    assert "<summary>1 unchanged, environment and notes</summary>" in folded
    calm = invoke("compare", runs["base"], runs["same"], "--format", "summary")
    assert calm.exit_code == 0 and calm.stdout.splitlines()[2].startswith("✅ **no regression")


def test_several_new_files_each_against_the_one_base(runs):
    done = invoke("compare", runs["base"], runs["same"], runs["slower"])
    assert done.exit_code == 1, done.output
    assert "each NEW against BASE" in done.stdout
    assert f"{runs['slower']}: 1 regression" in done.stdout.replace("\n", "")
    assert f"{runs['same']}: no regression" in done.stdout.replace("\n", "")
    doc = json.loads(invoke("compare", runs["base"], runs["same"], runs["slower"], "--format",
                            "json").stdout)
    assert doc["schema"] == "dlbench.compare.many" and doc["base"] == str(runs["base"])
    assert [c["regressions"] for c in doc["comparisons"]] == [[], [SLOWER]]
    md = invoke("compare", runs["base"], runs["same"], runs["slower"], "--format", "md")
    assert md.stdout.count("### `") == 2
    calm = invoke("compare", runs["base"], runs["same"], runs["same"])
    assert calm.exit_code == 0


def test_a_bad_new_file_among_several_is_one_line(runs, tmp_path):
    (tmp_path / "bad.json").write_text("{")
    assert_one_line_error(invoke("compare", runs["base"], runs["same"], tmp_path / "bad.json"),
                          "bad.json", "not JSON")


TINY = ("--backend", "numpy", "--workload", "matmul", "--size", "64", "--dtype", "float32",
        "--min-time", "0.05", "--max-time", "0.2", "--threads", "1")


def test_run_compare_refuses_a_bad_baseline_before_measuring(tmp_path):
    out = tmp_path / "new.json"
    (tmp_path / "base.json").write_text('{"schema": "dlbench.result", "schema_version": 9}')
    assert_one_line_error(invoke("run", *TINY, "-o", out, "--compare", tmp_path / "base.json"),
                          "schema_version 9")
    assert not out.exists()
    assert_one_line_error(invoke("run", *TINY, "--summary", "s.md"), "--summary",
                          "--compare BASE.json")
    assert_one_line_error(invoke("run", "--nproc", "2", "--compare", tmp_path / "base.json"),
                          "distributed")


@pytest.mark.slow
def test_run_compare_measures_saves_and_gates_in_one_step(tmp_path):
    base, new, summary = tmp_path / "base.json", tmp_path / "new.json", tmp_path / "s.md"
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "7", "GITHUB_RUN_NUMBER": "3",
          "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "c" * 40}
    first = invoke("run", *TINY, "-o", base, "--quiet", env=ci)
    assert first.exit_code == 0, first.output
    recorded = json.loads(base.read_text())["provenance"]
    assert recorded["ci"]["url"] == "https://github.com/o/r/actions/runs/7"
    assert "git" not in recorded  # the test's folder is no repository
    # The baseline made 3x faster by hand: the new run is a regression against it.
    data = json.loads(base.read_text())
    for r in data["results"]:
        r["samples_s"] = [x / 3 for x in r["samples_s"]]
        r["stats"]["median"] /= 3
    base.write_text(json.dumps(data))
    done = invoke("run", *TINY, "-o", new, "--compare", base, "--summary", summary)
    assert done.exit_code == 1, done.output
    assert new.exists() and "dlbench compare: NEW against BASE" in done.stdout
    assert summary.read_text().splitlines()[2].startswith("❌ **1 regression")
    quiet = invoke("run", *TINY, "-o", new, "--force", "--quiet", "--compare", base)
    assert quiet.exit_code == 1 and "compare: 1 regression" in quiet.stderr
