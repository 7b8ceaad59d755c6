"""`dlbench run --nproc N` and `torchrun ... -m dlbench run`: the distributed side of run.

Two roles. The *launching* dlbench (`--nproc N`) checks everything a user can get
wrong, starts N ranks through torch's launcher with the same arguments, waits, and
shows rank 0's result file — or, when a rank died, hung or could not join, says which
and how, keeps what finished and exits 3. A *rank* (a process torchrun started: its
environment names RANK, WORLD_SIZE, MASTER_ADDR...) joins the process group, runs the
cases in step with the others, and on rank 0 saves the result file after every case.
Ranks other than 0 print nothing but their own failure; rank 0 prints the table only
when no launching dlbench is there to do it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape

from dlbench import __version__, backends, environment, provenance, results
from dlbench.cli import console
from dlbench.cli import output as destinations
from dlbench.distributed import (
    LAUNCHER_PID_ENV,
    STATUS_DIR_ENV,
    dist_backend_for,
    in_torchrun,
)
from dlbench.distributed.supervise import COMMAND_ENV, Launch, write_rank_report
from dlbench.errors import DlbenchError, UsageError
from dlbench.i18n import _
from dlbench.planning import Plan, Selection, build
from dlbench.process import die_with_parent

# Options of `run` that the launching dlbench consumes and the ranks must not see: with
# a value, and flags (--no-save: the ranks write the scratch file the launcher reads).
LAUNCH_ONLY = ("--nproc",)
LAUNCH_ONLY_FLAGS = ("--no-save",)


@dataclass(frozen=True)
class DistOptions:
    nproc: int | None
    dist_backend: str | None
    timeout_s: float


@dataclass(frozen=True)
class Finish:
    """How `run` ends once the result file is complete: `show` prints it in `fmt`
    (json, csv; table and md get the distributed table here), `exit_on_failures` sets the
    exit code. Passed in by cli/run.py, which owns them."""

    fmt: str
    quiet: bool
    baseline: str
    show: Callable[[results.RunDocument, str, str], None]
    exit_on_failures: Callable[[results.RunDocument], None]
    saved: bool = True  # False: --no-save, the file is a scratch one

    def __call__(self, doc: results.RunDocument, path: Path) -> None:
        from dlbench.report import distributed as table

        if self.fmt == "table" and not self.quiet:
            console.print_data(table.render_terminal(table.tables(doc.results)))
        elif self.fmt == "md":
            console.write_text(table.render_markdown(table.tables(doc.results)))
        elif self.fmt != "table":
            self.show(doc, self.fmt, self.baseline)
        if not self.quiet and self.saved:
            console.message(_("saved {path}").format(path=path))
        self.exit_on_failures(doc)


def run(ctx: typer.Context, opts: DistOptions, sel: Selection, path: Path, force: bool,
        finish: Finish) -> None:
    """A rank when torchrun started this process, else the launching dlbench."""
    if in_torchrun() and opts.nproc is None:
        rank(ctx, opts, sel, path, force, finish)
    else:
        launch(ctx, opts, sel, path, force, finish)


def check(opts: DistOptions, sel: Selection) -> tuple[Selection, str]:
    """The selection as a distributed run uses it (torch only, the world size set), and
    the process-group backend; bad combinations are refused here, before any rank."""
    if opts.nproc is not None and in_torchrun():
        raise UsageError("--nproc starts ranks itself; under torchrun the ranks come from "
                         "torchrun (leave out --nproc)")
    if opts.nproc is not None and opts.nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {opts.nproc}")
    if not opts.timeout_s > 0:
        raise UsageError(f"--dist-timeout must be positive, got {opts.timeout_s}")
    if sel.backends not in (None, ("torch",)):
        raise UsageError("distributed runs use torch.distributed: --backend torch only "
                         f"(got {', '.join(sel.backends or ())})")
    devices = sel.devices or ("cpu",)
    if len(devices) != 1:
        raise UsageError("a distributed run uses one device kind: --device cpu or cuda")
    device = devices[0].split(":")[0]
    dist_backend = opts.dist_backend or dist_backend_for(device)
    if dist_backend not in ("gloo", "nccl"):
        raise UsageError(f"--dist-backend must be gloo or nccl, got {dist_backend!r}")
    if dist_backend == "nccl" and device == "cpu":
        raise UsageError("--dist-backend nccl needs GPUs (--device cuda); on CPUs use gloo")
    world = opts.nproc if opts.nproc is not None else int(os.environ["WORLD_SIZE"])
    return replace(sel, backends=("torch",), devices=(device,), world_size=world), dist_backend


def settings(plan: Plan, dist_backend: str, timeout_s: float) -> dict[str, object]:
    return {**plan.settings(), "world_size": plan.cases[0].param_dict.get("ranks")
            if plan.cases else None, "dist_backend": dist_backend, "dist_timeout": timeout_s}


def rank_args(argv: Sequence[str], path: Path) -> list[str]:
    """The user's `run` arguments for the ranks: without --nproc, with the output path
    the launching dlbench chose (so the default name is the same for all)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in LAUNCH_ONLY:
            skip = True
            continue
        if arg in LAUNCH_ONLY_FLAGS:
            continue
        if any(arg.startswith(f"{o}=") for o in LAUNCH_ONLY):
            continue
        out.append(arg)
    return [*out, "-o", str(path)]


