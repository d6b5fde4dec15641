"""contest.inspect on synthetic ensembles: saliency and occlusion find the patch that decides the
class, a training image's nearest neighbour is itself, a calibrated predictor's reliability
diagram is the diagonal, and every view works for colour images of any size and class count."""
import json

import numpy as np
import pytest

import nnlib as nn
from contest.data.spec import InputSpec
from contest.modeldir.ensemble import LoadedEnsemble
from contest.inspect import plots_image, plots_set
from contest.inspect.features import build_index
from contest.inspect.payload import image_payload
from contest.inspect.setviews import (agreement, confusion_pairs, confident_mistakes,
                                      label_suspects, reliability)
from contest.inspect.views import image_view, set_view
from contest.train.architectures import build_model

SIZE = 16


def _ensemble(models, spec):
    manifest = {"normalisation": "unit", "members": [{"sha256": f"{i}"} for i in range(len(models))]}
    ensemble = LoadedEnsemble(None, manifest, models)
    ensemble.__dict__["spec"] = spec            # the cached property, without a full manifest
    return ensemble


def _patch_images(rng, n):
    """Dim noise; class 1 images carry one bright 4x4 patch somewhere, class 0 none."""
    images = rng.uniform(0, 0.3, (n, SIZE, SIZE)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    for i in np.flatnonzero(labels):
        r, c = rng.integers(0, SIZE - 3, 2)
        images[i, r:r + 4, c:c + 4] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def patch_ensemble():
    """Two small CNNs trained to tell images with a bright patch (class 1) from without."""
    rng = np.random.default_rng(0)
    images, labels = _patch_images(rng, 600)
    x = images[:, None]
    models = []
    for seed in (1, 2):
        r = np.random.default_rng(seed)
        model = nn.Sequential([nn.Conv2D(1, 8, 3, padding=1, rng=r), nn.ReLU(), nn.MaxPool2D(2),
                               nn.Conv2D(8, 8, 3, padding=1, rng=r), nn.ReLU(), nn.MaxPool2D(2),
                               nn.Flatten(), nn.Dense(8 * 4 * 4, 16, rng=r), nn.ReLU(),
                               nn.Dense(16, 2, rng=r)])
        nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=3e-3), x, labels,
               epochs=10, batch_size=32, rng=r)
        models.append(model)
    ensemble = _ensemble(models, InputSpec(1, SIZE, SIZE, 2))
    assert np.mean(ensemble.member_probabilities(images).mean(0).argmax(1) == labels) > 0.95
    return ensemble, images, labels


def _on_patch(heat, inside):
    return bool(inside[np.unravel_index(heat.argmax(), heat.shape)])


def test_saliency_and_occlusion_peak_on_the_deciding_patch(patch_ensemble):
    """Twelve test images, the patch anywhere: the maps peak on it (saliency, a gradient, now and
    then peaks on the patch's edge just outside it, where the networks' edge detectors look), and
    every map is stronger on the patch than off it."""
    ensemble, _, _ = patch_ensemble
    rng = np.random.default_rng(100)
    saliency_hits, occlusion_hits = [], []
    for _ in range(12):
        image = rng.uniform(0, 0.3, (SIZE, SIZE)).astype(np.float32)
        row, col = rng.integers(0, SIZE - 3, 2)
        inside = np.zeros((SIZE, SIZE), bool)
        inside[row:row + 4, col:col + 4] = True
        image[inside] = 1.0
        a = image_view(ensemble, image).analysis
        assert a.proba.argmax() == 1
        saliency_hits += [_on_patch(s, inside) for s in a.saliency]
        occlusion_hits += [_on_patch(o, inside) for o in a.occlusion]
        for heat in [*a.saliency, *a.occlusion]:
            assert heat[inside].mean() > 1.5 * np.abs(heat[~inside]).mean()
    assert np.mean(saliency_hits) >= 0.8, saliency_hits
    assert np.mean(occlusion_hits) >= 0.9, occlusion_hits


def test_the_nearest_training_image_of_a_training_image_is_itself(patch_ensemble):
    ensemble, images, labels = patch_ensemble
    index = build_index(ensemble, images[:200], labels[:200])
    for i in (0, 7, 123):
        view = image_view(ensemble, images[i], index, k=3, occlusion=False)
        found, distances = view.neighbours
        assert found[0] == i
        assert distances[0] < 1e-3 < distances[1]
    np.testing.assert_array_equal(index.labels, labels[:200])


