"""Inputs that used to give silent wrong answers or tracebacks: 16-bit and transparent PNGs,
a .npy header claiming 931 GiB, submissions with '²' or a byte-order mark."""
import numpy as np
import pytest
from PIL import Image

from contest.data import datasets
from contest.data.spec import MNIST
from contest.data.inputs import load_images
from contest.errors import ContestInputError
from contest_testutil import assert_refused, invoke


@pytest.fixture(scope="module")
def digit():
    return datasets.load_split("test")[0][0]      # a 7: light strokes on black, uint8


def test_16bit_dark_on_light_png_keeps_its_strokes(digit, tmp_path):
    path = tmp_path / "d16.png"
    Image.fromarray((255 - digit).astype(np.uint16) * 257).save(path)   # 'I;16', 0..65535
    assert Image.open(path).mode in ("I;16", "I")
    np.testing.assert_array_equal(load_images(path, MNIST)[0], digit)


def test_16bit_light_on_dark_png_is_scaled_not_clipped(digit, tmp_path):
    path = tmp_path / "l16.png"
    Image.fromarray(digit.astype(np.uint16) * 257).save(path)
    np.testing.assert_array_equal(load_images(path, MNIST)[0], digit)


def test_white_digit_on_transparent_background(digit, tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = digit                              # the strokes are the opaque part
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    np.testing.assert_array_equal(load_images(path, MNIST)[0], digit)


def test_dark_digit_on_transparent_background(digit, tmp_path):
    la = np.zeros((28, 28, 2), np.uint8)
    la[..., 1] = digit                                # black strokes, opaque where the digit is
    path = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(path)
    np.testing.assert_array_equal(load_images(path, MNIST)[0], digit)


def test_palette_png_with_transparent_entry(digit, tmp_path):
    ink = (digit > 127).astype(np.uint8)              # index 1 = white stroke, 0 = transparent
    image = Image.fromarray(ink, "P")
    image.putpalette([0, 0, 0, 255, 255, 255])
    path = tmp_path / "p.png"
    image.save(path, transparency=0)
    np.testing.assert_array_equal(load_images(path, MNIST)[0], ink * 255)


def test_fully_transparent_png_refused_with_reason(tmp_path):
    path = tmp_path / "clear.png"
    Image.fromarray(np.zeros((28, 28, 4), np.uint8), "RGBA").save(path)
    with pytest.raises(ContestInputError, match="fully transparent"):
        load_images(path, MNIST)


def test_png_size_checked_before_decoding(tmp_path, monkeypatch):
    # any size goes through the MNIST recipe, but a picture over the pixel limit is refused
    # from its header, before a pixel is decompressed
    path = tmp_path / "big.png"
    Image.new("L", (5000, 4000)).save(path)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded a huge PNG"))
    with pytest.raises(ContestInputError, match="5000x4000 pixels is over the limit"):
        load_images(path, MNIST)


def test_npy_header_of_931_gib_refused_before_allocating(tmp_path, models):
    path = tmp_path / "huge.npy"
    count = 931 * 2**30 // 784
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "|u1", "fortran_order": False, "shape": (count, 28, 28)})
        handle.truncate(handle.tell() + count * 784)      # sparse: no disk space used
    out = tmp_path / "sub.txt"
    result = invoke(["predict", path, "--models", models, "-o", out])
    assert_refused(result, "931.0 GiB refused", [out])


def _labels(tmp_path, values):
    path = tmp_path / "labels.npy"
    np.save(path, np.asarray(values, np.int64))
    return path


def test_score_submission_with_superscript_two(tmp_path):
    sub = tmp_path / "sub.txt"
    sub.write_text("7\n\u00b2\n1\n", encoding="utf-8")
    result = invoke(["score", sub, "--labels", _labels(tmp_path, [7, 2, 1])])
    assert_refused(result, "line 2: '²' is not a class number")


def test_score_reads_labels_of_more_than_ten_classes(tmp_path):
    sub = tmp_path / "sub.txt"
    sub.write_text("7\n12\n1\n")
    result = invoke(["score", sub, "--labels", _labels(tmp_path, [7, 12, 3])])
    assert result.exit_code == 0, result.output
    assert "accuracy: 66.67 % (2/3)" in result.output


def test_score_submission_with_byte_order_mark(tmp_path):
    sub = tmp_path / "sub.csv"
    sub.write_bytes("\ufeffImageId,Label\n1,7\n2,2\n".encode("utf-8"))
    result = invoke(["score", sub, "--labels", _labels(tmp_path, [7, 1])])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "accuracy: 50.00 % (1/2)"