def launch(ctx: typer.Context, opts: DistOptions, sel: Selection, path: Path, force: bool,
           finish: Finish) -> None:
    """The launching dlbench: check, start the ranks, wait, report."""
    with console.user_errors():
        sel, dist_backend = check(opts, sel)
        assert opts.nproc is not None
        plan = build(sel)
        destinations.check_targets([path], force, streams=False)
        ctx.with_resource(destinations.locked(path))
    for note in plan.notes:
        console.message(f"note: {note}", style="yellow")
    if not finish.quiet:
        console.message(f"starting {opts.nproc} rank(s) ({dist_backend}) through "
                        f"torch.distributed.run: {len(plan.cases)} case(s)")
    argv = sys.argv[sys.argv.index("run") + 1:] if "run" in sys.argv else []
    runner = Launch(opts.nproc, ["run", *rank_args(argv, path)], opts.timeout_s,
                    env={COMMAND_ENV: json.dumps(["dlbench", *sys.argv[1:]])})
    try:
        with _terminate_as_interrupt():
            outcome = runner.wait()
    except KeyboardInterrupt:
        runner.stop()
        saved = _mark_interrupted(path)
        console.message(f"interrupted: {saved} finished result(s) saved to {path}",
                        style="yellow")
        raise typer.Exit(console.EXIT_INTERRUPTED) from None
    finally:
        runner.cleanup()
    if not outcome.ok:
        for line in outcome.fault_lines():
            # Library messages hold "[...]" (gloo's source locations): not rich markup.
            console.message(escape(console.one_line(line)), style="red")
        saved = _count(path)
        console.message(f"the run ended early: {saved} finished result(s) saved to {path}"
                        if saved else "the run ended early: no case finished, nothing saved",
                        style="red")
        raise typer.Exit(console.EXIT_USAGE if outcome.usage_error
                         else console.EXIT_FAILED_CASES)
    with console.user_errors():
        doc = results.load(path)
    finish(doc, path)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job's timeout, `kill`) stops the ranks as Ctrl-C does: the ranks are
    stopped, what finished is kept, the status folder removed. Left to the default, it
    ended this process at once and only PR_SET_PDEATHSIG stopped the rest."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _count(path: Path) -> int:
    try:
        return len(results.load(path).results)
    except DlbenchError:
        return 0


def _mark_interrupted(path: Path) -> int:
    try:
        doc = results.load(path)
    except DlbenchError:
        return 0
    results.dump(replace(doc, interrupted=True), path)
    return len(doc.results)


