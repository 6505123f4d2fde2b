"""Checkpoints: one safetensors file holding everything a run needs to go on.

Tensor names are namespaced: ``model.<state_dict name>`` (parameters and
buffers, the names both backends share), ``optim.<...>`` (optimiser state,
flattened), ``rng.<...>`` (random generator states).  Scalars and structure go
in the string metadata: ``epoch``, ``step``, ``batch``, the resolved config.

Writes are atomic: a temporary file in the same folder is written, flushed
and fsynced, then renamed over the target with `os.replace`, and the folder is
fsynced; a crash at any moment leaves the previous file whole.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from typing import Any

import numpy as np

FORMAT = "modelspec-checkpoint-1"
LAST, BEST, WEIGHTS = "last.safetensors", "best.safetensors", "weights.safetensors"
_KILL_ENV = "MODELSPEC_TEST_KILL_DURING_SAVE"  # test hook: SIGKILL half-way through the Nth checkpoint
_saves = 0


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


_MODE = 0o666 & ~_umask()  # mkstemp makes 0600 files; results should be readable like any other


class CheckpointError(Exception):
    """A checkpoint that cannot be found, read or used; printed without a traceback."""


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported here (e.g. Windows): the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, *, _die_midway: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _MODE)
        with os.fdopen(fd, "wb") as fh:
            if _die_midway:
                fh.write(data[: len(data) // 2])
                fh.flush()
                os.kill(os.getpid(), 9)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def save(path: str, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """Save a checkpoint (tensors as numpy arrays, metadata as strings) atomically."""
    from safetensors.numpy import save as st_save

    global _saves
    _saves += 1
    meta = {"format": FORMAT, **meta}
    arrays = {k: np.require(v, requirements="C") for k, v in tensors.items()}  # keeps 0-d arrays 0-d
    kill_at = os.environ.get(_KILL_ENV, "")
    atomic_write(path, st_save(arrays, metadata=meta), _die_midway=kill_at.isdigit() and int(kill_at) == _saves)


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a checkpoint (or of a plain weights file)."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file is a user-facing problem
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    return tensors, meta


def locate(where: str) -> str:
    """A checkpoint file from ``--resume``/``--checkpoint``: a file, or a run folder (its last)."""
    if os.path.isdir(where):
        path = os.path.join(where, LAST)
        if not os.path.isfile(path):
            raise CheckpointError(f"{where} holds no {LAST}: nothing to resume from")
        return path
    if not os.path.isfile(where):
        raise CheckpointError(f"checkpoint {where} does not exist (give a run folder or a .safetensors file)")
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


# -- random generator states ----------------------------------------------------------------------------------

def host_rng_state() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Python's and numpy's global generator states as tensors plus metadata."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    tensors = {"rng.python": np.asarray(internal, dtype=np.int64), "rng.numpy": np.asarray(keys, dtype=np.uint32)}
    meta = {"rng.python": json.dumps([version, gauss]),
            "rng.numpy": json.dumps([name, int(pos), int(has_gauss), float(cached)])}
    return tensors, meta


def restore_host_rng(tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    if "rng.python" in tensors and "rng.python" in meta:
        version, gauss = json.loads(meta["rng.python"])
        random.setstate((version, tuple(int(v) for v in tensors["rng.python"]), gauss))
    if "rng.numpy" in tensors and "rng.numpy" in meta:
        name, pos, has_gauss, cached = json.loads(meta["rng.numpy"])
        np.random.set_state((name, tensors["rng.numpy"].astype(np.uint32), pos, has_gauss, cached))


def meta_json(meta: dict[str, str], key: str, default: Any = None) -> Any:
    return json.loads(meta[key]) if key in meta else default
