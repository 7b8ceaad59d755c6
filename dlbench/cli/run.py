"""`dlbench run`: measure a suite on every available backend and show the speedups."""

from __future__ import annotations

import inspect
import socket
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dlbench import (
    __version__,
    backends,
    between_runs,
    drift,
    environment,
    planning,
    provenance,
    results,
    suites,
    workloads,
)
from dlbench.cli import console, options
from dlbench.cli import distributed as dist_cli
from dlbench.cli import output as destinations
from dlbench.cli.gate import AB_KEY, AbRun, Gate
from dlbench.cli.options import positive_ints, split
from dlbench.distributed import DEFAULT_TIMEOUT_S, in_torchrun
from dlbench.errors import UsageError
from dlbench.i18n import _, ngettext
from dlbench.planning import Plan, Selection, build
from dlbench.report import csv as csv_report
from dlbench.report import epoch, headline, markdown, terminal
from dlbench.report.rows import DEFAULT_BASELINE, speedup_table
from dlbench.runner import Event, RunInterrupted, Runner

DISTRIBUTED_SUITE = "distributed"
FAILED = ("wrong", "error", "oom")

EXAMPLES = """
[bold]Examples[/bold]

  dlbench run                      [dim]# the quick suite on every backend[/dim]
  dlbench run --wide               [dim]# cells with GFLOP/s and intervals[/dim]
  dlbench run --lang ko            [dim]# 표와 요약을 한국어로[/dim]
  dlbench run --backend numpy,torch --size 512,1024,2048 --dtype float32
  dlbench run --suite ci --threads 2 -o results/ci.json --quiet
  dlbench run --suite ci --compare base.json --summary comment.md  [dim]# gate in one step[/dim]
  dlbench run --workload matmul --no-save --format json | jq .results
  dlbench run --device cuda --dtype float16,bfloat16 --tf32 on --cache cold
  dlbench run --backend numpy,cupy --include-transfer  [dim]# with the bus[/dim]
  dlbench run --device cuda --workload matmul --size 256 --graph
  dlbench run --backend torch --workload matmul,mlp_train_step --compile
  dlbench run --backend torch,cupy --workload transfer --size 16M
  dlbench run --nproc 2            [dim]# the distributed suite on 2 ranks[/dim]
  dlbench run --nproc 2 --workload allreduce --size 8..64M:x2
  torchrun --nnodes 2 --nproc-per-node 8 ... -m dlbench run --device cuda

NO_COLOR=1 turns colour off; DLBENCH_LANG=ko speaks Korean.
"""


def default_output(now: datetime) -> Path:
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())
    return Path("results") / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{host}.json"


class Format(StrEnum):
    table = "table"
    json = "json"
    md = "md"
    csv = "csv"


class Cache(StrEnum):
    hot = "hot"
    cold = "cold"


class Tf32(StrEnum):
    off = "off"
    on = "on"


class CompileMode(StrEnum):
    """torch.compile's modes (dlbench.compilers.MODES)."""

    default = "default"
    reduce_overhead = "reduce-overhead"
    max_autotune = "max-autotune"


class DistBackend(StrEnum):
    gloo = "gloo"
    nccl = "nccl"


def _devices() -> list[str]:
    return sorted({t.device for t in backends.all_targets()}, key=lambda d: (d != "cpu", d))


