"""The lean PNG reader: the same pixels as Pillow's `Image.open`, and ``None`` for everything it leaves to it.

Independent truth: PNG files this test writes byte by byte (chunks, CRCs, zlib, filter type 0), and files
Pillow writes (its adaptive filters, several IDAT chunks), compared with `Image.open`'s pixels.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

from modelspec.train import png_read  # noqa: E402
from modelspec.train.sources import DataError  # noqa: E402
from modelspec.train.sources_image import Layout, decode  # noqa: E402

COLOUR = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png(a: np.ndarray, *, interlace: int = 0, split: int = 0, extra: bytes = b"", rows: int | None = None,
        ihdr_crc: int | None = None) -> bytes:
    """A PNG of the uint8 array ``a`` [H, W] or [H, W, C], each row with filter type 0 (none)."""
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h if rows is None else rows))
    z = zlib.compress(raw, 9)
    parts = [z[i:i + split] for i in range(0, len(z), split)] if split else [z]
    head = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, COLOUR[c], 0, 0, interlace), ihdr_crc)
    return (png_read.SIGNATURE + head + extra + b"".join(chunk(b"IDAT", p) for p in parts)
            + chunk(b"IEND", b""))


def pixels(im) -> np.ndarray:
    return np.asarray(im)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_hand_written_png_reads_to_its_pixels(channels: int) -> None:
    shape = (7, 5) if channels == 1 else (7, 5, channels)
    a = np.random.default_rng(channels).integers(0, 256, shape).astype(np.uint8)
    data = png(a, split=17)  # several IDAT chunks, split mid-stream
    im = png_read.read(Image, data)
    assert im is not None and im.mode == png_read.MODES[(8, COLOUR[channels])]
    np.testing.assert_array_equal(pixels(im), a)
    np.testing.assert_array_equal(pixels(Image.open(io.BytesIO(data))), a)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pillow_written_png_matches_image_open(mode: str) -> None:
    rng = np.random.default_rng(0)
    c = len(mode)
    a = rng.integers(0, 256, (300, 260, c)).astype(np.uint8)
    a[:, :100] //= 16  # smooth regions, so Pillow's adaptive filters pick Sub/Up/Average/Paeth
    img = Image.fromarray(a[..., 0] if c == 1 else a, mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = buf.getvalue()
    assert data.count(b"IDAT") > 1  # Pillow wrote more than one IDAT chunk
    im = png_read.read(Image, data)
    assert im is not None
    np.testing.assert_array_equal(pixels(im), pixels(Image.open(io.BytesIO(data))))


def test_what_pillow_must_read_is_left_to_it() -> None:
    a = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    assert png_read.read(Image, png(a, interlace=1)) is None
    assert png_read.read(Image, png(a, extra=chunk(b"tRNS", b"\x00\x01\x00\x02\x00\x03"))) is None
    assert png_read.read(Image, png(a, ihdr_crc=0)) is None  # a bad CRC
    assert png_read.read(Image, png(a)[:-12]) is None  # no IEND: truncated
    assert png_read.read(Image, png(a)[:40]) is None  # cut inside a chunk
    assert png_read.read(Image, b"GIF89a" + bytes(40)) is None
    for mode in ("P", "I;16", "1"):  # palette, 16-bit, 1-bit
        buf = io.BytesIO()
        Image.new(mode, (4, 4)).save(buf, format="PNG")
        assert png_read.read(Image, buf.getvalue()) is None, mode


def test_decompression_bomb_limit_is_pillows(monkeypatch: pytest.MonkeyPatch) -> None:
    a = np.zeros((10, 10, 3), np.uint8)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 99)
    assert png_read.read(Image, png(a)) is None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert png_read.read(Image, png(a)) is not None


def test_decode_goes_through_the_lean_path_with_the_same_result(tmp_path, monkeypatch) -> None:
    a = np.random.default_rng(1).integers(0, 256, (6, 8, 3)).astype(np.uint8)
    f = tmp_path / "x.png"
    f.write_bytes(png(a))
    lay = Layout(channels=3, height=6, width=8, shape=(3, 6, 8))
    np.testing.assert_array_equal(decode(Image, str(f), lay), a)
    grey = decode(Image, str(f), Layout(channels=1, height=3, width=4, shape=(3, 4)))  # converted and resized by Pillow
    with Image.open(f) as im:
        want = np.asarray(im.convert("L").resize((4, 3), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(grey, want)
    calls = []
    monkeypatch.setattr(png_read, "read", lambda image, data: calls.append(1))  # returns None: Pillow's path
    np.testing.assert_array_equal(decode(Image, str(f), lay), a)
    assert calls == [1]


def test_broken_png_is_a_data_error_naming_the_file(tmp_path) -> None:
    a = np.random.default_rng(2).integers(0, 256, (6, 8, 3)).astype(np.uint8)
    lay = Layout(channels=3, height=6, width=8, shape=(3, 6, 8))
    good = png(a)
    z = zlib.compress(b"".join(b"\x00" + a[i].tobytes() for i in range(6)), 9)
    garbled = bytes(z[:2]) + bytes(b ^ 0x5A for b in z[2:])  # CRCs right, the deflate stream not
    cases = {
        "garbled.png": good.replace(chunk(b"IDAT", z), chunk(b"IDAT", garbled)),  # the lean path's decoder fails
        "cut.png": good[:60],  # cut inside IDAT: Pillow's path says the file is truncated
        "bad.png": png(a, ihdr_crc=1),  # Pillow's path: its own checksum error
    }
    assert chunk(b"IDAT", z) in good
    with pytest.raises((ValueError, OSError, zlib.error)):  # raised by the lean path itself
        png_read.read(Image, cases["garbled.png"])
    for name, data in cases.items():
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(DataError, match=f"{name}: cannot decode the image"):
            decode(Image, str(f), lay)
