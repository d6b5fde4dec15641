"""A member's network: a named CNN (contest.train.architectures) or a fully connected one
(`mlp:100x100`, hidden layer widths joined by 'x'), with the recipe's activation, dropout rate
and initialiser applied (contest.train.options). Without those options the named networks are
built exactly as before.
"""
import re

import nnlib as nn

from contest.data.spec import MNIST

MLP_PATTERN = re.compile(r"mlp:([1-9][0-9]*(?:x[1-9][0-9]*)*)")
MLP_MAX_WIDTH = 8192
ACTIVATION_LAYERS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def mlp_widths(name):
    """Hidden layer widths of an 'mlp:AxB...' name, or None for another name; ValueError for a
    malformed mlp name."""
    if not name.startswith("mlp"):
        return None
    match = MLP_PATTERN.fullmatch(name)
    widths = [int(w) for w in match.group(1).split("x")] if match else []
    if not widths or max(widths) > MLP_MAX_WIDTH:
        raise ValueError(f"{name!r}: a fully connected network is written mlp:WIDTHxWIDTH... "
                         f"(hidden layer widths 1..{MLP_MAX_WIDTH}, e.g. mlp:100x100)")
    return widths


def build_mlp(widths, rng, spec=MNIST):
    """Flatten, then Dense-ReLU per hidden width, and a Dense to the classes
    (Glorot-initialised, as the CNNs' last layer)."""
    layers, features = [nn.Flatten()], spec.channels * spec.height * spec.width
    for width in widths:
        layers += [nn.Dense(features, width, rng=rng), nn.ReLU()]
        features = width
    layers.append(nn.Dense(features, spec.classes, init="glorot", rng=rng))
    return nn.Sequential(layers, input_shape=spec.model_shape)


def apply_recipe(model, preset, rng):
    """`model` with the preset's activation, dropout and initialiser (each only when set)."""
    layers = list(model.layers)
    if preset.activation not in (None, "relu"):
        layers = [ACTIVATION_LAYERS[preset.activation]() if type(layer) is nn.ReLU else layer
                  for layer in layers]
    if preset.dropout is not None:
        layers = _with_dropout(layers, preset.dropout, rng)
    model = nn.Sequential(layers, input_shape=model.input_shape)
    if preset.init is not None:
        reinitialise(model, preset.init, preset.init_std, rng)
    return model


def _with_dropout(layers, rate, rng):
    """Every Dropout at `rate`; a network without any gets one after each activation that
    follows a Dense layer (an mlp's hidden layers, a CNN's head)."""
    dropouts = [layer for layer in layers if type(layer) is nn.Dropout]
    for layer in dropouts:
        layer.p = float(rate)
    if dropouts:
        return layers
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if i and type(layers[i - 1]) is nn.Dense and type(layer) in ACTIVATION_LAYERS.values():
            out.append(nn.Dropout(rate, rng=rng))
    return out


def reinitialise(model, init, std, rng):
    """Draw every Dense and Conv2D weight again with initialiser `init` (biases stay zero)."""
    from nnlib.init import DEFAULT_STD, initial_weights

    std = DEFAULT_STD if std is None else std
    for layer in model.layers:
        if type(layer) not in (nn.Dense, nn.Conv2D):
            continue
        w = layer.params["W"].value
        if type(layer) is nn.Dense:
            fan_in, fan_out = w.shape
        else:
            area = w.shape[2] * w.shape[3]
            fan_in, fan_out = w.shape[1] * area, w.shape[0] * area
        w[...] = initial_weights(w.shape, fan_in, fan_out, init, rng, w.dtype, std)
        layer.init, layer.init_std = init, float(std)
