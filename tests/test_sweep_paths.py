"""`--sweep` with dotted keys, as `--set` takes them: `train.lr` (the --lr flag), `params.hidden`,
`train.schedule.name` (the file's path, passed as `--set PATH=V`); a key that names nothing is MS082,
located in the argument.  Parameter counts are worked out by hand; each variant's learning rate and
overrides are read back from its run folder's config.json."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from modelspec.diagnostics import Diagnostics  # noqa: E402
from modelspec.load import load_document  # noqa: E402
from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train.sweep import parse_axes  # noqa: E402

SPEC = """\
modelspec: 1
name: Tiny
params:
  hidden: 8
inputs:
  x: [B, 6]
layers:
  - {op: Linear, features: "${hidden}"}
  - ReLU
  - {name: head, op: Linear, features: 3}
train:
  epochs: 1
  batch_size: 16
  val_split: 0.25
"""


def params(h: int) -> int:
    return 6 * h + h + h * 3 + 3  # Linear(6, h) and Linear(h, 3), weights and biases


@pytest.fixture()
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tiny.yaml").write_text(SPEC)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                      os.environ.get("PYTHONPATH", "")]))
    return tmp_path


def axes(base: Path, *items: str) -> tuple[list, Diagnostics]:
    diags = Diagnostics()
    doc = load_document(str(base / "tiny.yaml"), Diagnostics())
    return parse_axes(list(items), load_graph(str(base / "tiny.yaml")), diags, doc.data), diags


def test_dotted_keys_become_flags_or_set_paths(base: Path) -> None:
    got, diags = axes(base, "train.lr=1e-3,3e-4", "params.hidden=4,8", "train.schedule.name=constant,cosine",
                      "layers.0.features=2,3", "train.optimizer.lr=0.1")
    assert not diags.has_errors, diags.sorted()
    assert [(a.key, a.train, a.flag) for a in got] == [
        ("train.lr", True, "--lr"), ("params.hidden", False, ""), ("train.schedule.name", False, ""),
        ("layers.0.features", False, ""), ("train.optimizer.lr", True, "--lr")]


@pytest.mark.parametrize("item,message,hint", [
    ("params.hiden=4,8", "Tiny has no param `hiden`", "hidden"),
    ("train.lrr=1,2", "`lrr` is not a setting of the `train:` section", "log_every"),
    ("layers.5.features=2,3", "layers has no `5`", None),
    ("layers.0.featurez=2,3", "layers.0 has no `featurez`", "features"),
    ("hiden=4,8", "neither a param of Tiny nor a train setting", "hidden"),
])
def test_a_key_that_names_nothing_is_ms082(base: Path, item: str, message: str, hint: str | None) -> None:
    got, diags = axes(base, item)
    assert got == []
    (d,) = diags.sorted()
    assert d.code == "MS082" and message in d.message and d.pos.file == "<--sweep 1>"
    if hint == "log_every":  # no close name: the list of settings
        assert "epochs" in (d.suggestion or "")
    elif hint:
        assert hint in (d.suggestion or "")


def test_a_bad_dotted_key_reaches_the_user_located(base: Path) -> None:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--sweep", "params.hiden=4,8",
                                 "--run-dir", "sw", "--root", "."])
    assert r.exit_code == 2
    assert "MS082" in r.output and "<--sweep 1>:1:1" in r.output and "Traceback" not in r.output
    assert not (base / "sw").exists()


def test_a_grid_of_dotted_keys_trains_every_variant(base: Path) -> None:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--sweep", "train.lr=0.05,0.01",
                                 "--sweep", "params.hidden=2,4", "--run-dir", "sw", "--jobs", "2", "--root", "."])
    assert r.exit_code == 0, r.output
    with open(base / "sw" / "sweep.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((row["train.lr"], row["params.hidden"]) for row in rows) == [
        ("0.01", "2"), ("0.01", "4"), ("0.05", "2"), ("0.05", "4")]
    for row in rows:
        lr, h = float(row["train.lr"]), int(row["params.hidden"])
        assert row["status"] == "trained" and int(row["parameters"]) == params(h)
        folder = Path(row["run_dir"])
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["train"]["optimizer"]["lr"] == lr and cfg["overrides"] == {"params.hidden": h}
        assert (folder / "weights.safetensors").is_file()
