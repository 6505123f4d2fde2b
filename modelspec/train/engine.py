"""The training loop itself, the same for both backends.

It owns the order of things: epochs and batches (from `data`), the learning
rate (from `optim`), stop requests and bad losses (checked at every batch
boundary, agreed on by all processes), validation, metrics, checkpoints.  The
backend trainer (`loop_torch`, `loop_jax`) only runs steps and moves state.

Loss values are read one batch late, so a JAX step can be dispatched before
the previous one has finished; a bad loss is still caught before anything is
saved, because checkpoints are written only after every pending value is read.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import checkpoint as ckpt
from . import early_stop
from .config import TrainConfig
from .data import Dataset, batch_indices, epoch_order
from .distributed import Dist, all_gather, all_sum, any_flags, barrier
from .optim import lr_at
from .rundir import RunDir
from .signals import StopRequest, signal_name
from .storage import WriteError
from .ui import UI, error

EXIT_BAD_LOSS = 1
PLOT_EVERY_S = 30.0  # redraw learning_curve.png at most this often (and after the last epoch)


def _zero_sums() -> dict[str, float]:
    return {"loss": 0.0, "correct": 0.0, "count": 0.0}


@dataclass
class Position:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0  # the epoch in progress (0-based); == epochs when done
    batch: int = 0  # batches done in that epoch
    step: int = 0  # optimiser steps done
    best: float = math.inf  # best validation (or training) loss so far
    #: this process's running sums over the batches done in the epoch (the running average of the records)
    sums: dict[str, float] = field(default_factory=_zero_sums)
    watch: early_stop.Watch = field(default_factory=early_stop.Watch)  # early stopping's best and patience

    def meta(self, all_sums: list[dict[str, float]]) -> dict[str, str]:
        """Metadata; ``all_sums``: every process's sums, in rank order (each resumes its own)."""
        return {"epoch": str(self.epoch), "batch": str(self.batch), "step": str(self.step),
                "best": json.dumps(self.best if math.isfinite(self.best) else None), "sums": json.dumps(all_sums),
                "early_stop": json.dumps(self.watch.meta())}

    @classmethod
    def from_meta(cls, meta: dict[str, str], path: str, rank: int = 0, world: int = 1) -> "Position":
        """The position a checkpoint records; a bad value is a `CheckpointError` naming the key."""
        best = ckpt.meta_number(meta, "best", path)
        raw = ckpt.meta_json(meta, "sums", None, path, (list, dict))
        per_rank = [raw] if isinstance(raw, dict) else list(raw or [])
        for item in per_rank:
            if not (isinstance(item, dict) and set(item) <= {"loss", "correct", "count"}
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                            for v in item.values())):
                raise ckpt.CheckpointError(f"{path}: metadata `sums` is not a list of running sums; the file is "
                                           "damaged or was not written by modelspec")
        if len(per_rank) == world:
            sums = per_rank[rank]
        else:  # another number of processes: the first one carries everything done so far
            sums = {k: sum(float(s.get(k, 0.0)) for s in per_rank) for k in _zero_sums()} if rank == 0 else {}
        watch = early_stop.Watch.from_meta(ckpt.meta_json(meta, "early_stop", None, path, dict))
        return cls(ckpt.meta_int(meta, "epoch", path, 0), ckpt.meta_int(meta, "batch", path, 0),
                   ckpt.meta_int(meta, "step", path, 0), math.inf if best is None else best,
                   {**_zero_sums(), **{k: float(v) for k, v in sums.items()}}, watch)


