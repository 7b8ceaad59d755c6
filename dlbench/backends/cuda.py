"""CUDA availability for the GPU backends, probed in a short-lived child process.

Why a child process: asking CUDA anything beyond the driver version
(`cudaGetDeviceCount`, `torch.cuda.is_available()`) runs `cuInit` in the asking
process, which loads the driver and starts its threads; a process that later forks
cannot use CUDA in the child (asv's "cuda init error"). Workers are
spawned, but the parent stays clean all the same: it never imports cupy or torch
for a CUDA question. The child imports the library, answers in one JSON line and
exits; the answer is cached for the life of the process, and the children for every
installed GPU library start together, so `dlbench list` pays one child's time.

A CPU-only torch build is recognised without any child at all: it ships no
torch_cuda library (the file check costs microseconds; importing torch 1.4 s).

The reasons come from what the libraries themselves say with no GPU (seen on a machine
without one):
`cupy.cuda.runtime.driverGetVersion()` is 0 without a driver (and creates no context);
a CPU torch raises "Torch not compiled with CUDA enabled"; a CUDA torch without a
driver raises "Found no NVIDIA driver on your system".
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GPU_LIBRARIES = ("cupy", "torch", "jax", "tensorflow")
# The plugins a CUDA build of JAX is installed with (jax[cuda12], jax[cuda13]).
JAX_CUDA_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin")
# A child that imports torch and initialises CUDA on a busy machine can take tens of
# seconds; longer than this is a broken installation, reported as such.
PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Probe:
    """What a library said about CUDA here: usable devices, or why none."""

    ok: bool
    reason: str = ""
    devices: tuple[dict[str, Any], ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Probe:
        return cls(bool(d.get("ok")), str(d.get("reason", "")), tuple(d.get("devices", ())),
                   dict(d.get("info", {})))


def device_index(device: str) -> int:
    """`cuda` is the current device, 0; `cuda:N` is device N."""
    _, _, index = device.partition(":")
    return int(index) if index else 0


def device_available(probe: Probe, device: str) -> tuple[bool, str]:
    """Is `device` (cuda or cuda:N) among the probe's devices? With the reason when not."""
    if not probe.ok:
        return False, probe.reason
    try:
        index = device_index(device)
    except ValueError:
        return False, f"{device!r} is not a CUDA device name (cuda or cuda:N)"
    count = len(probe.devices)
    if not 0 <= index < count:
        visible = ", ".join(f"cuda:{i}" for i in range(count))
        return False, (f"{device} does not exist: {count} CUDA device"
                       f"{'' if count == 1 else 's'} visible ({visible})")
    return True, ""


# -- the questions, asked inside the child (pure functions of the module: testable) -----
# CuPy 14 wheels bundle neither: cuBLAS serves every GEMM, NVRTC compiles every
# elementwise kernel, and both come from the CUDA toolkit or `cupy-cuda12x[ctk]`.
CUPY_NEEDS = ("cublas", "nvrtc")


def _load_nvidia_library(name: str) -> None:
    from cuda import pathfinder  # CuPy's own loader (cuda-pathfinder, a CuPy dependency)

    pathfinder.load_nvidia_dynamic_lib(name)


def classify_cupy(cupy: Any, load_library: Any = _load_nvidia_library) -> dict[str, Any]:
    runtime = cupy.cuda.runtime
    driver = runtime.driverGetVersion()  # creates no context: safe first question
    info: dict[str, Any] = {"driver": driver}
    if driver == 0:
        return {"ok": False, "info": info, "reason":
                "no NVIDIA driver found (cupy.cuda.runtime.driverGetVersion() returned 0)"}
    try:
        info["runtime"] = runtime.runtimeGetVersion()
        count = runtime.getDeviceCount()
    except Exception as exc:  # e.g. cudaErrorInsufficientDriver: driver older than runtime
        return {"ok": False, "info": info, "reason": f"CUDA unusable: {exc}"}
    if count == 0:
        return {"ok": False, "info": info, "reason": "the driver sees no CUDA device"
                + _visible_note()}
    devices = []
    for i in range(count):
        props = runtime.getDeviceProperties(i)
        name = props.get("name", b"?")
        devices.append({"index": i, "name": name.decode() if isinstance(name, bytes) else name,
                        "total_bytes": props.get("totalGlobalMem")})
    for library in CUPY_NEEDS:
        try:
            load_library(library)
        except ModuleNotFoundError:
            break  # no cuda-pathfinder (CuPy < 14) to ask: a first kernel will tell instead
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            return {"ok": False, "info": info, "devices": devices, "reason":
                    f"CuPy cannot load {library} ({first}); install 'cupy-cuda12x[ctk]' "
                    "or the CUDA toolkit"}
    return {"ok": True, "info": info, "devices": devices}


