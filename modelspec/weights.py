"""Weights between backends: flat ``name -> array`` dicts (parameters and buffers) in safetensors files.

Both backends name parameters and buffers exactly as the Torch ``state_dict``
does (``layer1.0.conv1.weight``, ``bn1.running_mean``) with the same layouts,
so a file written from one loads into the other unchanged.  Everything goes
through numpy (safetensors' numpy API): torch tensors, JAX arrays and numpy
arrays are all accepted, and `load` returns numpy arrays.  Neither torch nor
jax is imported here unless a torch helper is called.

    save("model.safetensors", model.state_dict())     # Torch -> file
    params, state = jax_module.split_state_dict(load("model.safetensors"))
    save("model.safetensors", {**params, **state})      # JAX -> file
    to_torch(model, load("model.safetensors"))          # file -> Torch
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping

import numpy as np

from .exceptions import ModelspecError

__all__ = ["from_torch", "load", "metadata", "read_any", "save", "to_numpy", "to_torch", "write_any"]

PathLike = str | os.PathLike[str]


# ---- digests: every file modelspec writes carries one, checked on every load -----------

FORMAT = "modelspec-checkpoint-2"
FORMATS = ("modelspec-checkpoint-1", FORMAT)  # 1: before digests; its files load as unverified weights
DIGEST = "digest"


class CheckpointError(ModelspecError):
    """A checkpoint that cannot be read or used (damaged, or from another run); printed without a traceback."""


class CheckpointNotFound(CheckpointError):
    """``--resume``/``--checkpoint`` names nothing: a usage error rather than a bad file."""


def digest(tensors: dict[str, np.ndarray], meta: dict[str, str]) -> str:
    """sha256 over every tensor (name, dtype, shape, bytes) and every metadata item, in sorted order.

    Stored in the file's metadata and checked on every load, so that a flipped
    bit anywhere in the data is refused instead of trained on."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        h.update(json.dumps([name, arr.dtype.name, list(arr.shape)]).encode())
        h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
    for key in sorted(k for k in meta if k != DIGEST):
        h.update(json.dumps([key, meta[key]]).encode())
    return "sha256:" + h.hexdigest()


