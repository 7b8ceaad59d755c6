"""Workloads: the same deep-learning kernels for every backend, in one registry.

The base class and what a workload may declare are in `base`, the tolerances of the
float64 checks in `tolerances`; this module is the registry of the built-in workloads
(each in a module of its own, imported on first use) and of those plugins add.
"""

from __future__ import annotations

from dlbench.registry import Registry
from dlbench.workloads.base import (
    DEFAULT_SEED,
    Check,
    Param,
    Reference,
    TrainingData,
    Workload,
    itemsize,
)
from dlbench.workloads.tolerances import (
    ACCUMULATION_DTYPE,
    UNIT_ROUNDOFF,
    dot_tolerance,
    scaled_check,
)

__all__ = ["ACCUMULATION_DTYPE", "DEFAULT_SEED", "UNIT_ROUNDOFF", "Check", "Param",
           "Reference", "TrainingData", "Workload", "dot_tolerance", "get", "itemsize",
           "names", "register", "scaled_check"]

_BUILTIN_MODULES = ("dlbench.workloads.matmul", "dlbench.workloads.conv2d",
                    "dlbench.workloads.mlp", "dlbench.workloads.cnn",
                    "dlbench.workloads.bandwidth", "dlbench.workloads.transfer",
                    "dlbench.workloads.lstm", "dlbench.workloads.attention",
                    "dlbench.workloads.transformer", "dlbench.workloads.collectives",
                    "dlbench.workloads.ddp")

_REGISTRY: Registry[Workload] = Registry("workload", _BUILTIN_MODULES)
register = _REGISTRY.register
names = _REGISTRY.names


def get(name: str) -> Workload:
    return _REGISTRY.get(name)()