def classify_torch(torch: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"version": torch.__version__, "cuda": torch.version.cuda}
    if torch.version.cuda is None:
        return {"ok": False, "info": info, "reason":
                f"torch {torch.__version__} is a CPU-only build (Torch not compiled with "
                "CUDA enabled)"}
    if not torch.cuda.is_available():
        try:
            torch.cuda.init()  # raises with the library's own reason
            reason = "torch sees no CUDA device" + _visible_note()
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return {"ok": False, "info": info, "reason": reason}
    devices = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        devices.append({"index": i, "name": props.name, "total_bytes": props.total_memory})
    return {"ok": True, "info": info, "devices": devices}


def classify_jax(jax: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"version": jax.__version__}
    try:
        found = jax.devices("cuda")
    except RuntimeError as exc:  # "Unknown backend cuda" / no driver / no device
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return {"ok": False, "info": info, "reason": f"jax sees no CUDA device: {first}"
                + _visible_note()}
    devices = [{"index": i, "name": getattr(d, "device_kind", str(d)),
                "total_bytes": (d.memory_stats() or {}).get("bytes_limit")}
               for i, d in enumerate(found)]
    return {"ok": True, "info": info, "devices": devices}


def classify_tensorflow(tf: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"version": tf.__version__}
    if not tf.test.is_built_with_cuda():
        return {"ok": False, "info": info, "reason":
                f"tensorflow {tf.__version__} is built without CUDA"}
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return {"ok": False, "info": info, "reason": "tensorflow sees no GPU (a driver, "
                "or the CUDA libraries of tensorflow[and-cuda], missing)" + _visible_note()}
    devices = [{"index": i, "name": tf.config.experimental.get_device_details(g)
                .get("device_name", g.name), "total_bytes": None}
               for i, g in enumerate(gpus)]
    return {"ok": True, "info": info, "devices": devices}


CLASSIFY = {"cupy": classify_cupy, "torch": classify_torch, "jax": classify_jax,
            "tensorflow": classify_tensorflow}


def _visible_note() -> str:
    import os

    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return f" (CUDA_VISIBLE_DEVICES={value!r})" if value is not None else ""


def _child(library: str) -> dict[str, Any]:
    import os

    # Asking must not take the GPU's memory (JAX preallocates 75% of it) nor fill
    # stderr with TensorFlow's start-up notices.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        module = importlib.import_module(library)
    except Exception as exc:  # ImportError, or a broken native extension
        return {"ok": False, "reason": f"{library} failed to import: {exc}"}
    try:
        return CLASSIFY[library](module)
    except Exception as exc:
        return {"ok": False, "reason": f"{library} CUDA probe failed: "
                                       f"{type(exc).__name__}: {exc}"}


# -- the parent's side: fast answers, then children, cached -----------------------------
_answers: dict[str, Probe] = {}
_children: dict[str, subprocess.Popen[str]] = {}


