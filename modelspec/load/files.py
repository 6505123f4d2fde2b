"""Reading files a spec names, as untrusted input.

A spec and the files it points at come from whoever wrote the pull request.
So a read must never block (a FIFO named ``x.yaml``), never leave the tree
being checked (a symlink to ``/etc/passwd``, ``imports: {a: ../../../etc}``),
and never read more than the size limit.  Every refusal is a diagnostic.
"""

from __future__ import annotations

import os
import stat

from ..diagnostics import Diagnostics, Pos

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def inside(path: str, root: str) -> bool:
    """Whether ``path`` resolves (symlinks followed) to ``root`` or below it."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    try:
        return os.path.commonpath([real, top]) == top
    except ValueError:  # different drives on Windows
        return False


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], file: str, diags: Diagnostics, *, limit: int,
               root: str | None = None, at: Pos | None = None) -> bytes | None:
    """The first ``limit + 1`` bytes of a regular file inside ``root``, or None with a diagnostic.

    ``file`` names the file in messages; ``at`` is where problems are reported
    (default: the file's first line).  The caller compares the length with ``limit``.
    """
    at = at or Pos(file, 1, 1)
    p = os.fspath(path)
    if root is not None and not inside(p, root):
        target = os.path.realpath(p)
        via = f" (it resolves to `{target}`)" if os.path.islink(p) or target != os.path.abspath(p) else ""
        diags.add("MS006", f"`{file}` is outside the tree being checked, `{root}`{via}", at,
                  suggestion="keep spec files and their imports inside the repository, or pass `--root DIR` "
                  "to widen the tree")
        return None
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            diags.add("MS001", f"`{file}` is a directory, not a spec file", at)
            return None
        if not stat.S_ISREG(st.st_mode):
            diags.add("MS006", f"`{file}` is {_kind(st.st_mode)}, not a regular file", at,
                      suggestion="specs are read only from regular files")
            return None
        fd = os.open(p, _OPEN_FLAGS)
    except FileNotFoundError:
        diags.add("MS001", f"file not found: {file}", at)
        return None
    except PermissionError:
        diags.add("MS001", f"permission denied reading {file}", at)
        return None
    except OSError as exc:
        diags.add("MS001", f"cannot read {file}: {exc.strerror or exc}", at)
        return None
    try:
        st = os.fstat(fd)  # the file opened may differ from the one checked above (a race)
        if not stat.S_ISREG(st.st_mode):
            diags.add("MS006", f"`{file}` is {_kind(st.st_mode)}, not a regular file", at)
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        diags.add("MS001", f"cannot read {file}: {exc.strerror or exc}", at)
        return None
    finally:
        os.close(fd)
