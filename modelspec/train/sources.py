"""Readers for the data formats `--data` accepts, each giving plain numpy arrays.

A reader knows a file format, not the model: it returns the arrays it found
(`Raw`); `data.fit` then checks and shapes them for the spec's inputs.  Every
problem raises `DataError` with a message a user can act on.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from dataclasses import dataclass, field
from typing import IO, Callable

import numpy as np

from ..exceptions import ModelspecError


class DataError(ModelspecError):
    """Data that cannot be read or does not fit the spec; printed without a traceback."""


@dataclass
class Raw:
    """Arrays as a source holds them: inputs by name (`x` when unnamed) and targets."""

    arrays: dict[str, np.ndarray]
    y: np.ndarray | None
    what: str  # for messages: "MNIST folder data/mnist (train)"
    images: bool = False
    notes: list[str] = field(default_factory=list)


def read(source: str, split: str, target: str = "y") -> Raw:
    """Read ``source`` (a file or folder; not `synthetic`), its ``split`` ("train" or "test")."""
    if "," in source:
        xs, _, ys = source.partition(",")
        return _npy_pair(xs.strip(), ys.strip())
    if not os.path.exists(source):
        raise DataError(f"data source {source!r} does not exist (a .npz/.npy file, a .csv/.tsv table, an "
                        "image folder, an MNIST or CIFAR-10 "
                        "folder, or `synthetic`)")
    if os.path.isdir(source):
        return _folder(source, split, target)
    low = source.lower()
    if low.endswith(".npz"):
        return _npz(source, target)
    if low.endswith(".npy"):
        return _npy_pair(source, _sibling_targets(source))
    raise DataError(f"data source {source!r}: unknown format (expected .npz, .npy, .csv, .tsv, an image "
                    "folder, an MNIST or CIFAR-10 folder, "
                    "or `synthetic`)")


def _npz(path: str, target: str) -> Raw:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        raise DataError(f"cannot read {path}: {exc}") from None
    if target not in arrays:
        raise DataError(f"{path} has no target array `{target}` (arrays: {', '.join(sorted(arrays)) or 'none'}); "
                        "store the targets as `y` or set `train.target`")
    y = arrays.pop(target)
    return Raw(arrays, y, f"{path}")


def _load_npy(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"cannot read {path}: {exc}") from None


def _sibling_targets(xpath: str) -> str:
    """`x.npy` -> `y.npy`, `train_x.npy` -> `train_y.npy`, `images.npy` -> `labels.npy`."""
    d, name = os.path.split(xpath)
    stem = name[:-4]
    for a, b in (("x", "y"), ("X", "Y"), ("images", "labels"), ("inputs", "targets")):
        for cand in (b if stem == a else None,
                     stem[: -len(a)] + b if stem.endswith("_" + a) else None):
            if cand and os.path.isfile(os.path.join(d, cand + ".npy")):
                return os.path.join(d, cand + ".npy")
    raise DataError(f"no targets beside {xpath}: name the pair x.npy/y.npy (or *_x.npy/*_y.npy), "
                    "or pass both: `--data X.npy,Y.npy`")


def _npy_pair(xpath: str, ypath: str) -> Raw:
    return Raw({"x": _load_npy(xpath)}, _load_npy(ypath), f"{xpath} + {ypath}")


# -- folders -----------------------------------------------------------------------------------------------

_MNIST = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _folder(path: str, split: str, target: str) -> Raw:
    names = set(os.listdir(path))
    if any(n.startswith("train-images") or n.startswith("t10k-images") for n in names):
        return _mnist(path, names, split)
    if "data_batch_1" in names or "test_batch" in names:
        return _cifar(path, names, split)
    if "cifar-10-batches-py" in names:
        return _folder(os.path.join(path, "cifar-10-batches-py"), split, target)
    npys = sorted(n for n in names if n.endswith(".npy"))
    if f"{target}.npy" in npys:
        arrays = {n[:-4]: _load_npy(os.path.join(path, n)) for n in npys if n != f"{target}.npy"}
        return Raw(arrays, _load_npy(os.path.join(path, f"{target}.npy")), f"{path}")
    raise DataError(f"{path}: not an MNIST folder (train-images-idx3-ubyte ...), a CIFAR-10 folder "
                    f"(data_batch_1 ...) or a folder of .npy arrays with {target}.npy")


def _find(path: str, names: set[str], base: str) -> str | None:
    for cand in (base, base + ".gz", base.replace("-idx", ".idx"), base.replace("-idx", ".idx") + ".gz"):
        if cand in names:
            return os.path.join(path, cand)
    return None


def _opener(path: str) -> Callable[[], IO[bytes]]:
    return (lambda: gzip.open(path, "rb")) if path.endswith(".gz") else (lambda: open(path, "rb"))


def read_idx(path: str) -> np.ndarray:
    """An IDX file (MNIST's format): magic, big-endian dims, then the data."""
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    try:
        with _opener(path)() as fh:
            head = fh.read(4)
            if len(head) != 4 or head[0] != 0 or head[1] != 0 or head[2] not in types:
                raise DataError(f"{path} is not an IDX file (bad magic number)")
            ndim = head[3]
            dims = struct.unpack(f">{ndim}I", fh.read(4 * ndim))
            dtype = np.dtype(types[head[2]])
            buf = fh.read()
    except (OSError, EOFError, struct.error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    count = int(np.prod(dims)) if dims else 1
    if len(buf) < count * dtype.itemsize:
        raise DataError(f"{path} is truncated: {len(buf)} bytes for {dims}")
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(dims).astype(dtype.newbyteorder("="))


def _mnist(path: str, names: set[str], split: str) -> Raw:
    want = split if _find(path, names, _MNIST[split][0]) else ("train" if split == "test" else "test")
    img, lab = (_find(path, names, n) for n in _MNIST[want])
    if img is None or lab is None:
        raise DataError(f"{path}: MNIST images and labels for the {split} split are missing "
                        f"(expected {_MNIST[split][0]}[.gz] and {_MNIST[split][1]}[.gz])")
    x, y = read_idx(img), read_idx(lab)
    notes = [] if want == split else [f"no {split} files in {path}; using the {want} files"]
    return Raw({"x": x}, y.astype(np.int64), f"MNIST folder {path} ({want})", images=True, notes=notes)


def _unpickle(path: str) -> dict[bytes, object]:
    try:
        with open(path, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"cannot read CIFAR batch {path}: {exc}") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"{path} is not a CIFAR-10 batch (a pickled dict with b'data' and b'labels')")
    return d


def _cifar(path: str, names: set[str], split: str) -> Raw:
    files = [f"data_batch_{i}" for i in range(1, 6) if f"data_batch_{i}" in names] if split == "train" \
        else (["test_batch"] if "test_batch" in names else [])
    notes: list[str] = []
    if not files:
        files = ["test_batch"] if split == "train" and "test_batch" in names else \
            [f"data_batch_{i}" for i in range(1, 6) if f"data_batch_{i}" in names]
        notes.append(f"no {split} batches in {path}; using {', '.join(files)}")
    xs, ys = [], []
    for f in files:
        d = _unpickle(os.path.join(path, f))
        data = np.asarray(d[b"data"], dtype=np.uint8)
        xs.append(data.reshape(len(data), 3, 32, 32))
        ys.append(np.asarray(d[b"labels"], dtype=np.int64))
    return Raw({"x": np.concatenate(xs)}, np.concatenate(ys), f"CIFAR-10 folder {path} ({split})",
               images=True, notes=notes)
