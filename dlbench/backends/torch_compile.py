"""torch.compile in dlbench, in one place: the compiled implementation of torch's native
kernels, the C++ compiler Inductor needs, the run's own cache folder, and what compiling
did (graphs, graph breaks, recompilations), read from Dynamo's counters.

What is compiled is the native kernel as it is: a function of the case's tensors, or a
whole training step — zero_grad, forward, loss, backward and the optimizer's update —
as PyTorch's own benchmark harness compiles its training iteration (benchmarks/dynamo:
`forward_and_backward_pass` runs zero_grad, the model, the loss, backward and
`optimizer_step` under torch.compile). The optimizer step is therefore inside the
compiled region: Dynamo cannot trace `Tensor.backward()` (a graph break; AOTAutograd
compiles the backward of the forward graph), and compiles the update as a graph of its
own after it. The graph breaks this costs are counted and recorded with the result.

Modes are torch's: "default", "reduce-overhead" (CUDA graphs on a GPU; on a CPU Inductor
has none and compiles as default) and "max-autotune". Shapes are static
(`dynamic=False`): each case is one shape, and Dynamo's automatic dynamic shapes would
otherwise compile a second, shape-generic kernel for the second size of a sweep.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from dlbench.compilers import CompiledKernel, CompileOptions, Compiler, CompileRefused, one_line

INDUCTOR = Compiler(impl="compiled", eager="native", frontend="torch.compile", name="inductor")
# Graph-break reasons kept in a result's compiler record (each one line).
MAX_REASONS = 5
# Seconds `<cxx> --version` may take before the compiler counts as not working.
VERSION_TIMEOUT_S = 20
# A warning Dynamo prints once per worker on a compiled training step, which tells a
# user nothing: torch's Optimizer.step wraps itself in a profiler annotation
# (record_function) that Dynamo drops, as it should while nothing profiles.
PROFILER_LOGGER = "torch._dynamo.variables.ctx_manager"
PROFILER_WARNING = "Profiler record function"


def cxx_command() -> str:
    """The C++ compiler Inductor runs, as it picks it (torch/_inductor/config.py,
    `cpp.cxx`): $CXX, else clang++ on macOS and g++ elsewhere."""
    return os.environ.get("CXX", "clang++" if sys.platform == "darwin" else "g++")


def cxx_compiler() -> tuple[str | None, str]:
    """(the compiler and its version, "") when it works, else (None, why not)."""
    return _probe(cxx_command())


@functools.lru_cache(maxsize=8)
def _probe(cxx: str) -> tuple[str | None, str]:
    # Inductor's own test of a compiler (torch/_inductor/cpp_builder.py,
    # cpp_compiler_search): `<cxx> --version` runs and exits 0.
    try:
        done = subprocess.run([cxx, "--version"], capture_output=True, text=True,
                              timeout=VERSION_TIMEOUT_S, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return None, (f"torch.compile (Inductor) needs a working C++ compiler: {cxx} "
                      f"--version failed ({why}); install g++ or set CXX")
    version = next((line.strip() for line in done.stdout.splitlines() if line.strip()), "")
    named = version.startswith(os.path.basename(cxx))
    return version if named else (f"{cxx} ({version})" if version else cxx), ""


def use_cache(options: CompileOptions) -> str | None:
    """Point Inductor's (and Triton's) caches at the run's folder, before torch is
    imported. Returns the folder, None where the run named none."""
    if options.cache_dir:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = options.cache_dir
        os.environ["TRITON_CACHE_DIR"] = os.path.join(options.cache_dir, "triton")
    return options.cache_dir


_own_cache: str | None = None


def ensure_cache(options: CompileOptions) -> str:
    """The folder compiled kernels cache in: the run's (use_cache), or for a worker
    started without one, an empty folder of this process's, removed when it exits —
    never the user's shared default, whose contents would make compile times depend on
    what ran before. Inductor reads the variables when it first compiles."""
    global _own_cache
    folder = use_cache(options)
    if folder is not None:
        return folder
    if _own_cache is None:
        _own_cache = tempfile.mkdtemp(prefix="dlbench-compile-")
        atexit.register(shutil.rmtree, _own_cache, ignore_errors=True)
        use_cache(CompileOptions(options.mode, _own_cache))
    return _own_cache


_startup_s: float | None = None


def start_compiler() -> float:
    """Compile a trivial function once per process and return how long that took:
    importing and starting Inductor (about 10 s on a 2-vCPU VM) is paid once per process,
    not by whichever case happens to compile first, and is recorded apart."""
    global _startup_s
    if _startup_s is None:
        import torch

        logging.getLogger(PROFILER_LOGGER).addFilter(
            lambda record: not record.getMessage().startswith(PROFILER_WARNING))
        begin = time.perf_counter()
        torch.compile(lambda t: t + 1, dynamic=False)(torch.ones(2))
        _startup_s = time.perf_counter() - begin
    return _startup_s


class Snapshot:
    """Dynamo's process-wide counters at one moment. Their differences around one call
    belong to that call: a worker runs one case's kernel at a time."""

    def __init__(self) -> None:
        from torch._dynamo.utils import counters

        self.frames = counters["frames"]["total"]
        self.graphs = counters["stats"]["unique_graphs"]
        self.breaks = dict(counters["graph_break"])
        self.cudagraph_skips = counters["inductor"]["cudagraph_skips"]

    def new_breaks(self, before: Snapshot) -> dict[str, int]:
        return {reason: n - before.breaks.get(reason, 0) for reason, n in self.breaks.items()
                if n > before.breaks.get(reason, 0)}


