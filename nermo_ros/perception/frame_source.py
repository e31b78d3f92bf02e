"""Frames straight from a camera device or a video file (OpenCV), for when no driver runs.

A video's frames are stamped with the file's own frame times offset to a start time (by
default the clock when the first frame is read), so a replay keeps the recorded timing however
fast we read it; a camera's frames are stamped with
the clock at capture. Looping a video keeps stamps increasing (each pass starts where the last
one ended).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

FALLBACK_RATE_HZ = 30.0  # when a source does not report its frame rate


@dataclass(frozen=True)
class Frame:
    """One RGB frame (H, W, 3) uint8 and its capture stamp in seconds."""

    stamp_s: float
    rgb: np.ndarray


class FrameSource:
    """Open with ``FrameSource.video(path)`` or ``FrameSource.camera(index)``; ``read()`` frames."""

    def __init__(self, capture, description: str, is_file: bool, start_time_s: float | None,
                 clock: Callable[[], float], loop: bool):
        self._capture = capture
        self.description = description
        self.is_file = is_file
        self._start_time_s = start_time_s
        self._clock = clock
        self._loop = loop
        self._pass_offset_s = 0.0
        self._last_frame_s = 0.0
        self.skipped_frames = 0
        rate = float(capture.get(_cv2().CAP_PROP_FPS) or 0.0)
        self.rate_hz = rate if 0.0 < rate < 1000.0 else FALLBACK_RATE_HZ

    @classmethod
    def video(cls, path: str, start_time_s: float | None = None, loop: bool = False,
              clock: Callable[[], float] = time.time) -> "FrameSource":
        """``start_time_s`` None: the first frame is stamped with the clock when it is read."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"video_path {path!r} does not exist; give a readable "
                                    "video file")
        capture = _cv2().VideoCapture(path)
        if not capture.isOpened():
            raise ValueError(f"OpenCV cannot decode video {path!r}; convert it to mp4 (H.264/mp4v) "
                             "or avi (MJPG)")
        return cls(capture, f"video {path}", True, start_time_s, clock, loop)

    @classmethod
    def camera(cls, device: int, clock: Callable[[], float] = time.time) -> "FrameSource":
        cv2 = _cv2()
        capture = cv2.VideoCapture(int(device))
        if not capture.isOpened():
            raise ValueError(f"cannot open camera device {device} (/dev/video{device}); check "
                             "that it exists and that no other program holds it")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued seconds ago
        return cls(capture, f"camera {device}", False, 0.0, clock, False)

    @property
    def length_s(self) -> float:
        """How long a video plays: inf when it loops or its frame count is unknown; 0 for a
        camera."""
        if not self.is_file:
            return 0.0
        frames = float(self._capture.get(_cv2().CAP_PROP_FRAME_COUNT) or 0.0)
        return math.inf if self._loop or frames <= 0 else frames / self.rate_hz

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """The next frame, or None at the end of a (non-looping) video or on a camera failure.

        With ``not_before_s``, video frames stamped more than a frame period before it are
        skipped (counted in ``skipped_frames``): a reader slower than the video stays real time.
        """
        while self._grab():
            stamp_s = self._stamp_s()
            late = not_before_s is not None and stamp_s < not_before_s - 1.0 / self.rate_hz
            if self.is_file and late:
                self.skipped_frames += 1
                continue
            ok, bgr = self._capture.retrieve()
            if not ok or bgr is None:
                return None
            cv2 = _cv2()
            return Frame(stamp_s=stamp_s, rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return None

    def _grab(self) -> bool:
        if self._capture.grab():
            return True
        return self.is_file and self._loop and self._rewind() and self._capture.grab()

    def _stamp_s(self) -> float:
        if not self.is_file:
            return self._clock()
        frame_s = self._capture.get(_cv2().CAP_PROP_POS_MSEC) / 1000.0
        self._last_frame_s = frame_s
        if self._start_time_s is None:
            self._start_time_s = self._clock() - frame_s
        return self._start_time_s + self._pass_offset_s + frame_s

    def _rewind(self) -> bool:
        self._pass_offset_s += self._last_frame_s + 1.0 / self.rate_hz
        return bool(self._capture.set(_cv2().CAP_PROP_POS_FRAMES, 0))

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cv2():
    """OpenCV, imported when a source is opened (it is a heavy import)."""
    import cv2

    return cv2
