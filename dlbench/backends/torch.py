"""PyTorch on the CPU (this file) — the CUDA device lives in the GPU issue's code."""

from __future__ import annotations

import re
from typing import Any

from dlbench.backends import Backend, register

TORCH_DTYPES = ("float32", "float64", "float16", "bfloat16")


@register
class TorchBackend(Backend):
    name = "torch"
    library = "torch"
    devices = ("cpu",)
    dtypes = TORCH_DTYPES

    @property
    def _torch(self) -> Any:
        import torch

        return torch

    @property
    def xp(self) -> Any:
        import array_api_compat.torch

        return array_api_compat.torch

    def asarray(self, host: Any, dtype: str) -> Any:
        torch = self._torch
        tensor = torch.from_numpy(host).to(device=self.device, dtype=getattr(torch, dtype))
        return tensor.contiguous()

    def to_numpy(self, x: Any) -> Any:
        torch = self._torch
        x = x.detach()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.to(torch.float32)
        return x.cpu().numpy().copy()

    def set_threads(self, threads: int | None) -> None:
        if threads:
            self._torch.set_num_threads(threads)

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
        }
