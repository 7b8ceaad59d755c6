"""The published JSON Schemas: shipped in the package, accepting every file dlbench writes
and every committed fixture, and refusing bad input with the file, the JSON path of the
first bad field and what was expected there, in one line."""

import json
import math

import pytest

from dlbench import compare, results, schema, stats
from dlbench.errors import ResultFileError
from dlbench.results import Numerics, Result
from tests.helpers import DATA, LAPTOP, PYTEST_BENCHMARK, case, document, noisy, result


def gpu_result():
    """A GPU result with every `extra` a GPU run writes, and a key of a later version."""
    samples = noisy(2e-3, n=12)
    return Result(spec=case(size=8, backend="torch", device="cuda", impl="native",
                            end_to_end=True, graph=True),
                  status="ok", samples_s=samples, inner_loops=3,
                  stats=stats.summarize(samples).to_dict(), timer="cuda-event", flops=1024.0,
                  bytes=768.0, gflops=0.5, gbytes_per_s=0.4, fraction_of_peak=1.2,
                  verify={"ok": True, "max_abs_err": 0.0, "max_rel_err": None, "tol": 1e-6},
                  warnings=("launch_bound", "above_peak"), first_call_s=0.3, stop="target_ci",
                  numerics=Numerics("tf32", {"cudnn_benchmark": True}, "cold"),
                  host_samples_s=samples, enqueue_samples_s=samples,
                  peak_device_bytes=3 * 2**20)


def written(*rs, **kwargs):
    """What `results.dumps` writes for these results, as a reader gets it."""
    return json.loads(results.dumps(document(*rs, **kwargs)))


def refusal(data, kind=schema.RESULT, what="the dlbench result schema"):
    with pytest.raises(ResultFileError) as caught:
        schema.validate(data, kind, "new.json", what)
    return str(caught.value)


def test_the_schemas_ship_in_the_package_and_are_valid_json_schemas():
    import jsonschema

    for name in (schema.RESULT, schema.PYTEST_BENCHMARK):
        loaded = json.loads(schema.text(name))
        jsonschema.Draft202012Validator.check_schema(loaded)
        assert loaded["$schema"].endswith("2020-12/schema")


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.name)
def test_every_committed_fixture_is_valid(path):
    data = json.loads(path.read_text())
    kind = schema.PYTEST_BENCHMARK if "benchmarks" in data else schema.RESULT
    schema.validate(data, kind, path.name, "its schema")


def test_a_freshly_written_file_with_gpu_extras_and_future_keys_is_valid(tmp_path):
    data = written(gpu_result(), result(noisy(1e-3)), result((), status="skipped",
                                                             error="numpy has no bfloat16"))
    data["results"][0]["extra"]["launch_share"] = 0.9  # a key a later dlbench may add
    data["results"][0]["bandwidth_fraction_of_peak"] = 0.5
    data["environment"]["gpus"] = [{"device": "cuda:0", "name": "NVIDIA H100", "peak_flops": {
        "float32": {"flops": 6.7e13, "how": "datasheet"}}, "peak_bandwidth": {
        "bytes_per_s": 3.35e12, "how": "datasheet"}}]
    schema.validate(data, schema.RESULT, "fresh.json", "the dlbench result schema")
    path = tmp_path / "fresh.json"
    path.write_text(json.dumps(data))
    assert results.load(path).results[0].spec.graph


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["results"][0]["samples_s"].__setitem__(2, -1e-3),
     "at $.results[0].samples_s[2]: expected a number > 0, got -0.001"),
    (lambda d: d["results"][0]["stats"].__setitem__("median", math.nan),
     "at $.results[0].stats.median: expected a number, got NaN (numbers must be finite)"),
    (lambda d: d["results"][0].pop("workload"),
     'at $.results[0]: required key "workload" is missing'),
    (lambda d: d["results"][0].__setitem__("stats", None),
     'at $.results[0].stats: expected an object, got null (for status "ok")'),
    (lambda d: d["results"][0]["params"].__setitem__("m", [1, 2]),
     "at $.results[0].params.m: expected an integer, got an array (2 items)"),
    (lambda d: d["results"][0].__setitem__("status", "fine"),
     'at $.results[0].status: expected one of "ok", "wrong", "oom", "error", "skipped", '
     'got "fine"'),
    (lambda d: d["environment"].__setitem__("cpu", "x86"),
     'at $.environment.cpu: expected an object, got "x86"'),
    (lambda d: d["results"][0]["samples_s"].__setitem__(0, 10**400),
     "samples_s[0]: expected a number, got an integer of 401 digits (numbers must be finite)"),
    (lambda d: d["environment"]["libraries"].__setitem__("new\nline", 2),
     'at $.environment.libraries["new\\nline"]: expected a string, got 2'),
])
def test_bad_fields_are_named_by_json_path_with_what_was_expected(change, message):
    data = written(result(noisy(1e-3)))
    change(data)
    text = refusal(data)
    assert text.startswith("new.json: does not match the dlbench result schema ")
    assert message in text and "\n" not in text


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ResultFileError, match="nested too deeply"):
        results.read_json(path)
    data = written(result(noisy(1e-3)))
    data["environment"]["backends"] = {"x": {"y": json.loads("[" * 500 + "]" * 500)}}
    with pytest.raises(ResultFileError, match=r"\$\.environment is nested deeper than 64"):
        results.parse(data, "deep.json")


def test_big_files_are_validated_with_progress(monkeypatch):
    monkeypatch.setattr(schema, "PROGRESS_EVERY", 4)
    data = written(*(result(noisy(1e-3, n=10, seed=i), size=8 + i) for i in range(10)))
    seen = []
    schema.validate(data, schema.RESULT, "big.json", "x", lambda done, total: seen.append(
        (done, total)))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    data["results"][9]["samples_s"][0] = 0.0
    with pytest.raises(ResultFileError, match=r"\$\.results\[9\]\.samples_s\[0\]: expected a "
                                              r"number > 0, got 0\.0"):
        schema.validate(data, schema.RESULT, "big.json", "x")


def test_pytest_benchmark_fields_read_are_validated(tmp_path):
    good = json.loads(PYTEST_BENCHMARK.read_text())
    for change, message in [
        (lambda d: d["benchmarks"][0]["stats"].__setitem__("median", -1),
         "at $.benchmarks[0].stats.median: expected a number > 0, got -1"),
        (lambda d: d.__setitem__("machine_info", "laptop"),
         'at $.machine_info: expected an object or null, got "laptop"'),
        (lambda d: d["benchmarks"][1]["stats"]["data"].__setitem__(0, math.inf),
         "at $.benchmarks[1].stats.data[0]: expected a number, got Infinity"),
    ]:
        data = json.loads(json.dumps(good))
        change(data)
        path = tmp_path / "pb.json"
        path.write_text(json.dumps(data))
        with pytest.raises(ResultFileError, match="does not match pytest-benchmark JSON") as e:
            compare.read(path)
        assert message in str(e.value)
    compare.read(PYTEST_BENCHMARK)  # the fields pytest-benchmark writes and dlbench skips pass


def test_a_valid_file_reads_as_before():
    assert [r.status for r in results.load(LAPTOP).results][:2] == ["ok", "ok"]
