"""The MCAP record layout, read without trusting the file, and the CRCs rosbags leaves out.

A record is an opcode byte, a little-endian u64 content length and the content (MCAP spec,
mcap.dev/spec). The rosbags writer stores 0 in every CRC field, which MCAP reads as "not
computed", so damage would go unnoticed. The project's writer (io.BagWriter) fills in each
chunk's CRC as it closes the chunk, and ``seal_crcs`` the data section CRC (in DataEnd) and the
summary CRC (in the Footer) once the file is closed; both change no offset or length.
"""

from __future__ import annotations

import mmap
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import lz4.frame

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MAGIC = b"\x89MCAP0\r\n"
FOOTER, SCHEMA, CHANNEL, MESSAGE, CHUNK = 0x02, 0x03, 0x04, 0x05, 0x06
CHUNK_INDEX, DATA_END = 0x08, 0x0F
RECORD_HEAD_BYTES = 9  # opcode u8 + content length u64
MESSAGE_HEAD_BYTES = 22  # channel id u16, sequence u32, log time u64, publish time u64
CHUNK_CRC_AT = 24  # the chunk's uncompressed_crc follows its start, end and size (3 x u64)
FOOTER_CONTENT_BYTES = 20  # summary start u64, summary offset start u64, summary crc u32
FILE_TAIL_BYTES = RECORD_HEAD_BYTES + FOOTER_CONTENT_BYTES + len(MAGIC)
RECORD_NAMES = {0x01: "header", FOOTER: "footer", SCHEMA: "schema", CHANNEL: "channel",
                MESSAGE: "message", CHUNK: "chunk", 0x07: "message index",
                CHUNK_INDEX: "chunk index", 0x0B: "statistics", 0x0C: "metadata",
                0x0D: "metadata index", 0x0E: "summary offset", DATA_END: "data end"}


class Damaged(Exception):
    """Bytes that do not parse as the records they claim to be."""


def record_name(opcode: int) -> str:
    return RECORD_NAMES.get(opcode, f"unknown (opcode {opcode:#04x})")


def record_head(buf, pos: int) -> tuple[int, int, int]:
    """(opcode, content start, content end) of the record at ``pos``; the end may lie past the
    buffer when the record was cut, so callers compare it with what they have."""
    if pos + RECORD_HEAD_BYTES > len(buf):
        raise Damaged(f"record head at byte {pos} is cut short")
    (size,) = struct.unpack_from("<Q", buf, pos + 1)
    return buf[pos], pos + RECORD_HEAD_BYTES, pos + RECORD_HEAD_BYTES + size


def records(buf, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(opcode, content start, content end) of each record from ``pos`` to ``end``; raises
    Damaged at the first record that does not fit."""
    while pos < end:
        if pos + RECORD_HEAD_BYTES > end:
            raise Damaged(f"a record head at byte {pos} runs past byte {end}")
        opcode, start, stop = record_head(buf, pos)
        if stop > end:
            raise Damaged(f"a {record_name(opcode)} record at byte {pos} claims "
                          f"{stop - start} bytes, past byte {end}")
        yield opcode, start, stop
        pos = stop


def string_at(buf, pos: int, end: int) -> tuple[str, int]:
    """A u32-length-prefixed UTF-8 string and the position after it."""
    if pos + 4 > end:
        raise Damaged(f"string length at byte {pos} is cut short")
    (size,) = struct.unpack_from("<I", buf, pos)
    if pos + 4 + size > end:
        raise Damaged(f"a {size}-byte string at byte {pos} runs past its record")
    return bytes(buf[pos + 4:pos + 4 + size]).decode("utf-8", errors="replace"), pos + 4 + size


@dataclass(frozen=True)
class ChunkHead:
    start_ns: int
    end_ns: int
    uncompressed_size: int
    crc: int  # 0: not computed
    compression: str  # "" (none), "zstd" or "lz4"
    data_start: int  # absolute position of the (compressed) records
    data_end: int  # where they end when the chunk is whole


def chunk_head(buf, start: int, end: int) -> ChunkHead:
    """The fields of the chunk whose content spans ``start``..``end`` (end may be cut short)."""
    end = min(end, len(buf))
    if start + CHUNK_CRC_AT + 4 > end:
        raise Damaged(f"the head of the chunk at byte {start} is cut short")
    start_ns, end_ns, size, crc = struct.unpack_from("<QQQI", buf, start)
    compression, pos = string_at(buf, start + CHUNK_CRC_AT + 4, end)
    if pos + 8 > end:
        raise Damaged(f"the head of the chunk at byte {start} is cut short")
    (data_size,) = struct.unpack_from("<Q", buf, pos)
    return ChunkHead(start_ns, end_ns, size, crc, compression, pos + 8, pos + 8 + data_size)


def decompress(data, compression: str, partial: bool = False) -> bytes:
    """A chunk's records; with ``partial``, as much as a cut-short compressed chunk yields."""
    try:
        if compression == "":
            return bytes(data)
        if compression == "zstd":
            return (zstd.ZstdDecompressor().decompress(data) if partial
                    else zstd.decompress(data))
        if compression == "lz4":
            return (lz4.frame.LZ4FrameDecompressor().decompress(data) if partial
                    else lz4.frame.decompress(data))
    except (zstd.ZstdError, RuntimeError, ValueError) as error:  # lz4 raises RuntimeError
        raise Damaged(f"{compression} data does not decompress: {error}") from error
    raise Damaged(f"unknown chunk compression {compression!r} (this reader knows zstd, lz4)")


@dataclass(frozen=True)
class Footer:
    at: int  # position of the footer record
    summary_start: int  # 0: no summary
    summary_crc: int  # 0: not computed

    @property
    def summary_crc_end(self) -> int:
        """The summary CRC covers the summary up to, not including, its own field."""
        return self.at + RECORD_HEAD_BYTES + 16


def footer(buf) -> Footer | None:
    """The footer of a whole file; None when the file does not end like one (cut short)."""
    at = len(buf) - FILE_TAIL_BYTES
    if at < len(MAGIC) or bytes(buf[-len(MAGIC):]) != MAGIC:
        return None
    opcode, start, stop = record_head(buf, at)
    if opcode != FOOTER or stop != len(buf) - len(MAGIC):
        return None
    summary_start, _, crc = struct.unpack_from("<QQI", buf, start)
    return Footer(at, summary_start, crc)


def crc32(buf, start: int, end: int) -> int:
    with memoryview(buf) as view:
        return zlib.crc32(view[start:end])


def seal_crcs(path: str | Path) -> None:
    """Fill in the data section and summary CRCs that are 0 in a whole MCAP file.

    The data section CRC covers the chunks' CRC fields, so those must be final by now.
    """
    with open(path, "r+b") as file, mmap.mmap(file.fileno(), 0) as buf:
        if not bytes(buf[:len(MAGIC)]) == MAGIC or footer(buf) is None:
            raise ValueError(f"{path} is not a whole MCAP file; cannot write its CRCs")
        for opcode, start, stop in records(buf, len(MAGIC), len(buf) - len(MAGIC)):
            if opcode == DATA_END and struct.unpack_from("<I", buf, start)[0] == 0:
                struct.pack_into("<I", buf, start, crc32(buf, 0, start - RECORD_HEAD_BYTES))
            elif opcode == FOOTER:
                foot = footer(buf)
                if foot.summary_start and foot.summary_crc == 0:
                    struct.pack_into("<I", buf, foot.summary_crc_end,
                                     crc32(buf, foot.summary_start, foot.summary_crc_end))
        buf.flush()
