"""`modelspec train --logger tensorboard|mlflow`: the event files and the MLflow store, read back, hold
what metrics.jsonl holds (every metric, at its step), the spec text, the config and the parameter
count worked out by hand; a resume logs into the same MLflow run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorboardX")
pytest.importorskip("mlflow")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from tests.helpers import tiny, tiny_data  # noqa: E402
from tests.tfevents import read_events, scalars  # noqa: E402

SPEC = tiny("batch_size: 16\nval_split: 0.25")
N_PARAMS = 6 * 5 + 5 + 5 * 3 + 3


def texts(events: list[Any]) -> dict[str, str]:
    out = {}
    for ev in events:
        for v in ev.summary.value:
            if v.HasField("tensor") and v.tensor.string_val:
                out[v.tag] = v.tensor.string_val[0].decode()
    return out


def metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def expected(rows: list[dict[str, Any]], sep: str) -> dict[str, dict[int, float]]:
    """Every number of metrics.jsonl under its tracker name, at the record's step."""
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        prefix = "epoch" if r["kind"] == "epoch" else "batch"
        for k, v in r.items():
            if k in ("kind", "step") or v is None:
                continue
            items = [(f"{prefix}{sep}{k}", v)] if not isinstance(v, list) else \
                [(f"{prefix}{sep}{k}{sep}{i}", x) for i, x in enumerate(v)]
            for name, x in items:
                out.setdefault(name, {})[r["step"]] = float(x)
    return out


@pytest.fixture()
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tiny.yaml").write_text(SPEC)
    tiny_data(tmp_path / "data.npz", 64, seed=1, label=(0, 2))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def train(*extra: str) -> None:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--run-dir", "run", "--root", ".",
                                 "--no-progress", "--log-every", "2", *extra])
    assert r.exit_code == 0, r.output


def test_tensorboard_event_files_hold_the_metrics_spec_and_config(base: Path) -> None:
    train("--epochs", "2", "--logger", "tensorboard")
    rows = metrics(base / "run")
    assert {r["kind"] for r in rows} == {"epoch", "batch"}
    events = read_events(base / "run" / "tensorboard")
    got = scalars(events)
    want = expected(rows, "/")
    assert set(want) <= set(got)
    for name, series in want.items():
        assert got[name].keys() == series.keys(), name
        for step, value in series.items():
            assert got[name][step] == pytest.approx(value, rel=1e-6, abs=1e-7), (name, step)
    assert got["model/parameters"] == {0: float(N_PARAMS)}
    text = texts(events)
    assert (base / "run" / "spec.yaml").read_text() in text["spec/text_summary"]
    config = json.loads((base / "run" / "config.json").read_text())
    assert json.dumps(config["train"]["optimizer"], indent=2).splitlines()[1].strip() in text["config/text_summary"]


def test_mlflow_store_holds_the_metrics_and_a_resume_continues_the_run(base: Path) -> None:
    from mlflow.tracking import MlflowClient

    train("--epochs", "1", "--logger", "mlflow")  # the default store: mlruns/ in the working directory
    assert (base / "mlruns").is_dir()
    uri = json.loads((base / "run" / "mlflow.json").read_text())["tracking_uri"]
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("Tiny")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["parameters"] == str(N_PARAMS)
    assert float(run.data.params["train.optimizer.lr"]) == json.loads((base / "run" / "config.json").read_text())[
        "train"]["optimizer"]["lr"]
    spec = client.download_artifacts(run.info.run_id, "spec.yaml", str(base / "dl"))
    assert Path(spec).read_text() == (base / "run" / "spec.yaml").read_text()

    # go on for a second epoch: the same MLflow run, every metric once per step
    train("--epochs", "2", "--logger", "mlflow", "--resume", "run", "--allow-changes")
    (again,) = client.search_runs([exp.experiment_id])
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    want = expected(metrics(base / "run"), ".")
    for name, series in want.items():
        history = client.get_metric_history(run.info.run_id, name)
        by_step: dict[int, list[float]] = {}
        for m in history:
            by_step.setdefault(m.step, []).append(m.value)
        assert sorted(by_step) == sorted(series), name
        for step, value in series.items():
            assert by_step[step][-1] == pytest.approx(value, rel=1e-9), (name, step)


def test_bad_logger_is_a_usage_error(base: Path) -> None:
    r = CliRunner().invoke(app, ["train", "tiny.yaml", "--data", "data.npz", "--logger", "wandb", "--root", "."])
    assert r.exit_code == 2 and "choose tensorboard, mlflow or mlflow=URI" in r.output
    assert not (base / "runs").exists()
