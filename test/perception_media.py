"""Real media for perception tests: a photograph of a person and a short video made from it."""

from pathlib import Path

import cv2
import numpy as np
from skimage import data

VIDEO_RATE_HZ = 10.0


def astronaut_rgb() -> np.ndarray:
    """scikit-image's astronaut photograph (512x512 RGB): a person, upper body in view."""
    return data.astronaut()


def write_astronaut_video(path: Path, num_frames: int = 5, shift_px: int = 4,
                          rate_hz: float = VIDEO_RATE_HZ) -> Path:
    """An MJPG avi of the astronaut sliding sideways ``shift_px`` per frame at ``rate_hz``."""
    rgb = astronaut_rgb()
    height, width = rgb.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), rate_hz,
                             (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for i in range(num_frames):
        frame = np.roll(rgb, i * shift_px, axis=1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def packaged_video_or_skip(name: str) -> Path:
    """The path of a real video that ships in a pinned package (``perception.media.VIDEOS``);
    the test skips, naming the package, where it is not installed."""
    import pytest

    from nermo_ros.perception.media import VIDEOS

    video = VIDEOS[name]
    if video.path() is None:
        pytest.skip(f"the {video.distribution} package (requirements-media.txt) that ships the "
                    f"{name!r} video is not installed")
    return video.path()


def packaged_clip(name: str, first: int, count: int, path: Path) -> str:
    """Frames [first, first + count) of a packaged video as an MJPG avi (real frames, shorter);
    skips as ``packaged_video_or_skip`` does."""
    source = packaged_video_or_skip(name)
    capture = cv2.VideoCapture(str(source))
    rate_hz = capture.get(cv2.CAP_PROP_FPS)
    capture.set(cv2.CAP_PROP_POS_FRAMES, first)
    writer = None
    for _ in range(count):
        ok, bgr = capture.read()
        assert ok, f"{source} has fewer than {first + count} frames"
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), rate_hz,
                                     (bgr.shape[1], bgr.shape[0]))
        writer.write(bgr)
    writer.release()
    capture.release()
    return str(path)
