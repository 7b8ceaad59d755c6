"""What several test files share: plain functions and constants, imported by name.

The convention: a test file imports helpers from here (`from tests.helpers import ...`),
never from another test_*.py file; tests/conftest.py holds pytest fixtures and hooks only.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from typer.testing import CliRunner

from dlbench import compare, results, stats, workloads
from dlbench.cli import app
from dlbench.measure import MeasureConfig
from dlbench.report import model
from dlbench.results import CaseSpec, Result, RunDocument

DATA = Path(__file__).parent / "data"
PYTEST_BENCHMARK = DATA / "pytest-benchmark.json"
LAPTOP = DATA / "report-laptop.json"
GPU_BOX = DATA / "report-gpu-box.json"
INJECTION = DATA / "report-injection.json"
SNAPSHOTS = DATA / "snapshots"
XSS = "<script>alert(1)</script>"

ENV = {
    "host": "ci-runner", "os": "Linux", "python": "3.11.7",
    "cpu": {"model": "Intel(R) Xeon(R) Processor", "usable_cores": 2},
    "memory": {"total_bytes": 25_000_000_000, "available_bytes": 24_000_000_000},
    "blas": [{"internal_api": "openblas", "version": "0.3.31", "architecture": "SkylakeX",
              "num_threads": 2, "filepath": "/x/libopenblas.so"}],
    "gpus": [], "libraries": {"numpy": "2.4.6", "torch": "2.13.0+cpu", "rich": "15.0.0"},
    "backends": {"torch-cpu": {"threads": 2, "math": {"float32_matmul_precision": "highest"}}},
}
SETTINGS = {"suite": "ci", "threads": None, "tf32": "off"}


# -- the command line --------------------------------------------------------------------------

_RUNNER = CliRunner()
# Wide enough that no table wraps a cell a test reads.
WIDE = {"COLUMNS": "200"}


def cli(*args, env=None, **kwargs):
    """The one way a test invokes the command line in process (Typer's CliRunner): every
    argument as text, a terminal WIDE columns wide unless `env` says otherwise."""
    return _RUNNER.invoke(app, [str(a) for a in args], env={**WIDE, **(env or {})}, **kwargs)


def assert_one_line_error(result, *fragments):
    """A CliRunner result of a usage error: exit 2, one line on stderr that starts with
    "error: " and holds every fragment, and no traceback. Returns that line."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


# -- implementations ---------------------------------------------------------------------------

# Sampling settings for tests that drive a real Sampler through a worker: a few
# milliseconds per case.
FAST_SAMPLING = MeasureConfig(min_time=0.02, max_time=0.1, min_samples=3, warmup_time=0.01,
                              sample_time=0.002, block_time=0.02, block_warmup_time=0.0)

# torch.compile's implementation: seconds per compile on a 2-core CPU, so the tests that loop
# over every implementation leave it to tests/test_compiled.py, which compiles each workload
# once and shares the compiled kernels across its tests.
TORCH_COMPILED = "compiled"


def fast_impls(wl, backend_name, device=None):
    """A workload's implementations on a backend, all but torch.compile's."""
    return tuple(impl for impl in wl.impls_for(backend_name, device)
                 if not (backend_name == "torch" and impl == TORCH_COMPILED))


# -- results and runs --------------------------------------------------------------------------

def noisy(median_s, n=30, spread=0.01, seed=0):
    """Timing samples around `median_s`: lognormal, as run times on a quiet machine are."""
    return tuple((median_s * np.random.default_rng(seed).lognormal(0.0, spread, n)).tolist())


def case(workload="matmul", size=None, dtype="float32", backend="numpy", device="cpu",
         impl="portable", params=None, **marks):
    """The one builder of a test's case: `workload` at its defaults with `size` as --size
    sets it (or exactly `params`), on `backend`-`device`, implementation `impl`; `marks`
    are end_to_end and graph."""
    if params is None:
        params = workloads.get(workload).resolve(size=size)
    return CaseSpec.make(workload, params, dtype, backend, device, impl, **marks)


def result(samples, size=256, dtype="float32", backend="numpy", status="ok", error=None):
    """A numpy-cpu portable matmul result of `size` with these samples and their summary."""
    spec = case(size=size, dtype=dtype, backend=backend)
    summary = stats.summarize(samples).to_dict() if samples else None
    return Result(spec=spec, status=status, error=error, samples_s=tuple(samples),
                  stats=summary)


def document(*rs, environment=None, settings=None):
    """A run of these results, on ENV with SETTINGS unless told otherwise."""
    return RunDocument(dlbench_version="0.1.0", created="2026-11-25T00:00:00+00:00",
                       command=("dlbench", "run"), environment=environment or ENV,
                       settings=settings or SETTINGS, results=tuple(rs))


# -- comparisons -------------------------------------------------------------------------------

def source(*rs, path="base.json", **kwargs):
    """A comparison's input: the document of these results, as read from `path`."""
    return compare.from_document(document(*rs, **kwargs), path)


def timing(samples):
    return compare.Timing("x", "ok", samples=tuple(samples),
                          median=float(np.median(samples)), n=len(samples))


def scaled_copy(tmp_path, factor, keep_data=True, name="new.json"):
    """The pytest-benchmark fixture with every timing multiplied by `factor`, as a slower
    build would give."""
    data = json.loads(PYTEST_BENCHMARK.read_text())
    for b in data["benchmarks"]:
        s = b["stats"]
        for key in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3"):
            s[key] *= factor
        s["data"] = [x * factor for x in s["data"]]
        if not keep_data:
            del s["data"]
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def suite_pair(scales, base_scales=None, n=40, spread=0.01, seed=0):
    """BASE and NEW sources of len(scales) matmul sizes; NEW's medians are scaled."""
    base_scales = base_scales or [1.0] * len(scales)
    sizes = [64 * (i + 1) for i in range(len(scales))]
    base = [result(noisy(1e-3 * (i + 1) * b, n, spread, seed + i), size)
            for i, (size, b) in enumerate(zip(sizes, base_scales, strict=True))]
    new = [result(noisy(1e-3 * (i + 1) * s, n, spread, seed + 100 + i), size)
           for i, (size, s) in enumerate(zip(sizes, scales, strict=True))]
    return source(*base), source(*new, path="new.json")


# -- reports -----------------------------------------------------------------------------------

def build(*paths: Path, baseline: str = "numpy-cpu") -> model.Report:
    """The report of committed result files."""
    # Names, not full paths: snapshots must not depend on where the checkout lives.
    return model.build([(p.name, results.load(p)) for p in paths], baseline)


def check_snapshot(name: str, text: str) -> None:
    """Compare with tests/data/snapshots/NAME; DLBENCH_UPDATE_SNAPSHOTS=1 rewrites it."""
    path = SNAPSHOTS / name
    if os.environ.get("DLBENCH_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with DLBENCH_UPDATE_SNAPSHOTS=1 once"
    assert text == path.read_text(encoding="utf-8")


# -- property tests and the exit-code contract --------------------------------------------------

# Property tests run a few examples in CI; DLBENCH_PROPERTY_PROFILE=nightly runs thousands,
# and a number runs that many.
PROFILE = os.environ.get("DLBENCH_PROPERTY_PROFILE", "ci")


# CI draws the same examples every time (a steady run time, a failure that reproduces);
# the other profiles draw new ones.
DERANDOMIZE = PROFILE == "ci"


def examples(ci: int, nightly: int) -> int:
    """How many examples a property test generates in the profile chosen."""
    return nightly if PROFILE == "nightly" else int(PROFILE) if PROFILE.isdigit() else ci


def assert_contract(result, allowed=(0, 2, 3, 130)):
    """A CliRunner result keeps the exit-code contract: an allowed code, never a traceback,
    and dlbench's own errors (exit 2) in one line "error: ...", with at most "note: " lines
    beside it. Click's usage errors (unknown option, missing argument) keep their panel."""
    detail = f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.exit_code in allowed, detail
    assert result.exception is None or isinstance(result.exception, SystemExit), detail
    assert "Traceback" not in result.output, detail
    if result.exit_code != 2 or "Usage:" in result.output:
        return  # Click's own usage errors and help (`dlbench` alone) keep their panel
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, detail
    assert all(line.startswith(("error: ", "note: ")) for line in lines), detail


def while_reading(fifo: Path, write):
    """Make the FIFO `fifo` and call `write()` while a thread reads it: (the bytes read,
    what write returned). The reader is a daemon: a write that never opens the FIFO
    cannot hang the test run."""
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        returned = write()
    finally:
        reader.join(10)
    return b"".join(got), returned


# -- real dlbench processes ---------------------------------------------------------------

def dlbench(*args, env=None, timeout=240):
    return subprocess.run([sys.executable, "-m", "dlbench", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def left_behind(marker):
    """Processes of a run still alive: every rank's command line holds its output path."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if marker in " ".join(p.info["cmdline"] or ()) and \
                    p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except psutil.Error:
            continue
    return found


def assert_no_orphans(marker):
    deadline = time.monotonic() + 10
    while left_behind(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left_behind(marker)
