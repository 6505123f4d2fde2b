"""Data for a run: read a source, fit it to the spec's inputs, split, shuffle, batch.

Everything is numpy and deterministic from the seed: the order of an epoch
depends only on (seed, epoch), so a resumed run and a sharded multi-process
run see exactly the batches an uninterrupted single-process run sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from . import sources_image, sources_table
from .augment import Augment
from .config import ImagesSpec, TableSpec
from .sources import DataError, Raw, read
from .terminals import InputInfo, ModelIO, eval_dim, symbols_in

DEFAULT_SYMBOL = 8  # synthetic data: size of a dim symbol nobody bound
SYNTHETIC_SAMPLES = 1024


@dataclass
class Dataset:
    """Samples in memory; inputs named in ``repeat`` get a time axis of that length per batch."""

    x: dict[str, np.ndarray]
    y: np.ndarray
    repeat: dict[str, int] = field(default_factory=dict)
    classes: int | None = None
    notes: list[str] = field(default_factory=list)
    augment: Any = None  # an `augment.Augment` for image inputs [N, C, H, W], or None

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The samples at ``idx`` (time repetition is left to the backend: it is free there)."""
        return {k: v[idx] for k, v in self.x.items()}, self.y[idx]

    def read(self, idx: np.ndarray, *, train: bool = False, epoch: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """`take`, then the augmentation (random parts for training only)."""
        x, y = self.take(idx)
        if self.augment is not None:
            x = {k: self.augment(v, idx, len(self), train=train, epoch=epoch) if v.ndim == 4 else v
                 for k, v in x.items()}
        return x, y

    def stream(self, batches: Sequence[np.ndarray], *, train: bool, epoch: int, first: int = 0) -> \
            Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        for k in range(first, len(batches)):
            yield self.read(batches[k], train=train, epoch=epoch)

    def subset(self, idx: np.ndarray) -> "Dataset":
        return Dataset({k: v[idx] for k, v in self.x.items()}, self.y[idx], dict(self.repeat), self.classes,
                       augment=self.augment)


def with_augment(ds: Any, cfg: Any) -> None:
    """Attach ``cfg.augment`` (checked against the image inputs) to a freshly loaded dataset."""
    if cfg.augment is None:
        return
    aug = Augment(cfg.augment, cfg.seed)
    if isinstance(ds, Dataset):
        shapes = {k: tuple(v.shape[1:]) for k, v in ds.x.items()}
        images = {k: s for k, s in shapes.items() if len(s) == 3}
        for name, shape in (images or shapes).items():
            aug.check(name, shape)
    else:
        aug.check(ds.name, ds.lay.shape)
    ds.augment = aug


def split(ds: Any, val_split: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """A seeded train/validation split (validation: ``val_split`` of the samples)."""
    n_val = int(round(len(ds) * val_split))
    if n_val == 0:
        return ds, None
    if n_val >= len(ds):
        raise DataError(f"val_split {val_split} leaves no training samples out of {len(ds)}")
    perm = np.random.default_rng([seed, 0x5EED]).permutation(len(ds))
    return ds.subset(np.sort(perm[n_val:])), ds.subset(np.sort(perm[:n_val]))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled sample order of one epoch, a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(order: np.ndarray, batch_size: int, rank: int = 0, world: int = 1) -> list[np.ndarray]:
    """This process's share of each global batch of ``batch_size`` (a strided slice, as
    DistributedSampler does), so the union over ranks is the single-process batch."""
    return [order[s: s + batch_size][rank::world] for s in range(0, len(order), batch_size)]


def load(source: str, io: ModelIO, *, loss: str, split_name: str, seed: int,
         dims: Mapping[str, int] | None = None, target: str = "y", images: ImagesSpec | None = None,
         table: TableSpec | None = None) -> "Dataset | sources_image.ImageFolder":
    """Read ``source`` and fit it to the model: the one entry point for data.

    An image folder is not read here: the result lists its files and decodes
    them batch by batch (`sources_image.ImageFolder`)."""
    dims = dict(dims or {})
    if source == "synthetic" or source.startswith("synthetic:"):
        count = source.partition(":")[2]
        if count and not count.isdigit():
            raise DataError(f"`--data {source}`: write `synthetic` or `synthetic:N` (N samples)")
        n = int(count) if count else SYNTHETIC_SAMPLES
        return synthetic(io, loss=loss, n=n, seed=seed, dims=dims, test=split_name == "test")
    if sources_table.looks_like(source):
        return fit(sources_table.read(source, table, loss), io, loss=loss, dims=dims)
    if sources_image.looks_like(source):
        if loss != "cross_entropy":
            raise DataError(f"image folder {source}: its labels are classes; use `loss: cross_entropy`")
        return sources_image.load(source, io, split=split_name, opts=images, dims=dims)
    raw = read(source, split_name, target)
    return fit(raw, io, loss=loss, dims=dims)


# -- fitting file data to the spec --------------------------------------------------------------------------

def _assign(raw: Raw, io: ModelIO) -> dict[str, np.ndarray]:
    names = list(io.inputs)
    if all(n in raw.arrays for n in names):
        return {n: raw.arrays[n] for n in names}
    if len(names) == 1 and "x" in raw.arrays:
        return {names[0]: raw.arrays["x"]}
    missing = [n for n in names if n not in raw.arrays]
    raise DataError(f"{raw.what}: no array for input(s) {', '.join(missing)} (arrays: "
                    f"{', '.join(sorted(raw.arrays)) or 'none'}); name them after the spec's inputs, or `x` "
                    "for a single input")


def _fmt(shape: tuple[object, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _bind(have: tuple[int, ...], want: tuple[object, ...], bound: dict[str, int]) -> dict[str, int] | None:
    """Bindings that make ``have`` equal ``want``, or None."""
    if len(have) != len(want):
        return None
    b = dict(bound)
    for h, w in zip(have, want):
        if isinstance(w, str) and w.isidentifier() and w not in b:
            b[w] = h
        v = eval_dim(w, b)  # type: ignore[arg-type]
        if v is None or v != h:
            return None
    return b


def _reshape(sample: tuple[int, ...], want: tuple[object, ...], bound: dict[str, int]) -> dict[str, int] | None:
    """Bindings under which ``want`` holds the same number of values as ``sample``."""
    count = int(np.prod(sample)) if sample else 1
    free = [s for s in symbols_in(want) if s not in bound]  # type: ignore[arg-type]
    if len(free) > 1:
        return None
    if not free:
        vals = [eval_dim(d, bound) for d in want]  # type: ignore[arg-type]
        return dict(bound) if None not in vals and int(np.prod(vals)) == count else None
    known = 1
    for d in want:
        v = eval_dim(d, bound)  # type: ignore[arg-type]
        if v is None:
            if d != free[0]:
                return None  # the free symbol sits inside an expression: do not solve
            continue
        known *= v
    if known == 0 or count % known:
        return None
    return {**bound, free[0]: count // known}


def _fit_input(name: str, a: np.ndarray, info: InputInfo, io: ModelIO, bound: dict[str, int],
               what: str) -> tuple[np.ndarray, int, dict[str, int]]:
    """``a`` as [N, *shape] (or [N, T, *shape]); returns (array, repeat T or 0, bindings)."""
    sample = tuple(int(d) for d in a.shape[1:])
    timed = name in io.time_inputs
    if timed and len(sample) >= 1 and sample[0] == io.steps:
        b = _bind(sample[1:], info.shape, bound)
        if b is not None:
            return a, 0, b
    b = _bind(sample, info.shape, bound)
    if b is None:
        b = _reshape(sample, info.shape, bound)
        if b is not None:
            a = a.reshape(len(a), *[eval_dim(d, b) for d in info.shape])  # type: ignore[arg-type,misc]
    if b is None:
        want = _fmt(("B", "T", *info.shape) if timed else ("B", *info.shape))
        raise DataError(f"{what}: input `{name}` has samples of shape {_fmt(sample)} "
                        f"({int(np.prod(sample)) if sample else 1} values), which does not fit the spec's "
                        f"{want}" + (f" (or {_fmt(('B', *info.shape))}, repeated over the {io.steps} steps)"
                                     if timed else ""))
    return a, (io.steps or 0) if timed else 0, b


def _convert(a: np.ndarray, info: InputInfo, name: str, what: str) -> np.ndarray:
    if info.dtype.startswith("float") or info.dtype == "bfloat16":
        if a.dtype == np.uint8:
            return (a.astype(np.float32) / 255.0)
        if not np.issubdtype(a.dtype, np.number) and a.dtype != np.bool_:
            raise DataError(f"{what}: input `{name}` holds {a.dtype} values, not numbers")
        return a.astype(np.float32 if info.dtype != "float64" else np.float64, copy=False)
    if info.dtype in ("int32", "int64"):
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.mod(a, 1) == 0):
            raise DataError(f"{what}: input `{name}` is {info.dtype} in the spec but the data has fractions")
        return a.astype(np.int64 if info.dtype == "int64" else np.int32, copy=False)
    return a.astype(np.bool_, copy=False)


def fit(raw: Raw, io: ModelIO, *, loss: str, dims: Mapping[str, int]) -> Dataset:
    """Check and shape ``raw`` for the model; every mismatch is a `DataError` before training."""
    if raw.y is None:
        raise DataError(f"{raw.what}: no targets")
    arrays = _assign(raw, io)
    bound = dict(dims)
    x: dict[str, np.ndarray] = {}
    repeat: dict[str, int] = {}
    for name, info in io.inputs.items():
        a = np.asarray(arrays[name])
        if a.ndim == 0 or len(a) != len(raw.y):
            raise DataError(f"{raw.what}: input `{name}` has {len(a) if a.ndim else 0} samples but there are "
                            f"{len(raw.y)} targets")
        a, rep, bound = _fit_input(name, a, info, io, bound, raw.what)
        x[name] = np.ascontiguousarray(_convert(a, info, name, raw.what))
        if rep:
            repeat[name] = rep
    y, classes = fit_targets(np.asarray(raw.y), io, loss, bound, raw.what)
    return Dataset(x, y, repeat, classes, list(raw.notes))


def fit_targets(y: np.ndarray, io: ModelIO, loss: str, bound: Mapping[str, int],
                what: str) -> tuple[np.ndarray, int | None]:
    """Targets checked against the supervised output: class ids for cross-entropy, values for MSE."""
    out = [eval_dim(d, bound) for d in io.out_shape]
    timed = io.steps is not None and io.out_steps == "all"
    if loss == "cross_entropy":
        classes = out[-1] if out else None
        if np.issubdtype(y.dtype, np.floating):
            if not np.all(np.mod(y, 1) == 0):
                raise DataError(f"{what}: cross_entropy needs integer class labels, the targets have fractions "
                                "(use `loss: mse` for regression)")
        elif not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{what}: cross_entropy needs integer class labels, got {y.dtype}")
        ok_shapes = [(len(y),)] + ([(len(y), io.steps)] if timed else [])
        if y.shape not in ok_shapes:
            raise DataError(f"{what}: cross_entropy needs one class label per sample (shape [N]"
                            + (", or [N, T] per step" if timed else "") + f"), the targets have shape {_fmt(y.shape)}")
        y = y.astype(np.int64)
        if classes is not None and len(y) and (y.min() < 0 or y.max() >= classes):
            raise DataError(f"{what}: labels run from {int(y.min())} to {int(y.max())} but output `{io.output}` "
                            f"has {classes} classes")
        return y, classes
    want = tuple(out)
    if None in want:
        raise DataError(f"output `{io.output}` has an unbound dim {_fmt(io.out_shape)}; bind it with --dim")
    if y.shape[1:] != want and not (timed and y.shape[1:] == (io.steps, *want)):
        y2 = y.reshape(len(y), *want) if y.size == len(y) * int(np.prod(want or (1,))) else None
        if y2 is None:
            raise DataError(f"{what}: mse targets have samples of shape {_fmt(y.shape[1:])} but output "
                            f"`{io.output}` gives {_fmt(want)} per sample")
        y = y2
    return y.astype(np.float32), None


# -- synthetic data ------------------------------------------------------------------------------------------

def synthetic(io: ModelIO, *, loss: str, n: int, seed: int, dims: Mapping[str, int], test: bool) -> Dataset:
    """Seeded random inputs with a learnable rule: targets are a fixed random linear
    function of the inputs (arg-max for classes), so a working loop shows learning.
    The rule depends on the seed only; ``test`` draws different samples."""
    bound = dict(dims)
    for info in io.inputs.values():
        for s in symbols_in(info.shape):
            bound.setdefault(s, DEFAULT_SYMBOL)
    rng = np.random.default_rng([seed, 0xDA7A, 1 if test else 0])
    x: dict[str, np.ndarray] = {}
    feats: list[np.ndarray] = []
    for name, info in io.inputs.items():
        shape = tuple(eval_dim(d, bound) for d in info.shape)
        if info.dtype.startswith("int"):
            vocab = io.vocab.get(name) or 16
            a = rng.integers(0, vocab, size=(n, *shape)).astype(np.int64 if info.dtype == "int64" else np.int32)
            counts = np.zeros((n, vocab), np.float32)
            np.add.at(counts, (np.repeat(np.arange(n), a[0].size if n else 0), a.reshape(n, -1).ravel()), 1.0)
            feats.append(counts / max(1, a[0].size if n else 1))
        elif info.dtype == "bool":
            a = rng.random((n, *shape)) < 0.5  # type: ignore[arg-type]
            feats.append(a.reshape(n, -1).astype(np.float32))
        else:
            a = rng.standard_normal((n, *shape)).astype(np.float32)  # type: ignore[arg-type]
            feats.append(a.reshape(n, -1))
        x[name] = a
    f = np.concatenate(feats, axis=1) if feats else np.zeros((n, 1), np.float32)
    rule = np.random.default_rng([seed, 0x2013])
    out = [eval_dim(d, bound) for d in io.out_shape]
    if None in out:
        raise DataError(f"output `{io.output}` has an unbound dim {_fmt(io.out_shape)}; bind it with --dim")
    width = int(np.prod(out)) if out else 1
    w = rule.standard_normal((f.shape[1], width)).astype(np.float32) / np.sqrt(f.shape[1])
    proj = f @ w
    repeat = {name: io.steps for name in io.time_inputs if io.steps}
    if loss == "cross_entropy":
        y = np.argmax(proj.reshape(n, -1, out[-1] if out else 1), axis=-1)[:, 0].astype(np.int64)
        return Dataset(x, y, repeat, out[-1] if out else None)
    return Dataset(x, np.tanh(proj).reshape(n, *out).astype(np.float32), repeat, None)  # type: ignore[misc]
