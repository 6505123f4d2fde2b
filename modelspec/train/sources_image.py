"""An image folder as training data: one sub-folder per class, decoded with Pillow as batches are needed.

    root/cat/001.png  root/cat/002.jpg  root/dog/...       (or root/train/<class>/..., root/test/<class>/...)

Class names are sorted; their positions are the labels.  Nothing is held in
memory but the file list: each batch is read, converted to the spec's
channels, resized to its `[C, H, W]` and scaled to [0, 1] when it is needed,
in the worker processes of a torch DataLoader (`train.images.workers`; 0 reads
in the main process).  The loader yields numpy arrays, so the JAX trainer is
fed by the same code.  Every file of a class folder must be an image
(dot-files aside): a stray file, an empty class folder or an image Pillow
cannot decode is a `DataError` naming the file, never a file skipped.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from .augment import Augment
from .config import ImagesSpec
from .sources import DataError
from .terminals import ModelIO, eval_dim

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SPLITS = {"train": ("train",), "test": ("test", "val", "valid", "validation")}


def looks_like(path: str) -> bool:
    """A folder whose entries are (mostly) sub-folders: a class-per-folder image tree."""
    if not os.path.isdir(path):
        return False
    names = [n for n in os.listdir(path) if not n.startswith(".")]
    if any(n.endswith(".npy") or n.startswith(("train-images", "t10k-images", "data_batch_", "test_batch"))
           or n == "cifar-10-batches-py" for n in names):
        return False
    return not names or any(os.path.isdir(os.path.join(path, n)) for n in names)


def _pil() -> Any:
    try:
        from PIL import Image  # lazy: Pillow is in the `train` extra, needed only for image folders
    except ImportError:
        raise DataError("reading an image folder needs Pillow: pip install 'modelspec[train]'") from None
    return Image


def scan(root: str, split: str) -> tuple[str, list[str], list[str], np.ndarray, list[str]]:
    """(folder used, class names, files, labels, notes) of ``root`` for ``split`` ("train" or "test")."""
    notes: list[str] = []
    base = root
    subdirs = sorted(n for n in os.listdir(root) if not n.startswith(".") and os.path.isdir(os.path.join(root, n)))
    named = {s: next((n for n in subdirs if n.lower() in SPLITS[s]), None) for s in SPLITS}
    if named["train"] is not None:  # root/train/<class>, root/test/<class>
        pick = named[split] or named["train"]
        if named[split] is None:
            notes.append(f"no {split} folder in {root}; using {pick}/")
        base = os.path.join(root, pick)
    entries = sorted(n for n in os.listdir(base) if not n.startswith("."))
    strays = [n for n in entries if not os.path.isdir(os.path.join(base, n))]
    if strays:
        raise DataError(f"{os.path.join(base, strays[0])}: an image folder holds one sub-folder per class, and "
                        "nothing else at its top level")
    if not entries:
        raise DataError(f"image folder {base} is empty: make one sub-folder of images per class")
    files: list[str] = []
    labels: list[int] = []
    for k, cls in enumerate(entries):
        folder = os.path.join(base, cls)
        found = 0
        for dirpath, dirnames, names in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for n in sorted(names):
                if n.startswith("."):
                    continue
                p = os.path.join(dirpath, n)
                if not n.lower().endswith(EXTENSIONS):
                    raise DataError(f"{p}: not an image ({', '.join(EXTENSIONS)}); every file in a class folder "
                                    "must be an image")
                files.append(p)
                labels.append(k)
                found += 1
        if not found:
            raise DataError(f"{folder}: class folder `{cls}` has no images")
    return base, entries, files, np.asarray(labels, dtype=np.int64), notes


def _check_headers(image: Any, files: Sequence[str]) -> tuple[int, int, str]:
    """Open every file's header (cheap: no pixels are decoded); (width, height, mode) of the first."""
    first: tuple[int, int, str] | None = None
    for p in files:
        try:
            with image.open(p) as im:
                if first is None:
                    first = (im.size[0], im.size[1], im.mode)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's, named
            raise DataError(f"{p}: cannot read the image ({type(exc).__name__}: {exc})") from None
    assert first is not None
    return first


