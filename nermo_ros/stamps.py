"""Header stamps as integer nanoseconds, the one time unit the windows, bags and scores use."""

from __future__ import annotations

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp) -> int:
    """A ``builtin_interfaces/Time`` (rclpy or rosbags) as nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def sec_nanosec(stamp_ns: int) -> tuple[int, int]:
    """Nanoseconds as the (sec, nanosec) fields of a stamp."""
    sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
    return sec, nanosec
