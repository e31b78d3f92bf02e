"""ROS 2 nodes: thin glue that converts messages to arrays, calls pure code and publishes.

Nothing may rely on this file's contents: the colcon install leaves it out.
"""
