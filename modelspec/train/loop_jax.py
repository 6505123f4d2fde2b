"""The JAX side of a run: a jitted train step (value_and_grad + optax), evaluation, state.

BatchNorm state is threaded through the step like the parameters; dropout
keys are ``fold_in(key, step)`` of a key split from the seed, so a resumed
run draws the same masks.  Parameter names are the Torch state_dict's, so a
checkpoint from either backend loads into the other.
"""

from __future__ import annotations

import json
from typing import Any

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

    def _train_step(self, params: Any, state: Any, opt_state: Any, x: dict[str, Any], y: Any, key: Any,
                    lr: Any, scale: Any, repeat: tuple[tuple[str, int], ...]) -> tuple[Any, ...]:
        import jax
        import jax.numpy as jnp
        import optax

        inputs = self._expand(x, repeat)

        def loss_fn(p: Any) -> tuple[Any, Any]:
            out, new_state = self.mod.apply(p, state, inputs, train=True, key=key)
            outs = self._outs(out)
            per, correct = jax_loss(self.plan, outs[self.io.output], y)
            pen = jax_penalty(self.plan, outs)
            if pen is not None:
                per = per + pen
            return per.sum() * scale, (new_state, per.sum(), jnp.zeros(()) if correct is None else correct)

        (_, (new_state, lsum, correct)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        opt_state.hyperparams["learning_rate"] = lr
        updates, opt_state = self.opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_state, opt_state, lsum, correct

    def _eval_step(self, params: Any, state: Any, x: dict[str, Any], y: Any,
                   repeat: tuple[tuple[str, int], ...]) -> dict[str, Any]:
        out, _ = self.mod.apply(params, state, self._expand(x, repeat), train=False)
        return jax_eval(self.plan, self._outs(out)[self.io.output], y)

    # -- batches ------------------------------------------------------------------------------------------------
    def train_batch(self, x: dict[str, np.ndarray], y: np.ndarray, repeat: dict[str, int], lr: float,
                    scale: float, step: int) -> tuple[Any, Any]:
        key = self.jax.random.fold_in(self.key, step)
        self.params, self.state, self.opt_state, lsum, correct = self._step(
            self.params, self.state, self.opt_state, x, y, key, np.float32(lr), np.float32(scale),
            repeat=tuple(sorted(repeat.items())))
        return lsum, (correct if self.plan.name == "cross_entropy" else None)

    @staticmethod
    def resolve(pending: tuple[Any, Any]) -> tuple[float, float | None]:
        loss, correct = pending
        return float(loss), (float(correct) if correct is not None else None)

    def evaluate(self, ds: Dataset, batches: list[np.ndarray]) -> dict[str, np.ndarray]:
        sums: dict[str, np.ndarray] = {}
        rep = tuple(sorted(ds.repeat.items()))
        for idx in batches:
            if len(idx) == 0:
                continue
            x, y = ds.take(idx)
            part = self._eval(self.params, self.state, x, y, repeat=rep)
            for k, v in part.items():
                v = np.asarray(v, dtype=np.float64)
                sums[k] = sums[k] + v if k in sums else v
            sums["count"] = sums.get("count", np.float64(0)) + len(idx)
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
