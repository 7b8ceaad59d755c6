"""The environment record: what machine and software a result was measured on.

`collect_*` functions each fill one part (pyperf's `_collect_metadata` shape). All of
them are cheap: none imports torch or cupy — what those libraries say about
themselves (BLAS, threads, and the GPU: name, memory, clocks, driver and CUDA
versions) is collected inside each backend's worker and added with `add_gpu`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
from pathlib import Path
from typing import Any

import psutil

from dlbench import __version__, backends

# ISA features that decide which BLAS kernels can run.
BLAS_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni",
              "amx_tile", "amx_bf16", "amx_int8")
# dlbench's own dependencies; each backend's distributions are recorded beside them.
LIBRARIES = ("array-api-compat", "array-api-extra", "threadpoolctl", "psutil", "typer",
             "rich")
# Set by the user when the OS hides the clock (virtual machines): the all-core clock
# under load, in GHz.
CPU_GHZ_ENV = "DLBENCH_CPU_GHZ"
# Variables that change what GPU kernels compute or how they are timed, behind every
# flag dlbench sets: the driver's TF32 switch (0 turns TF32 off everywhere), torch's
# override (1 makes its float32 GEMMs TF32 whatever its flags say), and synchronous
# launches (every kernel launch waits for the kernel).
GPU_ENV_NOTES = {
    ("NVIDIA_TF32_OVERRIDE", "0"): "NVIDIA_TF32_OVERRIDE=0 is set: the driver runs no float32 "
    "math on TF32 tensor cores, whatever --tf32 says",
    ("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "1"): "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 is set: "
    "torch's float32 GEMMs on a GPU use TF32 whatever --tf32 says",
    ("CUDA_LAUNCH_BLOCKING", "1"): "CUDA_LAUNCH_BLOCKING=1 is set: every kernel launch waits for "
    "its kernel, so GPU times include the host's launch and small kernels look slow",
}
# Variables that change how every library runs; each backend records its own beside them.
ENV_VARS = ("OMP_WAIT_POLICY", "CUDA_VISIBLE_DEVICES",
            *dict.fromkeys(name for name, _ in GPU_ENV_NOTES), CPU_GHZ_ENV)


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor block of /proc/cpuinfo as a dict."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def collect_cpu(cpuinfo_text: str | None = None) -> dict[str, Any]:
    if cpuinfo_text is None:
        try:
            cpuinfo_text = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo_text = ""
    fields = _cpuinfo_fields(cpuinfo_text)
    flags = set(fields.get("flags", "").split())
    freq = psutil.cpu_freq()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "model": fields.get("model name") or platform.processor() or "unknown",
        "vendor": fields.get("vendor_id"),
        "family": int(fields["cpu family"]) if fields.get("cpu family", "").isdigit() else None,
        "model_number": int(fields["model"]) if fields.get("model", "").isdigit() else None,
        "arch": platform.machine(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": usable,
        "flags": sorted(f for f in BLAS_FLAGS if f in flags),
        "virtualized": "hypervisor" in flags,
        "mhz_nominal": float(fields["cpu MHz"]) if fields.get("cpu MHz") else None,
        "mhz_max": freq.max if freq and freq.max else None,
    }


def _flops_per_cycle_fp32(cpu: dict[str, Any]) -> tuple[float, str] | None:
    """Single-precision FLOP per cycle per core from vendor, family and ISA flags."""
    flags, vendor, family = set(cpu["flags"]), cpu.get("vendor"), cpu.get("family")
    if vendor == "AuthenticAMD":
        if family == 0x1A and "avx512f" in flags:
            return 64.0, "Zen 5: two 512-bit FMA pipes"
        if family in (0x17, 0x19) and "fma" in flags:
            # Zen 4 runs AVX-512 double-pumped on 256-bit units: still 32.
            return 32.0, "Zen 2-4: two 256-bit FMA pipes"
    if vendor == "GenuineIntel":
        if "avx512f" in flags:
            return 64.0, ("AVX-512 with two FMA units (Xeon Scalable Gold/Platinum; "
                          "an upper bound on one-FMA parts)")
        if "avx2" in flags and "fma" in flags:
            return 32.0, "AVX2: two 256-bit FMA units"
    return None


def peak_flops(cpu: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Theoretical CPU peak FLOP/s per dtype, with how it was derived, or why unknown.

    peak = usable cores × clock × FLOP/cycle/core. The clock must be the one the cores
    run at under load: the nominal MHz in /proc/cpuinfo is often far below it (a peak
    from it yields percentages above 100%), so without a maximum clock from the OS
    or DLBENCH_CPU_GHZ the peak is reported unknown rather than guessed.
    """
    env = os.environ if env is None else env
    per_cycle = _flops_per_cycle_fp32(cpu)
    if per_cycle is None:
        return {"unknown": f"no FLOP/cycle table entry for {cpu.get('vendor')} "
                           f"family {cpu.get('family')} with flags {cpu.get('flags')}"}
    if env.get(CPU_GHZ_ENV):
        try:
            ghz, clock_source = float(env[CPU_GHZ_ENV]), f"{CPU_GHZ_ENV}"
        except ValueError:
            return {"unknown": f"{CPU_GHZ_ENV}={env[CPU_GHZ_ENV]!r} is not a number"}
    elif cpu.get("mhz_max"):
        ghz, clock_source = cpu["mhz_max"] / 1000.0, "maximum clock reported by the OS"
    else:
        return {"unknown": "the OS does not report the CPU's maximum clock (common in virtual "
                           f"machines); set {CPU_GHZ_ENV} to the all-core clock under load"}
    cores = cpu.get("usable_cores") or cpu.get("physical_cores") or 1
    fp32_cycle, isa = per_cycle
    per_dtype = {"float32": fp32_cycle, "float64": fp32_cycle / 2}
    notes = {"float32": isa, "float64": isa + ", half the float32 lanes"}
    flags = set(cpu["flags"])
    if "amx_bf16" in flags:
        per_dtype["bfloat16"] = 1024.0
        notes["bfloat16"] = "AMX tiles: 1024 bf16 FLOP/cycle"
    elif "avx512_bf16" in flags:
        per_dtype["bfloat16"] = fp32_cycle * 2
        notes["bfloat16"] = "AVX512_BF16 dot products: twice float32"
    return {
        dtype: {
            "flops": cores * ghz * 1e9 * fpc,
            "how": f"{cores} cores × {ghz:.2f} GHz ({clock_source}) × {fpc:g} FLOP/cycle "
                   f"({notes[dtype]})",
        }
        for dtype, fpc in per_dtype.items()
    }


