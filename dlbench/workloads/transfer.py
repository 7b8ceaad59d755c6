"""transfer: host→device and device→host copy bandwidth, from pageable and pinned memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.kernels import Kernel
from dlbench.workloads import register
from dlbench.workloads.base import DEFAULT_SEED, Check, Param, Reference, Workload

# impl -> (direction, pinned). Pageable copies go through a driver staging buffer and
# are synchronous; pinned ones are DMA straight from/to the host buffer and may be
# asynchronous — the gap between the two is what this workload shows.
IMPLS = {
    "h2d-pageable": ("h2d", False),
    "h2d-pinned": ("h2d", True),
    "d2h-pageable": ("d2h", False),
    "d2h-pinned": ("d2h", True),
}



@register
class Transfer(Workload):
    name = "transfer"
    description = "host↔device copy bandwidth, pageable and pinned (GPU only)"
    params = (Param("n", 2**24, "elements copied (2^24 float32 = 64 MiB)"),)
    size_params = ("n",)
    flops_formula = "0 (bytes: n·itemsize per copy)"
    shared_reference = False  # the reference is the input itself
    device_kernels = False  # the copies themselves, timed as the copy engine does them

    def flops(self, p: Mapping[str, int]) -> float:
        return 0.0

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return float(p["n"] * itemsize)

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        # host buffer + source and destination on the device + float64 input and output
        return float(p["n"] * (3 * itemsize + 2 * 8))

    def device_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        """Device memory a case needs: the source and the destination of an h2d copy."""
        return float(2 * p["n"] * itemsize)

    def impls_for(self, backend_name: str, device: str | None = None) -> tuple[str, ...]:
        return tuple(IMPLS)

    def supports(self, backend: Any) -> tuple[bool, str]:
        if backend.device == "cpu":
            return False, (f"transfer copies between host and GPU memory; {backend.label} "
                           "has no GPU")
        if "transfer" not in backend.gpu_modes:  # the copies --include-transfer times too
            return False, (f"{backend.name} has no pinned host buffers nor copies into an "
                           "existing device buffer to time")
        return True, ""

    def inputs(self, p: Mapping[str, int], seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        return {"x": np.random.default_rng(seed).standard_normal(p["n"])}

    def kernel(self, impl: str, backend: Any, arrays: Mapping[str, Any],
               p: Mapping[str, int]) -> Kernel:
        if impl not in IMPLS:
            return super().kernel(impl, backend, arrays, p)
        direction, pinned = IMPLS[impl]
        x = arrays["x"]  # on the device
        dtype = str(x.dtype).removeprefix("torch.")
        host = backend.host_empty(p["n"], dtype, pinned)
        copy = backend.copy
        if direction == "h2d":
            copy(host, x, False)  # the host side holds the same values as the input
            backend.synchronize()
            device = backend.device_empty(p["n"], dtype)

            def h2d() -> Any:
                copy(device, host, pinned)
                return device

            return h2d

        def d2h() -> Any:
            copy(host, x, pinned)
            return host

        return d2h

    def reference(self, inputs: Mapping[str, np.ndarray], p: Mapping[str, int]) -> Reference:
        return {"x": inputs["x"]}

    def compare(self, output: np.ndarray, reference: Reference, p: Mapping[str, int],
                dtype: str, float32_math: str = "ieee") -> Check:
        """A copy is exact: any difference at all is a wrong result."""
        expected = reference["x"]
        out = np.asarray(output, dtype=np.float64)
        if out.shape != expected.shape:
            return Check(False, float("inf"), float("inf"), 0.0)
        diff = float(np.max(np.abs(out - expected))) if out.size else 0.0
        return Check(ok=diff == 0.0, max_abs_err=diff, max_rel_err=diff, tol=0.0)
