"""The image folder's stream: workers hand over uint8 batches (crop and flip done) in shared memory and
work on into the next epoch; what the training side finishes (numpy or torch, normalised) is exactly
what the main process decodes by itself.  Large JPEGs are decoded at a reduced scale (`Image.draft`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")
torch = pytest.importorskip("torch")

from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train import data as data_mod  # noqa: E402
from modelspec.train.augment import Augment  # noqa: E402
from modelspec.train.config import AugmentSpec, ImagesSpec  # noqa: E402
from modelspec.train.terminals import model_io  # noqa: E402

CONV = """\
modelspec: 1
name: TinyConv
inputs:
  x: [B, 3, {h}, {w}]
layers:
  - {{name: conv, op: Conv2d, channels: 4, kernel: 3, padding: 1}}
  - {{name: flat, op: Flatten}}
  - {{name: head, op: Linear, features: 3}}
"""
AUG = AugmentSpec(random_crop={"padding": 2}, flip=True, normalize={"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]})


def folder(tmp: Path, n: int = 10, size: tuple[int, int] = (8, 8), ext: str = "png") -> Path:
    rng = np.random.default_rng(3)
    for k, cls in enumerate(["a", "b", "c"]):
        (tmp / "pics" / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (*size, 3)).astype(np.uint8)).save(tmp / "pics" / cls / f"{i}.{ext}")
    return tmp / "pics"


def dataset(tmp: Path, root: Path, h: int = 8, w: int = 8, workers: int = 2) -> object:
    (tmp / "spec.yaml").write_text(CONV.format(h=h, w=w))
    io = model_io(load_graph(str(tmp / "spec.yaml")), None)
    return data_mod.load(str(root), io, loss="cross_entropy", split_name="train", seed=0,
                         images=ImagesSpec(workers=workers))


def test_epochs_stream_on_through_one_loader_and_match_the_main_process(tmp_path: Path) -> None:
    ds = dataset(tmp_path, folder(tmp_path))
    ds.augment = Augment(AUG, seed=7)
    plan = {e: data_mod.batch_indices(data_mod.epoch_order(len(ds), 0, e), 4) for e in (0, 1, 2)}
    seen = []
    for e in (0, 1):
        got = list(ds.stream(plan[e], train=True, epoch=e, ahead=(plan[e + 1], e + 1)))
        seen.append(ds._live)
        assert len(got) == len(plan[e])
        for (x, y), idx in zip(got, plan[e]):
            want, wy = ds.read(idx, train=True, epoch=e)  # decoded here, no worker
            assert x["x"].dtype == np.float32
            np.testing.assert_array_equal(x["x"], want["x"])
            np.testing.assert_array_equal(y, wy)
    assert seen[0] is seen[1]  # epoch 1 went on with the requests epoch 0 had queued, no new iterator
    # a stream from elsewhere (a resume in the middle of an epoch) starts afresh and is still right
    got = list(ds.stream(plan[2], train=True, epoch=2, first=3))
    assert len(got) == len(plan[2]) - 3
    for (x, _), idx in zip(got, plan[2][3:]):
        np.testing.assert_array_equal(x["x"], ds.read(idx, train=True, epoch=2)[0]["x"])


def test_raw_batches_finished_in_torch_equal_numpy(tmp_path: Path) -> None:
    ds = dataset(tmp_path, folder(tmp_path, n=4))
    ds.augment = Augment(AUG, seed=1)
    batches = data_mod.batch_indices(np.arange(len(ds)), 5)
    for (x, _), idx in zip(ds.stream(batches, train=True, epoch=0, raw=True), batches):
        assert x["x"].dtype == np.uint8
        finished = ds.finish_torch(torch.from_numpy(np.array(x["x"])), torch)
        np.testing.assert_array_equal(finished.numpy(), ds.read(idx, train=True, epoch=0)[0]["x"])
        # and the numpy finish is (pixels / 255 - mean) / std by hand
        mean = np.array([0.5, 0.4, 0.3], np.float32)[:, None, None]
        std = np.array([0.2, 0.25, 0.3], np.float32)[:, None, None]
        np.testing.assert_allclose(finished.numpy(), (x["x"] / np.float32(255) - mean) / std, rtol=1e-5, atol=1e-6)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    root = folder(tmp_path, n=1, size=(64, 48), ext="jpg")
    ds = dataset(tmp_path, root, h=16, w=12, workers=0)
    x, _ = ds.read(np.array([0]))
    with Image.open(ds.files[0]) as im:  # by hand: libjpeg's DCT scaling, then Pillow's bilinear resize
        im.draft("RGB", (12, 16))
        assert im.size == (12, 16)  # 48x64 at 1/4: the largest reduction that keeps at least 12x16
        want = np.asarray(im.convert("RGB").resize((12, 16), Image.Resampling.BILINEAR), np.float32) / 255
    np.testing.assert_allclose(x["x"][0], want.transpose(2, 0, 1), atol=1e-6)


def test_a_file_whose_contents_differ_from_its_extension_still_decodes(tmp_path: Path) -> None:
    """The extension picks the format Pillow tries first; a PNG named .jpg is read all the same,
    pixel for pixel (a JPEG would not keep them exact)."""
    root = folder(tmp_path, n=2)
    png = root / "a" / "0.png"
    pixels = np.asarray(Image.open(png).convert("RGB"))
    png.rename(root / "a" / "0.jpg")
    ds = dataset(tmp_path, root, workers=0)
    k = next(i for i, f in enumerate(ds.files) if f.endswith("0.jpg"))
    x, _ = ds.read(np.array([k]))
    np.testing.assert_array_equal(np.round(x["x"][0] * 255).astype(np.uint8), pixels.transpose(2, 0, 1))


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX scheduling priorities")
@pytest.mark.parametrize("nice", [0, 7])
def test_workers_decode_at_the_niceness_asked_for(tmp_path: Path, nice: int) -> None:
    """`images.nice`: each DataLoader worker runs that many steps nicer than the training process."""
    (tmp_path / "spec.yaml").write_text(CONV.format(h=8, w=8))
    io = model_io(load_graph(str(tmp_path / "spec.yaml")), None)
    ds = data_mod.load(str(folder(tmp_path)), io, loss="cross_entropy", split_name="train", seed=0,
                       images=ImagesSpec(workers=2, nice=nice))
    batches = data_mod.batch_indices(np.arange(len(ds)), 4)
    assert len(list(ds.stream(batches, train=False, epoch=0))) == len(batches)
    # requests go to the workers in turn: both have started (and run their start-up) and they persist
    pids = [w.pid for w in ds._dl[0]._iterator._workers]
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert len(pids) == 2
    assert [os.getpriority(os.PRIO_PROCESS, p) for p in pids] == [min(19, mine + nice)] * 2
    assert ImagesSpec().nice == 10  # the default: the step first


def test_a_stream_of_the_other_kind_replaces_the_loader(tmp_path: Path) -> None:
    """Finished float32 batches come from the workers' float slots, raw uint8 ones from uint8 slots; asking
    for the other kind replaces the persistent loader, and both equal what the main process decodes."""
    ds = dataset(tmp_path, folder(tmp_path, n=4))
    ds.augment = Augment(AUG, seed=2)
    batches = data_mod.batch_indices(np.arange(len(ds)), 4)
    for raw in (False, True, False):
        got = list(ds.stream(batches, train=True, epoch=1, raw=raw))
        assert ds._dl[3] is (not raw)
        for (x, _), idx in zip(got, batches):
            want = ds.read_raw(idx, train=True, epoch=1)[0] if raw else ds.read(idx, train=True, epoch=1)[0]
            assert x["x"].dtype == (np.uint8 if raw else np.float32)
            np.testing.assert_array_equal(x["x"], want["x"])
