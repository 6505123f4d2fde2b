"""Real data: image folders (decoded with Pillow batch by batch, in DataLoader workers),
CSV/TSV tables, and augmentation; bad data is an error naming the file.  The folders and
tables are made here; decoded pixels are checked against Pillow read by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train import data as data_mod  # noqa: E402
from modelspec.train import sources_image  # noqa: E402
from modelspec.train.augment import Augment  # noqa: E402
from modelspec.train.config import AugmentSpec, ImagesSpec, TableSpec  # noqa: E402
from modelspec.train.sources import DataError  # noqa: E402
from modelspec.train.sources_table import read as read_table  # noqa: E402
from modelspec.train.terminals import model_io  # noqa: E402
from tests.helpers import tiny_conv  # noqa: E402

TIMED = """\
modelspec: 1
name: TimedConv
time: {steps: 3}
inputs:
  x: [B, 3, 8, 8]
layers:
  - {name: conv, op: Conv2d, channels: 4, kernel: 3, padding: 1}
  - {name: relu, op: ReLU}
  - {name: flat, op: Flatten}
  - {name: head, op: Linear, features: 3}
edges:
  - {from: relu, to: conv, delay: 1}
"""
TABLE_SPEC = """\
modelspec: 1
name: Tab
inputs:
  x: [B, 3]
layers:
  - {name: head, op: Linear, features: 2}
