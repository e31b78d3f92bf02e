"""Read and write rosbag2 files (MCAP or SQLite 3) with the rosbags library; no ROS needed.

Reading never crashes on a damaged bag. An MCAP bag is checked first (CRCs, a whole file): a
sound one is read through its index by rosbags, any other record by record (salvage.py), which
keeps every message it can still trust and counts what it leaves out. A message that does not
decode is counted and skipped. ``BagReadReport`` says what was read, recovered and lost: as
lines for people and as ``health()`` for the JSON. MCAP files written here carry real CRCs.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from nermo_ros.bag import mcap_format as F
from nermo_ros.bag import types as T
from nermo_ros.bag.messages import (SKELETON_TYPES, ForecastRecord, SkeletonFrame,
                                    forecast_records, frame_from_message)

if TYPE_CHECKING:
    from nermo_ros.bag.salvage import McapHealth

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
DEFAULT_STORAGE = "mcap"
BAG_VERSION = 9
# A chunk is what one CRC vouches for, so a damaged byte costs its whole chunk. rosbags closes
# chunks at 1 MiB (about 2,600 one-person skeleton frames, 90 s at 30 Hz); 64 KiB bounds the
# loss to about 5 s for under 0.5% more index.
MCAP_CHUNK_BYTES = 64 * 1024
SQLITE_ADVICE = ("its SQLite file is damaged or was cut short, and SQLite refuses it; re-record "
                 "or re-convert it, to MCAP (the default storage) where it may be cut short "
                 "again: a cut MCAP file keeps every whole record")


class _CheckedMcapWriter(McapWriter):
    """rosbags' MCAP storage with smaller chunks that carry their CRC, so the complete chunks
    of a recording cut short by a crash can still be verified."""

    def write(self, connection, timestamp: int, data) -> None:
        super().write(connection, timestamp, data)
        if self.chunk.bio.tell() >= MCAP_CHUNK_BYTES:
            self.close_chunk()

    def close_chunk(self) -> None:
        crc, chunk_at = zlib.crc32(self.chunk.bio.getvalue()), self.bio.tell()
        super().close_chunk()
        self.bio.seek(chunk_at + F.RECORD_HEAD_BYTES + F.CHUNK_CRC_AT)
        self.bio.write(struct.pack("<I", crc))
        self.bio.seek(0, os.SEEK_END)


class _Writer(Writer):
    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _CheckedMcapWriter}


class BagWriter:
    """A new rosbag2 directory; topics are added on first write. Use as a context manager."""

    def __init__(self, path: str | Path, storage: str = DEFAULT_STORAGE):
        if storage not in STORAGES:
            raise ValueError(f"unknown storage {storage!r}; choose one of {', '.join(STORAGES)}")
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; choose a new output path or delete it first")
        self.path = path
        self._writer = _Writer(path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        self._connections: dict[str, object] = {}
        self.count = 0

    def __enter__(self) -> "BagWriter":
        self._writer.open()
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()
        for file in mcap_files(self.path):
            F.seal_crcs(file)

    def _connection(self, topic: str, msgtype: str):
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=T.typestore())
            self._connections[topic] = conn
        elif conn.msgtype != msgtype:
            raise ValueError(f"topic {topic} already holds {conn.msgtype}, not {msgtype}")
        return conn

    def write(self, topic: str, log_ns: int, msg) -> None:
        """Serialise a rosbags message and write it at bag time ``log_ns``."""
        data = T.typestore().serialize_cdr(msg, msg.__msgtype__)
        self.write_raw(topic, msg.__msgtype__, log_ns, data)

    def write_raw(self, topic: str, msgtype: str, log_ns: int, data: bytes) -> None:
        """Write already serialised (CDR) bytes, as received from DDS."""
        self._writer.write(self._connection(topic, msgtype), int(log_ns), bytes(data))
        self.count += 1


@dataclass
class BagReadReport:
    """What reading a bag found: counts, skipped messages, damage, what was recovered."""

    path: str
    messages_read: int = 0  # on the topics read, before decoding
    undecodable: int = 0
    first_problem: str = ""
    damaged: str = ""
    topics: dict[str, str] = field(default_factory=dict)
    storage: str = ""
    salvaged: bool = False  # read record by record (salvage.py), not through the index
    messages_expected: int | None = None  # on the topics read, as metadata.yaml counts them
    mcap: McapHealth | None = None

    def problem(self, text: str) -> None:
        self.undecodable += 1
        self.first_problem = self.first_problem or text

    @property
    def messages_missing(self) -> int | None:
        if self.messages_expected is None:
            return None
        return max(self.messages_expected - self.messages_read, 0)

    def lines(self) -> list[str]:
        out = [f"{self.path}: read {self.messages_read} messages"]
        if self.salvaged:
            out[0] += " record by record (salvaged)"
        if self.messages_missing:
            out.append(f"{self.messages_missing} of the {self.messages_expected} messages that "
                       "metadata.yaml counts on these topics are missing")
        if self.undecodable:
            out.append(f"skipped {self.undecodable} messages that did not decode; first: "
                       f"{self.first_problem}")
        if self.damaged:
            out.append(f"the bag is damaged: {self.damaged}")
        return out + (self.mcap.lines() if self.mcap else [])

    def health(self) -> dict:
        """What was read, recovered and lost, for machines (the JSON's ``bag_health``)."""
        return {
            "storage": self.storage, "damaged": bool(self.damaged),
            "read_by": "record walk (salvage)" if self.salvaged else "index",
            "messages_read": self.messages_read,
            "messages_recovered_by_salvage": self.messages_read if self.salvaged else 0,
            "messages_expected": self.messages_expected,
            "messages_missing": self.messages_missing,
            "messages_undecodable": self.undecodable,
            "mcap": self.mcap.as_dict() if self.mcap else None,
            "notes": self.lines()[1:],
        }


@dataclass(frozen=True)
class RawMessage:
    topic: str
    msgtype: str
    log_ns: int
    data: bytes


def mcap_files(path: str | Path) -> list[Path]:
    """The MCAP files of a bag: the file itself, or those in a rosbag2 folder."""
    path = Path(path)
    if path.is_file():
        return [path] if path.suffix == ".mcap" else []
    return sorted(path.glob("*.mcap")) if path.is_dir() else []


def _storage(path: Path) -> str:
    if mcap_files(path):
        return "mcap"
    sqlite = path.suffix == ".db3" or (path.is_dir() and any(path.glob("*.db3")))
    return "sqlite3" if sqlite else "unknown"


def bag_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type of a bag; a damaged MCAP bag's come from its channel records.

    A bag that cannot be read at all raises ValueError, saying why and what to do.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no bag at {path}; pass a rosbag2 folder, .mcap or .db3 file")
    try:
        with Reader(path) as reader:
            return {c.topic: c.msgtype for c in reader.connections}
    except Exception as error:  # rosbags, mcap, sqlite3 and zstd raise many kinds
        cause = f"{type(error).__name__}: {error}"
    if mcap_files(path):
        from nermo_ros.bag.salvage import salvage_mcap

        walk = salvage_mcap(path, set())
        if walk.topics:
            return walk.topics
        raise ValueError(f"cannot open the bag {path} ({cause}), and no channel record survives "
                         f"in it ({'; '.join(walk.health.lines()) or 'none was written'}): "
                         "nothing in it can be read")
    advice = SQLITE_ADVICE if _storage(path) == "sqlite3" else (
        "pass a rosbag2 folder, an .mcap or a .db3 file")
    raise ValueError(f"cannot open the bag {path} ({cause}); {advice}")


def _expected_count(path: Path, topics: set[str] | None) -> int | None:
    """Messages on ``topics`` by the bag's metadata.yaml; None without a readable one."""
    try:
        info = YAML(typ="safe").load((path / "metadata.yaml").read_text())
        counts = {t["topic_metadata"]["name"]: int(t["message_count"])
                  for t in info["rosbag2_bagfile_information"]["topics_with_message_count"]}
    except (OSError, YAMLError, KeyError, TypeError, ValueError):  # absent (a single file, a
        return None  # recorder that crashed) or damaged: the count is unknown
    return sum(n for t, n in counts.items() if topics is None or t in topics)


def iter_raw(path: str | Path, topics: set[str] | None, report: BagReadReport
             ) -> Iterator[RawMessage]:
    """Messages in bag-time order through the bag's index; a storage error is recorded in
    ``report`` and ends the read."""
    try:
        with Reader(Path(path)) as reader:
            report.topics = {c.topic: c.msgtype for c in reader.connections}
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            if not conns:
                return
            for conn, log_ns, data in reader.messages(connections=conns):
                report.messages_read += 1
                yield RawMessage(conn.topic, conn.msgtype, log_ns, bytes(data))
    except Exception as error:  # rosbags, mcap, sqlite3 and zstd raise many kinds
        report.damaged = f"{type(error).__name__}: {error}"
        if report.storage == "sqlite3":
            report.damaged += f"; {SQLITE_ADVICE}"


def read_raw(path: str | Path, topics: set[str] | None, report: BagReadReport
             ) -> list[RawMessage]:
    """All messages on ``topics`` in bag-time order; from an MCAP bag that is not sound, every
    message the record walk can still trust (salvage.py)."""
    from nermo_ros.bag import salvage

    path = Path(path)
    report.storage = _storage(path)
    report.messages_expected = _expected_count(path, topics)
    if report.storage != "mcap":
        return list(iter_raw(path, topics, report))
    check = salvage.check_mcap(path)
    if check.sound:
        messages = list(iter_raw(path, topics, report))
        if not report.damaged:
            report.mcap = check
            return messages
    walk = salvage.salvage_mcap(path, topics)
    report.damaged = report.damaged or walk.health.damage()
    report.salvaged, report.mcap = True, walk.health
    report.topics = report.topics or walk.topics
    report.messages_read = len(walk.messages)
    return walk.messages


def pick_skeleton_topic(topics: dict[str, str], topic: str | None = None) -> str:
    """The requested topic (checked), else the one skeleton-stream topic of the bag."""
    if topic:
        if topic not in topics:
            raise ValueError(f"topic {topic} is not in the bag; it has {_listing(topics)}")
        if topics[topic] not in SKELETON_TYPES:
            raise ValueError(f"topic {topic} holds {topics[topic]}, not a skeleton stream "
                             f"({', '.join(SKELETON_TYPES)})")
        return topic
    for wanted in SKELETON_TYPES:
        found = sorted(t for t, m in topics.items() if m == wanted)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ValueError(f"the bag has several {wanted} topics ({', '.join(found)}); "
                             "name one with --topic")
    raise ValueError(f"no skeleton stream ({', '.join(SKELETON_TYPES)}) in the bag; it has "
                     f"{_listing(topics)}")


def _listing(topics: dict[str, str]) -> str:
    return ", ".join(f"{t} [{m}]" for t, m in sorted(topics.items())) or "no topics"


def read_skeleton_frames(path: str | Path, topic: str | None = None
                         ) -> tuple[list[SkeletonFrame], BagReadReport]:
    """Every frame of the bag's skeleton stream (see messages.py for the accepted types)."""
    report = BagReadReport(str(path))
    topic = pick_skeleton_topic(bag_topics(path), topic)
    frames = []
    for raw in read_raw(path, {topic}, report):
        try:
            msg = T.typestore().deserialize_cdr(raw.data, raw.msgtype)
            frames.append(frame_from_message(msg, raw.msgtype, raw.topic, raw.log_ns))
        except Exception as error:  # a damaged message: count it, keep the rest
            report.problem(f"{raw.topic} at bag time {raw.log_ns * 1e-9:.3f} s: "
                           f"{type(error).__name__}: {error}")
    return frames, report


def read_forecasts(path: str | Path, topic: str | None = None
                   ) -> tuple[list[ForecastRecord], BagReadReport]:
    """Every forecast of the bag's HumanForecastArray topic."""
    report = BagReadReport(str(path))
    topics = bag_topics(path)
    found = [t for t, m in topics.items() if m == T.FORECAST_ARRAY and (not topic or t == topic)]
    if len(found) != 1:
        raise ValueError(f"expected one {T.FORECAST_ARRAY} topic{' ' + topic if topic else ''} "
                         f"in {path}; it has {_listing(topics)}")
    records = []
    for raw in read_raw(path, set(found), report):
        try:
            msg = T.typestore().deserialize_cdr(raw.data, raw.msgtype)
            records.extend(replace(r, log_ns=raw.log_ns) for r in forecast_records(msg))
        except Exception as error:
            report.problem(f"{raw.topic} at bag time {raw.log_ns * 1e-9:.3f} s: "
                           f"{type(error).__name__}: {error}")
    return records, report
