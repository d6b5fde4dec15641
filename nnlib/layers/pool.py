"""Pooling layers (optional padding, floor of partial windows) and Flatten."""
import numpy as np

from ..checks import check, compact_pair, int_pair
from ..ops.layout import as_nchw, out_size, to_nhwc
from ..ops.pool import avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward
from .base import Layer
from .registry import register_layer


class _Pool2D(Layer):
    """kernel_size, stride (default: the kernel) and padding: an int or a pair (height, width).
    Padding adds that many rows and columns on each side (PyTorch's rule: at most half the
    kernel), filled with `pad_value`."""
    pad_value = 0.0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        kernel = int_pair("kernel_size", kernel_size)
        strides = kernel if stride is None else int_pair("stride", stride)
        pads = int_pair("padding", padding, minimum=0)
        check(all(2 * p <= k for p, k in zip(pads, kernel)), "padding", padding,
              "at most half the kernel size")
        self.kernel_size, self.stride = compact_pair(kernel), compact_pair(strides)
        self.padding = compact_pair(pads)
        self.kernel, self.strides, self.pads = kernel, strides, pads
        self.cache = None

    def get_config(self):
        config = {"kernel_size": self.kernel_size, "stride": self.stride}
        if self.pads != (0, 0):
            config["padding"] = self.padding
        return config

    def output_shape(self, input_shape):
        c, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.strides, self.pads
        return (c, out_size(h, kh, sh, ph), out_size(w, kw, sw, pw))

    def check_input(self, x):
        (kh, kw), (ph, pw) = self.kernel, self.pads
        if x.ndim != 4 or x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(f"{type(self).__name__}(kernel_size={self.kernel_size}) expects "
                             f"(N, C, H, W) with H, W >= the kernel (padding included), got "
                             f"{x.shape}")

    def padded_nhwc(self, x):
        """x as NHWC, framed by the padding (filled with pad_value)."""
        x_nhwc = to_nhwc(x)
        (ph, pw) = self.pads
        if (ph, pw) == (0, 0):
            return x_nhwc
        return np.pad(x_nhwc, ((0, 0), (ph, ph), (pw, pw), (0, 0)),
                      constant_values=self.pad_value)

    def unpadded(self, dx_nhwc):
        ph, pw = self.pads
        return dx_nhwc[:, ph:dx_nhwc.shape[1] - ph, pw:dx_nhwc.shape[2] - pw, :]


@register_layer(per_sample=True, eval_output="new")
class MaxPool2D(_Pool2D):
    """Max pooling (N, C, H, W) -> (N, C, Ho, Wo); gradient to the first maximum of a window.
    Padding is -inf, so a padded position never wins."""
    pad_value = -np.inf

    def forward(self, x, training=False):
        self.check_input(x)
        x_nhwc = self.padded_nhwc(x)
        y, cache = maxpool_forward(x_nhwc, self.kernel_size, self.stride, training)
        if training:   # an eval pass in between leaves a training cache alone
            self.cache = (x_nhwc.shape, cache)
        return as_nchw(y)

    def backward(self, dy):
        (x_shape, cache), self.cache = self.cache, None
        dx = maxpool_backward(to_nhwc(dy), x_shape, cache, self.kernel_size, self.stride)
        return as_nchw(self.unpadded(dx))


@register_layer(per_sample=True, eval_output="new")
class AvgPool2D(_Pool2D):
    """Average pooling (N, C, H, W) -> (N, C, Ho, Wo); padded zeros count in the average
    (PyTorch's default count_include_pad=True)."""

    def forward(self, x, training=False):
        self.check_input(x)
        x_nhwc = self.padded_nhwc(x)
        self.cache = x_nhwc.shape
        return as_nchw(avgpool_forward(x_nhwc, self.kernel_size, self.stride))

    def backward(self, dy):
        dx = avgpool_backward(to_nhwc(dy), self.cache, self.kernel_size, self.stride)
        return as_nchw(self.unpadded(dx))


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