def run(
    ctx: typer.Context,
    suite: Annotated[str | None, typer.Option(
        metavar="NAME|FILE.toml", autocompletion=options.completer(suites.builtin_names),
        help=f"Built-in suite ({options.listing(suites.builtin_names())}) or a .toml suite "
             "file. Default: quick; distributed with --nproc or under torchrun.")] = None,
    backend: Annotated[list[str] | None, typer.Option(
        metavar="NAME,...", autocompletion=options.completer(backends.names),
        help=f"Backends to run: {options.listing(backends.names())}. Default: every "
             "available one.")] = None,
    device: Annotated[list[str] | None, typer.Option(
        metavar="NAME,...", autocompletion=options.completer(_devices),
        help=f"Devices: {options.listing(_devices())}. Default: every available one.")]
    = None,
    workload: Annotated[list[str] | None, typer.Option(
        metavar="NAME,...", autocompletion=options.completer(workloads.names),
        help=f"Workloads: {options.listing(workloads.names())}. Default: the suite's.")]
    = None,
    workload_file: Annotated[list[Path] | None, typer.Option(
        "--workload-file", help="A Python file of your own workloads, each registered with "
        "@dlbench.workloads.register (docs/extending.md); may be given more than once.")]
    = None,
    dtype: Annotated[list[str] | None, typer.Option(
        metavar="NAME,...", autocompletion=options.completer(lambda: suites.DTYPES),
        help=f"Dtypes: {options.listing(suites.DTYPES)}. Default: the suite's.")] = None,
    size: Annotated[list[str] | None, typer.Option(
        metavar="N,...", help="Primary size of each workload (matmul: M=N=K); a list is a "
        "sweep. Binary suffixes (64K, 16M) and ranges LOW..HIGH:xF (8..64M:x2).")] = None,
    threads: Annotated[int | None, typer.Option(
        min=1, metavar="N",
        help="BLAS/OpenMP threads in every backend (default: the library's own).")] = None,
    baseline: Annotated[str, typer.Option(
        metavar="BACKEND-DEVICE",
        help="The column speedups are relative to, e.g. numpy-cpu, torch-cpu.")]
    = DEFAULT_BASELINE,
    min_time: Annotated[float | None, typer.Option(
        min=0.0, metavar="SECONDS",
        help="Seconds of samples per case and backend before stopping may happen.")] = None,
    max_time: Annotated[float | None, typer.Option(
        min=0.001, metavar="SECONDS", help="Most seconds of samples per case and backend.")]
    = None,
    rounds: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="At least this many rounds per case (one block of samples "
        "each, spread over the run; intervals stand on the spread between them). The "
        "time budget grows to hold them unless --max-time is given.")] = None,
    repeat: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="Measure everything N times over in fresh worker processes "
        "with fresh inputs, and pool the rounds: intervals that also cover what a process "
        "fixes for its lifetime, at N times the cost.")] = None,
    cache: Annotated[Cache, typer.Option(
        help="GPU L2 state per sample: hot, or cold (L2 flushed before each sample, "
             "outside the timed window; GPU backends only).")] = Cache.hot,
    tf32: Annotated[Tf32, typer.Option(
        help="GPU float32 math: off (strict FP32) or on (TF32 tensor cores), set alike "
             "for torch and CuPy and recorded in every result.")] = Tf32.off,
    include_transfer: Annotated[bool, typer.Option(
        "--include-transfer",
        help="Time GPU kernels end to end: copy inputs in from host memory, compute, copy "
             "the output back (columns marked +transfer); CPU columns are unchanged.")]
    = False,
    graph: Annotated[bool, typer.Option(
        "--graph",
        help="Time GPU kernels as replays of a CUDA graph holding the batch: the kernels "
             "without Python's launches (columns marked +graph); cases that cannot be "
             "captured are skipped with the reason. CPU columns are unchanged.")] = False,
    compile_: Annotated[bool, typer.Option(
        "--compile",
        help="Also run every library's compiled implementation (torch.compile, "
             "TensorFlow's XLA, JAX's jit) where the suite leaves it out (quick does); "
             "each is shown as a -compiled column beside its library's eager one, with "
             "its compile time (the first call) and break-even.")] = False,
    compile_mode: Annotated[CompileMode, typer.Option(
        help="torch.compile's mode: default, reduce-overhead (CUDA graphs on a GPU) or "
             "max-autotune; recorded with every compiled result.")] = CompileMode.default,
    compile_cache: Annotated[Path | None, typer.Option(
        metavar="DIR",
        help="A persistent cache folder for compiled kernels, kept between runs (default: "
             "an empty folder of the run's own, removed after it, so compile times never "
             "depend on what ran before).")] = None,
    no_verify: Annotated[bool, typer.Option(
        "--no-verify",
        help="Skip checking outputs against the float64 reference.")] = False,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="PATH",
        help="Result file (default results/<UTC time>-<host>.json).")] = None,
    no_save: Annotated[bool, typer.Option(
        "--no-save", help="Write no result file (the table and --format output "
        "only).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing --output file.")] = False,
    fmt: Annotated[Format, typer.Option(
        "--format", help="What goes to stdout; progress and messages go to stderr.")]
    = Format.table,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress and no table; errors only.")] = False,
    wide: Annotated[bool, typer.Option(
        "--wide", "-w", help="Table cells with GFLOP/s, % of peak and the "
        "speedup's interval (the default shows time and speedup, to fit 80 columns).")]
    = False,
    nproc: Annotated[int | None, typer.Option(
        metavar="N",
        help="Run the distributed workloads (collectives, ddp_train_step) on N ranks of this "
             "machine, started through torch.distributed.run; across nodes, launch "
             "`torchrun ... -m dlbench run` instead.")] = None,
    dist_backend: Annotated[DistBackend | None, typer.Option(
        show_default=False, help="Process-group backend of a distributed run: gloo (CPUs; "
        "the default there) or nccl (GPUs; the default there).")] = None,
    dist_timeout: Annotated[float, typer.Option(
        metavar="SECONDS", help="Seconds a rank waits in a collective for the others before "
        "the run is declared hung (exit 3).")] = DEFAULT_TIMEOUT_S,
    compare: Annotated[Path | None, typer.Option(
        "--compare", metavar="BASE", help="After saving, compare with this baseline (a "
        "result file or pytest-benchmark JSON) as `dlbench compare` does, and exit 1 on a "
        "regression. The baseline is checked before anything is measured.",
        rich_help_panel="Gate")] = None,
    threshold: Annotated[str, typer.Option(
        metavar="FRACTION", help="With --compare: smallest slowdown that counts as a "
        "regression (5% or 0.05).", rich_help_panel="Gate")] = "5%",
    thresholds: Annotated[Path | None, typer.Option(
        metavar="FILE", help="With --compare: TOML or JSON file of per-benchmark thresholds.",
        rich_help_panel="Gate")] = None,
    relative: Annotated[bool, typer.Option(
        "--relative", help="With --compare: judge each benchmark against the whole suite's "
        "shift.", rich_help_panel="Gate")] = False,
    summary: Annotated[str | None, typer.Option(
        metavar="PATH", help="With --compare: write the Markdown summary for a pull-request "
        "comment here ('-' for stdout).", rich_help_panel="Gate")] = None,
    lang: options.LangOption = None,
) -> None:
    """Run a suite on every available backend, print speedup tables, save a result file.

    Exit codes: 0 all verified (and, with --compare, no regression) · 1 --compare found a
    regression · 2 bad usage or an unreadable baseline · 3 a case was wrong or errored
    (before a regression) · 130 interrupted (what finished is saved).
    """
    distributed = nproc is not None or in_torchrun()
    # `dlbench ab` runs this command with two environments (cli/ab.py): the same
    # selection, each case measured on both sides, judged B against A.
    ab: AbRun | None = ctx.meta.get(AB_KEY)
    with console.user_errors():
        # The files' workloads stay registered, also for the workers, until the command ends.
        ctx.with_resource(workloads.files(workload_file or ()))
        if no_save:
            output = _scratch_output(ctx, output)
        selection = Selection(
            suite=suite or (DISTRIBUTED_SUITE if distributed else "quick"),
            backends=split(backend, "--backend"),
            devices=split(device, "--device"), workloads=split(workload, "--workload"),
            dtypes=split(dtype, "--dtype"), sizes=positive_ints(size, "--size"),
            threads=options.threads(threads), min_time=options.seconds(min_time, "--min-time"),
            max_time=options.seconds(max_time, "--max-time"), verify=not no_verify,
            cache=cache.value, tf32=tf32.value, include_transfer=include_transfer,
            graph=graph, rounds=rounds, repeat=repeat, compile=compile_,
            compile_mode=compile_mode.value,
            compile_cache=str(compile_cache) if compile_cache is not None else None)
        show_table = not quiet and fmt == Format.table
        gate = (ab.gate(compare, threshold, thresholds, relative, summary, force, distributed,
                        show_table) if ab else
                _gate(compare, threshold, thresholds, relative, summary, force, distributed,
                      show_table))
    if distributed:
        dist_cli.run(ctx, dist_cli.DistOptions(nproc, dist_backend and dist_backend.value,
                                               dist_timeout), selection,
                     output or default_output(datetime.now(UTC)), force,
                     dist_cli.Finish(fmt.value, quiet, baseline, _show, _exit_on_failures,
                                     saved=not no_save))
        return
    with console.user_errors():
        plan = ab.split(build(selection)) if ab else build(selection)
        _check_baseline(baseline, plan)
        now = datetime.now(UTC)
        path = output or default_output(now)
        if not no_save:
            # Before any measuring: the output can be written, and no other run writes it.
            destinations.check_targets([path], force, streams=False)
            # Released when the command ends, however it ends (the context is closed).
            ctx.with_resource(destinations.locked(path))

    for note in plan.notes:
        console.note(note)
    env_record = environment.collect()
    if ab:  # each side refused in one line (exit 2) before any worker starts
        env_record["sides"] = ab.probe(plan)
    for note in environment.run_notes(env_record):
        console.note(note)
    saver = destinations.Saver(path, results.RunDocument(
        dlbench_version=__version__, created=now.isoformat(timespec="seconds"),
        command=("dlbench", *sys.argv[1:]), environment=env_record,
        settings=plan.settings(), results=(), provenance=provenance.collect()))
    progress = RunProgress(plan.total, quiet)
    runner = Runner(plan, on_event=progress.on_event, on_result=saver.add,
                    environment_record=env_record, sides=ab.by_name() if ab else None)
    interrupted = False
    try:
        with progress:
            runner.run()
    except (RunInterrupted, KeyboardInterrupt):  # also a Ctrl-C just after the last case
        runner.stop(kill=True)
        interrupted = True
    env_record["backends"] = runner.backend_descriptions()
    finished, between = _with_earlier_runs(runner.in_plan_order(), path, saver.doc.created,
                                           env_record, plan, not (interrupted or no_save))
    doc = saver.save(finished, interrupted=interrupted)
    if interrupted:
        console.message(_("interrupted: {count} finished result(s) saved to {path}").format(
            count=len(doc.results), path=path) if not no_save else _("interrupted"),
            style="yellow")
        raise typer.Exit(console.EXIT_INTERRUPTED)
    if not quiet or fmt != Format.table:  # asked-for data is printed even when quiet
        _show(doc, fmt, baseline, wide)
    if not quiet and not no_save:
        console.message(_("saved {path}").format(path=path))
        _say_drift(between)
        _say_widened(doc.results)
    code = gate.finish(doc, path) if gate else console.EXIT_OK
    _exit_on_failures(doc)
    if code:
        raise typer.Exit(code)


