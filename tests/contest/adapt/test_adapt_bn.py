"""AdaBN (contest.adapt.bn): statistics equal to a float64 reference computed over all images at
once, deterministic, independent of the chunking, and seen by the eval fast path."""
import nnlib as nn
import numpy as np
import pytest

from contest.adapt import adapt_bn
from contest.adapt import bn as bn_module
from contest.adapt.bn import ChannelMoments, batchnorm_indices, prefix_forward
from contest.data.spec import MNIST
from contest.data.preprocess import normalise
from contest.modeldir.ensemble import load_ensemble
from contest_testutil import invoke


def reference_inputs(model, index, x):
    """Input of layer `index` for all of x at once, layer by layer, in eval mode."""
    return prefix_forward(model.layers[:index], x)


def slow_probabilities(model, x):
    """Softmax of the network applied one layer at a time (no fused convolution)."""
    logits = prefix_forward(model.layers, x).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def running_stats(ensemble):
    return [np.concatenate([np.r_[m.layers[i].running_mean, m.layers[i].running_var]
                            for i in batchnorm_indices(m)]) for m in ensemble.models]


def test_channel_moments_match_numpy_over_chunks():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((37, 5, 3, 4)) * 3 + 100).astype(np.float32)
    moments = ChannelMoments(5)
    for start in range(0, 37, 10):
        moments.add(x[start:start + 10])
    values = x.astype(np.float64).transpose(1, 0, 2, 3).reshape(5, -1)
    np.testing.assert_allclose(moments.mean, values.mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(moments.unbiased_variance(), values.var(axis=1, ddof=1), rtol=1e-11)
    assert moments.count == 37 * 12


def test_statistics_equal_the_float64_reference(bn_models, tiny_test):
    images = tiny_test[0]
    ensemble = load_ensemble(bn_models)
    reference = load_ensemble(bn_models)
    layers = adapt_bn(ensemble, images)
    assert layers == sum(len(batchnorm_indices(m)) for m in ensemble.models) > 0
    x = normalise(images, ensemble.normalisation, ensemble.spec)
    for adapted, model in zip(ensemble.models, reference.models):
        for i in batchnorm_indices(model):
            # adapt the reference in order too, from a whole-set float64 computation
            inputs = reference_inputs(model, i, x).astype(np.float64)
            axes = (0,) if inputs.ndim == 2 else (0, 2, 3)
            mean, var = inputs.mean(axis=axes), inputs.var(axis=axes, ddof=1)
            model.layers[i].running_mean[...] = mean
            model.layers[i].running_var[...] = var
            np.testing.assert_allclose(adapted.layers[i].running_mean, mean.astype(np.float32),
                                       rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(adapted.layers[i].running_var, var.astype(np.float32),
                                       rtol=1e-6)


def test_deterministic_and_independent_of_chunking(bn_models, tiny_test, monkeypatch):
    first, second, small = (load_ensemble(bn_models) for _ in range(3))
    adapt_bn(first, tiny_test[0])
    adapt_bn(second, tiny_test[0])
    for a, b in zip(running_stats(first), running_stats(second)):
        assert a.tobytes() == b.tobytes()
    monkeypatch.setattr(bn_module, "MAX_CHUNK", 7)   # 200 images in 29 chunks
    adapt_bn(small, tiny_test[0])
    for a, b in zip(running_stats(first), running_stats(small)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_large_set_is_estimated_on_evenly_spaced_images(bn_models, tiny_test, monkeypatch):
    """Above MAX_IMAGES, the statistics are those of the evenly spaced sample, exactly."""
    images = tiny_test[0]
    monkeypatch.setattr(bn_module, "MAX_IMAGES", 40)
    sample = bn_module.estimation_sample(len(images))
    assert len(sample) == 40 and sample[0] == 0 and sample[-1] == len(images) - 1
    assert np.all(np.diff(sample) >= len(images) // 40)       # spread over the whole set
    whole, part = load_ensemble(bn_models), load_ensemble(bn_models)
    adapt_bn(whole, images)
    monkeypatch.setattr(bn_module, "MAX_IMAGES", 10 ** 9)
    adapt_bn(part, images[sample])
    for a, b in zip(running_stats(whole), running_stats(part)):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(bn_module.estimation_sample(7), np.arange(7))


def test_statistics_do_not_depend_on_the_thread_count(bn_models, tiny_test):
    x = normalise(tiny_test[0], load_ensemble(bn_models).normalisation, MNIST)
    one, two = load_ensemble(bn_models), load_ensemble(bn_models)
    assert bn_module.adapt_models_bn(one.models, x, threads=1) == \
        bn_module.adapt_models_bn(two.models, x, threads=2) > 0
    for a, b in zip(running_stats(one), running_stats(two)):
        assert a.tobytes() == b.tobytes()


def test_fast_path_sees_the_new_statistics(bn_models, tiny_test):
    ensemble = load_ensemble(bn_models)
    before, _ = ensemble.predict_proba(tiny_test[0])
    adapt_bn(ensemble, tiny_test[0])
    after, members = ensemble.predict_proba(tiny_test[0])
    x = normalise(tiny_test[0], ensemble.normalisation, ensemble.spec)
    for model, fast in zip(ensemble.models, members):
        np.testing.assert_allclose(fast, slow_probabilities(model, x), atol=2e-5)
    assert np.abs(after - before).max() > 1e-3   # the statistics did change the predictions


def test_an_ensemble_without_batchnorm_is_left_alone(models, tiny_test):
    ensemble = load_ensemble(models)
    before, _ = ensemble.predict_proba(tiny_test[0])
    assert adapt_bn(ensemble, tiny_test[0]) == 0
    np.testing.assert_array_equal(ensemble.predict_proba(tiny_test[0])[0], before)


def test_adapt_bn_refuses_a_single_image(bn_models, tiny_test):
    with pytest.raises(ValueError, match="at least 2 images"):
        adapt_bn(load_ensemble(bn_models), tiny_test[0][:1])


def test_predict_adapt_bn_writes_the_adapted_predictions(bn_models, exported, tmp_path):
    images, _ = exported
    plain, adapted = tmp_path / "plain.txt", tmp_path / "adapted.txt"
    result = invoke(["predict", images, "-o", adapted, "--models", bn_models, "--adapt", "bn"])
    assert result.exit_code == 0, result.output
    assert "adapt bn: 6 BatchNorm layers re-estimated on the 200 images" in result.output
    assert invoke(["predict", images, "-o", plain, "--models", bn_models]).exit_code == 0
    ensemble = load_ensemble(bn_models)
    adapt_bn(ensemble, np.load(images))
    expected = ensemble.predict_proba(np.load(images))[0].argmax(axis=1)
    assert adapted.read_text().split() == [str(d) for d in expected]
    assert adapted.read_text() != plain.read_text()


def test_adapt_bn_takes_the_public_ensemble(bn_models, tiny_test):
    # docs/adapt.md's call: contest.adapt.adapt_bn(Ensemble.load(DIR), images)
    from contest import Ensemble

    public, loaded = Ensemble.load(bn_models), load_ensemble(bn_models)
    assert adapt_bn(public, tiny_test[0]) == adapt_bn(loaded, tiny_test[0]) == 6
    np.testing.assert_array_equal(public.predict_proba(tiny_test[0]),
                                  loaded.predict_proba(tiny_test[0])[0])


def test_predict_adapt_bn_says_how_many_images_it_used(bn_models, exported, tmp_path, monkeypatch):
    monkeypatch.setattr(bn_module, "MAX_IMAGES", 50)   # a set larger than the sample: 200 images
    result = invoke(["predict", exported[0], "-o", tmp_path / "out.txt", "--models", bn_models,
                     "--adapt", "bn"])
    assert result.exit_code == 0, result.output
    assert "6 BatchNorm layers re-estimated on 50 of the 200 images" in result.output
