"""Element-wise layers (any shape, layout preserved): ReLU, Sigmoid, Tanh, and inverted Dropout."""
import numpy as np

from ..checks import check
from ..ops.elementwise import relu, relu_backward
from .base import Layer
from .registry import register_layer


@register_layer(per_sample=True, eval_output="new")
class ReLU(Layer):
    """max(x, 0); big batches are split into shards on nnlib's threads."""

    def forward(self, x, training=False):
        # np.empty_like keeps x's memory layout (channels-last stays channels-last)
        y = relu(x, out=np.empty_like(x))
        self.y = y if training else None
        return y

    def backward(self, dy):
        return relu_backward(dy, self.y)


@register_layer(per_sample=True, eval_output="new")
class Sigmoid(Layer):
    def forward(self, x, training=False):
        # exp of -|x| never overflows; both branches are the same function
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        self.y = y if training else None
        return y

    def backward(self, dy):
        return dy * self.y * (1 - self.y)


@register_layer(per_sample=True, eval_output="new")
class Tanh(Layer):
    def forward(self, x, training=False):
        y = np.tanh(x)
        self.y = y if training else None
        return y

    def backward(self, dy):
        return dy * (1 - self.y * self.y)


@register_layer(takes_rng=True, eval_output="view")
class Dropout(Layer):
    """Inverted dropout: at train time zero each unit with probability p and scale the rest
    by 1/(1-p), so evaluation is the identity. Draws from `rng` (a numpy Generator)."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        check(isinstance(p, (float, int)) and 0 <= p < 1, "p", p, "in [0, 1)")
        self.p = float(p)
        self.rng = np.random.default_rng() if rng is None else rng
        self.mask = None

    def forward(self, x, training=False):
        if not training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep * np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self.mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def get_config(self):
        return {"p": self.p}
