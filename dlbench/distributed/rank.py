"""One rank of a distributed run: join the process group, run the plan's cases in
step with the other ranks, and (rank 0) turn them into Results.

Every rank walks the same cases in the same order. Whatever decides control flow —
whether a case failed to set up, whether its output verified, how many calls a sample
holds, when sampling stops — is either agreed by a collective or computed from values
every rank already shares (timing.py), so no rank ever waits in a collective the others
skipped. A case that fails on one rank is failed on all, with that rank's message. A
collective that fails (a rank died, or hung past the process group's timeout) cannot be
recovered from: it ends this rank with RankFault, and what rank 0 had saved stays.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dlbench import backends, intervals, measure, measured, stats, workloads
from dlbench.distributed.timing import CollectiveTimer
from dlbench.measured import Measured
from dlbench.planning import Plan
from dlbench.results import CaseSpec, Numerics, Result, Round
from dlbench.workloads.ranks import RankWorkload

# Test hook: "RANK:CASE" makes rank RANK kill itself (SIGKILL) when it reaches its
# CASE-th case (0-based), as a crash or the OOM killer would; "RANK:CASE:hang" makes it
# stop answering instead; CASE "join" does either before the rank joins the process
# group (a rank that never reaches the rendezvous). Never set in normal use.
FAULT_ENV = "DLBENCH_TEST_RANK_FAULT"


@dataclass(frozen=True)
class Disagreed:
    """A step that raised on some rank: the first failing rank's message."""

    error: str


class RankFault(Exception):
    """This rank cannot go on: the process group is broken or could not be formed."""


@dataclass(frozen=True)
class RankInfo:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RankInfo:
        env = os.environ if environ is None else environ
        world = int(env["WORLD_SIZE"])
        return cls(int(env["RANK"]), world, int(env.get("LOCAL_RANK", "0")),
                   int(env.get("LOCAL_WORLD_SIZE", str(world))))


