"""nermo_ros: forecast where people are going to be, from 3D skeletons, for ROS 2 planners.

The package may be split over two directories: this source tree (pure Python) and a colcon
install holding the rosidl-generated ``nermo_ros.msg``. ``extend_path`` joins them.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
