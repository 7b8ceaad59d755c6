"""Writes tests/data/run-h200.json: a default run (`dlbench run --device cpu,cuda`) as an
H200 machine would record it, for the report tests on a GPU machine where none is lent.

Made by hand, and said to be: the CPU-side results are tests/data/run-cpu.json's (a real
`dlbench run` on the 2-vCPU development VM) with their medians scaled to 16 Xeon cores,
and the GPU medians are set to what an H200 gave in the session of issue 13 (a CNN step
57 ms on NumPy vs 1.17 ms on torch/CUDA, 49×; a 3×3 conv layer about 270×; 4 TB/s
bandwidth; a 256² matmul launch-bound at 12–21 µs).
Samples are lognormal around each median (seeded), and every summary is computed from
them by dlbench's own statistics, so the file validates against the schema and reads
back like a run. Run: python tests/data/make_h200_fixture.py
"""

import copy
import json
from pathlib import Path

import numpy as np

from dlbench import environment, results, stats

HERE = Path(__file__).parent
# Median seconds per (workload, dtype, column); None: not measured there (skipped).
MEDIANS = {
    ("matmul", 256, "float32"): {
        "numpy-cpu": 60e-6, "torch-cpu": 55e-6, "cupy-cuda": 14e-6, "cupy-cuda-native": 12.5e-6,
        "torch-cuda": 21e-6, "torch-cuda-native": 16.6e-6},
    ("matmul", 1024, "float32"): {
        "numpy-cpu": 2.2e-3, "torch-cpu": 2.0e-3, "cupy-cuda": 62e-6, "cupy-cuda-native": 58e-6,
        "torch-cuda": 64e-6, "torch-cuda-native": 59e-6},
    ("matmul", 1024, "bfloat16"): {
        "torch-cpu": 0.9e-3, "torch-cuda": 19e-6, "torch-cuda-native": 14e-6},
    ("conv2d", None, "float32"): {
        "numpy-cpu": 34e-3, "torch-cpu": 25e-3, "torch-cpu-native": 3.1e-3,
        "cupy-cuda": 0.9e-3, "torch-cuda": 0.95e-3, "torch-cuda-native": 127e-6},
    ("mlp_train_step", None, "float32"): {
        "numpy-cpu": 9e-3, "torch-cpu": 2.5e-3, "torch-cpu-native": 2.1e-3,
        "cupy-cuda": 0.45e-3, "torch-cuda": 0.5e-3, "torch-cuda-native": 0.35e-3},
    ("cnn_train_step", None, "float32"): {
        "numpy-cpu": 57e-3, "torch-cpu": 60e-3, "torch-cpu-native": 9e-3,
        "cupy-cuda": 3.2e-3, "torch-cuda": 3.4e-3, "torch-cuda-native": 1.17e-3},
    ("bandwidth", None, "float32"): {
        "numpy-cpu": 12e-3, "torch-cpu": 14e-3, "torch-cpu-native": 6e-3,
        "cupy-cuda": 70e-6, "torch-cuda": 75e-6, "torch-cuda-native": 50e-6},
    ("lstm_train_step", None, "float32"): {
        "numpy-cpu": 25e-3, "torch-cpu": 22e-3, "torch-cpu-native": 12e-3,
        "cupy-cuda": 4.5e-3, "torch-cuda": 6e-3, "torch-cuda-native": 1.9e-3},
    ("attention", None, "float32"): {
        "numpy-cpu": 45e-3, "torch-cpu": 30e-3, "torch-cpu-native": 9e-3,
        "cupy-cuda": 0.35e-3, "torch-cuda": 0.4e-3, "torch-cuda-native": 60e-6},
    ("transformer_train_step", None, "float32"): {
        "numpy-cpu": 140e-3, "torch-cpu": 90e-3, "torch-cpu-native": 38e-3,
        "cupy-cuda": 2.8e-3, "torch-cuda": 3.0e-3, "torch-cuda-native": 1.4e-3},
}
# GPU columns whose time is the launch rate (the host's queueing takes most of it).
LAUNCH_BOUND = {("matmul", 256, "float32"), ("matmul", 1024, "bfloat16"),
                ("lstm_train_step", None, "float32")}
