"""train-ensemble's recipe options (contest.train.options): each changes what it claims, they are
recorded in ensemble.json, resume and --more-epochs keep them, --restore-best keeps the best
epoch's weights bit for bit, and left out they change nothing."""
import json

import numpy as np
import pytest

import nnlib as nn
from contest.train.architectures import build_model
from contest.train.network import apply_recipe
from contest.train.options import OPTIMIZER_LR, OPTIMIZERS, build_optimizer, recipe_changes
from contest.train.plan import with_overrides
from contest.train.presets import PRESETS, Preset
from contest_testutil import assert_refused, invoke

BASE = ["--n", "1", "--preset", "fast", "--train-limit", "300", "--seed", "3", "--jobs", "1",
        "-q"]
OPTIONS = ["--arch", "mlp:40x20", "--activation", "tanh", "--optimizer", "rmsprop", "--decay",
           "0.55", "--lr", "0.003", "--batch-size", "64", "--weight-decay", "0.01", "--l1",
           "0.0005", "--dropout", "0.2", "--init", "xavier_normal"]


def train(out, data_dir, epochs, *extra):
    result = invoke(["train-ensemble", *BASE, "--epochs", str(epochs), "--data-dir", data_dir,
                     "--out", out, *extra])
    assert result.exit_code == 0, result.output
    return result


def preset_with(**options):
    return with_overrides(PRESETS["fast"], **recipe_changes(options))


def weights(path):
    return nn.load(path).state_dict()


# ---------------------------------------------------------------- left out, nothing changes

def test_without_options_the_preset_and_its_record_are_unchanged():
    assert recipe_changes({}) == {}
    assert with_overrides(PRESETS["default"]) == PRESETS["default"]
    record = PRESETS["default"].to_dict()
    assert set(record) == {"name", "arch", "epochs", "batch_size", "optimizer", "lr",
                           "weight_decay", "schedule", "label_smoothing", "augment",
                           "normalisation", "validation_size"}
    assert Preset(**record) == PRESETS["default"]


@pytest.mark.parametrize("arch", ["a", "k"])
def test_without_options_the_network_is_built_as_before(arch):
    plain = build_model(arch, np.random.default_rng(0))
    recipe = apply_recipe(build_model(arch, np.random.default_rng(0)), PRESETS["fast"],
                          np.random.default_rng(1))
    assert recipe.get_config() == plain.get_config()
    for name, value in plain.state_dict().items():
        assert np.array_equal(recipe.state_dict()[name], value), name


# ---------------------------------------------------------------- each option

@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_option_builds_that_optimizer_at_its_usual_rate(name):
    preset = preset_with(optimizer=name)
    opt = build_optimizer(preset, [nn.Param(np.zeros(3, np.float32))])
    expected = {"sgd": nn.SGD, "momentum": nn.SGD, "nesterov": nn.SGD, "adagrad": nn.AdaGrad,
                "rmsprop": nn.RMSProp, "adadelta": nn.AdaDelta, "adam": nn.Adam,
                "adamw": nn.AdamW}[name]
    assert type(opt) is expected and opt.lr == OPTIMIZER_LR[name]
    if name in ("sgd", "momentum", "nesterov"):
        assert (opt.momentum, opt.nesterov) == ({"sgd": 0.0}.get(name, 0.9), name == "nesterov")


def test_hyper_parameter_options_reach_the_optimizer():
    params = [nn.Param(np.zeros(3, np.float32))]
    opt = build_optimizer(preset_with(optimizer="momentum", momentum=0.5, lr=0.08), params)
    assert (opt.momentum, opt.lr) == (0.5, 0.08)
    opt = build_optimizer(preset_with(optimizer="adam", beta1=0.8, beta2=0.99), params)
    assert opt.betas == (0.8, 0.99)
    opt = build_optimizer(preset_with(optimizer="rmsprop", decay=0.55, momentum=0.3), params)
    assert (opt.alpha, opt.momentum) == (0.55, 0.3)
    opt = build_optimizer(preset_with(optimizer="adadelta", decay=0.8), params)
    assert opt.rho == 0.8
    opt = build_optimizer(preset_with(weight_decay=0.05, l1=0.01), params)
    assert (opt.weight_decay, opt.l1) == (0.05, 0.01)


