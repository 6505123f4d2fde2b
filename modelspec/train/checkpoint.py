"""Checkpoints: one safetensors file holding everything a run needs to go on.

Tensor names are namespaced: ``model.<state_dict name>`` (parameters and
buffers, the names both backends share), ``optim.<...>`` (optimiser state,
flattened), ``rng.<...>`` (random generator states).  Scalars and structure go
in the string metadata: ``epoch``, ``step``, ``batch``, the resolved config,
the fingerprint of the checked IR, the number of metrics rows it covers.

Every file carries a sha256 ``digest`` of its tensors and metadata, checked on
every load: storage that flips a bit must not hand back different weights in
silence.  Writes are atomic (`storage.atomic_write`): a crash at any moment
leaves the previous file whole.
"""

from __future__ import annotations

import json
import math
import os
import random
from typing import Any

import numpy as np

from ..weights import (  # noqa: F401 - a checkpoint is a weights file with more in it
    DIGEST, FORMAT, FORMATS, CheckpointError, CheckpointNotFound, digest, verify)
from .storage import atomic_write, count_save

__all__ = ["atomic_write", "CheckpointError", "CheckpointNotFound", "save", "load", "locate", "digest"]

LAST, BEST, WEIGHTS = "last.safetensors", "best.safetensors", "weights.safetensors"


def save(path: str, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """Save a checkpoint (tensors as numpy arrays, metadata as strings) atomically, with its digest."""
    from safetensors.numpy import save as st_save

    meta = {"format": FORMAT, **{k: v for k, v in meta.items() if k != DIGEST}}
    arrays = {k: np.require(v, requirements="C") for k, v in tensors.items()}  # keeps 0-d arrays 0-d
    meta[DIGEST] = digest(arrays, meta)
    atomic_write(path, st_save(arrays, metadata=meta), fault=count_save())


def load(path: str, *, verified: bool = True) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a checkpoint (or of a plain weights file).

    A file that carries a digest must match it; a modelspec checkpoint of the
    current format must carry one.  Plain weights files (exported, converted:
    no modelspec format) have nothing to check and load as they are."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except FileNotFoundError:
        raise CheckpointNotFound(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file is a user-facing problem
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}; the file is damaged or not a "
                              "safetensors file") from None
    if verified:
        verify(path, tensors, meta)
    return tensors, meta


def is_checkpoint(meta: dict[str, str]) -> bool:
    """Written by modelspec's training loop (rather than a plain weights file)."""
    return meta.get("format", "") in FORMATS


def locate(where: str) -> str:
    """A checkpoint file from ``--resume``/``--checkpoint``: a file, or a run folder (its last)."""
    if os.path.isdir(where):
        path = os.path.join(where, LAST)
        if not os.path.isfile(path):
            raise CheckpointNotFound(f"{where} holds no {LAST}: nothing to resume from")
        return path
    if not os.path.isfile(where):
        raise CheckpointNotFound(f"checkpoint {where} does not exist (give a run folder or a .safetensors file)")
    return where


def model_tensors(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's parameters and buffers: ``model.*`` of a checkpoint, or a plain weights file."""
    inner = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    if inner:
        return inner
    return {k: v for k, v in tensors.items() if not k.startswith(("optim.", "rng."))}


def check_names(have: dict[str, np.ndarray], want: dict[str, tuple[int, ...]], what: str) -> None:
    """A clear error when a checkpoint does not match the model it is loaded into."""
    missing = [k for k in want if k not in have]
    bad = [f"{k} {tuple(have[k].shape)} vs {tuple(s)}" for k, s in want.items()
           if k in have and tuple(have[k].shape) != tuple(s)]
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if bad:
            parts.append(f"shapes differ: {', '.join(bad[:5])}")
        raise CheckpointError(f"{what} does not match this model ({'; '.join(parts)}); was it trained from "
                              "this spec with the same --set values?")


# -- metadata, read defensively: a bad value is a refused file, never a crash ---------------------------------

def _bad(path: str, key: str, value: Any, want: str) -> CheckpointError:
    shown = value if len(str(value)) <= 60 else str(value)[:57] + "..."
    return CheckpointError(f"{path}: metadata `{key}` is {shown!r}, not {want}; the file is damaged or was not "
                           "written by modelspec")


def meta_int(meta: dict[str, str], key: str, path: str, default: int | None = None) -> int:
    """A whole number >= 0 from the metadata."""
    if key not in meta:
        if default is None:
            raise CheckpointError(f"{path}: metadata `{key}` is missing; the file was not written by modelspec's "
                                  "training loop")
        return default
    value = meta[key]
    if not (isinstance(value, str) and value.isdigit() and len(value) < 19):
        raise _bad(path, key, value, "a whole number")
    return int(value)


def meta_json(meta: dict[str, str], key: str, default: Any = None, path: str = "checkpoint",
              kind: type | tuple[type, ...] | None = None) -> Any:
    """A JSON value from the metadata, of type ``kind`` when given."""
    if key not in meta:
        return default
    try:
        value = json.loads(meta[key])
    except (TypeError, ValueError):
        raise _bad(path, key, meta[key], "valid JSON") from None
    if kind is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _bad(path, key, meta[key], f"a JSON {names}")
    return value


def meta_number(meta: dict[str, str], key: str, path: str) -> float | None:
    """A finite float or null from the metadata."""
    value = meta_json(meta, key, None, path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(path, key, meta[key], "a number")
    return float(value)


# -- random generator states ----------------------------------------------------------------------------------

def host_rng_state() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Python's and numpy's global generator states as tensors plus metadata."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    tensors = {"rng.python": np.asarray(internal, dtype=np.int64), "rng.numpy": np.asarray(keys, dtype=np.uint32)}
    meta = {"rng.python": json.dumps([version, gauss]),
            "rng.numpy": json.dumps([name, int(pos), int(has_gauss), float(cached)])}
    return tensors, meta


def restore_host_rng(tensors: dict[str, np.ndarray], meta: dict[str, str], path: str = "checkpoint") -> None:
    try:
        if "rng.python" in tensors and "rng.python" in meta:
            version, gauss = json.loads(meta["rng.python"])
            random.setstate((version, tuple(int(v) for v in tensors["rng.python"]), gauss))
        if "rng.numpy" in tensors and "rng.numpy" in meta:
            name, pos, has_gauss, cached = json.loads(meta["rng.numpy"])
            np.random.set_state((name, tensors["rng.numpy"].astype(np.uint32), pos, has_gauss, cached))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its random generator state cannot be restored ({exc}); the file is "
                              "damaged or was not written by modelspec") from None


