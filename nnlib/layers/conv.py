"""Conv2D: 2-D convolution (N, C, H, W) -> (N, O, Ho, Wo)."""
import numpy as np

from ..checks import check, check_positive_int
from ..init import INITS, initial_weights
from ..ops.conv import conv2d_backward, conv2d_forward
from ..ops.layout import as_nchw, out_size, to_nhwc
from .base import Layer, Param
from .registry import register_layer


@register_layer(takes_rng=True, per_sample=True, eval_output="new")
class Conv2D(Layer):
    """W (O, C, kh, kw), b (O,); square kernel, stride and zero padding."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 rng=None, dtype=np.float32):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("kernel_size", kernel_size), ("stride", stride)):
            check_positive_int(name, value)
        check(isinstance(padding, (int, np.integer)) and padding >= 0, "padding", padding,
              "a non-negative integer")
        check(init in INITS, "init", init, f"one of {INITS}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.init = kernel_size, stride, padding, init
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        k = kernel_size
        fan_in, fan_out = in_channels * k * k, out_channels * k * k
        w = initial_weights((out_channels, in_channels, k, k), fan_in, fan_out, init, rng, dtype)
        self.params = {"W": Param(w), "b": Param(np.zeros(out_channels, dtype=dtype))}
        self.cache = None

    def check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects input (N, {self.in_channels}, H, W), got {x.shape}")

    def forward(self, x, training=False):
        self.check_input(x)
        x_nhwc = to_nhwc(x)
        y, xp = conv2d_forward(x_nhwc, self.params["W"].value, self.params["b"].value,
                               self.stride, self.padding)
        self.cache = (xp, x_nhwc.shape) if training else None
        return as_nchw(y)

    def backward(self, dy, need_dx=True):
        """dx; with need_dx=False only the parameters' gradients (the first layer's input is
        data, whose gradient nobody reads), and None."""
        if self.cache is None:
            raise RuntimeError("Conv2D.backward needs a forward pass with training=True first")
        (xp, x_shape), self.cache = self.cache, None
        dx, dw, db = conv2d_backward(to_nhwc(dy), xp, self.params["W"].value, x_shape,
                                     self.stride, self.padding, need_dx)
        self.params["W"].grad[...] = dw
        self.params["b"].grad[...] = db
        return as_nchw(dx) if need_dx else None

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "init": self.init, "dtype": self.dtype.name}

    def output_shape(self, input_shape):
        _, h, w = input_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        return (self.out_channels, out_size(h, k, s, p), out_size(w, k, s, p))
