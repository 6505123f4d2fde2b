"""The run folder: everything needed to understand and repeat a run.

``runs/<name>-<timestamp>/`` (or ``--run-dir``) holds ``spec.yaml`` (the spec
text as trained, overrides noted at the top), ``spec.rendered.yaml`` when the
renderer is available, ``config.json`` (the resolved train config, data,
backend, versions), ``metrics.jsonl`` (one JSON object per epoch, and per N
batches with ``log_every``), ``learning_curve.png`` and the checkpoints; after
a resume that was allowed to change the spec or config, ``changes.jsonl`` and
``spec.resume-N.yaml``.  The files of the first start are never overwritten by
a resume: they are the record of what the run was.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable

from .plotter import PLOT_TMP, Plotter
from .storage import atomic_write, clean_temporaries, lock_folder, unlock_folder, write_error

#: files `atomic_write` replaces in a run folder: their temporaries are ours to clean
OWN_FILES = ["last.safetensors", "best.safetensors", "weights.safetensors", "spec.yaml", "spec.toml",
             "spec.rendered.yaml", "config.json", "metrics.jsonl"]


def new_path(name: str, base: str = "runs") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(base, f"{name}-{stamp}")
    k = 2
    while os.path.exists(path):
        path = os.path.join(base, f"{name}-{stamp}-{k}")
        k += 1
    return path


class RunDir:
    """Files of one run; a non-main process holds a RunDir that writes nothing."""

    def __init__(self, path: str, *, writer: bool = True) -> None:
        self.path = path
        self.writer = writer
        self._plot_warned = False
        self._plotter: Plotter | None = None
        self.rows = 0  # complete records in metrics.jsonl
        self._lock: int | None = None
        #: `loggers.Trackers` (TensorBoard, MLflow) that get every record metrics.jsonl gets
        self.trackers: Any = None
        if writer:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                raise write_error(path, exc) from None
            self._lock = lock_folder(path)
            self.rows = len(self.read_metrics())
            metrics = self.file("metrics.jsonl")
            if os.path.isfile(metrics) and os.path.getsize(metrics) and not _ends_with_newline(metrics):
                self.cut_metrics(self.rows, 0)  # a record a kill cut short: appending would glue onto it

    def close(self) -> None:
        """Let another process write here (the lock also ends with the process)."""
        if self._plotter is not None:  # the last picture is written while the folder is still ours
            self._plotter.finish()
        unlock_folder(self._lock)
        self._lock = None

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def clean(self) -> tuple[int, int]:
        """Remove the temporary files that killed writes left here; (files, bytes)."""
        if not self.writer:
            return 0, 0
        count, size = clean_temporaries(self.path, OWN_FILES)
        plot = self.file(PLOT_TMP)
        if os.path.isfile(plot) and not os.path.islink(plot):
            size += os.path.getsize(plot)
            os.unlink(plot)  # drawn in the background, it may be torn by any kill: removed, not counted
        return count, size

    @staticmethod
    def _spec_text(spec_path: str, text: str, overrides: dict[str, Any]) -> str:
        head = f"# trained from {spec_path}\n"
        if overrides:
            sets = " ".join(f"--set {k}={json.dumps(v)}" for k, v in overrides.items())
            head += f"# overrides: {sets}\n"
        return head + text

    def spec_name(self, spec_path: str) -> str:
        return "spec.toml" if spec_path.lower().endswith(".toml") else "spec.yaml"

    def write_spec(self, spec_path: str, text: str, overrides: dict[str, Any], rendered: str | None) -> None:
        if not self.writer:
            return
        atomic_write(self.file(self.spec_name(spec_path)), self._spec_text(spec_path, text, overrides).encode())
        if rendered is not None:
            atomic_write(self.file("spec.rendered.yaml"), rendered.encode("utf-8"))

    def write_config(self, config: dict[str, Any]) -> None:
        if self.writer:
            atomic_write(self.file("config.json"), (json.dumps(config, indent=2, default=str) + "\n").encode())

    def record_changes(self, spec_path: str, text: str, overrides: dict[str, Any], record: dict[str, Any]) -> str:
        """Keep the spec a resume was allowed to change as ``spec.resume-N``; log the change; its file name."""
        if not self.writer:
            return ""
        changes = self.file("changes.jsonl")
        n = 1
        if os.path.isfile(changes):
            with open(changes, encoding="utf-8") as fh:
                n += sum(1 for line in fh if line.strip())
        stem, ext = os.path.splitext(self.spec_name(spec_path))
        name = f"{stem}.resume-{n}{ext}"
        atomic_write(self.file(name), self._spec_text(spec_path, text, overrides).encode())
        self._append(changes, {"resume": n, "spec": name, **record})
        return name

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.file("metrics.jsonl")
        if not os.path.isfile(path):
            return []
        out = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a crash
                    if isinstance(row, dict):
                        out.append(row)
        return out

    def cut_metrics(self, rows: int | None, step: int) -> int:
        """On resume: keep what the checkpoint covers, the first ``rows`` records (older checkpoints:
        those up to ``step``); later ones are written again.  The number of records dropped."""
        if not self.writer:
            return 0
        have = self.read_metrics()
        keep = have[:rows] if rows is not None else [r for r in have if _step(r) <= step]
        path = self.file("metrics.jsonl")
        data = "".join(json.dumps(r) + "\n" for r in keep).encode()
        if keep != have or not os.path.isfile(path) or os.path.getsize(path) != len(data):
            atomic_write(path, data)  # also drops a line a kill cut short
        self.rows = len(keep)
        return len(have) - len(keep)

    def _append(self, path: str, record: dict[str, Any], sync: bool = False) -> None:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
        except OSError as exc:
            raise write_error(path, exc) from None

    def log(self, record: dict[str, Any], sync: bool = False) -> None:
        """Append a record; ``sync``: on disk before returning (an epoch's record, before its checkpoint)."""
        if not self.writer:
            return
        self._append(self.file("metrics.jsonl"), record, sync)
        self.rows += 1
        if self.trackers is not None:
            self.trackers.log(record)

    def sync_metrics(self) -> None:
        """Put every record on disk (before a checkpoint that says it covers them)."""
        path = self.file("metrics.jsonl")
        if not self.writer or not os.path.isfile(path):
            return
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_error(path, exc) from None

    def plot(self, warn: Any = None, wait: bool = False) -> None:
        """Redraw learning_curve.png from metrics.jsonl in the background (`plotter`); ``wait``: until it is
        on disk.  matplotlib is optional (told once)."""
        if not self.writer:
            return
        if self._plotter is None:
            self.start_plotter()
        assert self._plotter is not None
        rows = [r for r in self.read_metrics() if r.get("kind") == "epoch"]
        if rows:
            self._plotter.request(rows)
        if wait:
            self._plotter.wait()
        if self._plotter.missing and warn is not None and not self._plot_warned:
            warn("matplotlib is not installed: no learning_curve.png (pip install 'modelspec[plot]')")
            self._plot_warned = True
        if wait and warn is not None:
            for e in self._plotter.errors:
                warn(e)
            self._plotter.errors.clear()

    def start_plotter(self) -> None:
        """Start importing matplotlib in the background (rank 0), so the first picture costs the loop little."""
        if self.writer and self._plotter is None:
            self._plotter = Plotter(self.path)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _step(row: dict[str, Any]) -> int:
    value = row.get("step", 0)
    return value if isinstance(value, int) else 0


def records(rows: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("kind") == kind]
