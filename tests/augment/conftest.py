"""Fixtures for the augment tests: small synthetic digit-like batches (no dataset needed)."""
import numpy as np
import pytest


def make_blobs(n, size=28, seed=0):
    """(n, size, size) float32 in [0, 1]: a random stroke-like blob near the centre of each image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    images = np.zeros((n, size, size), dtype=np.float32)
    for i in range(n):
        for _ in range(4):
            cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
            r = rng.uniform(1.5, 3.0)
            images[i] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return np.clip(images, 0, 1)


@pytest.fixture
def blob_factory():
    """make_blobs itself, for tests that need another size (importing conftest is ambiguous)."""
    return make_blobs


@pytest.fixture
def blobs():
    return make_blobs(8)


@pytest.fixture
def blobs_u8(blobs):
    return np.rint(blobs * 255).astype(np.uint8)
