"""The result data model: what was measured (CaseSpec) and observed (Result), in one
versioned document per run (RunDocument), and the few calls that read and write it.

How the file is versioned, validated and written is dlbench.resultfile's; its names are
also reachable from here (results.load, results.dump, results.write_atomic …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlbench import compilers, intervals, resultfile, stats
from dlbench.errors import ResultFileError
from dlbench.resultfile import (  # noqa: F401 - the file's names, reachable from here
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    Progress,
    json_safe,
    output_kind,
    read_json,
    read_text,
    write_atomic,
)

STATUSES = ("ok", "wrong", "oom", "error", "skipped")
# The keys of a result's "extra" that the Result writes itself; every other key there is
# what the kernel reported about itself (kernel_extra: a compiler's FLOP count, the
# algorithm a library chose), kept as it came (additive to schema 1).
OWN_EXTRA = ("float32_math", "math", "cache", "host_samples_s", "host_stats",
             "enqueue_samples_s", "enqueue_stats", "peak_device_bytes", "distributed",
             "break_even")
# How ids, columns and files mark a GPU kernel timed with its host↔device copies, and
# one timed as replays of a CUDA graph (the kernels without Python's launches).
END_TO_END_MARK = "+transfer"
GRAPH_MARK = "+graph"
# How labels, columns and ids mark the side of an A/B run (`dlbench ab`): numpy-cpu@B.
SIDE_MARK = "@"
SIDES = ("A", "B")


@dataclass(frozen=True)
class CaseSpec:
    """What is measured: hashable, so it keys dictionaries and pairs runs.

    `impl` names the kernel (portable, native, a transfer direction); `end_to_end` marks
    a GPU kernel timed with its host↔device copies (--include-transfer), `graph` one
    timed as CUDA-graph replays (--graph). Ids, columns and the file's "impl" field show
    them with "+transfer" and "+graph" marks, in that order. `side` is the environment
    of an A/B run (`dlbench ab`: "A" or "B") that measures it, None in any other run;
    each side has workers of its own, so it is part of the label.
    """

    workload: str
    params: tuple[tuple[str, Any], ...]
    dtype: str
    backend: str
    device: str
    impl: str
    end_to_end: bool = False
    graph: bool = False
    side: str | None = None

    @classmethod
    def make(cls, workload: str, params: Mapping[str, Any], dtype: str, backend: str,
             device: str, impl: str, end_to_end: bool = False, graph: bool = False,
             side: str | None = None) -> CaseSpec:
        return cls(workload, tuple(params.items()), dtype, backend, device, impl, end_to_end,
                   graph, side)

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def marks(self) -> str:
        return (END_TO_END_MARK if self.end_to_end else "") + (GRAPH_MARK if self.graph else "")

    @property
    def impl_label(self) -> str:
        """The impl as ids and files show it: "native", "native+transfer", "native+graph"."""
        return self.impl + self.marks

    @staticmethod
    def parse_impl(label: str) -> tuple[str, bool, bool]:
        """A file's impl label back into (impl, end_to_end, graph)."""
        graph = label.endswith(GRAPH_MARK)
        label = label.removesuffix(GRAPH_MARK)
        end_to_end = label.endswith(END_TO_END_MARK)
        return label.removesuffix(END_TO_END_MARK), end_to_end, graph

    @property
    def label(self) -> str:
        """The backend and its device (and side): the worker that measures this case."""
        side = f"{SIDE_MARK}{self.side}" if self.side else ""
        return f"{self.backend}-{self.device}{side}"

    def without_side(self) -> CaseSpec:
        """The case as any run names it: an A/B run's two sides of a case pair on it."""
        return replace(self, side=None)

    @property
    def column(self) -> str:
        """The backend-device(-impl) label a table column uses, "+transfer" marked."""
        suffix = "" if self.impl == "portable" else f"-{self.impl}"
        return f"{self.label}{suffix}{self.marks}"

    @property
    def row_key(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.workload}/{params}/{self.dtype}"

    @property
    def id(self) -> str:
        return f"{self.row_key}/{self.label}/{self.impl_label}"


@dataclass(frozen=True)
class Numerics:
    """How a backend computed a case: float32 products as "ieee" or "tf32" (tensor
    cores), the library's math flags in force, and the GPU L2 state ("hot"/"cold";
    None on a CPU)."""

    float32_math: str = "ieee"
    math: Mapping[str, Any] = field(default_factory=dict)
    cache: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"float32_math": self.float32_math}
        if self.math:
            d["math"] = dict(self.math)
        if self.cache is not None:
            d["cache"] = self.cache
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Numerics | None:
        if "float32_math" not in d:
            return None
        return cls(str(d["float32_math"]), dict(d.get("math") or {}), d.get("cache"))


