"""The charts as a person reads them: plain numbers on log axes, more than one label on a
short axis, titles inside their figure, roofline points named, and an unknown peak
replaced by the highest rate measured. Drawn with matplotlib's Agg canvas, then read
back from the figure."""

import re

import pytest

from dlbench.report import plots
from tests.helpers import DATA, GPU_BOX, LAPTOP, build

pytest.importorskip("matplotlib")
CPU_RUN = DATA / "run-cpu.json"
H200_RUN = DATA / "run-h200.json"
SCIENTIFIC = re.compile(r"\\times|×|\$|e[+-]\d")


def drawn(name, report):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plots._figure(plots._panels(name, report))
    FigureCanvasAgg(fig)
    with plots._style():
        plots._draw(name, fig, report)
        fig.canvas.draw()
    return fig


def labels(axis):
    return [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels()
            if t.get_text() and t.get_visible()]


@pytest.fixture(scope="module")
def two_machines():
    return build(CPU_RUN, H200_RUN)


@pytest.mark.parametrize("name", ["throughput", "speedup", "bars", "roofline"])
def test_plain_numbers_several_labels_and_titles_inside_the_figure(name, two_machines):
    fig = drawn(name, two_machines)
    for ax in [a for a in fig.axes if a.get_visible()]:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            shown = labels(axis)
            assert not [t for t in shown if SCIENTIFIC.search(t)], shown
            assert len(set(shown)) >= 2, (name, shown)
    renderer = fig.canvas.get_renderer()
    titles = [fig._suptitle] if fig._suptitle else []
    titles += [ax.title for ax in fig.axes if ax.get_visible()]
    for title in titles:
        box = title.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, title.get_text()


def test_a_single_size_bar_chart_of_one_decade_has_more_than_one_label():
    """The default run's bars span about 0.3× to 4×: one decade, one major tick."""
    fig = drawn("bars", build(DATA / "run-cpu.json"))
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    visible = [float(t.replace(",", "")) for t in labels(ax.yaxis)]
    assert len([v for v in visible if low <= v <= high]) >= 4


def test_roofline_names_every_case_and_draws_what_is_known_of_an_unknown_peak():
    report = build(CPU_RUN)  # a VM that reports no maximum clock: no CPU peak
    fig = drawn("roofline", report)
    ax = fig.axes[0]
    named = {t.get_text() for t in ax.texts}
    rows = report.machines[0].table.rows
    assert {"conv2d", "matmul 256 float32", "matmul 1024 float32", "matmul bfloat16",
            "bandwidth"} <= named
    assert len(named) == len({(r.workload, r.params, r.dtype) for r in rows
                              if any(c.result.status == "ok" for c in r.cells.values())})
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("cpu float32 peak unknown; highest measured ") for t in legend)
    dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert dotted, "no line stands for the unknown peak"


def test_two_narrow_rooflines_keep_their_legends_apart():
    """Two machines' rooflines in the half of a slide the sheet gives them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    with plots._style():
        plots._draw("roofline", fig, build(LAPTOP, GPU_BOX))
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left, right = (ax.get_legend().get_window_extent(renderer) for ax in fig.axes)
    assert left.x1 <= right.x0, (left, right)


def rounds_result(backend, medians_ms, size=256, seed=0):
    """A matmul result measured in rounds a second apart, around the given round medians."""
    import numpy as np

    from dlbench import intervals, measure
    from dlbench.results import Result, Round
    from tests.helpers import case

    rng = np.random.default_rng(seed)
    samples = [m * 1e-3 * x for m in medians_ms for x in rng.lognormal(0.0, 0.005, 8)]
    sizes = [8] * len(medians_ms)
    return Result(spec=case(size=size, backend=backend), status="ok",
                  samples_s=tuple(samples), stats=intervals.summary(samples, sizes),
                  warnings=tuple(measure.quality_warnings(samples, sizes)),
                  rounds=tuple(Round(8, i, float(i), 0) for i in range(len(medians_ms))))


def test_the_rounds_chart_shows_each_round_in_time_unstable_rows_first():
    from dlbench.report import model
    from tests.helpers import document

    steady = [rounds_result("numpy", [2.0] * 6, size=128),
              rounds_result("torch", [1.0] * 6, size=128, seed=1)]
    regimes = [rounds_result("numpy", [7.0, 7.1, 10.2, 10.4, 14.0, 7.2], size=512, seed=2),
               rounds_result("torch", [5.0] * 6, size=512, seed=3)]
    report = model.build([("run.json", document(*steady, *regimes))])
    assert "rounds" in plots.charts(report)
    series = plots.round_series(report)
    first, second = list(series)
    assert first.startswith("matmul") and "512" in first and first.endswith("(unstable)")
    assert not second.endswith("(unstable)")
    xs, ys = series[first]["numpy-cpu"]
    assert xs == sorted(xs) and len(xs) == 6
    assert ys[2] == pytest.approx(10.2, rel=0.02)  # milliseconds
    fig = drawn("rounds", report)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    assert "rounds" not in plots.charts(build(CPU_RUN))  # a file without rounds: no chart
