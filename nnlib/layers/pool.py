"""Pooling layers (no padding, floor of partial windows) and Flatten."""
import numpy as np

from ..checks import check_positive_int
from ..ops.layout import as_nchw, out_size, to_nhwc
from ..ops.pool import avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward
from .base import Layer
from .registry import register_layer


class _Pool2D(Layer):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        check_positive_int("kernel_size", kernel_size)
        if stride is not None:
            check_positive_int("stride", stride)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.cache = None

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def output_shape(self, input_shape):
        c, h, w = input_shape
        k, s = self.kernel_size, self.stride
        return (c, out_size(h, k, s), out_size(w, k, s))

    def check_input(self, x):
        if x.ndim != 4 or x.shape[2] < self.kernel_size or x.shape[3] < self.kernel_size:
            raise ValueError(f"{type(self).__name__}(kernel_size={self.kernel_size}) expects "
                             f"(N, C, H, W) with H, W >= {self.kernel_size}, got {x.shape}")


@register_layer(per_sample=True, eval_output="new")
class MaxPool2D(_Pool2D):
    """Max pooling (N, C, H, W) -> (N, C, Ho, Wo); gradient to the first maximum of a window."""

    def forward(self, x, training=False):
        self.check_input(x)
        x_nhwc = to_nhwc(x)
        y, cache = maxpool_forward(x_nhwc, self.kernel_size, self.stride, training)
        if training:   # an eval pass in between leaves a training cache alone
            self.cache = (x_nhwc.shape, cache)
        return as_nchw(y)

    def backward(self, dy):
        (x_shape, cache), self.cache = self.cache, None
        dx = maxpool_backward(to_nhwc(dy), x_shape, cache, self.kernel_size, self.stride)
        return as_nchw(dx)


@register_layer(per_sample=True, eval_output="new")
class AvgPool2D(_Pool2D):
    """Average pooling (N, C, H, W) -> (N, C, Ho, Wo)."""

    def forward(self, x, training=False):
        self.check_input(x)
        x_nhwc = to_nhwc(x)
        self.cache = x_nhwc.shape
        return as_nchw(avgpool_forward(x_nhwc, self.kernel_size, self.stride))

    def backward(self, dy):
        dx = avgpool_backward(to_nhwc(dy), self.cache, self.kernel_size, self.stride)
        return as_nchw(dx)


@register_layer(per_sample=True, eval_output="view")
class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W) in NCHW order (as PyTorch's flatten)."""

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.x_shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

