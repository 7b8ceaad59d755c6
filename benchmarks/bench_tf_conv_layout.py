"""TensorFlow's conv2d in NHWC and in NCHW, eager and under XLA, on the default conv2d case.

dlbench reports NHWC (workloads/conv2d.py TF_CONV_LAYOUT): it is TensorFlow's layout on
a CPU — builds without oneDNN refuse NCHW there ("The Conv2D op currently only supports
the NHWC tensor format on the CPU"), and with oneDNN (tensorflow-cpu 2.21 on x86) NCHW
runs but slower. This measures both, alternating in rounds in one TensorFlow process (a
child of its own, so no other library's threads spin beside it), and prints the
medians; an NCHW that TensorFlow refuses is printed with its error. Measured here
(2026-11-26, tensorflow-cpu 2.21.0, 2 threads): NHWC eager 28.8 ms (257 GFLOP/s),
NCHW eager 33.0 ms (224), NHWC under XLA 35.5 ms (209), NCHW under XLA 40.0 ms (185).

    pytest benchmarks/bench_tf_conv_layout.py --benchmark-only -s
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import timeit

import pytest

ROUNDS = 5


def _child() -> dict[str, object]:
    import tensorflow as tf

    from dlbench.backends import DeviceOptions
    from dlbench.worker import Worker
    from dlbench.workloads import conv2d, get

    worker = Worker.start("tensorflow", "cpu", None, DeviceOptions())
    wl = get("conv2d")
    p = wl.resolve()
    arrays = {k: worker.backend.asarray(v, "float32") for k, v in wl.inputs(p).items()}
    calls, errors = {}, {}
    for layout in ("NHWC", "NCHW"):
        body = conv2d.tensorflow_native(worker.backend, arrays, p, layout).body
        for name, fn in ((f"{layout} eager", body),
                         (f"{layout} xla", tf.function(body, jit_compile=True))):
            try:
                fn()
                calls[name] = fn
            except Exception as exc:  # TensorFlow refuses the layout: that is the answer
                errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    medians: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, fn in calls.items():
            number, _ = timeit.Timer(fn).autorange()
            medians[name].append(min(timeit.repeat(fn, number=number, repeat=3)) / number)
    flops = wl.flops(p)
    return {"median_ms": {k: statistics.median(v) * 1e3 for k, v in medians.items()},
            "gflops": {k: flops / statistics.median(v) / 1e9 for k, v in medians.items()},
            "errors": errors}


def test_tensorflow_conv_layouts(benchmark):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed")

    def measure() -> dict[str, object]:
        out = subprocess.run([sys.executable, __file__], capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    figures = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print()
    for name, ms in figures["median_ms"].items():
        print(f"tensorflow conv2d {name}: {ms:.2f} ms, {figures['gflops'][name]:.0f} GFLOP/s")
    for name, error in figures["errors"].items():
        print(f"tensorflow conv2d {name}: refused: {error}")
    assert "NHWC eager" in figures["median_ms"]


if __name__ == "__main__":
    print(json.dumps(_child()))
