"""nermo_ros: forecast where people are going to be, from 3D skeletons, for ROS 2 planners.

In a checkout the package may be split over two directories: this source tree (pure Python)
and a colcon install holding the rosidl-generated ``nermo_ros.msg``. ``extend_path`` joins
them. A colcon install does not install this file (rosidl writes its own, empty one), so put
nothing here that the package needs: no imports, no constants; the version is in package.xml.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
