"""The steps a plan is made of (`nnlib.runtime.plan`): each runs one layer, or a convolution
fused with what follows it, through `forward(x)` and `backward(dy, need_dx=True)`.

A step of one layer runs the layer's own forward and backward; only the fused steps call the
kernels of `nnlib.ops` directly (a layer has no fused forward), and hold what their backward
needs. The layers' parameters receive the gradients.
"""
from ..ops.conv import conv2d_forward
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


class ParamLayerStep(LayerStep):
    """A Dense or Conv2D run on its own, whose backward may skip the input gradient (the first
    layer's)."""

    def backward(self, dy, need_dx=True):
        return self.layer.backward(dy, need_dx=need_dx)


class ConvPoolStep:
    """A Conv2D in training fused with the 2x2/2 MaxPool2D after it and (relu=True) the ReLU
    after that; backward takes the gradient of the step's output."""

    def __init__(self, conv, relu=False):
        self.conv, self.relu, self.cache = conv, relu, None

    def forward(self, x):
        conv = self.conv
        conv.check_input(x)
        x_nhwc = to_nhwc(x)
        y, cache = conv_pool_forward(x_nhwc, conv.params["W"].value, conv.params["b"].value,
                                     conv.stride, conv.padding, self.relu, training=True)
        self.cache = (cache, x_nhwc.shape)
        return as_nchw(y)

    def backward(self, dy, need_dx=True):
        if self.cache is None:
            raise RuntimeError("Conv2D.backward needs a forward pass with training=True first")
        conv, (cache, x_shape) = self.conv, self.cache
        self.cache = None
        dx, dw, db = conv_pool_backward(to_nhwc(dy), cache, conv.params["W"].value, x_shape,
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
