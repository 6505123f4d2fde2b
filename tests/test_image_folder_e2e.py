"""End to end: a small image folder made here with Pillow, trained for a few epochs with the
augmentation declared in the spec's `train:` section (random crop, flip, normalisation) and
`--logger tensorboard`; the event files are read back (`tests/tfevents.py`: TFRecord framing and CRC-32C
checked, then tensorboardX's Event protobuf) and their scalars compared with metrics.jsonl.  The
parameter count is worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("torch")
pytest.importorskip("tensorboardX")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from tests.helpers import tiny_conv  # noqa: E402
from tests.tfevents import read_events, scalars  # noqa: E402

SPEC = tiny_conv(3, name="PicNet", train="""\
  epochs: 3
  batch_size: 6
  optimizer: {name: adam, lr: 0.02}
  val_split: 0.25
  seed: 1
  images: {workers: 2}
  augment:
    random_crop: {padding: 1}
    flip: true
    normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
""")
PARAMS = (4 * 3 * 3 * 3 + 4) + (4 * 8 * 8 * 3 + 3)  # conv 3->4, 3x3, with bias; Linear(256, 3)


def make_folder(root: Path, per_class: int = 8) -> None:
    """Three classes (the strong channel is blue, green or red), PNG and JPEG mixed."""
    rng = np.random.default_rng(0)
    for k, cls in enumerate(["blue", "green", "red"]):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 90, (8, 8, 3)).astype(np.uint8)
            a[..., 2 - k] += 150
            Image.fromarray(a).save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_an_image_folder_trains_with_augmentation_and_tensorboard(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path / "pics")
    (tmp_path / "net.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["train", "net.yaml", "--data", "pics", "--logger", "tensorboard",
                                 "--run-dir", "run", "--no-progress", "--root", "."])
    assert r.exit_code == 0, r.output
    assert "24 images in 3 classes (blue, green, red), read as [3, 8, 8]" in r.output
    run = tmp_path / "run"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["augment"]["flip"] is True and cfg["train"]["augment"]["random_crop"] == {"padding": 1}
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [e for e in epochs if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and [e["step"] for e in epochs] == [3, 6, 9]

    tb = scalars(read_events(run / "tensorboard"))
    assert tb["model/parameters"] == {0: PARAMS}
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        logged = tb[f"epoch/{key}"]
        assert sorted(logged) == [e["step"] for e in epochs], key
        for e in epochs:  # TensorBoard keeps float32
            assert logged[e["step"]] == pytest.approx(e[key], rel=1e-6, abs=1e-7), key
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
