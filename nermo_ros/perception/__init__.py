"""Perception: camera frames -> canonical 3D skeletons (pure Python, no rclpy).

``pose`` wraps MediaPipe Pose, ``depth`` places a skeleton metrically with a depth image,
``image_convert`` reads sensor_msgs/Image fields without cv_bridge, ``frame_source`` opens a
camera or video file with OpenCV, ``stamp_matcher`` pairs colour/depth/camera_info by stamp,
``pipeline`` ties them together per frame, ``stats`` keeps frame and detection rates and
``video`` turns a whole video file into skeletons for offline tools.
"""