GPU = {"device": "cuda:0", "name": "NVIDIA H200", "memory_bytes": 150_754_820_096,
       "compute_capability": "9.0", "driver": "580.65.06", "cuda": "13.0", "sm_count": 132}


def key(r: results.Result) -> tuple:
    size = r.spec.param_dict.get("m") if r.spec.workload == "matmul" else None
    return (r.spec.workload, size, r.spec.dtype)


def make(template: results.Result, column: str, median: float, seed: int) -> dict:
    backend, device, *impl = column.split("-")
    impl_name = impl[0] if impl else "portable"
    samples = (median * np.random.default_rng(seed).lognormal(0.0, 0.01, 30)).tolist()
    summary = stats.summarize(samples)
    d = template.to_dict()
    spec = results.CaseSpec.make(template.spec.workload, template.spec.param_dict,
                                 template.spec.dtype, backend, device, impl_name)
    gpu = device == "cuda"
    warnings = stats.quality_warnings(summary)
    if gpu and key(template) in LAUNCH_BOUND:
        warnings.append(stats.QualityWarning.LAUNCH_BOUND.value)
    d.update(id=spec.id, backend=backend, device=device, impl=impl_name, status="ok",
             error=None, samples_s=samples, stats=summary.to_dict(),
             timer="cuda-event" if gpu else "host", warnings=warnings, stop=None,
             first_call_s=None, fraction_of_peak=None, extra={"cache": "hot"} if gpu else {})
    flops, moved = d.get("flops"), d.get("bytes")
    d["gflops"] = flops / median / 1e9 if flops else None
    d["gbytes_per_s"] = moved / median / 1e9 if moved else None
    return d


def main() -> None:
    cpu_run = results.load(HERE / "run-cpu.json")
    templates = {key(r): r for r in cpu_run.results if r.status == "ok"}
    env = copy.deepcopy(cpu_run.environment)
    env.update(host="h200-box", python="3.12.3", gpus=[])
    env["cpu"] = {"model": "Intel(R) Xeon(R) Platinum 8480+", "vendor": "GenuineIntel",
                  "logical_cores": 16, "physical_cores": 16, "usable_cores": 16,
                  "virtualized": True, "mhz_nominal": 2000.0, "mhz_max": None}
    env["libraries"] = {**env["libraries"], "torch": "2.11.0+cu130", "numpy": "2.5.2",
                        "cupy-cuda13x": "14.2.0"}
    environment.add_gpu(env, GPU)
    out, seed = [], 0
    for case, medians in MEDIANS.items():
        for column, median in medians.items():
            out.append(make(templates[case], column, median, seed))
            seed += 1
    skipped = copy.deepcopy(next(r for r in out if r["dtype"] == "bfloat16"))
    spec = results.CaseSpec.make("matmul", {"m": 1024, "n": 1024, "k": 1024}, "bfloat16",
                                 "numpy", "cpu", "portable")
    skipped.update(id=spec.id, backend="numpy", device="cpu", timer="host", status="skipped",
                   error="numpy has no bfloat16", samples_s=[], stats=None, gflops=None,
                   gbytes_per_s=None, warnings=[], verify=None, extra={})
    out.append(skipped)
    doc = cpu_run.to_dict()
    doc.update(environment=env, results=out, created="2026-11-26T12:00:00+00:00",
               command=["dlbench", "run", "--device", "cpu,cuda"])
    doc["settings"] = {**doc["settings"],
                       "backends": ["numpy-cpu", "torch-cpu", "cupy-cuda", "torch-cuda"]}
    parsed = results.parse(json.loads(json.dumps(doc)), "run-h200.json")
    results.dump(parsed, HERE / "run-h200.json")


if __name__ == "__main__":
    main()
