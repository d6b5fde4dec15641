"""AdaBN: every BatchNorm's running statistics re-estimated on the images to be predicted.

No training and nothing random. The statistics are estimated on at most MAX_IMAGES of the
images, evenly spaced over the set (all of them when there are fewer), so that a large contest
set adapts in seconds: with the default ensemble on 10,000 shifted MNIST test images, 5,000
images gave the accuracy of all 10,000 (thick 97.24 against 97.19 %, mixed 95.06 against
94.95 %) where 2,000 lost up to 0.11 points (benchmarks/adapt_shift.py --skip-adapt). Members
are adapted in parallel, one thread per core (each member's statistics are the same whatever
the thread count). For each member, the BatchNorm layers are visited in order; the input of one is computed in eval mode, in chunks of images (bounded memory), by applying each
layer before it with `forward(x, training=False)`, so it already sees the adapted statistics of
the BatchNorms before it. Per-channel means and sums of squared deviations are accumulated in
float64 (chunks merged exactly as Chan et al.'s parallel variance), and `running_var` receives
the unbiased variance, as BatchNorm's own update stores it. The arrays are written in place:
the eval fast path (BatchNorm folded into the convolution) reads them on every call.

Only nnlib's public contract is used: `model.layers`, `layer.forward(x, training=False)` and a
BatchNorm's `running_mean` / `running_var` attributes.
"""
import nnlib as nn
import numpy as np

from contest.data.preprocess import normalise
from contest.modeldir.ensemble import map_on_cores

CHUNK_VALUES = 1 << 22   # activation values of one chunk (16 MB in float32, 32 MB in float64)
MAX_CHUNK = 1000         # images of one chunk at most
MAX_IMAGES = 5000        # images the statistics are estimated on at most


class ChannelMoments:
    """Running count, mean and sum of squared deviations per channel, in float64."""

    def __init__(self, channels):
        self.count = 0
        self.mean = np.zeros(channels, dtype=np.float64)
        self.m2 = np.zeros(channels, dtype=np.float64)

    def add(self, x):
        """Add the values of x: (N, C) or (N, C, H, W), channel axis 1."""
        axes = (0,) if x.ndim == 2 else (0, 2, 3)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
        values = x.astype(np.float64)
        count = values.size // values.shape[1]
        mean = values.mean(axis=axes)
        values -= mean.reshape(shape)
        m2 = np.square(values, out=values).sum(axis=axes)
        total = self.count + count
        delta = mean - self.mean
        self.mean += delta * (count / total)
        self.m2 += m2 + delta * delta * (self.count * count / total)
        self.count = total

    def unbiased_variance(self):
        return self.m2 / max(self.count - 1, 1)


def batchnorm_indices(model):
    """Positions of the BatchNorm layers of `model`, in order."""
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, nn.BatchNorm)]


def prefix_forward(layers, x):
    """x passed through `layers` one at a time, in eval mode."""
    for layer in layers:
        x = layer.forward(x, training=False)
    return x


def chunk_size(model, index, x):
    """Images per chunk so that one chunk's input to layer `index` holds ~CHUNK_VALUES values."""
    probe = prefix_forward(model.layers[:index], x[:1])
    return int(max(1, min(MAX_CHUNK, CHUNK_VALUES // max(1, probe.size))))


def adapt_model_bn(model, x):
    """Re-estimate every BatchNorm of `model` on model-ready input x (N, C, H, W); returns the
    number of BatchNorm layers adapted."""
    indices = batchnorm_indices(model)
    for index in indices:
        layer, before = model.layers[index], model.layers[:index]
        moments = ChannelMoments(layer.num_features)
        step = chunk_size(model, index, x)
        for start in range(0, len(x), step):
            moments.add(prefix_forward(before, x[start:start + step]))
        layer.running_mean[...] = moments.mean
        layer.running_var[...] = moments.unbiased_variance()
    return len(indices)


def estimation_sample(count):
    """Indices of at most MAX_IMAGES of `count` images, evenly spaced."""
    if count <= MAX_IMAGES:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, MAX_IMAGES).round().astype(np.int64))


def estimation_subset(x):
    """x itself, or its `estimation_sample` when it holds more than MAX_IMAGES images."""
    return x if len(x) <= MAX_IMAGES else x[estimation_sample(len(x))]


def adapt_models_bn(models, x, threads=None):
    """AdaBN for every model in `models` on model-ready x (N, C, H, W), estimated on
    `estimation_subset` of it, one member per thread (default: one thread per core); returns
    the number of BatchNorm layers adapted over all models."""
    x = estimation_subset(x)
    return sum(map_on_cores(lambda model: adapt_model_bn(model, x), models, threads))


def adapt_bn(ensemble, images):
    """AdaBN on every member of `ensemble` (`contest.Ensemble.load(...)`, or the loaded ensemble
    it wraps) for `images` (an array of any accepted form), in place; returns the number of
    BatchNorm layers adapted over all members."""
    ensemble = getattr(ensemble, "loaded", ensemble)     # the public Ensemble wraps the loaded one
    if len(images) < 2:
        raise ValueError(f"adapt_bn needs at least 2 images (received: {len(images)})")
    sample = estimation_subset(np.asarray(images))   # normalise only the images used
    return adapt_models_bn(ensemble.models, normalise(sample, ensemble.normalisation,
                                                      ensemble.spec))