def verify(path: str, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """Refuse a file whose content does not match its stored digest."""
    stored = meta.get(DIGEST)
    if stored is None:
        if meta.get("format") == FORMAT:
            raise CheckpointError(f"{path} is damaged: a modelspec checkpoint must carry a `{DIGEST}` and this "
                                  "one has none; use another checkpoint of the run (best.safetensors) or retrain")
        return
    actual = digest(tensors, meta)
    if actual != stored:
        raise CheckpointError(f"{path} is damaged: its content does not match the sha256 digest stored when it "
                              f"was written (stored {stored[:19]}..., now {actual[:19]}...); do not use it: take "
                              "another checkpoint of the run (best.safetensors) or retrain")


def to_numpy(value: Any) -> np.ndarray:
    """A contiguous numpy array from a torch tensor, a JAX array, a numpy array or a number.

    bfloat16 survives (torch's through ml_dtypes, which JAX already depends on).
    """
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            import ml_dtypes
            import torch

            return _contiguous(t.view(torch.int16).numpy().view(ml_dtypes.bfloat16))
        return _contiguous(t.numpy())
    return _contiguous(np.asarray(value))


def _contiguous(arr: np.ndarray) -> np.ndarray:
    """C order without promoting 0-d arrays (np.ascontiguousarray would make them 1-d)."""
    return arr if arr.flags.c_contiguous else np.array(arr, order="C")


def _to_tensor(arr: np.ndarray) -> Any:
    """A torch tensor owning a copy of ``arr`` (bfloat16 through its int16 bits)."""
    import torch

    if arr.dtype.name == "bfloat16":
        return torch.from_numpy(arr.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(arr.copy())


def save(path: PathLike, params: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``name -> array`` to a safetensors file (buffers included, scalars too).

    ``metadata`` values are stored as strings; ``format: pt`` is added unless given,
    since the names and layouts are the Torch state_dict's.
    """
    from safetensors.numpy import save_file

    arrays = {str(k): to_numpy(v) for k, v in params.items()}
    meta = {"format": "pt"}
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    save_file(arrays, os.fspath(path), metadata=meta)


def load(path: PathLike) -> dict[str, np.ndarray]:
    """``name -> numpy array`` from a safetensors file (in the file's header order).

    A file modelspec's training wrote carries a digest; a mismatch raises
    `CheckpointError` rather than handing back damaged weights."""
    from safetensors.numpy import load_file

    arrays = dict(load_file(os.fspath(path)))
    meta = metadata(path)
    if DIGEST in meta:
        verify(os.fspath(path), arrays, meta)
    return arrays


def metadata(path: PathLike) -> dict[str, str]:
    """The string metadata stored in a safetensors file's header."""
    from safetensors import safe_open

    with safe_open(os.fspath(path), framework="numpy") as fh:
        return dict(fh.metadata() or {})


def from_torch(module: Any) -> dict[str, np.ndarray]:
    """A torch module's state_dict (parameters and buffers) as numpy arrays."""
    return {k: to_numpy(v) for k, v in module.state_dict().items()}


def to_torch(module: Any, params: Mapping[str, Any], strict: bool = True) -> Any:
    """Load ``params`` (numpy, JAX or torch arrays) into a torch module, in place.

    Each array is cast to the dtype of the module's own entry (JAX keeps
    ``num_batches_tracked`` as int32, torch as int64).  Returns what
    ``load_state_dict`` returns (missing and unexpected keys when not strict).
    """
    own = module.state_dict()
    tensors: dict[str, Any] = {}
    for name, value in params.items():
        t = _to_tensor(to_numpy(value))
        if name in own:
            if tuple(t.shape) != tuple(own[name].shape):
                raise ValueError(f"{name}: shape {tuple(t.shape)}, the module has {tuple(own[name].shape)}")
            t = t.to(own[name].dtype)
        tensors[name] = t
    return module.load_state_dict(tensors, strict=strict)


# ---- other file formats, for `modelspec params convert` -----------------------------

def read_any(path: PathLike) -> dict[str, np.ndarray]:
    """Read ``.safetensors``, ``.npz``, or a torch file (``.pt``/``.pth``/``.bin``/``.ckpt``).

    A torch checkpoint dict that holds the weights under ``state_dict`` or
    ``model`` is unwrapped.  Torch files are read with ``weights_only=True``.
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext == ".safetensors":
        return load(p)
    if ext == ".npz":
        with np.load(p) as z:
            return {k: z[k] for k in z.files}
    if ext in (".pt", ".pth", ".bin", ".ckpt"):
        import torch

        obj = torch.load(p, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):
            if isinstance(obj, dict) and isinstance(obj.get(key), dict):
                obj = obj[key]
        if not isinstance(obj, dict):
            raise ValueError(f"{p}: expected a state_dict (a dict of tensors), got {type(obj).__name__}")
        return {str(k): to_numpy(v) for k, v in obj.items() if hasattr(v, "shape")}
    raise ValueError(f"{p}: unknown parameter file type {ext or '(none)'}; "
                     "use .safetensors, .npz, or .pt/.pth/.bin/.ckpt")


def write_any(path: PathLike, params: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> None:
    """Write ``.safetensors`` (with metadata), ``.npz`` or a torch ``.pt``/``.pth`` state_dict."""
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext == ".safetensors":
        save(p, params, meta)
    elif ext == ".npz":
        np.savez(p, **{k: to_numpy(v) for k, v in params.items()})
    elif ext in (".pt", ".pth", ".bin"):
        import torch

        torch.save({k: _to_tensor(to_numpy(v)) for k, v in params.items()}, p)
    else:
        raise ValueError(f"{p}: unknown parameter file type {ext or '(none)'}; use .safetensors, .npz or .pt")
