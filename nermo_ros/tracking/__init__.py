"""Per-person sliding windows of observed skeletons, with input validation (no rclpy here)."""
