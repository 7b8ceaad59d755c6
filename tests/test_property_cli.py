"""Property: any command line of any command keeps the exit-code contract — 0, 1 (only
`compare`'s regression), 2, 3 or 130 — never ends in a traceback, and dlbench's own
errors are one line ("error: ..."). Values are real, invalid, empty, unicode, huge,
negative, NaN and infinite; paths are files, folders, missing or unreadable.

Runs stay cheap: unless the generated line sets them, `run` gets a tiny matmul on NumPy
with at most 0.05 s per case, and every output path lies in the test's own folder (the
command runs there). CI runs a few examples; DLBENCH_PROPERTY_PROFILE=nightly thousands.
"""

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import (
    DERANDOMIZE,
    GPU_BOX,
    LAPTOP,
    PYTEST_BENCHMARK,
    assert_contract,
    cli,
    examples,
)

pytestmark = [pytest.mark.property, pytest.mark.slow]
counter = itertools.count()

WEIRD = ["", " ", ",", "-", "--", "0", "-1", "nan", "NaN", "inf", "-inf", "Infinity", "1e309",
         "99999999999999999999", "1e-320", "é", "日本語", "\n", "a,,b", "\udcff"]
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)
# Paths: {ex} is this example's own folder (the command's working folder), {data} the
# folder of prepared input files.
OUTPUTS = ["{ex}/out.json", "{ex}/out.md", "{ex}/out.csv", "{ex}/out.html", "{ex}/out.png",
           "{ex}/sub/dir/out.json", "{data}/laptop.json", "{data}", "{data}/laptop.json/x.json",
           "{ex}/" + "n" * 300 + ".json", "-", "", "out.json", "{ex}/out.txt"]
INPUTS = ["{data}/laptop.json", "{data}/gpu-box.json", "{data}/pytest.json",
          "{data}/pytest-slower.json", "{data}/missing.json", "{data}", "{data}/not.json",
          "{data}/empty.json", "{data}/latin1.json", "{data}/deep.json"]
READABLE = INPUTS[:4]
SUITES = ["quick", "ci", "standard", "full", "nightly", "{data}/good.toml", "{data}/latin1.toml",
          "{data}/inf.toml", "{data}/threads.toml", "{data}", "{data}/missing.toml"]


def values(*good):
    return st.one_of(st.sampled_from([*good, *WEIRD]), text)


RUN = {
    "--suite": values(*SUITES),
    "--backend": values("numpy", "torch", "cupy", "numpy,torch", "tensorflow"),
    "--device": values("cpu", "cuda", "cuda:0", "tpu"),
    "--workload": values("matmul", "conv2d", "bandwidth", "mlp_train_step", "cnn_train_step",
                         "transfer", "fft"),
    "--dtype": values("float32", "float64", "bfloat16", "float16", "float8"),
    "--size": values("1", "8", "32", "16,32", "0", "-5", "300000", "12x"),
    "--threads": values("1", "2", "0", "5000"),
    "--baseline": values("numpy-cpu", "torch-cpu", "cupy-cuda"),
    "--min-time": values("0", "0.01", "0.5", "1e5"),
    "--max-time": values("0.05", "0.1", "0", "0.0001"),
    "--cache": values("hot", "cold"),
    "--tf32": values("on", "off"),
    "-o": values(*OUTPUTS),
    "--format": values("table", "json", "md", "csv", "xml"),
    "--include-transfer": None, "--graph": None, "--no-verify": None, "--quiet": None,
    "--force": None, "--bogus": None,
}
COMPARE = {
    "--threshold": values("5%", "0.05", "10", "10%", "inf%", "1e-9"),
    "--thresholds": values("{data}/thresholds.toml", "{data}/bad.toml", "{data}/missing.toml",
                           "{data}"),
    "--alpha": values("0.01", "0.5", "1", "2"),
    "--format": values("table", "md", "json", "html"),
    "-o": values(*OUTPUTS),
    "--fail-on-inconclusive": None, "--relative": None, "--force": None, "--bogus": None,
}
REPORT = {
    "--format": values("table", "md", "csv", "json", "html", "png", "xml"),
    "-o": values(*OUTPUTS),
    "--baseline": values("numpy-cpu", "torch-cpu", "cupy-cuda"),
    "--force": None, "--bogus": None,
}
ENV = {"--format": values("table", "json", "xml"), "--bogus": None}
# Unless the line sets them: a tiny, fast run on NumPy, saved in the example's folder.
CHEAP_RUN = {"--max-time": "0.05", "--min-time": "0", "--size": "32", "--workload": "matmul",
             "--backend": "numpy", "-o": "{ex}/run.json"}