def break_reason(text: str) -> str:
    """A Dynamo graph-break message in one line: its explanation where it gives one
    ("Dynamo does not support RNN, GRU, or LSTM."), else its first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    explained = [line.removeprefix("Explanation:").strip() for line in lines
                 if line.startswith("Explanation:")]
    return (explained or lines or ["unknown"])[0]


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Dynamo's and Inductor's own failures (an unsupported construct under fullgraph, a
    C++ compile error) as CompileRefused with their reason in one line; any other error
    (out of memory, a bug in a kernel) stays what it is."""
    from torch._dynamo.exc import FailOnRecompileLimitHit, TorchDynamoException
    from torch._inductor.exc import InductorError

    try:
        yield
    except (TorchDynamoException, InductorError, FailOnRecompileLimitHit) as exc:
        raise CompileRefused(compiler_reason(exc)) from None


def compiler_reason(exc: BaseException) -> str:
    """The first line of a compiler's error, and the first line of the output it quotes
    (a C++ compiler's own complaint) where it quotes one."""
    line = one_line(exc)
    lines = [text.strip() for text in str(exc).splitlines()]
    quoted = [text for text in lines[lines.index("Output:") + 1:] if text] \
        if "Output:" in lines else []
    return f"{line}: {quoted[0]}" if quoted else line


class TorchCompiled(CompiledKernel):
    """A torch kernel under torch.compile, compiled by its first call."""

    compiler = INDUCTOR

    def __init__(self, kernel: Callable[[], Any], options: CompileOptions, device: str,
                 eager: str) -> None:
        import torch

        self.options, self.eager = options, eager
        ensure_cache(options)
        with refusals():
            self.startup_s = start_compiler()
        # Cases share code objects (a workload's kernel closure, the optimizer's step), so
        # Dynamo's caches keep earlier cases' graphs beside this one's; its guards tell
        # them apart by the objects they hold. No reset between cases: a case prepared
        # earlier and sampled later would compile again. Past Dynamo's recompile limit a
        # frame would run eagerly without a word: fail instead, loudly.
        torch._dynamo.config.fail_on_recompile_limit_hit = True
        mode = None if options.mode == "default" else options.mode
        self.compiled = torch.compile(kernel, mode=mode, dynamic=False)
        self.cuda_graphs = options.mode == "reduce-overhead" and device != "cpu"
        # CUDA graph trees reuse their output buffers: a new step begins with each call
        # (torch.compiler.cudagraph_mark_step_begin), as torch's docs ask of a loop that
        # drops the previous call's outputs.
        self.mark_step = torch.compiler.cudagraph_mark_step_begin if self.cuda_graphs \
            else None
        self.call: Callable[[], Any] = self._first_call
        self.summary: dict[str, Any] = {}

    def __call__(self) -> Any:
        return self.call()

    def _steady_call(self) -> Any:
        if self.mark_step is not None:
            self.mark_step()
        return self.compiled()

    def _first_call(self) -> Any:
        before = Snapshot()
        with refusals():
            out = self._steady_call()
        after = Snapshot()
        breaks = after.new_breaks(before)
        reasons = list(dict.fromkeys(break_reason(text) for text in breaks))
        graphs = after.graphs - before.graphs
        if graphs == 0:
            raise CompileRefused("torch.compile compiled no graph: "
                                 + ("; ".join(reasons) or "Dynamo skipped every frame"))
        self.summary = {"graphs": graphs, "graph_breaks": sum(breaks.values()),
                        "break_reasons": reasons[:MAX_REASONS]}
        if self.cuda_graphs:
            self.summary["cudagraph_skips"] = after.cudagraph_skips - before.cudagraph_skips
        self.call = self._steady_call
        return out

    def record(self) -> dict[str, Any]:
        return {**super().record(), "eager": self.eager, **self.options.record(),
                "dynamic": False, "startup_s": self.startup_s, **self.summary}

    def compilations(self) -> int:
        from torch._dynamo.utils import counters

        return int(counters["frames"]["total"])
