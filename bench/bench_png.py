"""Decoding one small PNG: the lean reader (`modelspec.train.png_read`) against Pillow's `Image.open`.

Run:  python bench/bench_png.py [--reps N] [--images N] [--size N] [--json]

Both sides read the same Pillow-written 8-bit RGB files (random pixels, the
same images `bench_images.py` trains on) from memory and end in the same
uint8 array; the figure is seconds per image, over ``--images`` files per
repetition, interleaved (min and median of ``--reps`` >= 5).  The ratio is
lean over Pillow: below 1, the lean reader is faster.  Pixels are checked equal
first.  What the lean path saves is Python work around Pillow's ZIP decoder,
so the ratio is highest for small images.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys

import numpy as np

from timing import ROOT, Row, emit, interleaved

sys.path.insert(0, str(ROOT))

from modelspec.train import png_read  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for _ in range(args.images):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3)).astype(np.uint8)).save(buf, format="PNG")
        files.append(buf.getvalue())

    def lean() -> None:
        for data in files:
            np.asarray(png_read.read(Image, data), dtype=np.uint8)

    def pillow() -> None:
        for data in files:
            with Image.open(io.BytesIO(data), formats=("PNG",)) as im:
                np.asarray(im, dtype=np.uint8)

    for data in files[:20]:
        with Image.open(io.BytesIO(data)) as im:
            assert np.array_equal(np.asarray(png_read.read(Image, data)), np.asarray(im))
    t = interleaved({"lean": lean, "pillow": pillow}, max(5, args.reps))
    per = {k: [s / args.images * 1e6 for s in v] for k, v in t.items()}
    if not args.json:
        print("µs per image (min/median): " + ", ".join(
            f"{k} {min(v):.1f}/{statistics.median(v):.1f}" for k, v in per.items()) + "\n")
    emit([Row(f"PNG decode {args.size}x{args.size} RGB, lean reader over Image.open", "-", "< 1",
              min(t["lean"]) / min(t["pillow"]), statistics.median(t["lean"]) / statistics.median(t["pillow"]))])


if __name__ == "__main__":
    main()
