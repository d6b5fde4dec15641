"""Layers: parameter holders with a cache, built on the pure ops of `nnlib.functional`.

Images are (N, C, H, W), vectors (N, features). `forward(x, training=False) -> y` and
`backward(dy) -> dx`; backward fills every `Param.grad` and never writes into `dy`.
4-D outputs are NCHW-shaped views of channels-last memory (see `nnlib.functional`).
"""
import numpy as np

from . import functional as F
from . import pooling as P
from .init import INITS, initial_weights
from .threads import BLOCK, block_bounds, run_parallel, run_sharded


class Param:
    """A trainable array and its gradient (same shape and dtype). The optimizers leave a
    `frozen` parameter unchanged (fine-tuning with fixed layers)."""

    frozen = False

    def __init__(self, value):
        self.value = value
        self.grad = np.zeros_like(value)

    def __repr__(self):
        return f"Param(shape={self.value.shape}, dtype={self.value.dtype})"


def _check(cond, name, value, rule):
    if not cond:
        raise ValueError(f"{name} must be {rule} (received: {name}={value!r})")


def _positive_int(name, value):
    _check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0,
           name, value, "a positive integer")


class Layer:
    """Base class. Subclasses set `params`, `buffers` (names of saved non-trained arrays), `rng`."""
    buffers = ()
    can_skip_input_grad = False   # True where backward(dy, need_dx=False) saves work
    returns_view = False          # True where forward may return (a view of) its input

    def __init__(self):
        self.params = {}
        self.rng = None

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def get_config(self):
        return {}

    def output_shape(self, input_shape):
        """Shape of one sample's output given one sample's input shape (no batch axis)."""
        return input_shape

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Affine map (N, in_features) -> (N, out_features): y = x @ W + b, W (in, out), b (out,)."""
    can_skip_input_grad = True

    def __init__(self, in_features, out_features, init="he", rng=None, dtype=np.float32):
        super().__init__()
        _positive_int("in_features", in_features)
        _positive_int("out_features", out_features)
        _check(init in INITS, "init", init, f"one of {INITS}")
        self.in_features, self.out_features, self.init = in_features, out_features, init
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        w = initial_weights((in_features, out_features), in_features, out_features, init, rng, dtype)
        self.params = {"W": Param(w), "b": Param(np.zeros(out_features, dtype=dtype))}

    def forward(self, x, training=False):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Dense expects input (N, {self.in_features}), got {x.shape}")
        self.x = x
        w, b = self.params["W"].value, self.params["b"].value
        y = np.empty((len(x), self.out_features), dtype=np.result_type(x, w))

        def rows(first, stop):   # GEMMs of fixed height: the same rounding for any thread count
            for s in range(first, stop, self.ROWS):
                e = min(s + self.ROWS, stop)
                np.matmul(x[s:e], w, out=y[s:e])
                y[s:e] += b

        if self._worth_threads(len(x)):
            run_sharded(rows, len(x), align=self.ROWS)
        else:
            rows(0, len(x))
        return y

    # rows per forward GEMM; shards of the batch on nnlib's threads start on multiples of it
    ROWS = BLOCK
    # below this many multiply-adds a hand-off to a thread costs more than it saves
    THREAD_MIN_MACS = 1 << 21

    def _worth_threads(self, n):
        return n * self.in_features * self.out_features >= self.THREAD_MIN_MACS

    def backward(self, dy, need_dx=True):
        w, b = self.params["W"], self.params["b"]
        x = self.x
        self.x = None

        def weight_grad():   # summed over blocks of BLOCK rows in order, as nnlib.blocks does
            for k, (s, e) in enumerate(block_bounds(len(x))):
                if k == 0:
                    np.matmul(x[s:e].T, dy[s:e], out=w.grad)
                    b.grad[...] = dy[s:e].sum(axis=0)
                else:
                    w.grad += x[s:e].T @ dy[s:e]
                    b.grad += dy[s:e].sum(axis=0)

        def input_grad():    # GEMMs of fixed height, as in forward
            dx = np.empty((len(dy), self.in_features), dtype=np.result_type(dy, w.value))
            for s in range(0, len(dy), self.ROWS):
                np.matmul(dy[s:s + self.ROWS], w.value.T, out=dx[s:s + self.ROWS])
            return dx

        if not need_dx:
            weight_grad()
            return None
        if not self._worth_threads(len(dy)):
            weight_grad()
            return input_grad()
        # the two products are independent: on two threads they run side by side
        return run_parallel(input_grad, weight_grad)[0]

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "dtype": self.dtype.name}

    def output_shape(self, input_shape):
        return (self.out_features,)


class Conv2D(Layer):
    """2-D convolution (N, C, H, W) -> (N, O, Ho, Wo); W (O, C, kh, kw), b (O,)."""
    can_skip_input_grad = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 rng=None, dtype=np.float32):
        super().__init__()
        _positive_int("in_channels", in_channels)
        _positive_int("out_channels", out_channels)
        _positive_int("kernel_size", kernel_size)
        _positive_int("stride", stride)
        _check(isinstance(padding, (int, np.integer)) and padding >= 0, "padding", padding,
               "a non-negative integer")
        _check(init in INITS, "init", init, f"one of {INITS}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.init = kernel_size, stride, padding, init
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        k = kernel_size
        fan_in, fan_out = in_channels * k * k, out_channels * k * k
        w = initial_weights((out_channels, in_channels, k, k), fan_in, fan_out, init, rng, dtype)
        self.params = {"W": Param(w), "b": Param(np.zeros(out_channels, dtype=dtype))}
        self.xp, self.pooled = None, None

    def forward(self, x, training=False):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects input (N, {self.in_channels}, H, W), got {x.shape}")
        x_nhwc = F.to_nhwc(x)
        y, xp = F.conv2d_forward(x_nhwc, self.params["W"].value, self.params["b"].value,
                                 self.stride, self.padding)
        self.xp, self.x_shape = (xp, x_nhwc.shape) if training else (None, None)
        self.pooled = None
        return F.as_nchw(y)

    def forward_pooled(self, x, relu=False):
        """Training forward fused with a 2x2/2 max-pool of the output and, with relu=True, a
        ReLU after the pool (Sequential runs a Conv2D -> [ReLU ->] MaxPool2D(2) block so, each
        chunk of images pooled while in cache). backward() then takes the gradient of the
        block's output (N, O, Ho//2, Wo//2)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects input (N, {self.in_channels}, H, W), got {x.shape}")
        x_nhwc = F.to_nhwc(x)
        _, ho, wo = self.output_shape(x.shape[1:])
        shape = (x.shape[0], ho // 2, wo // 2, self.out_channels)
        wins = tuple(np.empty(shape, dtype=bool) for _ in range(3))
        y, xp = F.conv2d_forward(x_nhwc, self.params["W"].value, self.params["b"].value,
                                 self.stride, self.padding, relu=relu, pool=True, wins=wins)
        self.xp, self.x_shape = xp, x_nhwc.shape
        self.pooled = (wins, y if relu else None)
        return F.as_nchw(y)

    def forward_eval(self, x, scale=None, shift=None, relu=False, pool=False):
        """Eval-mode forward fused with what follows: an affine map per output channel (a
        BatchNorm in eval mode, folded into the weights: y*scale + shift), a ReLU and a 2x2/2
        max-pool."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects input (N, {self.in_channels}, H, W), got {x.shape}")
        w, b = self.params["W"].value, self.params["b"].value
        if scale is not None:
            w = w * scale[:, None, None, None]
            b = b * scale + shift
        y, _ = F.conv2d_forward(F.to_nhwc(x), w, b, self.stride, self.padding, relu=relu,
                                pool=pool)
        return F.as_nchw(y)

    def backward(self, dy, need_dx=True):
        if self.xp is None:
            raise RuntimeError("Conv2D.backward needs a forward pass with training=True first")
        dx, dw, db = F.conv2d_backward(F.to_nhwc(dy), self.xp, self.params["W"].value,
                                       self.x_shape, self.stride, self.padding, need_dx,
                                       pooled=self.pooled)
        self.params["W"].grad[...] = dw
        self.params["b"].grad[...] = db
        self.xp, self.pooled = None, None
        return F.as_nchw(dx) if need_dx else None

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "init": self.init, "dtype": self.dtype.name}

    def output_shape(self, input_shape):
        _, h, w = input_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        return (self.out_channels, F.out_size(h, k, s, p), F.out_size(w, k, s, p))


class _Pool2D(Layer):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        _positive_int("kernel_size", kernel_size)
        if stride is not None:
            _positive_int("stride", stride)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def output_shape(self, input_shape):
        c, h, w = input_shape
        k, s = self.kernel_size, self.stride
        return (c, F.out_size(h, k, s), F.out_size(w, k, s))

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[2] < self.kernel_size or x.shape[3] < self.kernel_size:
            raise ValueError(f"{type(self).__name__}(kernel_size={self.kernel_size}) expects "
                             f"(N, C, H, W) with H, W >= {self.kernel_size}, got {x.shape}")


class MaxPool2D(_Pool2D):
    """Max pooling (N, C, H, W) -> (N, C, Ho, Wo), no padding, floor of partial windows."""

    def forward(self, x, training=False):
        self._check_input(x)
        x_nhwc = F.to_nhwc(x)
        y, cache = P.maxpool_forward(x_nhwc, self.kernel_size, self.stride, training)
        if training:
            self.cache = (x_nhwc.shape, cache)
        return F.as_nchw(y)

    def backward(self, dy):
        x_shape, cache = self.cache
        self.cache = None
        dx = P.maxpool_backward(F.to_nhwc(dy), x_shape, cache, self.kernel_size, self.stride)
        return F.as_nchw(dx)


class AvgPool2D(_Pool2D):
    """Average pooling (N, C, H, W) -> (N, C, Ho, Wo), no padding."""

    def forward(self, x, training=False):
        self._check_input(x)
        x_nhwc = F.to_nhwc(x)
        self.x_shape = x_nhwc.shape
        return F.as_nchw(P.avgpool_forward(x_nhwc, self.kernel_size, self.stride))

    def backward(self, dy):
        dx = P.avgpool_backward(F.to_nhwc(dy), self.x_shape, self.kernel_size, self.stride)
        return F.as_nchw(dx)


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W) in NCHW order (as PyTorch's flatten)."""
    returns_view = True

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.x_shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)
