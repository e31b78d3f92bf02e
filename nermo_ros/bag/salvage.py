"""Recover the readable messages of a damaged MCAP file by walking it record by record.

The rosbags reader reads a chunk (about 1 MiB of messages) as a whole, so one damaged byte
loses the chunk. Walking the records instead keeps every message before the damage inside a
chunk and every undamaged chunk after it. Only uncompressed chunks are walked (the project's
bags are written uncompressed); a compressed damaged chunk is skipped whole.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

from nermo_ros.bag.io import RawMessage

MAGIC = b"\x89MCAP0\r\n"
SCHEMA, CHANNEL, MESSAGE, CHUNK = 0x03, 0x04, 0x05, 0x06


class _Damaged(Exception):
    pass


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    (size,) = struct.unpack_from("<I", buf, pos)
    end = pos + 4 + size
    if end > len(buf):
        raise _Damaged("string runs past its record")
    return buf[pos + 4:end].decode("utf-8", errors="replace"), end


def _records(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(opcode, content) until ``end``; raises _Damaged at a record that does not fit."""
    while pos + 9 <= end:
        opcode = buf[pos]
        (size,) = struct.unpack_from("<Q", buf, pos + 1)
        if pos + 9 + size > end:
            raise _Damaged(f"record at byte {pos} claims {size} bytes past its end")
        yield opcode, buf[pos + 9:pos + 9 + size]
        pos += 9 + size


class _Walker:
    def __init__(self, topics: set[str] | None):
        self.topics = topics
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, tuple[str, str]] = {}
        self.messages: list[RawMessage] = []
        self.problems: list[str] = []

    def record(self, opcode: int, content: bytes) -> None:
        if opcode == SCHEMA:
            (schema_id,) = struct.unpack_from("<H", content, 0)
            self.schemas[schema_id] = _string(content, 2)[0]
        elif opcode == CHANNEL:
            channel_id, schema_id = struct.unpack_from("<HH", content, 0)
            topic, _ = _string(content, 4)
            self.channels[channel_id] = (topic, self.schemas.get(schema_id, ""))
        elif opcode == MESSAGE:
            channel_id, _, log_ns, _ = struct.unpack_from("<HIQQ", content, 0)
            topic, msgtype = self.channels.get(channel_id, ("", ""))
            if topic and (self.topics is None or topic in self.topics):
                self.messages.append(RawMessage(topic, msgtype, log_ns, bytes(content[22:])))
        elif opcode == CHUNK:
            self.chunk(content)

    def chunk(self, content: bytes) -> None:
        compression, pos = _string(content, 28)
        (size,) = struct.unpack_from("<Q", content, pos)
        if compression:
            self.problems.append(f"skipped a {compression} chunk")
            return
        try:
            for opcode, inner in _records(content, pos + 8, min(pos + 8 + size, len(content))):
                self.record(opcode, inner)
        except (_Damaged, struct.error, UnicodeDecodeError) as error:
            self.problems.append(f"a chunk is damaged ({error}); its later messages are lost")


def salvage_mcap(path: str | Path, topics: set[str] | None = None
                 ) -> tuple[list[RawMessage], list[str]]:
    """Messages (on ``topics``) that can still be read, in bag-time order, and what was lost."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.glob("*.mcap"))
    walker = _Walker(topics)
    for file in files:
        buf = file.read_bytes()
        if not buf.startswith(MAGIC):
            walker.problems.append(f"{file.name} does not start like an MCAP file")
            continue
        try:
            for opcode, content in _records(buf, len(MAGIC), len(buf)):
                walker.record(opcode, content)
        except (_Damaged, struct.error, UnicodeDecodeError) as error:
            walker.problems.append(f"{file.name}: stopped at damage ({error})")
    walker.messages.sort(key=lambda m: m.log_ns)
    return walker.messages, walker.problems
