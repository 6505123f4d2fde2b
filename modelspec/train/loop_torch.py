"""The PyTorch side of a run: model, optimiser step, evaluation, state in and out.

`engine` drives the epochs and batches; this class does what needs torch.
Batches arrive as numpy arrays and leave as host scalars, so the engine stays
framework-free.  Under torchrun the model is wrapped in DistributedDataParallel
and the loss is weighted so that the averaged gradient equals the gradient of
the mean over the whole global batch.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..ir.graph import Graph
from ..weights import to_numpy  # handles bfloat16
from .checkpoint import CheckpointError, check_names, host_rng_state, model_tensors, restore_host_rng
from .config import TrainConfig
from .data import Dataset
from .distributed import Dist, all_gather, wrap_ddp
from .losses import LossPlan, torch_eval, torch_loss, torch_penalty
from .models import build_torch
from .optim import torch_optimizer
from .terminals import ModelIO


class TorchTrainer:
    backend = "torch"

    def __init__(self, graph: Graph, cfg: TrainConfig, plan: LossPlan, io: ModelIO, dist: Dist,
                 *, train: bool = True) -> None:
        import torch

        self.torch = torch
        self.cfg, self.plan, self.io, self.dist = cfg, plan, io, dist
        self.device = torch.device(dist.device)
        torch.manual_seed(cfg.seed)  # the same seed, the same initial weights, on every rank
        self.module = build_torch(graph).to(self.device)
        self.inputs = list(graph.inputs)
        self.only = next(iter(graph.outputs)) if len(graph.outputs) == 1 else None
        self.model = self.module
        self.opt: Any = None
        if train:
            self.model = wrap_ddp(dist, self.module)
            self.opt = torch_optimizer(cfg, self.module.parameters())
            if dist.active:
                torch.manual_seed(cfg.seed + 1 + dist.rank)  # independent dropout masks per rank
        self.param_names = [n for n, _ in self.module.named_parameters()]
        self.module.train(train)

    # -- batches ------------------------------------------------------------------------------------------------
    def _inputs(self, x: dict[str, np.ndarray], repeat: dict[str, int]) -> list[Any]:
        out = []
        for name in self.inputs:
            t = self.torch.from_numpy(x[name]).to(self.device, non_blocking=True)
            if name in repeat:
                t = t.unsqueeze(1).expand(t.shape[0], repeat[name], *t.shape[1:])
            out.append(t)
        return out

    def _outputs(self, out: Any) -> dict[str, Any]:
        return out if isinstance(out, dict) else {self.only or self.io.output: out}

    def train_batch(self, x: dict[str, np.ndarray], y: np.ndarray, repeat: dict[str, int], lr: float,
                    scale: float, step: int) -> tuple[Any, Any]:
        """One optimiser step; ((mean loss, samples), number correct), not yet read.

        ``step`` is unused: torch's generator state carries the dropout masks."""
        for group in self.opt.param_groups:
            group["lr"] = lr
        outs = self._outputs(self.model(*self._inputs(x, repeat)))
        target = self.torch.from_numpy(y).to(self.device, non_blocking=True)
        n = len(y)
        if n:
            loss, correct = torch_loss(self.plan, outs[self.io.output], target)
            pen = torch_penalty(self.plan, outs)
            if pen is not None:
                loss = loss + pen
        else:  # this process's share of a short last batch is empty: join the gradient all-reduce with zeros
            loss, correct = sum(o.sum() for o in outs.values()) * 0.0, None
        factor = scale * n  # 1 unless a batch splits unevenly over processes
        self.opt.zero_grad(set_to_none=True)
        (loss if abs(factor - 1.0) < 1e-9 else loss * factor).backward()
        if self.cfg.clip_grad_norm:
            self.torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.clip_grad_norm)
        self.opt.step()
        return (loss.detach(), n), correct

    @staticmethod
    def resolve(pending: tuple[Any, Any]) -> tuple[float, float | None]:
        """(sum of the per-sample losses, number correct) as Python numbers."""
        (mean, n), correct = pending
        return float(mean.item()) * n if n else 0.0, (float(correct.item()) if correct is not None else None)

    def evaluate(self, ds: Dataset, batches: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Sums of loss and correct (and per step) over ``batches`` of ``ds``, in eval mode."""
        torch = self.torch
        was = self.module.training
        self.module.eval()
        sums: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for idx in batches:
                if len(idx) == 0:
                    continue
                x, y = ds.take(idx)
                outs = self._outputs(self.module(*self._inputs(x, ds.repeat)))
                part = torch_eval(self.plan, outs[self.io.output], torch.from_numpy(y).to(self.device))
                for k, v in part.items():
                    sums[k] = sums[k] + v if k in sums else np.asarray(v, dtype=np.float64)
                sums["count"] = sums.get("count", np.float64(0)) + len(idx)
        self.module.train(was)
        return sums

    # -- state ----------------------------------------------------------------------------------------------------
    def model_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.module.state_dict().items()}

    def model_tensors(self) -> dict[str, np.ndarray]:
        return {k: to_numpy(v) for k, v in self.module.state_dict().items()}

    def load_weights(self, tensors: dict[str, np.ndarray], what: str) -> None:
        """Parameters and buffers from a checkpoint of either backend (model names only)."""
        have = model_tensors(tensors)
        # JAX keeps no BatchNorm step counter: a missing one keeps its current value
        want = {k: s for k, s in self.model_shapes().items() if k in have or not k.endswith("num_batches_tracked")}
        check_names(have, want, what)
        sd = self.module.state_dict()
        with self.torch.no_grad():
            for k, s in want.items():
                sd[k].copy_(self.torch.from_numpy(np.array(have[k])).to(sd[k].dtype))

    def checkpoint_state(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Everything needed to continue: model, optimiser, random generators."""
        torch = self.torch
        tensors = {f"model.{k}": v for k, v in self.model_tensors().items()}
        sd = self.opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, st in sd["state"].items():
            name = self.param_names[idx]
            for key, val in st.items():
                if isinstance(val, torch.Tensor):
                    tensors[f"optim.{name}.{key}"] = val.detach().cpu().numpy()
                else:
                    scalars.setdefault(name, {})[key] = val
        groups = [{k: v for k, v in g.items() if k != "params"} for g in sd["param_groups"]]
        # every rank draws its own dropout masks: keep each rank's generator state
        for rank, st in enumerate(all_gather(self.dist, torch.get_rng_state().numpy())):
            tensors["rng.torch" if rank == 0 else f"rng.torch.rank{rank}"] = st
        if self.device.type == "cuda":
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.torch_cuda.{i}"] = s.numpy()
        host, meta = host_rng_state()
        tensors.update(host)
        meta["optim"] = json.dumps({"name": self.cfg.optimizer.name, "groups": groups, "scalars": scalars})
        return tensors, meta

    def load_checkpoint(self, tensors: dict[str, np.ndarray], meta: dict[str, str], what: str) -> None:
        torch = self.torch
        self.load_weights(tensors, what)
        info = json.loads(meta.get("optim", "{}"))
        if info.get("name") != self.cfg.optimizer.name:
            raise CheckpointError(f"{what} was written with optimizer {info.get('name')!r}, this run uses "
                                  f"{self.cfg.optimizer.name!r}; resume with the same optimizer")
        state: dict[int, dict[str, Any]] = {}
        for idx, name in enumerate(self.param_names):
            st: dict[str, Any] = dict(info.get("scalars", {}).get(name, {}))
            prefix = f"optim.{name}."
            for k, v in tensors.items():
                if k.startswith(prefix) and "." not in k[len(prefix):]:
                    st[k[len(prefix):]] = torch.from_numpy(np.array(v)).to(self.device)
            if st:
                if "step" in st:
                    st["step"] = st["step"].cpu()  # torch keeps the step count on the CPU
                state[idx] = st
        groups = info.get("groups") or [{}]
        groups[0]["params"] = list(range(len(self.param_names)))
        try:
            self.opt.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{what}: the optimiser state does not fit this model: {exc}") from None
        mine = "rng.torch" if self.dist.rank == 0 else f"rng.torch.rank{self.dist.rank}"
        cuda = sorted(k for k in tensors if k.startswith("rng.torch_cuda."))
        try:
            if mine in tensors:
                torch.set_rng_state(torch.from_numpy(np.array(tensors[mine])))
            if cuda and self.device.type == "cuda":
                torch.cuda.set_rng_state_all([torch.from_numpy(np.array(tensors[k])) for k in cuda])
        except (RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{what}: its random generator state cannot be restored ({exc})") from None
        restore_host_rng(tensors, meta, what)
