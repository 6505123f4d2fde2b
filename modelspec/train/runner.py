"""`modelspec train` and `modelspec eval` as functions: set a run up, then hand it to the loop.

Setting up is where user errors surface (a bad flag, data that does not fit,
a checkpoint from another model): each raises one of the errors below and
becomes a one-line message and an exit code before any training starts.  A
checkpoint to resume is opened and checked first of all (`resume`), before
the data is read or the model built.  Exit codes: 0 done, 1 the loss became
nan/inf (the CLI also uses 1 for a spec with errors), 2 usage (a bad flag, no
such file, data that does not fit), 3 a checkpoint refused (damaged, bad
metadata, from another run), 4 a run file could not be written (disk full),
130/143 stopped by SIGINT/SIGTERM after saving.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..backends.jax import JaxEmitError
from ..backends.torch import TorchEmitError
from ..build import BuildError
from ..ir.graph import Graph
from ..ir.render import render_spec
from . import checkpoint as ckpt
from . import data as data_mod
from . import early_stop
from . import loggers
from . import predict as predict_mod
from . import sweep  # noqa: F401 - `train --sweep` reaches it through this module (cli loads one)
from .config import ConfigError, TrainConfig, resolve
from .distributed import Dist, env_rank, env_world, setup, teardown
from .engine import Loop, Position, evaluate_metrics
from .losses import plan as loss_plan
from .models import with_outputs
from .fingerprint import config_view, graph_changes, describe, listing
from .resume import Resume, open_resume, run_meta
from .rundir import RunDir, new_path
from .sources import DataError
from .storage import FolderBusy, WriteError
from .terminals import model_io
from .ui import UI, error, warning

EXIT_USAGE = 2
EXIT_CHECKPOINT = 3
EXIT_WRITE = 4
USER_ERRORS = (ConfigError, DataError, ckpt.CheckpointError, WriteError, FolderBusy)


def exit_code(exc: Exception) -> int:
    """The exit code of a user-facing error (see the module docstring)."""
    if isinstance(exc, WriteError):
        return EXIT_WRITE
    if isinstance(exc, ckpt.CheckpointError) and not isinstance(exc, ckpt.CheckpointNotFound):
        return EXIT_CHECKPOINT
    return EXIT_USAGE


@dataclass
class Request:
    """What the command line asked for."""

    spec: str
    graph: Graph
    overrides: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    backend: str = "torch"
    device: str = "cpu"
    dims: dict[str, int] = field(default_factory=dict)
    resume: str | None = None
    progress: bool = True
    flags: dict[str, Any] = field(default_factory=dict)  # epochs, batch_size, lr, optimizer, seed, ...
    on_batch: Any = None  # called after every batch with the Loop (tests: interrupt at a known step)
    allow_changes: bool = False  # --resume may go on with another spec or config (recorded in the run folder)
    loggers: list[str] = field(default_factory=list)  # --logger tensorboard | mlflow[=URI] (train/loggers.py)


def _trainer(backend: str, graph: Graph, cfg: TrainConfig, plan: Any, io: Any, dist: Dist, train: bool) -> Any:
    """The backend's trainer; a model the backend cannot emit is a user error, not a crash."""
    try:
        return _make_trainer(backend, graph, cfg, plan, io, dist, train)
    except (BuildError, JaxEmitError, TorchEmitError) as exc:
        raise ConfigError(f"cannot build {graph.name} for the {backend} backend: {exc}") from None


def _make_trainer(backend: str, graph: Graph, cfg: TrainConfig, plan: Any, io: Any, dist: Dist,
                  train: bool) -> Any:
    if backend == "torch":
        from .loop_torch import TorchTrainer  # lazy: torch

        return TorchTrainer(graph, cfg, plan, io, dist, train=train)
    if backend == "jax":
        if dist.active:
            raise ConfigError("multi-process training (torchrun) is supported with --backend torch only")
        from .loop_jax import JaxTrainer  # lazy: jax

        return JaxTrainer(graph, cfg, plan, io, dist, train=train)
    raise ConfigError(f"--backend must be torch or jax, not {backend!r}")