def test_regularisation_options_shrink_the_weights_they_penalise():
    def trained_norm(**options):
        model = build_model("mlp:16", np.random.default_rng(0))
        opt = build_optimizer(preset_with(optimizer="sgd", lr=0.1, **options), model.parameters())
        for p in model.parameters():
            p.grad[...] = 0
        opt.step()
        return sum(float(np.abs(p.value).sum()) for p in model.parameters())

    plain = trained_norm()
    assert trained_norm(weight_decay=0.5) < plain
    assert trained_norm(l1=0.001) < plain


def test_activation_dropout_and_init_options_change_the_network():
    rng = np.random.default_rng(0)
    model = apply_recipe(build_model("a", rng), preset_with(activation="sigmoid", dropout=0.4,
                                                            init="gaussian", init_std=0.02), rng)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert "ReLU" not in kinds and kinds.count("Sigmoid") == 3
    assert kinds[-2:] == ["Dropout", "Dense"] and model.layers[-2].p == 0.4
    conv = model.layers[0].params["W"].value
    assert conv.std() == pytest.approx(0.02, rel=5 * np.sqrt(2 / conv.size))
    model = apply_recipe(build_model("k", rng), preset_with(dropout=0.1), rng)
    assert [layer.p for layer in model.layers if type(layer) is nn.Dropout] == [0.1]


def test_mlp_arch_has_the_hidden_widths_asked_for():
    model = build_model("mlp:100x50", np.random.default_rng(0))
    dense = [layer for layer in model.layers if type(layer) is nn.Dense]
    assert [(d.in_features, d.out_features) for d in dense] == [(784, 100), (100, 50), (50, 10)]
    mlp = apply_recipe(model, preset_with(dropout=0.3), np.random.default_rng(0))
    assert [type(layer).__name__ for layer in mlp.layers].count("Dropout") == 2


@pytest.mark.parametrize("args,name", [(["--arch", "mlp:10x0"], "mlp:10x0"),
                                       (["--init-std", "0.1"], "--init-std"),
                                       (["--optimizer", "nesterov", "--momentum", "0"],
                                        "--momentum"),
                                       (["--dropout", "1"], "--dropout")])
def test_bad_options_are_refused_in_one_line(args, name, tmp_path, tiny_data):
    result = invoke(["train-ensemble", *BASE, "--data-dir", tiny_data, "--out", tmp_path / "m",
                     *args])
    assert_refused(result, name)
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------- recorded, resumed, continued

@pytest.fixture(scope="module")
def with_options(tmp_path_factory, tiny_data):
    out = tmp_path_factory.mktemp("options") / "models"
    train(out, tiny_data, 1, *OPTIONS)
    return out


def test_options_are_recorded_and_the_member_follows_them(with_options):
    preset = json.loads((with_options / "ensemble.json").read_text())["preset"]
    assert {k: preset[k] for k in ("arch", "optimizer", "decay", "lr", "batch_size", "l1",
                                   "weight_decay", "dropout", "init", "activation")} == {
        "arch": "mlp:40x20", "optimizer": "rmsprop", "decay": 0.55, "lr": 0.003,
        "batch_size": 64, "l1": 0.0005, "weight_decay": 0.01, "dropout": 0.2,
        "init": "xavier_normal", "activation": "tanh"}
    model = nn.load(with_options / "member-0.npz")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense"]
    assert {layer.init for layer in model.layers if type(layer) is nn.Dense} == {"xavier_normal"}
    assert {layer.p for layer in model.layers if type(layer) is nn.Dropout} == {0.2}
    state = nn.load_optimizer_state(with_options / "member-0.npz")
    assert state["type"] == "RMSProp" and state["steps"] == 5   # 270 images, batches of 64
    assert state["hyper"] == {"lr": 0.003, "weight_decay": 0.01, "l1": 0.0005}


