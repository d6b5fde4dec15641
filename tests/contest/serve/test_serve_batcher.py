"""contest.serve.batcher: queued requests share one prediction and get their own rows back."""
import threading

import numpy as np
import pytest

from contest.serve.batcher import MicroBatcher, balanced_parts


class RecordingModel:
    """(M=2, N, K=3) 'probabilities' that encode each image's first pixel; the first call
    waits for `release`, so later requests queue up behind it."""

    def __init__(self, fail_on=None):
        self.sizes, self.release, self.fail_on = [], threading.Event(), fail_on

    def __call__(self, pixels):
        self.sizes.append(len(pixels))
        if len(self.sizes) == 1:
            self.release.wait(10)
        if self.fail_on == len(self.sizes):
            raise RuntimeError("boom")
        first = pixels[:, 0, 0, 0]
        return np.stack([np.stack([first, first + 1, first + 2], axis=1)] * 2)


def images(values, dtype=np.float32):
    return np.array(values, dtype=dtype).reshape(-1, 1, 1, 1) * np.ones((1, 1, 2, 2), dtype)


def test_requests_queued_while_busy_share_one_batch_and_get_their_rows():
    model = RecordingModel()
    batcher = MicroBatcher(model, max_images=100)
    first = batcher.submit(images([0.5]))
    while not model.sizes:
        pass
    later = [batcher.submit(images([0.1, 0.2])), batcher.submit(images([51], np.uint8))]
    model.release.set()
    assert first.result(10)[:, :, 0].tolist() == [[0.5], [0.5]]
    np.testing.assert_allclose(later[0].result(10)[0, :, 0], [0.1, 0.2])
    np.testing.assert_allclose(later[1].result(10)[1, :, 0], [0.2])   # uint8 51 -> 51/255
    assert model.sizes == [1, 3]


def test_a_failed_prediction_fails_its_requests_and_the_batcher_carries_on():
    model = RecordingModel(fail_on=1)
    model.release.set()
    batcher = MicroBatcher(model)
    with pytest.raises(RuntimeError, match="boom"):
        batcher.submit(images([0.3])).result(10)
    np.testing.assert_allclose(batcher.submit(images([0.4])).result(10)[0, :, 0], [0.4])


@pytest.mark.parametrize("n, members, threads, parts", [
    (1, 5, 2, 1), (63, 5, 2, 1), (64, 5, 2, 4), (1000, 5, 2, 4), (1000, 4, 2, 2),
    (1000, 5, 3, 6), (1000, 3, 1, 2)])
def test_balanced_parts_give_every_thread_the_same_number_of_tasks(n, members, threads, parts):
    bounds = balanced_parts(n, members, threads, split_from=64)
    assert len(bounds) == parts
    assert n < 64 or (members * parts) % threads == 0   # small batches: one task per member
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))


def test_member_pool_gives_the_same_probabilities_whatever_share_of_the_cores_it_has(
        models, tiny_test):
    from contest import Ensemble
    from contest.serve.batcher import MemberPool, unit_float

    ensemble = Ensemble.load(models)
    alone = MemberPool(ensemble.loaded, threads=2)
    shared = MemberPool(ensemble.loaded, threads=2, processes=2)   # small batches on 1 thread
    assert (alone.small_threads, shared.small_threads) == (2, 1)
    for count in (3, MemberPool.SPLIT_IMAGES + 5):   # a small batch and a split one
        pixels = tiny_test[0][:count, None]
        members = shared(unit_float(pixels))
        np.testing.assert_array_equal(members, alone(unit_float(pixels)))
        np.testing.assert_allclose(members, ensemble.member_proba(pixels), atol=2e-6)


def test_map_on_cores_runs_a_one_thread_job_on_the_calling_thread():
    from contest.modeldir.ensemble import map_on_cores

    names = map_on_cores(lambda item: threading.current_thread().name, [1, 2, 3], threads=1)
    assert names == [threading.current_thread().name] * 3
    names = map_on_cores(lambda item: threading.current_thread().name, [1, 2, 3], threads=2)
    assert threading.current_thread().name not in names
