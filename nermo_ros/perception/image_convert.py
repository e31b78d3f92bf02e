"""sensor_msgs/Image <-> numpy without cv_bridge (which is not on PyPI).

Functions take any object with Image's fields (height, width, encoding, is_bigendian, step,
data), so they are tested without rclpy. Bad images raise ``ImageFormatError`` saying what was
wrong; the node counts and logs them instead of crashing.
"""

from __future__ import annotations

import numpy as np


class ImageFormatError(ValueError):
    """An image message that cannot be read (encoding, size or data length)."""


# encoding -> (channels, numpy dtype of one channel)
_LAYOUTS: dict[str, tuple[int, str]] = {
    "rgb8": (3, "u1"), "bgr8": (3, "u1"), "rgba8": (4, "u1"), "bgra8": (4, "u1"),
    "mono8": (1, "u1"),
    "mono16": (1, "u2"), "16UC1": (1, "u2"), "32FC1": (1, "f4"),
}
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")  # 16-bit: millimetres; float: metres
MILLIMETRES_PER_METRE = 1000.0


def _bytes_of(data) -> np.ndarray:
    """uint8 view of Image.data (bytes, array.array or a list of ints)."""
    try:
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def image_to_array(image) -> np.ndarray:
    """(H, W, C) array view of an image's pixels in its own encoding (row padding removed)."""
    encoding = image.encoding
    if encoding not in _LAYOUTS:
        raise ImageFormatError(f"unsupported image encoding {encoding!r}; publish one of "
                               f"{sorted(_LAYOUTS)}")
    channels, kind = _LAYOUTS[encoding]
    height, width, step = int(image.height), int(image.width), int(image.step)
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"image has zero size ({width}x{height}); check the camera driver")
    dtype = np.dtype(kind).newbyteorder(">" if image.is_bigendian else "<")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageFormatError(f"image step {step} B is shorter than a {encoding} row of "
                               f"{width} px ({row_bytes} B)")
    data = _bytes_of(image.data)
    if data.size != step * height:
        raise ImageFormatError(f"image data has {data.size} B, expected step*height = "
                               f"{step}*{height} = {step * height} B")
    rows = data.reshape(height, step)[:, :row_bytes]
    return rows.view(dtype).reshape(height, width, channels)


def image_to_rgb(image) -> np.ndarray:
    """A colour (or mono) image -> (H, W, 3) uint8 RGB, as MediaPipe wants it."""
    if image.encoding not in COLOR_ENCODINGS:
        raise ImageFormatError(f"colour image has encoding {image.encoding!r}; the perception "
                               f"node reads {list(COLOR_ENCODINGS)}")
    pixels = image_to_array(image)
    if image.encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(pixels[..., 2::-1])
    if image.encoding in ("rgba8",):
        return np.ascontiguousarray(pixels[..., :3])
    if image.encoding == "mono8":
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    return np.ascontiguousarray(pixels)


def depth_image_to_metres(image) -> np.ndarray:
    """A depth image -> (H, W) float32 metres; 0 and NaN stay invalid (0 / NaN)."""
    if image.encoding not in DEPTH_ENCODINGS:
        raise ImageFormatError(f"depth image has encoding {image.encoding!r}; use one of "
                               f"{list(DEPTH_ENCODINGS)} (16-bit in mm, 32FC1 in m)")
    pixels = image_to_array(image)[..., 0]
    if pixels.dtype.kind == "u":
        return pixels.astype(np.float32) / MILLIMETRES_PER_METRE
    return pixels.astype(np.float32)


def image_fields(pixels: np.ndarray, encoding: str) -> dict:
    """Fields of a sensor_msgs/Image holding ``pixels`` (H, W[, C]).

    Use as ``Image(**image_fields(pixels, "rgb8"))``; rows are unpadded, little-endian.
    """
    if encoding not in _LAYOUTS:
        raise ImageFormatError(f"unsupported image encoding {encoding!r}")
    channels, kind = _LAYOUTS[encoding]
    pixels = np.ascontiguousarray(pixels, dtype=np.dtype(kind).newbyteorder("<"))
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] != channels:
        raise ImageFormatError(f"{encoding} needs (H, W, {channels}) pixels, got {pixels.shape}")
    height, width = pixels.shape[:2]
    return {"height": height, "width": width, "encoding": encoding, "is_bigendian": 0,
            "step": width * channels * pixels.itemsize, "data": pixels.tobytes()}
