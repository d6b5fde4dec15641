"""Dense: the affine map (N, in_features) -> (N, out_features)."""
import numpy as np

from ..checks import check, check_positive_int
from ..init import DEFAULT_STD, INITS, initial_weights
from ..ops.dense import dense_backward, dense_forward
from ..runtime.constants import DENSE_THREAD_MIN_MACS, ROWS
from .base import Layer, Param
from .registry import register_layer


@register_layer(takes_rng=True, per_sample=True, eval_output="new")
class Dense(Layer):
    """y = x @ W + b, W (in, out), b (out,)."""
    ROWS = ROWS                               # rows per GEMM (nnlib.runtime.constants)
    THREAD_MIN_MACS = DENSE_THREAD_MIN_MACS   # smaller batches stay on the calling thread

    def __init__(self, in_features, out_features, init="he", rng=None, dtype=np.float32,
                 init_std=DEFAULT_STD):
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        check(init in INITS, "init", init, f"one of {INITS}")
        check(isinstance(init_std, (int, float)) and init_std > 0, "init_std", init_std, "> 0")
        self.in_features, self.out_features, self.init = in_features, out_features, init
        self.init_std = float(init_std)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        w = initial_weights((in_features, out_features), in_features, out_features, init, rng,
                            dtype, self.init_std)
        self.params = {"W": Param(w), "b": Param(np.zeros(out_features, dtype=dtype))}
        self.x = None

    def check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Dense expects input (N, {self.in_features}), got {x.shape}")

    def forward(self, x, training=False):
        self.check_input(x)
        self.x = x if training else None
        return dense_forward(x, self.params["W"].value, self.params["b"].value)

    def backward(self, dy, need_dx=True):
        """dx; with need_dx=False only the parameters' gradients (the first layer's input is
        data, whose gradient nobody reads), and None."""
        if self.x is None:
            raise RuntimeError("Dense.backward needs a forward pass with training=True first")
        w, b = self.params["W"], self.params["b"]
        x, self.x = self.x, None
        return dense_backward(x, dy, w.value, w.grad, b.grad, need_dx)

    def get_config(self):
        config = {"in_features": self.in_features, "out_features": self.out_features,
                  "init": self.init, "dtype": self.dtype.name}
        if self.init == "gaussian":
            config["init_std"] = self.init_std
        return config

    def output_shape(self, input_shape):
        return (self.out_features,)
