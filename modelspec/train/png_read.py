"""A lean reader for the PNG files most image datasets hold, handing the pixels to Pillow's own decoder.

`Image.open` on a small PNG spends most of its time in Python: it builds a file object, offers the bytes
to the format's check, walks the chunks through a general chunk stream (text, colour profiles, animation
frames) and sets up a tile to load.  For a 32x32 RGB image that is over a third of the decode (39 -> 24 µs
from memory on a 2-core Xeon, `bench/bench_png.py`); at 224x224 inflating dominates and both take the same.  This module walks the chunks itself and gives the image data straight to
Pillow's ZIP decoder (`Image.frombytes(..., "zip", ...)`), the same C code `Image.open` ends in, so the
pixels are Pillow's, bit for bit.

Only the plain case is read here: 8-bit grey, grey+alpha, RGB or RGBA, not interlaced, no palette or
transparency chunk, every chunk's CRC right.  Anything else returns ``None`` and the caller opens the file
with Pillow as before, which also gives the located error for a broken file.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) -> Pillow mode; the raw mode is the same
MODES = {(8, 0): "L", (8, 2): "RGB", (8, 4): "LA", (8, 6): "RGBA"}
# chunks that change what the pixels mean: Pillow's full path handles them
_ASIDE = frozenset((b"PLTE", b"tRNS", b"acTL", b"fcTL", b"fdAT"))
_HEAD = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")


def read(image: Any, data: bytes) -> Any | None:
    """Pillow's image of the PNG ``data`` (``image`` is `PIL.Image`), or ``None`` when it is not the plain
    case, is truncated, fails a CRC or is over Pillow's decompression-bomb limit: then open it with Pillow,
    which reports what is wrong.  Image data that passes these checks and still does not decode raises
    ``ValueError`` (or zlib's error), as Pillow's own loading would."""
    if not data.startswith(SIGNATURE):
        return None
    pos, end, mode, size, parts = 8, len(data), None, None, []
    view = memoryview(data)
    while pos + 12 <= end:
        length, kind = _HEAD.unpack_from(data, pos)
        body = pos + 8
        stop = body + length
        if stop + 4 > end or zlib.crc32(view[pos + 4:stop]) != int.from_bytes(view[stop:stop + 4], "big"):
            return None  # truncated or corrupt: Pillow's path reports it
        if kind == b"IHDR":
            if length != 13 or mode is not None:
                return None
            w, h, depth, colour, method, filt, interlace = _IHDR.unpack_from(data, body)
            mode = MODES.get((depth, colour))
            limit = image.MAX_IMAGE_PIXELS
            if mode is None or method or filt or interlace or not w or not h or (limit and w * h > limit):
                return None
            size = (w, h)
        elif kind == b"IDAT":
            if mode is None:
                return None
            parts.append(view[body:stop])
        elif kind == b"IEND":
            break
        elif kind in _ASIDE:
            return None
        pos = stop + 4
    else:
        return None  # no IEND: truncated, let Pillow say so
    if mode is None or not parts:
        return None
    return image.frombytes(mode, size, b"".join(parts), "zip", mode)
