"""How reports show results across ranks: in their own busbw and DDP tables and the busbw
chart, never in the speedup tables, the headline or the epoch extrapolation (only torch
runs them); `compare` gates them like any other result.

The fixture, tests/data/report-distributed.json, is two real runs here merged:
`dlbench run --nproc 2 --workload allreduce,allgather --dtype float32,bfloat16 --size
1K..1M:x4 --min-time 0.05 --max-time 0.1` and `dlbench run --nproc 2 --workload
ddp_train_step --dtype float32 --size 16` with the same timing options."""

import json
from dataclasses import replace

import pytest

from dlbench import results
from dlbench.report import headline, model, plots
from dlbench.report import json as json_report
from dlbench.report.rows import across_ranks
from tests.helpers import DATA, XSS, cli, dlbench

DIST = DATA / "report-distributed.json"
CPU_RUN = DATA / "run-cpu.json"
ACROSS = {"allreduce", "allgather", "ddp_train_step"}


def mixed(tmp_path, host=None):
    """One machine's file with ordinary results (numpy, torch, ...) and the distributed
    ones; `host` renames the machine."""
    dist, ordinary = results.load(DIST), results.load(CPU_RUN)
    env = dict(dist.environment) if host is None else {**dist.environment, "host": host}
    doc = replace(dist, environment=env).with_results(ordinary.results + dist.results)
    path = tmp_path / f"mixed-{host or 'vm'}.json"
    results.dump(doc, path)
    return path, doc


def test_results_across_ranks_leave_speedups_headline_and_epochs_as_without_them(tmp_path):
    _, doc = mixed(tmp_path)
    plain = doc.with_results(tuple(r for r in doc.results if not across_ranks(r)))
    assert len(plain.results) == len(doc.results) - 26
    with_them = model.build([("mixed.json", doc)])
    without = model.build([("plain.json", plain)])
    [view], [base] = with_them.machines, without.machines
    assert len(view.results) == len(doc.results)  # kept for the distributed tables
    assert view.table.rows and view.table.rows == base.table.rows
    assert view.table.columns == base.table.columns
    assert not {row.workload for row in view.table.rows} & ACROSS
    story = headline.sentences(view.table, model.machine_epochs(with_them, view))
    assert story == headline.sentences(base.table, model.machine_epochs(without, base))
    assert not any(name in " ".join(story) for name in ACROSS)
    assert with_them.epochs == without.epochs
    assert not {e.workload for e in with_them.epochs} & ACROSS


def test_nor_in_the_side_by_side_table_of_several_machines(tmp_path):
    _, a = mixed(tmp_path)
    _, b = mixed(tmp_path, host="other")
    rep = model.build([("a.json", a), ("b.json", b)])
    assert len(rep.machines) == 2 and rep.cross is not None
    assert rep.cross.rows and not {row.workload for row in rep.cross.rows} & ACROSS


