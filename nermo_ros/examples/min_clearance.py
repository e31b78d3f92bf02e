r"""A worked planner example: how close does a robot path come to the forecast people?

Subscribes to `/human_forecast`; for every forecast array it places the robot on its timed
path at each forecast horizon and publishes, as std_msgs/Float32 on `min_clearance_m`, the
smallest gap in the ground plane between the robot's disc and any predicted joint's keep-out
disc, over all people and horizons (``planning/clearance.py``); +inf when nobody is forecast.
The keep-out radius is ``planning/radius.py``'s: the forecast's own ``radius_m``, which holds
the stated ``coverage`` of future positions (calibrated on held-out mocap; a forecast saying
coverage 0 carries the Gaussian reading of its sigma instead). A planner would re-plan or slow
down when the clearance drops below its margin.

    ros2 run nermo_ros min_clearance_example --ros-args \
        -p waypoints:="[0.0, 0.0, 0.0, 8.0, 4.0, 0.0]" -p robot_radius_m:=0.4
    python -m nermo_ros.examples.min_clearance   # the pip-only set-up
"""

from __future__ import annotations

import math

from rclpy.node import Node
from std_msgs.msg import Float32

from nermo_ros.msg import HumanForecastArray
from nermo_ros.nodes.bringup import spin_node_main
from nermo_ros.nodes.msg_convert import forecast_arrays
from nermo_ros.nodes.params import declare_parameters, parameter_overrides
from nermo_ros.parameters import ParamSpec, at_least
from nermo_ros.planning.clearance import person_clearance_m, robot_path
from nermo_ros.planning.radius import keep_out_radius_m

NODE_NAME = "min_clearance_example"
PARAMS = (
    ParamSpec("forecast_topic", "human_forecast", "nermo_ros/HumanForecastArray input topic"),
    ParamSpec("clearance_topic", "min_clearance_m", "std_msgs/Float32 output topic: the "
              "smallest predicted gap (m) per forecast array, +inf when nobody is forecast"),
    ParamSpec("waypoints", [0.0, 0.0, 0.0, 10.0, 5.0, 0.0], "The robot's path in the "
              "forecasts' frame as [t_s, x_m, y_m, ...]: t_s seconds after path_start_s, "
              "increasing; the robot moves straight between waypoints and stands before the "
              "first and after the last"),
    ParamSpec("path_start_s", 0.0, "ROS time in seconds at which the path starts; 0: when the "
              "node starts", at_least(0.0)),
    ParamSpec("robot_radius_m", 0.3, "Radius of the robot's footprint disc (m)", at_least(0.0)),
)


class MinClearanceExample(Node):
    """Forecast arrays in, the robot path's smallest predicted clearance out."""

    def __init__(self, config_path=None, overrides=None):
        super().__init__(NODE_NAME, parameter_overrides=parameter_overrides(
            PARAMS, NODE_NAME, config_path, overrides))
        values = declare_parameters(self, PARAMS)
        self.path = robot_path(values["waypoints"])
        start_s = values["path_start_s"]
        self.path_start_ns = (round(start_s * 1e9) if start_s > 0
                              else self.get_clock().now().nanoseconds)
        self.robot_radius_m = values["robot_radius_m"]
        self._publisher = self.create_publisher(Float32, values["clearance_topic"], 10)
        self.create_subscription(HumanForecastArray, values["forecast_topic"],
                                 self.on_forecasts, 10)

    def on_forecasts(self, msg: HumanForecastArray) -> None:
        clearance_m = math.inf
        for forecast in msg.forecasts:
            try:
                person = forecast_arrays(forecast)
            except ValueError as error:  # a malformed forecast: skip that person, say why
                self.get_logger().warn(f"ignoring a forecast: {error}", throttle_duration_sec=5.0)
                continue
            clearance_m = min(clearance_m, person_clearance_m(
                self.path, self.path_start_ns, person.stamp_ns, person.time_offsets_s,
                person.positions_m, keep_out_radius_m(person.uncertainty_m, person.radius_m),
                self.robot_radius_m))
        self._publisher.publish(Float32(data=clearance_m))


def main(args=None) -> None:
    spin_node_main(MinClearanceExample, args)


if __name__ == "__main__":
    main()