"""


def make_folder(root: Path, per_class: int = 6, size: tuple[int, int] = (8, 8)) -> Path:
    """Three classes (blue, green, red: the strong channel), PNG and JPEG mixed."""
    rng = np.random.default_rng(0)
    for k, cls in enumerate(["blue", "green", "red"]):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 90, (*size, 3)).astype(np.uint8)
            a[..., 2 - k] += 150
            Image.fromarray(a).save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def _io(tmp: Path, text: str) -> object:
    p = tmp / "spec.yaml"
    p.write_text(text)
    return model_io(load_graph(str(p)), None)


def _hand(path: Path, size: tuple[int, int] = (8, 8), mode: str = "RGB") -> np.ndarray:
    im = Image.open(path).convert(mode)
    if im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.float32) / 255.0
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def test_classes_are_sorted_folders_and_pixels_are_pillows(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pics")
    ds = data_mod.load(str(root), _io(tmp_path, tiny_conv(3)), loss="cross_entropy", split_name="train",
                       seed=0)
    assert isinstance(ds, sources_image.ImageFolder)
    assert ds.class_names == ["blue", "green", "red"] and len(ds) == 18
    assert list(ds.y) == [0] * 6 + [1] * 6 + [2] * 6
    x, y = ds.read(np.array([0, 7, 17]))
    assert x["x"].shape == (3, 3, 8, 8) and x["x"].dtype == np.float32 and list(y) == [0, 1, 2]
    for row, i in enumerate([0, 7, 17]):
        np.testing.assert_allclose(x["x"][row], _hand(Path(ds.files[i])), atol=1e-6)


def test_resize_and_grey(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pics", per_class=2, size=(12, 10))
    ds = data_mod.load(str(root), _io(tmp_path, tiny_conv(1)), loss="cross_entropy", split_name="train",
                       seed=0)
    x, _ = ds.read(np.array([3]))
    assert x["x"].shape == (1, 1, 8, 8)
    np.testing.assert_allclose(x["x"][0], _hand(Path(ds.files[3]), mode="L"), atol=1e-6)


def test_workers_stream_the_same_batches_as_the_main_process(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = make_folder(tmp_path / "pics")
    ds = data_mod.load(str(root), _io(tmp_path, tiny_conv(3)), loss="cross_entropy", split_name="train",
                       seed=0, images=ImagesSpec(workers=2))
    ds.augment = Augment(AugmentSpec(random_crop={"padding": 2}, flip=True), seed=5)
    batches = data_mod.batch_indices(data_mod.epoch_order(len(ds), 0, 1), 4)
    streamed = list(ds.stream(batches, train=True, epoch=1, first=1))
    assert len(streamed) == len(batches) - 1
    for (x, y), idx in zip(streamed, batches[1:]):
        want, wy = ds.read(idx, train=True, epoch=1)
        np.testing.assert_array_equal(x["x"], want["x"])
        np.testing.assert_array_equal(y, wy)


def test_split_folders(tmp_path: Path) -> None:
    make_folder(tmp_path / "pics" / "train", per_class=3)
    make_folder(tmp_path / "pics" / "test", per_class=1)
    io = _io(tmp_path, tiny_conv(3))
    tr = data_mod.load(str(tmp_path / "pics"), io, loss="cross_entropy", split_name="train", seed=0)
    te = data_mod.load(str(tmp_path / "pics"), io, loss="cross_entropy", split_name="test", seed=0)
    assert len(tr) == 9 and len(te) == 3 and "/train/" in tr.files[0] and "/test/" in te.files[0]


@pytest.mark.parametrize("damage,message", [
    (lambda r: (r / "green" / "3.png").write_bytes(b"not a png"), "green/3.png: cannot read the image"),
    (lambda r: [p.unlink() for p in (r / "red").iterdir()], "class folder `red` has no images"),
    (lambda r: (r / "blue" / "notes.txt").write_text("x"), "blue/notes.txt: not an image"),
    (lambda r: (r / "labels.csv").write_text("x"), "labels.csv: an image folder holds one sub-folder per class"),
    (lambda r: [(r / c).mkdir() for c in ("a", "b")], "has 5 classes"),
])
def test_bad_image_folders_name_the_file(tmp_path: Path, damage, message: str) -> None:  # noqa: ANN001
    root = make_folder(tmp_path / "pics")
    damage(root)
    for c in ("a", "b"):
        if (root / c).is_dir():
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / c / "0.png")
    with pytest.raises(DataError, match=message.replace(".", r"\.").replace("`", ".")):
        data_mod.load(str(root), _io(tmp_path, tiny_conv(3)), loss="cross_entropy", split_name="train", seed=0)


def test_empty_root_and_truncated_image(tmp_path: Path) -> None:
    io = _io(tmp_path, tiny_conv(3))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty"):
        data_mod.load(str(tmp_path / "empty"), io, loss="cross_entropy", split_name="train", seed=0)
    root = make_folder(tmp_path / "pics")
    good = (root / "red" / "1.png").read_bytes()
    (root / "red" / "1.png").write_bytes(good[: len(good) // 2])  # the header reads, the pixels do not
    ds = data_mod.load(str(root), io, loss="cross_entropy", split_name="train", seed=0)
    with pytest.raises(DataError, match="red/1.png: cannot decode the image"):
        ds.read(np.arange(len(ds)))


# -- augmentation -------------------------------------------------------------------------------------------

def test_crop_flip_and_normalise_against_numpy() -> None:
    x = np.random.default_rng(1).random((5, 2, 6, 7)).astype(np.float32)
    idx = np.array([4, 0, 9, 3, 2])
    aug = Augment(AugmentSpec(random_crop={"padding": 2}, flip=True,
                              normalize={"mean": [0.5, 0.25], "std": [0.5, 2.0]}), seed=3)
    got = aug(x, idx, 10, train=True, epoch=2)
    dy, dx, flips = (d[idx] for d in aug.draws(2, 10))
    assert flips.any() and not flips.all() and (dy != 2).any()
    for i in range(5):
        padded = np.pad(x[i], ((0, 0), (2, 2), (2, 2)))
        want = padded[:, dy[i]: dy[i] + 6, dx[i]: dx[i] + 7]
        if flips[i]:
            want = want[:, :, ::-1]
        want = (want - np.array([0.5, 0.25])[:, None, None]) / np.array([0.5, 2.0])[:, None, None]
        np.testing.assert_allclose(got[i], want, rtol=1e-6)
    # a sample's draw depends on its index, not on the batch it is in; validation gets only the normalisation
    np.testing.assert_array_equal(aug(x[1:2], idx[1:2], 10, train=True, epoch=2), got[1:2])
    plain = aug(x, idx, 10, train=False, epoch=2)
    np.testing.assert_allclose(plain, (x - np.array([0.5, 0.25])[:, None, None]) / np.array([0.5, 2.0])[:, None, None],
                               rtol=1e-6)
    assert not np.array_equal(aug(x, idx, 10, train=True, epoch=3), got)  # a new epoch, new draws


# -- end to end ---------------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
from modelspec.train.runner import Request, evaluate, train  # noqa: E402


def _train(tmp: Path, text: str, data: Path, section: dict, backend: str = "torch",
           name: str = "") -> tuple[int, Path]:
    spec = tmp / "net.yaml"
    spec.write_text(text)
    graph = load_graph(str(spec))
    graph.train = section
    run = tmp / (name or f"run-{backend}")
    code = train(Request(str(spec), graph, {}, str(data), backend=backend, progress=False,
                         flags={"run_dir": str(run)}))
    return code, run


AUGMENTED = {"epochs": 6, "batch_size": 6, "optimizer": {"lr": 0.02}, "val_split": 0.25, "seed": 1,
             "images": {"workers": 2},
             "augment": {"random_crop": {"padding": 1}, "flip": True,
                         "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}}


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_an_image_folder_trains_end_to_end_with_augmentation(tmp_path: Path, backend: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    if backend == "jax":
        pytest.importorskip("jax")
    root = make_folder(tmp_path / "pics", per_class=8)
    code, run = _train(tmp_path, tiny_conv(3), root, AUGMENTED, backend)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "24 images in 3 classes (blue, green, red), read as [3, 8, 8]" in out
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["val_acc"] == 1.0 and rows[-1]["train_loss"] < rows[0]["train_loss"]
    spec = tmp_path / "net.yaml"
    graph = load_graph(str(spec))
    graph.train = AUGMENTED
    assert evaluate(Request(str(spec), graph, {}, str(root), backend=backend, progress=False), str(run)) == 0


def test_a_time_model_sees_a_still_image_at_every_step(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pics", per_class=3)
    ds = data_mod.load(str(root), _io(tmp_path, TIMED), loss="cross_entropy", split_name="train", seed=0)
    assert ds.repeat == {"x": 3}
    code, _ = _train(tmp_path, TIMED, root, {"epochs": 1, "batch_size": 4, "images": {"workers": 0}})
    assert code == 0


def test_a_bad_image_is_a_one_line_error_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_folder(tmp_path / "pics", per_class=2)
    (root / "blue" / "9.jpg").write_bytes(b"\xff\xd8 broken")
    code, _ = _train(tmp_path, tiny_conv(3), root, {"epochs": 1})
    err = capsys.readouterr().err
    assert code == 2 and "blue/9.jpg: cannot read the image" in err and "Traceback" not in err


# -- tables -------------------------------------------------------------------------------------------------

def test_csv_and_tsv_tables(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b,c,label\n1,2,3,0\n4.5,-5,6e-1,1\n\n7,8,9,1\n")
    raw = read_table(str(tmp_path / "t.csv"), None, "cross_entropy")
    np.testing.assert_array_equal(raw.arrays["x"], np.array([[1, 2, 3], [4.5, -5, 0.6], [7, 8, 9]], np.float32))
    assert list(raw.y) == [0, 1, 1]
    (tmp_path / "t.tsv").write_text("kind\tw\tv\tu\ncat\t1\t2\t3\ndog\t4\t5\t6\ncat\t7\t8\t9\n")
    raw = read_table(str(tmp_path / "t.tsv"), TableSpec(label="kind", features=["u", "w", "v"]), "cross_entropy")
    np.testing.assert_array_equal(raw.arrays["x"][0], [3, 1, 2])
    assert list(raw.y) == [0, 1, 0] and "0=cat, 1=dog" in raw.notes[0]


@pytest.mark.parametrize("text,spec,message", [
    ("a,b,c,y\n1,2,3,0\n", None, r"t\.csv:1: no label column `label` \(columns: a, b, c, y\)"),
    ("a,b,label\n1,2,0\n", TableSpec(features=["a", "z"]), r"no feature column\(s\) `z`"),
    ("a,b,c,label\n1,2,3,0\n1,x2,3,1\n", None, r"t\.csv:3:3: column `b`: 'x2' is not a number"),
    ("a,b,c,label\n1,2,3,0\n1,,3,1\n", None, r"t\.csv:3:3: column `b`: '' is not a number \(the cell is empty\)"),
    ("a,b,c,label\n1,2,3\n", None, r"t\.csv:2: 3 values, but the header names 4 columns"),
    ("", None, r"the table is empty"),
])
def test_bad_tables_are_located(tmp_path: Path, text: str, spec: TableSpec | None, message: str) -> None:
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        read_table(str(tmp_path / "t.csv"), spec, "cross_entropy")


def test_a_table_trains_and_its_errors_reach_the_user(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    lines = ["f1,f2,f3,target"] + [f"{a:.4f},{b:.4f},{c:.4f},{int(a + b > 0)}" for a, b, c in x]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    code, run = _train(tmp_path, TABLE_SPEC, tmp_path / "d.csv",
                       {"epochs": 3, "batch_size": 16, "table": {"label": "target"}, "optimizer": {"lr": 0.05}})
    assert code == 0
    code, _ = _train(tmp_path, TABLE_SPEC, tmp_path / "d.csv", {"epochs": 1}, name="r2")
    err = capsys.readouterr().err
    assert code == 2 and "no label column `label`" in err