def _check_device(device: str, backend: str) -> None:
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, not {device!r}")
    if device == "cuda" and backend == "torch":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: PyTorch sees no CUDA device here")


def _source(req: Request, cfg: TrainConfig) -> str:
    source = req.data or cfg.data
    if not source:
        raise ConfigError("no data: pass --data (a .npz/.npy file, a .csv/.tsv table, an image folder, an MNIST or "
                          "CIFAR-10 folder, or `synthetic`) "
                          "or set `train.data` in the spec")
    return source


def _hint(req: Request, run_dir: str, source: str) -> str:
    args = ["modelspec", "train", req.spec, "--resume", run_dir, "--data", source, "--backend", req.backend]
    args += [a for k, v in req.overrides.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    args += [a for k, v in req.dims.items() for a in ("--dim", f"{k}={v}")]
    for flag, key in (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr"),
                      ("--optimizer", "optimizer"), ("--seed", "seed")):
        if req.flags.get(key) is not None:
            args += [flag, str(req.flags[key])]
    world = env_world()
    if world > 1:
        args = ["torchrun", "--nproc-per-node", str(world), "-m", "modelspec"] + args[1:]
    return " ".join(shlex.quote(a) for a in args)


def train(req: Request) -> int:
    """Run `modelspec train`; returns the exit code."""
    dist: Dist | None = None
    together = False  # every process ends by the same path: a barrier before the group goes is safe
    try:
        cfg = resolve(req.graph.train, req.flags)
        trackers = loggers.parse(req.loggers)
        _check_device(req.device, req.backend)
        world = env_world()
        if req.backend == "jax" and world > 1:
            raise ConfigError("multi-process training (torchrun) is supported with --backend torch only")
        source = _source(req, cfg)
        setup_view = config_view(cfg.model_dump(mode="json"), data=source, dims=req.dims, world=world)
        resumed = None
        if req.resume:  # first of all: a checkpoint that cannot be continued is refused before any set-up
            resumed = open_resume(str(req.resume), req.graph, cfg, backend=req.backend, setup=setup_view,
                                  rank=env_rank(), world=world, allow_changes=req.allow_changes)
        dist = setup(req.device if req.backend == "torch" else "cpu")
        ui = UI(enabled=dist.main, progress=req.progress)
        code = _train(req, cfg, dist, ui, source, setup_view, resumed, trackers)
        together = True  # a finished run, or a stop all processes agreed on (signals, bad losses)
        return code
    except USER_ERRORS as exc:
        error(str(exc))
        return exit_code(exc)
    finally:
        if dist is not None:
            teardown(dist, together)


def _train(req: Request, cfg: TrainConfig, dist: Dist, ui: UI, source: str, setup_view: dict[str, Any],
           resumed: Resume | None, trackers: list[tuple[str, str | None]] | None = None) -> int:
    if resumed is not None:
        run_dir = os.path.dirname(os.path.abspath(resumed.path))
    else:
        run_dir = req.flags.get("run_dir") or cfg.run_dir or new_path(req.graph.name)
    if cfg.batch_size % dist.world:
        raise ConfigError(f"--batch-size {cfg.batch_size} does not split over {dist.world} processes; "
                          "use a multiple of the number of processes")
    if resumed is None and os.path.isfile(os.path.join(run_dir, ckpt.LAST)):
        raise ConfigError(f"{run_dir} holds a run already ({ckpt.LAST}): continue it with --resume {run_dir}, "
                          "or choose another --run-dir")
    io = model_io(req.graph, cfg.output)
    plan = loss_plan(cfg.loss, io)
    if cfg.accumulate > cfg.batch_size // dist.world:
        raise ConfigError(f"`train.accumulate: {cfg.accumulate}` splits each batch into micro-batches; it cannot "
                          f"exceed the {cfg.batch_size // dist.world} samples of a batch per process")
    full = data_mod.load(source, io, loss=cfg.loss.name, split_name="train", seed=cfg.seed, dims=req.dims,
                         target=cfg.target, images=cfg.images, table=cfg.table)
    data_mod.with_augment(full, cfg)
    train_ds, val_ds = data_mod.split(full, cfg.val_split, cfg.seed)
    if cfg.early_stopping is not None:
        early_stop.check(cfg.early_stopping, val_ds is not None, cfg.loss.name)
    graph = with_outputs(req.graph, cfg.loss.activity_penalty.nodes if cfg.loss.activity_penalty else [])
    trainer = _trainer(req.backend, graph, cfg, plan, io, dist, train=True)
    pos = Position()
    if resumed is not None:
        meta = resumed.meta
        _with_hint(lambda: trainer.load_checkpoint(resumed.tensors, meta, resumed.path), meta, req.overrides)
        pos = resumed.pos
        if int(meta.get("n_train", len(train_ds))) != len(train_ds):
            ui.warn(f"the training data has {len(train_ds)} samples, the checkpoint saw {meta['n_train']}: "
                    "the run will not match an uninterrupted one")
    run = RunDir(run_dir, writer=dist.main)  # only now: nothing is written before the data and model are checked
    code = 1
    try:
        removed, size = run.clean()
        if removed:
            ui.message(f"note: removed {removed} temporary file(s) ({size / 2**20:.1f} MiB) that interrupted "
                       f"writes left in {run.path}")
        resolved = cfg.model_dump(mode="json")
        if dist.main:
            _write_run_files(req, run, resolved, source, dist, resumed, ui)
        for note in full.notes:
            ui.message(f"note: {note}")
        base_meta = {"backend": req.backend, "model": req.graph.name, "seed": str(cfg.seed),
                     "world": str(dist.world), "config": json.dumps(resolved), "n_train": str(len(train_ds)),
                     "batch_size": str(cfg.batch_size), "overrides": json.dumps(req.overrides),
                     **run_meta(req.graph, setup_view)}
        loop = Loop(trainer, cfg, train_ds, val_ds, dist, ui, run, base_meta, _hint(req, run.path, source), pos,
                    req.on_batch)
        n_params = sum(int(v.size) for k, v in trainer.model_tensors().items() if k in req.graph.param_names())
        if trackers and dist.main:
            run.trackers = _open_trackers(trackers, req, run, n_params, resumed, ui)
        ui.table(f"modelspec train: {req.graph.name}", [
            ("backend", f"{req.backend} on {dist.device}" + (f", {dist.world} processes" if dist.active else "")),
            ("parameters", f"{n_params:,}"),
            ("data", f"{source}: {len(train_ds)} train, {len(val_ds) if val_ds else 0} validation samples"),
            ("optimizer", f"{cfg.optimizer.name}, lr {cfg.optimizer.lr:g}, {cfg.schedule.name} schedule"),
            ("epochs", f"{cfg.epochs} x {loop.steps_per_epoch} steps of {cfg.batch_size}"
             + (f" (resuming at epoch {pos.epoch + 1}, batch {pos.batch})" if resumed else "")),
            ("run folder", run.path)] + ([("tracking", run.trackers.describe())] if run.trackers else []))
        with ui:
            code = loop.fit()
        if code == 0 and dist.main:
            ui.message(f"done: checkpoints {ckpt.LAST} and {ckpt.BEST}, final weights {ckpt.WEIGHTS}, metrics "
                       f"and learning curve in {run.path}")
        return code
    finally:
        if run.trackers is not None:
            run.trackers.close(code == 0)
        run.close()


def _open_trackers(kinds: list[tuple[str, str | None]], req: Request, run: RunDir, n_params: int,
                   resumed: Resume | None, ui: UI) -> Any:
    """TensorBoard / MLflow for this run, given the spec and config as the run folder records them."""
    name = run.spec_name(req.spec)
    with open(run.file(name), encoding="utf-8") as fh:
        spec_text = fh.read()
    with open(run.file("config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    info = loggers.RunInfo(run.path, req.graph.name, name, spec_text, config, n_params,
                           resumed.pos.step if resumed is not None else None)
    return loggers.open_trackers(kinds, info, ui.warn)


def _with_hint(load: Any, meta: dict[str, str], overrides: dict[str, Any]) -> None:
    """Run ``load``; when the checkpoint does not fit, say which --set values it was trained with."""
    try:
        load()
    except ckpt.CheckpointError as exc:
        trained = ckpt.meta_json(meta, "overrides", None, "checkpoint", dict)
        if trained is None or trained == overrides:
            raise
        sets = " ".join(f"--set {k}={json.dumps(v)}" for k, v in trained.items()) or "no --set values"
        raise ckpt.CheckpointError(f"{exc}\n  the checkpoint was trained with: {sets}") from None


def _write_run_files(req: Request, run: RunDir, resolved: dict[str, Any], source: str, dist: Dist,
                     resumed: Resume | None, ui: UI) -> None:
    """spec, rendering and config of a new run; on resume, the metrics cut back to the checkpoint and,
    when changes were allowed, the new spec kept beside the original with a record of what changed."""
    with open(req.spec, encoding="utf-8") as fh:
        text = fh.read()
    dropped = run.cut_metrics(resumed.rows if resumed else 0, resumed.pos.step if resumed else 0)
    if dropped:  # a fresh start: records of a run here that was killed before its first checkpoint
        ui.message(f"note: {dropped} metrics record(s) that no checkpoint covers were dropped; they are written "
                   "again")
    if resumed is not None:
        if resumed.changes:
            name = run.record_changes(req.spec, text, req.overrides, {
                "checkpoint": resumed.path, "epoch": resumed.pos.epoch, "batch": resumed.pos.batch,
                "step": resumed.pos.step, "changes": resumed.changes, "train": resolved, "data": source,
                "argv": sys.argv[1:], "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            ui.warn(f"resuming with changes (--allow-changes), recorded in {run.file('changes.jsonl')}, the new "
                    f"spec kept as {run.file(name)}:\n{listing(resumed.changes)}")
    # on resume, the record of how the run started stays as it was written (unless it was lost)
    if resumed is None or not os.path.isfile(run.file(run.spec_name(req.spec))):
        rendered = None
        try:
            rendered = render_spec(req.graph, "yaml")
        except Exception:  # noqa: BLE001 - the raw text is always kept; the rendering is a bonus
            rendered = None
        run.write_spec(req.spec, text, req.overrides, rendered)
    if resumed is not None and os.path.isfile(run.file("config.json")):
        return
    versions = {"python": platform.python_version()}
    for mod in ("torch", "jax", "optax", "numpy"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    run.write_config({"spec": os.path.abspath(req.spec), "model": req.graph.name, "backend": req.backend,
                      "device": req.device, "world_size": dist.world, "data": source, "dims": req.dims,
                      "overrides": req.overrides, "train": resolved, "versions": versions,
                      "argv": sys.argv[1:]})


def _eval_notes(path: str, meta: dict[str, str], graph: Graph) -> None:
    """Say what cannot be vouched for: an unverified file, or weights trained from another spec."""
    if ckpt.DIGEST not in meta:
        warning(f"{path} carries no digest (it was not written by modelspec's training loop, or by an older "
                "version): its content cannot be verified")
    old = ckpt.meta_json(meta, "ir", None, path, dict)
    if old is not None:
        changes = graph_changes(old, describe(graph))
        if changes:
            warning(f"{path} was trained from another spec; evaluating it with this one:\n{listing(changes)}")


def evaluate(req: Request, checkpoint: str, as_json: bool = False) -> int:
    """Run `modelspec eval`: a checkpoint (of either backend) on the test split of a source."""
    try:
        path = ckpt.locate(checkpoint)
        tensors, meta = ckpt.load(path)  # the digest is checked before anything is set up
        _eval_notes(path, meta, req.graph)
        section = dict(req.graph.train or {})
        trained = ckpt.meta_json(meta, "config", {}, path, dict)
        for key in ("seed", "loss", "output", "target", "augment", "images", "table"):  # as the run was trained
            if key in trained:
                section[key] = trained[key]
        cfg = resolve(section, req.flags)
        _check_device(req.device, req.backend)
        dist = Dist(device=req.device if req.backend == "torch" else "cpu")
        io = model_io(req.graph, cfg.output)
        plan = loss_plan(cfg.loss, io)
        source = _source(req, cfg)
        ds = data_mod.load(source, io, loss=cfg.loss.name, split_name="test", seed=cfg.seed, dims=req.dims,
                           target=cfg.target, images=cfg.images, table=cfg.table)
        data_mod.with_augment(ds, cfg)  # its normalisation; the random parts are for training only
        trainer = _trainer(req.backend, req.graph, cfg, plan, io, dist, train=False)
        _with_hint(lambda: trainer.load_weights(tensors, path), meta, req.overrides)
        metrics = evaluate_metrics(trainer, ds, cfg.batch_size, dist)
    except USER_ERRORS as exc:
        error(str(exc))
        return exit_code(exc)
    metrics = {"checkpoint": path, "backend": req.backend, "data": source, "samples": len(ds), **metrics}
    if as_json:
        print(json.dumps(metrics))
        return 0
    ui = UI(progress=False)
    rows = [("checkpoint", path), ("backend", req.backend), ("data", f"{source} ({len(ds)} samples)"),
            ("loss", f"{metrics['loss']:.4f}")]
    if metrics.get("acc") is not None:
        rows.append(("accuracy", f"{metrics['acc']:.4f}"))
    if metrics.get("acc_steps"):
        rows.append(("accuracy per step", " ".join(f"{v:.3f}" for v in metrics["acc_steps"])))
    ui.table(f"modelspec eval: {req.graph.name}", rows)
    return 0


def predict(req: Request, weights: str, output: str, split: str = "test") -> int:
    """Run `modelspec predict` (train/predict.py); returns the exit code."""
    try:
        if not output.lower().endswith(predict_mod.FORMATS):
            raise ConfigError(f"-o {output}: write .npz or .csv")
        if split not in ("train", "test"):
            raise ConfigError(f"--split must be train or test, not {split!r}")
        path = predict_mod.weights_file(weights)
        tensors, meta = ckpt.load(path)
        _eval_notes(path, meta, req.graph)
        section = dict(req.graph.train or {})
        trained = ckpt.meta_json(meta, "config", {}, path, dict)
        for key in ("seed", "output", "target"):
            if key in trained:
                section[key] = trained[key]
        cfg = resolve(section, req.flags)
        _check_device(req.device, "torch")
        io = model_io(req.graph, cfg.output)
        source = _source(req, cfg)
        ds, labelled = predict_mod.dataset(source, io, cfg, req.dims, split)
        trainer = _trainer("torch", req.graph, cfg, loss_plan(cfg.loss, io), io, Dist(device=req.device),
                           train=False)
        trainer.load_weights(tensors, path)
        result, target = predict_mod.outputs(trainer, ds, cfg.batch_size)
        try:
            predict_mod.write(output, result, target if labelled else None)
        except OSError as exc:
            raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from None
    except USER_ERRORS as exc:
        error(str(exc))
        return exit_code(exc)
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in result.items())
    print(f"predict: {len(ds)} samples of {source} through {path} -> {output} ({shapes})")
    return 0
