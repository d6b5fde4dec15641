"""Data: datasets in every form (IDX as MNIST's, with the bundled copy under mnist/, CSV, npz,
image folders, CIFAR-10), the input spec, the user's image files, submission files, and the
one place where images become model input (preprocess)."""
