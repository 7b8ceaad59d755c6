"""Turns a suite plus the user's selections into the runner's Plan, in small steps.

`build` is the pipeline: check the names the user typed, select the backends that
can run, check the GPU options against them, expand the suite into cases, refuse what
cannot run (too big for memory, unsupported on a backend), reconcile the timing
settings, and drop duplicate cases. Every refusal happens here, before any worker
starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from dlbench import backends, compilers, suites, workloads
from dlbench.backends import Backend, DeviceOptions
from dlbench.compilers import CompileOptions
from dlbench.errors import BackendUnavailable, UsageError
from dlbench.i18n import _
from dlbench.measure import MeasureConfig
from dlbench.results import CaseSpec

# Seconds of sampling per case and backend: beyond a day is a typo (`inf`, `1e9`), and
# would only end at the sample limit, hours later.
MAX_SECONDS = 86_400.0
# Threads per backend: more than any machine's logical CPUs (the largest servers have
# under 1,000); a larger number reaches the libraries as an overflow, not a thread count.
MAX_THREADS = 4096
# Executions and rounds per case: beyond these a typo (each costs seconds per case).
MAX_REPEAT = 100
MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class Selection:
    """What the user chose on the command line; None means "the suite decides"."""

    suite: str = "quick"
    backends: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None
    workloads: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] | None = None
    sizes: tuple[int, ...] | None = None
    threads: int | None = None
    min_time: float | None = None
    max_time: float | None = None
    verify: bool = True
    cache: str = "hot"
    tf32: str = "off"
    include_transfer: bool = False
    graph: bool = False
    # Ranks of a distributed run (dlbench.distributed); None: one process per backend.
    world_size: int | None = None
    rounds: int | None = None  # at least this many rounds per case (--rounds)
    repeat: int | None = None  # executions: fresh workers measure every case again (--repeat)
    # Every library's compiled implementation even where the suite leaves it out
    # (--compile), how torch.compile compiles, and a persistent cache folder.
    compile: bool = False
    compile_mode: str = "default"
    compile_cache: str | None = None


@dataclass(frozen=True)
class Plan:
    """Everything the runner needs: the cases, how to measure them, and what is known
    up front not to run (with the reason)."""

    cases: tuple[CaseSpec, ...]
    config: MeasureConfig = MeasureConfig()
    threads: int | None = None
    verify: bool = True
    seed: int = workloads.DEFAULT_SEED
    skipped: tuple[tuple[CaseSpec, str], ...] = ()
    options: DeviceOptions = DeviceOptions()
    suite: str = ""
    include_transfer: bool = False
    graph: bool = False
    backends: tuple[str, ...] = ()  # labels of the backends selected to run
    notes: tuple[str, ...] = ()  # said once to the user: backends left out and why
    repeat: int = 1  # executions: each measures every case in fresh worker processes
    # The code of each workload that is not built in (workloads.code_of), read as the run
    # starts: a run of other code is not an earlier run of this one.
    workload_code: tuple[tuple[str, str], ...] = ()

    @property
    def total(self) -> int:
        """Cases measured or skipped: the run's length in results."""
        return len(self.cases) + len(self.skipped)

    def settings(self) -> dict[str, Any]:
        """The result file's "settings": what a reader needs to repeat the run."""
        return {"suite": self.suite, **vars(self.config), "threads": self.threads,
                "verify": self.verify, "seed": self.seed,
                "cache": "cold" if self.options.cold_cache else "hot",
                "tf32": "on" if self.options.tf32 else "off",
                "include_transfer": self.include_transfer, "graph": self.graph,
                "compile": self.options.compile.record(),
                "backends": list(self.backends), "repeat": self.repeat,
                **({"workload_code": dict(self.workload_code)} if self.workload_code else {})}


