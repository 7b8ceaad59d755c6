"""Outputs and options checked before any work: an output that cannot be written, a special
file, a second run on the same file, and option values Click lets through are refused in
one line (exit 2) before a single case is measured; special files are written in place."""

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from dlbench import results
from dlbench.cli import output as destinations
from dlbench.cli import steps
from tests.helpers import LAPTOP, assert_one_line_error, cli, while_reading

TINY = ["run", "--backend", "numpy", "--workload", "matmul", "--size", "32", "--dtype",
        "float32", "--max-time", "0.05", "--min-time", "0", "--quiet"]


@pytest.fixture
def no_measuring(monkeypatch):
    """Fails the test if a run gets as far as starting its workers."""
    def refuse(*args, **kwargs):
        raise AssertionError("the run started measuring")
    monkeypatch.setattr("dlbench.cli.run.Runner", refuse)


@pytest.mark.parametrize(("output", "fragments"), [
    ("n" * 300 + ".json", ["cannot write there (File name too long)"]),
    ("afile/child.json", ["afile/child.json: ", "afile is a file, not a folder"]),
    ("adir", ["adir is a folder; give a file path such as adir/result.json"]),
    ("fifo", ["fifo is a FIFO or device", "needs a regular file path"]),
])
def test_run_refuses_an_unwritable_output_before_measuring(tmp_path, monkeypatch, no_measuring,
                                                          output, fragments):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    assert_one_line_error(cli(*TINY, "-o", output, "--force"), *fragments)
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)
    assert (tmp_path / "afile").read_text() == "x"


def test_a_read_only_folder_is_found_before_measuring(tmp_path, monkeypatch, no_measuring):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert_one_line_error(cli(*TINY, "-o", tmp_path / "r.json"),
                          "cannot write in", "(Read-only file system)")


@pytest.mark.parametrize(("args", "fragments"), [
    (["--min-time", "inf"], ["--min-time: inf is not a usable number of seconds"]),
    (["--max-time", "Infinity"], ["--max-time: inf is not a usable number"]),
    (["--threads", "99999999999999999999"], ["more than any machine has (at most 4096)"]),
    (["--size", ","], ["--size: no value given (got ',')"]),
    (["--backend", ""], ["--backend: no value given (got '')"]),
    (["--dtype", " , "], ["--dtype: no value given"]),
])
def test_option_values_click_lets_through_are_refused(tmp_path, no_measuring, args, fragments):
    assert_one_line_error(cli(*without(args[0]), "-o", tmp_path / "r.json", *args),
                          *fragments)


def without(option):
    """TINY without `option` and its value: list options given twice add up."""
    i = TINY.index(option) if option in TINY else len(TINY)
    return TINY[:i] + TINY[i + 2:]


@pytest.mark.parametrize(("content", "fragments"), [
    ("# caf\xe9\n[[benchmark]]\nworkload = 'matmul'\n".encode("latin-1"),
     ["not UTF-8 text", "at byte 5"]),
    (b"[settings]\nmin_time = inf\nmax_time = inf\n[[benchmark]]\nworkload = 'matmul'\n",
     ["min_time (suite setting or option): inf is not a usable number"]),
    (b"[settings]\nthreads = 99999999999\n[[benchmark]]\nworkload = 'matmul'\n",
     ["threads (suite setting or --threads)", "1 to 4096"]),
])
def test_bad_suite_files_are_one_line_errors(tmp_path, no_measuring, content, fragments):
    suite = tmp_path / "mine.toml"
    suite.write_bytes(content)
    args = [a for a in without("--max-time") if a not in ("--min-time", "0")]
    assert_one_line_error(cli(*args, "--suite", suite, "-o", tmp_path / "r.json"),
                          *fragments)


def test_a_second_run_to_the_same_output_is_refused(tmp_path, no_measuring):
    out = tmp_path / "r.json"
    with destinations.locked(out):
        lock = tmp_path / ".r.json.lock"
        assert lock.read_text() == f"{os.getpid()}\n"
        assert_one_line_error(cli(*TINY, "-o", out, "--force"),
                              "r.json is being written by another dlbench run",
                              f"(pid {os.getpid()})")
    assert not lock.exists()
    with destinations.locked(out):  # released: free to take again
        pass


