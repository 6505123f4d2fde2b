"""An image folder as training data: one sub-folder per class, decoded with Pillow as batches are needed.

    root/cat/001.png  root/cat/002.jpg  root/dog/...       (or root/train/<class>/..., root/test/<class>/...)

Class names are sorted; their positions are the labels.  Nothing is held in
memory but the file list: each batch is read, converted to the spec's
channels, resized to its `[C, H, W]`, cropped and flipped (training) as uint8
in the worker processes of a torch DataLoader (`train.images.workers`; 0
reads in the main process), which write it into a shared-memory slot; the
training side scales it to [0, 1] and normalises it in one pass (`finish`,
`finish_torch`).  The workers persist over the run and work on into the next
epoch.  The stream yields numpy arrays, so the JAX trainer is fed by the same
code.  Every file of a class folder must be an image (dot-files aside): a
stray file, an empty class folder or an image Pillow cannot decode is a
`DataError` naming the file, never a file skipped.
"""

from __future__ import annotations

from io import BytesIO
import os
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterator, Sequence

import numpy as np

from . import png_read
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
    """One file's pixels as uint8 [H, W] (grey) or [H, W, 3]; a `DataError` naming it when Pillow fails.

    A JPEG at least twice the size asked for is decoded at a reduced scale (`Image.draft`: libjpeg's
    1/2, 1/4 or 1/8 DCT scaling, never below the size asked for) before the bilinear resize, which skips
    most of the decoding of large photos."""
    mode = "L" if lay.channels == 1 else "RGB"
    size = (lay.width, lay.height)
    try:
        with open(path, "rb", buffering=0) as fh:  # one unbuffered read; Pillow then parses from memory
            data = fh.readall()
        im = png_read.read(image, data)  # a plain PNG without Image.open; None for anything else
        with im if im is not None else _open(image, data, path) as im:
            if im.format == "JPEG" and im.size[0] >= 2 * size[0] and im.size[1] >= 2 * size[1]:
                im.draft(im.mode, size)
            if im.mode != mode:
                im = im.convert(mode)
            if im.size != size:
                im = im.resize(size, image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: cannot decode the image ({type(exc).__name__}: {exc})") from None


_FORMATS: dict[str, tuple[str, ...]] = {}  # file extension -> the Pillow format it names


def _open(image: Any, data: bytes, path: str) -> Any:
    """Pillow's image of ``data``, asking first the format the file's extension names.

    Unrestricted, `Image.open` offers the bytes to every registered format's check in
    turn, a third of the time a 32x32 PNG takes.  A file whose contents are not what its
    extension says (a JPEG named .png) is still opened: then every format is tried."""
    if not _FORMATS:
        _FORMATS.update((ext, (fmt,)) for ext, fmt in image.registered_extensions().items())
    first = _FORMATS.get(os.path.splitext(path)[1].lower())
    if first is not None:
        try:
            return image.open(BytesIO(data), formats=first)
        except image.UnidentifiedImageError:
            pass
    return image.open(BytesIO(data))


def _lower_priority(nice: int, worker_id: int) -> None:
    """A DataLoader worker's start (`images.nice`): decode at a lower scheduling priority than the
    training step, so that where cores are few the step runs first and the workers take the time it
    leaves, instead of the two halves of one pipeline taking turns on a core."""
    try:
        os.nice(nice)
    except (AttributeError, OSError):  # no os.nice (Windows), or not permitted: run as the parent does
        pass


#: what a stream asks the workers for: (sample indices, training?, epoch)
Request = tuple[np.ndarray, bool, int]


@dataclass
class ImageFolder:
    """A dataset read from disk batch by batch; the interface of `data.Dataset` plus `stream`.

    Workers decode into uint8 batches (crop and flip included) and the training side scales them to
    float (`finish`, `finish_torch`): a quarter of the bytes between processes, and one vectorised
    pass where the step runs instead of one per image in the workers."""

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
    nice: int = 0  # added to the workers' niceness (`images.nice`)
    _dl: Any = field(default=None, repr=False, compare=False)  # the persistent DataLoader, made on first use
    _live: Any = field(default=None, repr=False, compare=False)  # its open iterator: [iterator, requests, consumed]
    _stats: Any = field(default=None, repr=False, compare=False)  # normalisation tensors per device

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> "ImageFolder":
        return ImageFolder(self.name, [self.files[i] for i in idx], self.y[idx], self.lay, self.class_names,
                           self.workers, dict(self.repeat), self.classes, [], self.augment, self.nice)

    def read_raw(self, idx: np.ndarray, *, train: bool = False, epoch: int = 0) -> \
            tuple[dict[str, np.ndarray], np.ndarray]:
        """The samples at ``idx`` as uint8, cropped and flipped for training: what a worker sends."""
        image, lay = _pil(), self.lay
        grey = lay.channels == 1
        buf = np.empty((len(idx), lay.height, lay.width) + (() if grey else (3,)), np.uint8)
        for j, i in enumerate(idx):
            buf[j] = decode(image, self.files[i], lay)
        x = buf[:, None] if grey else buf.transpose(0, 3, 1, 2)
        if self.augment is not None and len(lay.shape) == 3:
            x = self.augment.geometry(x, idx, len(self), train=train, epoch=epoch)
        return {self.name: np.ascontiguousarray(x).reshape(len(idx), *lay.shape)}, self.y[idx]

    def _normalises(self) -> bool:
        return self.augment is not None and self.augment.spec.normalize is not None and len(self.lay.shape) == 3

    def finish(self, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """uint8 batches from `read_raw` as float32 in [0, 1], normalised (`augment.normalize`)."""
        f = x[self.name].astype(np.float32) * np.float32(1 / 255)
        if self._normalises():
            assert self.augment is not None
            f = self.augment.normalise(f)
        return {self.name: f}

    def finish_torch(self, t: Any, torch: Any) -> Any:
        """`finish` of a uint8 tensor, on its device: the same float32 operations, so the same values."""
        f = t.mul(1 / 255)  # uint8 times a float scalar: float32, as x.astype(float32) * float32(1/255)
        if self._normalises():
            assert self.augment is not None
            if self._stats is None or self._stats[0] != f.device:
                mean, std = self.augment.stats(self.lay.channels)
                self._stats = (f.device, torch.from_numpy(mean).to(f.device), torch.from_numpy(std).to(f.device))
            f = f.sub_(self._stats[1]).div_(self._stats[2])
        return f

    def read(self, idx: np.ndarray, *, train: bool = False, epoch: int = 0) -> \
            tuple[dict[str, np.ndarray], np.ndarray]:
        """The samples at ``idx``, decoded (and augmented for training), as float32."""
        if not len(idx):
            return {self.name: np.zeros((0, *self.lay.shape), np.float32)}, self.y[idx]
        x, y = self.read_raw(idx, train=train, epoch=epoch)
        return self.finish(x), y

    def take(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return self.read(idx)

    def stream(self, batches: Sequence[np.ndarray], *, train: bool, epoch: int, first: int = 0,
               raw: bool = False, ahead: tuple[Sequence[np.ndarray], int] | None = None) -> \
            Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """Batches ``batches[first:]`` in order, decoded by ``workers`` DataLoader processes ahead of use;
        uint8 (`read_raw`) with ``raw``, else finished float32 (scaled and normalised by the workers too, so
        a CPU training step gets its batch without a pass over it).  From the workers a batch is a view
        of a shared slot, valid until the next one is requested.

        The workers persist over the epochs of a run (one loader per dataset): each request carries its
        sample indices, so a worker needs nothing but the file list it started with.  ``ahead`` (the next
        epoch's batches and its number) is queued behind this epoch's, so the workers decode across the
        epoch boundary and the next epoch does not start by waiting for its first batch."""
        todo: list[Request] = [(batches[k], train, epoch) for k in range(first, len(batches))]
        later: list[Request] = [(b, train, ahead[1]) for b in ahead[0]] if ahead else []
        if self.workers == 0 or (len(todo) <= 1 and not later):
            for idx, _, _ in todo:
                x, y = self.read_raw(idx, train=train, epoch=epoch)
                yield (x if raw else self.finish(x)), y
            return
        done = not raw  # what the workers send: finished float32, or uint8 for the caller to finish
        live, reopened = self._continue(todo, later, done), False
        while todo:
            try:
                item = next(live[0])
            except StopIteration:  # the loader ran dry before this epoch's end (a tiny epoch): start again
                if reopened:
                    raise RuntimeError("the image loader stopped before the end of the epoch") from None
                live, reopened = self._open(todo, later, done), True
                continue
            live[2] += 1
            todo.pop(0)
            if isinstance(item, str):  # a worker's DataError, re-raised here without the worker's traceback
                self._live = None
                raise DataError(item)
            x, y = item
            if isinstance(x, int):  # the pixels are in shared slot x: a view, valid until the next request
                x = {self.name: self._dl[2][x, :len(y)]}
            yield x, y

    def _continue(self, todo: list[Request], later: list[Request], done: bool) -> list[Any]:
        """The open iterator when its next requests are exactly ``todo`` (queued by the previous epoch's
        ``ahead``), with ``later`` queued behind; else a fresh one (the loader drops what it had decoded)."""
        live = self._live
        if live is not None and self._dl is not None and self._dl[3] == done:
            queued = live[1][live[2]:]
            if len(queued) == len(todo) and all(a[1:] == b[1:] and np.array_equal(a[0], b[0])
                                                 for a, b in zip(queued, todo)):
                live[1].extend(later)  # the sampler's iterator reads the list as it grows
                return live
        return self._open(todo, later, done)

    def _open(self, todo: list[Request], later: list[Request], done: bool) -> list[Any]:
        loader, sampler, _, _ = self._loader(max(len(r[0]) for r in todo + later), done)
        sampler.items = list(todo) + list(later)
        self._live = [iter(loader), sampler.items, 0]
        return self._live

    def _loader(self, batch: int, done: bool) -> tuple[Any, "_Requests", Any, bool]:
        """(loader, sampler, shared slots or None, ``done``), made on first use and kept for the run; ``done``:
        the workers send finished float32 (else uint8).  A stream that asks for the other kind replaces it."""
        if self._dl is not None and self._dl[3] != done:
            self._dl = self._live = None  # its workers stop with its iterator
        if self._dl is None:
            import torch  # lazy: torch's DataLoader runs the decoding workers
            import torch.utils.data as tud

            sampler = _Requests()
            # JAX's threads do not survive fork(): under the JAX backend workers start from a fork server
            ctx = "forkserver" if "jax" in sys.modules and sys.platform != "win32" else None
            plain = ImageFolder(self.name, self.files, self.y, self.lay, self.class_names, 0, {}, self.classes,
                                [], self.augment)
            n = slot_count(self.workers)
            slots = _slots(torch, n, batch, self.lay.shape, torch.float32 if done else torch.uint8)
            sampler.slots = n if slots is not None else 0
            loader = tud.DataLoader(_Batches(plain, slots, batch, done), batch_size=None, sampler=sampler,
                                    num_workers=self.workers, collate_fn=_same, prefetch_factor=PREFETCH,
                                    persistent_workers=True, multiprocessing_context=ctx,
                                    worker_init_fn=partial(_lower_priority, self.nice) if self.nice else None)
            self._dl = (loader, sampler, None if slots is None else slots.numpy(), done)
        return self._dl


PREFETCH = 4  # batches each worker works ahead


def slot_count(workers: int) -> int:
    """Shared batch buffers: twice the requests in flight (``workers`` x PREFETCH) plus the one in use,
    so no worker writes into a slot before the training side is done with it."""
    return 2 * (PREFETCH * workers + 1)


def _slots(torch: Any, n: int, batch: int, shape: tuple[int, ...], dtype: Any) -> Any:
    """``n`` batch buffers in shared memory, which workers fill and the training side reads in place
    (no pickling, no pipe); None where shared memory is short (a small /dev/shm in a container), and
    batches go through the pipe instead."""
    size = n * batch * int(np.prod(shape)) * dtype.itemsize
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize < 4 * size:
            return None
    except (OSError, AttributeError):
        pass
    try:
        return torch.zeros((n, batch, *shape), dtype=dtype).share_memory_()
    except (RuntimeError, OSError):
        return None


def _same(item: Any) -> Any:
    return item


class _Requests:
    """The sampler of the persistent loader: the requests of a stream, read as the list grows, each with
    the shared slot its pixels go to (the k-th request of the list takes slot k mod ``slots``)."""

    items: list[Any] = []
    slots: int = 0

    def __iter__(self) -> Iterator[Any]:
        return _Growing(self.items, self.slots)

    def __len__(self) -> int:
        return len(self.items)


class _Growing:
    """An iterator over a list that may grow: running out is not final, so requests appended later (the
    next epoch's) are still handed to the workers."""

    def __init__(self, items: list[Any], slots: int) -> None:
        self.items, self.slots, self.pos = items, slots, 0

    def __iter__(self) -> "_Growing":
        return self

    def __next__(self) -> Any:
        if self.pos >= len(self.items):
            raise StopIteration
        self.pos += 1
        return (*self.items[self.pos - 1], (self.pos - 1) % self.slots if self.slots else None)


class _Batches:
    """Map-style dataset of whole batches: a worker decodes, crops and flips the samples a request names,
    and with ``done`` scales and normalises them too (`ImageFolder.finish`)."""

    def __init__(self, ds: ImageFolder, slots: Any, batch: int, done: bool) -> None:
        self.ds, self.slots, self.batch, self.done = ds, slots, batch, done
        self._view: np.ndarray | None = None

    def __getitem__(self, request: Any) -> Any:
        idx, train, epoch, slot = request
        try:
            x, y = self.ds.read_raw(idx, train=train, epoch=epoch)
        except DataError as exc:
            return str(exc)
        if self.done:
            x = self.ds.finish(x)
        if slot is None or len(idx) > self.batch:
            return x, y
        if self._view is None:
            self._view = self.slots.numpy()
        self._view[slot, :len(idx)] = x[self.ds.name]
        return slot, y


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
    return ImageFolder(name, files, labels, lay, names, opts.workers, repeat, k, notes, nice=opts.nice)