def build(sel: Selection, available_memory: int | None = None) -> Plan:
    suite = suites.load(sel.suite)
    check_names(sel)
    targets, notes = select_targets(sel)
    check_device_options(sel, targets, notes)
    memory = psutil.virtual_memory().available if available_memory is None else available_memory
    cases, skipped = expand(entries(suite, sel), targets, sel, memory,
                            implementations(suite, targets, sel))
    if not cases:
        reasons = sorted({reason for _, reason in skipped})
        raise UsageError("nothing to run: " + "; ".join(reasons[:3]))
    config, threads, repeat = reconcile(suite.settings, sel)
    notes = [*workloads.notes(), *backends.notes(), *notes]  # plugins that did not load
    notes += compile_notes(cases, sel)
    # Overrides can make two suite entries the same case (--size on two matmul entries):
    # measure it once.
    return Plan(cases=tuple(dict.fromkeys(cases)), config=config, threads=threads,
                verify=sel.verify, skipped=tuple(dict(skipped).items()),
                options=DeviceOptions(tf32=sel.tf32 == "on", cold_cache=sel.cache == "cold",
                                      compile=compile_options(sel)),
                suite=suite.name, include_transfer=sel.include_transfer, graph=sel.graph,
                backends=tuple(t.label for t in targets), notes=tuple(notes), repeat=repeat,
                workload_code=tuple((name, code) for name in sorted({s.workload for s in cases})
                                    if (code := workloads.code_of(name)) is not None))


def implementations(suite: suites.Suite, targets: Sequence[Backend], sel: Selection
                    ) -> dict[str, tuple[str, ...]]:
    """The implementations the suite runs per backend (a backend it does not name runs
    all of its own), with each library's compiled one added under --compile."""
    chosen = dict(suite.impls)
    if sel.compile:
        for target in targets:
            compiler = target.compiler
            if compiler is not None and target.name in chosen \
                    and compiler.impl not in chosen[target.name]:
                chosen[target.name] = (*chosen[target.name], compiler.impl)
    return chosen


def compile_options(sel: Selection) -> CompileOptions:
    """How compiled implementations compile: the mode, and the cache folder — the run's
    own (made by the runner) unless the user named a persistent one, which is made here."""
    if sel.compile_cache is None:
        return CompileOptions(sel.compile_mode)
    folder = Path(sel.compile_cache).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--compile-cache {sel.compile_cache}: cannot use it as a folder "
                         f"({exc.strerror or exc})") from None
    return CompileOptions(sel.compile_mode, str(folder), persistent=True)


def compile_notes(cases: Sequence[CaseSpec], sel: Selection) -> list[str]:
    """What the user should know once about the compiled columns of this plan."""
    compiled_on_cpu = any(c.device == "cpu" and compiled(c) for c in cases)
    if compiled_on_cpu and sel.compile_mode == "reduce-overhead":
        return [_("--compile-mode reduce-overhead replays CUDA graphs on a GPU; on the CPU "
                  "torch.compile has none to replay and compiles as in default mode")]
    return []


def compiled(spec: CaseSpec) -> bool:
    """Whether a case is its library's compiled implementation."""
    compiler = backends.backend_class(spec.backend).compiler
    return compiler is not None and spec.impl == compiler.impl


def column(spec: CaseSpec) -> str:
    """The column a case is shown in: every library's compiled implementation under one
    label (as Result.column shows it once measured)."""
    return compilers.column(spec.label, spec.marks) if compiled(spec) else spec.column


def check_names(sel: Selection) -> None:
    """Unknown dtypes, workloads and option values are refused before anything else; so
    is an empty selection, which would otherwise mean "everything"."""
    for field in ("backends", "devices", "workloads", "dtypes", "sizes"):
        if getattr(sel, field) == ():
            raise UsageError(f"no {field} selected (leave the option out for all of them)")
    for dtype in sel.dtypes or ():
        if dtype not in suites.DTYPES:
            raise UsageError(f"unknown dtype {dtype!r} (known: {', '.join(suites.DTYPES)})")
    for name in sel.workloads or ():
        workloads.get(name)  # raises on an unknown name
    if sel.cache not in ("hot", "cold"):
        raise UsageError(f"--cache must be hot or cold, got {sel.cache!r}")
    if sel.tf32 not in ("on", "off"):
        raise UsageError(f"--tf32 must be on or off, got {sel.tf32!r}")
    if sel.compile_mode not in compilers.MODES:
        raise UsageError(f"--compile-mode must be one of {', '.join(compilers.MODES)}, "
                         f"got {sel.compile_mode!r}")
    for name in sel.backends or ():
        backends.backend_class(name)  # raises on an unknown name
    known = {d for name in backends.names() for d in backends.backend_class(name).devices}
    for device in sel.devices or ():
        if device.split(":")[0] not in known | {"cuda"}:
            raise UsageError(f"unknown device {device!r} (known: cpu, cuda, cuda:N)")