def _with_earlier_runs(finished: list[results.Result], path: Path, created: str,
                       env_record: dict, plan: Plan, look: bool
                       ) -> tuple[list[results.Result], drift.BetweenRuns | None]:
    """The previous runs of this machine beside this one (where `look`: a finished,
    saved run): the drift note judges this run's own intervals against the newest, and
    all of them widen the intervals by the drift between runs that no run sees from
    inside (between_runs.py)."""
    if not look:
        return finished, None
    earlier = drift.earlier_runs(path.parent, path, created, env_record, plan.settings())
    return (between_runs.widen(finished, [doc for _, doc in earlier]),
            drift.against_newest(finished, earlier, created))


def _say_widened(finished: Sequence[results.Result]) -> None:
    """Which earlier runs widened the intervals, and by how much."""
    records = [r.stats["between_runs"] for r in finished
               if r.stats and isinstance(r.stats.get("between_runs"), dict)]
    if not records:
        # Measured on a shared VM, a first run's own intervals held the next run's
        # median in 3 cells of 4, not 19 of 20 (docs/measurements.md): say so, and how
        # the next run does better.
        if any(r.status == "ok" for r in finished):
            console.note(_(
                "95% intervals cover what this run saw, not yet how this machine drifts "
                "between runs: the next run into this folder learns that from this one "
                "(--repeat 3 gives intervals that hold across runs now, at 2-3x the "
                "time)."))
        return
    runs = max(int(rec.get("runs", 0)) for rec in records)
    largest = max(float(rec.get("sd", 0.0)) for rec in records)
    console.note(ngettext(
        "95% intervals include the drift between runs, measured against {runs} earlier run "
        "of this machine in this folder (SD up to {sd:.0%} a run); a run in a fresh folder "
        "shows only what it saw itself.",
        "95% intervals include the drift between runs, measured against {runs} earlier runs "
        "of this machine in this folder (SD up to {sd:.0%} a run); a run in a fresh folder "
        "shows only what it saw itself.", runs).format(runs=runs, sd=largest))


