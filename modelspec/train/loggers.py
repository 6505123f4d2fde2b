"""Experiment trackers beside ``metrics.jsonl``: TensorBoard event files and MLflow runs (``--logger``).

``metrics.jsonl`` stays the record a run is resumed from; a tracker is a copy
for the tools people already watch.  Every record the run folder writes is
handed to each tracker (`RunDir.log`), so the trackers see exactly the
metrics the file holds: numbers as scalars at the record's optimiser step,
lists (per-step accuracy of a time model) as one scalar per entry
(``val_acc_steps/3``), booleans as 0/1.  At the start each tracker also gets
the spec text as trained, the resolved config and the parameter count.

* ``tensorboard``: event files in the run folder's ``tensorboard/`` (tensorboardX,
  the extra `tensorboard`; ``tensorboard --logdir runs/`` shows every run).  A
  resume purges the events after the checkpoint's step, as metrics.jsonl is cut.
* ``mlflow`` or ``mlflow=URI``: an MLflow run in the experiment named after the
  model (mlflow-skinny, the extra `mlflow`).  The store is ``URI``, else
  ``$MLFLOW_TRACKING_URI``, else ``mlruns/`` in the working directory.  The run
  id is kept in the run folder (``mlflow.json``), so a resume logs into the
  same MLflow run.

A tracker that cannot be set up (extra missing, store unreachable) is a usage
error before training starts; one that fails later is warned about once and
dropped: a dashboard is not worth losing a run for.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .config import ConfigError

KINDS = ("tensorboard", "mlflow")


@dataclass(frozen=True)
class RunInfo:
    """What every tracker records once, at the start."""

    folder: str
    model: str
    spec_name: str  # spec.yaml or spec.toml
    spec_text: str
    config: dict[str, Any]
    n_params: int
    resumed_step: int | None  # the checkpoint's step on resume, else None


class Tracker(Protocol):
    where: str  # for the run table: the event folder, the MLflow run and store

    def log(self, record: dict[str, Any]) -> None: ...

    def close(self, ok: bool) -> None: ...


def parse(items: list[str] | None) -> list[tuple[str, str | None]]:
    """``["tensorboard", "mlflow=sqlite:///m.db"]`` -> ``[("tensorboard", None), ("mlflow", "sqlite:///m.db")]``."""
    out: list[tuple[str, str | None]] = []
    for item in items or []:
        kind, sep, target = item.partition("=")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ConfigError(f"--logger {item!r}: choose tensorboard, mlflow or mlflow=URI")
        if kind == "tensorboard" and sep:
            raise ConfigError("--logger tensorboard writes into the run folder and takes no =TARGET")
        if any(k == kind for k, _ in out):
            raise ConfigError(f"--logger {kind} is given twice")
        out.append((kind, target.strip() or None if sep else None))
    return out


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of one metrics record under tracker names (``epoch/val_loss``, ``batch/lr``)."""
    prefix = "epoch" if record.get("kind") == "epoch" else "batch"
    out: dict[str, float] = {}
    for key, value in record.items():
        if key in ("kind", "step") or value is None:
            continue
        if isinstance(value, bool):
            out[f"{prefix}/{key}"] = float(value)
        elif isinstance(value, (int, float)):
            out[f"{prefix}/{key}"] = float(value)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[f"{prefix}/{key}/{i}"] = float(v)
    return out


def step_of(record: dict[str, Any]) -> int:
    step = record.get("step")
    return step if isinstance(step, int) else 0


def flat_config(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"optimizer": {"lr": 0.1}}`` -> ``{"optimizer.lr": "0.1"}`` (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_config(value, name + "."))
        else:
            out[name] = json.dumps(value) if not isinstance(value, str) else value
    return out


class TensorBoard:
    """Event files under ``<run>/tensorboard/``."""

    def __init__(self, info: RunInfo) -> None:
        try:
            from tensorboardX import SummaryWriter  # lazy: the `tensorboard` extra, only with --logger
        except ImportError:
            raise ConfigError("--logger tensorboard needs the `tensorboard` extra (tensorboardX): "
                              "pip install 'modelspec[tensorboard]'") from None
        self.path = os.path.join(info.folder, "tensorboard")
        purge = info.resumed_step + 1 if info.resumed_step is not None else None
        self.writer = SummaryWriter(self.path, purge_step=purge, flush_secs=30)
        self.where = f"TensorBoard {self.path}"
        if info.resumed_step is None:
            fence = "~~~~" if "```" in info.spec_text else "```"
            self.writer.add_text("spec", f"{fence}\n{info.spec_text}\n{fence}", 0)
            self.writer.add_text("config", f"```\n{json.dumps(info.config, indent=2, default=str)}\n```", 0)
            self.writer.add_scalar("model/parameters", info.n_params, 0)

    def log(self, record: dict[str, Any]) -> None:
        step = step_of(record)
        for name, value in scalars(record).items():
            self.writer.add_scalar(name, value, step)

    def close(self, ok: bool) -> None:
        self.writer.close()