def select_targets(sel: Selection) -> tuple[list[Backend], list[str]]:
    """Backends to run, and notes on those left out."""
    chosen: list[Backend] = []
    notes: list[str] = []
    for name in sel.backends or backends.names():
        cls = backends.backend_class(name)
        devices = [d for d in (sel.devices or cls.devices) if d.split(":")[0] in cls.devices]
        if not devices and sel.backends is not None:
            raise BackendUnavailable(f"backend {name} has no device "
                                     f"{', '.join(sel.devices or ())} "
                                     f"(it offers: {', '.join(cls.devices)})")
        ready, left_out = _availability(cls(d) for d in devices)
        _refuse_named(sel, name, left_out, len(devices))
        chosen += ready
        notes += [_("{label} left out: {reason}").format(label=t.label, reason=r)
                  for t, r in left_out]
    if not chosen:
        raise BackendUnavailable("no selected backend is available here"
                                 + (f" ({'; '.join(notes)})" if notes else ""))
    return chosen, notes


def _availability(targets: Iterable[Backend]) -> tuple[list[Backend], list[tuple[Backend, str]]]:
    ready, left_out = [], []
    for target in targets:
        ok, reason = target.available()
        if ok:
            ready.append(target)
        else:
            left_out.append((target, reason))
    return ready, left_out


def _refuse_named(sel: Selection, name: str, left_out: Sequence[tuple[Backend, str]],
                  devices: int) -> None:
    """A backend named with --backend must run: on every device named with --device, or
    else on at least one of its devices; the others (torch's cuda on a CPU machine) are
    left out with a note, as in a default run."""
    if sel.backends is None or not left_out:
        return
    if sel.devices is None and len(left_out) < devices:
        return
    target, reason = left_out[0]
    hint = type(target).install_hint if "not installed" in reason else None
    raise BackendUnavailable(f"backend {target.label} is unavailable: {reason}"
                             + (f" ({hint})" if hint else ""))


def check_device_options(sel: Selection, targets: Sequence[Backend], notes: Sequence[str]
                         ) -> None:
    if sel.cache == "cold":
        # Cold means "the GPU's L2 flushed before every sample, outside the timed window".
        # A CPU has no such clean cut: a flush from Python leaves dirty lines whose
        # write-back overlaps the timed call, and no device timer excludes it; and CPU
        # samples batch many calls, so all but the first would be hot anyway.
        cpu = [t.label for t in targets if t.device == "cpu"]
        if cpu:
            raise UsageError(f"--cache cold flushes a GPU's L2 cache and needs GPU backends "
                             f"only; {', '.join(cpu)} run on the CPU (add --device cuda)")
    if all(t.device == "cpu" for t in targets):
        left_out = f" ({'; '.join(notes)})" if notes else ""
        # CPU backends compute on the host arrays themselves: there is nothing to copy,
        # and end-to-end figures would be the compute figures under another name.
        if sel.include_transfer:
            raise UsageError("--include-transfer times host↔device copies around GPU "
                             "kernels and needs a GPU backend; none is selected and "
                             "available" + left_out)
        if sel.graph:
            raise UsageError("--graph times CUDA-graph replays of GPU kernels and needs a GPU "
                             "backend; none is selected and available" + left_out)


