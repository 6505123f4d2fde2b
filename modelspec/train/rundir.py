"""The run folder: everything needed to understand and repeat a run.

``runs/<name>-<timestamp>/`` (or ``--run-dir``) holds ``spec.yaml`` (the spec
text as trained, overrides noted at the top), ``spec.rendered.yaml`` when the
renderer is available, ``config.json`` (the resolved train config, data,
backend, versions), ``metrics.jsonl`` (one JSON object per epoch, and per N
batches with ``log_every``), ``learning_curve.png`` and the checkpoints.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable

from .checkpoint import atomic_write


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
        if writer:
            os.makedirs(path, exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def write_spec(self, spec_path: str, text: str, overrides: dict[str, Any], rendered: str | None) -> None:
        if not self.writer:
            return
        ext = ".toml" if spec_path.lower().endswith(".toml") else ".yaml"
        head = f"# trained from {spec_path}\n"
        if overrides:
            sets = " ".join(f"--set {k}={json.dumps(v)}" for k, v in overrides.items())
            head += f"# overrides: {sets}\n"
        atomic_write(self.file("spec" + ext), (head + text).encode("utf-8"))
        if rendered is not None:
            atomic_write(self.file("spec.rendered.yaml"), rendered.encode("utf-8"))

    def write_config(self, config: dict[str, Any]) -> None:
        if self.writer:
            atomic_write(self.file("config.json"), (json.dumps(config, indent=2, default=str) + "\n").encode())

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
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue  # a line cut short by a crash
        return out

    def keep_metrics_until(self, step: int) -> None:
        """On resume: drop records written after the checkpoint (they will be written again)."""
        if not self.writer:
            return
        rows = [r for r in self.read_metrics() if int(r.get("step", 0)) <= step]
        atomic_write(self.file("metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in rows).encode())

    def log(self, record: dict[str, Any]) -> None:
        if not self.writer:
            return
        with open(self.file("metrics.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()

    def plot(self, warn: Any = None) -> str | None:
        """learning_curve.png from metrics.jsonl; matplotlib is optional (told once)."""
        if not self.writer:
            return None
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            if warn is not None and not self._plot_warned:
                warn("matplotlib is not installed: no learning_curve.png (pip install 'modelspec[plot]')")
            self._plot_warned = True
            return None
        rows = [r for r in self.read_metrics() if r.get("kind") == "epoch"]
        if not rows:
            return None
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        ep = [r["epoch"] for r in rows]
        for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
            for split in ("train", "val"):
                ys = [r.get(f"{split}_{key}") for r in rows]
                if any(v is not None for v in ys):
                    ax.plot(ep, [float("nan") if v is None else v for v in ys], marker="o", label=split)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend()
        fig.tight_layout()
        out = self.file("learning_curve.png")
        tmp = out + ".tmp.png"
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        os.replace(tmp, out)
        return out


def records(rows: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("kind") == kind]
