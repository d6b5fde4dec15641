"""Every constant that decides how nnlib splits work, in one place.

The first group fixes the *numbers*: results are bit-identical whatever the thread count and
whether a batch trains whole or in blocks, because sums over the batch and matrix products
always see the same pieces. Changing one of them changes the rounding of the results (still
correct, but no longer equal to earlier runs). The second group only tunes speed.
"""

# -- determinism: these decide the rounding ---------------------------------------------------
# Images per reduction group: partial weight gradients (and BatchNorm sums) are taken per group,
# then added over the groups in order, so the rounding is the same whichever thread took a group.
GROUP = 16
# Images per block: per-sample networks train in independent blocks (`nnlib.runtime.blocks`);
# convolution and Dense gradients are summed within each block first, then over the blocks in
# order, so a batch gives the same numbers whether it runs whole or block by block.
BLOCK = 64
# Rows per Dense GEMM (forward and input gradient); thread shards start on multiples of it.
ROWS = BLOCK
# A convolution's im2col matrix is built and consumed a power-of-two number of images at a time
# (a "chunk": about CHUNK_BYTES of matrix, at most CHUNK_IMAGES, or CHUNK_IMAGES_KMAJOR for the
# tap-major layout of few channels). Chunks tile the BLOCK-image blocks and thread shards start
# on chunk bounds, so every GEMM multiplies the same rows (OpenBLAS may round a row differently
# in a GEMM of another height).
CHUNK_BYTES = 2 << 20
CHUNK_IMAGES = 8
CHUNK_IMAGES_KMAJOR = 32
# Below this many input channels im2col is built tap-major (one row per kernel tap).
KMAJOR_CHANNELS = 4

# -- speed only: results do not depend on these -----------------------------------------------
# Below this many elements an element-wise op is cheaper inline than handed to a thread.
ELEMENTWISE_MIN = 1 << 16
# Below this many multiply-adds per batch a Dense layer stays on the calling thread.
DENSE_THREAD_MIN_MACS = 1 << 21
