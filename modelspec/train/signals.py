"""SIGINT/SIGTERM as a request to stop at the next batch boundary.

The handler only records the signal; the loop polls `StopRequest.signum` between
batches, saves a checkpoint there and exits with 128 + the signal number (130
for Ctrl-C, 143 for SIGTERM).  A second Ctrl-C while stopping interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Callable


class StopRequest:
    """Context manager installing the handlers; ``signum`` is set once a signal arrives."""

    def __init__(self, on_signal: Callable[[int], None] | None = None) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}
        self._on_signal = on_signal

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user means it
        self.signum = signum
        if self._on_signal is not None:
            self._on_signal(signum)

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum or 0)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def flush_std() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:  # noqa: BLE001 - a closed pipe must not hide the exit code
            pass
