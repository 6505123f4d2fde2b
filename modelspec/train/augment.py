"""Image augmentation declared in `train.augment`: random crop after padding, horizontal flip, normalisation.

Works on numpy batches of images `[N, C, H, W]` (float, already scaled to
[0, 1]).  The random parts of a sample are drawn from (seed, epoch, the
sample's index), so a sample looks the same whether it is decoded in a
DataLoader worker or in the main process, in one process or several, and a
resumed run sees exactly the batches of an uninterrupted one.  Normalisation is not random: validation and
`eval` get it too; crop and flip are for training only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .config import AugmentSpec, ConfigError


@dataclass(frozen=True)
class Augment:
    spec: AugmentSpec
    seed: int
    _cache: Any = field(default=None, compare=False, repr=False)

    @property
    def random(self) -> bool:
        return bool(self.spec.random_crop or self.spec.flip)

    def check(self, name: str, shape: tuple[int, ...]) -> None:
        """An input that is not an image `[C, H, W]`, or a mean/std that does not fit its channels, is refused."""
        if len(shape) != 3:
            raise ConfigError(f"`train.augment` needs image inputs [C, H, W]; input `{name}` has samples of shape "
                              f"[{', '.join(map(str, shape))}]")
        norm = self.spec.normalize
        if norm is not None:
            for key, vals in (("mean", norm.mean), ("std", norm.std)):
                if len(vals) not in (1, shape[0]):
                    raise ConfigError(f"`train.augment.normalize.{key}` has {len(vals)} values for the {shape[0]} "
                                      f"channel(s) of input `{name}`")

    def draws(self, epoch: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crop offsets (dy, dx) and flips for every sample of an epoch, drawn once per epoch and process:
        a sample's draw depends on (seed, epoch, its index) only, not on batching, workers or processes."""
        key = (epoch, n)
        if self._cache is None or self._cache[0] != key:
            rng = np.random.default_rng([self.seed, 0xA06, epoch])
            p = self.spec.random_crop.padding if self.spec.random_crop is not None else 0
            dy, dx = rng.integers(0, 2 * p + 1, size=n), rng.integers(0, 2 * p + 1, size=n)
            object.__setattr__(self, "_cache", (key, (dy, dx, rng.random(n) < 0.5)))
        assert self._cache is not None
        return self._cache[1]

    def __call__(self, x: np.ndarray, idx: np.ndarray, n: int, *, train: bool, epoch: int = 0) -> np.ndarray:
        """``x`` [N, C, H, W] (float), the samples ``idx`` of a dataset of ``n``, augmented (a new array)."""
        return np.ascontiguousarray(self.normalise(self.geometry(x, idx, n, train=train, epoch=epoch)),
                                    dtype=x.dtype)

    def geometry(self, x: np.ndarray, idx: np.ndarray, n: int, *, train: bool, epoch: int = 0) -> np.ndarray:
        """The random crop and flip of ``x`` [N, C, H, W], any dtype: image folders crop their uint8 pixels
        in the workers and scale them on the training side (4x fewer bytes between processes)."""
        if not (train and self.random and len(x)):
            return x
        dy, dx, flips = (d[idx] for d in self.draws(epoch, n))
        out = x
        if self.spec.random_crop is not None:
            p = self.spec.random_crop.padding
            N, C, h, w = x.shape
            padded = np.zeros((N, C, h + 2 * p, w + 2 * p), x.dtype)
            padded[:, :, p: p + h, p: p + w] = x
            # every (dy, dx) window of every sample as a view; one gather picks each sample's own window
            out = sliding_window_view(padded, (h, w), axis=(2, 3))[np.arange(N), :, dy, dx]
        if self.spec.flip:
            if out is x:
                out = x.copy()
            out[flips] = out[flips][..., ::-1]
        return out

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` per channel of ``x`` [N, C, H, W] (float); ``x`` itself without `normalize`."""
        norm = self.spec.normalize
        if norm is None:
            return x
        mean, std = self.stats(x.shape[1], x.dtype)
        return (x - mean) / std

    def stats(self, c: int, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """`normalize`'s mean and std as arrays [1, C, 1, 1] (one value is every channel's)."""
        norm = self.spec.normalize
        assert norm is not None
        mean = np.asarray(norm.mean * (c if len(norm.mean) == 1 else 1), dtype=dtype).reshape(1, c, 1, 1)
        std = np.asarray(norm.std * (c if len(norm.std) == 1 else 1), dtype=dtype).reshape(1, c, 1, 1)
        return mean, std
