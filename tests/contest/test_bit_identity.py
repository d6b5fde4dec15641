"""Behaviour pinned across refactors: digests of weights and predictions recorded from the code
before the redesign (tests/contest/bit_identity.json). A change that moves these numbers must say
why in its commit (a kernel that sums in another order) and show accuracy unchanged, then record
the new digests, which a failing assertion prints, in the JSON file."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import nnlib as nn
from contest.data import datasets
from contest.train.architectures import build_model
from contest.data.preprocess import normalise
from contest_testutil import invoke

RECORD = Path(__file__).with_name("bit_identity.json")


def digest(arrays):
    """sha256 over the dtype, shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def state_digest(model):
    state = model.state_dict()
    return digest(state[k] for k in sorted(state))


def weights_after_steps(arch, threads=1):
    """Weights of `arch` after 4 Adam steps (one epoch of 512 augmented MNIST images)."""
    import augment
    images, labels = datasets.load_split("train")
    x, y = normalise(images[:512], "unit"), labels[:512]
    model = build_model(arch, np.random.default_rng(11))
    opt = nn.Adam(model.parameters(), lr=1e-3)
    augmenter = augment.Augmenter(rotation=10, shift=2)
    previous = nn.get_num_threads()
    nn.set_num_threads(threads)
    try:
        nn.fit(model, nn.SoftmaxCrossEntropy(), opt, x, y, epochs=1, batch_size=128,
               rng=np.random.default_rng(12), augment=augmenter)
    finally:
        nn.set_num_threads(previous)
    return state_digest(model)


def ensemble_digests(models, images, out_dir):
    """(members' weights digest, predicted probabilities digest) of a model directory."""
    members = sorted(Path(models).glob("member-*.npz"))
    weights = digest(np.frombuffer(state_digest(nn.load(p)).encode(), np.uint8) for p in members)
    result = invoke(["predict", images, "--models", models, "-o", out_dir / "s.csv",
                     "--proba", out_dir / "p.npy"])
    assert result.exit_code == 0, result.output
    return weights, digest([np.load(out_dir / "p.npy")])


@pytest.fixture(scope="module")
def recorded():
    return json.loads(RECORD.read_text())


@pytest.mark.parametrize("arch", ["a", "b", "d"])
def test_weights_after_a_few_steps_are_unchanged(recorded, arch):
    assert weights_after_steps(arch) == recorded["steps"][arch]


def test_two_threads_give_the_same_weights(recorded):
    assert weights_after_steps("d", threads=2) == recorded["steps"]["d"]


def test_tiny_train_ensemble_and_its_predictions_are_unchanged(recorded, models, exported,
                                                               tmp_path):
    weights, proba = ensemble_digests(models, exported[0], tmp_path)
    assert weights == recorded["ensemble_weights"]
    assert proba == recorded["ensemble_proba"]

