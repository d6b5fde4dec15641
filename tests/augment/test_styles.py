"""Handwriting styles drawn on digits of one class (augment.styles): flags and feet on 1s, curled
tails on 9s, drawn where the stroke ends, as wide and bright as the digit's own stroke."""
import numpy as np
import pytest

from augment.pixel import Compose, PixelAugmenter
from augment.styles import StyleAugmenter, draw_segments, stroke_ends


def bar_ones(n=6, width=3, top=6, bottom=21, col=13, value=0.9):
    """(n, 28, 28) vertical bars: a plain American 1, `width` px wide, rows top..bottom."""
    x = np.zeros((n, 28, 28), np.float32)
    x[:, top:bottom + 1, col:col + width] = value
    return x


def test_stroke_ends_find_the_top_bottom_height_and_width_of_a_bar():
    top, bottom, height, width = stroke_ends(bar_ones(2, width=3, top=6, bottom=21, col=13))
    np.testing.assert_allclose(top, [[6, 14]] * 2)
    np.testing.assert_allclose(bottom, [[21, 14]] * 2)
    np.testing.assert_allclose(height, [15, 15])
    np.testing.assert_allclose(width, [3, 3])


def test_a_segment_is_drawn_between_its_ends_and_nowhere_else():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 0, 0] = 0.8                                          # the image's brightest pixel
    out = draw_segments(x, np.array([[10.0, 5.0]]), np.array([[10.0, 20.0]]), np.array([2.0]))
    assert out[0, 10, 5:21].min() == pytest.approx(0.8)      # along the segment, at full ink
    assert out[0, 10, 25] == 0 and out[0, 3, 12] == 0         # beyond its end, far from it
    assert out[0, 10, 12] <= 0.8 and x[0, 10, 12] == 0        # input untouched


def test_flags_go_down_and_left_from_the_top_and_feet_lie_on_the_bottom():
    x = bar_ones(64)
    out = StyleAugmenter(p_flag=1.0)(x, np.random.default_rng(0), labels=np.ones(64, int))
    added = (out > 0.45) & (x == 0)
    assert added[:, 6:14, :13].any(axis=(1, 2)).all()         # every 1: ink left of the top
    assert not added[:, :5].any() and not added[:, 23:].any()  # nothing above or far below
    assert not added[:, 7:20, 17:].any()                       # nothing to the right of the top
    feet = added[:, 20:23, 17:].any(axis=(1, 2))               # a foot reaches right of the bar
    assert 0.25 < feet.mean() < 0.75                           # on about half of the flagged 1s
    assert out.max() <= x.max() + 1e-6                         # as bright as the digit, no more


def test_only_the_chosen_class_is_restyled_and_the_share_follows_p():
    rng = np.random.default_rng(3)
    x = bar_ones(400)
    labels = rng.integers(0, 10, 400)
    out = StyleAugmenter(p_flag=0.3, p_tail=0.3)(x, np.random.default_rng(1), labels=labels)
    changed = (out != x).any(axis=(1, 2))
    assert not changed[(labels != 1) & (labels != 9)].any()
    for cls in (1, 9):
        assert 0.15 < changed[labels == cls].mean() < 0.45


def test_an_image_without_ink_is_left_alone():
    x = bar_ones(4)
    x[1] = 0.0                                                # blank
    x[2] *= 0.4                                               # too faint to find its ends
    out = StyleAugmenter(p_flag=1.0)(x, np.random.default_rng(0), labels=np.ones(4, int))
    np.testing.assert_array_equal(out[1:3], x[1:3])
    assert (out[0] != x[0]).any() and (out[3] != x[3]).any()


def test_tails_curl_left_from_the_bottom_of_a_nine():
    x = bar_ones(32)
    out = StyleAugmenter(p_tail=1.0)(x, np.random.default_rng(0), labels=np.full(32, 9))
    added = (out > 0.45) & (x == 0)
    assert added[:, 16:23, :13].any(axis=(1, 2)).all()       # to the left, near the bottom
    assert not added[:, :, 17:].any() and not added[:, :15].any()


def test_same_seed_same_result_and_dtype_and_layout_kept():
    x = bar_ones(20)[:, None]                                 # (N, 1, H, W)
    labels = np.arange(20) % 10
    aug = StyleAugmenter(p_flag=0.5, p_tail=0.5)
    a = aug(x, np.random.default_rng(7), labels=labels)
    b = aug(x, np.random.default_rng(7), labels=labels)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert aug.uses_labels


def test_bad_calls_are_refused_with_the_reason():
    aug = StyleAugmenter(p_flag=1.0)
    with pytest.raises(ValueError, match="one label per image"):
        aug(bar_ones(4), np.random.default_rng(0))
    with pytest.raises(ValueError, match="grey images"):
        aug(np.zeros((2, 3, 28, 28), np.float32), np.random.default_rng(0), labels=[1, 1])
    with pytest.raises(ValueError, match="p_flag"):
        StyleAugmenter(p_flag=1.5)


def test_compose_passes_labels_only_to_the_parts_that_use_them():
    x = bar_ones(8)
    labels = np.ones(8, int)
    both = Compose([StyleAugmenter(p_flag=1.0), PixelAugmenter(p_thick=1.0)])
    assert both.uses_labels
    out = both(x, np.random.default_rng(0), labels=labels)
    alone = StyleAugmenter(p_flag=1.0)(x, np.random.default_rng(0), labels=labels)
    assert (out >= alone - 1e-6).all() and (out > alone).any()  # drawn, then thickened
    assert not Compose([PixelAugmenter(p_thick=1.0)]).uses_labels
