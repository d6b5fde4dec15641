"""The views as data, shared by `contest inspect` and the service: one image (`image_view`), a
labelled set (`set_view`) and the training labels to check (`label_view`)."""
from dataclasses import dataclass

import numpy as np

from contest.inspect.analysis import analyse_image, feature_maps, first_filters
from contest.inspect.features import combine, ensemble_features, member_features
from contest.inspect.setviews import (agreement, calibration, confident_mistakes,
                                      confusion_pairs, label_suspects, pca_map)

NEIGHBOURS = 8


@dataclass
class ImageView:
    analysis: object        # analysis.ImageAnalysis
    maps: list              # per member shown: analysis.feature_maps(...)
    filters: list           # per member: (O, C, kh, kw) first-layer weights (or None)
    neighbours: tuple = None   # (indices (k,), distances (k,)) into the training set


def image_features(ensemble, x1):
    """(1, D) ensemble feature of one model input x1 (1, C, H, W)."""
    return combine([member_features(model, x1)[0] for model in ensemble.models])


def image_view(ensemble, image, index=None, k=NEIGHBOURS, occlusion=True, map_members=None):
    """ImageView of one image (contest layout): `index` a features.TrainingIndex (neighbours),
    `map_members` the members whose feature maps are taken (default: all)."""
    analysis = analyse_image(ensemble, image, occlusion)
    x1 = analysis.seen[None]
    members = range(len(ensemble.models)) if map_members is None else map_members
    maps = [feature_maps(ensemble.models[m], x1) for m in members]
    filters = [first_filters(model) for model in ensemble.models]
    neighbours = None
    if index is not None and k > 0:
        found, distances = index.nearest(image_features(ensemble, x1), k)
        neighbours = (found[0], distances[0])
    return ImageView(analysis, maps, filters, neighbours)


@dataclass
class SetView:
    labels: np.ndarray
    mean: np.ndarray          # (N, K)
    members: np.ndarray       # (M, N, K)
    calibration: dict
    agreement: dict
    pairs: list
    mistakes: np.ndarray      # indices, most confident first
    pca: np.ndarray           # (N, 2)
    explained: np.ndarray     # (2,)


def set_view(ensemble, images, labels, progress=None, top=24):
    """SetView of a labelled set; `progress`: a tqdm bar advanced by images x members."""
    features, members = ensemble_features(ensemble, images, progress)
    mean = members.mean(axis=0, dtype=np.float64).astype(np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    coords, explained = pca_map(features)
    return SetView(labels, mean, members, calibration(mean, members, labels),
                   agreement(mean, members, labels), confusion_pairs(labels, mean.argmax(axis=1)),
                   confident_mistakes(mean, labels, top), coords, explained)


def label_view(index, max_label_proba=0.1):
    """Indices of the training images to check, most suspicious first (setviews.label_suspects)."""
    return label_suspects(index, max_label_proba)
