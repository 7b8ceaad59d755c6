"""`dlbench history`: real result files with one injected change (tests/data/history-injected),
series split by machine, order by time or commit, every output format, and bad input in one
line with exit 2."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from dlbench import history, results
from dlbench.cli import app
from tests.helpers import DATA, ENV, assert_one_line_error, document, noisy, result

runner = CliRunner()
INJECTED = DATA / "history-injected"
NUMPY = ("matmul/m=256,n=256,k=256/float32/numpy-cpu/portable",
         "matmul/m=512,n=512,k=512/float32/numpy-cpu/portable")


def invoke(*args):
    return runner.invoke(app, ["history", *map(str, args)])


def write_runs(folder, medians, environment=None, provenance=None, start=0):
    """One result file per median (a numpy 256 matmul), an hour apart."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, median in enumerate(medians, start):
        doc = document(result(noisy(median, n=12, seed=i)), environment=environment)
        doc = doc.with_results(doc.results, created=f"2026-12-{1 + i // 24:02d}T"
                               f"{i % 24:02d}:00:00+00:00",
                               provenance=provenance(i) if provenance else {})
        path = folder / f"run-{i:03d}.json"
        results.dump(doc, path)
        paths.append(path)
    return paths


def test_the_injected_change_is_found_where_it_was_made_and_nowhere_else():
    runs, notes = history.load([INJECTED])
    found = history.build(runs)
    assert len(runs) == 12 and notes == []
    changes = found.changes
    assert sorted(c.benchmark for c in changes) == sorted(NUMPY)
    for c in changes:
        assert c.run.path.endswith("run-09.json") and c.before.path.endswith("run-08.json")
        assert c.kind is history.Kind.SLOWER and 1.05 < c.lo <= c.ratio <= c.hi < 1.25
    assert found.failed
    (setup,) = found.setups[found.machines[0].key]
    assert found.machines[0].runs[setup.at].path.endswith("run-09.json")
    assert "OPENBLAS_CORETYPE (unset) → Sandybridge" in setup.text


def test_the_cli_exits_1_on_the_injected_regression_and_says_where_in_markdown():
    done = invoke(INJECTED, "--format", "md")
    assert done.exit_code == 1, done.output
    assert "the newest change is a REGRESSION" in done.stdout
    assert "| **slower** |" in done.stdout and "`" + NUMPY[1] + "`" in done.stdout
    assert "torch-cpu" not in done.stdout.split("| from |")[1].split("\n- ")[0]
    assert "setup changed from" in done.stdout


def test_json_lists_every_point_and_the_change(tmp_path):
    out = tmp_path / "h.json"
    assert invoke(INJECTED, "-o", out).exit_code == 1
    doc = json.loads(out.read_text())
    assert doc["schema"] == "dlbench.history" and doc["failed"] is True
    assert len(doc["runs"]) == 12 and len(doc["series"]) == 4
    assert all(len(s["points"]) == 12 for s in doc["series"])
    assert {c["benchmark"] for c in doc["newest"]} == set(NUMPY)


def test_html_page_and_png_sheet_and_the_bundle(tmp_path):
    pytest.importorskip("matplotlib")
    assert invoke(INJECTED, "-o", tmp_path / "h.html").exit_code == 1
    page = (tmp_path / "h.html").read_text()
    assert page.count("<figure>") == 4 and "data:image/svg+xml;base64," in page
    assert "Content-Security-Policy" in page and "<script" not in page
    assert invoke(INJECTED, "-o", tmp_path / "h.png").exit_code == 1
    assert (tmp_path / "h.png").read_bytes().startswith(b"\x89PNG")
    assert invoke(INJECTED, "-o", f"{tmp_path / 'bundle'}/").exit_code == 1
    names = sorted(p.name for p in (tmp_path / "bundle").iterdir())
    assert names[:3] == ["history.json", "history.md", "index.html"] and len(names) == 7
    assert all(n.endswith(".png") for n in names[3:])


def test_an_improvement_last_exits_0(tmp_path):
    write_runs(tmp_path / "r", [1e-3] * 8 + [1.2e-3] * 8 + [0.9e-3] * 8)
    done = invoke(tmp_path / "r", "--format", "json")
    assert done.exit_code == 0, done.output
    kinds = [c["kind"] for c in json.loads(done.stdout)["changes"]]
    assert kinds == ["faster", "slower"]


def test_a_change_within_the_threshold_is_small_and_no_regression(tmp_path):
    write_runs(tmp_path / "r", [1e-3] * 8 + [1.03e-3] * 8)
    done = invoke(tmp_path / "r", "--format", "json")
    assert done.exit_code == 0
    assert [c["kind"] for c in json.loads(done.stdout)["changes"]] == ["small"]
    assert invoke(tmp_path / "r", "--threshold", "2%", "--format", "json").exit_code == 1