def test_rerun_with_other_options_is_refused_and_the_same_resumes(with_options, tiny_data):
    before = (with_options / "member-0.npz").read_bytes()
    result = invoke(["train-ensemble", *BASE, "--epochs", "1", "--data-dir", tiny_data,
                     "--out", with_options, *OPTIONS[:-2], "--init", "he"])
    assert_refused(result, "preset.init")
    train(with_options, tiny_data, 1, *OPTIONS)    # nothing left to train: the member is kept
    assert (with_options / "member-0.npz").read_bytes() == before


def test_more_epochs_keeps_the_options(with_options, tiny_data, tmp_path):
    straight = tmp_path / "straight"
    train(straight, tiny_data, 2, *OPTIONS)
    continued = tmp_path / "continued"
    import shutil

    shutil.copytree(with_options, continued)
    result = invoke(["train-ensemble", "--out", continued, "--more-epochs", "1", "--jobs", "1",
                     "-q"])
    assert result.exit_code == 0, result.output
    assert nn.load_optimizer_state(continued / "member-0.npz")["type"] == "RMSProp"
    reference = weights(straight / "member-0.npz")
    for name, value in weights(continued / "member-0.npz").items():
        assert np.array_equal(value, reference[name]), name


# ---------------------------------------------------------------- --restore-best

def test_restore_best_keeps_the_best_epoch_bit_for_bit(tiny_data, tmp_path):
    best_run = tmp_path / "best"
    train(best_run, tiny_data, 3, "--lr", "0.005", "--restore-best")
    _, meta = nn.load_with_metadata(best_run / "member-0.npz")
    accs = meta["history"]["history"]["val_acc"]
    assert meta["best_epoch"] == accs.index(max(accs)) and meta["val_acc"] == max(accs)
    assert meta["best_epoch"] < 2, accs   # this seed's curve peaks early: a real restore
    assert not (best_run / "member-0.best.npz").exists()
    short = tmp_path / "short"
    train(short, tiny_data, meta["best_epoch"] + 1, "--lr", "0.005")
    reference = weights(short / "member-0.npz")
    for name, value in weights(best_run / "member-0.npz").items():
        assert np.array_equal(value, reference[name]), name


class _State:
    def __init__(self, model):
        self.model, self.history = model, nn.History()


def test_restore_best_callback_restores_the_earliest_best_epoch(tmp_path):
    from contest.train.best import RestoreBest

    model = nn.Sequential([nn.Dense(2, 2, rng=np.random.default_rng(0))])
    callback = RestoreBest(tmp_path / "best.npz")
    callback.on_train_begin(_State(model))
    snapshots = []
    for epoch, acc in enumerate([0.5, 0.7, 0.6, 0.7]):
        model.layers[0].params["W"].value[...] = epoch
        snapshots.append(model.state_dict()["0.W"].copy())
        callback.on_epoch_end(epoch, {"val_acc": acc})
    callback.on_train_end(_State(model))
    assert callback.best_epoch == 1
    np.testing.assert_array_equal(model.state_dict()["0.W"], snapshots[1])


def test_more_epochs_after_restore_best_keeps_the_best_so_far(tiny_data, tmp_path):
    out = tmp_path / "best"
    train(out, tiny_data, 2, "--lr", "0.005", "--restore-best")
    result = invoke(["train-ensemble", "--out", out, "--more-epochs", "1", "--jobs", "1", "-q"])
    assert result.exit_code == 0, result.output
    _, meta = nn.load_with_metadata(out / "member-0.npz")
    accs = meta["history"]["history"]["val_acc"]
    assert len(accs) == 3 and meta["val_acc"] == max(accs)
    assert meta["best_epoch"] == accs.index(max(accs))
    assert not (out / "member-0.best.npz").exists()
