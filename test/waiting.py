"""Waiting in DDS tests: poll a condition until it holds or a deadline passes."""

import time


def wait_for(condition, timeout_s: float = 10.0, poll_s: float = 0.005) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(poll_s)
