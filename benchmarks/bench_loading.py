"""How fast result files are read: validation against the published schema and loading.

`report`, `compare` and `history` read every file they are given before anything else
(`history` reads hundreds), so reading must not dominate them. Target: a file of 10,000
results validated and loaded (`results.load`) within 1 s. The file is generated as
`dlbench run` writes one: each result a numpy or torch matmul with 30 samples, its stats
and its extra. DLBENCH_BENCH_RESULTS=1000000 measures a bigger file (about 1 GB here, and
minutes to build).

    pytest benchmarks/bench_loading.py --benchmark-only -s
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from dlbench import results, schema, stats
from dlbench.results import CaseSpec, Result, RunDocument

COUNT = int(os.environ.get("DLBENCH_BENCH_RESULTS", "10000"))
SAMPLES = 30
TARGET_S = 1.0


def _document(count: int) -> str:
    rng = np.random.default_rng(0)
    template = []
    for i, backend in enumerate(("numpy", "torch")):
        samples = tuple((1e-3 * rng.lognormal(0.0, 0.02, SAMPLES)).tolist())
        spec = CaseSpec.make("matmul", {"m": 1, "n": 1, "k": 1}, "float32", backend, "cpu",
                             "portable")
        template.append(Result(spec, "ok", samples_s=samples, inner_loops=4 + i,
                               stats=stats.summarize(samples).to_dict(), flops=2e9, bytes=1e7,
                               gflops=2.0, verify={"ok": True, "max_abs_err": 1e-6,
                                                   "max_rel_err": 1e-7, "tol": 1e-4},
                               warnings=("outliers",), first_call_s=0.01,
                               stop="target_ci").to_dict())
    doc = RunDocument("0.1.0", "2026-12-06T00:00:00+00:00", ("dlbench", "run"),
                      {"host": "bench", "cpu": {"model": "bench CPU"}, "libraries": {}},
                      {"suite": "bench"}, ()).to_dict()
    entries = []
    for n in range(count):
        entry = dict(template[n % 2])
        size = 8 + n // 2
        entry["params"] = {"m": size, "n": size, "k": size}
        entry["id"] = f"matmul/m={size},n={size},k={size}/float32/{entry['backend']}-cpu/portable"
        entries.append(entry)
    doc["results"] = entries
    return json.dumps(doc, indent=2) + "\n"


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("loading") / f"results-{COUNT}.json"
    path.write_text(_document(COUNT))
    return path


def test_loading_a_big_file(benchmark, big_file):
    """results.load: JSON parsing, schema validation and the data model, end to end."""
    doc = benchmark.pedantic(results.load, args=(big_file,), rounds=3, iterations=1)
    median = benchmark.stats.stats.median
    size = big_file.stat().st_size / 2**20
    benchmark.extra_info.update(results=COUNT, mib=size, seconds=median)
    print(f"\nload of {COUNT:,} results ({size:,.1f} MiB): {median:.3f} s "
          f"(target {TARGET_S * COUNT / 10_000:g} s)")
    assert len(doc.results) == COUNT
    assert median < TARGET_S * COUNT / 10_000


def test_validation_alone_and_what_jsonschema_alone_would_take(big_file):
    """Where the time goes: parsing, the compiled validation, and (on the first 500
    results, scaled) jsonschema alone, which validated every result before."""
    start = time.perf_counter()
    data = json.loads(big_file.read_text())
    parsed = time.perf_counter() - start
    start = time.perf_counter()
    schema.validate(data, schema.RESULT, big_file.name, "the dlbench result schema")
    validated = time.perf_counter() - start
    _, entry, _ = schema.validators(schema.RESULT)
    sample = data["results"][:500]
    start = time.perf_counter()
    for item in sample:
        assert next(iter(entry.iter_errors(item)), None) is None
    slow = (time.perf_counter() - start) * len(data["results"]) / len(sample)
    print(f"\n{COUNT:,} results: JSON {parsed:.3f} s, validation {validated:.3f} s "
          f"(jsonschema alone: {slow:.1f} s)")
    assert validated < slow
