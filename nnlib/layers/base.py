"""What every layer is: a parameter holder with one `forward(x, training=False) -> y` and one
`backward(dy) -> dx`. backward fills every `Param.grad` and never writes into `dy`.

Images are (N, C, H, W), vectors (N, features). 4-D outputs are NCHW-shaped views of
channels-last memory (see `nnlib.ops.layout`). The array work is done by the kernels in
`nnlib.ops`; how layers are chained, fused and spread over threads is decided by
`nnlib.runtime.plan`, never by the layers themselves. A new layer subclasses `Layer` and
registers itself with `register_layer` (`nnlib.layers.registry`).
"""
import numpy as np


class Param:
    """A trainable array and its gradient (same shape and dtype). The optimizers leave a
    `frozen` parameter unchanged (fine-tuning with fixed layers)."""

    frozen = False

    def __init__(self, value):
        self.value = value
        self.grad = np.zeros_like(value)

    def __repr__(self):
        return f"Param(shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """Base class. Subclasses set `params`, `buffers` (names of saved non-trained arrays), `rng`."""
    buffers = ()

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