def test_a_distributed_file_alone_has_no_speedup_table_nor_headline():
    result = cli("report", str(DIST), "--format", "md")
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert "In short" not in md and "| workload | params | dtype |" not in md
    assert "### Across ranks (torch.distributed)" in md
    assert "| allreduce | 2 | float32 | 1 MiB |" in md
    assert "| mlp | 2 | float32 | 16 |" in md
    assert "one epoch" not in md
    table = cli("report", str(DIST), env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "In short" not in table.stdout and "speedups" not in table.stdout
    assert "distributed results: collectives" in table.stdout


def test_the_json_report_keeps_them_apart(tmp_path):
    path, _ = mixed(tmp_path)
    report = json.loads(json_report.render(model.build([(path.name, results.load(path))])))
    across = report["distributed"]
    assert len(across) == 26
    big = next(a for a in across if a["id"] == "allreduce/bytes=1048576,ranks=2/float32/"
                                                "torch-cpu/native")
    assert big["world_size"] == 2 and big["wrong"] == 0
    assert big["busbw_gbytes_per_s"] == pytest.approx(1048576 / big["median_s"] / 1e9)
    rows = [row for t in report["tables"] for row in t["rows"]]
    assert rows and not {row["workload"] for row in rows} & ACROSS


@pytest.mark.slow
def test_compare_still_gates_results_across_ranks(tmp_path):
    doc = results.load(DIST)
    slower = doc.with_results(tuple(
        replace(r, samples_s=tuple(s * 1.5 for s in r.samples_s),
                stats={**r.stats, "median": r.stats["median"] * 1.5})
        for r in doc.results))
    new = tmp_path / "slower.json"
    results.dump(slower, new)
    assert dlbench("compare", str(DIST), str(DIST)).returncode == 0
    worse = dlbench("compare", str(DIST), str(new), env={"COLUMNS": "200"})
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "allreduce" in worse.stdout and "ddp_train_step" in worse.stdout


# -- the busbw chart ---------------------------------------------------------------------------

def test_busbw_lines_are_one_per_collective_world_size_and_dtype_by_size():
    doc = results.load(DIST)
    rep = model.build([(DIST.name, doc)])
    series = plots.busbw_series(rep)
    assert sorted(series) == ["allgather, 2 ranks, bfloat16", "allgather, 2 ranks, float32",
                              "allreduce, 2 ranks, bfloat16", "allreduce, 2 ranks, float32"]
    sizes, busbw = series["allreduce, 2 ranks, float32"]
    assert sizes == [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20]
    by_size = {r.spec.param_dict["bytes"]: r.distributed["busbw_gbytes_per_s"]
               for r in doc.results if r.spec.workload == "allreduce"
               and r.spec.dtype == "float32"}
    assert busbw == [by_size[s] for s in sizes]
    assert plots.charts(rep) == (*plots.CHARTS, "busbw")
    laptop = model.build([(CPU_RUN.name, results.load(CPU_RUN))])
    assert plots.charts(laptop) == plots.CHARTS  # no collectives, no busbw chart


def test_busbw_lines_name_the_machine_when_there_are_several(tmp_path):
    _, a = mixed(tmp_path)
    _, b = mixed(tmp_path, host="other")
    series = plots.busbw_series(model.build([("a.json", a), ("b.json", b)]))
    assert len(series) == 8
    assert "other: allreduce, 2 ranks, float32" in series


def test_the_bundle_the_sheet_and_the_html_show_the_busbw_chart(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    path, _ = mixed(tmp_path)
    out = tmp_path / "out"
    result = cli("report", str(path), "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    with Image.open(out / "busbw.png") as image:
        assert image.format == "PNG" and image.size[0] > 500
    assert 'href="busbw.png"' in (out / "index.html").read_text()
    page = (out / "report.html").read_text()
    assert 'id="chart-busbw"' in page and "one line per collective, world size and dtype" in page
    assert "<h2>Across ranks (torch.distributed)</h2>" in page
    assert page.count("<h3>collectives</h3>") == 1
    html = cli("report", str(DIST), "-o", str(tmp_path / "r.html"))
    assert html.exit_code == 0, html.output
    assert 'id="chart-busbw"' in (tmp_path / "r.html").read_text()
    sheet = cli("report", str(DIST), "-o", str(tmp_path / "sheet.png"))
    assert sheet.exit_code == 0, sheet.output
    with Image.open(tmp_path / "sheet.png") as image:
        assert image.size == (16 * plots.SHEET_DPI, 9 * plots.SHEET_DPI)


def test_text_from_a_distributed_result_is_inert_in_html_and_markdown(tmp_path):
    doc = results.load(DIST)
    bad = replace(doc.results[0], status="error", error=XSS, samples_s=(), stats=None)
    path = tmp_path / "bad.json"
    results.dump(doc.with_results((bad,)), path)
    html = cli("report", str(path), "--format", "html")
    md = cli("report", str(path), "--format", "md")
    assert html.exit_code == 0 and md.exit_code == 0, html.output + md.output
    assert XSS not in html.stdout and "&lt;script&gt;" in html.stdout
    assert XSS not in md.stdout and "&lt;script&gt;" in md.stdout