def _say_drift(between: drift.BetweenRuns | None) -> None:
    """A note when the previous run in the output folder lies outside this run's
    intervals far more often than chance: the machine drifts on a longer time scale."""
    if between is None or not between.drifted:
        return
    since = (_(" ({minutes:.0f} min earlier)").format(minutes=between.minutes)
             if between.minutes is not None else "")
    console.note(_(
        "{outside} of {compared} medians of {earlier}{since} lie outside this run's own 95% "
        "intervals (about 1 in 20 would by chance; typical change {typical:.0%}, largest "
        "{largest} {change:+.0%}): this machine drifts between runs more than one run can "
        "see. For intervals that hold across runs use --repeat 3 (fresh processes, more "
        "time); to gate on such a machine use compare --relative.").format(
            outside=between.outside, compared=between.compared, earlier=between.earlier,
            since=since, typical=between.typical_change, largest=between.largest_id,
            change=between.largest_change))


def _gate(base: Path | None, threshold: str, thresholds: Path | None, relative: bool,
          summary: str | None, force: bool, distributed: bool, show_table: bool
          ) -> Gate | None:
    """The one-step gate, checked before any measuring; None without --compare."""
    if base is None:
        given = [name for name, value in (("--thresholds", thresholds), ("--summary", summary),
                                          ("--relative", relative)) if value]
        if given:
            raise UsageError(f"{', '.join(given)} belong(s) to --compare BASE.json")
        return None
    if distributed:
        raise UsageError("--compare is not available with distributed runs; compare the "
                         "saved file with `dlbench compare BASE NEW`")
    return Gate.prepare(base, threshold, thresholds, relative, summary, force, show_table)


