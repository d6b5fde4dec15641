"""Sequential: a chain of layers. forward(x, training) / backward(dlogits) / predict_proba."""
import numpy as np

from .allocator import retain_freed_memory
from .activations import ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm
from .functional import softmax
from .layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from .blocks import BlockTrainer
from .threads import BLOCK, get_num_threads


# Layers that treat each image on their own, draw nothing at random and keep no batch statistics
PER_SAMPLE_LAYERS = (Conv2D, Dense, ReLU, Sigmoid, Tanh, MaxPool2D, AvgPool2D, Flatten)


def _is_pool2x2(layer):
    return type(layer) is MaxPool2D and layer.kernel_size == 2 and layer.stride == 2


def _pooled_block(layers, order, k, x_shape):
    """Whether the layer run at position k of `order` is a Conv2D that can run fused with the
    2x2 MaxPool2D run after it (None if not), and then whether a ReLU after the pool joins
    them: one pass over each chunk of images while it is in cache, and one hand-off to
    nnlib's threads instead of three."""
    if not (type(layers[order[k]]) is Conv2D and k + 1 < len(order)
            and _is_pool2x2(layers[order[k + 1]])):
        return None
    if len(x_shape) != 4 or x_shape[1] != layers[order[k]].in_channels:
        return None   # let Conv2D.forward report the bad input
    if min(layers[order[k]].output_shape(x_shape[1:])[1:]) < 2:
        return None   # and MaxPool2D a too small one
    return k + 2 < len(order) and type(layers[order[k + 2]]) is ReLU


def _train_forward(layers, order, x):
    """Training forward through `layers` in `order`, fused blocks included; (output, the
    indices of the layers run, for _train_backward)."""
    steps, k = [], 0
    while k < len(order):
        i = order[k]
        relu = _pooled_block(layers, order, k, x.shape)
        if relu is None:
            x = layers[i].forward(x, training=True)
            k += 1
        else:
            x = layers[i].forward_pooled(x, relu)
            k += 2 + relu
        steps.append(i)
    return x, steps


def _train_backward(layers, steps, grad, input_grad):
    for step in range(len(steps) - 1, -1, -1):
        layer = layers[steps[step]]
        if step == 0 and not input_grad and layer.can_skip_input_grad:
            return layer.backward(grad, need_dx=False)
        grad = layer.backward(grad)
    return grad


