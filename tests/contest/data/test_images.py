"""contest.data.images: value checks and the MNIST recipe for images of another size."""
import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from contest.data import images
from contest.data.datasets import load_split
from contest.errors import ContestInputError


def png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def drawing(height=280, width=200):
    """A dark vertical bar (a '1') drawn on white paper, off-centre."""
    paper = np.full((height, width), 255, dtype=np.uint8)
    paper[40:240, 30:60] = 0
    return paper


@pytest.mark.parametrize("array, problem", [
    (np.full((2, 28, 28), 255.0), "floats on the 0..255 scale are refused"),
    (np.full((2, 28, 28), -0.5), "must lie in [0, 1]"),
    (np.full((2, 28, 28), 256, np.int64), "must lie in 0..255; found 256..256"),
    (np.full((2, 28, 28), np.nan), "1568 NaN"),
    (np.zeros((2, 28, 28), bool), "non-numeric dtype bool"),
    (np.zeros((0, 28, 28), np.uint8), "empty"),
    (np.zeros((2, 27, 28), np.uint8), "wrong dimensions (2, 27, 28)"),
])
def test_check_pixels_refuses_with_the_reason(array, problem):
    with pytest.raises(ContestInputError, match="x: ") as error:
        images.check_pixels(array, "x")
    assert problem in str(error.value)


def test_check_pixels_accepts_every_layout_as_nchw():
    digits = np.arange(2 * 784).reshape(2, 28, 28) % 256
    for layout in ((2, 28, 28), (2, 784), (2, 1, 28, 28)):
        out = images.check_pixels(digits.reshape(layout), "x")
        assert out.shape == (2, 1, 28, 28) and out.dtype == np.uint8
        np.testing.assert_array_equal(out[:, 0], digits)
    assert images.check_pixels(digits[0], "x").shape == (1, 1, 28, 28)


def test_recipe_crops_scales_to_20_px_and_centres_the_mass():
    out = images.decode_png(png_bytes(drawing()), "d.png")
    assert out.shape == (1, 1, 28, 28) and out.dtype == np.uint8
    grey = out[0, 0].astype(np.float64)
    rows, cols = np.nonzero(grey > 0.1 * grey.max())
    assert rows.max() - rows.min() + 1 in (20, 21)        # longer side 20 px (+ resampling halo)
    assert cols.max() - cols.min() + 1 < 8                 # aspect kept: a thin bar stays thin
    cy, cx = ndimage.center_of_mass(grey)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert grey[0].max() == 0 and grey[:, 0].max() == 0    # light on dark: background is 0


def test_recipe_inverts_dark_on_light_and_matches_light_on_dark():
    dark_ink = images.decode_png(png_bytes(drawing()), "a.png")
    light_ink = images.decode_png(png_bytes(255 - drawing()), "b.png")
    np.testing.assert_array_equal(dark_ink, light_ink)


def test_a_shrunk_mnist_digit_comes_back_close_to_itself():
    """An MNIST digit blown up to 140x140 and put through the recipe is still that digit."""
    digit = load_split("test")[0][0]
    big = np.asarray(Image.fromarray(digit).resize((140, 140), Image.Resampling.BILINEAR))
    out = images.decode_png(png_bytes(big), "big.png")[0, 0].astype(np.float32)
    correlation = np.corrcoef(out.ravel(), digit.astype(np.float32).ravel())[0, 1]
    assert correlation > 0.8, correlation


def test_blank_and_colour_targets_are_refused():
    with pytest.raises(ContestInputError, match="blank image"):
        images.decode_png(png_bytes(np.full((50, 40), 255, np.uint8)), "blank.png")
    with pytest.raises(ContestInputError, match="3-channel"):
        images.mnist_recipe(drawing(), "d.png", shape=(3, 32, 32))


def test_parse_npy_refuses_pickles_and_truncation():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ContestInputError, match="object"):
        images.parse_npy(buffer.getvalue(), "body")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ContestInputError, match="truncated"):
        images.parse_npy(buffer.getvalue()[:-10], "body")


@pytest.mark.parametrize("layout", ["c", "fortran", "big-endian", "version 2", "float"])
def test_parse_npy_reads_what_np_load_reads(layout):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (4, 28, 28)).astype(np.uint8)
    array = {"c": pixels, "fortran": np.asfortranarray(pixels),
             "big-endian": pixels.astype(">i4"), "version 2": pixels,
             "float": (pixels / 255).astype(np.float32)}[layout]
    buffer = io.BytesIO()
    if layout == "version 2":
        np.lib.format.write_array(buffer, array, version=(2, 0))
    else:
        np.save(buffer, array)
    parsed = images.parse_npy(buffer.getvalue(), "body")
    buffer.seek(0)
    np.testing.assert_array_equal(parsed, images.check_pixels(np.load(buffer), "body"))
    parsed[0, 0, 0, 0] = 7   # the caller's own copy, writable


def test_parse_json_and_csv_give_the_checked_pixels():
    digits = (np.arange(2 * 784).reshape(2, 28, 28) % 256).astype(np.uint8)
    header = ",".join(f"pixel{i}" for i in range(784))
    csv = header + "\n" + "\n".join(",".join(map(str, d.ravel())) for d in digits) + "\n"
    np.testing.assert_array_equal(images.parse_csv(csv, "c")[:, 0], digits)
    np.testing.assert_array_equal(images.parse_json({"images": digits.tolist()}, "j")[:, 0],
                                  digits)
    with pytest.raises(ContestInputError, match="ragged JSON lists"):
        images.parse_json([[1, 2], [3]], "j")


def test_predict_one_takes_a_drawing_of_any_size(models, tmp_path):
    from contest_testutil import invoke

    path = tmp_path / "drawing.png"
    Image.fromarray(drawing()).save(path)
    result = invoke(["predict-one", "--models", models, "--image", path])
    assert result.exit_code == 0, result.output
    assert "prediction:" in result.output and "member votes: #0" in result.output
