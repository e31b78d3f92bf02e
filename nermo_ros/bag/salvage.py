"""Walk MCAP files record by record, trusting nothing: check their CRCs, list their topics, and
recover every message whose record is whole when the rosbags reader cannot be used.

The rosbags reader finds chunks (about 1 MiB of messages each) through the summary at the end
of the file, so a file cut short cannot be opened at all, and one damaged chunk ends the read.
The walk goes through the data section in file order instead:

- a chunk whose CRC matches is used whole;
- a chunk whose CRC does not match changed after it was written, and nothing in it says which
  bytes did: its messages are left out, and counted;
- a chunk without a CRC (from a writer that does not compute them) or cut by the end of the
  file is used as far as its records are whole; its messages are counted as unverified;
- past a record head that does not parse, the walk goes on at the next chunk that the summary
  indexes (when the file still has its summary).
"""

from __future__ import annotations

import enum
import mmap
import struct
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nermo_ros.bag import mcap_format as F
from nermo_ros.bag.io import RawMessage, mcap_files


class Trust(enum.Enum):
    VERIFIED = "its CRC matches"
    UNVERIFIED = "no CRC to check"
    MISMATCH = "its CRC does not match"


@dataclass
class McapHealth:
    """What walking a bag's MCAP files found (summed over the files); counts are of messages on
    the topics read, bytes are file bytes."""

    files: int = 0
    files_cut_short: int = 0  # no footer: the file ends early
    chunks: int = 0
    chunks_verified: int = 0
    chunks_without_crc: int = 0
    chunks_crc_mismatch: int = 0
    chunks_cut: int = 0  # the chunk the file ends in
    chunks_unreadable: int = 0
    data_crc_mismatch: int = 0
    summary_crc_mismatch: int = 0
    messages_unverified: int = 0  # kept, from chunks whose CRC could not be checked
    messages_dropped: int = 0  # left out: in chunks whose CRC does not match
    messages_unknown_channel: int = 0  # their channel record was lost
    # In the file but in no record that could be used. The unused tail of a cut compressed
    # chunk cannot be mapped back to file bytes: it counts only when nothing in it was used.
    bytes_lost: int = 0
    bytes_missing: int = 0  # claimed by the record a cut-short file ends in
    notes: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        """Whole, and every CRC it carries matches (chunks without a CRC cannot fail)."""
        return not (self.files_cut_short or self.chunks_crc_mismatch or self.chunks_cut
                    or self.chunks_unreadable or self.data_crc_mismatch
                    or self.summary_crc_mismatch or self.bytes_lost)

    def damage(self) -> str:
        """The problems found, in a few words; empty when sound."""
        found = [(self.files_cut_short, "file(s) cut short"),
                 (self.chunks_crc_mismatch, "chunk(s) failing their CRC"),
                 (self.chunks_unreadable, "unreadable chunk(s)"),
                 (self.data_crc_mismatch, "data section(s) failing their CRC"),
                 (self.summary_crc_mismatch, "summary index(es) failing their CRC"),
                 (self.bytes_lost, "bytes in no usable record")]
        return ", ".join(f"{n} {what}" for n, what in found if n)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "notes"}

    def lines(self) -> list[str]:
        out = list(self.notes)
        if self.messages_unknown_channel:
            out.append(f"{self.messages_unknown_channel} messages name a channel whose record "
                       "was lost; they are left out")
        if self.chunks_without_crc:
            out.append(f"{self.chunks_without_crc} chunks carry no CRC, so damage inside them "
                       "cannot be detected")
        return out


@dataclass
class Walk:
    messages: list[RawMessage]  # in bag-time order
    topics: dict[str, str]  # every topic whose channel record was found -> message type
    health: McapHealth


def check_mcap(path: str | Path) -> McapHealth:
    """CRCs and completeness of the bag's MCAP files, without decoding a single message."""
    walk = _Walker(set(), keep_messages=False)
    for file in mcap_files(path):
        walk.file(file)
    return walk.health


def salvage_mcap(path: str | Path, topics: set[str] | None = None) -> Walk:
    """Every message on ``topics`` (None: all) that can still be trusted, and what was lost."""
    walk = _Walker(topics, keep_messages=True)
    for file in mcap_files(path):
        walk.file(file)
    return walk.finish()


