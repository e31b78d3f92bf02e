"""Publish a bag's messages on live ROS topics with their recorded timing, and /clock.

The bag's serialised bytes are published as they are (rclpy publishes raw CDR), so any message
type whose Python package is installed replays unchanged. Timing comes from
``nermo_ros.bag.timing``; this module only waits and publishes.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from nermo_ros.bag.io import RawMessage
from nermo_ros.bag.timing import ReplaySettings, clock_ns, schedule
from nermo_ros.nodes.msg_convert import ns_to_stamp

PUBLISH_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)


def message_class(msgtype: str):
    """``pkg/msg/Type`` -> the rclpy message class; ImportError says what is missing."""
    package, _, name = msgtype.replace("/msg/", "/").partition("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as error:
        raise ImportError(f"cannot publish {msgtype}: the Python messages of {package!r} are "
                          f"not installed ({error})") from error


@dataclass
class PlayStats:
    published: int = 0
    passes: int = 0
    max_late_s: float = 0.0  # worst lateness of a publish against its due time
    skipped_topics: dict[str, str] = field(default_factory=dict)


class BagPlayer:
    """Publishes ``messages`` (bag-time order) from ``node``; call ``play`` from one thread."""

    def __init__(self, node: Node, messages: Sequence[RawMessage], settings: ReplaySettings,
                 on_published: Callable[[RawMessage, float], None] | None = None):
        self.node = node
        self.settings = settings
        self.on_published = on_published
        self.stats = PlayStats()
        self._publishers = {}
        for topic, msgtype in sorted({(m.topic, m.msgtype) for m in messages}):
            try:
                cls = message_class(msgtype)
            except ImportError as error:
                self.stats.skipped_topics[topic] = str(error)
                node.get_logger().warning(f"not replaying {topic}: {error}")
                continue
            self._publishers[topic] = node.create_publisher(
                cls, settings.remap.get(topic, topic), PUBLISH_QOS)
        self.messages = [m for m in messages if m.topic in self._publishers]
        self._clock = (node.create_publisher(Clock, "/clock", 10) if settings.clock_hz > 0
                       else None)

    def subscriber_count(self) -> int:
        return min((p.get_subscription_count() for p in self._publishers.values()), default=0)

    def wait_for_subscribers(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        """Wait until every replayed topic has ``count`` subscribers (DDS discovery)."""
        deadline = time.monotonic() + timeout_s
        while self.subscriber_count() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def play(self, should_stop: Callable[[], bool] = lambda: False) -> PlayStats:
        sched = schedule([m.log_ns for m in self.messages], self.settings)
        time.sleep(self.settings.delay_s)
        while not should_stop():
            self._play_pass(sched, should_stop)
            self.stats.passes += 1
            if not self.settings.loop or not len(sched.indices):
                break
        return self.stats

    def _play_pass(self, sched, should_stop) -> None:
        period_s = 1.0 / self.settings.clock_hz if self.settings.clock_hz > 0 else float("inf")
        start = time.monotonic()
        for i, due_s in zip(sched.indices, sched.due_s):
            while (now := time.monotonic() - start) < due_s:
                if should_stop():
                    return
                self._publish_clock(clock_ns(sched, now, self.settings.rate))
                time.sleep(min(period_s, due_s - now))
            message = self.messages[i]
            self._publish_clock(message.log_ns)
            self._publishers[message.topic].publish(message.data)
            self.stats.published += 1
            self.stats.max_late_s = max(self.stats.max_late_s, time.monotonic() - start - due_s)
            if self.on_published is not None:
                self.on_published(message, time.perf_counter())
        if self.settings.loop:  # one typical interval before the next pass begins
            time.sleep(max(0.0, sched.pass_s - (time.monotonic() - start)))

    def _publish_clock(self, bag_ns: int) -> None:
        if self._clock is not None:
            self._clock.publish(Clock(clock=ns_to_stamp(bag_ns)))
