"""`modelspec predict`: a model's outputs for a data source, written to a file.

The weights are a run folder (its final ``weights.safetensors``, else its last
checkpoint), a checkpoint or a plain weights file of either backend: the
names are the same.  The model runs with the Torch backend in evaluation mode
(dropout off, BatchNorm's running statistics), in batches, over the source's
test split (``--split train`` for the other), or over a whole ``.npz`` that
has no targets at all.  Time models get the still input at every step, as in
training, and ``steps: all`` outputs keep their time axis.

* ``out.npz``: one array per spec output, ``[N, ...]``, in the data's order,
  plus ``target`` when the source has targets;
* ``out.csv``: one row per sample: ``index``, ``target`` when there is one,
  then each output flattened (``logits.0``, ``logits.1``, ...).

Exit codes as `modelspec eval`: 0 written, 2 usage or data problem, 3 weights
refused (damaged, or for another model).  `runner.predict` runs the command
with these parts.
"""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from . import checkpoint as ckpt
from . import data as data_mod
from .config import TrainConfig
from .data import batch_indices
from .sources import DataError, Raw
from .terminals import ModelIO

FORMATS = (".npz", ".csv")


def weights_file(where: str) -> str:
    """A run folder's final weights (else its last checkpoint), or the file itself."""
    if os.path.isdir(where):
        final = os.path.join(where, ckpt.WEIGHTS)
        if os.path.isfile(final):
            return final
    return ckpt.locate(where)


def dataset(source: str, io: ModelIO, cfg: TrainConfig, dims: dict[str, int], split: str) -> tuple[Any, bool]:
    """The samples to predict, and whether the source has targets (an .npz of inputs alone has none)."""
    try:
        ds = data_mod.load(source, io, loss=cfg.loss.name, split_name=split, seed=cfg.seed, dims=dims,
                           target=cfg.target, images=cfg.images, table=cfg.table)
        data_mod.with_augment(ds, cfg)  # its normalisation; the random parts are for training only
        return ds, True
    except DataError:
        if not (source.lower().endswith(".npz") and os.path.isfile(source)):
            raise
        with np.load(source, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if cfg.target in arrays or not arrays:
            raise
        n = len(next(iter(arrays.values())))
        raw = Raw(arrays, np.zeros(n, dtype=np.int64), source)
        return data_mod.fit(raw, io, loss="cross_entropy", dims=dims), False


def outputs(trainer: Any, ds: Any, batch_size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every output of the model over ``ds`` in order, in evaluation mode, and the targets."""
    torch = trainer.torch
    module = trainer.module
    module.eval()
    parts: dict[str, list[np.ndarray]] = {}
    targets: list[np.ndarray] = []
    with torch.no_grad():
        for idx in batch_indices(np.arange(len(ds)), batch_size):
            x, y = ds.take(idx)
            targets.append(np.asarray(y))
            out = trainer._outputs(module(*trainer._inputs(x, ds.repeat)))
            for name, value in out.items():
                parts.setdefault(name, []).append(value.detach().float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}, np.concatenate(targets)


def write(path: str, result: dict[str, np.ndarray], target: np.ndarray | None) -> None:
    tmp = path + ".tmp" + os.path.splitext(path)[1]
    if path.lower().endswith(".npz"):
        arrays = dict(result)
        if target is not None:
            arrays["target"] = target
        np.savez(tmp, **arrays)
    else:
        n = len(next(iter(result.values())))
        flat = {k: v.reshape(n, -1) for k, v in result.items()}
        header = ["index"] + (["target"] if target is not None else [])
        header += [f"{k}.{i}" for k, v in flat.items() for i in range(v.shape[1])]
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for i in range(n):
                row: list[object] = [i] + ([target[i].tolist()] if target is not None else [])
                for v in flat.values():
                    row += [repr(float(a)) for a in v[i]]
                w.writerow(row)
    os.replace(tmp, path)
