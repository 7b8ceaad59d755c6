"""NumPy on the CPU: the baseline every speedup is measured against by default."""

from __future__ import annotations

import os
from typing import Any

from dlbench.backends import Backend, register

# Environment variables that change which OpenBLAS kernel runs (some make it 3× slower):
# recorded, never set.
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@register
class NumpyBackend(Backend):
    name = "numpy"
    library = "numpy"
    env_vars = OPENBLAS_ENV
    devices = ("cpu",)
    dtypes = ("float32", "float64", "float16")

    _limiter: Any = None

    def asarray(self, host: Any, dtype: str) -> Any:
        import numpy as np

        return np.ascontiguousarray(host, dtype=np.dtype(dtype))

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        return np.array(x, copy=True)

    def set_threads(self, threads: int | None) -> None:
        from threadpoolctl import threadpool_limits

        # Keep the limiter alive: threadpoolctl restores the old limits when it is freed.
        NumpyBackend._limiter = threadpool_limits(limits=threads) if threads else None

    def describe(self) -> dict[str, Any]:
        return {"version": self.version(), "blas": blas_info(),
                "env": {k: os.environ[k] for k in self.env_vars if k in os.environ}}


def blas_info() -> list[dict[str, Any]]:
    """BLAS/OpenMP libraries loaded in this process, as threadpoolctl sees them."""
    import numpy  # noqa: F401 - loads NumPy's BLAS so threadpoolctl can see it
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: lib.get(k) for k in keep} for lib in threadpool_info()]
