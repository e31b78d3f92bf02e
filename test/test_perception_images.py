"""Image messages <-> numpy without cv_bridge; bad images are rejected with clear errors."""

from types import SimpleNamespace

import numpy as np
import pytest

from nermo_ros.perception.image_convert import (ImageFormatError, depth_image_to_metres,
                                                image_fields, image_to_array, image_to_rgb)


def fake_image(**fields):
    return SimpleNamespace(**fields)


def test_bgr8_with_row_padding_reads_as_rgb():
    bgr = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded_rows = np.zeros((2, 12), dtype=np.uint8)  # 9 bytes of pixels + 3 of padding per row
    padded_rows[:, :9] = bgr.reshape(2, 9)
    image = fake_image(height=2, width=3, encoding="bgr8", is_bigendian=0, step=12,
                       data=padded_rows.tobytes())
    np.testing.assert_array_equal(image_to_rgb(image), bgr[..., ::-1])


def test_rgb_round_trip_through_message_fields():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    fields = image_fields(rgb, "rgb8")
    assert fields["step"] == 15 and len(fields["data"]) == 60
    np.testing.assert_array_equal(image_to_rgb(fake_image(**fields)), rgb)


def test_mono8_becomes_grey_rgb():
    grey = np.array([[0, 128]], dtype=np.uint8)
    rgb = image_to_rgb(fake_image(**image_fields(grey, "mono8")))
    np.testing.assert_array_equal(rgb, [[[0, 0, 0], [128, 128, 128]]])


def test_16bit_depth_in_millimetres_becomes_metres_in_either_byte_order():
    mm = np.array([[1500, 0]], dtype=np.uint16)
    little = fake_image(**image_fields(mm, "16UC1"))
    big = fake_image(height=1, width=2, encoding="16UC1", is_bigendian=1, step=4,
                     data=mm.astype(">u2").tobytes())
    np.testing.assert_allclose(depth_image_to_metres(little), [[1.5, 0.0]])
    np.testing.assert_allclose(depth_image_to_metres(big), [[1.5, 0.0]])


def test_float_depth_stays_in_metres():
    metres = np.array([[2.25, np.nan]], dtype=np.float32)
    out = depth_image_to_metres(fake_image(**image_fields(metres, "32FC1")))
    assert out[0, 0] == pytest.approx(2.25) and np.isnan(out[0, 1])


def test_data_as_a_list_of_ints_is_read():
    image = fake_image(height=1, width=1, encoding="rgb8", is_bigendian=0, step=3, data=[1, 2, 3])
    np.testing.assert_array_equal(image_to_rgb(image), [[[1, 2, 3]]])


@pytest.mark.parametrize("fields, says", [
    (dict(height=2, width=2, encoding="yuv422", is_bigendian=0, step=4, data=bytes(8)),
     "colour image has encoding 'yuv422'"),
    (dict(height=0, width=640, encoding="rgb8", is_bigendian=0, step=1920, data=b""),
     "zero size"),
    (dict(height=2, width=2, encoding="rgb8", is_bigendian=0, step=6, data=bytes(11)),
     "image data has 11 B, expected step*height = 6*2 = 12 B"),
    (dict(height=2, width=2, encoding="rgb8", is_bigendian=0, step=4, data=bytes(8)),
     "step 4 B is shorter"),
])
def test_bad_images_are_rejected_saying_what_is_wrong(fields, says):
    with pytest.raises(ImageFormatError, match=says.replace("*", r"\*")):
        image_to_rgb(fake_image(**fields))


def test_an_unknown_encoding_is_named_in_the_error():
    image = fake_image(height=1, width=1, encoding="yuv422", is_bigendian=0, step=2, data=bytes(2))
    with pytest.raises(ImageFormatError, match="unsupported image encoding 'yuv422'"):
        image_to_array(image)


def test_a_depth_encoding_is_not_taken_for_colour():
    depth = fake_image(**image_fields(np.zeros((2, 2), np.uint16), "16UC1"))
    with pytest.raises(ImageFormatError, match="colour image has encoding '16UC1'"):
        image_to_rgb(depth)