def entries(suite: suites.Suite, sel: Selection) -> list[suites.Entry]:
    """The suite's entries with the command line's workloads, sizes and dtypes applied."""
    out = list(suite.entries)
    if sel.workloads is not None:
        in_suite = {e.workload for e in out}
        out = [e for e in out if e.workload in sel.workloads]
        out += [suites.Entry(name, (), ("float32",)) for name in sel.workloads
                if name not in in_suite]
    if sel.sizes is not None:
        out = [replace(e, sizes=sel.sizes) for e in out]
    if sel.dtypes is not None:
        out = [replace(e, dtypes=sel.dtypes) for e in out]
    return out


def expand(entries: Sequence[suites.Entry], targets: Sequence[Backend], sel: Selection,
           memory: float, impls: Mapping[str, Sequence[str]] | None = None
           ) -> tuple[list[CaseSpec], list[tuple[CaseSpec, str]]]:
    """Every (entry, size, dtype) on every target and impl (those the suite names for a
    backend, where it names any): the cases to measure, and those refused with the
    reason."""
    chosen = impls or {}
    cases: list[CaseSpec] = []
    skipped: list[tuple[CaseSpec, str]] = []
    for entry in entries:
        wl = workloads.get(entry.workload)
        for size in entry.sizes or (None,):
            params = wl.resolve(size=size, **entry.params)
            if wl.distributed and sel.world_size is not None:
                params = wl.resolve(size=size, **{**entry.params, "ranks": sel.world_size})
            for dtype in entry.dtypes:
                row = [(case_spec(wl, params, dtype, t, impl, sel), t)
                       for t in targets for impl in wl.impls_for(t.name, t.device)
                       if impl in chosen.get(t.name, (impl,))]
                too_big = memory_refusal(wl, params, dtype, len(targets), memory)
                if too_big and sel.sizes is not None:
                    raise UsageError(too_big)  # a size the user typed: refuse outright
                for spec, target in row:
                    reason = (too_big or placement(wl, sel) or unsupported(wl, target, dtype)
                              or unsupported_mode(spec, target, sel)
                              or uncompilable(spec, target, sel))
                    if reason:
                        skipped.append((spec, reason))
                    else:
                        cases.append(spec)
    return cases, skipped


def case_spec(wl: workloads.Workload, params: dict[str, int], dtype: str, target: Backend,
              impl: str, sel: Selection) -> CaseSpec:
    """End-to-end timing (--include-transfer) and graph replay (--graph) apply to kernels
    on a GPU only: CPU columns stay the baseline those figures are compared with, and the
    transfer workload is itself the copies, timed as the copy engine does them."""
    gpu_kernel = target.device != "cpu" and wl.device_kernels
    return CaseSpec.make(wl.name, params, dtype, target.name, target.device, impl,
                         end_to_end=sel.include_transfer and gpu_kernel,
                         graph=sel.graph and gpu_kernel)


def memory_refusal(wl: workloads.Workload, params: dict[str, int], dtype: str, backends: int,
                   memory: float) -> str | None:
    """Why a case cannot fit in host memory with every backend's worker holding it."""
    need = wl.memory_bytes(params, workloads.itemsize(dtype)) * backends
    if need <= memory:
        return None
    return (f"{wl.name} {_fmt_params(params)} {dtype} needs about {need / 2**30:.1f} GiB "
            f"({backends} backends at once) but {memory / 2**30:.1f} GiB is available")


def placement(wl: workloads.Workload, sel: Selection) -> str | None:
    """Collectives and data-parallel steps run across ranks only; the other workloads
    in one process per backend only."""
    if wl.distributed and sel.world_size is None:
        return f"{wl.name} runs across ranks: add --nproc N (or launch with torchrun)"
    if not wl.distributed and sel.world_size is not None:
        return f"{wl.name} is not a distributed workload (leave out --nproc)"
    return None


def unsupported(wl: workloads.Workload, target: Backend, dtype: str) -> str | None:
    supported, why = wl.supports(target)
    if not supported:
        return why
    if dtype not in target.dtypes:
        return f"{target.name} has no {dtype}"
    return None


# GPU timing modes, as a backend declares them in `gpu_modes`, and what each needs.
GPU_MODES = {"graph": "as CUDA-graph replays (--graph): it has no graph capture of its own",
             "transfer": "with its host-device copies (--include-transfer): it has no "
                         "pinned buffers or copies into existing device buffers",
             "cold": "with a cold L2 (--cache cold): it has no device events to time "
                     "behind a flush"}


