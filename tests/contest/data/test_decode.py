"""contest.data.decode, the one decoder of inputs: value checks, every form, the header checks
made before allocating, and the MNIST recipe for pictures of another size."""
import io
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from contest.data import decode
from contest.data.decode_pictures import mnist_recipe
from contest.data.spec import MNIST, InputSpec
from contest.data.datasets import load_split
from contest.errors import ContestInputError


def png_bytes(array, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def npy_bytes(array, **options):
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return buffer.getvalue()


def picture(data, name="d.png", spec=MNIST):
    return decode.decode(data, "picture", spec, name)


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
def test_bad_arrays_are_refused_with_the_reason(array, problem):
    with pytest.raises(ContestInputError, match="x: ") as error:
        decode.decode_array(array, MNIST, "x")
    assert problem in str(error.value)


def test_every_accepted_layout_comes_back_in_contests_layout():
    digits = np.arange(2 * 784).reshape(2, 28, 28) % 256
    for layout in ((2, 28, 28), (2, 784), (2, 1, 28, 28)):
        out = decode.decode_array(digits.reshape(layout), MNIST)
        assert out.shape == (2, 28, 28) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, digits)
    assert decode.decode_array(digits[0], MNIST).shape == (1, 28, 28)
    colour = np.arange(2 * 3 * 8 * 8).reshape(2, 3, 8, 8) % 256
    out = decode.decode_array(colour, InputSpec(3, 8, 8, 2))
    np.testing.assert_array_equal(out, colour.transpose(0, 2, 3, 1))


def test_recipe_crops_scales_to_20_px_and_centres_the_mass():
    out = picture(png_bytes(drawing()))
    assert out.shape == (1, 28, 28) and out.dtype == np.uint8
    grey = out[0].astype(np.float64)
    rows, cols = np.nonzero(grey > 0.1 * grey.max())
    assert rows.max() - rows.min() + 1 in (20, 21)        # longer side 20 px (+ resampling halo)
    assert cols.max() - cols.min() + 1 < 8                 # aspect kept: a thin bar stays thin
    cy, cx = ndimage.center_of_mass(grey)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert grey[0].max() == 0 and grey[:, 0].max() == 0    # light on dark: background is 0


def test_recipe_inverts_dark_on_light_and_matches_light_on_dark():
    dark_ink = picture(png_bytes(drawing()))
    light_ink = picture(png_bytes(255 - drawing()))
    np.testing.assert_array_equal(dark_ink, light_ink)


def test_a_shrunk_mnist_digit_comes_back_close_to_itself():
    """An MNIST digit blown up to 140x140 and put through the recipe is still that digit."""
    digit = load_split("test")[0][0]
    big = np.asarray(Image.fromarray(digit).resize((140, 140), Image.Resampling.BILINEAR))
    out = picture(png_bytes(big))[0].astype(np.float32)
    correlation = np.corrcoef(out.ravel(), digit.astype(np.float32).ravel())[0, 1]
    assert correlation > 0.8, correlation


def test_blank_and_colour_targets_are_refused():
    with pytest.raises(ContestInputError, match="blank image"):
        picture(png_bytes(np.full((50, 40), 255, np.uint8)))
    with pytest.raises(ContestInputError, match="3-channel"):
        mnist_recipe(drawing(), "d.png", shape=(3, 32, 32))


def test_parse_npy_refuses_pickles_and_truncation():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ContestInputError, match="object"):
        decode.decode(buffer.getvalue(), "npy", MNIST, "body")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ContestInputError, match="truncated"):
        decode.decode(buffer.getvalue()[:-10], "npy", MNIST, "body")


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
    parsed = decode.decode(buffer.getvalue(), "npy", MNIST, "body")
    buffer.seek(0)
    np.testing.assert_array_equal(parsed, decode.decode_array(np.load(buffer), MNIST))
    parsed[0, 0, 0] = 7   # the caller's own copy, writable


def test_parse_json_and_csv_give_the_checked_pixels():
    digits = (np.arange(2 * 784).reshape(2, 28, 28) % 256).astype(np.uint8)
    header = ",".join(f"pixel{i}" for i in range(784))
    csv = header + "\n" + "\n".join(",".join(map(str, d.ravel())) for d in digits) + "\n"
    np.testing.assert_array_equal(decode.decode(csv.encode(), "csv", MNIST, "c"), digits)
    body = json.dumps({"images": digits.tolist()}).encode()
    np.testing.assert_array_equal(decode.decode(body, "json", MNIST, "j"), digits)
    with pytest.raises(ContestInputError, match="ragged or malformed JSON lists"):
        decode.decode(b"[[1, 2], [3]]", "json", MNIST, "j")


def test_predict_one_takes_a_drawing_of_any_size(models, tmp_path):
    from contest_testutil import invoke

    path = tmp_path / "drawing.png"
    Image.fromarray(drawing()).save(path)
    result = invoke(["predict-one", "--models", models, "--image", path])
    assert result.exit_code == 0, result.output
    assert "prediction:" in result.output and "member votes: #0" in result.output


