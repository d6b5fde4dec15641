"""The steps a plan is made of (`nnlib.runtime.plan`): each runs one layer, or a convolution
fused with what follows it, through `forward(x)` and `backward(dy, need_dx=True)`.

Steps hold what their backward needs; the layers' parameters receive the gradients. The
fused steps call the kernels of `nnlib.ops` directly, so layers keep one forward and one
backward each.
"""
from ..ops.conv import conv2d_backward, conv2d_forward
from ..ops.dense import dense_backward, dense_forward
from ..ops.elementwise import relu
from ..ops.fused import conv_pool_backward, conv_pool_forward, fold_batchnorm
from ..ops.layout import as_nchw, to_nhwc


class LayerStep:
    """A layer run on its own (its backward always returns the input gradient)."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        return self.layer.forward(x, training=True)

    def backward(self, dy, need_dx=True):
        return self.layer.backward(dy)


class DenseStep:
    """A Dense layer whose backward may skip the input gradient (the first layer's)."""

    def __init__(self, dense):
        self.dense, self.x = dense, None

    def forward(self, x):
        self.dense.check_input(x)
        self.x = x
        return dense_forward(x, self.dense.params["W"].value, self.dense.params["b"].value)

    def backward(self, dy, need_dx=True):
        if self.x is None:
            raise RuntimeError("Dense.backward needs a forward pass with training=True first")
        w, b = self.dense.params["W"], self.dense.params["b"]
        x, self.x = self.x, None
        return dense_backward(x, dy, w.value, w.grad, b.grad, need_dx)


class ConvStep:
    """A Conv2D in training, alone or (pool=True) fused with the 2x2/2 MaxPool2D after it and
    (relu=True) the ReLU after that; backward takes the gradient of the step's output."""

    def __init__(self, conv, pool=False, relu=False):
        self.conv, self.pool, self.relu, self.cache = conv, pool, relu, None

    def forward(self, x):
        conv = self.conv
        conv.check_input(x)
        x_nhwc = to_nhwc(x)
        w, b = conv.params["W"].value, conv.params["b"].value
        if self.pool:
            y, cache = conv_pool_forward(x_nhwc, w, b, conv.stride, conv.padding, self.relu,
                                         training=True)
        else:
            y, cache = conv2d_forward(x_nhwc, w, b, conv.stride, conv.padding)
        self.cache = (cache, x_nhwc.shape)
        return as_nchw(y)

    def backward(self, dy, need_dx=True):
        if self.cache is None:
            raise RuntimeError("Conv2D.backward needs a forward pass with training=True first")
        conv, (cache, x_shape) = self.conv, self.cache
        self.cache = None
        backward = conv_pool_backward if self.pool else conv2d_backward
        dx, dw, db = backward(to_nhwc(dy), cache, conv.params["W"].value, x_shape,
                              conv.stride, conv.padding, need_dx)
        conv.params["W"].grad[...] = dw
        conv.params["b"].grad[...] = db
        return as_nchw(dx) if need_dx else None


def eval_conv(conv, x, batchnorm=None, relu=False, pool=False, pooled_batchnorm=None):
    """Eval-mode Conv2D fused with what follows it: a BatchNorm folded into its weights, a ReLU
    and a 2x2/2 max-pool, each applied to a chunk of images while it is in cache; or, after the
    pool, a BatchNorm (`pooled_batchnorm`, the same y * scale + shift as its own forward) and
    then the ReLU."""
    w, b = conv.params["W"].value, conv.params["b"].value
    if batchnorm is not None:
        w, b = fold_batchnorm(w, b, *batchnorm.eval_affine())
    if pool:
        affine = None if pooled_batchnorm is None else pooled_batchnorm.eval_affine()
        y, _ = conv_pool_forward(to_nhwc(x), w, b, conv.stride, conv.padding, relu,
                                 affine=affine)
    else:
        y, _ = conv2d_forward(to_nhwc(x), w, b, conv.stride, conv.padding, relu=relu)
    return as_nchw(y)


def relu_in_place(x):
    """Eval-mode ReLU that overwrites `x` (only for a fresh array nobody else holds)."""
    return relu(x, out=x)
