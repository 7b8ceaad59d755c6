"""CUDA availability: each failure's reason, the probe kept out of the parent, and every
no-GPU path of the command line as this machine really takes it."""

import importlib.util
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from dlbench import backends
from dlbench.backends import cuda
from dlbench.backends.cupy import CupyBackend
from dlbench.backends.torch import TorchBackend
from tests.helpers import assert_one_line_error, cli

TINY = ["--size", "64", "--dtype", "float32", "--min-time", "0.05", "--max-time", "0.2"]
HAS_CUPY = importlib.util.find_spec("cupy") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None


# -- the questions, with fake libraries -------------------------------------------------
class FakeRuntime:
    def __init__(self, driver=12080, count=1, error=None):
        self.driver, self.count, self.error = driver, count, error

    def driverGetVersion(self):  # noqa: N802 - CuPy's name
        return self.driver

    def runtimeGetVersion(self):  # noqa: N802
        return 12090

    def getDeviceCount(self):  # noqa: N802
        if self.error:
            raise self.error
        return self.count

    def getDeviceProperties(self, i):  # noqa: N802
        return {"name": b"NVIDIA H100 80GB HBM3", "totalGlobalMem": 85 * 2**30}


def fake_cupy(**kw):
    return SimpleNamespace(cuda=SimpleNamespace(runtime=FakeRuntime(**kw)))


def loads_everything(name):
    return None


def test_cupy_without_driver():
    out = CupyBackend.classify_cuda(fake_cupy(driver=0), loads_everything)
    assert not out["ok"] and out["reason"] == (
        "no NVIDIA driver found (cupy.cuda.runtime.driverGetVersion() returned 0)")


def test_cupy_driver_older_than_runtime():
    error = RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient "
                         "for CUDA runtime version")
    out = CupyBackend.classify_cuda(fake_cupy(error=error), loads_everything)
    assert out["reason"].startswith("CUDA unusable: cudaErrorInsufficientDriver")


