"""Data sources: every format `--data` reads, fitted to the spec's inputs, and clear
errors (no traceback) for data that does not fit.  Small files, made here."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.pipeline import load as load_graph
from modelspec.train import data
from modelspec.train.sources import DataError, read_idx
from modelspec.train.terminals import model_io

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "specs" / "mlp.yaml")
TIME_SPEC = """\
modelspec: 1
name: TimeNet
time: {steps: 4}
inputs:
  x: [B, 3, 8, 8]
  bias: {shape: [B, 2], static: true}
outputs:
  logits: head
layers:
  - {name: flat, op: Flatten, in: x}
  - {name: fc, op: Linear, features: 5}
  - {name: head, op: Linear, features: 10}
"""
SEQ_SPEC = """\
modelspec: 1
name: Seq
inputs:
  x: [B, L, 28]
layers:
  - {op: LSTM, features: 8, sequence: last}
  - {op: Linear, features: 10}
"""


def _io(spec: str, overrides: dict | None = None):
    return model_io(load_graph(spec, overrides), None)


def _idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = head + arr.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


def _mnist(folder: Path, n: int = 20, gz: bool = True) -> np.ndarray:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    _idx(folder / "train-images-idx3-ubyte", imgs, gz)
    _idx(folder / "train-labels-idx1-ubyte", np.arange(n) % 10, gz)
    _idx(folder / "t10k-images-idx3-ubyte", imgs[:5], gz)
    _idx(folder / "t10k-labels-idx1-ubyte", np.arange(5) % 10, gz)
    return imgs


def _cifar(folder: Path, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    batches = []
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        d = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        batches.append(d)
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": d, b"labels": list(range(n)), b"batch_label": b"x"}, fh)
    return np.concatenate(batches[:2])


def test_idx_reader_roundtrip(tmp_path: Path) -> None:
    imgs = _mnist(tmp_path, gz=False)
    assert np.array_equal(read_idx(str(tmp_path / "train-images-idx3-ubyte")), imgs)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_folder_scaled_and_flattened_for_an_mlp(tmp_path: Path, gz: bool) -> None:
    imgs = _mnist(tmp_path / "mnist", gz=gz)
    ds = data.load(str(tmp_path / "mnist"), _io(MLP), loss="cross_entropy", split_name="train", seed=0)
    assert ds.x["x"].shape == (20, 784) and ds.x["x"].dtype == np.float32
    assert np.allclose(ds.x["x"][3], imgs[3].reshape(-1) / 255.0)
    assert 0.0 <= ds.x["x"].min() and ds.x["x"].max() <= 1.0
    test = data.load(str(tmp_path / "mnist"), _io(MLP), loss="cross_entropy", split_name="test", seed=0)
    assert len(test) == 5 and ds.classes == 10


def test_mnist_rows_bind_a_sequence_symbol(tmp_path: Path) -> None:
    spec = tmp_path / "seq.yaml"
    spec.write_text(SEQ_SPEC)
    _mnist(tmp_path / "mnist")
    ds = data.load(str(tmp_path / "mnist"), _io(str(spec)), loss="cross_entropy", split_name="train", seed=0)
    assert ds.x["x"].shape == (20, 28, 28)


def test_cifar_folder_for_a_time_model_is_repeated_over_steps(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    text = TIME_SPEC.replace("[B, 3, 8, 8]", "[B, 3, 32, 32]")
    spec.write_text(text.replace("  bias: {shape: [B, 2], static: true}\n", ""))
    raw = _cifar(tmp_path / "cifar")
    ds = data.load(str(tmp_path / "cifar"), _io(str(spec)), loss="cross_entropy", split_name="train", seed=0)
    assert ds.x["x"].shape == (12, 3, 32, 32) and ds.repeat == {"x": 4}
    assert np.allclose(ds.x["x"][7], raw[7].reshape(3, 32, 32) / 255.0)
    test = data.load(str(tmp_path / "cifar"), _io(str(spec)), loss="cross_entropy", split_name="test", seed=0)
    assert len(test) == 6


def test_npz_with_named_inputs_and_time_axis(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(TIME_SPEC)
    x = np.random.default_rng(0).standard_normal((10, 4, 3, 8, 8)).astype(np.float32)  # already [N, T, ...]
    np.savez(tmp_path / "d.npz", x=x, bias=np.ones((10, 2)), y=np.arange(10) % 10)
    ds = data.load(str(tmp_path / "d.npz"), _io(str(spec)), loss="cross_entropy", split_name="train", seed=0)
    assert ds.x["x"].shape == (10, 4, 3, 8, 8) and ds.repeat == {}
    assert ds.x["bias"].dtype == np.float32


def test_npy_pairs(tmp_path: Path) -> None:
    io = _io(MLP, {"input_size": 6})
    np.save(tmp_path / "train_x.npy", np.zeros((8, 6), np.float64))
    np.save(tmp_path / "train_y.npy", np.arange(8) % 3)
    np.save(tmp_path / "labels.npy", np.arange(8) % 3)
    ds = data.load(str(tmp_path / "train_x.npy"), io, loss="cross_entropy", split_name="train", seed=0)
    assert ds.x["x"].shape == (8, 6) and ds.y.dtype == np.int64
    pair = f"{tmp_path / 'train_x.npy'},{tmp_path / 'labels.npy'}"
    assert len(data.load(pair, io, loss="cross_entropy", split_name="train", seed=0)) == 8


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((8, 5)), np.zeros(8), "samples of shape [5] (5 values), which does not fit the spec's [B, 6]"),
    (np.zeros((8, 6)), np.zeros(7), "8 samples but there are 7 targets"),
    (np.zeros((8, 6)), np.full(8, 12), "labels run from 12 to 12 but output `logits` has 10 classes"),
    (np.zeros((8, 6)), np.full(8, 0.5), "integer class labels"),
])
def test_data_that_does_not_fit_is_a_clear_error(tmp_path: Path, x: np.ndarray, y: np.ndarray, message: str) -> None:
    np.savez(tmp_path / "d.npz", x=x, y=y)
    with pytest.raises(DataError) as err:
        data.load(str(tmp_path / "d.npz"), _io(MLP, {"input_size": 6}), loss="cross_entropy",
                  split_name="train", seed=0)
    assert message in str(err.value)


def test_cli_reports_bad_data_without_traceback(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((8, 5)), y=np.zeros(8))
    res = CliRunner().invoke(app, ["train", MLP, "--data", str(tmp_path / "d.npz"), "--set", "input_size=6",
                                   "--run-dir", str(tmp_path / "run")])
    assert res.exit_code == 2
    assert "does not fit the spec's [B, 6]" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "run").exists()  # nothing written before the data is checked
    res = CliRunner().invoke(app, ["train", MLP, "--data", str(tmp_path / "missing.npz")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_synthetic_is_seeded_learnable_and_binds_symbols() -> None:
    io = _io(MLP, {"input_size": 12})
    a = data.load("synthetic:64", io, loss="cross_entropy", split_name="train", seed=3)
    b = data.load("synthetic:64", io, loss="cross_entropy", split_name="train", seed=3)
    c = data.load("synthetic:64", io, loss="cross_entropy", split_name="test", seed=3)
    assert np.array_equal(a.x["x"], b.x["x"]) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x["x"], c.x["x"])
    assert len(set(a.y.tolist())) > 3  # several classes, from a fixed linear rule
    seq = model_io(load_graph(str(ROOT / "specs" / "lstm_classifier.yaml")), None)
    assert data.load("synthetic:4", seq, loss="cross_entropy", split_name="train", seed=0,
                     dims={"L": 5}).x["x"].shape == (4, 5, 28)
    mse = data.load("synthetic:4", io, loss="mse", split_name="train", seed=0)
    assert mse.y.shape == (4, 10) and mse.y.dtype == np.float32


def test_split_and_shards_are_deterministic() -> None:
    ds = data.Dataset({"x": np.arange(20)[:, None]}, np.arange(20))
    tr, va = data.split(ds, 0.25, seed=1)
    tr2, va2 = data.split(ds, 0.25, seed=1)
    assert va is not None and va2 is not None and len(va) == 5 and np.array_equal(va.y, va2.y)
    assert sorted(tr.y.tolist() + va.y.tolist()) == list(range(20))
    order = data.epoch_order(20, seed=1, epoch=2)
    assert np.array_equal(order, data.epoch_order(20, seed=1, epoch=2))
    assert not np.array_equal(order, data.epoch_order(20, seed=1, epoch=3))
    single = data.batch_indices(order, 8)
    r0, r1 = data.batch_indices(order, 8, 0, 2), data.batch_indices(order, 8, 1, 2)
    for s, a, b in zip(single, r0, r1):
        assert sorted(s.tolist()) == sorted(a.tolist() + b.tolist())
