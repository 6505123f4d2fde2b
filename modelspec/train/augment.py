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
        """``x`` [N, C, H, W], the samples ``idx`` of a dataset of ``n``, augmented (a new array)."""
        out = x
        if train and self.random and len(x):
            dy, dx, flips = (d[idx] for d in self.draws(epoch, n))
            h, w = x.shape[2:]
            if self.spec.random_crop is not None:
                p = self.spec.random_crop.padding
                padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
                out = np.stack([padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(len(x))])
            if self.spec.flip:
                if out is x:
                    out = x.copy()
                out[flips] = out[flips][..., ::-1]
        norm = self.spec.normalize
        if norm is not None:
            c = x.shape[1]
            mean = np.asarray(norm.mean * (c if len(norm.mean) == 1 else 1), dtype=x.dtype).reshape(1, c, 1, 1)
            std = np.asarray(norm.std * (c if len(norm.std) == 1 else 1), dtype=x.dtype).reshape(1, c, 1, 1)
            out = (out - mean) / std
        return np.ascontiguousarray(out, dtype=x.dtype)
