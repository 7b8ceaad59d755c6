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

from dlbench import backends, intervals, measure, stats, workloads
from dlbench.distributed.timing import CollectiveTimer
from dlbench.planning import Plan
from dlbench.results import CaseSpec, Numerics, Result, Round

# Test hook: "RANK:CASE" makes rank RANK kill itself (SIGKILL) when it reaches its
# CASE-th case (0-based), as a crash or the OOM killer would; "RANK:CASE:hang" makes it
# stop answering instead; CASE "join" does either before the rank joins the process
# group (a rank that never reaches the rendezvous). Never set in normal use.
FAULT_ENV = "DLBENCH_TEST_RANK_FAULT"


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
        p = spec.param_dict
        timer = CollectiveTimer(self.backend.timer(), self.group.barrier, self.group.reduce_max)
        setup = self._agree(lambda: wl.rank_case(spec.impl, self.backend, p, spec.dtype,
                                                 self.info.rank, self.info.world_size,
                                                 self.plan.seed))
        if isinstance(setup, Result):
            return replace(setup, spec=spec)
        ran = self._agree(lambda: timer.first_call(setup.kernel))
        if isinstance(ran, Result):
            return replace(ran, spec=spec)
        output, first_s = ran
        verify = None
        if self.plan.verify:
            verify = combine_checks(self.group.gather(self._checked(setup.check, output)))
        del output
        base = Result(spec=spec, status="ok", first_call_s=first_s, verify=verify,
                      timer=timer.name, numerics=Numerics(self.backend.float32_math()))
        if verify is not None and not verify["ok"]:
            return replace(base, status="wrong", error=_wrong_message(verify))
        sampler = measure.Sampler(setup.kernel, timer, self.plan.config)
        sampler.first_call_s = first_s
        sampler.run()
        alone = self._alone(setup.alone)
        return measured(base, sampler.samples, sampler.round_sizes, sampler.inner_loops,
                        sampler.stop or "",
                        wl, self.info.world_size, alone)

    def _agree(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on every rank; if it raised on any, every rank gets the same failed
        Result (the first failing rank's message) instead of its value."""
        try:
            value, error = fn(), None
        except RankFault:
            raise
        except Exception as exc:
            value, error = None, f"{type(exc).__name__}: {exc}"
        errors = self.group.gather(error)
        for rank, message in enumerate(errors):
            if message is not None:
                return Result(spec=CaseSpec("", (), "", "", "", ""), status="error",
                              error=f"rank {rank}: {message}")
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


def measured(base: Result, samples: Sequence[float], sizes: Sequence[int], loops: int,
             stop: str, wl: workloads.Workload, world: int, alone: Sequence[float] | None
             ) -> Result:
    """A measured case's Result: the usual figures, and under extra.distributed the
    world size, algbw and busbw (collectives) or samples/s and scaling efficiency
    (training steps)."""
    spec = base.spec
    summary = intervals.summary(samples, sizes)
    p = spec.param_dict
    model_flops = getattr(wl, "model_flops", None)
    flops = model_flops(spec.impl, p) if model_flops else wl.flops(p)
    nbytes = wl.bytes(p, workloads.itemsize(spec.dtype))
    median = summary["median"]
    extra: dict[str, Any] = {"world_size": world}
    bus_factor = getattr(wl, "bus_factor", None)
    if bus_factor is not None:
        algbw = nbytes / median / 1e9
        extra.update(algbw_gbytes_per_s=algbw, bus_factor=bus_factor(world),
                     busbw_gbytes_per_s=algbw * bus_factor(world))
    else:
        extra["samples_per_s"] = p["batch"] * world / median
    if alone:
        ratio, lo, hi = stats.ratio_ci(alone, samples)
        extra.update(single_rank_samples_s=list(alone),
                     scaling_efficiency={"value": ratio, "ci95": [lo, hi]})
    return replace(base, samples_s=tuple(samples), inner_loops=loops,
                   stats=summary, flops=flops, bytes=nbytes,
                   gflops=flops / median / 1e9 if flops else None,
                   gbytes_per_s=nbytes / median / 1e9, stop=stop,
                   warnings=tuple(measure.quality_warnings(samples, sizes)),
                   distributed=extra, rounds=tuple(Round(n, i) for i, n in enumerate(sizes)))


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
