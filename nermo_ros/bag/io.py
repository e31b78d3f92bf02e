"""Read and write rosbag2 files (MCAP or SQLite 3) with the rosbags library; no ROS needed.

Reading never crashes on a damaged bag: messages that do not decode are counted and skipped,
and a storage error (a corrupt chunk, a truncated file) ends the read with what was read so far
and the error in the ``BagReadReport``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from nermo_ros.bag import types as T
from nermo_ros.bag.messages import (SKELETON_TYPES, ForecastRecord, SkeletonFrame,
                                    forecast_records, frame_from_message)

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
DEFAULT_STORAGE = "mcap"
BAG_VERSION = 9


class BagWriter:
    """A new rosbag2 directory; topics are added on first write. Use as a context manager."""

    def __init__(self, path: str | Path, storage: str = DEFAULT_STORAGE):
        if storage not in STORAGES:
            raise ValueError(f"unknown storage {storage!r}; choose one of {', '.join(STORAGES)}")
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; choose a new output path or delete it first")
        self.path = path
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        self._connections: dict[str, object] = {}
        self.count = 0

    def __enter__(self) -> "BagWriter":
        self._writer.open()
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()

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
    """What reading a bag found, for people: counts, skipped messages, damage."""

    path: str
    messages_read: int = 0
    undecodable: int = 0
    first_problem: str = ""
    damaged: str = ""
    topics: dict[str, str] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        self.undecodable += 1
        self.first_problem = self.first_problem or text

    def lines(self) -> list[str]:
        out = [f"{self.path}: read {self.messages_read} messages"]
        if self.undecodable:
            out.append(f"skipped {self.undecodable} messages that did not decode; first: "
                       f"{self.first_problem}")
        if self.damaged:
            out.append(f"the bag is damaged; reading stopped early: {self.damaged}")
        return out


@dataclass(frozen=True)
class RawMessage:
    topic: str
    msgtype: str
    log_ns: int
    data: bytes


def bag_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type of a bag; a bag that cannot be opened raises ValueError."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no bag at {path}; pass a rosbag2 folder, .mcap or .db3 file")
    try:
        with Reader(path) as reader:
            return {c.topic: c.msgtype for c in reader.connections}
    except Exception as error:
        raise ValueError(
            f"cannot open the bag {path}: {type(error).__name__}: {error}. The file is "
            "damaged or was cut short (an MCAP file of a recorder that crashed lacks its "
            "index: `mcap recover` from the MCAP command-line tools rebuilds it)") from error


def iter_raw(path: str | Path, topics: set[str] | None, report: BagReadReport
             ) -> Iterator[RawMessage]:
    """Messages in bag-time order; a storage error is recorded in ``report`` and ends the read."""
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


def read_raw(path: str | Path, topics: set[str] | None, report: BagReadReport
             ) -> list[RawMessage]:
    """All messages on ``topics``; from a damaged MCAP bag, whatever a record walk recovers."""
    messages = list(iter_raw(path, topics, report))
    if report.damaged and (Path(path).suffix == ".mcap" or any(Path(path).glob("*.mcap"))):
        from nermo_ros.bag.salvage import salvage_mcap

        recovered, problems = salvage_mcap(path, topics)
        if len(recovered) > len(messages):
            report.damaged += (f"; recovered {len(recovered)} messages record by record"
                               + "".join(f"; {p}" for p in problems))
            messages = recovered
            report.messages_read = len(recovered)
    return messages


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
