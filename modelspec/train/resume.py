"""`--resume`: open the checkpoint and decide whether this run may continue it, before any set-up.

Everything here reads the file and the checked IR only (no data, no model, no
torch), so a damaged file, bad metadata or a changed spec is refused in a
moment instead of after minutes of loading.  What can be checked:

- the file's digest (in `checkpoint.load`) and every metadata value it needs;
- what cannot be carried over at all: another backend, another optimiser,
  another batch size in the middle of an epoch, other parameter shapes;
- what can, but changes the run: the checked IR (`fingerprint.describe`) and
  the train config, data and processes (`fingerprint.config_view`).  Those are
  refused with the list of changes unless the user allows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.graph import Graph
from . import checkpoint as ckpt
from . import fingerprint as fp
from .config import TrainConfig
from .engine import Position


@dataclass
class Resume:
    """An opened, checked checkpoint to continue from."""

    path: str
    tensors: dict[str, np.ndarray]
    meta: dict[str, str]
    pos: Position
    rows: int | None  # metrics records it covers (None: an older checkpoint, cut by step)
    changes: list[str] = field(default_factory=list)  # allowed with --allow-changes, recorded


def run_meta(graph: Graph, setup: dict[str, Any]) -> dict[str, str]:
    """What every checkpoint of a run records so that a resume can compare: IR and set-up."""
    ir = fp.describe(graph)
    return {"ir": fp.canonical(ir), "ir_sha256": fp.sha256(ir), "setup": fp.canonical(setup)}


def _meta_shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    want = {**graph.param_names(), **graph.buffer_names()}
    return {k: tuple(s) for k, s in want.items() if all(isinstance(d, int) for d in s)}


def _check_meta(path: str, meta: dict[str, str]) -> None:
    """Every value a resume reads, read once here so that a bad one is refused now."""
    for key in ("batch_size", "n_train", "world"):
        if key in meta:
            ckpt.meta_int(meta, key, path)
    ckpt.meta_int(meta, "metrics_rows", path, 0)
    ckpt.meta_json(meta, "config", {}, path, dict)
    ckpt.meta_json(meta, "overrides", {}, path, dict)
    optim = ckpt.meta_json(meta, "optim", {}, path, dict)
    if not isinstance(optim.get("name"), str):
        raise ckpt.CheckpointError(f"{path}: metadata `optim` names no optimiser; the file is damaged or was not "
                                   "written by modelspec")
    for key in ("rng.python", "rng.numpy"):
        ckpt.meta_json(meta, key, [], path, list)
    for key in ("ir", "setup"):
        ckpt.meta_json(meta, key, {}, path, dict)


def open_resume(where: str, graph: Graph, cfg: TrainConfig, *, backend: str, setup: dict[str, Any], rank: int,
                world: int, allow_changes: bool) -> Resume:
    """The checkpoint ``where`` names, checked to be one this run can continue (`CheckpointError` if not)."""
    path = ckpt.locate(where)
    tensors, meta = ckpt.load(path)
    if "optim" not in meta or not ckpt.is_checkpoint(meta):
        raise ckpt.CheckpointError(f"{path} holds weights only; --resume needs a checkpoint with optimiser "
                                   f"state ({ckpt.LAST} or {ckpt.BEST} of a run folder)")
    if meta.get("backend", backend) != backend:
        raise ckpt.CheckpointError(f"{path} was written by the {meta['backend']} backend; resume with "
                                   f"--backend {meta['backend']}")
    _check_meta(path, meta)
    pos = Position.from_meta(meta, path, rank, world)
    trained_opt = ckpt.meta_json(meta, "optim", {}, path, dict)["name"]
    if trained_opt != cfg.optimizer.name:
        raise ckpt.CheckpointError(f"{path} was written with optimizer {trained_opt!r}, this run uses "
                                   f"{cfg.optimizer.name!r}; its optimiser state cannot be carried over: resume "
                                   "with the same optimizer")
    if pos.batch and int(meta.get("batch_size", cfg.batch_size)) != cfg.batch_size:
        raise ckpt.CheckpointError(f"{path} stopped inside an epoch with batch size {meta['batch_size']}; "
                                   "resume with the same --batch-size")
    ckpt.check_names(ckpt.model_tensors(tensors), {k: s for k, s in _meta_shapes(graph).items()
                                                   if not k.endswith("num_batches_tracked")}, path)
    changes = _changes(path, meta, graph, setup)
    if changes and not allow_changes:
        raise ckpt.CheckpointError(
            f"cannot resume from {path}: this run differs from the one that wrote it:\n{fp.listing(changes)}\n"
            "resume with the spec, --set values and flags it was trained with, or pass --allow-changes to go on "
            "with these changes (they are recorded in the run folder)")
    rows = ckpt.meta_int(meta, "metrics_rows", path) if "metrics_rows" in meta else None
    return Resume(path, tensors, meta, pos, rows, changes)


def _changes(path: str, meta: dict[str, str], graph: Graph, setup: dict[str, Any]) -> list[str]:
    if "ir" not in meta or "setup" not in meta:
        return [f"{path} records no fingerprint of its spec and config (written by an older modelspec): "
                "they cannot be compared"]
    old_ir = ckpt.meta_json(meta, "ir", {}, path, dict)
    old_setup = ckpt.meta_json(meta, "setup", {}, path, dict)
    return fp.graph_changes(old_ir, fp.describe(graph)) + fp.config_changes(old_setup, setup)
