"""Batch normalisation over (N, C) or (N, C, H, W) inputs, per channel.

Batch mean and variance are accumulated in float64 over groups of images, each group's sums
taken by a float32 BLAS matrix-vector product (blocked, so accurate to ~1e-6): plain float32 sums
over ~100k values per channel were measured to flip ReLU/pool decisions and leave ~1 % gradient
error. The work is split over nnlib's threads (`nnlib.runtime.threads`). Running statistics are
buffers (saved with the model, never trained), updated as PyTorch does:
running = (1 - momentum) * running + momentum * batch_stat, with the unbiased batch variance;
with momentum=None, as PyTorch, the cumulative average of every batch's statistics so far
(running += (batch_stat - running) / batches, the count kept as the buffer
`num_batches_tracked`).
"""
import numpy as np

from ..checks import check, check_positive_int
from ..ops.elementwise import affine_into
from ..ops.layout import as_nchw, to_nhwc
from ..ops.products import column_sums
from ..runtime.constants import GROUP
from ..runtime.threads import reduce_groups, run_elementwise
from .base import Layer, Param
from .registry import register_layer


@register_layer(eval_output="new")
class BatchNorm(Layer):
    buffers = ("running_mean", "running_var")

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        check_positive_int("num_features", num_features)
        check(momentum is None or isinstance(momentum, (int, float)) and 0 <= momentum <= 1,
              "momentum", momentum, "in [0, 1], or None for the cumulative average")
        check(isinstance(eps, (int, float)) and eps > 0, "eps", eps, "> 0")
        self.num_features, self.eps = num_features, float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.dtype = np.dtype(dtype)
        self.params = {"gamma": Param(np.ones(num_features, dtype=dtype)),
                       "beta": Param(np.zeros(num_features, dtype=dtype))}
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        if self.momentum is None:   # the cumulative average needs the count, saved with it
            self.buffers = BatchNorm.buffers + ("num_batches_tracked",)
            self.num_batches_tracked = np.zeros((), dtype=np.float64)

    def _as_matrix(self, x):
        """(N, C) or (N, C, H, W) -> contiguous (M, C), rows per image, and a function mapping
        back."""
        if x.ndim == 2 and x.shape[1] == self.num_features:
            return np.ascontiguousarray(x), 1, lambda m: m
        if x.ndim == 4 and x.shape[1] == self.num_features:
            x_nhwc = to_nhwc(x)
            shape = x_nhwc.shape
            return (x_nhwc.reshape(-1, shape[3]), shape[1] * shape[2],
                    lambda m: as_nchw(m.reshape(shape)))
        raise ValueError(f"BatchNorm({self.num_features}) expects (N, {self.num_features}) or "
                         f"(N, {self.num_features}, H, W), got {x.shape}")

    def forward(self, x, training=False):
        x2, rows, back = self._as_matrix(x)
        gamma, beta = self.params["gamma"].value, self.params["beta"].value
        if not training:
            scale, shift = self.eval_affine()
            y = np.empty_like(x2)
            run_elementwise(lambda a, b: affine_into(x2[a:b], scale, shift, y[a:b]), x2)
            return back(y)
        m = x2.shape[0]
        mean = reduce_groups(lambda a, b: (column_sums(x2[a:b]),), m, GROUP * rows)[0] / m
        xc, y = np.empty_like(x2), np.empty_like(x2)
        mean32 = mean.astype(x2.dtype)

        def centre(a, b):
            c = np.subtract(x2[a:b], mean32, out=xc[a:b])
            return (column_sums(np.multiply(c, c, out=y[a:b])),)   # y: scratch until below

        var = reduce_groups(centre, m, GROUP * rows)[0] / m
        invstd = 1.0 / np.sqrt(var + self.eps)
        # xhat = xc * invstd is never stored: y and the gradients take invstd from xc directly
        scale = (gamma * invstd).astype(x2.dtype)
        run_elementwise(lambda a, b: affine_into(xc[a:b], scale, beta, y[a:b]), x2)
        self._update_running(mean, var, m)
        self.cache = (xc, invstd, back, rows)
        return back(y)

    def eval_affine(self):
        """(scale, shift) per channel: in eval mode the layer is y = x * scale + shift."""
        gamma, beta = self.params["gamma"].value, self.params["beta"].value
        scale = gamma / np.sqrt(self.running_var + self.eps)
        return scale, beta - self.running_mean * scale

    def _update_running(self, mean, var, m):
        mom = self.momentum
        if mom is None:
            self.num_batches_tracked += 1
            mom = 1.0 / float(self.num_batches_tracked)
        unbiased = var * (m / max(m - 1, 1))
        self.running_mean[...] = (1 - mom) * self.running_mean + mom * mean
        self.running_var[...] = (1 - mom) * self.running_var + mom * unbiased

    def backward(self, dy):
        xc, invstd, back, rows = self.cache
        self.cache = None
        dy2, _, _ = self._as_matrix(dy)
        m = dy2.shape[0]
        dx = np.empty_like(dy2)
        dbeta, dyxc = reduce_groups(lambda a, b: (column_sums(dy2[a:b]), column_sums(
            np.multiply(dy2[a:b], xc[a:b], out=dx[a:b]))), m, GROUP * rows)   # dx: scratch
        dgamma = dyxc * invstd                                        # sum of dy * xhat
        self.params["gamma"].grad[...] = dgamma
        self.params["beta"].grad[...] = dbeta
        dt = dy2.dtype
        # dx = (dy - mean(dy) - xhat * mean(dy * xhat)) * gamma * invstd, with xhat = xc * invstd
        mean_dy, xc_coef = (dbeta / m).astype(dt), (dgamma / m * invstd).astype(dt)
        scale = (self.params["gamma"].value * invstd).astype(dt)

        def shard(a, b):
            d = np.subtract(dy2[a:b], mean_dy, out=dx[a:b])
            d -= xc[a:b] * xc_coef
            d *= scale

        run_elementwise(shard, dy2)
        return back(dx)

    def get_config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
                "dtype": self.dtype.name}