def unsupported_mode(spec: CaseSpec, target: Backend, sel: Selection) -> str | None:
    """Why a GPU case cannot be timed in the mode the user asked for on this backend."""
    if target.device == "cpu":
        return None
    asked = {"graph": spec.graph, "transfer": spec.end_to_end, "cold": sel.cache == "cold"}
    for mode, on in asked.items():
        if on and mode not in target.gpu_modes:
            return f"{target.name} cannot be timed {GPU_MODES[mode]}"
    return None


def uncompilable(spec: CaseSpec, target: Backend, sel: Selection) -> str | None:
    """Why a compiled case cannot run: the compiler lacks what it needs here (Inductor a
    C++ compiler), or a GPU timing mode would wrap CUDA graphs in CUDA graphs."""
    compiler = target.compiler
    if compiler is None or spec.impl != compiler.impl:
        return None
    ready, why = target.compiler_ready()
    if not ready:
        return why
    if spec.graph and sel.compile_mode == "reduce-overhead":
        return ("--compile-mode reduce-overhead replays CUDA graphs of its own, which "
                "cannot be captured inside --graph's; leave one of them out")
    return None


def reconcile(suite_settings: dict[str, Any], sel: Selection
              ) -> tuple[MeasureConfig, int | None, int]:
    """The suite's timing settings with the command line's on top: the measurement
    config, the threads and the executions. Only a clash between two values the user
    typed is an error, a suite's default gives way."""
    settings = dict(suite_settings)
    suite_threads = settings.pop("threads", None)
    threads = sel.threads if sel.threads is not None else suite_threads
    suite_repeat = settings.pop("repeat", 1)
    repeat = sel.repeat if sel.repeat is not None else suite_repeat
    if sel.min_time is not None:
        settings["min_time"] = sel.min_time
    if sel.max_time is not None:
        settings["max_time"] = sel.max_time
    if sel.rounds is not None:
        settings["min_rounds"] = sel.rounds
        if sel.max_time is None:
            # Asked-for rounds are not cut by the suite's budget: it grows to hold them
            # (a call longer than a block still stops at two rounds, measure.py).
            block = settings.get("block_time", MeasureConfig.block_time)
            settings["max_time"] = max(settings.get("max_time", MeasureConfig.max_time),
                                       sel.rounds * block)
    if settings.get("min_time", 0) > settings.get("max_time", float("inf")):
        if sel.min_time is not None and sel.max_time is not None:
            raise UsageError(f"--min-time {sel.min_time} exceeds --max-time {sel.max_time}")
        if sel.max_time is not None:
            settings["min_time"] = sel.max_time
        else:
            settings["max_time"] = settings["min_time"]
    _check_counts(threads, repeat, settings.get("min_rounds"))
    for key in ("min_time", "max_time"):  # TOML has inf and nan; the options refuse them
        value = settings.get(key)
        if value is not None and not (math.isfinite(value) and value <= MAX_SECONDS):
            raise UsageError(f"{key} (suite setting or option): {value!r} is not a usable "
                             f"number of seconds (at most {MAX_SECONDS:,.0f})")
    try:
        return MeasureConfig(**settings), threads, repeat
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_counts(threads: int | None, repeat: int, rounds: int | None) -> None:
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"threads (suite setting or --threads): {threads} is not a usable "
                         f"thread count (1 to {MAX_THREADS}; more than any machine has)")
    if not 1 <= repeat <= MAX_REPEAT:
        raise UsageError(f"repeat (suite setting or --repeat): {repeat} is not a usable "
                         f"number of executions (1 to {MAX_REPEAT})")
    if rounds is not None and not 1 <= rounds <= MAX_ROUNDS:
        raise UsageError(f"rounds (suite setting min_rounds or --rounds): {rounds} is not a "
                         f"usable number of rounds (1 to {MAX_ROUNDS})")


def _fmt_params(params: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())