def test_series_split_by_machine_and_missing_benchmarks_leave_gaps(tmp_path):
    other = {**ENV, "host": "other-box"}
    write_runs(tmp_path / "r", [1e-3] * 7)
    write_runs(tmp_path / "r", [2e-3] * 7, environment=other, start=7)
    lone = document(result(noisy(1e-3, n=12), size=512))
    results.dump(lone.with_results(lone.results, created="2026-12-05T00:00:00+00:00"),
                 tmp_path / "r" / "lone.json")
    runs, _ = history.load([tmp_path / "r"])
    found = history.build(runs)
    assert len(found.machines) == 2 and found.changes == []
    lengths = sorted((s.machine.line.split(" · ")[0], len(s.values)) for s in found.series)
    assert lengths == [("host ci-runner", 1), ("host ci-runner", 7), ("host other-box", 7)]


def test_ignore_host_joins_runners_with_new_names(tmp_path):
    for i in range(8):
        write_runs(tmp_path / "r", [1e-3 if i < 4 else 1.3e-3], start=i,
                   environment={**ENV, "host": f"runner-{i}"})
    assert_one_line_error(invoke(tmp_path / "r"), "8 different machines", "--ignore-host")
    done = invoke(tmp_path / "r", "--ignore-host", "--min-runs", "3", "--format", "md")
    assert done.exit_code == 1, done.output


def test_order_by_commit_follows_the_commits_time_not_the_runs(tmp_path):
    # Measured in reverse: the last run measured the oldest commit.
    def origin(i):
        return {"git": {"commit": f"{i:040x}", "branch": "main", "dirty": False,
                        "commit_time": f"2026-11-{28 - i // 24:02d}T{23 - i % 24:02d}:00:00Z"}}
    write_runs(tmp_path / "r", [1.5e-3] * 6 + [1e-3] * 6, provenance=origin)
    by_time = json.loads(invoke(tmp_path / "r", "--format", "json").stdout)
    by_commit = json.loads(invoke(tmp_path / "r", "--order", "commit", "--format",
                                  "json").stdout)
    assert [c["kind"] for c in by_time["changes"]] == ["faster"]
    assert [c["kind"] for c in by_commit["changes"]] == ["slower"]
    assert by_commit["failed"] and by_commit["changes"][0]["commit"] == f"{5:040x}"[:10]


def test_other_json_in_a_folder_is_passed_over_with_a_note(tmp_path):
    write_runs(tmp_path / "r", [1e-3] * 6)
    (tmp_path / "r" / "compare.json").write_text('{"schema": "dlbench.compare"}')
    (tmp_path / "r" / ".hidden.json").write_text("not json")
    done = invoke(tmp_path / "r")
    assert done.exit_code == 0, done.output
    assert "1 JSON file(s) in the folders given are not dlbench result files" in done.stdout


def test_one_file_is_refused_in_one_line(tmp_path):
    (path,) = write_runs(tmp_path / "r", [1e-3])
    assert_one_line_error(invoke(path), "at least 2 result files, got 1", "run-000.json")
    assert_one_line_error(invoke(tmp_path / "empty-folder-that-is-missing"), "no such file")


def test_a_corrupt_file_is_refused_naming_it_and_nothing_is_written(tmp_path):
    write_runs(tmp_path / "r", [1e-3] * 6)
    (tmp_path / "r" / "broken.json").write_text('{"schema": "dlbench.result", "resu')
    out = tmp_path / "out.md"
    assert_one_line_error(invoke(tmp_path / "r", "-o", out), "broken.json", "not JSON")
    assert not out.exists()
    bad = json.loads((tmp_path / "r" / "run-000.json").read_text())
    bad["results"][0]["samples_s"][0] = -1.0
    (tmp_path / "r" / "broken.json").write_text(json.dumps(bad))
    assert_one_line_error(invoke(tmp_path / "r"), "broken.json", "samples_s[0]")


def test_files_from_different_machines_only_are_refused(tmp_path):
    for i, host in enumerate(("a", "b", "c")):
        write_runs(tmp_path / "r", [1e-3], environment={**ENV, "host": host}, start=i)
    assert_one_line_error(invoke(tmp_path / "r"), "3 result files come from 3 different "
                          "machines")


def test_an_existing_output_is_kept_without_force(tmp_path):
    shutil.copytree(INJECTED, tmp_path / "r")
    out = tmp_path / "h.md"
    out.write_text("keep me")
    assert_one_line_error(invoke(tmp_path / "r", "-o", out), "already exists")
    assert out.read_text() == "keep me"
    assert invoke(tmp_path / "r", "-o", out, "--force").exit_code == 1


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("--order", "size", "--order must be one of time, commit"),
    ("--alpha", "1.5", "--alpha must be between 0 and 1"),
    ("--min-runs", "0", "--min-runs must be at least 1"),
    ("--test", "z", "--test must be one of t, u"),
    ("--threshold", "12", "would allow a 1200% slowdown"),
])
def test_bad_options_are_one_line(option, value, fragment):
    assert_one_line_error(invoke(INJECTED, option, value), fragment)
