"""What a user watches during a run: rich progress bars and a table per epoch.

One `Progress` lives for the whole run with two bars, epochs and the current
epoch's batches (with loss, accuracy and samples per second).  Tables and
messages print above the bars.  ``progress=False`` keeps the tables and drops
the bars (for logs and benchmarks); ``enabled=False`` (non-main ranks) is silent.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn
from rich.table import Table


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


class UI:
    """Progress bars, per-epoch tables and messages (main process only)."""

    def __init__(self, *, enabled: bool = True, progress: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.show_bars = enabled and progress
        self._progress: Progress | None = None
        self._epochs: TaskID | None = None
        self._batches: TaskID | None = None
        self._t_last = 0.0

    # -- lifetime -------------------------------------------------------------------------------------------
    def __enter__(self) -> "UI":
        if self.show_bars:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=self.console, refresh_per_second=4, transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    # -- bars -----------------------------------------------------------------------------------------------
    def start_run(self, epochs: int, done: int) -> None:
        if self._progress is not None:
            self._epochs = self._progress.add_task("epochs", total=epochs, completed=done, info="")

    def start_epoch(self, epoch: int, epochs: int, batches: int, done: int = 0) -> None:
        if self._progress is None:
            return
        desc = f"epoch {epoch + 1}/{epochs}"
        if self._batches is None:
            self._batches = self._progress.add_task(desc, total=batches, completed=done, info="")
        else:
            self._progress.reset(self._batches, total=batches, completed=done, description=desc, info="")
        self._t_last = 0.0

    def due(self) -> bool:
        """Whether the batch bar would redraw now (the loop reads losses only then)."""
        return self._progress is not None and time.perf_counter() - self._t_last >= 0.2

    def batch(self, done: int, loss: float, acc: float | None, samples_per_s: float, force: bool = False) -> None:
        """Update the batch bar; throttled to ~5 updates a second (rich redraws at 4)."""
        if self._progress is None or self._batches is None:
            return
        now = time.perf_counter()
        if not force and now - self._t_last < 0.2:
            return
        self._t_last = now
        info = f"loss {loss:.4f}" + (f"  acc {acc:.3f}" if acc is not None else "")
        info += f"  {samples_per_s:,.0f} samples/s"
        self._progress.update(self._batches, completed=done, info=info)

    def end_epoch(self) -> None:
        if self._progress is not None and self._epochs is not None:
            self._progress.advance(self._epochs)

    # -- text -----------------------------------------------------------------------------------------------
    def epoch_table(self, row: dict[str, Any], epochs: int) -> None:
        if not self.enabled:
            return
        t = Table(title=f"epoch {row['epoch']}/{epochs}", title_justify="left", show_edge=False, pad_edge=False)
        cols = [("", None), ("loss", "loss"), ("accuracy", "acc")]
        for name, _ in cols:
            t.add_column(name, justify="right" if name else "left")
        t.add_row("train", _fmt(row.get("train_loss")), _fmt(row.get("train_acc")))
        if row.get("val_loss") is not None:
            t.add_row("val", _fmt(row.get("val_loss")), _fmt(row.get("val_acc")))
        t.caption = (f"{row.get('wall_time_s', 0.0):.1f} s, {row.get('wall_samples_per_s', 0.0):,.0f} samples/s, "
                     f"lr {row.get('lr', 0.0):.3g}" + ("  (best so far)" if row.get("best") else ""))
        t.caption_justify = "left"
        self.console.print(t)

    def table(self, title: str, rows: list[tuple[str, str]]) -> None:
        if not self.enabled:
            return
        t = Table(title=title, title_justify="left", show_header=False, show_edge=False, pad_edge=False)
        t.add_column("what")
        t.add_column("value", justify="right")
        for k, v in rows:
            t.add_row(k, v)
        self.console.print(t)

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, markup=False)

    def warn(self, text: str) -> None:
        if self.enabled:
            self.console.print(f"warning: {text}", markup=False, style="yellow")


def warning(text: str) -> None:
    """A warning line on stderr, where it cannot spoil machine-readable output on stdout."""
    print(f"warning: {text}", file=sys.stderr, flush=True)


def error(text: str) -> None:
    """An error line on stderr (any rank)."""
    print(f"error: {text}", file=sys.stderr, flush=True)
