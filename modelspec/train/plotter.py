"""learning_curve.png drawn off the training loop's critical path, in one background thread.

Importing matplotlib and drawing a figure cost about as much as a few
seconds of a small model's training; done inline, they lengthen every run.
The thread imports matplotlib as soon as the run starts and redraws when
asked (the latest request wins; requests are epoch records, copied, so the
thread never reads a file the loop is writing).  `finish` waits for the last
drawing, so the picture of the final epoch is on disk when `train` returns.
matplotlib is optional: without it `finish` reports so once, and nothing
else happens.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

PLOT_TMP = "learning_curve.png.tmp.png"


class Plotter:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._cv = threading.Condition()
        self._todo: list[dict[str, Any]] | None = None
        self._busy = False
        self._closed = False
        self.missing = False  # matplotlib is not installed
        self.errors: list[str] = []  # write errors, reported by the loop's thread
        self._thread = threading.Thread(target=self._serve, name="modelspec-plot", daemon=True)
        self._thread.start()

    def request(self, rows: list[dict[str, Any]]) -> None:
        """Redraw from these epoch records (a copy is kept); returns at once."""
        with self._cv:
            self._todo = [dict(r) for r in rows]
            self._cv.notify()

    def wait(self) -> None:
        """Until every request so far is drawn."""
        with self._cv:
            while (self._todo is not None or self._busy) and self._thread.is_alive():
                self._cv.wait(0.05)

    def finish(self, warn: Callable[[str], None] | None = None) -> None:
        self.wait()
        with self._cv:
            self._closed = True
            self._cv.notify()
        if warn is not None:
            for e in self.errors:
                warn(e)
        self.errors.clear()

    def _serve(self) -> None:
        try:
            import matplotlib  # lazy: optional, and slow to import; in this thread, off the critical path

            matplotlib.use("Agg")
            from matplotlib.figure import Figure
        except ImportError:
            self.missing = True
            return
        while True:
            with self._cv:
                while self._todo is None and not self._closed:
                    self._cv.wait()
                if self._todo is None:
                    return
                rows, self._todo, self._busy = self._todo, None, True
            try:
                self._draw(Figure, rows)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _draw(self, figure: Any, rows: list[dict[str, Any]]) -> None:
        fig = figure(figsize=(9, 3.5))  # no pyplot: a bare Figure is safe off the main thread
        axes = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.95, wspace=0.28)  # tight_layout costs more
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
        out = os.path.join(self.folder, "learning_curve.png")
        tmp = os.path.join(self.folder, PLOT_TMP)
        try:
            fig.savefig(tmp, dpi=100)
            os.replace(tmp, out)
        except OSError as exc:  # a picture is not worth stopping a run for; the checkpoints will tell
            self.errors.append(f"cannot write {out}: {exc.strerror or exc}")
