"""Image-folder loader (issue 12): does the real loader keep a training step fed?

Run:  python bench/bench_images.py [--reps N] [--images N] [--epochs N] [--threads N] [--json]

`modelspec train` on an image folder (PNG files, 32x32 RGB, 10 classes,
decoded with Pillow in `images.workers: 2` DataLoader workers) against the
same run on the same images pre-loaded into an .npz, so each step indexes
tensors in memory.  Both contenders run the same step: the same spec (a small
CNN: conv 3->16 and 16->32, 3x3, stride 2, ReLU, a linear head), Adam, batch
128, images of 32x32, no validation, in the same process with the same torch
threads.  Each run's figure is its fastest epoch after the first ``--skip``
(default 3 of 6; metrics.jsonl's `wall_time_s`, which covers the epoch from its
first batch request to its last step).  The skipped epochs are the ones
where start-up work still runs beside the step on both sides alike: the
learning-curve process imports matplotlib (about 0.8 s of CPU) while the first
epochs train, and the image workers start.  Every later epoch of both sides
has the same background work (one redraw of the curve).  The row is
pre-loaded time over image-folder time:
the loader's samples/s as a fraction of the in-memory step's.  The second row
adds random crop (padding 4) and flip to the image folder and still divides by
the plain in-memory step: the loader must do the augmentation too and keep
the step fed (the pre-loaded run with the same augmentation, done on numpy in
the main process, is printed alongside for reference).  The contenders
alternate order every repetition (min and median of ``--reps`` >= 5).
``--threads`` (default 1) pins torch's intra-op threads, leaving the second
core to the workers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from timing import ROOT, Row, emit

sys.path.insert(0, str(ROOT))

from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train.runner import Request, train  # noqa: E402

SPEC = """\
modelspec: 1
name: SmallCNN
inputs:
  x: [B, 3, 32, 32]
layers:
  - {op: Conv2d, channels: 16, kernel: 3, stride: 2, padding: 1}
  - ReLU
  - {op: Conv2d, channels: 32, kernel: 3, stride: 2, padding: 1}
  - ReLU
  - Flatten
  - {name: head, op: Linear, features: 10}
"""


def make_images(root: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` PNG files in 10 class folders; the same pixels as arrays [N, 3, 32, 32] in [0, 1], labels."""
    from PIL import Image

    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(n):
        k = i % 10
        a = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
        folder = root / f"class{k}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(folder / f"{i:05d}.png")
        xs.append(a.transpose(2, 0, 1).astype(np.float32) / 255.0)
        ys.append(k)
    order = sorted(range(n), key=lambda i: (i % 10, i))  # the folder's order: class, then file name
    return np.stack(xs)[order], np.asarray(ys, np.int64)[order]


def run(spec: Path, data: str, epochs: int, section: dict, skip: int) -> float:
    graph = load_graph(str(spec))
    graph.train = {"val_split": 0.0, "batch_size": 128, **section}
    with tempfile.TemporaryDirectory() as tmp:
        req = Request(str(spec), graph, {}, data, progress=False, flags={"epochs": epochs, "run_dir": tmp})
        with contextlib.redirect_stdout(io.StringIO()):
            assert train(req) == 0
        rows = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    return min(r["wall_time_s"] for r in rows[skip:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--skip", type=int, default=3, help="epochs left out of each run's figure (start-up)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.epochs <= args.skip:
        ap.error(f"--epochs {args.epochs} leaves no epoch after the {args.skip} skipped")
    import torch

    torch.set_num_threads(args.threads)
    aug = {"augment": {"random_crop": {"padding": 4}, "flip": True}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        x, y = make_images(root, args.images)
        npz = Path(tmp) / "images.npz"
        np.savez(npz, x=x, y=y)
        spec = Path(tmp) / "cnn.yaml"
        spec.write_text(SPEC)
        fns = {
            "memory": lambda: run(spec, str(npz), args.epochs, {}, args.skip),
            "folder": lambda: run(spec, str(root), args.epochs, {"images": {"workers": 2}}, args.skip),
            "memory_aug": lambda: run(spec, str(npz), args.epochs, aug, args.skip),
            "folder_aug": lambda: run(spec, str(root), args.epochs, {"images": {"workers": 2}, **aug}, args.skip),
        }
        times: dict[str, list[float]] = {k: [] for k in fns}
        keys = list(fns)
        for i in range(max(5, args.reps)):
            for k in (keys if i % 2 == 0 else keys[::-1]):
                times[k].append(fns[k]())

    def row(label: str, a: str, b: str) -> Row:
        return Row(label, "-", "≥ 0.9", min(times[a]) / min(times[b]),
                   statistics.median(times[a]) / statistics.median(times[b]))

    rows = [row("image-folder loader (2 workers), samples/s vs the same step on pre-loaded tensors", "memory",
                "folder"),
            row("same, with random crop and flip in the workers (still vs the plain pre-loaded step)", "memory",
                "folder_aug")]
    if not args.json:
        per = {k: f"{min(v):.3f}/{statistics.median(v):.3f}" for k, v in times.items()}
        print(f"seconds per epoch of {args.images} images (min/median): {per}\n")
    emit(rows)


if __name__ == "__main__":
    main()
