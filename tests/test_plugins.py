"""Plugins: workloads and backends from entry points (a real distribution on the path, as
pip installs one) and a user's workload file; where each came from; a plugin that fails
named once with its reason, an error only when asked for."""

import json
import os
from pathlib import Path

import pytest

from dlbench import workloads
from tests.helpers import assert_one_line_error, cli, dlbench

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "dlbench-example"
RMSNORM = ROOT / "examples" / "rmsnorm_workload.py"
ENTRY_POINTS = """\
[dlbench.workloads]
fused_mlp_layer = dlbench_example.fused_mlp:FusedMlpLayer
broken = demo_broken:Broken
unchecked = demo_unchecked:Unchecked

[dlbench.backends]
numexpr = dlbench_example.numexpr_backend:NumexprBackend
"""
UNCHECKED = """\
from dlbench.workloads import Param, Workload

class Unchecked(Workload):
    name = "unchecked"
    description = "no reference, and does not say so"
    params = (Param("n", 4, "n"),)
    size_params = ("n",)
    flops_formula = "n"
"""


@pytest.fixture
def site(tmp_path):
    """The example plugin's package and a distribution whose entry points name it, and two
    plugins that cannot serve (one does not import, one has no reference and does not say
    so), on PYTHONPATH for a dlbench subprocess."""
    site = tmp_path / "site"
    dist = site / "dlbench_example-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dlbench-example\n"
                                   "Version: 0.1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "demo_broken.py").write_text("import no_such_module_here\n")
    (site / "demo_unchecked.py").write_text(UNCHECKED)
    path = os.pathsep.join([str(site), str(EXAMPLE / "src"), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, "COLUMNS": "400"}


def origin(stdout, kind, name):
    """Where `list --format json` says the backend or workload `name` comes from."""
    entries = json.loads(stdout)[kind]
    return next(e["from"] for e in entries if e["name"] == name)


@pytest.mark.slow
def test_list_says_where_each_comes_from_and_names_each_failed_plugin_once(site):
    done = dlbench("list", "--format", "json", env=site)
    assert done.returncode == 0, done.stderr
    assert origin(done.stdout, "workloads", "fused_mlp_layer") == "plugin dlbench-example 0.1.0"
    assert origin(done.stdout, "workloads", "matmul") == "built-in"
    assert origin(done.stdout, "backends", "numexpr") == "plugin dlbench-example 0.1.0"
    table = dlbench("list", env={**site, "COLUMNS": "200"}).stdout
    assert "from: plugin dlbench-example 0.1.0" in table
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2, done.stderr
    assert "workload plugin 'broken' did not load (plugin dlbench-example 0.1.0: " \
           "ModuleNotFoundError: No module named 'no_such_module_here')" in notes[0]
    assert "workload plugin 'unchecked' did not load" in notes[1]
    assert "has no float64 reference (reference and compare) and does not say " \
           "verified = False" in notes[1]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_failed_plugin_named_on_the_command_line_is_an_error_with_its_reason(site):
    done = dlbench("run", "--workload", "broken", "--backend", "numpy", env=site)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["error: workload plugin 'broken' did not load (plugin dlbench-example "
                     "0.1.0: ModuleNotFoundError: No module named 'no_such_module_here')"]


def test_the_example_plugins_kernels_verify_and_a_wrong_one_does_not(monkeypatch):
    """The example's fused layer, as a worker builds it: portable on NumPy and torch, and
    torch's native, each within its tolerance of the float64 reference."""
    pytest.importorskip("torch")
    from dlbench import backends
    from dlbench.workloads.bandwidth import Bandwidth

    # The example's backend adds a native to the built-in bandwidth as it is imported: on
    # a copy, dropped with the test, so no other test sees a workload or native of a
    # plugin that is not installed in this process.
    monkeypatch.setattr(Bandwidth, "natives", dict(Bandwidth.natives))
    # Its workload registers itself as it is imported: in a copy of the registry, too.
    monkeypatch.setattr(workloads._REGISTRY, "_classes", dict(workloads._REGISTRY._classes))
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    from dlbench_example.fused_mlp import FusedMlpLayer

    wl = FusedMlpLayer()
    p = wl.resolve(size=16, features=32, hidden=64)
    # torch.compile's column comes with a torch native, a plugin's too
    assert wl.impls_for("torch") == ("portable", "native", "compiled")
    for name, impl in (("numpy", "portable"), ("torch", "portable"), ("torch", "native")):
        backend = backends.get(name)
        arrays = {k: backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
        widened = {k: backend.to_numpy(v).astype("float64") for k, v in arrays.items()}
        output = backend.to_numpy(wl.kernel(impl, backend, arrays, p)())
        check = wl.check(output, widened, p, "float32")
        assert check.ok and check.max_rel_err < check.tol / 10, (name, impl, check)
        assert not wl.check(output * 1.001, widened, p, "float32").ok


def test_a_workload_file_is_listed_with_where_it_came_from_and_only_for_that_command():
    done = cli("list", "--workload-file", RMSNORM, "--format", "json")
    assert done.exit_code == 0, done.output
    assert origin(done.stdout, "workloads", "rmsnorm") == f"file {RMSNORM}"
    assert workloads.find("rmsnorm") is None  # the file's workloads went with the command


@pytest.mark.parametrize(("text", "reason"), [
    ("def (:\n", "SyntaxError"),
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named"),
    (UNCHECKED + "from dlbench.workloads import register\nregister(Unchecked)\n",
     "has no float64 reference"),
])
def test_a_workload_file_that_cannot_load_is_an_error_in_one_line(tmp_path, text, reason):
    path = tmp_path / "mine.py"
    path.write_text(text)
    assert_one_line_error(cli("run", "--workload-file", path, "--workload", "matmul"),
                          f"{path}: cannot load the workload file", reason)
    assert_one_line_error(cli("list", "--workload-file", tmp_path / "none.py"),
                          "cannot load the workload file")


@pytest.mark.slow
def test_an_unverified_workload_runs_and_every_view_says_so(tmp_path):
    out = tmp_path / "r.json"
    done = cli("run", "--workload-file", RMSNORM, "--workload", "rmsnorm", "--backend",
               "numpy", "--size", "64", "--min-time", "0.02", "--max-time", "0.1", "-o", out)
    assert done.exit_code == 0, done.output
    result, = json.loads(out.read_text())["results"]
    assert result["status"] == "ok" and result["verify"] is None
    assert "unverified" in result["warnings"]
    assert "Not verified: rmsnorm (no float64 reference" in done.stdout
    assert "⚠ unverified: not verified: the workload has no float64 reference" in done.stdout
    report = cli("report", out, "--format", "md")
    assert "Not verified: rmsnorm" in report.stdout and "`unverified`" in report.stdout


def test_a_file_a_process_inherits_and_is_given_again_loads_once():
    """A rank of a distributed run inherits its launcher's files (loaded with the
    registry) and is given the same --workload-file: one workload, no 'already
    registered', and it stays for the process."""
    registry = workloads._REGISTRY
    inherited = registry.load_file(RMSNORM.resolve())
    try:
        with workloads.files([RMSNORM]) as added:
            assert added == inherited == ["rmsnorm"]
        assert workloads.find("rmsnorm") is not None
    finally:
        registry.unload_file(RMSNORM.resolve())
