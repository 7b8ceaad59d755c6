"""One float64 reference per row, shared by the row's workers.

The reference a kernel's output is checked against (a float64 GEMM, a whole float64
training step) depends only on the workload, its parameters and the inputs the backend
was given. Every backend of a row gets the same seeded inputs, and those that round them
alike (float32 everywhere) need the same reference: recomputed in each worker, it was
the largest cost of the default run with five libraries after the samples themselves.

The first worker of a row computes it and leaves it in the run's directory under a hash
of exactly the widened inputs it came from; the others load it. A backend that rounded
its inputs differently (bfloat16 through float32 rather than directly) hashes
differently and computes its own, so sharing never changes what an output is compared
with.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dlbench.workloads import Reference, Workload


def key(workload: str, p: Mapping[str, int], inputs: Mapping[str, np.ndarray]) -> str:
    """A digest of everything a reference depends on: the workload, its parameters and
    every input's name, dtype, shape and bytes."""
    digest = hashlib.sha256(json.dumps([workload, sorted(p.items())]).encode())
    for name in sorted(inputs):
        array = np.ascontiguousarray(inputs[name])
        digest.update(json.dumps([name, array.dtype.str, array.shape]).encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


class ReferenceStore:
    """References kept in `directory` for the other workers of a row; with no
    directory, every reference is computed where it is needed."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    def get(self, workload: Workload, p: Mapping[str, int],
            inputs: Mapping[str, np.ndarray]) -> Reference:
        if self.directory is None or not workload.shared_reference:
            return workload.reference(inputs, p)
        path = self.directory / f"{key(workload.name, p, inputs)}.npz"
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except FileNotFoundError:
            pass
        reference = workload.reference(inputs, p)
        self._save(path, reference)
        return reference

    @staticmethod
    def _save(path: Path, reference: Reference) -> None:
        # Written aside and renamed, so a worker that dies mid-write never leaves a
        # truncated reference for the next one. A failed write (a full disk) only means
        # the next worker computes its own.
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as out:
                np.savez(out, **reference)
            os.replace(partial, path)
        except OSError:
            partial.unlink(missing_ok=True)
