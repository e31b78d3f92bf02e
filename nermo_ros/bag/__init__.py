"""rosbag2 tools without a ROS 2 installation (the pure-Python ``rosbags`` library).

- ``types``: the type store with the project's messages; ``messages``: messages <-> arrays;
- ``io``: read/write MCAP and SQLite 3 bags, reporting damage instead of crashing;
- ``convert``: mocap clips, CMU trials and videos -> skeleton bags;
- ``timing``: the replay schedule; ``checks``: gaps and time jumps of a stream;
- ``offline``, ``metrics``, ``evaluate``, ``report``: score a predictor against a bag.
The DDS side (replay, record, live evaluation) is in ``live``, ``player``, ``recorder`` and ``ros_cli`` (these import rclpy).
"""