@dataclass(frozen=True)
class Round:
    """One round of a case: `n` consecutive samples of the result's `samples_s`, measured
    in the run's pass `index` (a row's cases measured in the same pass are paired for
    speedups), starting `start_s` seconds into the run, in worker process `execution`
    (0, or the repeat it belonged to under --repeat)."""

    n: int
    index: int
    start_s: float = 0.0
    execution: int = 0

    def to_dict(self, median: float | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"n": self.n, "index": self.index,
                             "start_s": round(self.start_s, 3), "execution": self.execution}
        if median is not None:
            d["median_s"] = median
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Round:
        return cls(int(d["n"]), int(d["index"]), float(d.get("start_s", 0.0)),
                   int(d.get("execution", 0)))


@dataclass(frozen=True)
class Result:
    """What was observed for one case."""

    spec: CaseSpec
    status: str
    error: str | None = None
    samples_s: tuple[float, ...] = ()
    inner_loops: int = 0
    stats: Mapping[str, Any] | None = None
    timer: str = "host"
    flops: float | None = None
    bytes: float | None = None
    gflops: float | None = None
    gbytes_per_s: float | None = None
    fraction_of_peak: float | None = None
    verify: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    first_call_s: float | None = None
    stop: str | None = None
    numerics: Numerics | None = None
    # Event-timed samples: the synchronised host time of the same batches, paired with
    # samples_s (cupyx.profiler.benchmark reports both), and the host's time to queue
    # them (the launch cost: most of the window in a launch-bound case).
    host_samples_s: tuple[float, ...] = ()
    enqueue_samples_s: tuple[float, ...] = ()
    peak_device_bytes: int | None = None
    # What the kernel itself reported (XLA's FLOP count "xla_flops", torch's SDPA
    # backend "sdpa_backend"), kept in "extra" as it came.
    kernel_extra: Mapping[str, Any] = field(default_factory=dict)
    # A case run across ranks (dlbench.distributed): world_size, and algbw/busbw of a
    # collective or samples/s and scaling efficiency of a data-parallel step.
    distributed: Mapping[str, Any] | None = None
    # How samples_s splits into rounds (in order). Empty in files from before rounds
    # were recorded: their samples count as one round.
    rounds: tuple[Round, ...] = ()
    # The run that measured it: results of one run share its passes, so their rounds of
    # the same index pair up (speedups.py); None in files from before.
    run: str | None = None
    # A compiled kernel's break-even against its library's eager kernel
    # (dlbench.breakeven), kept in "extra" for the file's readers.
    break_even: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.rounds and sum(r.n for r in self.rounds) != len(self.samples_s):
            raise ValueError("the rounds' sample counts do not add up to samples_s")

    @property
    def round_sizes(self) -> tuple[int, ...]:
        """Samples per round; all samples as one round where none were recorded."""
        if self.rounds:
            return tuple(r.n for r in self.rounds)
        return (len(self.samples_s),) if self.samples_s else ()

    def round_medians(self) -> dict[int, float]:
        """Each round's median by its pass index (index 0 alone for a file without rounds)."""
        if not self.samples_s:
            return {}
        medians = intervals.round_medians(self.samples_s, self.round_sizes)
        keys = [r.index for r in self.rounds] if self.rounds else [0]
        return dict(zip(keys, (float(m) for m in medians), strict=True))

    def round_executions(self) -> dict[int, int]:
        """Each round's execution (--repeat) by its pass index."""
        return {r.index: r.execution for r in self.rounds} if self.rounds else {0: 0}

    @property
    def median(self) -> float | None:
        return self.stats["median"] if self.stats else None

    @property
    def compiler(self) -> Mapping[str, Any] | None:
        """The compiler record of a compiled kernel (dlbench.compilers), else None."""
        record = self.kernel_extra.get("compiler")
        return record if isinstance(record, Mapping) else None

    @property
    def column(self) -> str:
        """The column a table shows this result in: every library's compiled kernel
        (torch.compile, JAX's jit, TensorFlow's XLA) as one kind, "<backend>-<device>-
        compiled", whatever the library calls it; the file keeps the impl as it ran."""
        if self.compiler is None:
            return self.spec.column
        return compilers.column(self.spec.label, self.spec.marks)

    @property
    def memory_bound(self) -> bool:
        """Under one FLOP per byte moved: bandwidth is the figure of merit, and the peak
        it is compared with is the memory's."""
        return bool(self.flops is not None and self.bytes and self.flops / self.bytes < 1.0)

    def extra(self) -> dict[str, Any]:
        """The file's "extra" object: how the case was computed, and device-side figures."""
        d = {**self.kernel_extra, **(self.numerics.to_dict() if self.numerics else {})}
        for name, samples in (("host", self.host_samples_s),
                              ("enqueue", self.enqueue_samples_s)):
            if samples:
                d[f"{name}_samples_s"] = list(samples)
                d[f"{name}_stats"] = stats.summarize(samples).to_dict()
        if self.peak_device_bytes is not None:
            d["peak_device_bytes"] = self.peak_device_bytes
        if self.distributed is not None:
            d["distributed"] = dict(self.distributed)
        if self.break_even is not None:
            d["break_even"] = dict(self.break_even)
        return d

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": spec.id, "workload": spec.workload, "params": spec.param_dict,
            "dtype": spec.dtype, "backend": spec.backend, "device": spec.device,
            "impl": spec.impl_label, "status": self.status, "error": self.error,
            "samples_s": list(self.samples_s), "inner_loops": self.inner_loops,
            "stats": dict(self.stats) if self.stats else None, "timer": self.timer,
            "flops": self.flops, "bytes": self.bytes, "gflops": self.gflops,
            "gbytes_per_s": self.gbytes_per_s, "fraction_of_peak": self.fraction_of_peak,
            "verify": dict(self.verify) if self.verify else None,
            "warnings": list(self.warnings), "first_call_s": self.first_call_s,
            "stop": self.stop, "extra": self.extra(),
            **({"side": spec.side} if spec.side else {}),
            **({"run": self.run} if self.run else {}),
            **({"rounds": [r.to_dict(m) for r, m in zip(self.rounds,
                                                         self.round_medians().values(),
                                                         strict=True)]}
               if self.rounds else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        impl, end_to_end, graph = (CaseSpec.parse_impl(d["impl"]) if isinstance(d["impl"], str)
                                   else (d["impl"], False, False))
        spec = CaseSpec.make(d["workload"], d["params"], d["dtype"], d["backend"], d["device"],
                             impl, end_to_end, graph, d.get("side"))
        extra = d.get("extra") or {}
        peak = extra.get("peak_device_bytes")
        return cls(
            spec=spec,
            status=d["status"],
            error=d.get("error"),
            samples_s=tuple(d.get("samples_s") or ()),
            inner_loops=d.get("inner_loops", 0),
            stats=d.get("stats"),
            timer=d.get("timer", "host"),
            flops=d.get("flops"),
            bytes=d.get("bytes"),
            gflops=d.get("gflops"),
            gbytes_per_s=d.get("gbytes_per_s"),
            fraction_of_peak=d.get("fraction_of_peak"),
            verify=d.get("verify"),
            warnings=tuple(d.get("warnings") or ()),
            first_call_s=d.get("first_call_s"),
            stop=d.get("stop"),
            numerics=Numerics.from_dict(extra),
            host_samples_s=tuple(extra.get("host_samples_s") or ()),
            enqueue_samples_s=tuple(extra.get("enqueue_samples_s") or ()),
            peak_device_bytes=int(peak) if peak is not None else None,
            kernel_extra={k: v for k, v in extra.items() if k not in OWN_EXTRA},
            distributed=extra.get("distributed"),
            rounds=tuple(Round.from_dict(r) for r in d.get("rounds") or ()),
            run=d.get("run"),
            break_even=extra.get("break_even"),
        )


@dataclass(frozen=True)
class RunDocument:
    """A whole run: environment, settings and every result."""

    dlbench_version: str
    created: str
    command: tuple[str, ...]
    environment: Mapping[str, Any]
    settings: Mapping[str, Any]
    results: tuple[Result, ...]
    interrupted: bool = False
    # Where it came from (dlbench.provenance): the git commit and the CI run, where known.
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def with_results(self, results: tuple[Result, ...], **changes: Any) -> RunDocument:
        return replace(self, results=results, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "dlbench_version": self.dlbench_version,
            "created": self.created,
            "command": list(self.command),
            "interrupted": self.interrupted,
            "provenance": self.provenance,
            "environment": self.environment,
            "settings": self.settings,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunDocument:
        return cls(
            dlbench_version=d.get("dlbench_version", "unknown"),
            created=d.get("created", ""),
            command=tuple(d.get("command") or ()),
            environment=d.get("environment") or {},
            settings=d.get("settings") or {},
            results=tuple(Result.from_dict(r) for r in d.get("results") or ()),
            interrupted=bool(d.get("interrupted", False)),
            provenance=d.get("provenance") or {},
        )


def dumps(doc: RunDocument) -> str:
    """The document as its file's text (resultfile.dumps)."""
    return resultfile.dumps(doc.to_dict())


def dump(doc: RunDocument, path: Path) -> None:
    write_atomic(path, dumps(doc))


def parse(data: Any, source: str, progress: Progress | None = None) -> RunDocument:
    """A file's data, checked, validated and migrated (resultfile.checked), as a document;
    `progress` follows the validation."""
    data = resultfile.checked(data, source, progress)
    try:
        return RunDocument.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultFileError(f"{source}: malformed result entry ({exc})") from None


def load(path: str | Path, progress: Progress | None = None) -> RunDocument:
    return parse(read_json(path), str(path), progress)
