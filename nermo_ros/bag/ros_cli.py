"""The DDS half of `nermo-ros bag record` and `nermo-ros bag replay`: a node, then wait."""

from __future__ import annotations

import os
import time

import rclpy
from rclpy.parameter import Parameter

from nermo_ros.bag.io import BagReadReport, read_raw
from nermo_ros.bag.timing import ReplaySettings, parse_remaps
from nermo_ros.bag.player import BagPlayer
from nermo_ros.bag.recorder import BagRecorder, wait_for_types
from nermo_ros.nodes.bringup import spin_until

LATE_TOPIC_POLL_S = 0.5  # how often the recorder looks for publishers of topics still missing


def replay(args) -> int:
    if not os.path.exists(args.bag):
        raise FileNotFoundError(f"no bag at {args.bag}; pass a rosbag2 folder, .mcap or .db3 file")
    report = BagReadReport(args.bag)
    messages = read_raw(args.bag, set(args.topics) if args.topics else None, report)
    for line in report.lines()[1:]:
        print(f"note: {line}")
    if not messages:
        print(f"nermo-ros bag replay: nothing to play in {args.bag} "
              f"(topics: {', '.join(report.topics) or 'none'})")
        return 1
    settings = ReplaySettings(rate=args.rate, start_offset_s=args.start_offset_s, loop=args.loop,
                              remap=parse_remaps(args.remap),
                              clock_hz=0.0 if args.no_clock else args.clock_hz,
                              delay_s=args.delay_s)
    rclpy.init(args=[])  # our own arguments are not ROS arguments
    node = None
    try:
        node = rclpy.create_node(f"nermo_bag_player_{os.getpid()}")
        player = BagPlayer(node, messages, settings)
        if args.wait_for_subscribers and not player.wait_for_subscribers(
                args.wait_for_subscribers, timeout_s=30.0):
            print(f"nermo-ros bag replay: fewer than {args.wait_for_subscribers} subscribers "
                  "after 30 s; playing anyway")
        stats = player.play()
        print(f"published {stats.published} messages in {stats.passes} pass(es); at most "
              f"{stats.max_late_s * 1e3:.1f} ms late")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def record(args) -> int:
    rclpy.init(args=[])  # our own arguments are not ROS arguments
    node = None
    try:
        node = rclpy.create_node(f"nermo_bag_recorder_{os.getpid()}", parameter_overrides=[
            Parameter("use_sim_time", value=bool(args.use_sim_time))])
        types = wait_for_types(node, args.topics, args.discovery_timeout_s)
        wanted = {node.resolve_topic_name(t) for t in args.topics}
        missing = sorted(wanted - set(types))
        if missing:
            print(f"note: no publisher for {', '.join(missing)} yet; each is recorded from "
                  f"when its first publisher appears")
        with BagRecorder(node, args.output, args.storage, types) as recorder:
            print(f"recording {', '.join(sorted(types)) or 'nothing yet'} to {args.output}; "
                  f"Ctrl-C stops")
            started = next_look = time.monotonic()

            def should_stop() -> bool:
                nonlocal next_look
                now = time.monotonic()
                if now >= next_look and len(recorder.topics) < len(wanted):
                    next_look = now + LATE_TOPIC_POLL_S
                    for topic in recorder.subscribe_appeared(wanted):
                        print(f"recording {topic} too (its first publisher appeared)")
                return (
                    args.duration_s is not None and now - started > args.duration_s) or (
                    args.max_messages is not None and recorder.total >= args.max_messages)

            try:
                spin_until([node], should_stop)
            except KeyboardInterrupt:
                pass
        if not recorder.total:
            print(f"nermo-ros bag record: no message arrived on {', '.join(sorted(wanted))}; "
                  f"{args.output} holds none (are the nodes running, on this ROS_DOMAIN_ID?)")
            return 1
        print(f"wrote {recorder.total} messages: "
              + ", ".join(f"{t} {n}" for t, n in sorted(recorder.counts.items())))
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
