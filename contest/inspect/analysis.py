"""One image as the networks see it, as arrays (nothing is drawn here).

An image arrives in contest's layout ((H, W) grey or (H, W, C) colour, uint8 0-255 or float 0-1)
and is normalised exactly as for prediction (`contest.data.preprocess.normalise`). Saliency is the
input gradient of a member's predicted class score (`nnlib.introspect`), averaged over a few noisy
copies of the image (SmoothGrad: a plain gradient is speckled by the ReLU and max-pool
switches), its absolute value's maximum over the colour channels. Occlusion sensitivity is the
drop in the ensemble's class's probability when a square patch of the image is replaced by the
image's median (its background for digits), averaged over the patches covering each pixel. Two
independent answers to "which pixels decided".
"""
from dataclasses import dataclass

import numpy as np

from contest.data.preprocess import apply_normalisation, normalise, to_unit_nchw
from contest.modeldir.ensemble import average

MAX_CHANNELS_SHOWN = 8
SMOOTH_SAMPLES = 16    # SmoothGrad (Smilkov et al. 2017): noisy copies averaged per saliency map
SMOOTH_NOISE = 0.1     # their noise, as a fraction of the input's value range
OCCLUSION_STEPS = 10   # patch positions along each axis, about


@dataclass
class ImageAnalysis:
    """Everything the one-image views show, for one image and M members."""
    seen: np.ndarray            # (C, H, W) float32: the model input (normalised)
    member_proba: np.ndarray    # (M, K) float32
    proba: np.ndarray           # (K,) float32: the ensemble's average
    saliency: np.ndarray        # (M, H, W) float32, each scaled to 0..1
    occlusion: np.ndarray = None   # (M + 1, H, W) float32 probability drops; last: ensemble


def model_input(ensemble, images):
    """float32 (N, C, H, W) input of the ensemble's members for images in contest's layout."""
    return normalise(images, ensemble.normalisation, ensemble.spec)


def probabilities(models, x):
    """(M, N, K) float32 softmax outputs of every model for model input x."""
    return np.stack([m.predict_proba(x, batch_size=max(1, len(x))) for m in models])


def saliency_maps(models, x1, classes, samples=SMOOTH_SAMPLES, noise=SMOOTH_NOISE):
    """(M, H, W) float32: |d score(classes[m]) / d input| of each model for one input x1
    (1, C, H, W), averaged over `samples` copies of x1 with Gaussian noise of `noise` times its
    value range (SmoothGrad; a fixed seed, so the same image gives the same map), maximum over
    channels, scaled so each map's maximum is 1."""
    spread = float(x1.max() - x1.min()) or 1.0
    rng = np.random.default_rng(0)
    copies = (x1 + rng.normal(0, noise * spread, (samples,) + x1.shape[1:])).astype(x1.dtype)
    copies[0] = x1[0]
    maps = []
    for model, k in zip(models, classes):
        grad = model.class_score_gradient(copies, int(k))
        maps.append(np.abs(grad.mean(axis=0)).max(axis=0))
    return _unit_scaled(np.stack(maps).astype(np.float32))


def _unit_scaled(maps):
    peak = maps.reshape(len(maps), -1).max(axis=1)
    return maps / np.maximum(peak, 1e-12)[:, None, None]


def occlusion_grid(height, width):
    """(patch size, top-left rows, top-left columns): about OCCLUSION_STEPS positions a side,
    the last one touching the far edge."""
    patch = max(2, round(min(height, width) / 4))
    rows = np.unique(np.linspace(0, height - patch, OCCLUSION_STEPS).round().astype(int))
    cols = np.unique(np.linspace(0, width - patch, OCCLUSION_STEPS).round().astype(int))
    return patch, rows, cols


def occlusion_masks(height, width):
    """(P, H, W) bool: the patch of every occlusion position."""
    patch, rows, cols = occlusion_grid(height, width)
    r, c = np.arange(height), np.arange(width)
    in_rows = (r[None, :] >= rows[:, None]) & (r[None, :] < rows[:, None] + patch)
    in_cols = (c[None, :] >= cols[:, None]) & (c[None, :] < cols[:, None] + patch)
    return (in_rows[:, None, :, None] & in_cols[None, :, None, :]).reshape(-1, height, width)


def occlusion_maps(ensemble, image, target):
    """(M + 1, H, W) float32: per pixel, the mean drop of class `target`'s probability over the
    patches that cover it, for every member and (last) for the ensemble's average."""
    spec = ensemble.spec
    unit = to_unit_nchw(image[None], spec)                        # (1, C, H, W) in 0..1
    masks = occlusion_masks(spec.height, spec.width)              # (P, H, W)
    fill = np.median(unit[0].reshape(spec.channels, -1), axis=1).astype(np.float32)
    occluded = np.where(masks[:, None], fill[None, :, None, None], unit)
    x = apply_normalisation(np.concatenate([unit, occluded]), ensemble.normalisation)
    members = probabilities(ensemble.models, x)[:, :, target]     # (M, 1 + P)
    probs = np.concatenate([members, members.mean(axis=0, keepdims=True)])
    drops = probs[:, :1] - probs[:, 1:]                            # (M + 1, P)
    covered = masks.sum(axis=0).astype(np.float32)
    summed = np.tensordot(drops, masks.astype(np.float32), axes=(1, 0))
    return (summed / np.maximum(covered, 1)).astype(np.float32)


def analyse_image(ensemble, image, occlusion=True):
    """ImageAnalysis of one image (contest layout) for a loaded contest.modeldir.ensemble.LoadedEnsemble."""
    x1 = model_input(ensemble, image[None])
    member_proba = probabilities(ensemble.models, x1)[:, 0]
    proba = average(member_proba[:, None])[0]
    saliency = saliency_maps(ensemble.models, x1, member_proba.argmax(axis=1))
    result = ImageAnalysis(x1[0], member_proba, proba, saliency)
    if occlusion:
        result.occlusion = occlusion_maps(ensemble, image, int(proba.argmax()))
    return result


def feature_maps(model, x1, max_channels=MAX_CHANNELS_SHOWN):
    """[(layer name, (C, H, W) output shape, channel indices, (c, H, W) maps)] of every layer
    with image-shaped output, for one input x1 (1, C, H, W): where a layer has more than
    `max_channels` channels, the most active ones (by mean absolute value), in channel order."""
    out = []
    for name, act in model.activations(x1):
        if act.ndim != 4:
            continue
        maps = act[0]
        strength = np.abs(maps).reshape(len(maps), -1).mean(axis=1)
        keep = np.sort(np.argsort(-strength, kind="stable")[:max_channels])
        out.append((name, tuple(maps.shape), keep, np.ascontiguousarray(maps[keep])))
    return out


def first_filters(model):
    """(O, C, kh, kw) weights of the model's first Conv2D, or None."""
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            return np.asarray(layer.params["W"].value)
    return None
