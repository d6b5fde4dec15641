"""The training options of `train-ensemble` and `contest compare` beyond the preset's choice:
optimizer and its hyper-parameters, learning rate, batch size, regularisation, initialisation,
activation and best-epoch restore. Each becomes a field of the Preset (contest.train.presets),
so it is recorded in ensemble.json and honoured by resume and --more-epochs.

Left out, every option keeps what the preset and architecture do today. `--optimizer` without
`--lr` takes that optimizer's usual rate (OPTIMIZER_LR: PyTorch's defaults, 0.01 for the SGD
family), since one rate does not suit them all (AdaDelta's is 1.0, Adam's 0.001).
"""
import click

from contest.errors import ContestError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw")
OPTIMIZER_LR = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01,
                "rmsprop": 0.01, "adadelta": 1.0, "adam": 0.001, "adamw": 0.001}
ACTIVATIONS = ("relu", "sigmoid", "tanh")
INIT_NAMES = ("he", "he_normal", "he_uniform", "glorot", "glorot_normal", "glorot_uniform",
              "xavier", "xavier_normal", "xavier_uniform", "gaussian")   # nnlib.init.INITS

_POSITIVE = click.FloatRange(min=0, min_open=True)
_UNIT = click.FloatRange(0, 1, max_open=True)
RECIPE_OPTIONS = [
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None,
                 help="optimizer (PyTorch's update rules); without --lr it takes its usual "
                      "rate (sgd family, adagrad, rmsprop 0.01, adadelta 1.0, adam(w) 0.001) "
                      "[default: the preset's, adam]"),
    click.option("--lr", type=_POSITIVE, default=None,
                 help="learning rate (the peak of a one-cycle schedule) [default: the preset's]"),
    click.option("--batch-size", "batch_size", type=click.IntRange(min=1), default=None,
                 help="mini-batch size [default: the preset's, 128]"),
    click.option("--momentum", type=_UNIT, default=None,
                 help="momentum of momentum/nesterov (default 0.9), sgd and rmsprop (default 0)"),
    click.option("--beta1", type=_UNIT, default=None, help="Adam/AdamW beta1 [default: 0.9]"),
    click.option("--beta2", type=_UNIT, default=None, help="Adam/AdamW beta2 [default: 0.999]"),
    click.option("--decay", type=_UNIT, default=None,
                 help="decay rate of RMSProp's squared-gradient average (alpha, default 0.99) "
                      "or AdaDelta's (rho, default 0.9)"),
    click.option("--weight-decay", "weight_decay", type=click.FloatRange(min=0), default=None,
                 help="L2 penalty: weight_decay * w added to every gradient (AdamW: decoupled) "
                      "[default: the preset's, 0]"),
    click.option("--l1", type=click.FloatRange(min=0), default=None,
                 help="L1 penalty: l1 * sign(w) added to every gradient [default: 0]"),
    click.option("--dropout", type=_UNIT, default=None,
                 help="rate of every Dropout layer (a network without any gets one after each "
                      "hidden Dense layer's activation) [default: the arch's]"),
    click.option("--init", type=click.Choice(INIT_NAMES), default=None,
                 help="initialiser of every weight layer [default: the arch's, he (last layer "
                      "glorot)]"),
    click.option("--init-std", "init_std", type=_POSITIVE, default=None,
                 help="std of --init gaussian [default: 0.01]"),
    click.option("--activation", type=click.Choice(ACTIVATIONS), default=None,
                 help="activation instead of every ReLU [default: relu]"),
    click.option("--restore-best", "restore_best", is_flag=True, default=None,
                 help="keep each member's weights of its best validation accuracy epoch (the "
                      "earliest of ties), as Keras' restore_best_weights"),
]
OPTION_NAMES = ("optimizer", "lr", "batch_size", "momentum", "beta1", "beta2", "decay",
                "weight_decay", "l1", "dropout", "init", "init_std", "activation", "restore_best")


def recipe_options(command):
    """Click decorator adding the recipe options (their values reach the command by name)."""
    for option in reversed(RECIPE_OPTIONS):
        command = option(command)
    return command


def recipe_changes(values):
    """The Preset fields the given options set, {name: value} (options not given left out)."""
    changes = {name: values[name] for name in OPTION_NAMES if values.get(name) is not None}
    if changes.get("restore_best") is False:
        del changes["restore_best"]
    if "optimizer" in changes and "lr" not in changes:
        changes["lr"] = OPTIMIZER_LR[changes["optimizer"]]
    if "init_std" in changes and changes.get("init") != "gaussian":
        raise ContestError("--init-std: only with --init gaussian")
    if changes.get("optimizer") == "nesterov" and changes.get("momentum") == 0:
        raise ContestError("--momentum: nesterov needs a momentum > 0")
    return changes


def build_optimizer(preset, params):
    """The nnlib optimizer of `preset` over `params`."""
    import nnlib as nn

    name, lr, wd, l1 = preset.optimizer, preset.lr, preset.weight_decay, preset.l1
    betas = (0.9 if preset.beta1 is None else preset.beta1,
             0.999 if preset.beta2 is None else preset.beta2)
    if name in ("adam", "adamw"):
        cls = nn.Adam if name == "adam" else nn.AdamW
        return cls(params, lr=lr, betas=betas, weight_decay=wd, l1=l1)
    if name in ("sgd", "momentum", "nesterov"):
        default = 0.0 if name == "sgd" else 0.9
        momentum = default if preset.momentum is None else preset.momentum
        return nn.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                      weight_decay=wd, l1=l1)
    if name == "adagrad":
        return nn.AdaGrad(params, lr=lr, weight_decay=wd, l1=l1)
    if name == "rmsprop":
        return nn.RMSProp(params, lr=lr, alpha=0.99 if preset.decay is None else preset.decay,
                          momentum=preset.momentum or 0.0, weight_decay=wd, l1=l1)
    if name == "adadelta":
        return nn.AdaDelta(params, lr=lr, rho=0.9 if preset.decay is None else preset.decay,
                           weight_decay=wd, l1=l1)
    raise ValueError(f"unknown optimizer {name!r} in preset {preset.name!r}; choose from "
                     f"{', '.join(OPTIMIZERS)}")