class MLflow:
    """One MLflow run per run folder (its id kept in ``mlflow.json``)."""

    RECORD = "mlflow.json"

    def __init__(self, info: RunInfo, uri: str | None) -> None:
        uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "file:" + os.path.abspath("mlruns")
        if uri.startswith("file:") or "://" not in uri:
            # MLflow keeps its file store in maintenance mode and refuses it unless asked; the local
            # default of this command is that store, so it is asked for (other stores: pass a URI)
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            from mlflow.tracking import MlflowClient  # lazy: the `mlflow` extra, only with --logger
        except ImportError:
            raise ConfigError("--logger mlflow needs the `mlflow` extra (mlflow-skinny): "
                              "pip install 'modelspec[mlflow]'") from None
        record = os.path.join(info.folder, self.RECORD)
        try:
            self.client = MlflowClient(tracking_uri=uri)
            run_id = _read_run_id(record, uri) if info.resumed_step is not None else None
            if run_id is None:
                exp = self.client.get_experiment_by_name(info.model)
                exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(info.model)
                run = self.client.create_run(exp_id, run_name=os.path.basename(os.path.normpath(info.folder)),
                                             tags={"modelspec.run_folder": os.path.abspath(info.folder)})
                run_id = run.info.run_id
                self._start(run_id, info)
            else:
                self.client.update_run(run_id, status="RUNNING")
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - an unreachable or broken store is a usage problem
            raise ConfigError(f"--logger mlflow: cannot open the MLflow store {uri}: {exc}") from None
        self.run_id = run_id
        self.uri = uri
        self.where = f"MLflow run {run_id} in {uri}"
        with open(record, "w", encoding="utf-8") as fh:
            json.dump({"tracking_uri": uri, "run_id": run_id}, fh)

    def _start(self, run_id: str, info: RunInfo) -> None:
        from mlflow.entities import Param  # lazy: the `mlflow` extra

        params = {k: v[:500] for k, v in flat_config(info.config).items()}
        params["parameters"] = str(info.n_params)
        self.client.log_batch(run_id, params=[Param(k, v) for k, v in sorted(params.items())])
        self.client.log_text(run_id, info.spec_text, info.spec_name)
        self.client.log_dict(run_id, info.config, "config.json")

    def log(self, record: dict[str, Any]) -> None:
        from mlflow.entities import Metric  # lazy: the `mlflow` extra

        step = step_of(record)
        stamp = int(time.time() * 1000)
        metrics = [Metric(k.replace("/", "."), v, stamp, step) for k, v in scalars(record).items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def close(self, ok: bool) -> None:
        self.client.set_terminated(self.run_id, status="FINISHED" if ok else "KILLED")


def _read_run_id(path: str, uri: str) -> str | None:
    """The MLflow run this folder logged into, when it was the same store."""
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None
    return rec.get("run_id") if isinstance(rec, dict) and rec.get("tracking_uri") == uri else None


class Trackers:
    """The trackers of one run; `RunDir.log` calls `log`, the runner calls `close`."""

    def __init__(self, items: list[Tracker], warn: Callable[[str], None]) -> None:
        self.items = items
        self.warn = warn

    def describe(self) -> str:
        return ", ".join(t.where for t in self.items)

    def log(self, record: dict[str, Any]) -> None:
        for t in list(self.items):
            try:
                t.log(record)
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                self.warn(f"{type(t).__name__} logging failed and is switched off for this run: {exc}")
                self.items.remove(t)

    def close(self, ok: bool) -> None:
        for t in self.items:
            try:
                t.close(ok)
            except Exception as exc:  # noqa: BLE001
                self.warn(f"closing {type(t).__name__} failed: {exc}")
        self.items = []


def open_trackers(kinds: list[tuple[str, str | None]], info: RunInfo, warn: Callable[[str], None]) -> Trackers:
    items: list[Tracker] = []
    try:
        for kind, target in kinds:
            items.append(TensorBoard(info) if kind == "tensorboard" else MLflow(info, target))
    except ConfigError:
        for t in items:
            t.close(False)
        raise
    return Trackers(items, warn)
