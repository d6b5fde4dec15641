"""contest.data.inputs and contest.data.preprocess: every accepted layout gives the same model input."""
import numpy as np
import pytest
from PIL import Image

from contest.cli.run import write_kaggle_csv
from contest.errors import ContestInputError
from contest.data.spec import MNIST
from contest.data.inputs import load_images, load_labels
from contest.data.preprocess import BatchTransform, normalise, to_unit_nchw


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("layout", [(4, 28, 28), (4, 784), (4, 1, 28, 28)])
def test_every_npy_layout_and_dtype_gives_the_same_model_input(tmp_path, digits, layout):
    reference = normalise(digits, "unit", MNIST)
    for name, array in (("u8", digits), ("i64", digits.astype(np.int64)),
                        ("f32", digits.astype(np.float32) / np.float32(255)),
                        ("f64", digits / 255.0)):
        path = tmp_path / f"{name}.npy"
        np.save(path, array.reshape(layout))
        x = normalise(load_images(path, MNIST), "unit", MNIST)
        assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32
        np.testing.assert_allclose(x, reference, atol=1e-6, err_msg=name)


def test_integer_input_stays_uint8_so_predictions_match_evaluate(tmp_path, digits):
    np.save(tmp_path / "x.npy", digits.astype(np.int32))
    loaded = load_images(tmp_path / "x.npy", MNIST)
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, digits)


def test_single_image_npy_is_one_image(tmp_path, digits):
    np.save(tmp_path / "one.npy", digits[0])
    assert load_images(tmp_path / "one.npy", MNIST).shape == (1, 28, 28)


def test_kaggle_csv_with_and_without_label_column(tmp_path, digits):
    write_kaggle_csv(tmp_path / "test.csv", digits)
    assert np.array_equal(load_images(tmp_path / "test.csv", MNIST), digits)
    rows = [",".join(["label"] + [f"pixel{i}" for i in range(784)])]
    rows += [",".join(map(str, [7] + d.ravel().tolist())) for d in digits]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    assert np.array_equal(load_images(tmp_path / "train.csv", MNIST), digits)


def test_csv_with_float_pixels_is_read_as_floats(tmp_path):
    header = ",".join(f"pixel{i}" for i in range(784))
    (tmp_path / "f.csv").write_text(header + "\n" + ",".join(["0.5"] * 784) + "\n")
    images = load_images(tmp_path / "f.csv", MNIST)
    assert images.dtype == np.float32 and images.shape == (1, 28, 28) and images.max() == 0.5


def test_png_is_read_and_dark_on_light_is_inverted(tmp_path):
    picture = np.zeros((28, 28), np.uint8)
    picture[8:20, 12:16] = 200
    Image.fromarray(picture).save(tmp_path / "light-on-dark.png")
    Image.fromarray(255 - picture).save(tmp_path / "dark-on-light.png")
    for name in ("light-on-dark.png", "dark-on-light.png"):
        loaded = load_images(tmp_path / name, MNIST)
        assert loaded.shape == (1, 28, 28) and loaded.dtype == np.uint8
        assert np.array_equal(loaded[0], picture), name


def test_png_with_transparent_background_reads_as_background(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[5:23, 13:15] = (0, 0, 0, 255)  # opaque black stroke on a transparent sheet
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    image = load_images(tmp_path / "t.png", MNIST)[0]
    assert image[10, 14] == 255 and image[0, 0] == 0


def test_float_values_slightly_above_one_are_clipped_not_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.full((1, 28, 28), 1 + 1e-7))
    assert load_images(tmp_path / "x.npy", MNIST).max() == 1.0


def test_labels_npy_and_txt(tmp_path):
    np.save(tmp_path / "l.npy", np.array([[1], [2], [3]], dtype=np.uint8))
    assert load_labels(tmp_path / "l.npy").tolist() == [1, 2, 3]
    (tmp_path / "l.txt").write_text("4\n5\n")
    assert load_labels(tmp_path / "l.txt").tolist() == [4, 5]
    with pytest.raises(ContestInputError, match="2 labels, expected 3"):
        load_labels(tmp_path / "l.txt", n_expected=3)


def test_normalisations_are_per_image_and_batch_transform_applies_them(digits):
    x = to_unit_nchw(digits, MNIST)
    assert x.min() >= 0 and x.max() <= 1
    standard = normalise(digits, "standardise", MNIST)
    np.testing.assert_allclose(standard.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(normalise(digits[:2], "standardise", MNIST), standard[:2], rtol=1e-6)
    transform = BatchTransform(None, "standardise")
    np.testing.assert_allclose(transform(x, np.random.default_rng(0)), standard, rtol=1e-6)
    assert BatchTransform().is_identity and not transform.is_identity
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(digits, "whiten", MNIST)


def slanted_bar(slant, dx=0):
    """A 28x28 0-1 image: a bar 2 px wide over rows 6-21 whose column moves `slant` px per row."""
    image = np.zeros((28, 28), np.float32)
    for row in range(6, 22):
        column = 13.5 + dx + slant * (row - 13.5)
        image[row, int(round(column)) - 1:int(round(column)) + 1] = 1.0
    return image


def test_deskew_stands_a_slanted_stroke_upright_at_the_centre():
    from contest.data.preprocess import _moments, deskew

    from augment.sampling import centred_grid

    images = np.stack([slanted_bar(0.4), slanted_bar(-0.3, dx=4), slanted_bar(0.0, dx=-5)])
    gy, gx = centred_grid(28, 28, np.float32)
    _, mx_before, slant_before = _moments(images, gy, gx)
    assert abs(slant_before[0] - 0.4) < 0.05 and abs(mx_before[1] - 4) < 1
    upright = deskew(images[:, None])
    my, mx, slant = _moments(upright[:, 0], gy, gx)
    np.testing.assert_allclose(slant, 0, atol=0.03)
    np.testing.assert_allclose(np.stack([my, mx]), 0, atol=0.15)
    assert upright.shape == (3, 1, 28, 28) and upright.dtype == np.float32
    assert abs(upright.sum() - images.sum()) / images.sum() < 0.02     # ink kept, not cut off
    np.testing.assert_array_equal(deskew(np.zeros((1, 1, 28, 28), np.float32)), 0)


def test_the_deskew_normalisation_is_per_image_and_standardised(digits):
    both = normalise(digits, "deskew", MNIST)
    np.testing.assert_allclose(both.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(normalise(digits[1:2], "deskew", MNIST), both[1:2], atol=1e-6)


def test_the_default_recipe_draws_its_digit_styles_from_the_labels_fit_passes(digits):
    """The default preset's styles need each image's label; BatchTransform forwards them, and
    only the images of class 1 and 9 change (geometry and pixel corruptions off here)."""
    from contest.train.member import build_augmenter

    transform = BatchTransform(build_augmenter({"style": {"p_flag": 1.0, "p_tail": 1.0}}), "unit")
    assert transform.uses_labels and not BatchTransform(None, "unit").uses_labels
    x = to_unit_nchw(digits, MNIST)
    labels = np.arange(len(x)) % 10
    out = transform(x, np.random.default_rng(0), labels=labels)
    changed = (out != x).any(axis=(1, 2, 3))
    np.testing.assert_array_equal(changed, np.isin(labels, (1, 9)) & (x.max(axis=(1, 2, 3)) > 0.5))
