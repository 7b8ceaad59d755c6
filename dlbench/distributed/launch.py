"""`python -m dlbench.distributed.launch REPORT NPROC TIMEOUT -- ARGS...`: N ranks of
`dlbench ARGS` on this machine through torch's own launcher, and a report of how each
ended.

This is `torchrun --standalone --nproc-per-node N` (torch.distributed.run), called
through its API (torch.distributed.launcher.api.elastic_launch) so that a failed rank
comes back as data — which rank, its exit code or signal — rather than as log text.
The report (JSON) maps a failed rank to {"exitcode", "signal", "pid"}; it is empty when
every rank exited 0. No restarts: a benchmark whose rank died is not retried behind the
user's back.

The launcher lives in a process of its own, started by `dlbench run --nproc N`: the
elastic agent installs signal handlers and stops every rank when one fails, and the
ranks (each in a session of its own, as the agent starts them) die with the agent
(PR_SET_PDEATHSIG, rank start-up), which dies with the dlbench that started it.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path


def launch(report: Path, nproc: int, timeout_s: float, args: list[str]) -> int:
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", rdzv_configs={"timeout": timeout_s},
        max_restarts=0, monitor_interval=0.1,
        # The agent's per-rank folders (error files) go beside the report, in the folder
        # the launching dlbench removes; by default each launch left a torchelastic_* in
        # the temp folder.
        logs_specs=DefaultLogsSpecs(log_dir=str(report.parent / "torchelastic")))
    failures: dict[str, dict[str, object]] = {}
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "dlbench", *args)
    except ChildFailedError as exc:
        for rank, failure in exc.failures.items():
            failures[str(rank)] = {"exitcode": failure.exitcode, "pid": failure.pid,
                                   "signal": failure.signal_name() if failure.exitcode < 0
                                   else None, "time": failure.timestamp}
    report.write_text(json.dumps(failures), encoding="utf-8")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    from dlbench.distributed import LAUNCHER_PID_ENV
    from dlbench.process import die_with_parent

    report, nproc, timeout, parent, dashdash, *args = argv
    assert dashdash == "--"
    die_with_parent(int(parent))
    os.environ[LAUNCHER_PID_ENV] = str(os.getpid())  # the ranks inherit it
    return launch(Path(report), int(nproc), float(timeout), args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
