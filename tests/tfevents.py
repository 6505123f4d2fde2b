"""TensorBoard event files read back for the tests, without TensorBoard: the TFRecord framing
checked with a CRC-32C written out here (independent of the writer's), then tensorboardX's Event
protobuf."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from tensorboardX.proto import event_pb2


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), bit by bit: the checksum TFRecord framing uses."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(folder: Path) -> list[Any]:
    """Every event of every event file under ``folder``: TFRecord framing checked, then the Event protobuf."""
    events = []
    files = sorted(folder.rglob("events.out.tfevents.*"))
    assert files, f"no event files in {folder}"
    for path in files:
        data, i = path.read_bytes(), 0
        while i < len(data):
            header = data[i:i + 8]
            (n,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", data[i + 8:i + 12])[0] == masked(header)
            payload = data[i + 12:i + 12 + n]
            assert struct.unpack("<I", data[i + 12 + n:i + 16 + n])[0] == masked(payload)
            ev = event_pb2.Event()
            ev.ParseFromString(payload)
            events.append(ev)
            i += 16 + n
    return events


def scalars(events: list[Any]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for ev in events:
        for v in ev.summary.value:
            if v.HasField("simple_value"):
                out.setdefault(v.tag, {})[ev.step] = v.simple_value
    return out
