"""Conv2D: 2-D convolution (N, C, H, W) -> (N, O, Ho, Wo)."""
import numpy as np

from ..checks import check, check_positive_int, compact_pair, int_pair
from ..init import DEFAULT_STD, INITS, initial_weights
from ..ops.conv import conv2d_backward, conv2d_forward
from ..ops.layout import as_nchw, out_size, to_nhwc
from .base import Layer, Param
from .registry import register_layer


@register_layer(takes_rng=True, per_sample=True, eval_output="new")
class Conv2D(Layer):
    """W (O, C, kh, kw), b (O,); kernel_size k or (kh, kw), stride s or (sh, sw), one zero
    padding for both axes. Unequal strides are computed as the stride-1 convolution sampled
    every sh rows and sw columns (exact, sh * sw times the work; the planner runs such a layer
    unfused)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 rng=None, dtype=np.float32, init_std=DEFAULT_STD):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            check_positive_int(name, value)
        kh, kw = int_pair("kernel_size", kernel_size)
        self.strides = int_pair("stride", stride)
        check(isinstance(padding, (int, np.integer)) and padding >= 0, "padding", padding,
              "a non-negative integer")
        check(init in INITS, "init", init, f"one of {INITS}")
        check(isinstance(init_std, (int, float)) and init_std > 0, "init_std", init_std, "> 0")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = compact_pair((kh, kw))
        self.stride, self.padding, self.init = compact_pair(self.strides), padding, init
        self.init_std = float(init_std)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        w = initial_weights((out_channels, in_channels, kh, kw), fan_in, fan_out, init, rng, dtype,
                            self.init_std)
        self.params = {"W": Param(w), "b": Param(np.zeros(out_channels, dtype=dtype))}
        self.cache = None

    def check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects input (N, {self.in_channels}, H, W), got {x.shape}")

    @property
    def square_stride(self):
        return self.strides[0] == self.strides[1]

    def forward(self, x, training=False):
        self.check_input(x)
        x_nhwc = to_nhwc(x)
        stride = self.strides[0] if self.square_stride else 1
        y, xp = conv2d_forward(x_nhwc, self.params["W"].value, self.params["b"].value,
                               stride, self.padding)
        self.cache = (xp, x_nhwc.shape, y.shape) if training else None
        if not self.square_stride:
            y = np.ascontiguousarray(y[:, ::self.strides[0], ::self.strides[1]])
        return as_nchw(y)

    def backward(self, dy, need_dx=True):
        """dx; with need_dx=False only the parameters' gradients (the first layer's input is
        data, whose gradient nobody reads), and None."""
        if self.cache is None:
            raise RuntimeError("Conv2D.backward needs a forward pass with training=True first")
        (xp, x_shape, y_shape), self.cache = self.cache, None
        dy_nhwc, stride = to_nhwc(dy), self.strides[0]
        if not self.square_stride:   # the gradient of the sampled stride-1 output
            dy_nhwc, stride = np.zeros(y_shape, dtype=dy.dtype), 1
            dy_nhwc[:, ::self.strides[0], ::self.strides[1]] = to_nhwc(dy)
        dx, dw, db = conv2d_backward(dy_nhwc, xp, self.params["W"].value, x_shape,
                                     stride, self.padding, need_dx)
        self.params["W"].grad[...] = dw
        self.params["b"].grad[...] = db
        return as_nchw(dx) if need_dx else None

    def get_config(self):
        config = {"in_channels": self.in_channels, "out_channels": self.out_channels,
                  "kernel_size": self.kernel_size, "stride": self.stride,
                  "padding": self.padding, "init": self.init, "dtype": self.dtype.name}
        if self.init == "gaussian":
            config["init_std"] = self.init_std
        return config

    def output_shape(self, input_shape):
        _, h, w = input_shape
        kh, kw = int_pair("kernel_size", self.kernel_size)
        (sh, sw), p = self.strides, self.padding
        return (self.out_channels, out_size(h, kh, sh, p), out_size(w, kw, sw, p))