def rank(ctx: typer.Context, opts: DistOptions, sel: Selection, path: Path, force: bool,
         finish: Finish) -> None:
    """One rank of a torchrun-launched run."""
    from dlbench.distributed.rank import (
        Group,
        RankFault,
        RankInfo,
        RankRunner,
        describe_rank,
        maybe_fault,
    )

    # c10d logs every failed connection attempt with a C++ backtrace on stderr; the rank's
    # own one-line message says what failed. Read when torch loads: set before. A user's
    # own TORCH_CPP_LOG_LEVEL (e.g. INFO, to debug a rendezvous) wins.
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")
    info = RankInfo.from_environment()
    # torchrun's agent started this process in a session of its own: die with it (with
    # dlbench's launcher, whose pid the rank knows, also when it died before this line).
    die_with_parent(int(os.environ.get(LAUNCHER_PID_ENV) or os.getppid()))
    launched = bool(os.environ.get(STATUS_DIR_ENV))
    speak = info.rank == 0 and not launched
    try:
        sel, dist_backend = check(opts, sel)
        plan = build(sel)
        if info.rank == 0 and not launched:  # else the launching dlbench holds it
            destinations.check_targets([path], force, streams=False)
            ctx.with_resource(destinations.locked(path))
    except DlbenchError as exc:
        _rank_exit(info.rank, console.EXIT_USAGE, str(exc), info.rank == 0 or launched)
    device = sel.devices[0] if sel.devices else "cpu"
    target = backends.get("torch", device if device == "cpu" else f"cuda:{info.local_rank}")
    backends.import_library(target)
    target.set_threads(plan.threads or max(1, (os.cpu_count() or 1) // info.local_world_size))
    target.setup()
    group = Group(info, dist_backend, "cpu" if target.device == "cpu" else target.device,
                  opts.timeout_s)
    saver: destinations.Saver | None = None
    try:
        maybe_fault(info.rank, "join")
        write_rank_report(info.rank, None, stage="joining")
        group.join()
        write_rank_report(info.rank, None, stage="running")
        ranks = group.gather(describe_rank(info, target))
        if info.rank == 0:
            saver = _saver(plan, path, dist_backend, opts.timeout_s, ranks)
        RankRunner(plan, group, target, on_result=saver.add if saver else None).run()
        group.barrier()
    except RankFault as exc:
        _rank_exit(info.rank, console.EXIT_FAILED_CASES, str(exc), True)
    except KeyboardInterrupt:
        _rank_exit(info.rank, console.EXIT_INTERRUPTED, "interrupted", speak)
    group.leave()
    write_rank_report(info.rank, 0)
    if speak and saver is not None:
        finish(saver.doc, path)


def _saver(plan: Plan, path: Path, dist_backend: str, timeout_s: float,
           ranks: list[dict[str, object]]) -> destinations.Saver:
    env = environment.collect()
    env["distributed"] = {"world_size": len(ranks), "backend": dist_backend,
                          "nodes": len({r.get("node", r["host"]) for r in ranks}),
                          "hosts": sorted({str(r["host"]) for r in ranks}), "ranks": ranks}
    command = json.loads(os.environ.get(COMMAND_ENV) or "null") or ["dlbench", *sys.argv[1:]]
    now = datetime.now(UTC)
    saver = destinations.Saver(path, results.RunDocument(
        dlbench_version=__version__, created=now.isoformat(timespec="seconds"),
        command=tuple(command), environment=env,
        settings=settings(plan, dist_backend, timeout_s), results=(),
        provenance=provenance.collect()))
    results.dump(saver.doc, path)
    return saver


def _rank_exit(rank_no: int, code: int, message: str, say: bool) -> None:
    write_rank_report(rank_no, code, message)
    if say:
        text = message if message.startswith("rank ") else f"rank {rank_no}: {message}"
        console.message(escape(console.one_line(text)), style="red")
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a normal exit: a collective may still hold threads that would block it.
    os._exit(code)