class _Walker:
    def __init__(self, topics: set[str] | None, keep_messages: bool):
        self.topics = topics
        self.keep = keep_messages
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, tuple[str, str]] = {}
        self.weak_channels: set[int] = set()  # defined only inside a chunk that failed its CRC
        self.messages: list[RawMessage] = []
        self.health = McapHealth()
        self.name = ""

    def note(self, text: str) -> None:
        self.health.notes.append(f"{self.name}: {text}")

    def file(self, path: Path) -> None:
        self.health.files += 1
        self.name = path.name
        if path.stat().st_size == 0:
            self.health.files_cut_short += 1
            self.note("the file is empty")
            return
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if bytes(buf[:len(F.MAGIC)]) != F.MAGIC:
                self.health.bytes_lost += len(buf)
                self.note("does not start like an MCAP file; skipped")
                return
            foot = F.footer(buf)
            if foot is None:
                self.health.files_cut_short += 1
                self.note(f"the file ends at byte {len(buf)} without its footer: it was cut "
                          "short (a recorder that stopped abruptly, or a partial copy)")
            end, chunk_offsets = self.summary(buf, foot)
            self.data(buf, end, foot is not None, chunk_offsets)

    def summary(self, buf, foot: F.Footer | None) -> tuple[int, list[int]]:
        """Where the data section ends, and the chunk offsets the summary indexes."""
        if foot is None:
            return len(buf), []
        if not foot.summary_start:
            return foot.at, []
        if not len(F.MAGIC) < foot.summary_start <= foot.at:
            self.health.summary_crc_mismatch += 1
            self.note(f"the footer points at a summary at byte {foot.summary_start}, outside "
                      "the file; walking the whole file")
            return foot.at, []
        trusted = not foot.summary_crc or foot.summary_crc == F.crc32(
            buf, foot.summary_start, foot.summary_crc_end)
        if not trusted:
            self.health.summary_crc_mismatch += 1
            self.note("the summary CRC does not match: its index is not used; walking the "
                      "whole file")
        offsets = []
        try:
            for opcode, start, stop in F.records(buf, foot.summary_start, foot.at):
                if opcode == F.CHUNK_INDEX and stop - start >= 24:
                    offsets.append(struct.unpack_from("<Q", buf, start + 16)[0])
                elif trusted and opcode in (F.SCHEMA, F.CHANNEL):
                    self.definition(opcode, buf, start, stop, weak=False)
        except (F.Damaged, struct.error) as error:
            self.note(f"the summary does not parse ({error})")
        offsets = sorted(o for o in offsets if o < len(buf) and buf[o] == F.CHUNK)
        return (foot.summary_start if trusted else foot.at), offsets

    def data(self, buf, end: int, whole: bool, chunk_offsets: list[int]) -> None:
        pos = len(F.MAGIC)
        while pos < end:
            fits = pos + F.RECORD_HEAD_BYTES <= end and F.record_head(buf, pos)[2] <= end
            if not fits and not whole:
                self.cut_record(buf, pos)
                return
            if not fits:
                resume = next((o for o in chunk_offsets if o > pos), end)
                self.health.bytes_lost += resume - pos
                self.note(f"bytes {pos}..{resume} do not parse as records (a damaged record "
                          "head); " + ("went on at the next indexed chunk" if resume < end
                                       else "the rest of the data section is lost"))
                pos = resume
                continue
            opcode, start, stop = F.record_head(buf, pos)
            if opcode == F.CHUNK:
                self.chunk(buf, start, stop)
            elif opcode == F.DATA_END:
                self.data_end(buf, pos, start, stop)
            elif opcode in (F.SCHEMA, F.CHANNEL, F.MESSAGE):
                self.inner_records(buf, pos, stop, Trust.UNVERIFIED, "the data section")
            pos = stop

    def cut_record(self, buf, pos: int) -> None:
        """The record the file ends in: keep what a cut chunk still holds whole."""
        if pos + F.RECORD_HEAD_BYTES <= len(buf) and buf[pos] == F.CHUNK:
            _, start, stop = F.record_head(buf, pos)
            self.health.bytes_missing += stop - len(buf)
            self.chunk(buf, start, stop, cut=True)
            return
        kind = F.record_name(buf[pos])
        self.health.bytes_lost += len(buf) - pos
        if pos + F.RECORD_HEAD_BYTES <= len(buf):
            self.health.bytes_missing += F.record_head(buf, pos)[2] - len(buf)
        self.note(f"the file ends {len(buf) - pos} bytes into a {kind} record at byte {pos}; "
                  "nothing in it is used")

    def chunk(self, buf, start: int, stop: int, cut: bool = False) -> None:
        h = self.health
        h.chunks += 1
        h.chunks_cut += int(cut)
        where = f"chunk {h.chunks} at byte {start - F.RECORD_HEAD_BYTES}"
        try:
            head = F.chunk_head(buf, start, stop)
            where += f" (bag time {head.start_ns * 1e-9:.3f}..{head.end_ns * 1e-9:.3f} s)"
            if cut:
                data = F.decompress(buf[head.data_start:min(head.data_end, len(buf))],
                                    head.compression, partial=True)
            else:
                if head.data_end > stop:
                    raise F.Damaged("its records claim more bytes than the chunk has")
                data = F.decompress(buf[head.data_start:head.data_end], head.compression)
        except F.Damaged as error:
            h.chunks_unreadable += int(not cut)
            h.bytes_lost += min(stop, len(buf)) - start + F.RECORD_HEAD_BYTES
            self.note(f"{where}: {error}; its messages are lost")
            return
        if cut:
            self.cut_chunk(buf, head, data, where)
            return
        trust = self.chunk_trust(head, data)
        if not self.keep:
            if trust is Trust.MISMATCH:
                self.note(f"{where}: {trust.value}")
            return
        before = h.messages_dropped
        used = self.inner_records(data, 0, len(data), trust, where)
        if trust is Trust.MISMATCH:
            dropped = h.messages_dropped - before
            counted = str(dropped) if used == len(data) else f"at least {dropped}"
            on = "" if self.topics is None else f" on {', '.join(sorted(self.topics))}"
            self.note(f"{where}: {trust.value}, so its bytes changed after it was written; its "
                      f"{counted} messages{on} are left out")

    def chunk_trust(self, head: F.ChunkHead, data: bytes) -> Trust:
        if head.crc == 0:
            self.health.chunks_without_crc += 1
            return Trust.UNVERIFIED
        if zlib.crc32(data) == head.crc:
            self.health.chunks_verified += 1
            return Trust.VERIFIED
        self.health.chunks_crc_mismatch += 1
        return Trust.MISMATCH

    def cut_chunk(self, buf, head: F.ChunkHead, data: bytes, where: str) -> None:
        if not self.keep:
            return
        before = self.health.messages_unverified
        used = self.inner_records(data, 0, len(data), Trust.UNVERIFIED, where, cut=True)
        if head.compression:  # the unused tail cannot be mapped back to file bytes
            self.health.bytes_lost += (len(buf) - head.data_start) if used == 0 else 0
        else:
            self.health.bytes_lost += len(buf) - (head.data_start + used)
        self.note(f"{where} is cut by the end of the file: kept its "
                  f"{self.health.messages_unverified - before} whole messages (its CRC cannot "
                  "be checked on a part)")

    def inner_records(self, data, pos: int, end: int, trust: Trust, where: str,
                      cut: bool = False) -> int:
        """Schemas, channels and messages from ``pos``; -> bytes used by whole records."""
        used = pos
        try:
            for opcode, start, stop in F.records(data, pos, end):
                if opcode in (F.SCHEMA, F.CHANNEL):
                    self.definition(opcode, data, start, stop, weak=trust is Trust.MISMATCH)
                elif opcode == F.MESSAGE:
                    self.message(data, start, stop, trust)
                used = stop
        except (F.Damaged, struct.error) as error:
            if not cut and trust is not Trust.MISMATCH:
                self.health.bytes_lost += end - used
                self.note(f"{where}: {error}; its later records are lost")
        return used - pos

    def definition(self, opcode: int, data, start: int, stop: int, weak: bool) -> None:
        """A schema or channel record; one from a chunk that failed its CRC is used only for
        ids nothing else defines."""
        if opcode == F.SCHEMA:
            (schema_id,) = struct.unpack_from("<H", data, start)
            self.schemas.setdefault(schema_id, F.string_at(data, start + 2, stop)[0])
            return
        channel_id, schema_id = struct.unpack_from("<HH", data, start)
        known = channel_id in self.channels and channel_id not in self.weak_channels
        if known or (weak and channel_id in self.channels):
            return
        topic, _ = F.string_at(data, start + 4, stop)
        self.channels[channel_id] = (topic, self.schemas.get(schema_id, ""))
        (self.weak_channels.add if weak else self.weak_channels.discard)(channel_id)

    def message(self, data, start: int, stop: int, trust: Trust) -> None:
        if stop - start < F.MESSAGE_HEAD_BYTES:
            raise F.Damaged(f"a {stop - start}-byte message record is shorter than its head")
        channel_id, _, log_ns, _ = struct.unpack_from("<HIQQ", data, start)
        if channel_id not in self.channels:
            self.health.messages_unknown_channel += 1
            return
        topic, msgtype = self.channels[channel_id]
        if self.topics is not None and topic not in self.topics:
            return
        if trust is Trust.MISMATCH:
            self.health.messages_dropped += 1
            return
        if trust is Trust.UNVERIFIED:
            self.health.messages_unverified += 1
        self.messages.append(RawMessage(topic, msgtype, log_ns,
                                        bytes(data[start + F.MESSAGE_HEAD_BYTES:stop])))

    def data_end(self, buf, pos: int, start: int, stop: int) -> None:
        if stop - start < 4:
            return
        (stored,) = struct.unpack_from("<I", buf, start)
        if stored and stored != F.crc32(buf, 0, pos):
            self.health.data_crc_mismatch += 1
            self.note("the data section CRC does not match"
                      + ("" if self.health.chunks_crc_mismatch or self.health.chunks_unreadable
                         else "; every chunk's CRC does, so the damage is in record heads or "
                              "indexes, not in a message"))

    def finish(self) -> Walk:
        self.messages.sort(key=lambda m: m.log_ns)
        topics = {topic: msgtype for topic, msgtype in self.channels.values()}
        return Walk(self.messages, topics, self.health)
