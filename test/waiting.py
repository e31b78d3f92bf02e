"""Waiting in DDS tests: poll a condition until it holds or a deadline passes.

The default deadline is generous: a condition that holds returns at once, and a 2-core machine
running the suite can stall DDS delivery for several seconds (seen once as three 10 s time-outs
in one run that passed on every rerun).
"""

import time

DEFAULT_TIMEOUT_S = 30.0


def wait_for(condition, timeout_s: float = DEFAULT_TIMEOUT_S, poll_s: float = 0.005) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting {timeout_s:g} s")
        time.sleep(poll_s)


def detach(executor, node, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Remove a node from a spinning executor and destroy it, in the thread that spins it.

    Destroying it from the test thread races the executor's loop over the node's entities:
    the spin thread dies and every later test of the module times out (seen once in CI).
    """
    def remove_and_destroy() -> None:
        executor.remove_node(node)
        node.destroy_node()

    task = executor.create_task(remove_and_destroy)
    wait_for(task.done, timeout_s)
    task.result()  # re-raises what the executor thread met