def torch_cpu_build() -> str | None:
    """The reason when the installed torch is a CPU-only build, from its files alone."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(list(spec.submodule_search_locations)[0]) / "lib"
    try:
        names = [p.name for p in lib.iterdir()]
    except OSError:
        return None  # an unusual layout: let the child decide
    if not names or any("torch_cuda" in n or "torch_hip" in n for n in names):
        return None
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return (f"torch {version} is a CPU-only build (Torch not compiled with CUDA enabled; "
            "it ships no torch_cuda library)")


def _fast_answer(library: str) -> Probe | None:
    if importlib.util.find_spec(library) is None:
        return Probe(False, f"{library} is not installed")
    if library == "torch" and (reason := torch_cpu_build()):
        return Probe(False, reason)
    if library == "jax" and not any(importlib.util.find_spec(p) for p in JAX_CUDA_PLUGINS):
        return Probe(False, "jax has no CUDA plugin installed (a GPU needs "
                            "pip install 'jax[cuda12]' or 'jax[cuda13]')")
    if library == "tensorflow" and (reason := tensorflow_cpu_build()):
        return Probe(False, reason)
    return None


def tensorflow_cpu_build() -> str | None:
    """The reason when the installed TensorFlow is the CPU-only wheel, from its metadata."""
    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu = version("tensorflow-cpu")
    if cpu is None or version("tensorflow") is not None:
        return None
    return (f"tensorflow-cpu {cpu} is a CPU-only build (a GPU needs "
            "pip install 'tensorflow[and-cuda]')")


def _start(library: str) -> None:
    if library in _answers or library in _children:
        return
    fast = _fast_answer(library)
    if fast is not None:
        _answers[library] = fast
        return
    _children[library] = subprocess.Popen(
        [sys.executable, "-m", "dlbench.backends.cuda", library],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe(library: str) -> Probe:
    """What `library` (cupy or torch) says about CUDA here, asked once per process."""
    if library in _answers:
        return _answers[library]
    # Start every installed GPU library's child at once: their imports overlap.
    for name in (library, *GPU_LIBRARIES):
        _start(name)
    if library not in _answers:
        _answers[library] = _collect(library, _children.pop(library))
    return _answers[library]


def _collect(library: str, child: subprocess.Popen[str]) -> Probe:
    try:
        out, err = child.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return Probe(False, f"{library} CUDA probe did not answer within "
                            f"{PROBE_TIMEOUT_S:.0f} s")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        return Probe(False, f"{library} CUDA probe failed (exit {child.returncode}): {tail}")
    return Probe.from_dict(json.loads(lines[-1]))


def forget() -> None:
    """Drop cached answers (tests)."""
    _answers.clear()
    for child in _children.values():
        child.kill()
        child.communicate()
    _children.clear()


# -- used inside a GPU worker ------------------------------------------------------------
# TF32 tensor cores arrived with Ampere (compute capability 8.0); before it, the TF32
# flags are accepted and do nothing.
TF32_MIN_CAPABILITY = (8, 0)


def effective_float32_math(flags_say_tf32: bool, capability: tuple[int, int],
                           env: Mapping[str, str], torch_library: bool = False) -> str:
    """How float32 products are really computed: "tf32" or "ieee".

    The library's flags are only one voice: a GPU before Ampere has no TF32, the
    driver's NVIDIA_TF32_OVERRIDE=0 turns it off everywhere, and torch's
    TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 turns it on for its GEMMs whatever the flags say.
    """
    if tuple(capability) < TF32_MIN_CAPABILITY:
        return "ieee"
    if env.get("NVIDIA_TF32_OVERRIDE", "").strip() == "0":
        return "ieee"
    if torch_library and env.get("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "").strip() == "1":
        return "tf32"
    return "tf32" if flags_say_tf32 else "ieee"


# The L2 flush writes this many times the L2 size: nvbench writes exactly L2; twice
# leaves no line of the kernel's data behind under any replacement policy, still far
# below triton's fixed 256 MB on today's 40-60 MB L2s.
FLUSH_L2_FACTOR = 2
# When the device does not report its L2 size: triton.testing.do_bench's fixed buffer.
FLUSH_FALLBACK_BYTES = 256 * 2**20


def flush_bytes(l2_bytes: int | None) -> int:
    return FLUSH_L2_FACTOR * l2_bytes if l2_bytes else FLUSH_FALLBACK_BYTES


def pci_bus_id(domain: int, bus: int, device: int) -> str:
    return f"{domain:08x}:{bus:02x}:{device:02x}.0"


def nvml_record(bus_id: str | None, index: int) -> dict[str, Any]:
    """Clocks, power, memory and driver from NVML (nvidia-ml-py) where installed, else {}.

    NVML numbers devices by PCI order, CUDA by its own (and CUDA_VISIBLE_DEVICES), so
    the device is looked up by its PCI bus id when known.
    """
    try:
        import pynvml
    except ImportError:
        return {}
    out: dict[str, Any] = {"source": "nvml"}
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return {"nvml_error": str(exc)}
    try:
        handle = (pynvml.nvmlDeviceGetHandleByPciBusId(bus_id.encode()) if bus_id
                  else pynvml.nvmlDeviceGetHandleByIndex(index))
        queries = {
            "driver": lambda: pynvml.nvmlSystemGetDriverVersion(),
            "memory_total_bytes": lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).total,
            "sm_clock_max_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(
                handle, pynvml.NVML_CLOCK_SM),
            "mem_clock_max_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(
                handle, pynvml.NVML_CLOCK_MEM),
            "sm_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
            "power_limit_w": lambda: pynvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000,
            "temperature_c": lambda: pynvml.nvmlDeviceGetTemperature(
                handle, pynvml.NVML_TEMPERATURE_GPU),
        }
        for key, query in queries.items():
            try:
                value = query()
                out[key] = value.decode() if isinstance(value, bytes) else value
            except Exception:  # a query this GPU or driver does not support
                continue
    except Exception as exc:
        out["nvml_error"] = str(exc)
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return out


def driver_version() -> int | None:
    """The CUDA driver's version (cuDriverGetVersion), read in a worker that already
    uses CUDA; None without libcuda."""
    import ctypes

    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
        version = ctypes.c_int(0)
        if libcuda.cuDriverGetVersion(ctypes.byref(version)) != 0:
            return None
        return version.value
    except (OSError, AttributeError):
        return None


def version_text(version: int | None) -> str | None:
    """CUDA's integer versions (12090) as text (12.9)."""
    if not version:
        return None
    return f"{version // 1000}.{version % 1000 // 10}"


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1])))
