"""The child process that asks one GPU backend's library about CUDA (cuda.probe starts it:
`python -m dlbench.backends.probe NAME`). It starts the library as a worker would (the
backend's environment set before import, its import notices kept), asks the backend's
own `classify_cuda`, and prints the answer as one JSON line."""

from __future__ import annotations

import json
import sys
from typing import Any

from dlbench import backends
from dlbench.backends import DeviceOptions


def answer(name: str) -> dict[str, Any]:
    try:
        backend = backends.get(name, "cuda")
        # Asking must not take the GPU's memory nor fill stderr with start-up notices:
        # the worker's own settings before import see to both.
        backend.prepare_env(DeviceOptions())
        library = backends.import_library(backend)
    except Exception as exc:  # an unknown name, ImportError, a broken native extension
        return {"ok": False, "reason": str(exc)}
    try:
        return type(backend).classify_cuda(library)
    except Exception as exc:
        return {"ok": False, "reason": f"{backend.library} CUDA probe failed: "
                                       f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    print(json.dumps(answer(sys.argv[1])))