@dataclass(frozen=True)
class Layout:
    """How one sample is shaped for the spec's input: channels, size, and the array's shape."""

    channels: int
    height: int
    width: int
    shape: tuple[int, ...]  # [C, H, W], [H, W] (grey) or [C*H*W] (flat)


def layout(name: str, spec_shape: tuple[Any, ...], opts: ImagesSpec, first: tuple[int, int, str],
           dims: dict[str, int], what: str) -> Layout:
    vals = [eval_dim(d, dims) for d in spec_shape]
    w0, h0, mode = first
    if len(vals) == 3:
        c, h, w = vals
        c = opts.channels or c or (1 if mode in ("L", "1", "I", "F", "I;16") else 3)
        if opts.size:
            h, w = opts.size
        h, w = h or h0, w or w0
        if vals[0] not in (None, c) or c not in (1, 3):
            raise DataError(f"{what}: input `{name}` takes {vals[0]} channels; images give 1 (grey) or 3 (RGB)")
        if (vals[1] not in (None, h)) or (vals[2] not in (None, w)):
            raise DataError(f"{what}: `train.images.size: [{h}, {w}]` does not fit input `{name}` "
                            f"[{', '.join(map(str, spec_shape))}]")
        return Layout(c, h, w, (c, h, w))
    if len(vals) == 2:
        h, w = opts.size or (vals[0] or h0, vals[1] or w0)
        if opts.channels == 3 or (vals[0] not in (None, h)) or (vals[1] not in (None, w)):
            raise DataError(f"{what}: input `{name}` [{', '.join(map(str, spec_shape))}] takes grey images "
                            f"[H, W]; set `train.images.size` to its size")
        return Layout(1, h, w, (h, w))
    if len(vals) == 1:
        c = opts.channels or 1
        h, w = opts.size or (h0, w0)
        if vals[0] is not None and vals[0] != c * h * w:
            raise DataError(f"{what}: input `{name}` takes {vals[0]} values per sample; {h}x{w} images with {c} "
                            "channel(s) give " f"{c * h * w}: set `train.images.size` and `channels`")
        return Layout(c, h, w, (c * h * w,))
    raise DataError(f"{what}: input `{name}` [{', '.join(map(str, spec_shape))}] cannot take images "
                    "([C, H, W], [H, W] or a flat [N])")