@dataclass
class Loop:
    trainer: Any
    cfg: TrainConfig
    train: Dataset
    val: Dataset | None
    dist: Dist
    ui: UI
    run: RunDir
    base_meta: dict[str, str]
    resume_hint: str
    pos: Position = field(default_factory=Position)
    on_batch: Callable[["Loop"], None] | None = None  # test hook
    _plotted: float = -math.inf

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.train) // self.cfg.batch_size)

    # -- checkpoints --------------------------------------------------------------------------------------------
    def save(self, names: tuple[str, ...] = (ckpt.LAST,)) -> None:
        """Rank 0 writes; every rank takes part in gathering the state (per-rank generators and sums).

        The checkpoint records how many metrics rows it covers (they are on disk
        first), so a resume can cut metrics.jsonl back to exactly its state.
        ``names`` are written in order: `BEST` before `LAST`, since `LAST` is
        what marks the epoch done."""
        tensors, meta = self.trainer.checkpoint_state()
        all_sums = all_gather(self.dist, dict(self.pos.sums))
        if self.dist.main:
            self.run.sync_metrics()
            meta.update(self.base_meta)
            meta.update(self.pos.meta(all_sums))
            meta["metrics_rows"] = str(self.run.rows)
            for name in names:
                ckpt.save(self.run.file(name), tensors, meta)
        barrier(self.dist)

    # -- the loop -----------------------------------------------------------------------------------------------
    def fit(self) -> int:
        """Train to ``cfg.epochs``; the exit code (0, 130/143 after a signal, 1 after a bad loss)."""
        if self.dist.main:
            self.run.start_plotter()  # matplotlib loads in the background while the first epoch trains
        try:
            with StopRequest(self._on_signal) as stop:
                self.ui.start_run(self.cfg.epochs, self.pos.epoch)
                while self.pos.epoch < self.cfg.epochs and not early_stop.done(self.cfg.early_stopping, self.pos.watch):
                    code = self._epoch(stop)
                    if code:
                        return code
                if self.pos.epoch < self.cfg.epochs:
                    self._stopped_early()
                    self.run.plot(self.ui.warn)
            if self.dist.main:  # the final model alone, plain state_dict names: for params.load, other tools
                ckpt.save(self.run.file(ckpt.WEIGHTS), self.trainer.model_tensors(),
                          {"model": self.base_meta.get("model", ""), "epoch": str(self.pos.epoch)})
                self.run.plot(self.ui.warn, wait=True)  # the final picture is on disk when the run ends
        except WriteError as exc:
            if os.path.isfile(self.run.file(ckpt.LAST)):
                raise WriteError(f"{exc}\nthe run can go on from {self.run.file(ckpt.LAST)}: {self.resume_hint}",
                                 disk_full=exc.disk_full) from None
            raise
        return 0

    def _stopped_early(self) -> None:
        es, watch = self.cfg.early_stopping, self.pos.watch
        assert es is not None
        self.ui.message(f"early stopping after epoch {self.pos.epoch}: {es.metric} has not improved by more than "
                        f"{es.min_delta:g} for {watch.stale} epoch(s) (best {watch.best:.6g})")

    def _on_signal(self, signum: int) -> None:
        self.ui.message(f"\n{signal_name(signum)} received: saving a checkpoint at the end of this batch "
                        "(press Ctrl-C again to quit at once)")

    def _epoch(self, stop: StopRequest) -> int:
        """One epoch from ``pos.batch`` on.  The hot loop only dispatches steps: their losses are read (one
        host sync) when the progress bar, a batch record or the epoch's end needs them, and under several
        processes at every batch boundary, where stop requests and bad losses are agreed on."""
        cfg, pos, dist = self.cfg, self.pos, self.dist
        n, B = len(self.train), cfg.batch_size
        order = epoch_order(n, cfg.seed, pos.epoch)
        mine = batch_indices(order, B, dist.rank, dist.world)
        sizes = [min(B, n - s) for s in range(0, n, B)]
        total = cfg.epochs * self.steps_per_epoch
        self.ui.start_epoch(pos.epoch, cfg.epochs, len(mine), pos.batch)
        t0, seen = time.perf_counter(), 0
        local = pos.sums  # restored by a resume in the middle of an epoch: the running average goes on
        window: list[tuple[Any, int, int, int]] = []  # dispatched steps whose losses are not read yet
        bad: str | None = None
        every_batch = dist.active or self.on_batch is not None
        log_every = cfg.log_every if dist.main else None
        repeat, trainer = self.train.repeat, self.trainer
        ahead = None  # the next epoch's batches: an image folder's workers decode on across the boundary
        if pos.epoch + 1 < cfg.epochs and not isinstance(self.train, Dataset):
            ahead = (batch_indices(epoch_order(n, cfg.seed, pos.epoch + 1), B, dist.rank, dist.world), pos.epoch + 1)
        feed = trainer.batches(self.train, mine, train=True, epoch=pos.epoch, first=pos.batch, ahead=ahead)
        try:
            for k in range(pos.batch, len(mine)):
                if every_batch:
                    sig, nonfinite = any_flags(dist, [stop.signum or 0, 1 if bad else 0])
                    if sig or nonfinite:
                        break
                elif stop.signum or bad:
                    break
                x, y = next(feed)
                lr = lr_at(cfg, pos.step, total)
                window.append((trainer.train_batch(x, y, repeat, lr, dist.world / sizes[k], pos.step),
                               len(mine[k]), k, pos.step + 1))
                pos.step += 1
                pos.batch = k + 1
                seen += sizes[k]
                logs = bool(log_every) and pos.step % log_every == 0  # type: ignore[operator]
                if every_batch or logs or self.ui.due():
                    bad = self._flush(window, local, keep=1) or bad
                    self._show(local, seen, t0, k + 1)
                    if logs:
                        self._log_batch(local, lr)
                if self.on_batch is not None:
                    self.on_batch(self)
        finally:
            close = getattr(feed, "close", None)
            if close is not None:
                close()  # stops a DataLoader's workers when the epoch ends early
        if window:
            bad = self._flush(window, local, keep=0) or bad
            self._show(local, seen, t0, pos.batch, force=True)
        sig, nonfinite = any_flags(dist, [stop.signum or 0, 1 if bad else 0])
        if nonfinite:
            return self._bad_loss(bad)
        if sig:
            return self._interrupted(sig)
        return self._end_epoch(time.perf_counter() - t0, seen, lr_at(cfg, max(0, pos.step - 1), total))

    def _flush(self, window: list[tuple[Any, int, int, int]], local: dict[str, float], keep: int) -> str | None:
        """Read the losses of all but the last ``keep`` steps of ``window`` in one host sync, in step order;
        the first that is not finite, described."""
        todo = window[: len(window) - keep]
        if not todo:
            return None
        del window[: len(todo)]
        bad: str | None = None
        for (_, count, k, step), (loss, correct) in zip(todo, self.trainer.resolve_many([t[0] for t in todo])):
            if not math.isfinite(loss):
                bad = bad or f"the loss became {loss} at epoch {self.pos.epoch + 1}, batch {k + 1} (step {step})"
                continue
            local["loss"] += loss
            local["count"] += count
            if correct is not None:
                local["correct"] += correct
        return bad

    def _show(self, local: dict[str, float], seen: int, t0: float, done: int, force: bool = False) -> None:
        if local["count"]:
            acc = local["correct"] / local["count"] if self.cfg.loss.name == "cross_entropy" else None
            rate = seen / max(1e-9, time.perf_counter() - t0)
            self.ui.batch(done, local["loss"] / local["count"], acc, rate, force=force)

    def _log_batch(self, local: dict[str, float], lr: float) -> None:
        c = local["count"]  # losses are read a batch late: none yet at the first batch of an epoch
        self.run.log({"kind": "batch", "epoch": self.pos.epoch + 1, "batch": self.pos.batch, "step": self.pos.step,
                      "loss": local["loss"] / c if c else None, "lr": lr,
                      "acc": local["correct"] / c if c and self.cfg.loss.name == "cross_entropy" else None})

    def _bad_loss(self, what: str | None) -> int:
        where = self.run.file(ckpt.LAST)
        kept = f"the last good checkpoint is kept: {where}" if os.path.isfile(where) else \
            "no checkpoint had been written yet"
        msg = (f"{what or 'the loss became nan or inf'}; training stopped, {kept}. "
               "Lower the learning rate (--lr) or set `clip_grad_norm`.")
        if self.dist.main:
            error(msg)
        return EXIT_BAD_LOSS

    def _interrupted(self, signum: int) -> int:
        self.save()
        if self.dist.main:
            self.run.plot(self.ui.warn, wait=True)
        self.ui.message(f"{signal_name(signum)}: stopped at epoch {self.pos.epoch + 1}, batch {self.pos.batch}; "
                        f"checkpoint saved to {self.run.file(ckpt.LAST)}\n"
                        f"resume with: {self.resume_hint}")
        return 128 + signum

    def _end_epoch(self, seconds: float, seen: int, lr: float) -> int:
        pos, cfg = self.pos, self.cfg
        sums = all_sum(self.dist, {k: np.asarray(v) for k, v in pos.sums.items()})
        count = max(1.0, float(sums["count"]))
        row: dict[str, Any] = {"kind": "epoch", "epoch": pos.epoch + 1, "step": pos.step,
                               "train_loss": float(sums["loss"]) / count,
                               "train_acc": float(sums["correct"]) / count if cfg.loss.name == "cross_entropy"
                               else None}
        if self.val is not None:
            row.update(evaluate_metrics(self.trainer, self.val, cfg.batch_size, self.dist, prefix="val_"))
        row.update(lr=lr)
        score = row.get("val_loss", row["train_loss"])
        row["best"] = bool(score < pos.best)
        row.update(wall_time_s=round(seconds, 3), wall_samples_per_s=seen / max(seconds, 1e-9))  # the clock's
        if row["best"]:
            pos.best = score
        if cfg.early_stopping is not None:
            early_stop.update(cfg.early_stopping, pos.watch, float(row[cfg.early_stopping.metric]))
        pos.epoch += 1
        pos.batch = 0
        pos.sums = _zero_sums()
        if self.dist.main:
            self.run.log(row, sync=True)  # the record first: the checkpoint that marks the epoch done covers it
        self.save((ckpt.BEST, ckpt.LAST) if row["best"] else (ckpt.LAST,))
        if self.dist.main:
            now = time.monotonic()
            if pos.epoch == cfg.epochs or now - self._plotted > PLOT_EVERY_S:  # drawn in the background
                self.run.plot(self.ui.warn)
                self._plotted = now
        self.ui.end_epoch()
        self.ui.epoch_table(row, cfg.epochs)
        return 0


def evaluate_metrics(trainer: Any, ds: Dataset, batch_size: int, dist: Dist, prefix: str = "") -> dict[str, Any]:
    """Loss and accuracy over ``ds`` (and per step for time models), summed over all processes."""
    order = np.arange(len(ds))
    sums = all_sum(dist, trainer.evaluate(ds, batch_indices(order, batch_size, dist.rank, dist.world)))
    count = max(1.0, float(sums.get("count", 0.0)))
    out: dict[str, Any] = {f"{prefix}loss": float(sums.get("loss", 0.0)) / count}
    out[f"{prefix}acc"] = float(sums["correct"]) / count if "correct" in sums else None
    if "loss_steps" in sums:
        out[f"{prefix}loss_steps"] = [round(float(v) / count, 6) for v in np.atleast_1d(sums["loss_steps"])]
    if "correct_steps" in sums:
        out[f"{prefix}acc_steps"] = [round(float(v) / count, 6) for v in np.atleast_1d(sums["correct_steps"])]
    return out