HOLD_A_LOCK = """
import sys, time
from pathlib import Path
from dlbench.cli.output import locked
with locked(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def _holding(path):
    """A process that holds `path`'s run lock, as a run does, once it says so."""
    child = subprocess.Popen([sys.executable, "-c", HOLD_A_LOCK, str(path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "locked\n"
    return child


def _killed_holding(path):
    child = _holding(path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stray = path.with_name(f".{path.name}.lock")
    assert stray.exists()  # SIGKILL: the run could not clean up after itself
    return stray


def test_a_killed_runs_lock_file_is_removed_by_the_next_run_in_its_folder(tmp_path):
    live = _holding(tmp_path / "live.json")
    try:
        _killed_holding(tmp_path / "again.json")
        with destinations.locked(tmp_path / "again.json"):  # the same path: not confused
            pass
        _killed_holding(tmp_path / "killed.json")
        (tmp_path / ".other-tool.lock").write_text("held by something else\n")
        with destinations.locked(tmp_path / "next.json"):
            pass
        assert sorted(p.name for p in tmp_path.iterdir()) == [".live.json.lock",
                                                             ".other-tool.lock"]
    finally:
        live.kill()
        live.wait()


def test_a_run_releases_its_lock_and_leaves_only_its_file(tmp_path):
    out = tmp_path / "r.json"
    res = cli(*TINY, "-o", out)
    assert res.exit_code == 0, res.output
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert results.load(out).results


def test_compare_and_report_refuse_a_folder_even_with_force(tmp_path):
    assert_one_line_error(cli("compare", LAPTOP, LAPTOP, "--format", "json", "-o", tmp_path,
                                 "--force"), "is a folder")
    assert_one_line_error(cli("report", LAPTOP, "--format", "md", "-o", tmp_path, "--force"),
                          "is a folder")


def test_report_writes_a_fifo_in_place_without_force(tmp_path):
    fifo = tmp_path / "pipe"
    got, res = while_reading(fifo, lambda: cli("report", LAPTOP, "--format", "md", "-o",
                                                  fifo))
    assert res.exit_code == 0, res.output
    assert got.startswith(b"## dlbench report")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_character_device_is_written_in_place_never_replaced(tmp_path):
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except OSError as exc:
        pytest.skip(f"cannot make a device node here: {exc.strerror}")
    res = cli("compare", LAPTOP, LAPTOP, "--format", "json", "-o", null)
    assert res.exit_code == 0, res.output
    assert stat.S_ISCHR(os.stat(null).st_mode)


def test_errors_stay_on_one_line_whatever_the_file_name(tmp_path):
    res = cli("report", tmp_path / "two\nlines\u2028.json")
    line = assert_one_line_error(res, "no such file")
    assert "two\\nlines\\u2028.json" in line


def test_big_inputs_say_that_they_take_a_while(tmp_path, monkeypatch):
    monkeypatch.setattr(steps, "LONG_JOB", 5)
    monkeypatch.setattr(steps, "BAR_FROM", 1)
    monkeypatch.setattr(steps, "BIG_FILE_BYTES", 1000)
    res = cli("compare", LAPTOP, LAPTOP)
    assert res.exit_code == 0, res.output
    assert f"note: reading {LAPTOP} (0 MiB)\n" in res.stderr
    assert f"note: checking {LAPTOP}: 8 results; this takes a while" in res.stderr
    assert "note: comparing: " in res.stderr
    res = cli("report", LAPTOP, "--format", "md")
    assert "note: computing speedups: 8 results" in res.stderr


def test_a_result_file_that_cannot_be_written_mid_run_is_one_line(tmp_path, monkeypatch):
    from dlbench.cli import run as run_command
    from dlbench.errors import ResultFileError

    started, real = [], run_command.Runner

    def recording(*args, **kwargs):  # to stop the workers the failed run leaves
        started.append(real(*args, **kwargs))
        return started[-1]

    def disk_full(doc, path):
        raise ResultFileError(f"{path}: cannot write (No space left on device)")

    monkeypatch.setattr(run_command, "Runner", recording)
    monkeypatch.setattr(results, "dump", disk_full)
    try:
        res = cli(*TINY, "-o", tmp_path / "r.json")
    finally:
        for runner_ in started:
            runner_.stop(kill=True)
    assert_one_line_error(res, "r.json: cannot write (No space left on device)")
    assert not (tmp_path / ".r.json.lock").exists()