def collect_memory() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    return {"total_bytes": vm.total, "available_bytes": vm.available}


def collect_libraries() -> dict[str, str]:
    versions = {"dlbench": __version__}
    for name in (*backend_facts()[0], *LIBRARIES):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def collect_env_vars(env: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {k: env[k] for k in (*backend_facts()[1], *ENV_VARS) if k in env}


def backend_facts() -> tuple[list[str], list[str]]:
    """Every backend's distributions and environment variables, as each declares them."""
    classes = [backends.backend_class(name) for name in backends.names()]
    distributions = [d for cls in classes for d in cls.distributions or (cls.library,)]
    variables = [v for cls in classes for v in cls.env_vars]
    return list(dict.fromkeys(distributions)), list(dict.fromkeys(variables))


# OpenBLAS kernels that use no AVX-512 (OpenBLAS's TargetList.txt), lower-cased.
OPENBLAS_PRE_AVX512 = frozenset({"prescott", "core2", "penryn", "dunnington", "nehalem",
                                 "sandybridge", "haswell", "zen", "atom", "barcelona",
                                 "bulldozer", "piledriver", "steamroller", "excavator"})


def blas_notes(record: dict[str, Any]) -> list[str]:
    """What a reader of the speedup table should know about NumPy's BLAS kernel: one
    chosen by OPENBLAS_CORETYPE rather than by the CPU, and one that leaves AVX-512 the
    CPU has unused. Reported, never changed (the user set it for a reason)."""
    forced = record.get("env_vars", {}).get("OPENBLAS_CORETYPE")
    has_avx512 = "avx512f" in record.get("cpu", {}).get("flags", [])
    notes = []
    for lib in record.get("blas", []):
        if lib.get("internal_api") != "openblas":
            continue
        kernel = str(lib.get("architecture") or "?")
        avx512_unused = has_avx512 and kernel.lower() in OPENBLAS_PRE_AVX512
        if not (forced or avx512_unused):
            continue
        note = (f"OPENBLAS_CORETYPE={forced} is set: " if forced else "") + \
            f"NumPy's OpenBLAS runs its {kernel} kernel"
        if avx512_unused:
            note += ", which uses no AVX-512 although this CPU has it"
        notes.append(note)
    return notes


def gpu_env_notes(record: dict[str, Any]) -> list[str]:
    """The recorded variables that silently change what a GPU run measures."""
    env_vars = record.get("env_vars", {})
    return [note for (name, value), note in GPU_ENV_NOTES.items()
            if env_vars.get(name, "").strip() == value]


def run_notes(record: dict[str, Any]) -> list[str]:
    """What `dlbench run` says about its environment before the table: NumPy's BLAS
    kernel, and the variables that change GPU numerics or timing."""
    return blas_notes(record) + gpu_env_notes(record)


def collect_host() -> dict[str, Any]:
    return {"host": socket.gethostname(), "os": platform.platform(),
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation()}


def collect_blas() -> list[dict[str, Any]]:
    from dlbench.backends.numpy import blas_info

    return blas_info()


def collect() -> dict[str, Any]:
    """The whole record as stored under "environment" in a result file."""
    cpu = collect_cpu()
    return {
        **collect_host(),
        "cpu": cpu,
        "memory": collect_memory(),
        "blas": collect_blas(),
        "env_vars": collect_env_vars(),
        "gpus": [],
        "libraries": collect_libraries(),
        "peak_flops": peak_flops(cpu),
        "backends": {},
    }


def peak_for(environment: dict[str, Any], device: str, dtype: str,
             math: str | None = None) -> float | None:
    """Theoretical peak FLOP/s for a device/dtype, when the record knows it.

    For a GPU, `math="tf32"` with float32 picks the TF32 tensor-core peak: float32
    GEMMs run on tensor cores then, and the CUDA-core FP32 peak would give percentages
    far above 100%.
    """
    if device == "cpu":
        entry = environment.get("peak_flops", {}).get(dtype)
        return entry.get("flops") if isinstance(entry, dict) else None
    label = normal_device(device)
    for gpu in environment.get("gpus", []):
        if gpu.get("device") == label:
            key = "tf32" if dtype == "float32" and math == "tf32" else dtype
            entry = gpu.get("peak_flops", {}).get(key)
            return entry.get("flops") if isinstance(entry, dict) else None
    return None


def normal_device(device: str) -> str:
    """`cuda` means the current device, cuda:0, in a worker that selected nothing else."""
    return "cuda:0" if device == "cuda" else device


# Dense (no structured sparsity) peak TFLOP/s per dtype from NVIDIA's datasheets. Where a
# datasheet gives only the with-sparsity tensor figure (marked *), dense is half of it.
# "tf32" is float32 on tensor cores (TF32 on); "float32" the CUDA-core FP32 rate;
# "float64" the FP64 tensor-core rate where one exists (cuBLAS DGEMM uses it).
# Checked in order: the first pattern matching the device name wins.
GPU_PEAKS: tuple[tuple[str, str, dict[str, float], str], ...] = (
    # NVIDIA H200 datasheet: H200 NVL FP64 TC 60, FP32 60, TF32 835*, BF16/FP16 1,671*.
    (r"H200 NVL", "H200 NVL", {"float64": 60, "float32": 60, "tf32": 417.5,
                               "bfloat16": 835.5, "float16": 835.5}, "NVIDIA H200 datasheet"),
    # H200 SXM: FP64 TC 67, FP32 67, TF32 989*, BF16/FP16 1,979* (same SMs as H100 SXM).
    (r"H200", "H200 SXM", {"float64": 67, "float32": 67, "tf32": 494.5, "bfloat16": 989.5,
                           "float16": 989.5}, "NVIDIA H200 datasheet"),
    # NVIDIA H100 datasheet: H100 NVL FP64 TC 60, FP32 60, TF32 835*, BF16/FP16 1,671*.
    (r"H100 NVL", "H100 NVL", {"float64": 60, "float32": 60, "tf32": 417.5,
                               "bfloat16": 835.5, "float16": 835.5}, "NVIDIA H100 datasheet"),
    # H100 PCIe: FP64 TC 51, FP32 51, TF32 756*, BF16/FP16 1,513*.
    (r"H100 PCIe", "H100 PCIe", {"float64": 51, "float32": 51, "tf32": 378,
                                 "bfloat16": 756.5, "float16": 756.5},
     "NVIDIA H100 datasheet"),
    # H100 SXM5 ("H100 80GB HBM3"): FP64 TC 67, FP32 67, TF32 989*, BF16/FP16 1,979*.
    (r"H100", "H100 SXM", {"float64": 67, "float32": 67, "tf32": 494.5, "bfloat16": 989.5,
                           "float16": 989.5}, "NVIDIA H100 datasheet"),
    # NVIDIA A100 datasheet (SXM4 and PCIe, 40/80 GB alike): FP64 TC 19.5, FP32 19.5,
    # TF32 156, BF16/FP16 312 (dense figures; 312/624 with sparsity).
    (r"A100", "A100", {"float64": 19.5, "float32": 19.5, "tf32": 156, "bfloat16": 312,
                       "float16": 312}, "NVIDIA A100 datasheet"),
    # NVIDIA A10 datasheet: FP32 31.2, TF32 62.5 (125*), BF16/FP16 125 (250*).
    (r"\bA10\b", "A10", {"float32": 31.2, "tf32": 62.5, "bfloat16": 125, "float16": 125},
     "NVIDIA A10 datasheet"),
    # NVIDIA L40S datasheet: FP32 91.6, TF32 366*, BF16/FP16 733*.
    (r"L40S", "L40S", {"float32": 91.6, "tf32": 183, "bfloat16": 366.5, "float16": 366.5},
     "NVIDIA L40S datasheet"),
    # NVIDIA L4 datasheet: FP32 30.3, TF32 120*, BF16/FP16 242*.
    (r"\bL4\b", "L4", {"float32": 30.3, "tf32": 60, "bfloat16": 121, "float16": 121},
     "NVIDIA L4 datasheet"),
    # NVIDIA Ada GPU architecture whitepaper, RTX 4090: FP32 82.6, FP64 1.3, TF32 82.6,
    # FP16/BF16 tensor with FP32 accumulate 165.2 (dense; GeForce runs it at half the
    # FP16-accumulate rate).
    (r"RTX 4090", "GeForce RTX 4090", {"float64": 1.3, "float32": 82.6, "tf32": 82.6,
                                       "bfloat16": 165.2, "float16": 165.2},
     "NVIDIA Ada GPU architecture whitepaper"),
    # NVIDIA V100 datasheet: PCIe FP64 7, FP32 14, tensor 112; SXM2 7.8, 15.7, 125.
    (r"V100-PCIE|V100 PCIe", "V100 PCIe", {"float64": 7, "float32": 14, "float16": 112},
     "NVIDIA V100 datasheet"),
    (r"V100", "V100 SXM2", {"float64": 7.8, "float32": 15.7, "float16": 125},
     "NVIDIA V100 datasheet"),
    # NVIDIA T4 datasheet: FP32 8.1, FP16/FP32 mixed precision 65.
    (r"\bT4\b", "T4", {"float32": 8.1, "float16": 65}, "NVIDIA T4 datasheet"),
)


def gpu_peak_flops(name: str) -> dict[str, Any]:
    """Theoretical dense peak FLOP/s per dtype for a GPU by name, or why unknown."""
    import re

    for pattern, label, tflops, source in GPU_PEAKS:
        if re.search(pattern, name):
            return {dtype: {"flops": value * 1e12,
                            "how": f"{label}: {value:g} TFLOP/s dense ({source})"}
                    for dtype, value in tflops.items()}
    return {"unknown": f"no datasheet entry for GPU {name!r}"}


# Peak memory bandwidth in GB/s from the same datasheets (HBM or GDDR). The first
# pattern matching the device name wins; A100s differ by memory size and form factor.
GPU_BANDWIDTHS: tuple[tuple[str, str, float, str], ...] = (
    (r"H200", "H200 (HBM3e)", 4800, "NVIDIA H200 datasheet"),
    (r"H100 NVL", "H100 NVL (HBM3)", 3900, "NVIDIA H100 datasheet"),
    (r"H100 PCIe", "H100 PCIe (HBM2e)", 2000, "NVIDIA H100 datasheet"),
    (r"H100", "H100 SXM (HBM3)", 3350, "NVIDIA H100 datasheet"),
    (r"A100.*80GB.*(SXM|HBM2e)|A100-SXM4-80GB", "A100 80GB SXM", 2039,
     "NVIDIA A100 datasheet"),
    (r"A100.*80GB", "A100 80GB PCIe", 1935, "NVIDIA A100 datasheet"),
    (r"A100", "A100 40GB", 1555, "NVIDIA A100 datasheet"),
    (r"\bA10\b", "A10 (GDDR6)", 600, "NVIDIA A10 datasheet"),
    (r"L40S", "L40S (GDDR6)", 864, "NVIDIA L40S datasheet"),
    (r"\bL4\b", "L4 (GDDR6)", 300, "NVIDIA L4 datasheet"),
    (r"RTX 4090", "GeForce RTX 4090 (GDDR6X)", 1008, "NVIDIA Ada GPU architecture whitepaper"),
    (r"V100", "V100 (HBM2)", 900, "NVIDIA V100 datasheet"),
    (r"\bT4\b", "T4 (GDDR6)", 320, "NVIDIA T4 datasheet"),
)


def gpu_peak_bandwidth(name: str) -> dict[str, Any]:
    """Peak memory bandwidth of a GPU by name (bytes/s and how it was found), or why
    unknown."""
    import re

    for pattern, label, gbytes, source in GPU_BANDWIDTHS:
        if re.search(pattern, name):
            return {"bytes_per_s": gbytes * 1e9, "how": f"{label}: {gbytes:g} GB/s ({source})"}
    return {"unknown": f"no datasheet entry for GPU {name!r}"}


def add_gpu(environment: dict[str, Any], gpu: dict[str, Any]) -> None:
    """Put a GPU record (from a worker's describe()) into the environment, once per
    device, with its datasheet peaks."""
    gpus = environment.setdefault("gpus", [])
    if any(g.get("device") == gpu.get("device") for g in gpus):
        return
    name = str(gpu.get("name", ""))
    gpus.append({**gpu, "peak_flops": gpu_peak_flops(name),
                 "peak_bandwidth": gpu_peak_bandwidth(name)})


def peak_bandwidth_for(environment: dict[str, Any], device: str) -> float | None:
    """A GPU's datasheet memory bandwidth in bytes/s; None on a CPU, whose bandwidth
    depends on the memory populated and is not derivable from what the OS reports."""
    label = normal_device(device)
    for gpu in environment.get("gpus", []):
        if gpu.get("device") == label:
            entry = gpu.get("peak_bandwidth") or {}
            return entry.get("bytes_per_s")
    return None
