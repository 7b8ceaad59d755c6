"""ddp_train_step: the MLP and CNN training steps under DistributedDataParallel.

Every rank runs the step on its own batch of `batch` samples (weak scaling, as data
parallelism is used): DDP all-reduces the gradients during the backward pass, so after
the step every rank holds the weights one step over the global batch (ranks · batch)
would give. Verification checks both: the weights are identical on every rank
(elements that differ from rank 0's are counted), and rank 0's weights match the
float64 reference step over the concatenated global batch.

The same step without DDP, on one rank alone, is the scaling baseline: scaling
efficiency = t(one rank) / t(n ranks), each rank doing the same work per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbench import workloads
from dlbench.errors import UsageError
from dlbench.workloads import cnn, mlp, register
from dlbench.workloads.base import Param, Workload
from dlbench.workloads.ranks import RankCase, RankWorkload

MODELS = {"mlp": "mlp_train_step", "cnn": "cnn_train_step"}
WEIGHTS = {"mlp": mlp.WEIGHTS, "cnn": cnn.WEIGHTS}
LEARNING_RATE = {"mlp": mlp.LEARNING_RATE, "cnn": cnn.LEARNING_RATE}


@register
class DdpTrainStep(RankWorkload):
    name = "ddp_train_step"
    description = ("the MLP and CNN training steps under DistributedDataParallel, each rank "
                   "on its own batch; scaling efficiency against one rank")
    params = (Param("batch", 64, "samples per rank per step"),
              Param("ranks", 2, "ranks taking part (the world size)"))
    size_params = ("batch",)
    flops_formula = "ranks · (the model's training-step FLOPs at batch)"

    def _model(self, impl: str) -> Workload:
        if impl not in MODELS:
            raise UsageError(f"ddp_train_step has no model {impl!r} (models: mlp, cnn)")
        return workloads.get(MODELS[impl])

    def flops(self, p: Mapping[str, int]) -> float:
        # Both models at once is no single figure: the MLP's count is the row's; each
        # result is built per model by `case_flops`.
        return self.case_flops("mlp", p)

    def case_flops(self, impl: str, p: Mapping[str, int]) -> float:
        inner = self._model(impl)
        return p["ranks"] * inner.flops(inner.resolve(size=p["batch"]))

    def bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        inner = self._model("mlp")
        return p["ranks"] * inner.bytes(inner.resolve(size=p["batch"]), itemsize)

    def memory_bytes(self, p: Mapping[str, int], itemsize: int) -> float:
        return sum(p["ranks"] * self._model(m).memory_bytes(
            self._model(m).resolve(size=p["batch"]), itemsize) for m in MODELS)

    def impls_for(self, backend_name: str, device: str | None = None) -> tuple[str, ...]:
        return tuple(MODELS)

    def figures(self, p: Mapping[str, int], nbytes: float, median: float, world: int
                ) -> dict[str, Any]:
        return {"samples_per_s": p["batch"] * world / median}

    def rank_case(self, impl: str, backend: Any, p: Mapping[str, int], dtype: str,
                  rank: int, world: int, seed: int) -> RankCase:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        inner = self._model(impl)
        ip = inner.resolve(size=p["batch"])
        names = WEIGHTS[impl]
        weights = inner.inputs(ip, seed)
        data = inner.inputs(ip, seed + rank)
        module = _module(impl, backend, {k: weights[k] for k in names}, dtype, ip)
        x, y = (backend.asarray(data[k], dtype) for k in ("x", "y"))
        import torch

        device_ids = [torch.cuda.current_device()] if backend.device != "cpu" else None
        ddp = DistributedDataParallel(module, device_ids=device_ids)
        alone = _module(impl, backend, {k: weights[k] for k in names}, dtype, ip)

        def check(output: Any) -> dict[str, Any]:
            wrong = 0
            for tensor in output:
                reference = tensor.detach().clone()
                dist.broadcast(reference, src=0)
                wrong += int((reference != tensor.detach()).sum())
            found: dict[str, Any] = {"wrong": wrong, "max_abs_err": 0.0}
            if rank == 0:
                widened = _global_inputs(inner, ip, backend, dtype, seed, world, names)
                host = tuple(backend.to_numpy(t.detach()) for t in output)
                gp = inner.resolve(size=p["batch"] * world)
                found.update(inner.check(host, widened, gp, dtype,
                                         backend.float32_math()).to_dict())
            return found

        rate = LEARNING_RATE[impl]
        return RankCase(_step(ddp, module, x, y, rate), check,
                        alone=_step(alone, alone, x, y, rate))


def _step(model: Any, module: Any, x: Any, y: Any, rate: float) -> Any:
    """One SGD step of `model` (DDP-wrapped or plain) over `module`'s parameters."""
    import torch
    import torch.nn.functional as F

    params = list(module.parameters())
    optimizer = torch.optim.SGD(params, lr=rate)

    def step() -> tuple[Any, ...]:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        return tuple(params)

    return step


def _global_inputs(inner: Workload, ip: Mapping[str, int], backend: Any, dtype: str,
                   seed: int, world: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The step's inputs over all ranks, rounded to `dtype` as the ranks hold them and
    widened to float64: rank 0's initial weights and every rank's batch, concatenated."""
    def rounded(a: np.ndarray) -> np.ndarray:
        return np.asarray(backend.to_numpy(backend.asarray(a, dtype)), dtype=np.float64)

    weights = inner.inputs(ip, seed)
    batches = [inner.inputs(ip, seed + r) for r in range(world)]
    out = {k: rounded(weights[k]) for k in names}
    for key in ("x", "y"):
        out[key] = np.concatenate([rounded(b[key]) for b in batches])
    return out


def _module(impl: str, backend: Any, weights: Mapping[str, np.ndarray], dtype: str,
           ip: Mapping[str, int]) -> Any:
    """The model as a torch.nn.Module holding the workload's weights as parameters, the
    forward pass the same as the workload's torch native step."""
    import torch
    import torch.nn.functional as F

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            for name, value in weights.items():
                self.register_parameter(name, torch.nn.Parameter(backend.asarray(value, dtype)))

        def forward(self, x: Any) -> Any:
            if impl == "mlp":
                return F.relu(x @ self.w1 + self.b1) @ self.w2 + self.b2
            pad = ip["kernel"] // 2
            a1 = F.relu(F.conv2d(x, self.wc1, self.bc1, padding=pad))
            a2 = F.relu(F.conv2d(a1, self.wc2, self.bc2, padding=pad))
            return F.avg_pool2d(a2, 2).flatten(1) @ self.wd + self.bd

    return Model()
