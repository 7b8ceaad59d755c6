"""CUDA availability for the GPU backends, probed in a short-lived child process.

Why a child process: asking CUDA anything beyond the driver version
(`cudaGetDeviceCount`, `torch.cuda.is_available()`) runs `cuInit` in the asking
process, which loads the driver and starts its threads; a process that later forks
cannot use CUDA in the child (asv's "cuda init error"). Workers are
spawned, but the parent stays clean all the same: it never imports a GPU library for
a CUDA question. The child (dlbench.backends.probe) imports the library, asks the
backend's `classify_cuda`, answers in one JSON line and exits; the answer is cached for
the life of the process, and the children for every GPU backend start together, so
`dlbench list` pays one child's time. Where a backend can tell from its files alone
that there is no GPU for it (a CPU-only build: `cuda_unavailable`), no child starts.

What each library says, and how to read it, is its backend's: this module holds only
what every GPU backend shares.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

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


def visible_note() -> str:
    """What a "no device" reason adds when CUDA_VISIBLE_DEVICES hides devices."""
    import os

    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return f" (CUDA_VISIBLE_DEVICES={value!r})" if value is not None else ""


def first_line(exc: BaseException) -> str:
    """An exception's first line: what the library said, without its advice paragraphs."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


class Probed(Protocol):
    """What the parent needs of a GPU backend's class to ask about CUDA: its name, and
    the reason it has no GPU here when its files alone tell (a CPU-only build)."""

    name: ClassVar[str]

    @classmethod
    def cuda_unavailable(cls) -> str | None: ...


# -- the parent's side: fast answers, then children, cached -----------------------------
_answers: dict[str, Probe] = {}
_children: dict[str, subprocess.Popen[str]] = {}


def _start(target: type[Probed]) -> None:
    name = target.name
    if name in _answers or name in _children:
        return
    reason = target.cuda_unavailable()
    if reason is not None:
        _answers[name] = Probe(False, reason)
        return
    # The child (dlbench.backends.probe) imports the library as a worker would and asks
    # the backend's own classify_cuda.
    _children[name] = subprocess.Popen(
        [sys.executable, "-m", "dlbench.backends.probe", name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe(target: type[Probed], companions: Sequence[type[Probed]] = ()) -> Probe:
    """What `target`'s library says about CUDA here, asked once per process. The children
    of the `companions` (every GPU backend) start at once: their imports overlap."""
    name = target.name
    if name in _answers:
        return _answers[name]
    for each in (target, *companions):
        _start(each)
    if name not in _answers:
        _answers[name] = _collect(name, _children.pop(name))
    return _answers[name]


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

