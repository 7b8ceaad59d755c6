"""The story a run tells: the headline, a table that fits 80 columns, columns in reading
order, sweeps only where they are sweeps, epochs grouped by unit. On two committed runs:
a real CPU-only `dlbench run` (run-cpu.json) and a GPU machine's (run-h200.json, made by
tests/data/make_h200_fixture.py)."""

import io
import re

import pytest
from rich.console import Console

from dlbench import results
from dlbench.report import epoch, headline, markdown, terminal
from dlbench.report.rows import speedup_table
from dlbench.report.sweeps import find_sweeps
from dlbench.results import CaseSpec, Result
from tests.helpers import DATA, build, case, check_snapshot, result

CPU_RUN = DATA / "run-cpu.json"
H200_RUN = DATA / "run-h200.json"


def run_view(path, width, wide=False):
    """What `dlbench run` prints for this result file in a terminal `width` columns wide."""
    doc = results.load(path)
    table = speedup_table(doc.results)
    story = headline.sentences(table, epoch.estimates([("", r) for r in doc.results]))
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    console.print(terminal.render(table, wide=wide, story=story))
    return console.file.getvalue()


@pytest.mark.parametrize("path", [CPU_RUN, H200_RUN], ids=["cpu", "h200"])
@pytest.mark.parametrize("width", [80, 160])
def test_run_view_snapshot(path, width):
    check_snapshot(f"run-{path.stem.removeprefix('run-')}-{width}.txt", run_view(path, width))


def table_rows(text):
    """The lines of the table blocks (up to the notes), split into rows: a row starts
    with its size label (or 'geometric mean'), and its continuation lines are indented."""
    rows, current = [], None
    for line in text.splitlines():
        if line.startswith("speedup = "):
            break
        if re.match(r"^(\d+|geometric mean)\s", line):
            current = [line]
            rows.append(current)
        elif current is not None and line.startswith(" ") and line.strip() and \
                not line.strip().startswith(("numpy", "size", "dlbench")):
            current.append(line)
        else:
            current = None
    return rows


