"""Runs across ranks: torch.distributed collectives and data-parallel training steps.

A distributed run is N copies of `dlbench run`, one per rank, started by torch's own
launcher (torch.distributed.run, what `torchrun` is): `dlbench run --nproc N` starts
it on this machine (launch.py, watched by supervise.py), and `torchrun ... -m dlbench
run` starts it on as many nodes as the user's torchrun is told. Each rank joins the
process group from torchrun's environment and runs the same cases in the same order
(rank.py); every sample is the slowest rank's time (timing.py); rank 0 writes the one
result file.

Nothing here knows rich or typer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# What torchrun (and torch.distributed.run's API) sets in every rank's environment.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Set by `dlbench run --nproc N` for its ranks: the folder where each rank leaves its
# exit report, and the sign that the launching dlbench shows the results (so rank 0
# stays quiet).
STATUS_DIR_ENV = "DLBENCH_DIST_STATUS_DIR"
# Set by the launcher (launch.py) for its ranks: its pid, so that a rank started just
# as the launcher died (its parent already gone when it asks for PR_SET_PDEATHSIG)
# sees that it is orphaned and leaves at once.
LAUNCHER_PID_ENV = "DLBENCH_DIST_LAUNCHER_PID"
# Seconds a collective may wait for the other ranks before the run is declared hung.
DEFAULT_TIMEOUT_S = 60.0


def in_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is one rank of a torchrun-launched job."""
    env = os.environ if environ is None else environ
    return all(env.get(name) for name in TORCHRUN_VARIABLES)


def dist_backend_for(device: str) -> str:
    """The process-group backend for a device: NCCL between GPUs, gloo on CPUs."""
    return "gloo" if device == "cpu" else "nccl"
