"""Compiled implementations: what a backend declares about its compiler, and what a
compiled kernel tells the worker.

A library's compiler (torch.compile, JAX's jit, TensorFlow's XLA) builds one of the
library's implementations from another one of the same library, its *eager* kernel. The
three are one kind of implementation: tables, charts and the headline show each as
"<backend>-<device>-compiled" beside the library's eager column, while the result file
keeps exactly what ran — the implementation's own name, and a compiler record (the
frontend, the compiler, its mode, the eager implementation it was built from, and what
compiling did: graphs, graph breaks, recompilations).

Compiling happens inside a kernel's first call, whose latency the worker keeps as
`first_call_s` (the compile time) and never samples. Nothing here imports a library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlbench.kernels import ReportingKernel

# How tables, charts and the headline name every library's compiled implementation.
COMPILED = "compiled"
# Modes of torch.compile (torch's own names); other compilers have one mode, none named.
MODES = ("default", "reduce-overhead", "max-autotune")


@dataclass(frozen=True)
class Compiler:
    """A backend's compiler: the implementation it produces (`impl`), the one it builds it
    from (`eager`), its frontend as a user calls it and the compiler underneath."""

    impl: str
    eager: str
    frontend: str
    name: str


@dataclass(frozen=True)
class CompileOptions:
    """How compiled implementations compile in a run: the mode (torch.compile's) and the
    cache folder — the run's own empty temporary one unless the user names a persistent
    one (`persistent`), so a result never depends on what compiled before it."""

    mode: str = "default"
    cache_dir: str | None = None
    persistent: bool = False

    def record(self) -> dict[str, Any]:
        return {"mode": self.mode, "cache": self.cache_dir if self.persistent else "fresh"}


class CompileRefused(Exception):
    """The compiler could not compile this case; the message is its own reason, in one
    line. The case is skipped with it rather than counted as an error."""


class CompiledKernel(ReportingKernel):
    """A kernel built by a compiler. Its first call compiles; `record()` is the compiler
    record, its note "compiler" (kept in the result's "extra"); `compilations()` counts
    compilations so far, read by the worker around each block of samples: a rise while
    sampling is a recompilation, whose compile time landed in the samples."""

    compiler: Compiler

    def record(self) -> dict[str, Any]:
        return {"frontend": self.compiler.frontend, "compiler": self.compiler.name,
                "eager": self.compiler.eager}

    def notes(self) -> Mapping[str, Any]:
        return {"compiler": self.record()}

    def compilations(self) -> int:
        return 0


def column(label: str, marks: str = "") -> str:
    """The table column of a compiled implementation on backend-device `label`."""
    return f"{label}-{COMPILED}{marks}"


def one_line(exc: BaseException) -> str:
    """An exception's message as one line: its first non-empty line (a compiler's error
    carries pages of context after it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else 'no message'}"

