"""Benchmark: the standard CMU-Mocap short-term protocol, metrics and baselines (no rclpy)."""
