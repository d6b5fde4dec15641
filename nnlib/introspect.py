"""Looking inside a Sequential in eval mode: every layer's activations, and the gradient of any
output with respect to the input.

    acts = model.activations(x)                   # [(name, array)] per layer; last: the logits
    dx = model.input_gradient(x, dy)              # d sum(logits * dy) / dx, eval mode, x's shape
    dx = model.class_score_gradient(x, classes)   # d logits[i, classes[i]] / dx[i] (saliency)
    dx = nn.loss_input_gradient(model, x, labels, nn.SoftmaxCrossEntropy())

Layers run one by one, unfused, in eval mode: BatchNorm with its running statistics, Dropout as
the identity. The planner's fused eval pass folds BatchNorm into the convolution's weights, so
`activations(x)[-1]` equals `model.forward(x)` to float rounding (float32: ~1e-6 relative), not
bit for bit. Every layer runs on a replica (`nnlib.runtime.blocks.replica`), so the caches a
training forward left for its backward survive an inspection in between.

The input gradient reuses the layers' own backward: a per-sample layer (registered `per_sample`:
the same function in training and eval mode) runs forward and backward on a replica that shares
its weights but has gradients of its own, so the model's `Param.grad` and training caches are
left alone; BatchNorm in eval mode is the per-channel affine map x * scale + shift, whose input
gradient is dy * scale; Dropout in eval mode is the identity. A layer that is neither (a
registered layer with batch statistics or random draws of its own) raises ValueError.
"""
import numpy as np

from .layers import BatchNorm, Dropout, layer_info
from .runtime.blas import one_blas_thread
from .runtime.blocks import replica
from .runtime.plan import infer


def layer_names(model):
    """"index:Class" of every layer, e.g. ["0:Conv2D", "1:ReLU", ...]."""
    return [f"{i}:{type(layer).__name__}" for i, layer in enumerate(model.layers)]


def activations(model, x):
    """[(layer name, output)] of every layer for the batch x, eval mode; the last is the
    logits. Outputs are (N, C, H, W) or (N, features), in x's float dtype."""
    out = []
    with one_blas_thread():
        for name, layer in zip(layer_names(model), model.layers):
            x = replica(layer).forward(x, training=False)   # the layer's caches stay
            out.append((name, x))
    return out


def split_forward(model, x, index):
    """(output of layer `index`, logits) for the batch x in eval mode, both by the planner's
    fused eval pass (fast: for features of many images, e.g. the penultimate layer's)."""
    layers = model.layers
    index = index % len(layers)
    with one_blas_thread():
        features = infer(layers[:index + 1], x)
        logits = infer(layers[index + 1:], features) if index + 1 < len(layers) else features
    return features, logits


def _eval_step(layer, x):
    """(eval-mode output, function mapping the output gradient to the input gradient)."""
    if type(layer) is BatchNorm:
        scale, _ = layer.eval_affine()
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale = scale.reshape(shape).astype(x.dtype)
        return replica(layer).forward(x, training=False), lambda dy: dy * scale
    if type(layer) is Dropout:
        return x, lambda dy: dy
    if not layer_info(layer).per_sample:
        raise ValueError(f"no eval-mode input gradient for {type(layer).__name__}: it is not "
                         f"registered per_sample, and only BatchNorm and Dropout are known to "
                         f"nnlib.introspect otherwise")
    twin = replica(layer)
    return twin.forward(x, training=True), twin.backward


def forward_with_gradient(model, x):
    """(logits in eval mode, function dy -> d sum(logits * dy) / dx), layer by layer."""
    backs = []
    with one_blas_thread():
        for layer in model.layers:
            x, back = _eval_step(layer, x)
            backs.append(back)

    def gradient(dy):
        with one_blas_thread():
            for back in reversed(backs):
                dy = back(dy)
        return np.asarray(dy)
    return x, gradient


def input_gradient(model, x, dy):
    """d sum(logits * dy) / dx in eval mode, shape of x: the gradient of any output the caller
    writes as a weighting `dy` (N, classes) of the logits. The model is left as it was."""
    logits, gradient = forward_with_gradient(model, x)
    dy = np.asarray(dy, dtype=logits.dtype)
    if dy.shape != logits.shape:
        raise ValueError(f"dy must have the logits' shape {logits.shape} (received: {dy.shape})")
    return gradient(dy)


def class_score_gradient(model, x, classes):
    """d logits[i, classes[i]] / dx[i] for each image i (saliency of a class score); `classes`
    (N,) ints, or one int for every image."""
    logits, gradient = forward_with_gradient(model, x)
    n, k = logits.shape
    classes = np.broadcast_to(np.asarray(classes), (n,))
    if not np.issubdtype(classes.dtype, np.integer) or classes.min() < 0 or classes.max() >= k:
        raise ValueError(f"classes must be integers in 0..{k - 1} (received: {classes})")
    dy = np.zeros_like(logits)
    dy[np.arange(n), classes] = 1
    return gradient(dy)


def loss_input_gradient(model, x, labels, loss):
    """(loss value, d loss / dx) in eval mode, for a loss with forward(logits, labels) -> float
    and backward() -> dlogits (e.g. nn.SoftmaxCrossEntropy())."""
    logits, gradient = forward_with_gradient(model, x)
    value = loss.forward(logits, labels)
    return value, gradient(loss.backward())
