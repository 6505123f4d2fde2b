"""The PyTorch side of a run: model, optimiser step, evaluation, state in and out.

`engine` drives the epochs and batches; this class does what needs torch.
Batches arrive as numpy arrays and leave as host scalars, so the engine stays
framework-free.  Under torchrun the model is wrapped in DistributedDataParallel
and the loss is weighted so that the averaged gradient equals the gradient of
the mean over the whole global batch.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator, Sequence

import numpy as np

from ..ir.graph import Graph
from ..weights import to_numpy  # handles bfloat16
from .checkpoint import CheckpointError, check_names, host_rng_state, model_tensors, restore_host_rng
from .config import ConfigError, TrainConfig
from .data import Dataset
from .distributed import Dist, all_gather, wrap_ddp
from .losses import LossPlan, torch_eval, torch_loss, torch_penalty
from .models import build_torch
from .optim import torch_optimizer
from .sources_image import ImageFolder
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
        self._lr: float | None = None  # the rate the parameter groups hold
        self._staged: dict[int, tuple[dict[str, Any], Any]] = {}  # in-memory datasets as device tensors
        self.bf16 = cfg.precision == "bf16"
        if self.bf16 and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ConfigError("`precision: bf16`: this CUDA device does not support bfloat16; use fp32")

    def _autocast(self) -> Any:
        """bfloat16 autocast of the forward pass and loss (`precision: bf16`); weights and grads stay fp32."""
        if not self.bf16:
            return contextlib.nullcontext()
        return self.torch.autocast(device_type=self.device.type, dtype=self.torch.bfloat16)

    # -- batches ------------------------------------------------------------------------------------------------
    def batches(self, ds: Any, index_lists: Sequence[np.ndarray], *, train: bool, epoch: int,
                first: int = 0, ahead: tuple[Sequence[np.ndarray], int] | None = None) -> \
            Iterator[tuple[dict[str, Any], Any]]:
        """(inputs, targets) on the device for ``index_lists[first:]``.  Samples in memory become tensors
        once and each batch is an `index_select` of them, as in a hand-written loop; anything else
        (augmented data, image folders) arrives as numpy from the dataset's `stream`.  ``ahead``: the
        next epoch's batches, which an image folder's workers may start on (`ImageFolder.stream`)."""
        torch = self.torch
        if isinstance(ds, Dataset) and ds.augment is None:
            if id(ds) not in self._staged:
                self._staged[id(ds)] = ({k: torch.from_numpy(v).to(self.device) for k, v in ds.x.items()},
                                        torch.from_numpy(ds.y).to(self.device))
            xs, ys = self._staged[id(ds)]
            for idx in index_lists[first:]:
                i = torch.from_numpy(idx).to(self.device)
                yield {k: v.index_select(0, i) for k, v in xs.items()}, ys.index_select(0, i)
            return
        if isinstance(ds, ImageFolder) and self.device.type == "cpu":
            # finished by the workers, in shared memory: the step reads the batch where it lies (the slot
            # is not reused before the next batch is requested), and the training core does no pass over it
            for x, y in ds.stream(index_lists, train=train, epoch=epoch, first=first, ahead=ahead):
                yield {k: torch.from_numpy(v) for k, v in x.items()}, torch.from_numpy(y)
            return
        if isinstance(ds, ImageFolder):  # uint8 from the workers (a quarter of the bytes to the device), scaled there
            for x, y in ds.stream(index_lists, train=train, epoch=epoch, first=first, raw=True, ahead=ahead):
                yield ({k: ds.finish_torch(torch.from_numpy(v).to(self.device, non_blocking=True), torch)
                        for k, v in x.items()}, torch.from_numpy(y).to(self.device, non_blocking=True))
            return
        for x, y in ds.stream(index_lists, train=train, epoch=epoch, first=first):
            yield ({k: torch.from_numpy(v).to(self.device, non_blocking=True) for k, v in x.items()},
                   torch.from_numpy(y).to(self.device, non_blocking=True))

    def _inputs(self, x: dict[str, Any], repeat: dict[str, int]) -> list[Any]:
        out = []
        for name in self.inputs:
            t = x[name]
            if isinstance(t, np.ndarray):
                t = self.torch.from_numpy(t).to(self.device, non_blocking=True)
            if name in repeat:
                t = t.unsqueeze(1).expand(t.shape[0], repeat[name], *t.shape[1:])
            out.append(t)
        return out

    def _outputs(self, out: Any) -> dict[str, Any]:
        return out if isinstance(out, dict) else {self.only or self.io.output: out}

    def _loss(self, x: dict[str, Any], y: Any, repeat: dict[str, int]) -> tuple[Any, Any]:
        with self._autocast():
            outs = self._outputs(self.model(*self._inputs(x, repeat)))
            if not len(y):  # this process's share of a short last batch is empty: join the all-reduce with zeros
                return sum(o.sum() for o in outs.values()) * 0.0, None
            loss, correct = torch_loss(self.plan, outs[self.io.output], y)
            pen = torch_penalty(self.plan, outs)
        return (loss if pen is None else loss + pen), correct

    def train_batch(self, x: dict[str, Any], y: Any, repeat: dict[str, int], lr: float,
                    scale: float, step: int) -> tuple[Any, Any]:
        """One optimiser step; ((mean loss, samples), number correct), not yet read.

        With `accumulate: k` the batch runs as k micro-batches whose gradients add up to the batch's
        (each loss weighted by its share of the batch).  ``step`` is unused: torch's generator state
        carries the dropout masks."""
        torch = self.torch
        if lr != self._lr:
            for group in self.opt.param_groups:
                group["lr"] = lr
            self._lr = lr
        if isinstance(y, np.ndarray):
            y = torch.from_numpy(y).to(self.device, non_blocking=True)
        n = len(y)
        factor = scale * n  # 1 unless a batch splits unevenly over processes
        self.opt.zero_grad(set_to_none=True)
        k = self.cfg.accumulate
        if k == 1 or n <= 1:
            loss, correct = self._loss(x, y, repeat)
            (loss if abs(factor - 1.0) < 1e-9 else loss * factor).backward()
        else:
            parts = [p for p in torch.tensor_split(torch.arange(n, device=self.device), k) if len(p)]
            loss, correct = None, None
            for j, part in enumerate(parts):
                last = j == len(parts) - 1
                sync = self.model.no_sync() if self.dist.active and not last else contextlib.nullcontext()
                with sync:
                    lj, cj = self._loss({a: v.index_select(0, part) if not isinstance(v, np.ndarray)
                                         else v[part.cpu().numpy()] for a, v in x.items()},
                                        y.index_select(0, part), repeat)
                    w = len(part) / n
                    (lj * (w * factor)).backward()
                loss = lj.detach() * w if loss is None else loss + lj.detach() * w
                if cj is not None:
                    correct = cj if correct is None else correct + cj
        if self.cfg.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.clip_grad_norm)
        self.opt.step()
        return (loss.detach(), n), correct

    @staticmethod
    def resolve(pending: tuple[Any, Any]) -> tuple[float, float | None]:
        """(sum of the per-sample losses, number correct) as Python numbers."""
        (mean, n), correct = pending
        return float(mean.item()) * n if n else 0.0, (float(correct.item()) if correct is not None else None)

    def resolve_many(self, pendings: list[tuple[Any, Any]]) -> list[tuple[float, float | None]]:
        """`resolve` of many steps with one host transfer (the loop's only sync point)."""
        torch = self.torch
        means = torch.stack([p[0][0].float() for p in pendings]).tolist()
        have = [p[1] for p in pendings if p[1] is not None]
        counts = iter(torch.stack(have).tolist() if have else [])
        return [(m * n if n else 0.0, float(next(counts)) if c is not None else None)
                for m, ((_, n), c) in zip(means, pendings)]

    def evaluate(self, ds: Any, batches: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Sums of loss and correct (and per step) over ``batches`` of ``ds``, in eval mode."""
        torch = self.torch
        was = self.module.training
        self.module.eval()
        sums: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for x, y in self.batches(ds, [idx for idx in batches if len(idx)], train=False, epoch=0):
                with self._autocast():
                    outs = self._outputs(self.module(*self._inputs(x, ds.repeat)))
                out = outs[self.io.output]
                part = torch_eval(self.plan, out.float() if out.dtype == torch.bfloat16 else out, y)
                for k, v in part.items():
                    sums[k] = sums[k] + v if k in sums else np.asarray(v, dtype=np.float64)
                sums["count"] = sums.get("count", np.float64(0)) + len(y)
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
