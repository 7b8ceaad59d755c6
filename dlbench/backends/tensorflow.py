"""TensorFlow on the CPU and on CUDA GPUs: native kernels only, eager and XLA-compiled.

array-api-compat has no TensorFlow namespace, so the portable kernels do not run here
(`portable = False`). Its natives build a `Step` (`StepNative`), run eagerly as
"native" and under `tf.function(jit_compile=True)` as "xla", compiled by XLA inside the
first call. What TensorFlow reads at start is set before import and
recorded: its C++ log level (`TF_CPP_MIN_LOG_LEVEL`: start-up notices would otherwise
fill stderr) and oneDNN (`TF_ENABLE_ONEDNN_OPTS`, on by default on x86, changes which
kernels run and their rounding: recorded, never set). Thread pools are fixed at the
first op, so the worker sets them right after import. A CPU worker hides the GPUs (it
would otherwise take all their memory); a GPU worker grows its memory as needed and
times with `tf.test.experimental.sync_devices()` (TF >= 2.12), which waits for every
queued op on every device, before each clock read.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dlbench.backends import WARM_UP_N, Backend, cuda, register
from dlbench.clock import Clock, perf_clock
from dlbench.compilers import CompiledKernel, Compiler
from dlbench.errors import UsageError
from dlbench.i18n import N_
from dlbench.kernels import Kernel, ReportingKernel, Source, Step, StepNative
from dlbench.timers import HostTimer, Timer

# The distributions TensorFlow comes as: the CPU-only wheel, and the full one (CUDA).
DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu")
TF_ENV = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "TF_XLA_FLAGS",
          "OMP_NUM_THREADS")
# 2: errors only. TensorFlow's start-up notices (oneDNN, CPU instructions) say nothing
# a result does not record.
LOG_LEVEL = "2"


@register
class TensorflowBackend(Backend):
    name = "tensorflow"
    library = "tensorflow"
    env_vars = TF_ENV
    distributions = DISTRIBUTIONS
    devices = ("cpu", "cuda")
    dtypes = ("float32", "float64", "bfloat16")
    process_settings = True
    gpu_modes = frozenset()  # timed on the host around a synchronised batch only
    portable = False
    table_note = N_("tensorflow: native only (array-api-compat has no TensorFlow namespace, "
                    "so the portable kernels cannot run on it); its compiled column (-xla in "
                    "older files) is the same kernel under tf.function(jit_compile=True)")
    native_kind = StepNative
    derived = {"xla": "native"}
    compiler = Compiler(impl="xla", eager="native", frontend="tf.function(jit_compile=True)",
                        name="XLA")

    @property
    def _tf(self) -> Any:
        import tensorflow as tf

        return tf

    def installed(self) -> tuple[bool, str]:
        if importlib.util.find_spec(self.library) is None:
            return False, "tensorflow is not installed (pip install 'dlbench[tensorflow]')"
        return True, ""

    @classmethod
    def cuda_unavailable(cls) -> str | None:
        return super().cuda_unavailable() or tensorflow_cpu_build()

    @classmethod
    def classify_cuda(cls, library: Any) -> dict[str, Any]:
        tf = library
        info: dict[str, Any] = {"version": tf.__version__}
        if not tf.test.is_built_with_cuda():
            return {"ok": False, "info": info, "reason":
                    f"tensorflow {tf.__version__} is built without CUDA"}
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return {"ok": False, "info": info, "reason": "tensorflow sees no GPU (a driver, "
                    "or the CUDA libraries of tensorflow[and-cuda], missing)"
                    + cuda.visible_note()}
        devices = [{"index": i, "name": tf.config.experimental.get_device_details(g)
                    .get("device_name", g.name), "total_bytes": None}
                   for i, g in enumerate(gpus)]
        return {"ok": True, "info": info, "devices": devices}

    @property
    def xp(self) -> Any:
        raise UsageError("array-api-compat does not cover TensorFlow: native kernels only")

    # -- start ------------------------------------------------------------------------------
    def prepare_env(self, options: Any) -> None:
        super().prepare_env(options)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", LOG_LEVEL)

    _import_notices: tuple[str, ...] = ()

    @contextlib.contextmanager
    def importing(self) -> Iterator[None]:
        """TensorFlow logs through absl before absl is set up, so TF_CPP_MIN_LOG_LEVEL
        does not reach its oneDNN notice: stderr (fd 2, where C++ writes) goes to a file
        during the import, and what was written is kept for `describe`."""
        with tempfile.TemporaryFile() as sink:
            saved = os.dup(2)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read().decode(errors="replace")
        self._import_notices = tuple(line for line in text.splitlines() if line.strip())

    def set_threads(self, threads: int | None) -> None:
        if threads:
            threading = self._tf.config.threading
            threading.set_intra_op_parallelism_threads(threads)
            threading.set_inter_op_parallelism_threads(threads)

    def setup(self) -> None:
        tf = self._tf
        gpus = tf.config.list_physical_devices("GPU")
        if not self.is_cuda:
            tf.config.set_visible_devices([], "GPU")
        else:
            index = cuda.device_index(self.device)
            tf.config.set_visible_devices([gpus[index]], "GPU")
            tf.config.experimental.set_memory_growth(gpus[index], True)
        # TF32 is on by default in TensorFlow; follow --tf32 like every GPU backend.
        tf.config.experimental.enable_tensor_float_32_execution(self.options.tf32)

    def build(self, impl: str, workload: Source, arrays: Mapping[str, Any],
              p: Mapping[str, int]) -> Kernel:
        if impl not in ("native", "xla"):
            return super().build(impl, workload, arrays, p)
        step = workload.natives[self.name].build(self, arrays, p)
        # No xla_flops here: TensorFlow 2.21 has no cost analysis of its own. Its HLO
        # (experimental_get_compiler_ir) can be costed only by jaxlib's private
        # `hlo_module_cost_analysis`, which would load a second XLA runtime into this worker.
        if impl == "native":
            return TfKernel(step, step.body)
        return TfXla(step, self._tf.function(step.body, jit_compile=True), self.compiler)

    def warm_up_kernel(self) -> Kernel:
        import numpy as np

        a = self.asarray(np.ones((WARM_UP_N, WARM_UP_N)), "float32")
        matmul = self._tf.linalg.matmul
        return lambda: matmul(a, a)

    def _device_name(self) -> str:
        return "/GPU:0" if self.is_cuda else "/CPU:0"  # the one GPU left visible

    # -- arrays and timing -------------------------------------------------------------------
    def asarray(self, host: Any, dtype: str) -> Any:
        import numpy as np

        tf = self._tf
        with tf.device(self._device_name()):
            if dtype == "bfloat16":
                return tf.cast(tf.constant(np.asarray(host, dtype=np.float32)), tf.bfloat16)
            return tf.identity(tf.constant(np.asarray(host, dtype=dtype)))

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        tf = self._tf
        if x.dtype in (tf.bfloat16, tf.float16):
            x = tf.cast(x, tf.float32)
        return np.array(x.numpy(), copy=True)

    def synchronize(self) -> None:
        if self.is_cuda:
            self._tf.test.experimental.sync_devices()

    def timer(self, clock: Clock = perf_clock, graph: bool = False) -> Timer:
        """Host time around the batch, synchronised: TensorFlow exposes no CUDA events."""
        if graph:
            raise UsageError("tensorflow has no CUDA-graph capture to time")
        return HostTimer(clock, self.synchronize)

    def math_state(self) -> dict[str, Any]:
        tf = self._tf
        return {"tensor_float_32_execution":
                bool(tf.config.experimental.tensor_float_32_execution_enabled()),
                "onednn": _onednn(os.environ)}

    def float32_math(self) -> str:
        tf32 = self._tf.config.experimental.tensor_float_32_execution_enabled()
        return "tf32" if self.is_cuda and tf32 else "ieee"

    # memory_free stays None: TensorFlow reports what it holds, not what the device has
    # free, so a GPU case too big for the device fails as "oom" instead of being refused.
    def reset_peak_memory(self) -> None:
        if self.is_cuda:
            self._tf.config.experimental.reset_memory_stats("GPU:0")

    def peak_memory(self) -> int | None:
        if not self.is_cuda:
            return None
        return int(self._tf.config.experimental.get_memory_info("GPU:0")["peak"])

    def describe(self) -> dict[str, Any]:
        tf = self._tf
        threading = tf.config.threading
        build = tf.sysconfig.get_build_info()
        return {
            "version": tf.__version__,
            "distribution": self.version(),
            # 0 means TensorFlow's own choice (one per core).
            "intra_op_threads": threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": threading.get_inter_op_parallelism_threads(),
            "onednn": _onednn(os.environ),
            "cuda_build": bool(build.get("is_cuda_build", False)),
            "xla_jit": "tf.function(jit_compile=True)",
            "tf32": self.math_state()["tensor_float_32_execution"],
            "devices": [d.name for d in tf.config.get_visible_devices()],
            "env": {k: os.environ[k] for k in self.env_vars if k in os.environ},
            "math": self.math_state(),
            "import_notices": list(self._import_notices),
        }


class TfKernel(ReportingKernel):
    """A Step's body called eagerly, or compiled by XLA on the first call; a training
    step's output is its state (the variables it updated)."""

    def __init__(self, step: Step, body: Callable[[], Any]) -> None:
        self.step, self.body = step, body

    def __call__(self) -> Any:
        out = self.body()
        return out if self.step.state is None else self.step.state

    def canonical(self, output: Any) -> Any:
        return output if self.step.canonical is None else self.step.canonical(output)


class TfXla(TfKernel, CompiledKernel):
    """A Step's body under tf.function(jit_compile=True), traced and compiled by XLA on
    the first call; a later trace (a retrace) is a recompilation."""

    def __init__(self, step: Step, function: Any, compiler: Compiler) -> None:
        super().__init__(step, function)
        self.function, self.compiler = function, compiler

    def compilations(self) -> int:
        return int(self.function.experimental_get_tracing_count())


def tensorflow_cpu_build() -> str | None:
    """The reason when the installed TensorFlow is the CPU-only wheel, from its metadata."""
    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu = version("tensorflow-cpu")
    if cpu is None or version("tensorflow") is not None:
        return None
    return (f"tensorflow-cpu {cpu} is a CPU-only build (a GPU needs "
            "pip install 'tensorflow[and-cuda]')")


def _onednn(env: Any) -> str:
    """oneDNN's state as TensorFlow decides it: on by default on x86 Linux."""
    value = env.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None:
        return "on (default)"
    return "off" if value.strip() in ("0", "false", "False") else "on"