@st.composite
def options(draw, table, most=4):
    names = draw(st.lists(st.sampled_from(sorted(table)), max_size=most, unique=True))
    out = {}
    for name in names:
        strategy = table[name]
        out[name] = None if strategy is None else draw(strategy)
    return out


def flatten(chosen):
    return [x for name, value in chosen.items() for x in ([name] if value is None
                                                          else [name, value])]


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(["run", "compare", "report", "list", "env", ""]))
    if command == "run":
        chosen = draw(options(RUN, most=5))
        return ["run", *flatten({**{k: v for k, v in CHEAP_RUN.items() if k not in chosen},
                                 **chosen})]
    if command == "compare":
        files = draw(st.one_of(st.lists(st.sampled_from(READABLE), min_size=2, max_size=2),
                               st.lists(values(*INPUTS), max_size=3)))
        return ["compare", *files, *flatten(draw(options(COMPARE)))]
    if command == "report":
        files = draw(st.one_of(st.lists(st.sampled_from(READABLE), min_size=1, max_size=2),
                               st.lists(values(*INPUTS), max_size=3)))
        return ["report", *files, *flatten(draw(options(REPORT, most=3)))]
    if command == "env":
        return ["env", *flatten(draw(options(ENV)))]
    if command == "list":
        return ["list", *draw(st.lists(values("--help", "--bogus", "x"), max_size=1))]
    return draw(st.sampled_from([[], ["--help"], ["--version"], ["bogus"], ["run", "--help"],
                                 ["compare"], ["report"]]))


@pytest.fixture
def data(tmp_path):
    """The input files a command line may name."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "laptop.json").write_text(LAPTOP.read_text())
    (folder / "gpu-box.json").write_text(GPU_BOX.read_text())
    (folder / "pytest.json").write_text(PYTEST_BENCHMARK.read_text())
    slower = json.loads(PYTEST_BENCHMARK.read_text())
    for b in slower["benchmarks"]:
        b["stats"]["median"] *= 2
        b["stats"]["data"] = [x * 2 for x in b["stats"]["data"]]
    (folder / "pytest-slower.json").write_text(json.dumps(slower))
    (folder / "not.json").write_text("{nope")
    (folder / "empty.json").write_text("")
    (folder / "latin1.json").write_bytes('{"host": "caf\xe9"}'.encode("latin-1"))
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    suite = '[[benchmark]]\nworkload = "matmul"\nsizes = [16]\n'
    (folder / "good.toml").write_text(suite)
    (folder / "latin1.toml").write_bytes(("# caf\xe9\n" + suite).encode("latin-1"))
    (folder / "inf.toml").write_text("[settings]\nmin_time = inf\n" + suite)
    (folder / "threads.toml").write_text("[settings]\nthreads = 99999999999\n" + suite)
    (folder / "thresholds.toml").write_text('"*" = "10%"\n')
    (folder / "bad.toml").write_text('"*" = [1, 2]\n')
    return folder


@settings(max_examples=examples(5, 2500), deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(line=command_lines())
def test_every_command_line_keeps_the_exit_code_contract(tmp_path, data, monkeypatch, line):

    example = tmp_path / f"ex{next(counter)}"
    example.mkdir()
    monkeypatch.chdir(example)  # relative outputs ("out.json", "-" for run) land here
    args = [a.replace("{ex}", str(example)).replace("{data}", str(data)) for a in line]
    res = cli(*args, env={"COLUMNS": "120"})
    assert_contract(res, (0, 1, 2, 3, 130) if line[:1] == ["compare"] else (0, 2, 3, 130))
    assert not any(p.name.startswith(".dlbench-probe") or p.suffix in (".tmp", ".lock")
                   for p in tmp_path.rglob("*")), os.listdir(example)
