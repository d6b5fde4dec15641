"""The kernels of nnlib.ops, each on its own: against the loop references, and the fused
kernels against the separate ones (bit for bit where the docs promise it)."""
import numpy as np
import pytest

import reference as ref
from nnlib.ops import conv, dense, elementwise, fused, pool
from nnlib.ops.layout import as_nchw, to_nhwc


def _conv_case(seed, cin=3, size=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, cin, size, size)).astype(np.float32)
    w = rng.standard_normal((4, cin, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    return rng, x, w, b


@pytest.mark.parametrize("cin,stride,padding", [(1, 1, 1), (5, 1, 0), (3, 2, 1)])
def test_conv2d_forward_matches_the_reference(cin, stride, padding):
    _, x, w, b = _conv_case(cin, cin)
    y, _ = conv.conv2d_forward(to_nhwc(x), w, b, stride, padding)
    np.testing.assert_allclose(as_nchw(y), ref.conv2d(x, w, b, stride, padding), rtol=1e-4,
                               atol=1e-4)


def test_im2col_and_col2im_are_adjoint():
    rng = np.random.default_rng(0)
    xp = rng.standard_normal((2, 6, 6, 3))
    cols = conv.im2col(xp, 3, 3, 2)
    dcol = rng.standard_normal(cols.shape)
    back = conv.col2im(dcol.reshape(2, 2, 2, 3, 3, 3), xp.shape, 3, 3, 2)
    assert np.isclose(np.sum(cols * dcol), np.sum(xp * back))
    assert np.array_equal(conv.im2col_kmajor(xp, 3, 3, 2).T, cols)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("size", [8, 7])
def test_conv_pool_forward_equals_conv_then_pool_then_relu(relu, size):
    _, x, w, b = _conv_case(size, size=size)
    fused_y, cache = fused.conv_pool_forward(to_nhwc(x), w, b, 1, 1, relu, training=True)
    y, _ = conv.conv2d_forward(to_nhwc(x), w, b, 1, 1)
    pooled, _ = pool.maxpool_forward(y, 2, 2, training=False)
    if relu:
        pooled = elementwise.relu(pooled, out=pooled)
    assert np.array_equal(fused_y, pooled)
    assert cache[1] == y.shape[1:3]


def test_conv_pool_backward_equals_the_separate_gradients():
    rng, x, w, b = _conv_case(4)
    x_nhwc = to_nhwc(x)
    y, cache = fused.conv_pool_forward(x_nhwc, w, b, 1, 1, relu=True, training=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = fused.conv_pool_backward(dy, cache, w, x_nhwc.shape, 1, 1)

    conv_y, xp = conv.conv2d_forward(x_nhwc, w, b, 1, 1)
    pooled, wins = pool.maxpool_forward(conv_y, 2, 2, training=True)
    d_pool = elementwise.relu_backward(dy, np.maximum(pooled, 0))
    d_conv = pool.maxpool_backward(d_pool, conv_y.shape, wins, 2, 2)
    dx_ref, dw_ref, db_ref = conv.conv2d_backward(d_conv, xp, w, x_nhwc.shape, 1, 1)
    for got, want in ((dx, dx_ref), (dw, dw_ref), (db, db_ref)):
        assert np.array_equal(got, want)


def test_fold_batchnorm_equals_the_affine_map_after_the_convolution():
    rng, x, w, b = _conv_case(5)
    scale = rng.uniform(0.5, 2, 4).astype(np.float32)
    shift = rng.standard_normal(4).astype(np.float32)
    wf, bf = fused.fold_batchnorm(w, b, scale, shift)
    y, _ = conv.conv2d_forward(to_nhwc(x), wf, bf, 1, 0)
    plain, _ = conv.conv2d_forward(to_nhwc(x), w, b, 1, 0)
    np.testing.assert_allclose(y, plain * scale + shift, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (2, 1)])
def test_pooling_ops_match_the_reference(k, s):
    x = np.random.default_rng(k + s).standard_normal((2, 3, 7, 7))
    y, _ = pool.maxpool_forward(to_nhwc(x), k, s)
    np.testing.assert_array_equal(as_nchw(y), ref.maxpool2d(x, k, s))
    np.testing.assert_allclose(as_nchw(pool.avgpool_forward(to_nhwc(x), k, s)),
                               ref.avgpool2d(x, k, s), rtol=1e-12)


def test_dense_ops_match_the_reference_and_can_skip_the_input_gradient():
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((70, 6)), rng.standard_normal((6, 3))
    b, dy = rng.standard_normal(3), rng.standard_normal((70, 3))
    np.testing.assert_allclose(dense.dense_forward(x, w, b), ref.dense(x, w, b), rtol=1e-12)
    w_grad, b_grad = np.empty_like(w), np.empty_like(b)
    assert dense.dense_backward(x, dy, w, w_grad, b_grad, need_dx=False) is None
    np.testing.assert_allclose(w_grad, x.T @ dy, rtol=1e-12)
    np.testing.assert_allclose(b_grad, dy.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dense.dense_backward(x, dy, w, w_grad, b_grad), dy @ w.T,
                               rtol=1e-12)


def test_relu_op_may_write_in_place():
    x = np.array([[-1.0, 2.0], [0.5, -3.0]])
    out = elementwise.relu(x, out=x)
    assert out is x and np.array_equal(x, [[0.0, 2.0], [0.5, 0.0]])
