"""Writing run files so that no crash, kill or full disk leaves a file half-written.

Every file of a run folder is written whole to a temporary file beside it
(``.<name>.<random>.tmp``), flushed, fsynced and renamed over the target; a
kill at any moment leaves the old file or the new one.  A kill cannot remove
its own temporary file, so the next start does (`clean_temporaries`).  A
write that fails (a full disk above all) becomes a `WriteError` that names the
file, so the command can say what happened instead of crashing.

Two test hooks make faults reproducible without a real crash or a real full
disk; both count checkpoint saves (`count_save`) within one process:
``MODELSPEC_TEST_KILL_DURING_SAVE=N`` SIGKILLs the process half-way through
the Nth save, ``MODELSPEC_TEST_DISK_FULL_AT_SAVE=N`` makes the Nth save fail
with ENOSPC half-way through.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile

from ..exceptions import ModelspecError

KILL_ENV = "MODELSPEC_TEST_KILL_DURING_SAVE"
DISK_FULL_ENV = "MODELSPEC_TEST_DISK_FULL_AT_SAVE"
LOCK = ".modelspec.lock"
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_saves = 0


class WriteError(ModelspecError):
    """A run file could not be written; ``disk_full`` for ENOSPC/EDQUOT."""

    def __init__(self, message: str, *, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full


def write_error(path: str, exc: OSError, kept: str | None = None) -> WriteError:
    """The user-facing error for a failed write of ``path``; ``kept``: the previous file that survives."""
    full = exc.errno in _NO_SPACE
    what = "no space left on device" if full else (exc.strerror or str(exc))
    tail = f"; the previous file {kept} is kept" if kept else ""
    hint = "; free some space, then resume" if full else ""
    return WriteError(f"{what} writing {path}{tail}{hint}", disk_full=full)


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


_MODE = 0o666 & ~_umask()  # mkstemp makes 0600 files; results should be readable like any other


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported here (e.g. Windows): the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def count_save() -> str | None:
    """Count one checkpoint save; the fault a test hook asks for at this one ("kill", "full") or None."""
    global _saves
    _saves += 1
    for env, fault in ((KILL_ENV, "kill"), (DISK_FULL_ENV, "full")):
        value = os.environ.get(env, "")
        if value.isdigit() and int(value) == _saves:
            return fault
    return None


def atomic_write(path: str, data: bytes, *, fault: str | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part.

    Raises `WriteError` (naming ``path`` and, when there is one, the previous
    file, which is left untouched) when the data cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    kept = path if os.path.isfile(path) else None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise write_error(path, exc, kept) from None
    try:
        os.chmod(tmp, _MODE)
        with os.fdopen(fd, "wb") as fh:
            if fault is not None:
                fh.write(data[: len(data) // 2])
                fh.flush()
                if fault == "kill":
                    os.kill(os.getpid(), 9)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise write_error(path, exc, kept) from None
    except BaseException:
        _unlink(tmp)
        raise
    fsync_dir(folder)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class FolderBusy(ModelspecError):
    """Another process is writing the same run folder."""


def lock_folder(folder: str) -> int | None:
    """Hold an exclusive lock on ``folder`` for the life of this process (the kernel drops it at exit,
    even after kill -9), so that cleaning temporaries never removes a live writer's file."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, cleaning still only touches our own names
        return None
    path = os.path.join(folder, LOCK)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, _MODE)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise FolderBusy(f"another modelspec process is training in {folder}; wait for it to finish, or stop "
                         "it (Ctrl-C saves a checkpoint) and resume") from None
    return fd


def unlock_folder(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def temporary_pattern(names: list[str]) -> re.Pattern[str]:
    """The temporary files `atomic_write` makes for ``names`` (mkstemp adds 8 characters)."""
    alt = "|".join(re.escape(n) for n in names)
    return re.compile(rf"^\.(?:{alt})\.[A-Za-z0-9_]{{8}}\.tmp$")


def clean_temporaries(folder: str, names: list[str]) -> tuple[int, int]:
    """Remove what killed writes of ``names`` left in ``folder``; (files, bytes) removed.

    Only our own names are touched: another program's files never match."""
    if not os.path.isdir(folder):
        return 0, 0
    pattern = temporary_pattern(names)
    count = size = 0
    for entry in os.scandir(folder):
        if pattern.match(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                n = entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
            except OSError:
                continue
            count += 1
            size += n
    return count, size
