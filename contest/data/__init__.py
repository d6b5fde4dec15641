"""Data: what contest reads, and the one place where images become model input.

    datasets      MNIST-format IDX datasets, with the bundled copy under mnist/
    formats       training data in every form: IDX, CSV, npz, npy, image folders (imagefolder),
                  CIFAR-10 binary and python batches (cifar_pickle)
    sources       which training and test sets a run uses
    spec          the input spec: channels, height, width, classes and their names
    decode        the one decoder of images to predict (CLI, Python API, service): its registry
                  of forms, read by decode_arrays, decode_text and decode_pictures, within the
                  limits of decode_payload
    inputs        the user's files: images to predict (through decode) and labels
    submission    submission files, written by predict and read by score
    preprocess    images to float32 (N, C, H, W) model input, with the ensemble's normalisation
"""
