"""Softmax as a layer: (N, K) scores -> (N, K) probabilities, for networks trained with a loss
on probabilities (MeanSquaredError on one-hot targets, as in the classic course) rather than the
fused SoftmaxCrossEntropy on logits. `Sequential.predict_proba` does not apply a second softmax
after a final Softmax layer. (For a sigmoid output, see `Sigmoid` with `BinaryCrossEntropy`.)"""
import numpy as np

from ..ops.softmax import softmax
from .base import Layer
from .registry import register_layer


@register_layer(per_sample=True, eval_output="new")
class Softmax(Layer):
    """y = exp(x - max) / sum(exp(x - max)) over the last axis of (N, K) input."""

    def forward(self, x, training=False):
        if x.ndim != 2:
            raise ValueError(f"Softmax expects input (N, K), got {x.shape}")
        y = softmax(x)
        self.y = y if training else None
        return y

    def backward(self, dy):
        if self.y is None:
            raise RuntimeError("Softmax.backward needs a forward pass with training=True first")
        y = self.y
        # Jacobian-vector product: dx_i = y_i * (dy_i - sum_j dy_j y_j)
        return y * (dy - (dy * y).sum(axis=1, keepdims=True))
