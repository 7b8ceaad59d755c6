"""End-to-end timing: copy the inputs in, compute, copy the output out.

A GPU kernel's own time hides the bus; what a user with NumPy arrays feels is
host→device copies + compute + device→host copies. `with_transfers` wraps any
workload's kernel so that each call does all three, from ordinary (pageable) host
memory as a user's arrays are, and synchronously, so a sample ends when the result
is back on the host. The logic lives here, over the backend's copy hooks, so that a
CPU test exercises everything but the CUDA copies themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dlbench.kernels import Kernel


def _host_like(backend: Any, x: Any, dtype: str) -> Any:
    host = backend.host_empty(math.prod(x.shape), dtype, False)
    return host.reshape(tuple(x.shape))


def with_transfers(backend: Any, kernel: Kernel, arrays: Mapping[str, Any], dtype: str
                   ) -> Kernel:
    """Each call copies every input (a training step's weights too) from host memory
    into the device arrays the kernel reads, runs it, and copies every output array
    back into host memory. The host copies hold the inputs' values, so the kernel
    computes what it would without the copies, and its output still verifies."""
    copy = backend.copy
    staged = []
    for x in arrays.values():
        host = _host_like(backend, x, dtype)
        copy(host, x, False)
        staged.append((x, host))
    backend.synchronize()
    outputs_on_host: list[Any] = []

    def end_to_end() -> Any:
        for device_array, host in staged:
            copy(device_array, host, False)
        output = kernel()
        parts = output if isinstance(output, tuple | list) else (output,)
        if not outputs_on_host:  # the first call learns the output shapes
            outputs_on_host.extend(_host_like(backend, part, dtype) for part in parts)
        for host, part in zip(outputs_on_host, parts, strict=True):
            copy(host, part, False)
        return output

    return end_to_end
