"""The digests that tests/contest/test_bit_identity.py pins, computed in a process of their own.

    OPENBLAS_CORETYPE=Haswell python tests/contest/pinned_digests.py TINY_DATA_DIR WORK_DIR

prints one JSON object: the OpenBLAS kernel set that ran, sha256 digests of arch a, b and d
weights after 4 Adam steps (d with 1 and 2 threads), and of the weights and predicted
probabilities of a tiny `train-ensemble` run (the contest tests' own, `contest_testutil.train`).

Why a process of its own: OpenBLAS picks its kernels for the CPU when NumPy loads it, and kernels
for another CPU (SkylakeX on an AVX-512 machine, Haswell on an AVX2 one) round the same products
differently. The digests were recorded with the Haswell kernels, which every x86-64 CPU with
AVX2 and FMA runs, so the test asks for them before NumPy loads; the rest of the test suite runs
on the kernels this machine picks.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import nnlib as nn  # noqa: E402
from contest.data import datasets  # noqa: E402
from contest.data.preprocess import normalise  # noqa: E402
from contest.data.spec import MNIST  # noqa: E402
from contest.train.architectures import build_model  # noqa: E402
from contest_testutil import invoke, train  # noqa: E402


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
    x, y = normalise(images[:512], "unit", MNIST), labels[:512]
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


def ensemble_digests(data_dir, work_dir):
    """(members' weights digest, predicted probabilities digest) of the tiny ensemble trained
    with --jobs 1 on `data_dir`, predicting `data_dir`'s test images."""
    models, images = work_dir / "models", work_dir / "images.npy"
    result = invoke(["export", "--out", images, "--data-dir", data_dir])
    assert result.exit_code == 0, result.output
    result = train(models, data_dir, "--jobs", "1")
    assert result.exit_code == 0, result.output
    members = sorted(models.glob("member-*.npz"))
    weights = digest(np.frombuffer(state_digest(nn.load(p)).encode(), np.uint8) for p in members)
    result = invoke(["predict", images, "--models", models, "-o", work_dir / "s.csv",
                     "--proba", work_dir / "p.npy"])
    assert result.exit_code == 0, result.output
    return weights, digest([np.load(work_dir / "p.npy")])


def blas_kernels():
    from threadpoolctl import threadpool_info
    return sorted({str(lib.get("architecture")) for lib in threadpool_info()
                   if lib.get("internal_api") == "openblas"})


def main(data_dir, work_dir):
    weights, proba = ensemble_digests(Path(data_dir), Path(work_dir))
    return {"kernels": blas_kernels(),
            "steps": {arch: weights_after_steps(arch) for arch in "abd"},
            "steps_d_two_threads": weights_after_steps("d", threads=2),
            "ensemble_weights": weights, "ensemble_proba": proba}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])))
