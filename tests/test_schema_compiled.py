"""The compiled validator (dlbench/schema/compiled.py) says valid exactly where jsonschema
does: on every committed fixture, on the bad fields of tests/test_schema.py, on results
mutated at random, and keyword by keyword on random JSON. Where it says invalid, jsonschema
still words the error, so bad files get the messages they always got."""

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbench import results, schema, stats
from dlbench.results import CaseSpec, Numerics, Result, Round
from dlbench.schema import compiled
from tests.helpers import DATA, DERANDOMIZE, document, examples, noisy, result

scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=6),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 1.0, 0.5, -0.0, 1e-13, 1e-12, 1e6, 1e7, 10**400, -(10**400),
                     math.nan, math.inf, -math.inf, True, False, "", "ok", "error", "1"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["median", "ok", "world_size", "x", "value"]), inner,
                      max_size=3), max_leaves=8)


def jsonschema_valid(schema_doc, instance):
    return next(iter(schema._validator_class()(schema_doc).iter_errors(instance)), None) is None


def entry_schema():
    root = schema.load(schema.RESULT)
    return schema.inlined(root, root["$defs"])["properties"]["results"]["items"]


ENTRY = entry_schema()
CHECK = compiled.compile_schema(ENTRY)


def full_result():
    """A result with every field a run writes, GPU extras, a distributed record and rounds."""
    samples = noisy(2e-3, n=12)
    r = Result(spec=CaseSpec.make("matmul", {"m": 8, "n": 8, "k": 8}, "float32", "torch",
                                  "cuda", "native", True, True),
               status="ok", samples_s=samples, inner_loops=3,
               stats=stats.summarize(samples).to_dict(), timer="cuda-event", flops=1024.0,
               bytes=768.0, gflops=0.5, gbytes_per_s=0.4, fraction_of_peak=1.2,
               verify={"ok": True, "max_abs_err": 0.0, "max_rel_err": None, "tol": 1e-6},
               warnings=("launch_bound",), first_call_s=0.3, stop="target_ci",
               numerics=Numerics("tf32", {"cudnn_benchmark": True}, "cold"),
               host_samples_s=samples, enqueue_samples_s=samples,
               peak_device_bytes=3 * 2**20,
               distributed={"world_size": 2, "busbw_gbytes_per_s": 1.5,
                            "scaling_efficiency": {"value": 0.9, "ci95": [0.8, 1.0]}},
               rounds=(Round(6, 0, 0.5), Round(6, 1, 2.0)), run="run-1")
    return json.loads(results.dumps(document(r, result(noisy(1e-3)))))["results"][0]


BASE = full_result()


def places(value, prefix=()):
    """Every place in a result, with only the first two items of an array."""
    yield prefix
    items = value.items() if isinstance(value, dict) else (
        enumerate(value[:2]) if isinstance(value, list) else ())
    for key, item in items:
        yield from places(item, (*prefix, key))


PLACES = list(places(BASE))[1:]


def changed(path, action, value):
    doc = copy.deepcopy(BASE)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value
    return doc


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.name)
def test_every_result_of_every_fixture_is_valid_to_both(path):
    data = json.loads(path.read_text())
    if "results" not in data:
        pytest.skip("not a dlbench result file")
    for entry in data["results"]:
        assert CHECK(entry) and jsonschema_valid(ENTRY, entry)


# The bad fields of tests/test_schema.py, each on a written result.
BAD = [
    lambda d: d["samples_s"].__setitem__(2, -1e-3),
    lambda d: d["stats"].__setitem__("median", math.nan),
    lambda d: d.pop("workload"),
    lambda d: d.__setitem__("stats", None),
    lambda d: d["params"].__setitem__("m", [1, 2]),
    lambda d: d.__setitem__("status", "fine"),
    lambda d: d["samples_s"].__setitem__(0, 10**400),
    lambda d: d["samples_s"].__setitem__(0, 0.0),
    lambda d: d["samples_s"].__setitem__(1, True),
    lambda d: d["samples_s"].__setitem__(1, math.inf),
    lambda d: d["samples_s"].__setitem__(1, 2e6),
    lambda d: d.__setitem__("samples_s", []),
    lambda d: d["stats"].__setitem__("ci95", [1e-3]),
    lambda d: d["extra"]["distributed"].__setitem__("world_size", 0),
    lambda d: d["extra"].__setitem__("host_samples_s", [-1.0]),
    lambda d: d["params"].__setitem__("m", 1.5),
    lambda d: d.__setitem__("inner_loops", -1),
]


@pytest.mark.parametrize("bad", BAD)
def test_the_bad_fields_are_refused_by_both_with_jsonschemas_message(bad):
    entry = copy.deepcopy(BASE)
    bad(entry)
    assert not CHECK(entry) and not jsonschema_valid(ENTRY, entry)
    data = json.loads(results.dumps(document(result(noisy(1e-3)))))
    data["results"] = [entry]
    with pytest.raises(results.ResultFileError, match=r"^new\.json: does not match .* at "
                       r"\$\.results\[0\]"):
        schema.validate(data, schema.RESULT, "new.json", "the dlbench result schema")


def test_a_valid_integer_written_as_a_float_and_an_int_sample_are_accepted_by_both():
    entry = copy.deepcopy(BASE)
    entry["params"]["m"] = 8.0
    entry["samples_s"][0] = 1
    entry["inner_loops"] = 3.0
    assert CHECK(entry) and jsonschema_valid(ENTRY, entry)


@pytest.mark.property
@settings(max_examples=examples(ci=300, nightly=20_000), derandomize=DERANDOMIZE,
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PLACES), action=st.sampled_from(["replace", "delete", "add"]),
       value=json_values)
def test_a_result_mutated_anywhere_is_judged_alike(path, action, value):
    entry = changed(path, action, value)
    assert CHECK(entry) == jsonschema_valid(ENTRY, entry)


SCHEMAS = [
    {"type": "integer"}, {"type": ["number", "null"], "minimum": 0},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 1e6}, {"enum": ["ok", 1, None]},
    {"const": 1}, {"const": True}, {"type": "boolean"}, {"type": "string"},
    {"type": "array", "items": {"type": "number", "minimum": 1e-12}, "minItems": 1},
    {"type": ["array", "null"], "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
    {"type": "object", "required": ["x"], "additionalProperties": {"type": "integer"}},
    {"properties": {"x": {"type": "number"}}, "additionalProperties": False},
    {"if": {"properties": {"ok": {"const": True}}}, "then": {"required": ["value"]},
     "else": {"required": ["x"]}},
    {"items": {"type": "number", "minimum": 0}}, True, False, {},
    {"minimum": 2}, {"maxItems": 1}, {"required": ["median"], "type": ["object", "null"]},
]


@pytest.mark.property
@settings(max_examples=examples(ci=300, nightly=20_000), derandomize=DERANDOMIZE,
          deadline=None)
@given(index=st.integers(0, len(SCHEMAS) - 1), value=json_values)
def test_each_keyword_means_what_jsonschema_means(index, value):
    schema_doc = SCHEMAS[index]
    assert compiled.compile_schema(schema_doc)(value) == jsonschema_valid(schema_doc, value)


@pytest.mark.parametrize("unknown", [{"pattern": "^a"}, {"$ref": "#/$defs/x"},
                                     {"anyOf": [{"type": "string"}]}, {"type": "float"},
                                     {"const": [1]}, {"properties": {"x": {"format": "uri"}}}])
def test_keywords_it_does_not_know_are_refused_when_compiled(unknown):
    with pytest.raises(compiled.Unsupported):
        compiled.compile_schema(unknown)
