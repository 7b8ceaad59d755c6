"""numexpr on the CPU: NumPy's arrays, elementwise expressions compiled by numexpr's
virtual machine and run on its own thread pool, in cache-sized chunks.

numexpr is no array namespace: it evaluates expressions over NumPy arrays. So the
portable kernels do not run here (they would be NumPy's own, a second NumPy column);
what runs is each workload's numexpr native: the built-in `bandwidth` (a·x + y in one
pass), registered below, and the fused MLP layer of this package (fused_mlp.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench.backends.numpy import NumpyBackend
from dlbench.kernels import Kernel
from dlbench.workloads.bandwidth import ALPHA, Bandwidth

# numexpr evaluates in blocks of this many elements per thread; a length that is no
# multiple of it costs one short block.
WARM_UP_ELEMENTS = 1 << 20


class NumexprBackend(NumpyBackend):
    """NumPy's arrays and BLAS (asarray, to_numpy and threads as NumPy's backend has
    them), with numexpr's own thread pool beside them."""

    name = "numexpr"
    library = "numexpr"
    distributions = ()
    devices = ("cpu",)
    dtypes = ("float32", "float64")  # numexpr computes no float16
    portable = False
    table_note = ("numexpr: native only (NumPy's arrays; the portable kernels would be "
                  "NumPy's own column again)")
    install_hint = "pip install numexpr"

    def set_threads(self, threads: int | None) -> None:
        import numexpr

        super().set_threads(threads)  # NumPy's BLAS, which the natives' products use
        if threads:
            numexpr.set_num_threads(threads)

    def warm_up_kernel(self) -> Kernel:
        import numexpr

        x = np.ones(WARM_UP_ELEMENTS, dtype=np.float32)
        out = np.empty_like(x)
        return lambda: numexpr.evaluate("2 * x + 1", local_dict={"x": x}, out=out)

    def describe(self) -> dict[str, Any]:
        import numexpr

        return {"version": numexpr.__version__, "threads": numexpr.get_num_threads(),
                "vml": bool(numexpr.use_vml), "numpy": np.__version__}


@Bandwidth.native(NumexprBackend)
def numexpr_bandwidth(backend: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
    """a·x + y in one pass over x and y into an output allocated once."""
    import numexpr

    x, y = arrays["x"], arrays["y"]
    z = np.empty_like(x)
    names = {"a": x.dtype.type(ALPHA), "x": x, "y": y}
    return lambda: numexpr.evaluate("a * x + y", local_dict=names, out=z)
