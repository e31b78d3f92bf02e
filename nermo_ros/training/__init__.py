"""Meta-training of NeRMo and training of the DCT-MLP baseline (no rclpy)."""
