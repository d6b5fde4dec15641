"""The planner: the one place that looks at layer types and decides how a `Sequential` runs.

Training (`Plan.forward(layers, x, training=True)` then `Plan.backward`):
- a ReLU directly followed by a MaxPool2D runs after the pool, on a quarter of the values
  (max-pooling commutes with the increasing ReLU; gradients agree too: where the window maximum
  is <= 0 both orders give 0) - see `execution_order`;
- a Conv2D whose output goes straight into a 2x2/2 MaxPool2D (and then, possibly, a ReLU) runs
  as one fused step (`nnlib.ops.fused`), bit-identical to the layers one by one;
- the first step skips its input gradient when nobody needs it (`input_grad=False`);
- a network of per-sample layers (see `nnlib.layers.registry`) with a batch of more than BLOCK
  images and several nnlib threads trains in blocks on helper processes (`nnlib.runtime.blocks`).

Inference (`training=False`): a Conv2D runs fused with a directly following BatchNorm (folded
into its weights), ReLU and 2x2/2 MaxPool2D, or with a MaxPool2D, BatchNorm and ReLU in that
order (the BatchNorm's y * scale + shift applied to each pooled chunk, as its own forward does); a ReLU overwrites its input when that is a fresh
array nobody else holds. The caller's x is never written.
"""
from ..layers import BatchNorm, Conv2D, Dense, MaxPool2D, ReLU, layer_info
from .blas import one_blas_thread
from .blocks import BlockTrainer
from .constants import BLOCK
from .steps import ConvPoolStep, LayerStep, ParamLayerStep, eval_conv, relu_in_place
from .threads import get_num_threads


def execution_order(layers):
    """Layer indices in execution order: a ReLU directly followed by a MaxPool2D runs after it."""
    order = list(range(len(layers)))
    i = 0
    while i < len(order) - 1:
        if type(layers[i]) is ReLU and type(layers[i + 1]) is MaxPool2D:
            order[i], order[i + 1] = i + 1, i
            i += 2
        else:
            i += 1
    return order


def _is_pool2x2(layer):
    return (type(layer) is MaxPool2D and layer.kernel_size == 2 and layer.stride == 2
            and layer.padding == 0)


def _pools_fully(conv, x_shape):
    """Whether the conv output for input shape x_shape is at least 2x2 (a pool can follow)."""
    return min(conv.output_shape(x_shape[1:])[1:]) >= 2


def _training_step(layers, order, k, x_shape):
    """The step that runs the layer at position k of `order` on input of shape x_shape, and how
    many positions it covers."""
    layer = layers[order[k]]
    if type(layer) is Dense:
        return ParamLayerStep(layer), 1
    if type(layer) is not Conv2D or not layer.square_stride:
        return LayerStep(layer), 1
    valid = len(x_shape) == 4 and x_shape[1] == layer.in_channels   # else Conv2D reports it
    # a too small output is left to MaxPool2D to report
    if not (valid and k + 1 < len(order) and _is_pool2x2(layers[order[k + 1]])
            and _pools_fully(layer, x_shape)):
        return ParamLayerStep(layer), 1
    relu = k + 2 < len(order) and type(layers[order[k + 2]]) is ReLU
    return ConvPoolStep(layer, relu=relu), 2 + relu


def train_forward(layers, x):
    """Training forward through `layers`; (output, the steps run, for train_backward)."""
    order, steps, k = execution_order(layers), [], 0
    while k < len(order):
        step, covered = _training_step(layers, order, k, x.shape)
        x = step.forward(x)
        steps.append(step)
        k += covered
    return x, steps


def train_backward(steps, grad, input_grad=True):
    """Back-propagate through `steps` in reverse; the first skips its input gradient (and
    None is returned) when input_grad is False and it can."""
    for i in range(len(steps) - 1, 0, -1):
        grad = steps[i].backward(grad)
    return steps[0].backward(grad, need_dx=input_grad)