class Sequential:
    def __init__(self, layers, input_shape=None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer (received: layers=[])")
        self.input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)
        self._steps = None   # what the last training forward ran, for backward
        self._trainer = None  # nnlib.blocks.BlockTrainer, made at the first training in blocks
        self._in_blocks = False  # whether the last training forward ran in blocks

    def forward(self, x, training=False):
        if not training:
            return self._infer(x)
        self._in_blocks = False
        if len(x) > BLOCK and get_num_threads() > 1 and self._per_sample():
            return self._forward_blocks(x)
        x, self._steps = _train_forward(self.layers, self._order(), x)
        return x

    def _per_sample(self):
        """Whether every layer treats each image on its own, draws nothing at random and keeps no
        batch statistics: then blocks of the batch can go through the network independently."""
        return all(type(layer) in PER_SAMPLE_LAYERS for layer in self.layers)

    def _forward_blocks(self, x):
        """Training forward of a per-sample network as independent blocks of BLOCK images,
        shared out over helper processes when nnlib has several threads (`nnlib.blocks`)."""
        trainer = self._trainer
        if trainer is None or trainer.layers != self.layers:
            if trainer is not None:
                trainer.close()
            order = self._order()
            trainer = self._trainer = BlockTrainer(
                self.layers, lambda layers, x: _train_forward(layers, order, x), _train_backward)
        self._in_blocks = True
        return trainer.forward(x)

    def _order(self):
        """Layer indices in execution order. A ReLU directly followed by a MaxPool2D runs after
        the pool, on a quarter of the values: max-pooling commutes with the increasing ReLU, and
        the gradients agree too (where the window maximum is <= 0 both orders give 0)."""
        order = list(range(len(self.layers)))
        i = 0
        while i < len(order) - 1:
            if type(self.layers[i]) is ReLU and type(self.layers[i + 1]) is MaxPool2D:
                order[i], order[i + 1] = i + 1, i
                i += 2
            else:
                i += 1
        return order

    def _infer(self, x):
        # A Conv2D runs fused with a following BatchNorm (folded into its weights), ReLU and
        # 2x2 max-pool. Once a layer has allocated a fresh array, later element-wise layers may
        # overwrite it: no one else holds it. The caller's x is never written.
        owned, i, layers = False, 0, self.layers
        while i < len(layers):
            layer = layers[i]
            if type(layer) is Conv2D:
                scale, shift, relu, pool, i = self._fusion(i, x.shape)
                x = layer.forward_eval(x, scale, shift, relu, pool)
                owned = True
                continue
            if owned and hasattr(layer, "forward_inplace"):
                x = layer.forward_inplace(x)
            else:
                x = layer.forward(x, training=False)
                owned = owned or not layer.returns_view
            i += 1
        return x

    def _fusion(self, i, x_shape):
        """What runs fused with the Conv2D at i (input shape x_shape) in eval mode: (scale,
        shift) of a BatchNorm folded into its weights, a ReLU, a 2x2/2 MaxPool2D; and the index
        after them."""
        layers, scale, shift = self.layers, None, None
        j = i + 1
        if (j < len(layers) and type(layers[j]) is BatchNorm
                and layers[j].num_features == layers[i].out_channels):
            scale, shift = layers[j].eval_affine()
            j += 1
        relu = j < len(layers) and type(layers[j]) is ReLU
        j += relu
        pool = (j < len(layers) and _is_pool2x2(layers[j])
                and min(layers[i].output_shape(x_shape[1:])[1:]) >= 2)
        return scale, shift, relu, pool, j + pool

    def backward(self, grad, input_grad=True):
        """Back-propagate dlogits; fills every Param.grad. With input_grad=False the first
        layer skips its input gradient (nobody needs it in training) and None is returned."""
        if self._in_blocks:
            self._in_blocks = False
            return self._trainer.backward(grad, input_grad, self.parameters())
        order = self._order() if self._steps is None else self._steps
        return _train_backward(self.layers, order, grad, input_grad)


    def named_parameters(self):
        """List of (dotted name, Param), e.g. ("0.W", Param)."""
        return [(f"{i}.{k}", p) for i, layer in enumerate(self.layers) for k, p in layer.params.items()]

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def state_dict(self):
        """{dotted name: array} of parameters and buffers (views, not copies)."""
        state = {name: p.value for name, p in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for b in layer.buffers:
                state[f"{i}.{b}"] = getattr(layer, b)
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the model in place; raise ValueError on missing, unexpected or
        wrong-shaped entries."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if strict and (missing or extra):
            raise ValueError(f"state does not match the model: missing {missing}, unexpected {extra}")
        for name, target in own.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"weight {name!r} has shape {value.shape}, the model expects "
                                 f"{target.shape}")
            if not np.issubdtype(value.dtype, np.floating):
                raise ValueError(f"weight {name!r} has dtype {value.dtype}, expected a float")
            target[...] = value

    def rng_states(self):
        return {str(i): layer.rng.bit_generator.state for i, layer in enumerate(self.layers)
                if getattr(layer, "rng", None) is not None}

    def set_rng_states(self, states):
        for i, state in states.items():
            self.layers[int(i)].rng.bit_generator.state = state

    def predict_proba(self, x, batch_size=1000):
        """Softmax probabilities (N, K) in eval mode, computed in batches (bounded memory)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (received: batch_size={batch_size})")
        retain_freed_memory()
        out = None
        for start in range(0, len(x), batch_size):
            p = softmax(self.forward(x[start:start + batch_size], training=False))
            if out is None:
                out = np.empty((len(x), p.shape[1]), dtype=p.dtype)
            out[start:start + len(p)] = p
        if out is None:
            raise ValueError("predict_proba got an empty input")
        return out

    def predict(self, x, batch_size=1000):
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def get_config(self):
        return {"input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [{"class": type(l).__name__, "config": l.get_config()} for l in self.layers]}

    @classmethod
    def from_config(cls, config, rng=None):
        from . import LAYER_TYPES
        layers = []
        for spec in config["layers"]:
            if spec["class"] not in LAYER_TYPES:
                raise ValueError(f"unknown layer type {spec['class']!r}")
            kwargs = dict(spec["config"])
            if "dtype" in kwargs:
                kwargs["dtype"] = np.dtype(kwargs["dtype"])
            layer_cls = LAYER_TYPES[spec["class"]]
            if spec["class"] in ("Dense", "Conv2D", "Dropout"):
                kwargs["rng"] = rng if rng is not None else np.random.default_rng(0)
            layers.append(layer_cls(**kwargs))
        return cls(layers, config.get("input_shape"))

    def summary(self, input_shape=None):
        """Keras-style table: layer, output shape, parameter count, and the totals."""
        shape = input_shape or self.input_shape
        rows = [("Layer", "Output shape", "Params")]
        total = 0
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape) if shape is not None else None
            count = sum(p.value.size for p in layer.params.values())
            total += count
            out = "(None, " + ", ".join(map(str, shape)) + ")" if shape is not None else "?"
            rows.append((f"{i}: {type(layer).__name__}", out, f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        line = "-" * (sum(widths) + 6)
        fmt = lambda r: f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}"
        body = [fmt(rows[0]), line] + [fmt(r) for r in rows[1:]] + [line]
        body.append(f"Total params: {total:,}  (trainable: {total:,})")
        return "\n".join(body)
