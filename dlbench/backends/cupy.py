"""CuPy on CUDA GPUs (`cuda`, `cuda:N`): NumPy's API on the device."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dlbench.backends import Backend, DeviceOptions, cuda, register
from dlbench.machine import CUPY_DISTRIBUTIONS
from dlbench.timers import Event, LibraryEvent


@register
class CupyBackend(Backend):
    name = "cupy"
    library = "cupy"
    distributions = CUPY_DISTRIBUTIONS
    env_vars = ("CUPY_TF32",)
    devices = ("cuda",)
    # NumPy, hence CuPy, has no bfloat16.
    dtypes = ("float32", "float64", "float16")
    install_hint = "pip install 'dlbench[cupy]'"

    @property
    def _cupy(self) -> Any:
        import cupy

        return cupy

    def installed(self) -> tuple[bool, str]:
        ok, _ = super().installed()
        return (True, "") if ok else (False, "cupy is not installed (e.g. cupy-cuda12x)")

    @classmethod
    def classify_cuda(cls, library: Any, load_library: Any = None) -> dict[str, Any]:
        """`cupy.cuda.runtime.driverGetVersion()` is 0 without a driver (and creates no
        context: a safe first question); then the devices, and the CUDA libraries CuPy
        loads on first use."""
        runtime = library.cuda.runtime
        driver = runtime.driverGetVersion()
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
                    + cuda.visible_note()}
        devices = []
        for i in range(count):
            props = runtime.getDeviceProperties(i)
            name = props.get("name", b"?")
            devices.append({"index": i, "total_bytes": props.get("totalGlobalMem"),
                            "name": name.decode() if isinstance(name, bytes) else name})
        missing = _missing_library(load_library or _load_nvidia_library)
        if missing:
            return {"ok": False, "info": info, "devices": devices, "reason": missing}
        return {"ok": True, "info": info, "devices": devices}

    def asarray(self, host: Any, dtype: str) -> Any:
        import numpy as np

        # Cast on the host: a float64 copy would move 2-4x the bytes over the bus.
        return self._cupy.asarray(np.ascontiguousarray(host, dtype=np.dtype(dtype)))

    def to_numpy(self, x: Any) -> Any:
        return self._cupy.asnumpy(x).copy()

    def synchronize(self) -> None:
        self._cupy.cuda.get_current_stream().synchronize()

    def set_threads(self, threads: int | None) -> None:
        """CuPy runs its kernels on the device; host threads are not its to set."""

    def prepare_env(self, options: DeviceOptions) -> None:
        super().prepare_env(options)
        # CuPy reads CUPY_TF32 when it creates its cuBLAS handle: set it before import so
        # float32 GEMMs use the same math as torch's flags say (CuPy uses TF32 only when asked).
        os.environ["CUPY_TF32"] = "1" if self.options.tf32 else "0"

    def setup(self) -> None:
        cupy = self._cupy
        cupy.cuda.Device(cuda.device_index(self.device)).use()
        # Context and cuBLAS handle now, not inside the first case. (Elementwise kernels
        # compile per kernel on first call: that cost is each case's first-call time.)
        import numpy as np

        a = cupy.asarray(np.ones((64, 64), dtype=np.float32))
        cupy.matmul(a, a)
        self.synchronize()

    def math_state(self) -> dict[str, Any]:
        return {"cupy_tf32": os.environ.get("CUPY_TF32")}

    def float32_math(self) -> str:
        try:
            flag = int(os.environ.get("CUPY_TF32", "0")) > 0
        except ValueError:
            flag = False
        props = self._cupy.cuda.runtime.getDeviceProperties(cuda.device_index(self.device))
        capability = (int(props.get("major", 0)), int(props.get("minor", 0)))
        return cuda.effective_float32_math(flag, capability, os.environ)

    def memory_free(self) -> int | None:
        cupy = self._cupy
        free, _ = cupy.cuda.runtime.memGetInfo()
        # Blocks the memory pool holds but no array uses are free to this case.
        return int(free + cupy.get_default_memory_pool().free_bytes())

    def reset_peak_memory(self) -> None:
        # The pool keeps every block it grew to until freed: emptied here, the bytes it
        # holds after a case are that case's high-water mark.
        self._cupy.get_default_memory_pool().free_all_blocks()

    def peak_memory(self) -> int | None:
        return int(self._cupy.get_default_memory_pool().total_bytes())

    def free_cached(self) -> None:
        self._cupy.get_default_memory_pool().free_all_blocks()
        self._cupy.get_default_pinned_memory_pool().free_all_blocks()

    def new_event(self) -> Event:
        cupy = self._cupy
        return LibraryEvent(cupy.cuda.Event(), cupy.cuda.get_elapsed_time)

    def l2_bytes(self) -> int | None:
        runtime = self._cupy.cuda.runtime
        return runtime.deviceGetAttribute(runtime.cudaDevAttrL2CacheSize,
                                          cuda.device_index(self.device))

    def capture(self, fn: Callable[[], object], calls: int) -> Callable[[], object]:
        cupy = self._cupy
        fn()  # lazy work (kernel compilation, pool growth) before the capture, not in it
        self.synchronize()
        stream = cupy.cuda.Stream(non_blocking=True)  # the legacy stream cannot capture
        with stream:
            stream.begin_capture()
            try:
                for _ in range(calls):
                    fn()
            finally:
                graph = stream.end_capture()
        graph.upload()
        return graph.launch  # on the current stream, between the timer's events

    def fill_zero(self, buffer: Any) -> None:
        # fill(0) on a contiguous array is cudaMemsetAsync: no kernel to compile (the
        # wheels bundle no NVRTC), and every byte is written.
        buffer.fill(0)

    def host_empty(self, n: int, dtype: str, pinned: bool) -> Any:
        import numpy as np

        if pinned:
            import cupyx

            return cupyx.empty_pinned((n,), dtype=np.dtype(dtype))
        return np.empty(n, dtype=np.dtype(dtype))

    def device_empty(self, n: int, dtype: str) -> Any:
        return self._cupy.empty(n, dtype=dtype)

    def copy(self, dst: Any, src: Any, non_blocking: bool) -> None:
        cupy = self._cupy
        stream = cupy.cuda.get_current_stream() if non_blocking else None
        if isinstance(dst, cupy.ndarray):
            dst.set(src, stream=stream)  # host -> device; async only from pinned memory
        else:
            src.get(stream=stream, out=dst, blocking=not non_blocking)  # device -> host

    def describe(self) -> dict[str, Any]:
        cupy = self._cupy
        runtime = cupy.cuda.runtime
        index = cuda.device_index(self.device)
        props = runtime.getDeviceProperties(index)
        free, total = runtime.memGetInfo()
        bus = runtime.deviceGetPCIBusId(index)
        name = props.get("name", b"?")
        gpu = {
            "device": f"cuda:{index}",
            "name": name.decode() if isinstance(name, bytes) else name,
            "memory_total_bytes": total, "memory_free_bytes": free,
            "compute_capability": f"{props.get('major')}.{props.get('minor')}",
            "sm_count": props.get("multiProcessorCount"),
            "l2_bytes": props.get("l2CacheSize"),
            # kHz in cudaDeviceProp; CUDA 13 dropped the field (NVML has it then).
            "sm_clock_max_mhz": props["clockRate"] / 1000 if props.get("clockRate") else None,
            "pci_bus_id": bus.lower() if isinstance(bus, str) else bus,
            "cuda_runtime": cuda.version_text(runtime.runtimeGetVersion()),
            "cuda_driver": cuda.version_text(runtime.driverGetVersion()),
            "cublas": _cublas_version(cupy), "cudnn": _cudnn_version(),
            "source": "cupy",
        }
        gpu.update(cuda.nvml_record(gpu["pci_bus_id"], index))
        return {"version": self.version(), "math": self.math_state(), "gpu": gpu}


# CuPy 14 wheels bundle neither: cuBLAS serves every GEMM, NVRTC compiles every
# elementwise kernel, and both come from the CUDA toolkit or `cupy-cuda12x[ctk]`.
CUPY_NEEDS = ("cublas", "nvrtc")


def _load_nvidia_library(name: str) -> None:
    from cuda import pathfinder  # CuPy's own loader (cuda-pathfinder, a CuPy dependency)

    pathfinder.load_nvidia_dynamic_lib(name)


def _missing_library(load_library: Any) -> str | None:
    """Why CuPy cannot load a CUDA library it needs, or None."""
    for library in CUPY_NEEDS:
        try:
            load_library(library)
        except ModuleNotFoundError:
            return None  # no cuda-pathfinder (CuPy < 14) to ask: a first kernel will tell
        except Exception as exc:
            return (f"CuPy cannot load {library} ({cuda.first_line(exc)}); install "
                    "'cupy-cuda12x[ctk]' or the CUDA toolkit")
    return None


def _cublas_version(cupy: Any) -> int | None:
    try:
        from cupy_backends.cuda.libs import cublas

        return int(cublas.getVersion(cupy.cuda.device.get_cublas_handle()))
    except Exception:  # an older CuPy without the call
        return None


def _cudnn_version() -> int | None:
    try:
        from cupy_backends.cuda.libs import cudnn

        return int(cudnn.getVersion())
    except Exception:  # CuPy without its optional cuDNN
        return None
