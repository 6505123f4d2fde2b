"""`modelspec train --sweep`: a 3-variant grid end to end (one run folder each, subprocesses, the table and
sweep.csv with each variant's final metrics, parameter count and MACs worked out by hand), resuming
(finished variants are not run again, a killed one resumes), and located errors for bad --sweep items."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from tests.helpers import tiny, tiny_data  # noqa: E402

SPEC = tiny("epochs: 1\nbatch_size: 16\nval_split: 0.25", hidden='"${hidden}"', params="params:\n  hidden: 8\n")
HIDDEN = [2, 4, 8]


def params(h: int) -> int:
    """Linear(6, h) + Linear(h, 3), weights and biases."""
    return 6 * h + h + h * 3 + 3


def macs(h: int) -> int:
    """Per sample: 6*h + h*3 multiply-adds."""
    return 6 * h + h * 3


@pytest.fixture()
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tiny.yaml").write_text(SPEC)
    tiny_data(tmp_path / "data.npz", 48, seed=0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                      os.environ.get("PYTHONPATH", "")]))
    return tmp_path


def sweep(*extra: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--sweep",
                                 "hidden=" + ",".join(map(str, HIDDEN)), "--run-dir", "sw", "--jobs", "2",
                                 "--root", ".", *extra])
    return r.exit_code, r.output


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["hidden"]: row for row in csv.DictReader(fh)}


def last_epoch(folder: Path) -> dict[str, object]:
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r["kind"] == "epoch"][-1]


def test_three_variant_sweep_then_resume(base: Path) -> None:
    code, out = sweep()
    assert code == 0, out
    rows = read_csv(base / "sw" / "sweep.csv")
    assert sorted(rows, key=int) == [str(h) for h in HIDDEN]
    for h in HIDDEN:
        folder = base / "sw" / f"hidden-{h}"
        row = rows[str(h)]
        assert (folder / "weights.safetensors").is_file() and row["status"] == "trained"
        assert int(row["parameters"]) == params(h) and int(row["macs"]) == macs(h)
        final = last_epoch(folder)  # the table's numbers are the run's own last record
        assert float(row["val_loss"]) == pytest.approx(final["val_loss"])
        assert float(row["train_loss"]) == pytest.approx(final["train_loss"])
        assert int(row["epochs"]) == 1
        assert json.loads((folder / "config.json").read_text())["overrides"] == {"hidden": h}
    assert "modelspec sweep: Tiny, 3 variants" in out and f"{params(8):>3}" in out

    # the same command again: a finished variant is skipped, a killed one (checkpoint, no final weights)
    # resumes through the trainer's own --resume, a missing one trains
    kept = (base / "sw" / "hidden-2" / "metrics.jsonl").read_text()
    (base / "sw" / "hidden-4" / "weights.safetensors").unlink()
    for f in (base / "sw" / "hidden-8").iterdir():
        f.unlink()
    code, out = sweep()
    assert code == 0, out
    rows = read_csv(base / "sw" / "sweep.csv")
    assert [rows[str(h)]["status"] for h in HIDDEN] == ["skipped (finished)", "resumed", "trained"]
    assert (base / "sw" / "hidden-2" / "metrics.jsonl").read_text() == kept
    commands = [ln for ln in (base / "sw" / "hidden-4" / "train.log").read_text().splitlines() if ln.startswith("$ ")]
    assert "--run-dir" in commands[0] and "--resume" in commands[-1]
    assert (base / "sw" / "hidden-4" / "weights.safetensors").is_file()


def test_train_setting_axis_and_failed_variant(base: Path) -> None:
    """`--sweep lr=...` passes the flag; a variant that fails is reported with its exit code, the others run."""
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--sweep", "lr=0.05,-1",
                                 "--run-dir", "sw", "--root", "."])
    assert r.exit_code == 2, r.output  # lr -1 is a usage error of that variant's `modelspec train`
    rows = {row["lr"]: row for row in csv.DictReader(open(base / "sw" / "sweep.csv", encoding="utf-8"))}
    assert rows["0.05"]["status"] == "trained" and rows["-1"]["status"] == "failed (exit 2)"
    cfg = json.loads((base / "sw" / "lr-0.05" / "config.json").read_text())
    assert cfg["train"]["optimizer"]["lr"] == 0.05


@pytest.mark.parametrize("item,code,where", [
    ("hiden=2,4", "MS082", "<--sweep 1>:1:1"),
    ("hidden", "MS083", "<--sweep 1>:1:1"),
    ("hidden=2,,4", "MS083", "<--sweep 1>:1:1"),
])
def test_bad_sweep_items_are_located(base: Path, item: str, code: str, where: str) -> None:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--sweep", item, "--root", "."])
    assert r.exit_code == 2, r.output
    assert f"{where}: {code} error" in r.output, r.output
    if code == "MS082":
        assert "hidden" in r.output  # did you mean
    assert not (base / "runs").exists()


def test_a_value_the_spec_rejects_is_located_before_anything_trains(base: Path) -> None:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--sweep", "hidden=4,-3",
                                 "--root", "."])
    assert r.exit_code == 1, r.output
    assert "sweep variant hidden=-3" in r.output and "MS" in r.output
    assert not (base / "runs").exists()
