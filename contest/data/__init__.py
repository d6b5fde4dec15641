"""Data: MNIST-format datasets (the bundled copy under mnist/), the user's image files, and the
one place where images become model input (preprocess)."""