def test_cupy_no_device(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    out = CupyBackend.classify_cuda(fake_cupy(count=0), loads_everything)
    assert out["reason"] == "the driver sees no CUDA device (CUDA_VISIBLE_DEVICES='')"


def test_cupy_without_nvrtc_names_the_fix():
    def missing(name):
        if name == "nvrtc":
            raise ImportError('Failure finding "libnvrtc.so.12"')

    out = CupyBackend.classify_cuda(fake_cupy(), missing)
    assert not out["ok"]
    assert out["reason"] == ('CuPy cannot load nvrtc (Failure finding "libnvrtc.so.12"); '
                             "install 'cupy-cuda12x[ctk]' or the CUDA toolkit")


def test_cupy_13_without_cuda_pathfinder_is_usable():
    """CuPy 13 has no cuda-pathfinder to ask for its libraries: the probe says usable and
    leaves a missing library to the first kernel, rather than refusing a supported CuPy."""
    def no_pathfinder(name):
        raise ModuleNotFoundError("No module named 'cuda'")

    out = CupyBackend.classify_cuda(fake_cupy(), no_pathfinder)
    assert out["ok"] and out["devices"][0]["name"] == "NVIDIA H100 80GB HBM3"


def test_cupy_usable():
    out = CupyBackend.classify_cuda(fake_cupy(count=2), loads_everything)
    assert out["ok"] and [d["index"] for d in out["devices"]] == [0, 1]
    assert out["devices"][0]["name"] == "NVIDIA H100 80GB HBM3"


def fake_torch(cuda_version="12.8", available=False, init_error=None):
    def init():
        if init_error:
            raise init_error

    return SimpleNamespace(__version__="2.13.0", version=SimpleNamespace(cuda=cuda_version),
                           cuda=SimpleNamespace(is_available=lambda: available, init=init,
                                                device_count=lambda: 1))


def test_torch_cpu_build():
    out = TorchBackend.classify_cuda(fake_torch(cuda_version=None))
    assert out["reason"] == ("torch 2.13.0 is a CPU-only build (Torch not compiled with CUDA "
                             "enabled)")


def test_cuda_torch_without_driver_says_what_torch_says():
    error = RuntimeError("Found no NVIDIA driver on your system. Please check that you have "
                         "an NVIDIA GPU and installed a driver from http://www.nvidia.com\n"
                         "more")
    out = TorchBackend.classify_cuda(fake_torch(init_error=error))
    assert out["reason"].startswith("Found no NVIDIA driver on your system.")
    assert "\n" not in out["reason"]


@pytest.mark.parametrize(("device", "count", "expected"), [
    ("cuda", 1, (True, "")),
    ("cuda:1", 2, (True, "")),
    ("cuda:1", 1, (False, "cuda:1 does not exist: 1 CUDA device visible (cuda:0)")),
    ("cuda:5", 2, (False, "cuda:5 does not exist: 2 CUDA devices visible (cuda:0, cuda:1)")),
    ("cuda:x", 1, (False, "'cuda:x' is not a CUDA device name (cuda or cuda:N)")),
])
def test_device_index_is_checked(device, count, expected):
    probe = cuda.Probe(True, devices=tuple({"index": i} for i in range(count)))
    assert cuda.device_available(probe, device) == expected


def test_a_failed_probe_gives_its_reason_for_every_device():
    probe = cuda.Probe(False, "no NVIDIA driver found")
    assert cuda.device_available(probe, "cuda:3") == (False, "no NVIDIA driver found")


# -- the real probe on this machine -----------------------------------------------------
@pytest.mark.usefixtures("no_gpu")
def test_real_cupy_probe_here():
    reason = backends.probe("cupy").reason
    if HAS_CUPY:
        # Without a GPU, cupy-cuda12x imports fine and reports driver version 0.
        assert reason == ("no NVIDIA driver found "
                          "(cupy.cuda.runtime.driverGetVersion() returned 0)")
    else:
        assert reason == "cupy is not installed"


@pytest.mark.usefixtures("no_gpu")
@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_real_torch_probe_here():
    reason = backends.probe("torch").reason
    assert "Torch not compiled with CUDA enabled" in reason or "NVIDIA driver" in reason


def test_probe_is_asked_once_per_process(monkeypatch):
    cuda.forget()
    started = []
    real = subprocess.Popen

    def counting(*args, **kwargs):
        started.append(args[0][-1])
        return real(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting)
    first = backends.probe("cupy")
    assert backends.probe("cupy") is first and backends.probe("torch") is backends.probe("torch")
    # At most one child per library, started together, never again.
    assert len(started) == len(set(started)) <= len(backends.gpu_classes())


def test_the_parent_never_imports_a_gpu_library():
    code = ("import sys\nfrom dlbench import backends\n"
            "print([t.available()[0] for t in backends.all_targets()])\n"
            "print([m in sys.modules for m in ('cupy', 'torch', 'jax', 'tensorflow')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[-1] == "[False, False, False, False]"


# -- the command line with no GPU -------------------------------------------------------
@pytest.mark.usefixtures("no_gpu")
def test_list_shows_gpu_backends_unavailable_with_the_reason():
    result = cli("list", "--format", "json")
    assert result.exit_code == 0
    entries = {e["label"]: e for e in json.loads(result.stdout)["backends"]}
    assert not entries["cupy-cuda"]["available"] and not entries["torch-cuda"]["available"]
    assert entries["cupy-cuda"]["reason"] == backends.probe("cupy").reason
    if HAS_TORCH:
        assert entries["torch-cuda"]["reason"] == backends.probe("torch").reason
    table = cli("list", env={"COLUMNS": "400"}).stdout
    assert backends.probe("cupy").reason in table


@pytest.mark.usefixtures("no_gpu")
def test_run_backend_cupy_exits_2_with_the_reason():
    line = assert_one_line_error(cli("run", "--backend", "cupy", *TINY))
    assert line.startswith("error: backend cupy-cuda is unavailable: ")
    assert backends.probe("cupy").reason in line


@pytest.mark.usefixtures("no_gpu")
def test_explicit_cuda_device_exits_2():
    line = assert_one_line_error(cli(*["run", "--backend", "numpy,torch", "--device",
                                              "cuda", *TINY]))
    assert "has no device cuda" in line or "unavailable" in line


@pytest.mark.usefixtures("no_gpu")
@pytest.mark.slow
def test_default_run_leaves_gpus_out_saying_so_once(tmp_path):
    # No --backend: every backend is tried (one workload keeps the run short).
    result = cli(*["run", *TINY, "--workload", "matmul",
                                 "-o", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    # Other notes (NumPy's BLAS kernel) may come too; the backends left out come once each:
    # every GPU one, and those whose library is not installed here.
    notes = [line for line in result.stderr.splitlines()
             if line.startswith("note:") and " left out" in line]
    # Every target that cannot run here: the GPUs, and any library not installed.
    left_out = [f"note: {t.label}" for t in backends.all_targets() if not t.available()[0]]
    assert [n.split(" left out")[0] for n in notes] == left_out
    assert {"note: cupy-cuda", "note: torch-cuda"} <= set(left_out)
    cupy = next(n for n in notes if n.startswith("note: cupy-cuda"))
    assert backends.probe("cupy").reason in cupy


@pytest.mark.usefixtures("no_gpu")
def test_cold_cache_is_refused_on_cpu_backends():
    line = assert_one_line_error(cli("run", "--cache", "cold", *TINY))
    assert "--cache cold flushes a GPU's L2 cache" in line and "numpy-cpu" in line


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--cache", "warm", "'--cache': 'warm' is not one of 'hot', 'cold'"),
    ("--tf32", "maybe", "'--tf32': 'maybe' is not one of 'off', 'on'"),
])
def test_bad_cache_or_tf32_values(option, value, message):
    assert message in assert_one_line_error(cli("run", option, value, *TINY))


@pytest.mark.usefixtures("no_gpu")
def test_transfer_alone_on_a_cpu_has_nothing_to_run():
    line = assert_one_line_error(cli(*["run", "--workload", "transfer",
                                              "--backend", "numpy"]))
    assert line == ("error: nothing to run: transfer copies between host and GPU memory; "
                    "numpy-cpu has no GPU")


@pytest.mark.usefixtures("no_gpu")
def test_nvml_without_a_driver_says_why():
    """nvidia-ml-py comes with the cupy extra; without a driver its record is the reason."""
    pytest.importorskip("pynvml")
    record = cuda.nvml_record(None, 0)
    assert set(record) == {"nvml_error"} and record["nvml_error"]
