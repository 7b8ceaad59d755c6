"""The contract between a workload and a backend: kernels, natives and implementations.

A *kernel* is what is timed: a callable of no arguments that runs the work once and
returns its output (one array, or the tuple of arrays a training step updated).

A workload's kernels come as *implementations*, the `impl` of a case:

- ``portable``: the workload's one kernel written against the Python array API
  (`Workload.portable(xp, arrays, p)`), run by every backend whose library the array API
  reaches (`Backend.portable`).
- ``native``: a kernel in one library's own API, registered on the workload by the
  decorator `Workload.native(BackendClass)` on the function that builds it.
- others that a backend's compiler derives from one of those (`Backend.derived`, built
  by `Backend.build`): a jit-compiled portable kernel, a native compiled whole.

Each library takes natives of one *kind*, its Backend's `native_kind`, and each kind has
one signature, checked when the decorator runs (at import of the workload's module):

=================  ========================================  ==========================
kind               the registered function                   what the backend does
=================  ========================================  ==========================
`KernelNative`     ``build(backend, arrays, p) -> Kernel``   times the kernel
`StepNative`       ``build(backend, arrays, p) -> Step``     runs the step's body
                                                             eagerly, or compiles it
`FunctionNative`   ``build(p) -> fn``, ``fn(arrays) -> out``  traces and compiles the
                                                             pure function of the arrays
=================  ========================================  ==========================

`arrays` are the case's inputs on the backend (by name, as the workload's `inputs`
made them), `p` its parameters, `backend` the Backend object of the worker.

A kernel that has more to say than its output is a `ReportingKernel`: its `notes()`
(after the first call: what a compiler counted, which algorithm a library chose) go to
the result's "extra" object, and `canonical(output)` turns an output kept in a
library's preferred layout into the one the workload's reference checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

Kernel = Callable[[], Any]


class ReportingKernel:
    """A kernel that says more about itself than its output (see the module's docstring)."""

    def __call__(self) -> Any:
        raise NotImplementedError

    def notes(self) -> Mapping[str, Any]:
        """What the kernel learnt about itself by its first call (kept in "extra")."""
        return {}

    def canonical(self, output: Any) -> Any:
        """The output in the layout the workload's reference checks."""
        return output


def notes(kernel: Kernel) -> dict[str, Any]:
    return dict(kernel.notes()) if isinstance(kernel, ReportingKernel) else {}


def canonical(kernel: Kernel, output: Any) -> Any:
    return kernel.canonical(output) if isinstance(kernel, ReportingKernel) else output


@dataclass(frozen=True)
class Step:
    """What a `StepNative` builds: `body` runs the computation and returns its output, or,
    for a training step, updates `state` (the library's variables) and returns nothing;
    `canonical` turns the output or the state into the workload's layout."""

    body: Callable[[], Any]
    state: tuple[Any, ...] | None = None
    canonical: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Native:
    """A workload's kernel in one library's own API: the function that builds it, and the
    devices it is measured on (None: every device of the backend)."""

    build: Callable[..., Any]
    devices: tuple[str, ...] | None = None
    # The registered function's positional parameters: one signature per kind.
    parameters: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        required = [p.name for p in inspect.signature(self.build).parameters.values()
                    if p.default is p.empty
                    and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(required) != len(self.parameters):
            name = self.build.__qualname__ if inspect.isfunction(self.build) else self.build
            raise TypeError(f"{name}: a {type(self).__name__} is build("
                            f"{', '.join(self.parameters)}), not ({', '.join(required)})")

    def offered_on(self, device: str | None) -> bool:
        """Whether it is measured on `device` (cpu, cuda, cuda:N; None: on any device)."""
        return device is None or self.devices is None or device.split(":")[0] in self.devices


class KernelNative(Native):
    """build(backend, arrays, p) -> Kernel: the library's own call bound to the arrays."""

    parameters = ("backend", "arrays", "p")


class StepNative(Native):
    """build(backend, arrays, p) -> Step: a body the backend runs eagerly or compiles."""

    parameters = ("backend", "arrays", "p")


class FunctionNative(Native):
    """build(p) -> fn: a pure function of the arrays (by name) that the backend compiles."""

    parameters = ("p",)


class Source(Protocol):
    """What a backend needs of a workload to build its kernels (workloads.Workload)."""

    natives: Mapping[str, Native]
    # The arrays a call updates, in the order it returns their new values.
    updates: tuple[str, ...]

    def portable(self, xp: Any, arrays: Mapping[str, Any], p: Mapping[str, int]) -> Kernel:
        ...