class Group:
    """The default process group, and the few collectives the harness itself needs."""

    def __init__(self, info: RankInfo, backend: str, device: str, timeout_s: float) -> None:
        self.info, self.backend, self.device, self.timeout_s = info, backend, device, timeout_s

    def join(self) -> None:
        import torch.distributed as dist

        try:
            dist.init_process_group(self.backend,
                                    timeout=datetime.timedelta(seconds=self.timeout_s))
        except Exception as exc:
            raise RankFault(f"rank {self.info.rank} could not join the process group "
                            f"({self.backend}, {self.info.world_size} ranks) within "
                            f"{self.timeout_s:g} s: {exc}") from None

    def leave(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()

    def barrier(self) -> None:
        import torch.distributed as dist

        self._guard(dist.barrier)

    def reduce_max(self, value: float) -> float:
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        self._guard(dist.all_reduce, t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order, on every rank."""
        import torch.distributed as dist

        out: list[Any] = [None] * self.info.world_size
        self._guard(dist.all_gather_object, out, value)
        return out

    def _guard(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise RankFault(f"rank {self.info.rank}: a collective failed (another rank died "
                            f"or hung past {self.timeout_s:g} s): {exc}") from None


def describe_rank(info: RankInfo, backend: backends.Backend) -> dict[str, Any]:
    """What the result file says about one rank: where it ran, and on what."""
    import torch

    record: dict[str, Any] = {"rank": info.rank, "local_rank": info.local_rank,
                              "host": socket.gethostname(), "pid": os.getpid(),
                              "device": backend.device, "torch": torch.__version__,
                              "threads": torch.get_num_threads()}
    if os.environ.get("GROUP_RANK", "").isdigit():
        # torchrun's agent (one per node) numbers the nodes: two nodes on one host
        # (or hosts with the same name) stay apart.
        record["node"] = int(os.environ["GROUP_RANK"])
    if backend.device != "cpu":
        record["gpu"] = torch.cuda.get_device_name(torch.cuda.current_device())
    return record


class RankRunner:
    """Runs a plan's cases on this rank; `on_result` receives rank 0's Results."""

    def __init__(self, plan: Plan, group: Group, backend: backends.Backend,
                 on_result: Callable[[Result], None] | None = None) -> None:
        self.plan, self.group, self.backend = plan, group, backend
        self.info = group.info
        self.on_result = on_result or (lambda r: None)
        self.results: list[Result] = []

    def run(self) -> list[Result]:
        for spec, reason in self.plan.skipped:
            self._finish(Result(spec=spec, status="skipped", error=reason))
        for index, spec in enumerate(self.plan.cases):
            maybe_fault(self.info.rank, index)
            self._finish(self.case(spec))
        return self.results

    def case(self, spec: CaseSpec) -> Result:
        wl = workloads.get(spec.workload)
        if not isinstance(wl, RankWorkload):  # planning runs no other workload across ranks
            return measured.failed(spec, "error", f"{wl.name} does not run across ranks")
        p = spec.param_dict
        timer = CollectiveTimer(self.backend.timer(), self.group.barrier, self.group.reduce_max)
        setup = self._agree(lambda: wl.rank_case(spec.impl, self.backend, p, spec.dtype,
                                                 self.info.rank, self.info.world_size,
                                                 self.plan.seed))
        if isinstance(setup, Disagreed):
            return measured.failed(spec, "error", setup.error)
        ran = self._agree(lambda: timer.first_call(setup.kernel))
        if isinstance(ran, Disagreed):
            return measured.failed(spec, "error", ran.error)
        output, first_s = ran
        verify = None
        if self.plan.verify:
            verify = combine_checks(self.group.gather(self._checked(setup.check, output)))
        del output
        numerics = Numerics(self.backend.float32_math())
        if verify is not None and not verify["ok"]:
            wrong = measured.failed(spec, "wrong", _wrong_message(verify), verify, first_s)
            return replace(wrong, timer=timer.name, numerics=numerics)
        sampler = measure.Sampler(setup.kernel, timer, self.plan.config)
        sampler.first_call_s = first_s
        sampler.run()
        samples, sizes = tuple(sampler.samples), tuple(sampler.round_sizes)
        figures = across_ranks(wl, spec, samples, sizes, self.info.world_size,
                               self._alone(setup.alone))
        return measured.result(spec, Measured(
            samples, tuple(Round(n, i) for i, n in enumerate(sizes)),
            inner_loops=sampler.inner_loops, stop=sampler.stop or "", timer=timer.name,
            first_call_s=first_s, verify=verify, numerics=numerics, distributed=figures))

    def _agree(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on every rank; if it raised on any, every rank gets the same
        Disagreed (the first failing rank's message) instead of its value."""
        try:
            value, error = fn(), None
        except RankFault:
            raise
        except Exception as exc:
            value, error = None, f"{type(exc).__name__}: {exc}"
        errors = self.group.gather(error)
        for rank, message in enumerate(errors):
            if message is not None:
                return Disagreed(f"rank {rank}: {message}")
        return value

    def _checked(self, check: Callable[[Any], dict[str, Any]], output: Any) -> dict[str, Any]:
        try:
            return check(output)
        except RankFault:
            raise
        except Exception as exc:
            return {"wrong": -1, "error": f"rank {self.info.rank}: {type(exc).__name__}: {exc}"}

    def _alone(self, kernel: Callable[[], Any] | None) -> list[float] | None:
        """The baseline on rank 0 alone while the others wait: the same step without
        communication, timed by the rank's own timer."""
        if kernel is None:
            return None
        samples: list[float] | None = None
        self.group.barrier()
        if self.info.rank == 0:
            samples = list(measure.Sampler(kernel, self.backend.timer(),
                                           self.plan.config).run().samples_s)
        self.group.barrier()
        return samples

    def _finish(self, result: Result) -> None:
        if self.info.rank == 0:
            self.results.append(result)
            self.on_result(result)


def combine_checks(found: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every rank's check into one verify record: wrong elements summed over ranks,
    the worst error, and the reference check where a rank made one."""
    errors = [f["error"] for f in found if "error" in f]
    wrong = sum(max(int(f.get("wrong", 0)), 0) for f in found)
    record: dict[str, Any] = {
        "ok": not errors and wrong == 0 and all(f.get("ok", True) for f in found),
        "wrong": wrong, "wrong_by_rank": [int(f.get("wrong", 0)) for f in found],
        "max_abs_err": max((float(f.get("max_abs_err", 0.0)) for f in found), default=0.0)}
    for f in found:
        for key in ("max_rel_err", "tol"):
            if key in f:
                record[key] = f[key]
    if errors:
        record["error"] = errors[0]
    return record


def _wrong_message(verify: Mapping[str, Any]) -> str:
    if "error" in verify:
        return f"verification failed: {verify['error']}"
    if verify["wrong"]:
        ranks = [r for r, n in enumerate(verify["wrong_by_rank"]) if n]
        return (f"{verify['wrong']} wrong element(s) (#wrong) on rank(s) "
                f"{', '.join(map(str, ranks))}")
    return (f"output differs from the float64 reference: scaled error "
            f"{verify.get('max_rel_err', float('nan')):.3g} > tolerance "
            f"{verify.get('tol', float('nan')):.3g}")


def across_ranks(wl: RankWorkload, spec: CaseSpec, samples: Sequence[float],
                 sizes: Sequence[int], world: int, alone: Sequence[float] | None
                 ) -> dict[str, Any]:
    """What a result across ranks reports under extra.distributed: the world size, the
    workload's own figures (a collective's algbw and busbw, a training step's samples/s),
    and the scaling efficiency against one rank alone where it was measured."""
    p = spec.param_dict
    nbytes = wl.bytes(p, workloads.itemsize(spec.dtype))
    extra: dict[str, Any] = {"world_size": world,
                             **wl.figures(p, nbytes, intervals.summary(samples, sizes)["median"],
                                          world)}
    if alone:
        ratio, lo, hi = stats.ratio_ci(alone, samples)
        extra.update(single_rank_samples_s=list(alone),
                     scaling_efficiency={"value": ratio, "ci95": [lo, hi]})
    return extra


def maybe_fault(rank: int, where: int | str) -> None:
    spec = os.environ.get(FAULT_ENV, "")
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] != str(rank) or parts[1] != str(where):
        return
    if parts[2:] == ["hang"]:
        import time

        while True:
            time.sleep(3600)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
