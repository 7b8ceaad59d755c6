"""`dlbench env`: the environment record a result file stores, for this machine."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from dlbench import backends, environment, inventory
from dlbench.cli import console, options


class Format(StrEnum):
    table = "table"
    json = "json"



def env(
    fmt: Annotated[Format, typer.Option("--format", help="A table for people, or JSON "
                                        "(the record a result file stores).")]
    = Format.table,
    lang: options.LangOption = None,
) -> None:
    """Show CPU, BLAS and threads, memory, GPUs, library versions and the theoretical peak.

    [bold]Examples[/bold]

      dlbench env
      dlbench env --format json > env.json
    """
    with console.user_errors():
        record = environment.collect()
        record["backends"] = inventory.describe_backends()
        for info in record["backends"].values():
            if "gpu" in info:
                environment.add_gpu(record, info["gpu"])
    for note in backends.notes():  # a backend plugin that did not load
        console.message(f"note: {note}", style="yellow")
    if fmt == "json":
        console.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        return
    console.print_data(render(record))


def render(record: dict[str, Any]) -> Group:
    cpu, mem = record["cpu"], record["memory"]
    t = Table(title="environment", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("host", f"{record['host']} · {record['os']} · Python {record['python']}")
    t.add_row("CPU", f"{cpu['model']} ({cpu['vendor']}, family {cpu['family']}, "
                     f"model {cpu['model_number']})")
    t.add_row("cores", f"{cpu['physical_cores']} physical, {cpu['logical_cores']} logical, "
                       f"{cpu['usable_cores']} usable" + (" · virtual machine"
                                                          if cpu["virtualized"] else ""))
    t.add_row("clock", f"nominal {cpu['mhz_nominal']} MHz, max "
                       f"{cpu['mhz_max'] or 'not reported'}")
    t.add_row("ISA flags", ", ".join(cpu["flags"]) or "none of interest")
    t.add_row("memory", f"{mem['total_bytes'] / 2**30:.1f} GiB total, "
                        f"{mem['available_bytes'] / 2**30:.1f} GiB available")
    for lib in record["blas"]:
        t.add_row(f"{lib['user_api']} (NumPy)", f"{lib['internal_api']} {lib['version']}, "
                  f"kernel {lib.get('architecture') or '?'}, {lib['num_threads']} threads")
    for key, value in record["env_vars"].items():
        t.add_row(f"${key}", value)
    for label, info in record.get("backends", {}).items():
        if not info.get("available"):
            t.add_row(label, f"unavailable: {escape(str(info['reason']))}", style="dim")
            continue
        # NumPy's BLAS list and env vars have rows of their own above.
        details = {k: v for k, v in info.items()
                   if k != "available" and not isinstance(v, list | dict)}
        t.add_row(label, ", ".join(f"{k} {v}" for k, v in details.items()))
    t.add_row("GPUs", ", ".join(g.get("name", "?") for g in record["gpus"]) or "none found")
    for gpu in record["gpus"]:
        t.add_row(gpu["device"], _gpu_line(gpu))
        peaks = gpu.get("peak_flops", {})
        if "unknown" in peaks:
            t.add_row(f"{gpu['device']} peak", f"unknown: {peaks['unknown']}")
        for dtype, entry in peaks.items():
            if isinstance(entry, dict):
                t.add_row(f"{gpu['device']} peak {dtype}",
                          f"{entry['flops'] / 1e12:.1f} TFLOP/s = {entry['how']}")
    t.add_row("libraries", ", ".join(f"{k} {v}" for k, v in record["libraries"].items()))
    peak = record["peak_flops"]
    if "unknown" in peak:
        t.add_row("CPU peak", f"unknown: {peak['unknown']}")
    else:
        for dtype, entry in peak.items():
            t.add_row(f"CPU peak {dtype}", f"{entry['flops'] / 1e9:.0f} GFLOP/s = {entry['how']}")
    return Group(t)


def _gpu_line(gpu: dict[str, Any]) -> str:
    parts = [gpu.get("name", "?"),
             f"{(gpu.get('memory_total_bytes') or 0) / 2**30:.1f} GiB",
             f"compute capability {gpu.get('compute_capability')}",
             f"{gpu.get('sm_count')} SMs"]
    if gpu.get("sm_clock_max_mhz"):
        parts.append(f"SM clock max {gpu['sm_clock_max_mhz']:.0f} MHz")
    for key, label in (("driver", "driver"), ("cuda_driver", "CUDA driver"),
                       ("cuda_runtime", "CUDA runtime"), ("cublas", "cuBLAS"),
                       ("cudnn", "cuDNN")):
        if gpu.get(key):
            parts.append(f"{label} {gpu[key]}")
    return ", ".join(str(p) for p in parts)
