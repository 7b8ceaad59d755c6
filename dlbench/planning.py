"""Turns a suite plus the user's selections into the runner's Plan.

Refusals happen here, before any worker starts: unknown names, explicitly requested
backends that cannot run, and sizes whose memory need exceeds what the machine has.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psutil

from dlbench import backends, suites, workloads
from dlbench.errors import BackendUnavailable, UsageError
from dlbench.measure import MeasureConfig
from dlbench.results import CaseSpec
from dlbench.runner import Plan
from dlbench.workloads._endtoend import SUFFIX as END_TO_END

INSTALL_HINT = {"torch": "pip install 'dlbench[torch]'", "cupy": "pip install 'dlbench[cupy]'"}


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


@dataclass(frozen=True)
class Planned:
    plan: Plan
    targets: tuple[backends.Backend, ...]
    notes: tuple[str, ...]  # said once to the user: backends left out and why
    settings: dict


def select_targets(sel: Selection) -> tuple[list[backends.Backend], list[str]]:
    """Backends to run, and notes on those left out."""
    if sel.backends is not None:
        for name in sel.backends:
            backends.backend_class(name)  # raises on an unknown name
    if sel.devices is not None:
        known = {d for name in backends.names() for d in backends.backend_class(name).devices}
        for device in sel.devices:
            if device.split(":")[0] not in known | {"cuda"}:
                raise UsageError(f"unknown device {device!r} (known: cpu, cuda, cuda:N)")
    chosen, notes = [], []
    for name in sel.backends or backends.names():
        cls = backends.backend_class(name)
        devices = [d for d in (sel.devices or cls.devices)
                   if d.split(":")[0] in cls.devices]
        if not devices:
            if sel.backends is not None:
                raise BackendUnavailable(f"backend {name} has no device "
                                         f"{', '.join(sel.devices or ())} "
                                         f"(it offers: {', '.join(cls.devices)})")
            continue
        left_out: list[tuple[backends.Backend, str]] = []
        for device in devices:
            target = cls(device)
            ok, reason = target.available()
            if ok:
                chosen.append(target)
            else:
                left_out.append((target, reason))
        # A backend named with --backend must run: on every device named with --device,
        # or else on at least one of its devices; the others (torch's cuda on a CPU
        # machine) are left out with a note, as in a default run.
        refused = [(t, r) for t, r in left_out if sel.backends is not None
                   and (sel.devices is not None or len(left_out) == len(devices))]
        if refused:
            target, reason = refused[0]
            hint = INSTALL_HINT.get(name) if "not installed" in reason else None
            raise BackendUnavailable(f"backend {target.label} is unavailable: {reason}"
                                     + (f" ({hint})" if hint else ""))
        notes += [f"{t.label} left out: {r}" for t, r in left_out]
    if not chosen:
        raise BackendUnavailable("no selected backend is available here"
                                 + (f" ({'; '.join(notes)})" if notes else ""))
    return chosen, notes


def build(sel: Selection, available_memory: int | None = None) -> Planned:
    suite = suites.load(sel.suite)
    if sel.dtypes is not None:
        for dtype in sel.dtypes:
            if dtype not in suites.DTYPES:
                raise UsageError(f"unknown dtype {dtype!r} (known: {', '.join(suites.DTYPES)})")
    if sel.workloads is not None:
        for name in sel.workloads:
            workloads.get(name)  # raises on an unknown name
    if sel.cache not in ("hot", "cold"):
        raise UsageError(f"--cache must be hot or cold, got {sel.cache!r}")
    if sel.tf32 not in ("on", "off"):
        raise UsageError(f"--tf32 must be on or off, got {sel.tf32!r}")
    targets, notes = select_targets(sel)
    if sel.cache == "cold":
        # Cold means "the GPU's L2 flushed before every sample, outside the timed window".
        # A CPU has no such clean cut: a flush from Python leaves dirty lines whose
        # write-back overlaps the timed call, and no device timer excludes it; and CPU
        # samples batch many calls, so all but the first would be hot anyway.
        cpu = [t.label for t in targets if t.device == "cpu"]
        if cpu:
            raise UsageError(f"--cache cold flushes a GPU's L2 cache and needs GPU backends "
                             f"only; {', '.join(cpu)} run on the CPU (add --device cuda)")
    if sel.include_transfer and all(t.device == "cpu" for t in targets):
        # CPU backends compute on the host arrays themselves: there is nothing to copy,
        # and end-to-end figures would be the compute figures under another name.
        raise UsageError("--include-transfer times host↔device copies around GPU kernels "
                         "and needs a GPU backend; none is selected and available"
                         + (f" ({'; '.join(notes)})" if notes else ""))

    entries = list(suite.entries)
    if sel.workloads is not None:
        in_suite = {e.workload for e in entries}
        entries = [e for e in entries if e.workload in sel.workloads]
        entries += [suites.Entry(name, (), ("float32",)) for name in sel.workloads
                    if name not in in_suite]
    if sel.sizes is not None:
        entries = [replace(e, sizes=sel.sizes) for e in entries]
    if sel.dtypes is not None:
        entries = [replace(e, dtypes=sel.dtypes) for e in entries]

    memory = psutil.virtual_memory().available if available_memory is None else available_memory
    cases: list[CaseSpec] = []
    skipped: list[tuple[CaseSpec, str]] = []
    for entry in entries:
        wl = workloads.get(entry.workload)
        for size in entry.sizes or (None,):
            params = wl.resolve(size=size, **entry.params)
            for dtype in entry.dtypes:
                group = [CaseSpec.make(wl.name, params, dtype, t.name, t.device,
                                       case_impl(impl, t, wl, sel.include_transfer))
                         for t in targets for impl in wl.impls_for(t.name)]
                need = wl.memory_bytes(params, workloads.itemsize(dtype)) * len(targets)
                if need > memory:
                    message = (f"{wl.name} {_fmt_params(params)} {dtype} needs about "
                               f"{need / 2**30:.1f} GiB ({len(targets)} backends at once) but "
                               f"{memory / 2**30:.1f} GiB is available")
                    if sel.sizes is not None:
                        raise UsageError(message)
                    skipped += [(spec, message) for spec in group]
                    continue
                for spec, target in zip(group, [t for t in targets
                                                for _ in wl.impls_for(t.name)], strict=True):
                    supported, why = wl.supports(target)
                    if not supported:
                        skipped.append((spec, why))
                    elif dtype not in target.dtypes:
                        skipped.append((spec, f"{target.name} has no {dtype}"))
                    else:
                        cases.append(spec)

    if not cases:
        reasons = sorted({reason for _, reason in skipped})
        raise UsageError("nothing to run: " + "; ".join(reasons[:3]))

    settings = {**suite.settings}
    suite_threads = settings.pop("threads", None)
    threads = sel.threads if sel.threads is not None else suite_threads
    if sel.min_time is not None:
        settings["min_time"] = sel.min_time
    if sel.max_time is not None:
        settings["max_time"] = sel.max_time
    if settings.get("min_time", 0) > settings.get("max_time", float("inf")):
        # Only a clash between two values the user typed is an error; a suite's default
        # gives way to the one given on the command line.
        if sel.min_time is not None and sel.max_time is not None:
            raise UsageError(f"--min-time {sel.min_time} exceeds --max-time {sel.max_time}")
        if sel.max_time is not None:
            settings["min_time"] = sel.max_time
        else:
            settings["max_time"] = settings["min_time"]
    try:
        config = MeasureConfig(**settings)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # Overrides can make two suite entries the same case (--size on two matmul entries):
    # measure it once.
    cases = list(dict.fromkeys(cases))
    skipped = list(dict(skipped).items())
    plan = Plan(cases=tuple(cases), config=config, threads=threads, verify=sel.verify,
                skipped=tuple(skipped), tf32=sel.tf32, cache=sel.cache)
    recorded = {"suite": suite.name, **vars(config), "threads": threads,
                "verify": sel.verify, "seed": plan.seed, "cache": sel.cache, "tf32": sel.tf32,
                "include_transfer": sel.include_transfer,
                "backends": [t.label for t in targets]}
    return Planned(plan, tuple(targets), tuple(notes), recorded)


def case_impl(impl: str, target: backends.Backend, wl: workloads.Workload,
              include_transfer: bool) -> str:
    """The impl a case is measured as: "+transfer" marks end-to-end timing, for kernels on
    a GPU only (CPU columns stay the baseline the end-to-end figures are compared with;
    the transfer workload is itself the copies)."""
    if include_transfer and target.device != "cpu" and wl.name != "transfer":
        return impl + END_TO_END
    return impl


def _fmt_params(params: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())