def _scratch_output(ctx: typer.Context, output: Path | None) -> Path:
    """Where a --no-save run keeps its results while it runs (a distributed run reads
    rank 0's file back): a private folder, removed when the command ends."""
    if output is not None:
        raise UsageError(_("--no-save writes no result file: leave out -o"))
    folder = ctx.with_resource(tempfile.TemporaryDirectory(prefix="dlbench-no-save-"))
    return Path(folder) / "result.json"


def _check_baseline(baseline: str, plan: Plan) -> None:
    columns = {planning.column(spec) for spec in plan.cases}
    if baseline != DEFAULT_BASELINE and baseline not in columns:
        raise UsageError(f"--baseline {baseline} is not among the measured columns "
                         f"({', '.join(sorted(columns)) or 'none'})")


class RunProgress:
    """A transient progress bar on stderr, advanced by the runner's events."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console.err,
                            transient=True, disable=quiet)
        self.task = self.bar.add_task(_("starting workers"), total=total)

    def __enter__(self) -> RunProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def on_event(self, event: Event) -> None:
        if event.kind == "worker_ready":
            self.bar.update(self.task, description=_("{worker} ready").format(
                worker=event.worker))
        elif event.kind == "case_start" and event.spec is not None:
            self.bar.update(self.task, description=event.spec.row_key)
        elif event.kind == "case_done":
            self.bar.advance(self.task)


def _exit_on_failures(doc: results.RunDocument) -> None:
    failed = [r for r in doc.results if r.status in FAILED]
    if failed:
        console.message(_("{count} case(s) failed: {cases}").format(
            count=len(failed), cases="; ".join(f"{r.spec.id}: {r.status}" for r in failed[:5])
            + (" …" if len(failed) > 5 else "")), style="red")
        raise typer.Exit(console.EXIT_FAILED_CASES)


def _show(doc: results.RunDocument, fmt: str, baseline: str, wide: bool = False) -> None:
    if fmt == "json":
        console.write_text(results.dumps(doc))
        return
    if fmt == "csv":
        console.write_text(csv_report.render(doc.results))
        return
    if fmt != "md":
        console.print_data(terminal.render_run(doc.results, baseline, wide=wide))
        return
    table = speedup_table(doc.results, baseline)
    story = headline.sentences(table, epoch.estimates([("", r) for r in doc.results]))
    console.write_text(markdown.render(table) + markdown.render_headline(story))


run.__doc__ = inspect.cleandoc(run.__doc__ or "") + "\n" + EXAMPLES
