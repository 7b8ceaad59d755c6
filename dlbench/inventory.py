"""What every backend says about itself: versions, BLAS, threads and its GPU.

CPU backends describe themselves in this process (importing their library: `dlbench
env` is the one command that may pay for that). A GPU backend is asked in a spawned
child, so that CUDA is never initialised in the asking process (a process that forks
after CUDA is initialised cannot use CUDA in the child: asv's "cuda init error"), and so
is a library whose settings are fixed for its process at import (JAX's float64 and
platform, TensorFlow's threads): what it says is what a worker of the run would see.
"""

from __future__ import annotations

from typing import Any

from dlbench import backends, worker
from dlbench.backends import Backend
from dlbench.process import WorkerProcess


def describe_backends() -> dict[str, Any]:
    """Every backend and device the registry knows: what it says, or why it is unavailable."""
    described: dict[str, Any] = {}
    for target in backends.all_targets():
        ok, reason = target.available()
        if not ok:
            described[target.label] = {"available": False, "reason": reason}
            continue
        try:
            described[target.label] = {"available": True, **_describe(target)}
        except Exception as exc:  # a broken library is a reason, not a crash
            described[target.label] = {"available": False, "reason": str(exc)}
    return described


def _describe(target: Backend) -> dict[str, Any]:
    if target.device == "cpu" and not target.process_settings:
        backends.import_library(target)
        return target.describe()
    child = WorkerProcess(target.label)
    try:
        return child.call(worker.describe_only, target.name, target.device)
    finally:
        child.stop()