def test_a_calibrated_predictor_is_on_the_diagonal():
    rng = np.random.default_rng(0)
    n, k = 200_000, 4
    confidence = rng.uniform(0.25, 1, n)
    predicted = rng.integers(0, k, n)
    proba = np.tile(((1 - confidence) / (k - 1))[:, None], (1, k))
    proba[np.arange(n), predicted] = confidence
    right = rng.random(n) < confidence             # correct exactly with its confidence
    labels = np.where(right, predicted, (predicted + rng.integers(1, k, n)) % k)
    r = reliability(proba, labels)
    filled = r["count"] > 0
    np.testing.assert_allclose(r["accuracy"][filled], r["confidence"][filled], atol=0.01)
    assert r["ece"] < 0.005
    overconfident = proba.copy()
    overconfident[np.arange(n), predicted] = np.minimum(1, confidence + 0.1)
    assert reliability(overconfident, labels)["ece"] > 0.05


def test_set_statistics_on_a_small_case():
    labels = np.array([0, 0, 1, 1, 2])
    members = np.array([np.eye(3)[[0, 1, 1, 1, 0]], np.eye(3)[[0, 1, 1, 2, 0]],
                        np.eye(3)[[0, 0, 1, 1, 0]]], dtype=np.float32) * 0.9 + 0.1 / 3
    mean = members.mean(axis=0)
    a = agreement(mean, members, labels)
    np.testing.assert_array_equal(a["count"], [0, 2, 3])     # images 1 and 3: two of three
    np.testing.assert_allclose(a["accuracy"][1:], [0.5, 2 / 3])
    assert confusion_pairs(labels, mean.argmax(axis=1)) == [(0, 1, 1), (2, 0, 1)]
    assert list(confident_mistakes(mean, labels)) == [4, 1]


class _Index:
    def __init__(self, labels, predicted, label_proba, confidence):
        self.labels, self.predicted = np.array(labels), np.array(predicted)
        self.label_proba, self.confidence = np.array(label_proba), np.array(confidence)


def test_label_suspects_rank_the_least_probable_label_first():
    index = _Index([3, 1, 4, 1, 5], [3, 7, 4, 2, 0], [0.9, 0.08, 0.8, 0.01, 0.2],
                   [0.9, 0.9, 0.8, 0.95, 0.7])
    assert list(label_suspects(index)) == [3, 1]
    assert list(label_suspects(index, 0.5)) == [3, 1, 4]


def test_every_view_for_colour_images_of_another_size_and_13_classes(tmp_path):
    """Random-weight colour members (arch d, 3x20x24, 13 classes): every view and picture."""
    spec = InputSpec(3, 20, 24, 13, tuple(f"class {c}" for c in "abcdefghijklm"))
    models = [build_model("d", np.random.default_rng(s), spec=spec) for s in (0, 1)]
    ensemble = _ensemble(models, spec)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (40, 20, 24, 3), dtype=np.uint8)
    labels = rng.integers(0, 13, 40)
    index = build_index(ensemble, images, labels)
    view = image_view(ensemble, images[5], index, k=4)
    assert view.neighbours[0][0] == 5
    assert view.filters[0].shape == (32, 3, 5, 5)
    assert view.maps[0][0][1] == (32, 20, 24)                    # first conv: name, shape
    assert all(len(channels) <= 8 for _, _, channels, _ in view.maps[0])
    payload = json.loads(json.dumps(image_payload(view, images[5], spec, (images, labels), [0, 1])))
    assert payload["image"]["shape"] == [20, 24, 3] and len(payload["members"]) == 2
    assert payload["neighbours"][0]["index"] == 5
    plots_image.plot_overview(tmp_path / "o.png", images[5], view.analysis, spec, "t",
                              view.neighbours, (images, labels))
    plots_image.plot_feature_maps(tmp_path / "m.png", view.maps[1], "t", 1)
    plots_image.plot_filters(tmp_path / "f.png", view.filters, "t")
    s = set_view(ensemble, images, labels)
    assert s.pca.shape == (40, 2) and s.members.shape == (2, 40, 13)
    plots_set.plot_pca(tmp_path / "p.png", s.pca, labels, s.mistakes, s.explained, spec, "t")
    plots_set.plot_gallery(tmp_path / "g.png", images, s.mistakes[:5], ["x"] * 5, "t")
    plots_set.plot_calibration(tmp_path / "c.png", s.calibration, "t")
    plots_set.plot_agreement(tmp_path / "a.png", s.agreement, "t")
    plots_set.plot_confusions(tmp_path / "n.png", s.pairs, spec, "t")
    for name in "omfpgcan":
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
