"""Forecasts in the forms planners already read, as pure functions of arrays (no rclpy).

``frames``: REP-155 body ids, the mid-hip body frame and the joint frames of a skeleton.
``people``: position, velocity and reliability per person (people_msgs/People).
``paths``: each person's forecast mid-hip poses at the horizons (nav_msgs/Path).
``radius``: the keep-out radius around each predicted joint.
``clearance``: a robot path against the forecasts (the worked planner example).
``settings``: the predictor parameters that switch these outputs.
"""
