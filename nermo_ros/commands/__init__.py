"""Verbs of the `nermo-ros` command, one module each (see nermo_ros/cli.py)."""
