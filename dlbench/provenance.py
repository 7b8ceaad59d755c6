"""Where a result came from: the git commit of the working directory and the CI run.

`history` orders and labels results by them, and a reader of one file can find the code
and the CI job that made it. Both parts are optional: outside a git repository, without
git, or outside CI the part is absent, never an error, and nothing here waits long.

* git: the commit, the branch (None on a detached HEAD, as CI checkouts usually are), the
  commit's time, and whether tracked files differ from it. Untracked files do not count:
  the result files a run writes into the repository would otherwise make every run dirty.
* ci: the run's identity from the variables each CI system documents — GitHub Actions
  ("Variables reference", docs.github.com), GitLab CI ("Predefined CI/CD variables
  reference", docs.gitlab.com), Buildkite ("Environment variables", buildkite.com/docs) —
  under the same keys for each system: system, run_id, run_number, attempt, pipeline,
  job, url, commit, ref, pull_request.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

# Two git calls, each at most this long: a repository on a slow network file system must
# not hold a run back. Past it the git part is left out.
GIT_TIMEOUT_S = 5.0
# git must not take the index lock to refresh it (a run beside a user's own git command),
# nor speak another language (its output is parsed).
GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}

Environ = Mapping[str, str]


def collect(cwd: str | os.PathLike[str] | None = None, env: Environ | None = None
            ) -> dict[str, Any]:
    """The "provenance" record of a result file: {"git": ..., "ci": ...}, each present only
    where it could be found."""
    env = os.environ if env is None else env
    record: dict[str, Any] = {}
    git = collect_git(cwd)
    if git:
        record["git"] = git
    ci = collect_ci(env)
    if ci:
        record["ci"] = ci
    return record


def _git(args: list[str], cwd: str | os.PathLike[str] | None) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, env={**os.environ, **GIT_ENV},
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None  # no git, a working directory that is gone, or too slow
    return done.stdout if done.returncode == 0 else None


def collect_git(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The commit checked out in the repository holding `cwd` (default: the working
    directory), or {} where there is none (no repository, no git, no commit yet)."""
    status = _git(["status", "--porcelain=v2", "--branch", "--untracked-files=no"], cwd)
    if status is None:
        return {}
    commit, branch, dirty = parse_status(status)
    if commit is None:
        return {}
    shown = (_git(["show", "-s", "--format=%cI", commit], cwd) or "").strip()
    return {"commit": commit, "branch": branch, "dirty": dirty, "commit_time": shown or None}


def parse_status(text: str) -> tuple[str | None, str | None, bool]:
    """(commit, branch, dirty) from `git status --porcelain=v2 --branch`: the "# branch.oid"
    and "# branch.head" headers, and any entry line (a changed tracked file)."""
    commit = branch = None
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.removeprefix("# branch.head ").strip()
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True
    return commit, branch, dirty


def _github(env: Environ) -> dict[str, Any]:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    url = f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None
    if url and env.get("GITHUB_RUN_ATTEMPT", "1") != "1":
        url += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
    # On a pull request GITHUB_SHA is the merge commit and GITHUB_REF_NAME "N/merge";
    # GITHUB_HEAD_REF names the pull request's branch.
    pull = env.get("GITHUB_REF_NAME", "").removesuffix("/merge") \
        if env.get("GITHUB_EVENT_NAME", "").startswith("pull_request") else None
    return {"system": "github-actions", "run_id": run_id,
            "run_number": env.get("GITHUB_RUN_NUMBER"),
            "attempt": env.get("GITHUB_RUN_ATTEMPT"), "pipeline": env.get("GITHUB_WORKFLOW"),
            "job": env.get("GITHUB_JOB"), "url": url, "commit": env.get("GITHUB_SHA"),
            "ref": env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME"),
            "pull_request": pull or None, "repository": repo}


def _gitlab(env: Environ) -> dict[str, Any]:
    return {"system": "gitlab-ci", "run_id": env.get("CI_PIPELINE_ID"),
            "run_number": env.get("CI_PIPELINE_IID"), "attempt": None,
            "pipeline": env.get("CI_PIPELINE_NAME") or env.get("CI_PIPELINE_SOURCE"),
            "job": env.get("CI_JOB_NAME"),
            "url": env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"),
            "commit": env.get("CI_COMMIT_SHA"), "ref": env.get("CI_COMMIT_REF_NAME"),
            "pull_request": env.get("CI_MERGE_REQUEST_IID"),
            "repository": env.get("CI_PROJECT_PATH")}


def _buildkite(env: Environ) -> dict[str, Any]:
    pull = env.get("BUILDKITE_PULL_REQUEST")
    org, slug = env.get("BUILDKITE_ORGANIZATION_SLUG"), env.get("BUILDKITE_PIPELINE_SLUG")
    return {"system": "buildkite", "run_id": env.get("BUILDKITE_BUILD_ID"),
            "run_number": env.get("BUILDKITE_BUILD_NUMBER"),
            "attempt": env.get("BUILDKITE_RETRY_COUNT"), "pipeline": slug,
            "job": env.get("BUILDKITE_LABEL") or env.get("BUILDKITE_STEP_KEY"),
            "url": env.get("BUILDKITE_BUILD_URL"), "commit": env.get("BUILDKITE_COMMIT"),
            "ref": env.get("BUILDKITE_BRANCH"),
            "pull_request": None if pull in (None, "", "false") else pull,
            "repository": f"{org}/{slug}" if org and slug else None}


# Each system by the variable it documents as always "true" in its jobs.
CI_SYSTEMS: tuple[tuple[str, Callable[[Environ], dict[str, Any]]], ...] = (
    ("GITHUB_ACTIONS", _github), ("GITLAB_CI", _gitlab), ("BUILDKITE", _buildkite))


def collect_ci(env: Environ | None = None) -> dict[str, Any]:
    """The CI run's identity, or {} outside the CI systems known here. Unset values are
    left out, so a record holds only what the system said."""
    env = os.environ if env is None else env
    for marker, read in CI_SYSTEMS:
        if env.get(marker, "").lower() == "true":
            return {k: v for k, v in read(env).items() if v not in (None, "")}
    return {}


def short_commit(provenance: Mapping[str, Any]) -> str | None:
    """The commit a result was measured at, shortened for a label: git's, else the CI's."""
    commit = (provenance.get("git") or {}).get("commit") \
        or (provenance.get("ci") or {}).get("commit")
    return str(commit)[:10] if commit else None


def label(provenance: Mapping[str, Any]) -> str:
    """'a1b2c3d4e5 (main, dirty) · github-actions #123': what a reader needs to find the
    code and the job; '' when nothing is known."""
    git, ci = provenance.get("git") or {}, provenance.get("ci") or {}
    parts = []
    commit = short_commit(provenance)
    if commit:
        notes = [n for n in (git.get("branch") or ci.get("ref"),
                             "dirty" if git.get("dirty") else None) if n]
        parts.append(commit + (f" ({', '.join(notes)})" if notes else ""))
    if ci:
        number = ci.get("run_number") or ci.get("run_id")
        parts.append(str(ci.get("system")) + (f" #{number}" if number else ""))
    return " · ".join(parts)