def _batchnorm_at(layers, j, channels):
    """The BatchNorm of `channels` at position j, or None."""
    if j < len(layers) and type(layers[j]) is BatchNorm and layers[j].num_features == channels:
        return layers[j]
    return None


def _eval_fusion(layers, i, x_shape):
    """What runs fused with the Conv2D at i in eval mode: a BatchNorm, a ReLU, a 2x2/2 pool, or
    a pool then a BatchNorm (and a ReLU after it); (bn, relu, pool, pooled bn, the index after
    them)."""
    conv, j = layers[i], i + 1
    bn = _batchnorm_at(layers, j, conv.out_channels)
    j += bn is not None
    relu = j < len(layers) and type(layers[j]) is ReLU
    j += relu
    pool = j < len(layers) and _is_pool2x2(layers[j]) and _pools_fully(conv, x_shape)
    j += pool
    pooled = None
    if pool and bn is None and not relu:
        pooled = _batchnorm_at(layers, j, conv.out_channels)
        j += pooled is not None
        relu = pooled is not None and j < len(layers) and type(layers[j]) is ReLU
        j += relu
    return bn, relu, pool, pooled, j


def infer(layers, x):
    """Eval-mode forward through `layers`, fused where possible; x is never written."""
    owned, i = False, 0   # owned: x is a fresh array no one else holds, free to overwrite
    while i < len(layers):
        layer = layers[i]
        if type(layer) is Conv2D and layer.square_stride:
            layer.check_input(x)
            bn, relu, pool, pooled, i = _eval_fusion(layers, i, x.shape)
            x, owned = eval_conv(layer, x, bn, relu, pool, pooled), True
            continue
        if owned and type(layer) is ReLU:
            x = relu_in_place(x)
        else:
            x = layer.forward(x, training=False)
            output = layer_info(layer).eval_output
            owned = output == "new" or (owned and output == "view")
        i += 1
    return x


class Plan:
    """A Sequential's runtime state: the steps of its last training forward, for backward, and
    its block trainer (helper processes), made at its first training in blocks."""

    def __init__(self):
        self.steps, self.trainer, self.in_blocks = None, None, False

    def forward(self, layers, x, training=False):
        with one_blas_thread():   # nnlib's numbers never depend on BLAS's threads
            return self._forward(layers, x, training)

    def _forward(self, layers, x, training):
        if not training:
            return infer(layers, x)
        self.in_blocks = False
        if len(x) > BLOCK and get_num_threads() > 1 and _per_sample(layers):
            return self._forward_blocks(layers, x)
        x, self.steps = train_forward(layers, x)
        return x

    def backward(self, grad, input_grad, params):
        """Back-propagate the output gradient; fills every parameter's grad. The input gradient,
        or None with input_grad=False when the first step could skip it."""
        with one_blas_thread():
            return self._backward(grad, input_grad, params)

    def _backward(self, grad, input_grad, params):
        if self.in_blocks:
            self.in_blocks = False
            return self.trainer.backward(grad, input_grad, params)
        if self.steps is None:
            raise RuntimeError("backward needs a forward pass with training=True first")
        return train_backward(self.steps, grad, input_grad)

    def _forward_blocks(self, layers, x):
        """Training forward as independent blocks of BLOCK images, shared out over helper
        processes (`nnlib.runtime.blocks`)."""
        if self.trainer is None or self.trainer.layers != list(layers):
            if self.trainer is not None:
                self.trainer.close()
            self.trainer = BlockTrainer(layers, train_forward, _block_backward)
        self.in_blocks = True
        return self.trainer.forward(x)


def _block_backward(layers, steps, grad, input_grad):
    return train_backward(steps, grad, input_grad)


def _per_sample(layers):
    """Whether every layer treats each image on its own, draws nothing at random and keeps no
    batch statistics: then blocks of the batch can go through the network independently."""
    return all(layer_info(layer).per_sample for layer in layers)
