"""Record live topics into a rosbag2 file: serialised bytes as received, logged at receive time.

Messages are written in the order they arrive, each at the node clock's time of arrival (sim
time under use_sim_time), and keep their own header stamps untouched inside. Each topic is
subscribed reliably when all its publishers are reliable, else best effort, so the recorder
matches any publisher.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from nermo_ros.bag.io import BagWriter
from nermo_ros.bag.player import message_class


def subscription_qos(node: Node, topic: str) -> QoSProfile:
    publishers = node.get_publishers_info_by_topic(topic)
    reliable = bool(publishers) and all(
        p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                      reliability=ReliabilityPolicy.RELIABLE if reliable
                      else ReliabilityPolicy.BEST_EFFORT)


def published_types(node: Node, wanted: set[str]) -> dict[str, str]:
    """Topic -> type of those of ``wanted`` (resolved names) that have a publisher now."""
    return {name: types[0] for name, types in node.get_topic_names_and_types()
            if name in wanted and types}


def wait_for_types(node: Node, topics: list[str], timeout_s: float) -> dict[str, str]:
    """Topic -> type of those of ``topics`` that have a publisher within ``timeout_s``."""
    wanted = {node.resolve_topic_name(t) for t in topics}
    deadline = time.monotonic() + timeout_s
    while True:
        found = published_types(node, wanted)
        if set(found) == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


class BagRecorder:
    """Subscribes to ``topic_types`` (topic -> pkg/msg/Type) and writes a bag at ``path``.

    Callbacks only queue the bytes; one writer thread owns the bag (SQLite connections must
    stay in the thread that opened them). Use as a context manager: leaving it closes the bag.
    """

    def __init__(self, node: Node, path, storage: str, topic_types: dict[str, str]):
        self.node = node
        self.counts: Counter = Counter()
        self._count_lock = threading.Lock()
        self.error: Exception | None = None
        self._queue: queue.Queue = queue.Queue()
        self._writer = BagWriter(path, storage)  # checks the path now, opens in the thread
        self._thread = threading.Thread(target=self._write_loop, daemon=True)
        self._thread.start()
        self.topics: dict[str, str] = {}
        for topic, msgtype in topic_types.items():
            self.subscribe(topic, msgtype)

    def subscribe(self, topic: str, msgtype: str) -> None:
        """Record ``topic`` too, from now on (a topic whose first publisher came late)."""
        self.node.create_subscription(message_class(msgtype), topic,
                                      self._callback(topic, msgtype),
                                      subscription_qos(self.node, topic), raw=True)
        self.topics[topic] = msgtype

    def subscribe_appeared(self, wanted: set[str]) -> list[str]:
        """Subscribe to those of ``wanted`` not recorded yet that now have a publisher;
        returns them."""
        appeared = published_types(self.node, wanted - set(self.topics))
        for topic, msgtype in appeared.items():
            self.subscribe(topic, msgtype)
        return sorted(appeared)

    def _callback(self, topic: str, msgtype: str):
        def receive(data: bytes) -> None:
            self._queue.put((topic, msgtype, self.node.get_clock().now().nanoseconds, data))
            with self._count_lock:
                self.counts[topic] += 1
        return receive

    def _write_loop(self) -> None:
        try:
            with self._writer as writer:
                while (item := self._queue.get()) is not None:
                    writer.write_raw(*item)
        except Exception as error:  # reported by close(); the node keeps running
            self.error = error

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        """Write what is queued and close the bag; raises what the writer thread hit."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"writing the bag failed: {self.error}") from self.error

    def __enter__(self) -> "BagRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
