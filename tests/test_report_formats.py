"""Every report format on the committed fixtures: snapshots, content, and inert injection."""

import csv
import io
import json
import re

import pytest
from rich.console import Console

from dlbench.report import csv as csv_report
from dlbench.report import html, markdown, terminal
from dlbench.report import json as json_report
from tests.helpers import GPU_BOX, INJECTION, LAPTOP, XSS, build, check_snapshot


def terminal_text(renderable, width=160):
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


def test_markdown_snapshot_of_two_machines():
    check_snapshot("report.md", markdown.render_report(build(LAPTOP, GPU_BOX)))


def test_csv_snapshot_of_two_machines():
    check_snapshot("report.csv", csv_report.render_report(build(LAPTOP, GPU_BOX)))


def test_json_snapshot_of_two_machines():
    check_snapshot("report.json", json_report.render(build(LAPTOP, GPU_BOX)))


def test_terminal_snapshot_of_two_machines():
    check_snapshot("report-terminal.txt", terminal_text(terminal.render_report(
        build(LAPTOP, GPU_BOX)), width=200))


def test_markdown_has_intervals_marks_environment_crossovers_and_epochs():
    md = markdown.render_report(build(LAPTOP, GPU_BOX))
    assert "### laptop" in md and "### gpu-box" in md and "### All machines side by side" in md
    assert "- **GPUs**: NVIDIA H100 80GB HBM3" in md
    assert ("| matmul | m=128, n=128, k=128 | float32 | 100 µs<br>41.9 GFLOP/s | 80 µs<br>"
            "52.4 GFLOP/s<br>1.25× [1.24, 1.26] |") in md
    assert "✗ wrong<br>err 0.5 &gt; tol 1e-05" in md  # '>' made inert for GitHub
    assert "error: the torch-cpu worker process died" in md
    assert "| **geometric mean** | | |  | **1.26× [1.25, 1.26] over 3 rows** |" in md
    assert "crossover: matmul float32: torch-cuda beats numpy-cpu from m, n, k = 128" in md
    assert "| gpu-box | torch-cuda | mlp_train_step | batch=64, hidden=256 | float32 |" in md
    assert "938 steps ≈ 234 ms" in md and "extrapolation" in md


def test_markdown_of_one_machine_without_training_steps_says_nothing_of_epochs():
    md = markdown.render_report(build(LAPTOP))
    assert "epoch" not in md and "All machines" not in md


def test_n_s_marking_is_kept_in_cells_and_geometric_means():
    from dlbench.report.rows import speedup_table
    from dlbench.results import CaseSpec, Result

    def ok(size, backend, samples):
        spec = CaseSpec.make("matmul", {"m": size}, "float32", backend, "cpu", "portable")
        return Result(spec=spec, status="ok", samples_s=samples, stats={"median": samples[2]})

    noisy = (1.0, 1.2, 1.1, 0.9, 1.05)
    table = speedup_table([ok(s, b, noisy) for s in (8, 16) for b in ("numpy", "torch")])
    md = markdown.render(table)
    assert md.count("(n.s.)") == 1 + 2 + 1  # the note, two cells, the geometric mean
    assert "(n.s.) over 2 rows" in md
    assert "(n.s.)" not in markdown.render(build(LAPTOP).machines[0].table).split("\n- ")[0]


def test_csv_has_one_flat_row_per_result_with_machine_and_speedup():
    rows = list(csv.DictReader(io.StringIO(csv_report.render_report(build(LAPTOP, GPU_BOX)))))
    assert len(rows) == 8 + 9
    row = next(r for r in rows if r["id"] == "matmul/m=256,n=256,k=256/float32/torch-cuda/portable")
    assert row["machine"] == "gpu-box" and row["host"] == "gpu-box"
    assert row["gpus"] == "NVIDIA H100 80GB HBM3" and row["cpu_model"] == "AMD EPYC 7763"
    assert float(row["speedup"]) == pytest.approx(17.5) and row["speedup_significant"] == "True"
    assert row["baseline"] == "numpy-cpu" and row["source"] == "report-gpu-box.json"
    assert float(row["arithmetic_intensity"]) == pytest.approx(2 * 256**3 / (12 * 256**2))
    assert len(row["fingerprint"]) == 12
    base = next(r for r in rows if r["id"] == "matmul/m=64,n=64,k=64/float32/numpy-cpu/portable")
    assert base["speedup"] == ""  # the baseline has no speedup over itself
    wrong = next(r for r in rows if r["status"] == "wrong")
    assert wrong["verify_ok"] == "False" and wrong["median_s"] == ""


def test_json_report_has_tables_crossovers_and_epochs():
    doc = json.loads(json_report.render(build(LAPTOP, GPU_BOX)))
    assert doc["schema"] == "dlbench.report" and doc["schema_version"] == 1
    assert [m["label"] for m in doc["machines"]] == ["laptop", "gpu-box"]
    assert [t["machine"] for t in doc["tables"]] == ["laptop", "gpu-box", None]
    assert doc["tables"][0]["geomeans"]["torch-cpu"]["rows"] == 3
    assert doc["tables"][0]["crossovers"][0]["size"] == "m, n, k = 128"
    assert len(doc["epoch_estimates"]["estimates"]) == 2


def test_run_views_keep_working_on_a_plain_table():
    from dlbench import results
    from dlbench.report.rows import speedup_table

    table = speedup_table(results.load(LAPTOP).results)
    md = markdown.render(table)
    assert md.startswith("| workload | params | dtype | numpy-cpu (baseline) | torch-cpu |")
    text = terminal_text(terminal.render(table))
    assert "geometric mean" in text and "crossover: matmul float32: torch-cpu" in text
    assert csv_report.render(results.load(LAPTOP).results).startswith("id,workload,params")


def test_html_is_self_contained_with_tables_environment_and_charts():
    pytest.importorskip("matplotlib")
    from dlbench.report import plots

    report = build(LAPTOP, GPU_BOX)
    page = html.render(report, plots.render(report, "svg"))
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched
    assert page.count('<img class="chart"') == 4 and page.count("data:image/svg+xml;base64,") == 4
    assert "<h2>Machine gpu-box</h2>" in page and "NVIDIA H100 80GB HBM3" in page
    assert "gpu-box: compute roof (cuda float32): unknown" in page
    assert "gpu-box: cpu float32 peak 1000 GFLOP/s" in page
    assert "laptop: bandwidth roof (cpu): unknown" in page
    assert "What this means: one epoch, extrapolated" in page
    assert "<script" not in page.lower()


def test_html_escapes_every_string_from_a_result_file():
    pytest.importorskip("matplotlib")
    from dlbench.report import plots

    report = build(INJECTION, LAPTOP)
    page = html.render(report, plots.render(report, "svg"))
    lowered = page.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered and "<b>lib" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(4)&lt;/script&gt; &amp; more" in page


def test_markdown_and_terminal_keep_injected_text_inert():
    report = build(INJECTION)
    md = markdown.render_report(report)
    assert XSS not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    text = terminal_text(terminal.render_report(report), width=200)
    assert XSS in text  # shown as written, not read as rich markup
