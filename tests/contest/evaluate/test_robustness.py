"""Tests of contest.evaluate.variants (built on augment): each variant's shape, dtype, determinism
and severity, checked on the first 64 real MNIST test digits (a read-only array, so a variant
that wrote into its input would raise), that the geometric ones are augment's transforms, plus
make_variants, robustness_table, format_table and the PNG grid."""
import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import augment
from contest.evaluate import variants as rob

MNIST_TEST = Path(__file__).resolve().parents[3] / "contest/data/mnist/t10k-images-idx3-ubyte.gz"
NAMES = ["shift", "rotate", "scale", "shear", "elastic", "gaussian_noise", "salt_pepper",
         "low_contrast", "blur", "thick", "thin", "line"]
DETERMINISTIC = {"blur", "thick", "thin"}


@pytest.fixture(scope="module")
def digits():
    """(64, 28, 28) uint8, read-only."""
    with gzip.open(MNIST_TEST) as f:
        data = f.read(16 + 64 * 28 * 28)
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)


def run(name, images, seed=0):
    return rob.VARIANTS[name](images, np.random.default_rng(seed))


def slice_shift(image, dy, dx):
    """Reference whole-pixel translation with zero fill (content moves down dy, right dx)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def moments(images):
    """Per image: ink mass, centroid (N, 2) and the (N, 2, 2) covariance of the ink distribution."""
    weights = images.astype(np.float64)
    mass = weights.sum(axis=(1, 2))
    grid = np.stack(np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="ij"))
    centroid = np.einsum("nhw,khw->nk", weights, grid) / mass[:, None]
    rel = grid[None] - centroid[:, :, None, None]
    cov = np.einsum("nhw,nihw,njhw->nij", weights, rel, rel) / mass[:, None, None]
    return mass, centroid, cov


def test_registry_lists_every_variant_in_report_order():
    assert list(rob.VARIANTS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_variant_keeps_shape_dtype_and_changes_every_image(name, digits):
    out = run(name, digits)
    assert out.shape == digits.shape and out.dtype == np.uint8
    changed = np.any(out != digits, axis=(1, 2))
    assert changed.all(), f"{name} left images {np.flatnonzero(~changed)} unchanged"


@pytest.mark.parametrize("name", NAMES)
def test_variant_is_deterministic_given_the_generator(name, digits):
    np.testing.assert_array_equal(run(name, digits, seed=1), run(name, digits, seed=1))
    if name in DETERMINISTIC:
        np.testing.assert_array_equal(run(name, digits, seed=1), run(name, digits, seed=2))
    else:
        assert not np.array_equal(run(name, digits, seed=1), run(name, digits, seed=2))


def test_variants_never_touch_the_global_rng(digits):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    rob.make_variants(digits[:4])
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("name, draw, keyword", [
    ("rotate", lambda rng, n: rng.uniform(10, 25, n) * rng.choice([-1.0, 1.0], n), "angles"),
    ("shear", lambda rng, n: rng.uniform(0.2, 0.35, n) * rng.choice([-1.0, 1.0], n), "shears"),
])
def test_geometric_variants_are_augments_affine_maps(digits, name, draw, keyword):
    """One sampler: the variant is augment.affine with the parameters drawn from its generator."""
    expected = augment.affine(digits, **{keyword: draw(np.random.default_rng(4), len(digits))})
    np.testing.assert_array_equal(run(name, digits, seed=4), expected)


def test_elastic_is_augments_elastic_at_simards_strength(digits):
    expected = augment.elastic(digits, np.random.default_rng(2), alpha=34.0, sigma=4.0)
    np.testing.assert_array_equal(run("elastic", digits, seed=2), expected)


def test_shift_is_an_exact_zero_filled_translation_by_2_to_4_px(digits):
    out = run("shift", digits)
    found = []
    for image, shifted in zip(digits, out):
        matches = [(dy, dx) for dy in range(-5, 6) for dx in range(-5, 6)
                   if np.array_equal(slice_shift(image, dy, dx), shifted)]
        assert matches, "output is not a whole-pixel translation of the input"
        assert all(2 <= np.hypot(*m) <= 4 for m in matches), matches
        found.append(matches[0])
    assert len(set(found)) >= 10, "offsets should vary from image to image"


def test_rotate_matches_scipy_rotation_by_10_to_25_degrees(digits):
    out = run("rotate", digits[:8])
    angles = np.arange(-30, 30.01, 0.5)
    best = []
    for image, rotated in zip(digits[:8].astype(np.float32), out.astype(np.float32)):
        errors = [np.abs(ndimage.rotate(image, a, reshape=False, order=1, mode="grid-constant")
                         - rotated).mean() for a in angles]
        assert min(errors) < min(1.0, errors[60] / 4)    # a close match, unlike angle 0
        best.append(angles[np.argmin(errors)])
    assert all(9.5 <= abs(a) <= 25.5 for a in best), best
    assert min(best) < 0 < max(best), "both directions should occur"


def test_scale_matches_a_zoom_about_the_centre_by_075_to_085_or_115_to_125(digits):
    out = run("scale", digits[:16])
    zooms = np.arange(0.6, 1.4001, 0.01)
    centre = np.array([13.5, 13.5])
    best = []
    for image, scaled in zip(digits[:16].astype(np.float32), out.astype(np.float32)):
        errors = [np.abs(ndimage.affine_transform(image, np.eye(2) / z, offset=centre - centre / z,
                                                  order=1, mode="grid-constant") - scaled).mean()
                  for z in zooms]
        assert min(errors) < min(2.0, errors[40] / 4)    # a close match, unlike zoom 1
        best.append(zooms[np.argmin(errors)])
    best = np.array(best)
    assert np.all(((best > 0.745) & (best < 0.855)) | ((best > 1.145) & (best < 1.255))), best
    assert (best < 1).any() and (best > 1).any()


def test_shear_slants_by_a_factor_of_02_to_035(digits):
    out = run("shear", digits)
    _, _, cov0 = moments(digits)
    _, _, cov1 = moments(out)
    # x' = x + s * y (about the centre) gives cov'(x, y) = cov(x, y) + s * var(y)
    factor = (cov1[:, 0, 1] - cov0[:, 0, 1]) / cov0[:, 0, 0]
    assert np.all((np.abs(factor) > 0.17) & (np.abs(factor) < 0.38)), factor
    np.testing.assert_allclose(cov1[:, 0, 0], cov0[:, 0, 0], rtol=0.1)   # heights unchanged
    assert (factor < 0).any() and (factor > 0).any()


def test_elastic_distorts_locally_but_keeps_ink_and_position(digits):
    out = run("elastic", digits)
    m0, c0, _ = moments(digits)
    m1, c1, _ = moments(out)
    # local stretching and squeezing change the ink mass and move the centroid (measured over
    # 15 seeds: a factor 0.7-1.6 and 3.4 px); these bounds only catch a broken warp
    assert np.all((m1 > m0 / 2) & (m1 < 2 * m0))
    assert np.abs(c1 - c0).max() < 4.5
    for image, warped in zip(digits, out):
        # displacements stay small: every inked output pixel lies near the original strokes
        # (measured: at most 3.6-5 px over five seeds)
        assert ndimage.distance_transform_edt(image < 64)[warped >= 128].max() <= 6.0
    for image, warped in zip(digits[:8], out[:8]):
        # not a global translation: no whole-pixel shift of the original reproduces it
        errors = [np.abs(slice_shift(image, dy, dx).astype(int) - warped).mean()
                  for dy in range(-2, 3) for dx in range(-2, 3)]
        assert min(errors) > 2.0


def test_gaussian_noise_has_sigma_025_to_03_on_the_background(digits):
    out = run("gaussian_noise", digits).astype(np.float64) / 255
    background = digits == 0
    # clipped at 0, background pixels keep max(0, z): half are non-zero, E[value^2] = sigma^2 / 2
    sigma = np.sqrt(2 * np.mean(out[background] ** 2))
    assert 0.25 <= sigma <= 0.3, sigma
    assert 0.45 < np.mean(out[background] > 0) < 0.55
    ink = digits > 200
    assert np.mean(out[ink]) > 0.85     # strokes stay bright


def test_salt_pepper_hits_8_to_10_percent_with_black_or_white(digits):
    out = run("salt_pepper", digits)
    changed = out != digits
    assert set(np.unique(out[changed])) <= {0, 255}
    # background pixels can only show salt, mid-grey ink pixels show both: each about p / 2
    salt = np.mean(out[digits == 0] == 255)
    midtone = (digits > 0) & (digits < 255)
    pepper = np.mean(out[midtone] == 0)
    assert 0.035 < salt < 0.055 and 0.03 < pepper < 0.06, (salt, pepper)
    assert 0.03 < np.mean(out[midtone] == 255) < 0.06


def test_low_contrast_is_an_affine_squeeze_into_a_faint_band(digits):
    out = run("low_contrast", digits).astype(np.float64)
    assert np.all(out.min(axis=(1, 2)) >= 0.05 * 255 - 1)
    ranges = out.max(axis=(1, 2)) - out.min(axis=(1, 2))
    assert np.all(ranges <= 0.35 * 255 + 1) and np.all(ranges >= 0.25 * 250 - 1)
    for image, faint in zip(digits.astype(np.float64), out):
        gain, floor = np.polyfit(image.ravel(), faint.ravel(), 1)
        assert np.abs(floor + gain * image - faint).max() <= 1.0     # only rounding
        assert 0.25 - 0.01 <= gain <= 0.35 + 0.01 and 0.05 * 255 - 1 <= floor <= 0.15 * 255 + 1


def test_blur_removes_fine_detail_and_keeps_the_ink(digits):
    out = run("blur", digits).astype(np.float64)
    image = digits.astype(np.float64)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), image.sum(axis=(1, 2)), rtol=0.02)
    laplace = [(ndimage.laplace(batch, mode="constant")[:, 1:-1, 1:-1] ** 2).sum(axis=(1, 2))
               for batch in (image, out)]
    assert np.all(laplace[1] < 0.5 * laplace[0])     # measured: 0.24-0.42
    assert np.all(out.max(axis=(1, 2)) < image.max(axis=(1, 2)))


def test_thick_only_adds_ink(digits):
    out = run("thick", digits)
    assert np.all(out >= digits)
    assert np.all((out > 0).sum(axis=(1, 2)) > (digits > 0).sum(axis=(1, 2)))
    assert np.all((out >= 128).sum(axis=(1, 2)) > 1.3 * (digits >= 128).sum(axis=(1, 2)))


def test_thin_removes_ink_but_keeps_the_peak(digits):
    out = run("thin", digits)
    assert not np.any((out > 0) & (digits == 0)), "thin must not ink new pixels"
    assert np.all((out > 0).sum(axis=(1, 2)) < (digits > 0).sum(axis=(1, 2)))
    assert np.all((out >= 128).sum(axis=(1, 2)) < 0.8 * (digits >= 128).sum(axis=(1, 2)))
    np.testing.assert_array_equal(out.max(axis=(1, 2)), digits.max(axis=(1, 2)))


def test_line_adds_one_straight_near_horizontal_stroke_across_the_image(digits):
    out = run("line", digits)
    assert np.all(out >= digits)
    for image, crossed in zip(digits, out):
        points = np.argwhere((crossed == 255) & (image != 255)).astype(np.float64)
        assert (crossed > 0).sum() > (image > 0).sum()
        centred = points - points.mean(axis=0)
        _, spread, axes = np.linalg.svd(centred, full_matrices=False)
        off_line = np.abs(centred @ axes[1])
        assert off_line.max() <= 1.0, "new 255 pixels are not collinear"
        along = centred @ axes[0]
        assert along.max() - along.min() >= 20, "the line should cross the image"
        slope_deg = np.degrees(np.arctan2(abs(axes[0][0]), abs(axes[0][1])))
        assert slope_deg <= 31
        # passes through the central region: distance of the image centre from the line
        assert abs((np.array([13.5, 13.5]) - points.mean(axis=0)) @ axes[1]) <= 4.5 * np.sqrt(2) + 1


def test_make_variants_output_does_not_depend_on_the_subset_requested(digits):
    everything = rob.make_variants(digits[:16], seed=5)
    assert list(everything) == NAMES
    subset = rob.make_variants(digits[:16], seed=5, names=["line", "shift"])
    assert list(subset) == ["shift", "line"]
    for name in subset:
        np.testing.assert_array_equal(subset[name], everything[name])
    single = rob.make_variants(digits[:16], seed=5, names="elastic")
    np.testing.assert_array_equal(single["elastic"], everything["elastic"])
    other_seed = rob.make_variants(digits[:16], seed=6, names=["shift"])
    assert not np.array_equal(other_seed["shift"], everything["shift"])


def test_make_variants_rejects_bad_names_and_batches(digits):
    with pytest.raises(ValueError, match="'blurr'"):
        rob.make_variants(digits, names=["blur", "blurr"])
    with pytest.raises(ValueError, match="float32"):
        rob.make_variants(digits.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(784,\)"):
        rob.make_variants(digits[0].ravel())


def one_hot(labels):
    return np.eye(10)[labels]


def test_robustness_table_reports_exact_member_and_ensemble_accuracy(digits):
    images, labels = digits[:10], np.arange(10)
    calls = []

    def prob_fn(batch):
        calls.append(batch)
        clean = np.array_equal(batch, images)
        always = one_hot(labels)                            # member 1: always right
        only_clean = one_hot(labels if clean else (labels + 1) % 10)    # member 2
        ensemble = one_hot(np.where(np.arange(10) < 7, labels, (labels + 3) % 10))
        return [always, only_clean], (always if clean else ensemble)

    table = rob.robustness_table(prob_fn, images, labels, seed=3)
    assert list(table) == ["clean"] + NAMES and len(calls) == 13
    assert table["clean"] == {"members": [1.0, 1.0], "mean_member": 1.0, "ensemble": 1.0}
    for name in NAMES:
        assert table[name] == {"members": [1.0, 0.0], "mean_member": 0.5, "ensemble": 0.7}
    expected = rob.make_variants(images, seed=3)
    for name, batch in zip(NAMES, calls[1:]):
        np.testing.assert_array_equal(batch, expected[name])

    text = rob.format_table(table)
    lines = text.splitlines()
    assert lines[0].split() == ["variant", "m1", "m2", "mean", "ensemble"]
    assert lines[1].split() == ["clean", "100.00", "100.00", "100.00", "100.00"]
    assert lines[-1].split() == ["line", "100.00", "0.00", "50.00", "70.00"]
    assert len(lines) == 14


def test_robustness_table_accepts_a_single_model(digits):
    images, labels = digits[:10], np.arange(10)
    table = rob.robustness_table(lambda batch: one_hot(labels), images, labels,
                                 names=["blur", "thin"])
    assert table == {name: {"members": [], "mean_member": None, "ensemble": 1.0}
                     for name in ("clean", "blur", "thin")}
    assert rob.format_table(table).splitlines()[0].split() == ["variant", "accuracy"]
    with pytest.raises(ValueError, match="labels"):
        rob.robustness_table(lambda batch: one_hot(labels), images, labels[:5])
    with pytest.raises(ValueError, match="probabilities"):
        rob.robustness_table(lambda batch: one_hot(labels)[:5], images, labels)


def test_save_variant_grid_writes_one_png_row_per_variant(digits, tmp_path):
    variants = rob.make_variants(digits[:8], names=["shift", "line", "thin"])
    path = tmp_path / "grid.png"
    rob.save_variant_grid(variants, path, n=4, original=digits)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image
    picture = matplotlib.image.imread(path)
    assert picture.shape[0] == pytest.approx(4 * 78, abs=2)     # 4 rows of 0.78 in at 100 dpi
    with pytest.raises(ValueError, match="n=0"):
        rob.save_variant_grid(variants, path, n=0)
