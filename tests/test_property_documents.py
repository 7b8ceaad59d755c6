"""Property: `compare` and `report` given a real result file mutated at random — wrong
types, missing keys, NaN and infinities, huge numbers and arrays, deep nesting — exit 0
(or compare's 1, on a regression it found) or 2 with one line, and never a traceback.

CI runs a few examples; DLBENCH_PROPERTY_PROFILE=nightly runs thousands (tests/helpers.py).
"""

import contextlib
import copy
import itertools
import json
import math

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

pytestmark = pytest.mark.property
BASES = {"laptop": json.loads(LAPTOP.read_text()), "gpu-box": json.loads(GPU_BOX.read_text()),
         "pytest-benchmark": json.loads(PYTEST_BENCHMARK.read_text())}
# Stands for a value spliced into the JSON text afterwards: deeper than json.dumps can go.
DEEP = "\x00deep\x00"
REPORT_FORMATS = ["table", "md", "csv", "json"] * 2 + ["html", "png"]

scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 0.0, -0.0, 1e-320, 1e308, -1e-3, 10**400, -(10**400), math.nan,
                     math.inf, -math.inf, "", "ok", "matmul", "numpy-cpu", "\n", "é\u2028"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
big_values = st.sampled_from([
    DEEP, [1e-3] * 50_000, list(range(20_000)), "x" * 200_000, [[1e-3]] * 100,
    {str(i): i for i in range(5_000)}])


def paths(value, prefix=()):
    """Every place in a document, with only the first two items of an array of numbers
    (samples are hundreds of numbers alike)."""
    yield prefix
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) and value
             and isinstance(value[0], dict) else enumerate(value[:2])
             if isinstance(value, list) else ())
    for key, item in items:
        yield from paths(item, (*prefix, key))


PATHS = {kind: list(paths(doc)) for kind, doc in BASES.items()}


def mutate(doc, path, action, value):
    """`doc` with one change at `path`: the value replaced, the key deleted, the entry
    duplicated, or a key added."""
    if not path:
        return value if action == "replace" else doc
    *parents, last = path
    holder = doc
    for key in parents:
        holder = holder[key]
    if action == "replace":
        holder[last] = value
    elif action == "delete":
        del holder[last]
    elif action == "duplicate" and isinstance(holder, list):
        holder.append(json.loads(json.dumps(holder[last])))
    elif isinstance(holder[last], dict):
        holder[last][str(value)[:20]] = value
    return doc


def current(doc, path):
    """The value at `path`, or None where an earlier change took it away."""
    try:
        for key in path:
            doc = doc[key]
    except (KeyError, IndexError, TypeError):
        return None
    return doc


def alike(value):
    """Values of the same JSON type as `value`, edge cases first: what a schema of the
    right types lets through (null where null is allowed, zero, extremes)."""
    if isinstance(value, bool) or value is None:
        return st.sampled_from([None, True, False])
    if isinstance(value, int | float):
        near = [-value, value * 10**6] + ([value / 1e6] if abs(value) < 1e300 else [])
        return st.one_of(st.sampled_from([None, 0, 0.0, 5e-324, 1e-12, 1e6, 1e-300, 1e300,
                                          1.7e308, 2**63, *near]),
                         st.floats(min_value=0, allow_infinity=False, allow_nan=False))
    if isinstance(value, str):
        return st.one_of(st.sampled_from([None, "", value * 50, value + "\n", "-", "$x$"]),
                         st.text(max_size=12))
    if isinstance(value, list):
        return st.one_of(st.sampled_from([None, [], value[:1], value[:5], value * 3]),
                         st.lists(alike(value[0]) if value else scalars, max_size=12))
    return st.sampled_from([None, {}, {k: v for k, v in list(value.items())[:2]}])


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(sorted(BASES)))
    doc = json.loads(json.dumps(BASES[kind]))
    for _ in range(draw(st.integers(1, 5))):
        path = draw(st.sampled_from(PATHS[kind]))
        action = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "add"]))
        value = draw(st.one_of(alike(current(doc, path)), alike(current(doc, path)),
                               scalars, json_values, big_values))
        # An earlier change may have removed or replaced the place: then nothing changes.
        with contextlib.suppress(KeyError, IndexError, TypeError):
            doc = mutate(doc, path, action, copy.deepcopy(value))
    text = json.dumps(doc)  # NaN and Infinity as Python writes them: not JSON, but read
    return text.replace(json.dumps(DEEP), "[" * 5000 + "]" * 5000)


counter = itertools.count()


@settings(max_examples=examples(8, 2500), deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(text=mutated(), fmt=st.sampled_from(REPORT_FORMATS))
def test_compare_and_report_survive_mutated_documents(tmp_path, text, fmt):
    folder = tmp_path / str(next(counter))
    folder.mkdir()
    bad = folder / "mutated.json"
    bad.write_text(text, encoding="utf-8")
    for args in ([LAPTOP, bad], [bad, LAPTOP], [bad, bad]):
        res = cli("compare", *args, env={"COLUMNS": "120"})
        # Two different files may hold a real slowdown: the gate's exit 1, said so. A file
        # against itself never does.
        regression = res.exit_code == 1 and "regression" in res.stderr + res.stdout
        assert_contract(res, (0, 2, 1) if regression and args[0] != args[1] else (0, 2))
    out = [] if fmt == "table" else ["-o", str(folder / f"report.{fmt}")]
    res = cli("report", bad, "--format", fmt, *out, env={"COLUMNS": "120"})
    assert_contract(res, (0, 2))
