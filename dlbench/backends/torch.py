"""PyTorch on the CPU and on CUDA GPUs (`cuda`, `cuda:N`)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dlbench.backends import Backend, DeviceOptions, cuda, register, torch_compile
from dlbench.kernels import Kernel, Source
from dlbench.timers import Event, LibraryEvent

TORCH_DTYPES = ("float32", "float64", "float16", "bfloat16")


@register
class TorchBackend(Backend):
    name = "torch"
    library = "torch"
    devices = ("cpu", "cuda")
    dtypes = TORCH_DTYPES
    install_hint = "pip install 'dlbench[torch]'"
    # torch.compile of the native kernel (dlbench.backends.torch_compile).
    derived = {"compiled": "native"}
    compiler = torch_compile.INDUCTOR

    @property
    def _torch(self) -> Any:
        import torch

        return torch

    @classmethod
    def cuda_unavailable(cls) -> str | None:
        """A CPU-only build is recognised from its files: it ships no torch_cuda library
        (the check costs microseconds; importing torch 1.4 s)."""
        return super().cuda_unavailable() or torch_cpu_build()

    @classmethod
    def classify_cuda(cls, library: Any) -> dict[str, Any]:
        """A CPU torch says "Torch not compiled with CUDA enabled"; a CUDA torch without
        a driver raises "Found no NVIDIA driver on your system" at init."""
        torch = library
        info: dict[str, Any] = {"version": torch.__version__, "cuda": torch.version.cuda}
        if torch.version.cuda is None:
            return {"ok": False, "info": info, "reason":
                    f"torch {torch.__version__} is a CPU-only build (Torch not compiled with "
                    "CUDA enabled)"}
        if not torch.cuda.is_available():
            try:
                torch.cuda.init()  # raises with the library's own reason
                reason = "torch sees no CUDA device" + cuda.visible_note()
            except Exception as exc:
                reason = cuda.first_line(exc)
            return {"ok": False, "info": info, "reason": reason}
        devices = []
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            devices.append({"index": i, "name": props.name, "total_bytes": props.total_memory})
        return {"ok": True, "info": info, "devices": devices}

    def asarray(self, host: Any, dtype: str) -> Any:
        torch = self._torch
        # Cast on the host first: a float64 array copied to the GPU would be 2-4x the bytes.
        tensor = torch.from_numpy(host).to(dtype=getattr(torch, dtype))
        return tensor.to(device=self.device).contiguous()

    def to_numpy(self, x: Any) -> Any:
        torch = self._torch
        x = x.detach()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.to(torch.float32)
        return x.cpu().numpy().copy()

    def synchronize(self) -> None:
        if self.is_cuda:
            self._torch.cuda.synchronize()

    # -- torch.compile (dlbench.backends.torch_compile) ----------------------------------
    def prepare_env(self, options: DeviceOptions) -> None:
        super().prepare_env(options)
        torch_compile.use_cache(options.compile)

    def compiler_ready(self) -> tuple[bool, str]:
        found, why = torch_compile.cxx_compiler()
        return found is not None, why

    def compiler_summary(self) -> str:
        found, _ = torch_compile.cxx_compiler()
        summary = super().compiler_summary()
        return f"{summary}, C++ compiler {found}" if found else summary

    def build(self, impl: str, workload: Source, arrays: Mapping[str, Any],
              p: Mapping[str, int]) -> Kernel:
        if impl != "compiled":
            return super().build(impl, workload, arrays, p)
        native = workload.natives[self.name]
        # Weighed against the native column where that is measured, else the portable.
        eager = "native" if native.offered_on(self.device) else "portable"
        return self.compile(native.build(self, arrays, p), eager)

    def compile(self, kernel: Kernel, eager: str) -> torch_compile.TorchCompiled:
        """`kernel` under torch.compile with the run's mode and cache, weighed against the
        `eager` implementation."""
        return torch_compile.TorchCompiled(kernel, self.options.compile, self.device, eager)

    def set_threads(self, threads: int | None) -> None:
        if threads:
            self._torch.set_num_threads(threads)

    # -- CUDA --------------------------------------------------------------------------------
    def setup(self) -> None:
        if not self.is_cuda:
            return
        torch = self._torch
        torch.cuda.set_device(cuda.device_index(self.device))
        tf32 = self.options.tf32
        # Set every flag, both libraries' way, so a float32 "speedup" is never partly a
        # precision change (TF32 defaults differ between libraries and versions); only the
        # legacy API, since torch refuses a mix of the legacy and the fp32_precision APIs.
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        # Reductions of float16/bfloat16 GEMMs stay in float32, the accumulation the
        # verification tolerance assumes (workloads.ACCUMULATION_DTYPE).
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
        torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
        # cuDNN picks the fastest algorithm per shape, as tuned training code does; the
        # autotuning lands in a case's first call, kept apart from its samples (P5).
        torch.backends.cudnn.benchmark = True
        # Context, cuBLAS and cuDNN handles now, not inside the first case.
        a = torch.ones((64, 64), device=self.device)
        (a @ a).sum().item()
        if torch.backends.cudnn.is_available():
            x = torch.ones((1, 4, 8, 8), device=self.device)
            torch.nn.functional.conv2d(x, torch.ones((4, 4, 3, 3), device=self.device)).sum()
        torch.cuda.synchronize()

    def math_state(self) -> dict[str, Any]:
        torch = self._torch
        state: dict[str, Any] = {
            "float32_matmul_precision": torch.get_float32_matmul_precision()}
        if self.is_cuda:
            matmul = torch.backends.cuda.matmul
            state.update({
                "matmul_allow_tf32": bool(matmul.allow_tf32),
                "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
                "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
                "allow_fp16_reduced_precision_reduction":
                    bool(matmul.allow_fp16_reduced_precision_reduction),
                "allow_bf16_reduced_precision_reduction":
                    bool(matmul.allow_bf16_reduced_precision_reduction),
            })
        return state

    def float32_math(self) -> str:
        if not self.is_cuda:
            return "ieee"
        state = self.math_state()
        tf32 = (state["matmul_allow_tf32"] or state["cudnn_allow_tf32"]
                or state["float32_matmul_precision"] != "highest")
        capability = self._torch.cuda.get_device_capability(cuda.device_index(self.device))
        return cuda.effective_float32_math(tf32, capability, os.environ, torch_library=True)

    def memory_free(self) -> int | None:
        if not self.is_cuda:
            return None
        cuda_ = self._torch.cuda
        free, _ = cuda_.mem_get_info()
        # Blocks torch's caching allocator holds but no tensor uses are free to this case.
        return int(free + cuda_.memory_reserved() - cuda_.memory_allocated())

    def reset_peak_memory(self) -> None:
        if self.is_cuda:
            self._torch.cuda.reset_peak_memory_stats()

    def peak_memory(self) -> int | None:
        return int(self._torch.cuda.max_memory_allocated()) if self.is_cuda else None

    def free_cached(self) -> None:
        if self.is_cuda:
            self._torch.cuda.empty_cache()

    def new_event(self) -> Event:
        return LibraryEvent(self._torch.cuda.Event(enable_timing=True),
                            lambda start, end: start.elapsed_time(end))

    def l2_bytes(self) -> int | None:
        props = self._torch.cuda.get_device_properties(cuda.device_index(self.device))
        return getattr(props, "L2_cache_size", None)

    def fill_zero(self, buffer: Any) -> None:
        buffer.zero_()  # a memset writing every byte

    def capture(self, fn: Callable[[], object], calls: int) -> Callable[[], object]:
        torch = self._torch
        # torch's recipe: one call on a side stream first (lazy allocations and library
        # workspaces happen outside the capture), then capture on torch.cuda.graph's own
        # stream into its private memory pool.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls):
                fn()
        return graph.replay  # launches on the current stream, between the timer's events

    def host_empty(self, n: int, dtype: str, pinned: bool) -> Any:
        torch = self._torch
        return torch.empty(n, dtype=getattr(torch, dtype), pin_memory=pinned)

    def device_empty(self, n: int, dtype: str) -> Any:
        torch = self._torch
        return torch.empty(n, dtype=getattr(torch, dtype), device=self.device)

    def copy(self, dst: Any, src: Any, non_blocking: bool) -> None:
        # A copy is data movement, not a step autograd should see: a native training
        # step's weights are leaves that require grad, and in-place writes to them
        # outside no_grad are refused.
        with self._torch.no_grad():
            dst.copy_(src, non_blocking=non_blocking)

    def _gpu_record(self) -> dict[str, Any]:
        torch = self._torch
        index = cuda.device_index(self.device)
        props = torch.cuda.get_device_properties(index)
        free, total = torch.cuda.mem_get_info(index)
        bus = (cuda.pci_bus_id(props.pci_domain_id, props.pci_bus_id, props.pci_device_id)
               if hasattr(props, "pci_bus_id") else None)
        record = {
            "device": f"cuda:{index}", "name": props.name, "memory_total_bytes": total,
            "memory_free_bytes": free, "compute_capability": f"{props.major}.{props.minor}",
            "sm_count": props.multi_processor_count,
            "l2_bytes": getattr(props, "L2_cache_size", None), "pci_bus_id": bus,
            "cuda_runtime": torch.version.cuda,
            "cuda_driver": cuda.version_text(cuda.driver_version()),
            "cublas": _cublas_version(),
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available()
            else None,
            "source": "torch",
        }
        return {**record, **cuda.nvml_record(bus, index)}

    def describe(self) -> dict[str, Any]:
        torch = self._torch
        config = torch.__config__.show()
        # MKL is linked statically into torch, so threadpoolctl cannot see it: read
        # torch's own build and parallel configuration instead.
        found = dict(re.findall(r"(BLAS_INFO|LAPACK_INFO)=([^,\s]+)", config))
        capability = re.search(r"CPU capability usage: (\S+)", config)
        parallel = torch.__config__.parallel_info()
        backend = re.search(r"ATen parallel backend: (.+)", parallel)
        return {
            "version": torch.__version__,
            "blas": found.get("BLAS_INFO"),
            "lapack": found.get("LAPACK_INFO"),
            "cpu_capability": capability.group(1) if capability else None,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "parallel_backend": backend.group(1).strip() if backend else None,
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "compiler": self.compiler_summary(),
            "math": self.math_state(),
            **({"gpu": self._gpu_record()} if self.is_cuda else {}),
        }


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


def _cublas_version() -> str | None:
    """cuBLAS's version from the wheel torch loads it from (pip CUDA builds ship it as
    nvidia-cublas-cu12 / nvidia-cublas); torch has no public call for it."""
    for dist in ("nvidia-cublas-cu12", "nvidia-cublas-cu13", "nvidia-cublas"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
