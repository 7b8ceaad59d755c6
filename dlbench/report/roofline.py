"""Roofline data: each result's arithmetic intensity against its achieved FLOP/s, and the
machine's roofs where they are known (and the reason where they are not)."""

from __future__ import annotations

from dataclasses import dataclass

from dlbench import environment, workloads
from dlbench.report.cells import format_params
from dlbench.report.model import MachineView
from dlbench.report.rows import across_ranks


@dataclass(frozen=True)
class RoofPoint:
    column: str
    label: str  # "matmul m=n=k=512 float32"
    intensity: float  # FLOP per byte moved
    flops_per_s: float


@dataclass(frozen=True)
class Roofline:
    machine: str
    points: tuple[RoofPoint, ...]
    compute: tuple[tuple[str, float], ...]  # (label, FLOP/s)
    bandwidth: tuple[tuple[str, float], ...]  # (label, bytes/s)
    unknown: tuple[str, ...]  # the roofs that could not be drawn, and why


def roofline(view: MachineView) -> Roofline:
    env = dict(view.machine.environment)
    # One device's compute against its roofs: results across ranks (a collective's bytes
    # are on the wire, a DDP step's FLOPs on several devices) stay out.
    results = [r for r in view.results if not across_ranks(r)]
    points = []
    for r in results:
        if r.status == "ok" and r.flops and r.bytes and r.median:
            points.append(RoofPoint(r.column,
                                    f"{r.spec.workload} {format_params(r.spec.params)} "
                                    f"{r.spec.dtype}", r.flops / r.bytes, r.flops / r.median))
    compute, bandwidth, unknown = [], [], []
    pairs = dict.fromkeys((r.spec.device, r.spec.dtype) for r in results
                          if r.status == "ok" and r.flops)
    for device, dtype in pairs:
        peak = environment.peak_for(env, device, dtype)
        if peak:
            compute.append((f"{device} {dtype} peak {peak / 1e9:.0f} GFLOP/s", peak))
        else:
            reason = (env.get("peak_flops") or {}).get("unknown") if device == "cpu" else None
            unknown.append(f"compute roof ({device} {dtype}): unknown"
                           + (f" — {reason}" if reason else " — no peak recorded"))
    for device in dict.fromkeys(r.spec.device for r in results if r.status == "ok"):
        rates = {r.gbytes_per_s: r.spec.workload for r in results
                 if measures_bandwidth(r.spec.workload) and r.spec.device == device
                 and r.status == "ok" and r.gbytes_per_s}
        if rates:
            best = max(rates)
            bandwidth.append((f"{device} bandwidth {best:.3g} GB/s (measured by the "
                              f"{rates[best]} workload)", best * 1e9))
        else:
            unknown.append(f"bandwidth roof ({device}): unknown — no result of a workload "
                           "that measures memory bandwidth to take it from")
    return Roofline(view.machine.label, tuple(points), tuple(compute), tuple(bandwidth),
                    tuple(unknown))


def measures_bandwidth(workload: str) -> bool:
    """Whether `workload`'s GB/s is the memory's bandwidth (a workload this dlbench does
    not know says nothing)."""
    cls = workloads.find(workload)
    return cls is not None and cls.measures_bandwidth
