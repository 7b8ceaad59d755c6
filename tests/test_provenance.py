"""Where a result came from: the git commit of the working directory (absent, never an
error, outside a repository) and the CI run from each system's documented variables;
recorded in the result file, which old files without it still load."""

import json
import shutil
import subprocess

import pytest

from dlbench import provenance, results, schema
from tests.helpers import DATA, document, noisy, result

GIT = shutil.which("git")


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_status_lines_give_commit_branch_and_dirty():
    clean = "# branch.oid abc123\n# branch.head main\n"
    assert provenance.parse_status(clean) == ("abc123", "main", False)
    dirty = "# branch.oid abc123\n# branch.head (detached)\n1 .M N... 100644 100644 100644 a b f\n"
    assert provenance.parse_status(dirty) == ("abc123", None, True)
    assert provenance.parse_status("# branch.oid (initial)\n# branch.head main\n") == (
        None, "main", False)


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_a_repository_gives_its_commit_and_only_tracked_changes_make_it_dirty(tmp_path):
    git(tmp_path, "init", "-q", "-b", "trunk")
    assert provenance.collect_git(tmp_path) == {}  # no commit yet
    (tmp_path / "a.txt").write_text("1")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "commit", "-qm", "one")
    found = provenance.collect_git(tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True).stdout.strip()
    assert found["commit"] == head and found["branch"] == "trunk"
    assert found["dirty"] is False and found["commit_time"].startswith("20")
    (tmp_path / "results.json").write_text("{}")  # what a run writes: untracked
    assert provenance.collect_git(tmp_path)["dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    assert provenance.collect_git(tmp_path)["dirty"] is True
    git(tmp_path, "checkout", "-q", "--detach")
    assert provenance.collect_git(tmp_path)["branch"] is None


def test_outside_a_repository_or_without_git_nothing_is_recorded(tmp_path, monkeypatch):
    assert provenance.collect_git(tmp_path) == {}
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the PATH
    assert provenance.collect_git(tmp_path) == {}
    assert provenance.collect(tmp_path, env={}) == {}


GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "9001", "GITHUB_RUN_NUMBER": "42",
          "GITHUB_RUN_ATTEMPT": "2", "GITHUB_WORKFLOW": "benchmarks", "GITHUB_JOB": "gate",
          "GITHUB_SHA": "f" * 40, "GITHUB_REF_NAME": "17/merge", "GITHUB_HEAD_REF": "fix-gemm",
          "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "o/r",
          "GITHUB_SERVER_URL": "https://github.com"}
GITLAB = {"GITLAB_CI": "true", "CI_PIPELINE_ID": "77", "CI_PIPELINE_IID": "7",
          "CI_JOB_NAME": "bench", "CI_JOB_URL": "https://gitlab.example/o/r/-/jobs/5",
          "CI_COMMIT_SHA": "e" * 40, "CI_COMMIT_REF_NAME": "main", "CI_PROJECT_PATH": "o/r"}
BUILDKITE = {"BUILDKITE": "true", "BUILDKITE_BUILD_ID": "uuid", "BUILDKITE_BUILD_NUMBER": "12",
             "BUILDKITE_BUILD_URL": "https://buildkite.com/o/p/builds/12",
             "BUILDKITE_PIPELINE_SLUG": "p", "BUILDKITE_ORGANIZATION_SLUG": "o",
             "BUILDKITE_COMMIT": "d" * 40, "BUILDKITE_BRANCH": "main",
             "BUILDKITE_PULL_REQUEST": "false", "BUILDKITE_LABEL": ":bench:"}


def test_github_actions_run_identity():
    ci = provenance.collect_ci(GITHUB)
    assert ci == {"system": "github-actions", "run_id": "9001", "run_number": "42",
                  "attempt": "2", "pipeline": "benchmarks", "job": "gate",
                  "url": "https://github.com/o/r/actions/runs/9001/attempts/2",
                  "commit": "f" * 40, "ref": "fix-gemm", "pull_request": "17",
                  "repository": "o/r"}


def test_gitlab_and_buildkite_run_identity():
    assert provenance.collect_ci(GITLAB) == {
        "system": "gitlab-ci", "run_id": "77", "run_number": "7", "job": "bench",
        "url": "https://gitlab.example/o/r/-/jobs/5", "commit": "e" * 40, "ref": "main",
        "repository": "o/r"}
    bk = provenance.collect_ci(BUILDKITE)
    assert bk["system"] == "buildkite" and bk["run_number"] == "12"
    assert bk["url"].endswith("/builds/12") and "pull_request" not in bk
    assert bk["repository"] == "o/p" and bk["job"] == ":bench:"


def test_no_ci_outside_the_known_systems():
    assert provenance.collect_ci({"CI": "true", "GITHUB_ACTIONS": "false"}) == {}


def test_labels_say_commit_branch_dirty_and_the_ci_job():
    record = {"git": {"commit": "a" * 40, "branch": "main", "dirty": True},
              "ci": provenance.collect_ci(GITHUB)}
    assert provenance.label(record) == "aaaaaaaaaa (main, dirty) · github-actions #42"
    assert provenance.label({"ci": {"system": "buildkite", "commit": "d" * 40}}) == \
        "dddddddddd · buildkite"
    assert provenance.label({}) == ""


def test_the_result_file_records_it_and_old_files_without_it_still_load(tmp_path):
    record = {"git": {"commit": "a" * 40, "branch": None, "dirty": False,
                      "commit_time": "2026-12-01T00:00:00+00:00"},
              "ci": provenance.collect_ci(GITHUB)}
    doc = document(result(noisy(1e-3)))
    path = tmp_path / "r.json"
    results.dump(doc.with_results(doc.results, provenance=record), path)
    data = json.loads(path.read_text())
    schema.validate(data, schema.RESULT, "r.json", "the dlbench result schema")
    assert results.load(path).provenance == record
    assert results.load(DATA / "result-v1.json").provenance == {}


def test_a_malformed_provenance_is_refused_by_the_schema():
    data = json.loads(results.dumps(document(result(noisy(1e-3)))))
    data["provenance"] = {"git": {"commit": 12}}
    with pytest.raises(results.ResultFileError, match=r"\$\.provenance\.git\.commit"):
        schema.validate(data, schema.RESULT, "x.json", "the dlbench result schema")