def decode(image: Any, path: str, lay: Layout) -> np.ndarray:
    """One file as float32 in [0, 1], shaped per ``lay``; a `DataError` naming it when Pillow fails."""
    try:
        with image.open(path) as im:
            im = im.convert("L" if lay.channels == 1 else "RGB")
            if im.size != (lay.width, lay.height):
                im = im.resize((lay.width, lay.height), image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: cannot decode the image ({type(exc).__name__}: {exc})") from None
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return (a.astype(np.float32) * np.float32(1 / 255)).reshape(lay.shape)


@dataclass
class ImageFolder:
    """A dataset read from disk batch by batch; the interface of `data.Dataset` plus `stream`."""

    name: str  # the spec input the images feed
    files: list[str]
    y: np.ndarray
    lay: Layout
    class_names: list[str]
    workers: int = 2
    repeat: dict[str, int] = field(default_factory=dict)
    classes: int | None = None
    notes: list[str] = field(default_factory=list)
    augment: Augment | None = None
    _dl: Any = field(default=None, repr=False, compare=False)  # the persistent DataLoader, made on first use

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> "ImageFolder":
        return ImageFolder(self.name, [self.files[i] for i in idx], self.y[idx], self.lay, self.class_names,
                           self.workers, dict(self.repeat), self.classes, [], self.augment)

    def read(self, idx: np.ndarray, *, train: bool = False, epoch: int = 0) -> \
            tuple[dict[str, np.ndarray], np.ndarray]:
        """The samples at ``idx``, decoded (and augmented for training)."""
        image = _pil()
        x = np.stack([decode(image, self.files[i], self.lay) for i in idx]) if len(idx) else \
            np.zeros((0, *self.lay.shape), np.float32)
        if self.augment is not None and len(self.lay.shape) == 3:
            x = self.augment(x, idx, len(self), train=train, epoch=epoch)
        return {self.name: x}, self.y[idx]

    def take(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return self.read(idx)

    def stream(self, batches: Sequence[np.ndarray], *, train: bool, epoch: int, first: int = 0) -> \
            Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """Batches ``batches[first:]`` in order, decoded by ``workers`` DataLoader processes ahead of use.

        The workers persist over the epochs of a run (one loader per dataset): each request carries its
        sample indices, so a worker needs nothing but the file list it started with."""
        todo = [(batches[k], train, epoch) for k in range(first, len(batches))]
        if self.workers == 0 or len(todo) <= 1:
            for idx, _, _ in todo:
                yield self.read(idx, train=train, epoch=epoch)
            return
        loader, sampler = self._loader()
        sampler.items = todo
        for item in loader:
            if isinstance(item, str):  # a worker's DataError, re-raised here without the worker's traceback
                raise DataError(item)
            yield item

    def _loader(self) -> tuple[Any, "_Requests"]:
        if self._dl is None:
            import torch.utils.data as tud  # lazy: torch's DataLoader runs the decoding workers

            sampler = _Requests()
            # JAX's threads do not survive fork(): under the JAX backend workers start from a fork server
            ctx = "forkserver" if "jax" in sys.modules and sys.platform != "win32" else None
            plain = ImageFolder(self.name, self.files, self.y, self.lay, self.class_names, 0, {}, self.classes,
                                [], self.augment)
            loader = tud.DataLoader(_Batches(plain), batch_size=None, sampler=sampler, num_workers=self.workers,
                                    collate_fn=_same, prefetch_factor=4, persistent_workers=True,
                                    multiprocessing_context=ctx)
            self._dl = (loader, sampler)
        return self._dl


def _same(item: Any) -> Any:
    return item


class _Requests:
    """The sampler of the persistent loader: this epoch's (indices, train, epoch) requests, set per stream."""

    items: list[Any] = []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class _Batches:
    """Map-style dataset of whole batches: a worker decodes and augments the samples a request names."""

    def __init__(self, ds: ImageFolder) -> None:
        self.ds = ds

    def __getitem__(self, request: Any) -> Any:
        idx, train, epoch = request
        try:
            return self.ds.read(idx, train=train, epoch=epoch)
        except DataError as exc:
            return str(exc)


def load(root: str, io: ModelIO, *, split: str, opts: ImagesSpec | None, dims: dict[str, int]) -> ImageFolder:
    """The image folder ``root`` checked against the model's single input and its classes."""
    opts = opts or ImagesSpec()
    if len(io.inputs) != 1:
        raise DataError(f"image folder {root}: the model has {len(io.inputs)} inputs; an image folder feeds one")
    name, info = next(iter(io.inputs.items()))
    if not info.dtype.startswith("float") and info.dtype != "bfloat16":
        raise DataError(f"image folder {root}: input `{name}` is {info.dtype}; images need a float input")
    base, names, files, labels, notes = scan(root, split)
    first = _check_headers(_pil(), files)
    what = f"image folder {base}"
    lay = layout(name, info.shape, opts, first, dims, what)
    repeat = {name: io.steps} if io.steps and name in io.time_inputs else {}
    classes = [eval_dim(d, dims) for d in io.out_shape]
    k = classes[-1] if classes else None
    if k is not None and len(names) > k:
        raise DataError(f"{what} has {len(names)} classes ({', '.join(names[:5])}{' ...' if len(names) > 5 else ''}) "
                        f"but output `{io.output}` has {k}")
    notes.append(f"{what}: {len(files)} images in {len(names)} classes ({', '.join(names[:8])}"
                 f"{' ...' if len(names) > 8 else ''}), read as [{', '.join(map(str, lay.shape))}]")
    return ImageFolder(name, files, labels, lay, names, opts.workers, repeat, k, notes)
