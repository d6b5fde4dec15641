"""Sequential: a chain of layers. forward(x, training) / backward(dlogits) / predict_proba.

A plain container: how the layers run (fusion, threads, blocks) is the planner's business
(`nnlib.runtime.plan`).
"""
import numpy as np

from .layers import Layer, Softmax, layer_class, layer_info
from .ops.softmax import softmax
from .runtime.plan import Plan


class Sequential:
    def __init__(self, layers, input_shape=None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer (received: layers=[])")
        self.input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)
        self._plan = Plan()

    def add(self, layer):
        """Append `layer` (Keras' Sequential.add); returns the model."""
        if not isinstance(layer, Layer):
            raise ValueError(f"add expects a Layer (received: {type(layer).__name__})")
        self.layers.append(layer)
        return self

    def forward(self, x, training=False):
        return self._plan.forward(self.layers, x, training)

    def backward(self, grad, input_grad=True):
        """Back-propagate dlogits; fills every Param.grad. With input_grad=False the first
        layer skips its input gradient where it can (nobody needs it in training) and None is
        returned."""
        return self._plan.backward(grad, input_grad, self.parameters())

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
        """Softmax probabilities (N, K) in eval mode, computed in batches (bounded memory); a
        model ending in a Softmax layer already gives them."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (received: batch_size={batch_size})")
        out = None
        for start in range(0, len(x), batch_size):
            p = self.forward(x[start:start + batch_size], training=False)
            if not isinstance(self.layers[-1], Softmax):
                p = softmax(p)
            if out is None:
                out = np.empty((len(x), p.shape[1]), dtype=p.dtype)
            out[start:start + len(p)] = p
        if out is None:
            raise ValueError("predict_proba got an empty input")
        return out

    def predict(self, x, batch_size=1000):
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def activations(self, x):
        """[(layer name, output)] of every layer in eval mode; the last is the logits
        (`nnlib.introspect`)."""
        from .introspect import activations
        return activations(self, x)

    def input_gradient(self, x, dy):
        """d sum(logits * dy) / dx in eval mode (`nnlib.introspect`)."""
        from .introspect import input_gradient
        return input_gradient(self, x, dy)

    def class_score_gradient(self, x, classes):
        """d logits[i, classes[i]] / dx[i] in eval mode: saliency (`nnlib.introspect`)."""
        from .introspect import class_score_gradient
        return class_score_gradient(self, x, classes)

    def get_config(self):
        return {"input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [{"class": type(l).__name__, "config": l.get_config()} for l in self.layers]}

    @classmethod
    def from_config(cls, config, rng=None):
        layers = []
        for spec in config["layers"]:
            layer_cls = layer_class(spec["class"])
            kwargs = dict(spec["config"])
            if "dtype" in kwargs:
                kwargs["dtype"] = np.dtype(kwargs["dtype"])
            if layer_info(layer_cls).takes_rng:
                kwargs["rng"] = rng if rng is not None else np.random.default_rng(0)
            layers.append(layer_cls(**kwargs))
        return cls(layers, config.get("input_shape"))

    def summary(self, input_shape=None):
        """Keras-style table: layer, output shape, parameter count, and the totals, trainable
        and non-trainable (frozen parameters; BatchNorm's running statistics are buffers, not
        parameters, and are not counted)."""
        shape = input_shape or self.input_shape
        rows = [("Layer", "Output shape", "Params")]
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape) if shape is not None else None
            count = sum(p.value.size for p in layer.params.values())
            out = "(None, " + ", ".join(map(str, shape)) + ")" if shape is not None else "?"
            rows.append((f"{i}: {type(layer).__name__}", out, f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        line = "-" * (sum(widths) + 6)
        fmt = lambda r: f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}"
        body = [fmt(rows[0]), line] + [fmt(r) for r in rows[1:]] + [line]
        params = self.parameters()
        total = sum(p.value.size for p in params)
        frozen = sum(p.value.size for p in params if p.frozen)
        body.append(f"Total params: {total:,}")
        body.append(f"Trainable params: {total - frozen:,}")
        body.append(f"Non-trainable params: {frozen:,}")
        return "\n".join(body)
