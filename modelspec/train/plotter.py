"""learning_curve.png drawn off the training loop's critical path, in a child process.

Importing matplotlib and drawing a figure cost about as much as a few
seconds of a small model's training.  Done inline they lengthen every run;
done in a thread they hold the GIL, which the training thread needs back
after every torch op (a thread importing matplotlib slowed the epochs it
overlapped by several per cent).  So a child Python process, started when the run
starts, imports matplotlib at once and draws on request: the parent writes
epoch records as one JSON line per request and the child answers one line per
request (`ok`, or `error: ...`); the latest request wins.  The child runs
this file as a script (it imports nothing of modelspec), ignores SIGINT (the
run saves on Ctrl-C and then closes it) and exits on the parent's last line
(`quit`) or when its input closes.
`finish` waits for the last drawing, so the picture of the final epoch is on
disk when `train` returns.  matplotlib is optional: without it the child
says `missing` and exits, and the run reports so once.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from typing import Any, Callable

PLOT_TMP = "learning_curve.png.tmp.png"
QUIT = b"quit\n"  # the parent's last line: the child exits


class Plotter:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.missing = False  # matplotlib is not installed
        self.errors: list[str] = []  # write errors, reported by the loop's thread
        self._sent = self._done = 0
        self._buf = b""
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), folder],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            self._proc = None
            self.errors.append(f"cannot start the learning-curve plotter: {exc}")

    def request(self, rows: list[dict[str, Any]]) -> None:
        """Redraw from these epoch records; returns at once."""
        self._read(block=False)
        if self._proc is None or self.missing:
            return
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write((json.dumps(rows) + "\n").encode())
            self._proc.stdin.flush()
            self._sent += 1
        except OSError:  # the child is gone: no more pictures, the run goes on
            self._proc = None

    def wait(self) -> None:
        """Until every request so far is drawn."""
        while self._proc is not None and not self.missing and self._done < self._sent:
            if not self._read(block=True):
                break

    def finish(self, warn: Callable[[str], None] | None = None) -> None:
        self.wait()
        if self._proc is not None:
            try:
                assert self._proc.stdin is not None
                # an explicit last line, not only the end of input: processes forked after the child
                # started (an image folder's DataLoader workers) hold copies of this pipe's write end,
                # and the child would see no end of input until they exit
                self._proc.stdin.write(QUIT)
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if warn is not None:
            for e in self.errors:
                warn(e)
        self.errors.clear()

    def _read(self, block: bool) -> bool:
        """Take the child's answers (waiting for one with ``block``); False when it has exited."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            return False
        fd = proc.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], None if block else 0)
            if not ready:
                return True
            chunk = os.read(fd, 65536)
            if not chunk:
                self._proc = None
                return False
            self._buf += chunk
            *lines, self._buf = self._buf.split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                if text == "missing":
                    self.missing = True
                elif text.startswith("error: "):
                    self._done += 1
                    self.errors.append(text[len("error: "):])
                elif text == "ok":
                    self._done += 1
            if lines:
                block = False


def draw(figure: Any, folder: str, rows: list[dict[str, Any]]) -> str | None:
    """learning_curve.png of ``rows`` in ``folder``; a write error, described, or None."""
    fig = figure(figsize=(9, 3.5))  # no pyplot: a bare Figure
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
    out = os.path.join(folder, "learning_curve.png")
    tmp = os.path.join(folder, PLOT_TMP)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, out)
    except OSError as exc:  # a picture is not worth stopping a run for; the checkpoints will tell
        return f"cannot write {out}: {exc.strerror or exc}"
    return None


def serve(folder: str) -> None:
    """The child: import matplotlib, then draw the latest request of every batch of lines that arrive."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import matplotlib  # lazy: optional, and slow to import; in this child, off the critical path

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        print("missing", flush=True)
        return
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line or line == QUIT:
            return
        skipped, last = 0, False
        while select.select([stdin], [], [], 0)[0]:  # newer requests win: answer the older ones unread
            nxt = stdin.readline()
            if not nxt or nxt == QUIT:
                last = True  # draw what came before it, then leave
                break
            line, skipped = nxt, skipped + 1
        for _ in range(skipped):
            print("ok", flush=True)
        try:
            err = draw(Figure, folder, json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a bad picture never stops the run
            err = f"cannot draw {os.path.join(folder, 'learning_curve.png')}: {type(exc).__name__}: {exc}"
        print("ok" if err is None else f"error: {err}", flush=True)
        if last:
            return


if __name__ == "__main__":
    sys.path.pop(0)  # this file's folder: its modules (signals, data, ...) must not shadow anything matplotlib imports
    serve(sys.argv[1])
