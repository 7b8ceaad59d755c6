"""Result files: round trip, determinism, atomic writes, refusal of unknown schemas."""

import json

import pytest

from dlbench import results, stats
from dlbench.errors import ResultFileError
from dlbench.results import CaseSpec, Result, RunDocument
from tests.helpers import DATA, while_reading


def make_doc(**changes):
    spec = CaseSpec.make("matmul", {"m": 64, "n": 64, "k": 64}, "float32", "numpy", "cpu",
                         "portable")
    ok = Result(spec=spec, status="ok", samples_s=(1e-3, 1.1e-3, 0.9e-3), inner_loops=4,
                stats={"median": 1e-3, "ci95": [0.9e-3, 1.1e-3]}, flops=2 * 64**3,
                gflops=0.524288, verify={"ok": True, "max_abs_err": 0.0, "max_rel_err": 0.0,
                                         "tol": 1e-6}, warnings=("few_samples",))
    bad = Result(spec=CaseSpec.make("matmul", {"m": 64, "n": 64, "k": 64}, "bfloat16", "numpy",
                                    "cpu", "portable"), status="skipped",
                 error="numpy has no bfloat16")
    doc = RunDocument(dlbench_version="0.1.0", created="2026-11-25T00:00:00+00:00",
                      command=("dlbench", "run"), environment={"host": "h"},
                      settings={"suite": "quick"}, results=(ok, bad))
    return doc.with_results(doc.results, **changes)


def test_case_id_and_column():
    spec = make_doc().results[0].spec
    assert spec.id == "matmul/m=64,n=64,k=64/float32/numpy-cpu/portable"
    assert spec.column == "numpy-cpu"
    native = CaseSpec.make("conv2d", {"h": 8}, "float32", "torch", "cpu", "native")
    assert native.column == "torch-cpu-native"


def test_round_trip(tmp_path):
    doc = make_doc()
    path = tmp_path / "r.json"
    results.dump(doc, path)
    loaded = results.load(path)
    assert loaded == doc
    data = json.loads(path.read_text())
    assert data["schema"] == "dlbench.result" and data["schema_version"] == 1
    assert data["results"][0]["id"] == doc.results[0].spec.id
    assert data["results"][0]["samples_s"] == [1e-3, 1.1e-3, 0.9e-3]


def test_dumps_is_deterministic_and_strict_json():
    text = results.dumps(make_doc())
    assert text == results.dumps(make_doc()) and text.endswith("\n")
    spec = make_doc().results[0].spec
    nan = Result(spec=spec, status="ok", gflops=float("nan"))
    doc = make_doc().with_results((nan,))
    assert json.loads(results.dumps(doc))["results"][0]["gflops"] is None


def test_json_safe_turns_nan_and_inf_into_null_at_any_depth():
    inf = float("inf")
    value = {"a": float("nan"), "b": [1.5, -inf, (inf, "x")], "c": {"d": None, "e": 2}}
    assert results.json_safe(value) == {"a": None, "b": [1.5, None, [None, "x"]],
                                        "c": {"d": None, "e": 2}}
    assert results.json_safe(3) == 3 and results.json_safe(inf) is None


def test_a_gpu_result_entry_reads_and_writes_back_unchanged():
    """The typed fields (end-to-end mark, numerics, host time, peak memory) are the file's
    "impl" and "extra" as version 1 wrote them: reading and writing keeps every byte."""
    samples = [2e-3, 2.1e-3, 1.9e-3, 2e-3, 2.05e-3, 1.95e-3]
    host = [2.5e-3, 2.6e-3, 2.4e-3, 2.5e-3, 2.55e-3, 2.45e-3]
    spec = CaseSpec.make("matmul", {"m": 8, "n": 8, "k": 8}, "float32", "torch", "cuda",
                         "native", True)
    written = Result(spec=spec, status="ok", samples_s=tuple(samples), inner_loops=1,
                     stats=stats.summarize(samples).to_dict(), timer="cuda-event",
                     numerics=results.Numerics("tf32", {"cudnn_benchmark": True}, "cold"),
                     host_samples_s=tuple(host), peak_device_bytes=3 * 2**20).to_dict()
    assert written["id"].endswith("/torch-cuda/native+transfer")
    assert written["impl"] == "native+transfer"
    assert written["extra"] == {
        "float32_math": "tf32", "math": {"cudnn_benchmark": True}, "cache": "cold",
        "host_samples_s": host, "host_stats": stats.summarize(host).to_dict(),
        "peak_device_bytes": 3 * 2**20}
    text = json.dumps(written)
    assert json.dumps(Result.from_dict(json.loads(text)).to_dict()) == text
    cpu = Result(spec=CaseSpec.make("matmul", {"m": 8}, "float32", "numpy", "cpu", "portable"),
                 status="ok", numerics=results.Numerics()).to_dict()
    assert cpu["extra"] == {"float32_math": "ieee"} and cpu["impl"] == "portable"


def test_fixture_v1_loads():
    doc = results.load(DATA / "result-v1.json")
    assert doc.results and all(r.status in results.STATUSES for r in doc.results)


@pytest.mark.parametrize("version", [0, 2, 99, "1", None])
def test_unknown_schema_version_refused(tmp_path, version):
    data = json.loads(results.dumps(make_doc()))
    data["schema_version"] = version
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=r"future\.json: schema_version .*supported: 1\.\.1"):
        results.load(path)


def test_not_a_result_file(tmp_path):
    (tmp_path / "other.json").write_text('{"benchmarks": []}')
    with pytest.raises(ResultFileError, match="not a dlbench result file"):
        results.load(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(ResultFileError, match="not JSON"):
        results.load(tmp_path / "broken.json")
    with pytest.raises(ResultFileError, match="no such file"):
        results.load(tmp_path / "missing.json")


def test_atomic_write_leaves_no_temporary_and_refuses_overwrite(tmp_path):
    path = tmp_path / "out" / "r.json"
    results.write_atomic(path, "one\n")
    results.write_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
    with pytest.raises(ResultFileError, match="already exists"):
        results.write_atomic(path, "three\n", overwrite=False)


def test_unknown_status_rejected():
    with pytest.raises(ValueError):
        Result(spec=make_doc().results[0].spec, status="fast")


def test_write_atomic_writes_a_fifo_in_place_and_refuses_folders(tmp_path):
    import os
    import stat

    fifo = tmp_path / "pipe"
    got, _ = while_reading(fifo, lambda: results.write_atomic(fifo, "data\n"))
    assert got == b"data\n" and stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(ResultFileError, match="is a folder"):
        results.write_atomic(tmp_path, "x")
    with pytest.raises(ResultFileError, match="already exists"):
        results.write_atomic(fifo, "x", overwrite=False)


def test_write_atomic_fits_a_name_of_the_longest_length_and_says_why_it_fails(tmp_path):
    longest = tmp_path / ("n" * 250 + ".json")  # 255 bytes: the usual NAME_MAX
    results.write_atomic(longest, "ok\n")
    assert longest.read_text() == "ok\n"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResultFileError, match=r"file/r\.json: cannot write \("):
        results.write_atomic(tmp_path / "file" / "r.json", "x")
