"""Real recorded motion as canonical skeletons (nermo_ros/skeleton.py) with real timestamps.

- ``cmu``: the CMU mocap exponential-map files of the public motion-prediction benchmark.
- ``pybullet_clips``: the DeepMimic mocap clips that ship in the pybullet wheel.
Both return ``clip.Clip`` (times in seconds, positions in metres, REP-103 axes).
"""
