"""Pure array kernels behind the layers, on NHWC memory; no state, no layer objects.

- `layout`: NCHW <-> NHWC views, window views, output sizes.
- `conv`: im2col / col2im, convolution forward and backward.
- `pool`: max and average pooling (with 2x2/2 kernels of their own).
- `fused`: convolution -> 2x2 max-pool -> ReLU in one pass; BatchNorm folding.
- `elementwise`: ReLU and per-channel affine maps; `products`: the BLAS products (GIL
  released) and accurate column sums;
  `softmax`: softmax and log-softmax.

Kernels split big batches over nnlib's threads (`nnlib.runtime.threads`); how they cut the
batch is fixed by `nnlib.runtime.constants`, so results do not depend on the thread count.
"""
