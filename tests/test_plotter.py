"""The learning-curve child process: it draws on request and leaves when the run finishes, even
when processes forked after it (an image folder's DataLoader workers) hold copies of its input pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from modelspec.train.plotter import Plotter  # noqa: E402

ROWS = [{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "train_acc": 0.2},
        {"epoch": 2, "train_loss": 1.5, "val_loss": 1.7, "train_acc": 0.4}]


def test_the_picture_is_drawn_and_the_child_exits_by_itself(tmp_path: Path) -> None:
    p = Plotter(str(tmp_path))
    proc = p._proc
    assert proc is not None and proc.stdin is not None
    # a process that holds the write end of the child's input, as a forked worker does
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              pass_fds=(proc.stdin.fileno(),))
    try:
        p.request(ROWS)
        p.finish()
        assert (tmp_path / "learning_curve.png").stat().st_size > 1000
        # not killed after finish's timeout: it read the parent's last line and left (a kill gives -9)
        assert proc.returncode == 0
        assert holder.poll() is None  # the holder still had the pipe open all along
    finally:
        holder.kill()
        holder.wait()
