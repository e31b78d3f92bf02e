"""Predictors: from a window of observed skeletons to future skeletons (pure, no rclpy)."""
