"""Perception: camera frames -> everybody's canonical 3D skeleton with a persistent id
(pure Python, no rclpy).

``bundle`` builds the PoseLandmarker bundle from the installed mediapipe's pose models,
``pose`` runs it, ``anchor`` says where a body is and which fits are one person twice,
``identity`` keeps ids across frames, ``depth`` places a skeleton metrically with a depth
image, ``image_convert`` reads sensor_msgs/Image fields without cv_bridge, ``frame_source``
opens a camera or video file with OpenCV, ``stamp_matcher`` pairs colour/depth/camera_info by
stamp, ``pipeline`` ties them together per frame, ``stats`` keeps frame, detection and skip
counts, ``video`` turns a whole video file into skeletons for offline tools, ``media`` finds
the real videos shipped in pinned packages and ``benchmark`` measures all of it on them.
"""