def npy_with_header(descr, shape, payload=b""):
    """.npy bytes with a hand-written header (shapes and dtypes np.save would never write)."""
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}"
    header = header.encode("latin-1")
    padding = 64 - (10 + len(header) + 1) % 64
    header += b" " * padding + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


@pytest.mark.parametrize("descr, shape, problem", [
    ("'<u1'", "(-1, 784)", "bad array header: shape (-1, 784)"),
    ("'<u1'", "(4294967296, 4294967296, 784)", "refused: the limit is"),
    ("'|V0'", "(1, 784)", "non-numeric dtype"),
    ("'|V784'", "(1,)", "non-numeric dtype"),
    ("('|u1', (784,))", "(1,)", "non-numeric dtype"),
])
def test_npy_headers_are_refused_before_allocating(descr, shape, problem):
    data = npy_with_header(descr, shape, bytes(784))
    with pytest.raises(ContestInputError, match="body: ") as error:
        decode.decode(data, "npy", MNIST, "body")
    assert problem in str(error.value)


def test_a_csv_written_as_floats_is_read_on_the_0_1_scale(tmp_path):
    """savetxt's default writes 0/1 images as 0.000000000000000000e+00: floats, not 0..255."""
    binary = (np.arange(3 * 784).reshape(3, 784) % 3 == 0).astype(np.float64)
    path = tmp_path / "floats.csv"
    header = ",".join(f"pixel{i}" for i in range(784))
    np.savetxt(path, binary, delimiter=",", header=header, comments="")
    out = decode.decode_file(path, MNIST)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.reshape(3, 784), binary)
    np.savetxt(path, binary * 255, delimiter=",", header=header, comments="")
    with pytest.raises(ContestInputError, match="floats on the 0..255 scale are refused"):
        decode.decode_file(path, MNIST)
    np.savetxt(path, binary * 255, fmt="%d", delimiter=",", header=header, comments="")
    assert decode.decode_file(path, MNIST).dtype == np.uint8


def test_csv_with_a_byte_order_mark_id_and_label_columns_is_read_everywhere():
    digits = (np.arange(2 * 784).reshape(2, 784) % 256).astype(np.uint8)
    header = "ImageId,label," + ",".join(f"pixel{i}" for i in range(784))
    rows = [f"{k + 1},{k}," + ",".join(map(str, d)) for k, d in enumerate(digits)]
    body = ("\ufeff" + "\r\n".join([header] + rows) + "\r\n").encode()
    out = decode.decode(body, "csv", MNIST, "request body")
    np.testing.assert_array_equal(out.reshape(2, 784), digits)


def test_json_nested_thousands_deep_is_refused_without_recursion():
    with pytest.raises(ContestInputError, match="nested 3000 deep"):
        decode.decode(b"[" * 3000 + b"]" * 3000, "json", MNIST, "body")
    with pytest.raises(ContestInputError, match="ragged or malformed"):
        decode.decode(b"[[1]," + b"[" * 3000 + b"]" * 3001, "json", MNIST, "body")


def test_ragged_lists_get_a_clear_message():
    with pytest.raises(ValueError, match="ragged lists: every image must have the same shape"):
        decode.decode_array([[0] * 784, [0] * 10], MNIST)


def test_input_errors_are_value_errors():
    assert issubclass(ContestInputError, ValueError)


def test_every_form_reads_the_same_images(tmp_path):
    digits = load_split("test")[0][:3]
    header = ",".join(f"pixel{i}" for i in range(784))
    np.savez(tmp_path / "d.npz", x=digits)
    from contest_testutil import write_idx

    write_idx(tmp_path / "t10k-images-idx3-ubyte", digits)
    (tmp_path / "d.json").write_text(json.dumps(digits.tolist()))
    np.savetxt(tmp_path / "d.csv", digits.reshape(3, -1), fmt="%d", delimiter=",",
               header=header, comments="")
    for name in ("d.npz", "t10k-images-idx3-ubyte.gz", "d.json", "d.csv"):
        np.testing.assert_array_equal(decode.decode_file(tmp_path / name, MNIST), digits)
    jpeg = picture(png_bytes(digits[0], "JPEG"), "d.jpg")
    assert np.abs(jpeg[0].astype(int) - digits[0]).mean() < 8   # lossy, but the same digit


def test_limits_are_checked_before_decoding():
    limits = decode.Limits(max_images=2, max_picture_pixels=100 * 100)
    with pytest.raises(ContestInputError, match="3 images, over the limit of 2"):
        decode.decode(npy_bytes(np.zeros((3, 28, 28), np.uint8)), "npy", MNIST, "b", limits)
    with pytest.raises(ContestInputError, match="picture of 101x100 pixels is over the limit"):
        decode.decode(png_bytes(drawing(100, 101)), "picture", MNIST, "b", limits)
    with pytest.raises(ContestInputError, match="refused: the limit is"):
        decode.decode(b"[" + b"0," * 1000 + b"0]", "json", MNIST, "b", decode.Limits(max_bytes=99))
