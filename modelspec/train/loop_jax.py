"""The JAX side of a run: a jitted train step (value_and_grad + optax), evaluation, state.

BatchNorm state is threaded through the step like the parameters; dropout
keys are ``fold_in(key, step)`` of a key split from the seed, so a resumed
run draws the same masks.  Parameter names are the Torch state_dict's, so a
checkpoint from either backend loads into the other.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence

import numpy as np

from ..ir.graph import Graph
from .checkpoint import CheckpointError, check_names, host_rng_state, model_tensors, restore_host_rng
from .config import TrainConfig
from .data import Dataset
from .distributed import Dist
from .losses import LossPlan, jax_eval, jax_loss, jax_penalty
from .models import build_jax
from .optim import optax_optimizer
from .terminals import ModelIO


class JaxTrainer:
    backend = "jax"

    def __init__(self, graph: Graph, cfg: TrainConfig, plan: LossPlan, io: ModelIO, dist: Dist,
                 *, train: bool = True) -> None:
        import jax

        self.jax = jax
        self.cfg, self.plan, self.io = cfg, plan, io
        self.mod = build_jax(graph)
        self.only = next(iter(graph.outputs)) if len(graph.outputs) == 1 else None
        init_key, self.key = jax.random.split(jax.random.PRNGKey(cfg.seed))
        self.params = self.mod.init(init_key)
        self.state = self.mod.init_state()
        self.opt = optax_optimizer(cfg)
        self.opt_state = self.opt.init(self.params) if train else None
        self._step = jax.jit(self._train_step, static_argnames=("repeat",), donate_argnums=(0, 1, 2))
        self._grads = jax.jit(self._grad_step, static_argnames=("repeat",))
        self._apply = jax.jit(self._apply_step, donate_argnums=(0, 1))
        self._eval = jax.jit(self._eval_step, static_argnames=("repeat",))

    # -- traced functions ---------------------------------------------------------------------------------------
    def _expand(self, x: dict[str, Any], repeat: tuple[tuple[str, int], ...]) -> dict[str, Any]:
        import jax.numpy as jnp

        out = dict(x)
        for name, T in repeat:
            a = out[name]
            out[name] = jnp.broadcast_to(a[:, None], (a.shape[0], T, *a.shape[1:]))
        return out

    def _outs(self, out: Any) -> dict[str, Any]:
        return out if isinstance(out, dict) else {self.only or self.io.output: out}

    def _grad_step(self, params: Any, state: Any, x: dict[str, Any], y: Any, key: Any, scale: Any,
                   repeat: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
        """(grads of the loss sum times ``scale``, new BatchNorm state, loss sum, number correct)."""
        import jax
        import jax.numpy as jnp

        inputs = self._expand(x, repeat)
        bf16 = self.cfg.precision == "bf16"

        def loss_fn(p: Any) -> tuple[Any, Any]:
            if bf16:  # compute in bfloat16 from fp32 master weights; the loss is taken in fp32
                p = jax.tree_util.tree_map(lambda a: a.astype(jnp.bfloat16) if a.dtype == jnp.float32 else a, p)
                ins = {k: v.astype(jnp.bfloat16) if v.dtype == jnp.float32 else v for k, v in inputs.items()}
            else:
                ins = inputs
            out, new_state = self.mod.apply(p, state, ins, train=True, key=key)
            outs = self._outs(out)
            if bf16:
                outs = {k: v.astype(jnp.float32) if v.dtype == jnp.bfloat16 else v for k, v in outs.items()}
                new_state = jax.tree_util.tree_map(lambda new, old: new.astype(old.dtype), new_state, state)
            per, correct = jax_loss(self.plan, outs[self.io.output], y)
            pen = jax_penalty(self.plan, outs)
            if pen is not None:
                per = per + pen
            return per.sum() * scale, (new_state, per.sum(), jnp.zeros(()) if correct is None else correct)

        (_, (new_state, lsum, correct)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        return grads, new_state, lsum, correct

    def _apply_step(self, params: Any, opt_state: Any, grads: Any, lr: Any) -> tuple[Any, Any]:
        import optax

        opt_state.hyperparams["learning_rate"] = lr
        updates, opt_state = self.opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    def _train_step(self, params: Any, state: Any, opt_state: Any, x: dict[str, Any], y: Any, key: Any,
                    lr: Any, scale: Any, repeat: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
        grads, new_state, lsum, correct = self._grad_step(params, state, x, y, key, scale, repeat)
        params, opt_state = self._apply_step(params, opt_state, grads, lr)
        return params, new_state, opt_state, lsum, correct

    def _eval_step(self, params: Any, state: Any, x: dict[str, Any], y: Any,
                   repeat: tuple[tuple[str, int], ...]) -> dict[str, Any]:
        out, _ = self.mod.apply(params, state, self._expand(x, repeat), train=False)
        return jax_eval(self.plan, self._outs(out)[self.io.output], y)

    # -- batches ------------------------------------------------------------------------------------------------
    def batches(self, ds: Any, index_lists: Sequence[np.ndarray], *, train: bool, epoch: int,
                first: int = 0, ahead: tuple[Sequence[np.ndarray], int] | None = None) -> \
            Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """numpy (inputs, targets) for ``index_lists[first:]``: from memory, or the dataset's `stream`
        (the image folder's DataLoader workers, augmentation)."""
        if isinstance(ds, Dataset) and ds.augment is None:
            return (ds.take(idx) for idx in index_lists[first:])
        if ahead is not None and not isinstance(ds, Dataset):  # an image folder: workers go on into the next epoch
            return ds.stream(index_lists, train=train, epoch=epoch, first=first, ahead=ahead)
        return ds.stream(index_lists, train=train, epoch=epoch, first=first)

    def train_batch(self, x: dict[str, np.ndarray], y: np.ndarray, repeat: dict[str, int], lr: float,
                    scale: float, step: int) -> tuple[Any, Any]:
        """One optimiser step, dispatched; with `accumulate: k`, k micro-batches' gradients summed first
        (each scaled by the whole batch, so the sum is the batch's gradient)."""
        jax = self.jax
        key = jax.random.fold_in(self.key, step)
        rep = tuple(sorted(repeat.items()))
        k = self.cfg.accumulate
        if k == 1 or len(y) <= 1:
            self.params, self.state, self.opt_state, lsum, correct = self._step(
                self.params, self.state, self.opt_state, x, y, key, np.float32(lr), np.float32(scale), repeat=rep)
        else:
            grads = lsum = correct = None
            for j, part in enumerate(p for p in np.array_split(np.arange(len(y)), k) if len(p)):
                g, self.state, lj, cj = self._grads(self.params, self.state, {a: v[part] for a, v in x.items()},
                                                    y[part], jax.random.fold_in(key, j), np.float32(scale),
                                                    repeat=rep)
                grads = g if grads is None else jax.tree_util.tree_map(lambda a, b: a + b, grads, g)
                lsum, correct = (lj, cj) if lsum is None else (lsum + lj, correct + cj)
            self.params, self.opt_state = self._apply(self.params, self.opt_state, grads, np.float32(lr))
        return lsum, (correct if self.plan.name == "cross_entropy" else None)

    @staticmethod
    def resolve(pending: tuple[Any, Any]) -> tuple[float, float | None]:
        loss, correct = pending
        return float(loss), (float(correct) if correct is not None else None)

    def resolve_many(self, pendings: list[tuple[Any, Any]]) -> list[tuple[float, float | None]]:
        """`resolve` of many steps with one device-to-host transfer."""
        host = self.jax.device_get(pendings)
        return [(float(loss), float(c) if c is not None else None) for loss, c in host]

    def evaluate(self, ds: Any, batches: list[np.ndarray]) -> dict[str, np.ndarray]:
        sums: dict[str, np.ndarray] = {}
        rep = tuple(sorted(ds.repeat.items()))
        for x, y in self.batches(ds, [idx for idx in batches if len(idx)], train=False, epoch=0):
            part = self._eval(self.params, self.state, x, y, repeat=rep)
            for k, v in part.items():
                v = np.asarray(v, dtype=np.float64)
                sums[k] = sums[k] + v if k in sums else v
            sums["count"] = sums.get("count", np.float64(0)) + len(y)
        return sums

    # -- state ----------------------------------------------------------------------------------------------------
    def model_shapes(self) -> dict[str, tuple[int, ...]]:
        return {**{k: tuple(np.shape(v)) for k, v in self.params.items()},
                **{k: tuple(np.shape(v)) for k, v in self.state.items()}}

    def model_tensors(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in {**self.params, **self.state}.items()}

    def load_weights(self, tensors: dict[str, np.ndarray], what: str) -> None:
        import jax.numpy as jnp

        have = model_tensors(tensors)
        check_names(have, self.model_shapes(), what)
        self.params = {k: jnp.asarray(np.asarray(have[k]), dtype=v.dtype) for k, v in self.params.items()}
        self.state = {k: jnp.asarray(np.asarray(have[k]), dtype=v.dtype) for k, v in self.state.items()}

    def _opt_leaves(self) -> tuple[list[str], list[Any], Any]:
        flat, treedef = self.jax.tree_util.tree_flatten_with_path(self.opt_state)
        names = [f"optim.{self.jax.tree_util.keystr(path)}" for path, _ in flat]
        return names, [leaf for _, leaf in flat], treedef

    def checkpoint_state(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        tensors = {f"model.{k}": v for k, v in self.model_tensors().items()}
        names, leaves, _ = self._opt_leaves()
        tensors.update({n: np.asarray(v) for n, v in zip(names, leaves)})
        tensors["rng.jax_key"] = np.asarray(self.key)
        host, meta = host_rng_state()
        tensors.update(host)
        meta["optim"] = json.dumps({"name": self.cfg.optimizer.name, "leaves": names})
        return tensors, meta

    def load_checkpoint(self, tensors: dict[str, np.ndarray], meta: dict[str, str], what: str) -> None:
        import jax.numpy as jnp

        self.load_weights(tensors, what)
        info = json.loads(meta.get("optim", "{}"))
        names, leaves, treedef = self._opt_leaves()
        missing = [n for n, old in zip(names, leaves) if n not in tensors or np.shape(tensors[n]) != np.shape(old)]
        if info.get("name") != self.cfg.optimizer.name or missing:
            raise CheckpointError(f"{what}: its optimiser state ({info.get('name')!r}) does not fit this run's "
                                  f"{self.cfg.optimizer.name!r}; resume with the same optimizer and backend")
        restored = [jnp.asarray(np.asarray(tensors[n]), dtype=jnp.asarray(old).dtype) for n, old in zip(names, leaves)]
        self.opt_state = self.jax.tree_util.tree_unflatten(treedef, restored)
        if "rng.jax_key" in tensors:
            key = np.asarray(tensors["rng.jax_key"])
            if key.shape != np.shape(self.key):
                raise CheckpointError(f"{what}: its JAX random key has shape {key.shape}, not {np.shape(self.key)}")
            self.key = jnp.asarray(key, dtype=jnp.uint32)
        restore_host_rng(tensors, meta, what)
