"""The layer registry: every layer class registers itself with what the rest of nnlib must know
about it, so `Sequential.from_config` and the runtime planner need no lists of class names.

    @register_layer(takes_rng=True, per_sample=True, eval_output="new")
    class MyLayer(Layer): ...

- takes_rng: the constructor takes `rng=` (a numpy Generator); `from_config` passes one.
- per_sample: the layer treats each image on its own, draws nothing at random and keeps no
  batch statistics, so a batch may train as independent blocks (`nnlib.runtime.blocks`).
- eval_output: what `forward(x)` in eval mode returns: "new" (a fresh array nobody else holds),
  "view" (x or a view of it), or "unknown". The planner overwrites only arrays it knows to be
  fresh.
"""
from types import MappingProxyType
from typing import NamedTuple

EVAL_OUTPUTS = ("new", "view", "unknown")


class LayerInfo(NamedTuple):
    cls: type
    takes_rng: bool = False
    per_sample: bool = False
    eval_output: str = "unknown"


_INFO = {}
_CLASSES = {}
LAYER_TYPES = MappingProxyType(_CLASSES)   # name -> class, read-only view of the registry


def register_layer(takes_rng=False, per_sample=False, eval_output="unknown"):
    """Class decorator: register a Layer subclass under its class name (see module docstring)."""
    if eval_output not in EVAL_OUTPUTS:
        raise ValueError(f"eval_output must be one of {EVAL_OUTPUTS} "
                         f"(received: eval_output={eval_output!r})")

    def add(cls):
        name = cls.__name__
        if name in _CLASSES and _CLASSES[name] is not cls:
            raise ValueError(f"a layer named {name!r} is already registered")
        _INFO[name] = LayerInfo(cls, bool(takes_rng), bool(per_sample), eval_output)
        _CLASSES[name] = cls
        return cls

    return add


def layer_info(layer):
    """The LayerInfo of a layer (instance or class); an unregistered class gets the cautious
    defaults (no rng, not per-sample, unknown eval output)."""
    cls = layer if isinstance(layer, type) else type(layer)
    info = _INFO.get(cls.__name__)
    return info if info is not None and info.cls is cls else LayerInfo(cls)


def layer_class(name):
    """The registered layer class called `name`; ValueError if there is none."""
    if name not in _CLASSES:
        raise ValueError(f"unknown layer type {name!r} (known: {', '.join(sorted(_CLASSES))})")
    return _CLASSES[name]
