"""Shared fixtures of the report tests: the committed result files and snapshot checking."""

import os
from pathlib import Path

from dlbench import results
from dlbench.report import model

DATA = Path(__file__).parent / "data"
LAPTOP = DATA / "report-laptop.json"
GPU_BOX = DATA / "report-gpu-box.json"
INJECTION = DATA / "report-injection.json"
SNAPSHOTS = DATA / "snapshots"
XSS = "<script>alert(1)</script>"


def build(*paths: Path, baseline: str = "numpy-cpu") -> model.Report:
    # Names, not full paths: snapshots must not depend on where the checkout lives.
    return model.build([(p.name, results.load(p)) for p in paths], baseline)


def check_snapshot(name: str, text: str) -> None:
    """Compare with tests/data/snapshots/NAME; DLBENCH_UPDATE_SNAPSHOTS=1 rewrites it."""
    path = SNAPSHOTS / name
    if os.environ.get("DLBENCH_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with DLBENCH_UPDATE_SNAPSHOTS=1 once"
    assert text == path.read_text(encoding="utf-8")