@pytest.mark.parametrize("path", [CPU_RUN, H200_RUN], ids=["cpu", "h200"])
def test_at_80_columns_every_line_fits_and_no_cell_is_over_two_lines(path):
    text = run_view(path, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = table_rows(text)
    assert len(rows) >= 10
    assert all(len(row) <= 2 for row in rows), [row for row in rows if len(row) > 2]
    assert "In short" in text and "GFLOP/s" not in text.split("speedup = ")[0]


def test_the_wide_view_keeps_rates_and_intervals():
    text = run_view(H200_RUN, 200, wide=True)
    assert "GFLOP/s" in text and re.search(r"\d\.\d\d× \[\d", text)


def test_a_gpu_run_needs_two_blocks_at_80_columns_and_one_at_160():
    assert "dlbench results (1 of 2)" in run_view(H200_RUN, 80)
    assert "(1 of" not in run_view(H200_RUN, 160)


def test_columns_cpu_then_gpu_baseline_first_portable_beside_native():
    table = speedup_table(results.load(H200_RUN).results)
    assert table.columns == ("numpy-cpu", "torch-cpu", "torch-cpu-native", "cupy-cuda",
                             "cupy-cuda-native", "torch-cuda", "torch-cuda-native")


def test_column_order_is_generic_in_backend_and_device_names():
    rs = [result([1e-3] * 8, backend=b) for b in ("numpy",)]
    specs = [("tensorflow", "gpu", "portable"), ("jax", "tpu", "native"), ("jax", "cpu", "native"),
             ("jax", "cpu", "portable"), ("numpy", "cpu", "portable"), ("jax", "gpu", "portable")]
    rs = []
    for backend, device, impl in specs:
        r = result([1e-3] * 8, backend=backend)
        spec = r.spec.__class__.make("matmul", r.spec.param_dict, "float32", backend, device,
                                     impl)
        rs.append(r.__class__(spec=spec, status="ok", samples_s=r.samples_s, stats=r.stats))
    table = speedup_table(rs)
    assert table.columns == ("numpy-cpu", "jax-cpu", "jax-cpu-native", "jax-gpu",
                             "tensorflow-gpu", "jax-tpu-native")


def test_cpu_only_headline_says_what_was_compared_and_that_no_gpu_was_measured():
    doc = results.load(CPU_RUN)
    table = speedup_table(doc.results)
    story = headline.sentences(table, epoch.estimates([("", r) for r in doc.results]))
    assert 3 <= len(story) <= 6
    assert story[0].startswith("Compared numpy-cpu (baseline), torch-cpu, torch-cpu-native")
    assert "No GPU was measured" in story[0]
    assert not any("GPU loses" in s for s in story)


def test_gpu_headline_names_its_rows_and_numbers():
    doc = results.load(H200_RUN)
    table = speedup_table(doc.results)
    story = headline.sentences(table, epoch.estimates([("", r) for r in doc.results]))
    text = "\n".join(story)
    assert 3 <= len(story) <= 6
    assert "Devices: cpu, cuda." in story[0]
    g = table.geomeans["torch-cuda-native"]
    assert story[1] == (f"Fastest column: torch-cuda-native is {headline.ratio(g.point)} faster "
                        f"than numpy-cpu over {g.rows} rows (geometric mean; without matmul "
                        "(m=1024, n=1024, k=1024, bfloat16), which lacks a speedup), 95% "
                        f"interval {headline.interval(g.lo, g.hi)}.")
    assert "Biggest win: attention (batch=8, seq=256" in text and "on torch-cuda-native" in text
    assert "launch-bound" in text  # the smallest GPU win is the 256² matmul's launch rate
    assert "One transformer_train_step" in text and "9B tokens" in text


def test_the_gpu_losing_is_said_with_the_rows():
    base = [result([1e-3] * 10, size=s) for s in (64, 1024)]
    gpu = []
    for size, t in ((64, 2e-3), (1024, 0.1e-3)):
        r = result([t] * 10, size=size, backend="torch")
        spec = r.spec.__class__.make("matmul", r.spec.param_dict, "float32", "torch", "cuda",
                                     "portable")
        gpu.append(r.__class__(spec=spec, status="ok", samples_s=r.samples_s, stats=r.stats))
    story = headline.sentences(speedup_table(base + gpu))
    assert any(s.startswith("The GPU loses to numpy-cpu on 1 cell(s): matmul (m=64, n=64, "
                            "k=64, float32) on torch-cuda 0.50×") for s in story)


def test_crossovers_that_hold_at_every_size_share_a_line():
    table = speedup_table(results.load(H200_RUN).results)
    crossovers = [n for n in terminal.table_notes(table) if n.startswith("crossover")]
    assert crossovers == ["crossover: matmul float32: torch-cpu, cupy-cuda, cupy-cuda-native, "
                          "torch-cuda, torch-cuda-native beat numpy-cpu at every size measured "
                          "(m, n, k = 256 … m, n, k = 1024)"]


def test_no_sentence_without_numbers_to_support_it():
    only = speedup_table([result([1e-3] * 10)])
    story = headline.sentences(only)
    assert len(story) == 2 and "no speedup to report" in story[1]


def test_parameters_are_never_merged_by_equal_values():
    rows = speedup_table(results.load(CPU_RUN).results).rows
    conv = next(r for r in rows if r.workload == "conv2d")
    assert conv.params == "n=32, c=128, h=28, w=28, k=128, r=3, s=3, stride=1, pad=1"
    cnn = next(r for r in rows if r.workload == "cnn_train_step")
    assert "batch=32, channels=3, hw=32, filters=32" in cnn.params


def deepbench(m, n, k, backend, t):
    """A matmul of shape m×k by k×n on `backend`-cpu, every sample `t`."""
    return Result(spec=case(backend=backend, params={"m": m, "n": n, "k": k}),
                  status="ok", samples_s=(t,) * 10, stats=result([t] * 10).stats)


def test_unrelated_shapes_are_no_sweep_and_get_no_crossover():
    shapes = [(35, 700, 2048), (5124, 9124, 2560), (7680, 1, 2560)]  # DeepBench GEMMs
    rs = [deepbench(*s, "numpy", 1e-3) for s in shapes] + \
         [deepbench(*s, "torch", 2e-3) for s in shapes]
    table = speedup_table(rs)
    assert table.crossovers == ()
    sweeps = find_sweeps(table.rows)
    assert [len(s.points) for s in sweeps] == [1, 1, 1]
    # rows that differ in the primary size alone, other sizes fixed, are a sweep
    swept = [deepbench(m, 700, 2048, b, t) for m in (35, 5124)
             for b, t in (("numpy", 1e-3), ("torch", 0.5e-3))]
    (cross,) = speedup_table(swept).crossovers
    assert cross.sweep == "matmul float32 (n=700, k=2048)" and cross.size == "m = 35"


def test_epoch_tables_group_by_unit():
    doc = results.load(CPU_RUN)
    report = build(CPU_RUN)
    md = markdown.render_report(report)
    section = md.split("### What this means")[1]
    # one table per unit: samples (MLP, CNN), audio-seconds (LSTM), tokens (transformer)
    assert "| samples/s |" in section and "| audio-seconds/s |" in section
    assert "| tokens/s |" in section
    tokens_table = section.split("| tokens/s |")[1].split("\n\n")[0]
    assert "transformer_train_step" in tokens_table and "mlp_train_step" not in tokens_table
    assert "epoch of 9B tokens (OpenWebText-sized)" in section
    assert len(epoch.by_unit(report.epochs)) == 3
    assert doc.results
    from dlbench.report import html

    page = html.render(report, {})
    assert page.count("<th>samples/s</th>") == 1 and page.count("<th>tokens/s</th>") == 1
    assert page.count("<th>audio-seconds/s</th>") == 1


def test_roofs_are_the_lower_of_peak_and_bandwidth():
    pytest.importorskip("numpy")
    from dlbench.report import plots
    from dlbench.report.roofline import roofline

    view = build(H200_RUN).machines[0]
    roof = roofline(view)
    lines = {label: (xs, ys) for label, xs, ys in plots._roofs(roof, 0.01, 1000.0)}
    (label,) = [k for k in lines if k.startswith("cuda float32 roof")]
    xs, ys = lines[label]
    peak = dict(roof.compute)["cuda float32 peak 67000 GFLOP/s"]
    bandwidth = max(bw for name, bw in roof.bandwidth if name.startswith("cuda"))
    assert ys[0] == pytest.approx(bandwidth * xs[0])  # memory-bound at low intensity
    assert ys[-1] == pytest.approx(peak)  # compute-bound at high intensity
    assert all(y <= peak * (1 + 1e-12) and y <= bandwidth * x * (1 + 1e-12)
               for x, y in zip(xs, ys, strict=True))
    # the CPU has no compute roof here (no clock reported): its bandwidth stays a slope
    assert any(k.startswith("cpu roof: ") and "GB/s measured" in k for k in lines)


def test_single_size_workloads_are_bars_not_lone_dots_on_a_size_axis():
    from dlbench.report import plots

    report = build(H200_RUN)
    sweeps = plots._series(report, "speedup")
    assert list(sweeps) == ["matmul float32"]  # the only workload measured at two sizes
    ((machine, groups, bars, dtype),) = plots._single_sizes(report)
    assert machine == "h200-box" and dtype == "float32" and len(groups) == 7
    conv = groups.index("conv2d")
    point, lo, hi = bars["torch-cuda-native"][conv]
    assert lo < point < hi and point == pytest.approx(34.1e-3 / 126e-6, rel=0.02)


def test_failures_take_one_line_in_a_cell_and_their_reasons_go_under_the_table():
    from tests.helpers import LAPTOP

    doc = results.load(LAPTOP)
    console = Console(width=80, file=io.StringIO(), color_system=None, highlight=False)
    console.print(terminal.render(speedup_table(doc.results)))
    text = console.file.getvalue()
    (row,) = [line for line in text.splitlines() if line.startswith("512 ")]
    assert row.split() == ["512", "✗", "wrong", "✗", "error"]
    words = " ".join(text.split())  # rich wraps the notes at 80 columns
    assert "✗ matmul (m=512, n=512, k=512, float32) on numpy-cpu: ✗ wrong err 0.5 > tol " \
           "1e-05" in words
    assert "on torch-cpu: error: the torch-cpu worker process died" in words


def test_skipped_cells_are_counted_by_column_and_reason():
    text = run_view(H200_RUN, 80)
    assert "numpy-cpu: 1 row(s) skipped: numpy has no bfloat16" in text


def test_a_device_that_is_no_gpu_is_named_as_it_is():
    base = result([1e-3] * 10, size=64)
    r = result([2e-3] * 10, size=64, backend="jax")
    tpu = Result(spec=CaseSpec.make("matmul", r.spec.param_dict, "float32", "jax", "tpu",
                                    "portable"), status="ok", samples_s=r.samples_s, stats=r.stats)
    story = headline.sentences(speedup_table([base, tpu]))
    assert "Devices: cpu, tpu." in story[0]
    assert any(s.startswith("A tpu column loses to numpy-cpu on 1 cell(s): matmul (m=64, n=64, "
                            "k=64, float32) on jax-tpu 0.50×") for s in story)
    assert "on its one row, matmul (m=64, n=64, k=64, float32)" in story[1]


def test_an_unverified_workload_is_said_in_the_headline_the_cell_and_the_notes():
    from dataclasses import replace

    from dlbench.report import rows

    base = result([1e-3] * 9)
    unchecked = replace(result([5e-4] * 9, backend="torch"), warnings=("unverified",))
    table = speedup_table([base, unchecked])
    story = headline.sentences(table)
    assert story[1].startswith("Not verified: matmul (no float64 reference")
    assert "unverified" in rows.cell_lines(table.rows[0].cells["torch-cpu"], "numpy-cpu",
                                           "torch-cpu")
    text = run_view_of(table, story)
    assert "⚠ unverified: not verified: the workload has no float64 reference" in text
    assert headline.sentences(speedup_table([base]))[1:2] != story[1:2]


def run_view_of(table, story, width=120):
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    console.print(terminal.render(table, story=story))
    return console.file.getvalue()
