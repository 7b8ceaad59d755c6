"""The HTML report in a real browser (headless Chromium): charts drawn, nothing logged,
injected text inert."""

import subprocess
from pathlib import Path

import pytest

from dlbench.report import html
from tests.helpers import DATA, GPU_BOX, INJECTION, LAPTOP, build

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0")
# matplotlib's first two colours (tab:blue, tab:orange): only the charts are drawn in them.
CHART_COLOURS = ((31, 119, 180), (255, 127, 14))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs /usr/bin/chromium (Debian: apt-get install -y chromium)"),
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *args], capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    pytest.importorskip("matplotlib")
    from dlbench.report import plots

    report = build(LAPTOP, GPU_BOX, INJECTION)
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html.render(report, plots.render(report, "svg")), encoding="utf-8")
    return path


def test_dom_has_the_charts_and_the_console_stays_quiet(page, tmp_path):
    run = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = run.stdout
    assert dom.count('<img class="chart"') == 4
    for chart in ("throughput", "speedup", "bars", "roofline"):
        assert f'id="chart-{chart}"' in dom
    assert "Machine gpu-box" in dom and "All machines side by side" in dom
    # Console messages (errors, policy violations, a script that ran) are logged as CONSOLE.
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    # the injected host is text in the page, never an element
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_screenshot_shows_the_charts(page, tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    import numpy as np

    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1280,9000", "--hide-scrollbars",
             f"--screenshot={shot}", page.as_uri())
    with image_module.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    for colour in CHART_COLOURS:
        near = int((np.abs(pixels - np.array(colour)).sum(axis=-1) < 30).sum())
        assert near > 500, f"chart colour {colour} barely drawn: {near} pixels"


# Measures the laid-out page from inside it, into the title --dump-dom returns. Only the
# test's copy runs it: the report's own policy forbids every script.
MEASURE = """<script>
addEventListener("load", () => {
  const th = document.querySelector("thead th");
  document.title = JSON.stringify({
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    widest: Math.max(...[...document.querySelectorAll("table")].map(
      t => t.getBoundingClientRect().right)),
    sticky: getComputedStyle(th).position, tables: document.querySelectorAll("table").length});
});
</script>"""


def test_no_sideways_scrolling_at_1280_px_and_a_sticky_header(tmp_path):
    """The widest report there is here (four machines side by side, a GPU machine's seven
    columns among them) fits a 1280-px window: nothing is wider than the page."""
    import json
    import re

    pytest.importorskip("matplotlib")
    from dlbench.report import plots

    report = build(LAPTOP, GPU_BOX, INJECTION, DATA / "run-h200.json")
    page = html.render(report, plots.render(report, "svg"))
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    path = tmp_path / "measured.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    run = chromium(tmp_path, "--window-size=1280,900", "--virtual-time-budget=5000",
                   "--dump-dom", path.as_uri())
    title = re.search(r"<title>(.*?)</title>", run.stdout).group(1)
    seen = json.loads(title.replace("&quot;", '"'))
    assert seen["tables"] >= 5 and seen["inner"] == 1280
    assert seen["scroll"] <= seen["inner"], seen
    assert seen["widest"] <= seen["inner"], seen
    assert seen["sticky"] == "sticky"
