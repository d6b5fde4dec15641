"""The images the inspect views look at: the ensemble's training images (for neighbours and the
label check), its test set (the default labelled set), or the user's files."""
import numpy as np

from contest.cli.run import data_dir_for, default_test_set
from contest.data.datasets import load_split, resolve_data_dir
from contest.data.formats import load_data
from contest.data.inputs import load_images
from contest.data.spec import MNIST
from contest.errors import ContestError, ContestInputError


def training_set(data_dir, manifest, spec):
    """(images, labels, description) of the training file the ensemble was trained from
    (--data-dir / $CONTEST_DATA_DIR overrides an IDX directory), every image of it: the label
    check looks at the validation split too."""
    recorded = manifest.get("data") or {}
    if recorded.get("format", "idx") != "idx":
        if not recorded.get("path"):
            raise ContestError("the manifest does not say which data the ensemble was trained on")
        data = load_data(recorded["path"], "train", recorded.get("label_column", "label"))
        images, labels, source = data.images, data.labels, data.source
    elif spec == MNIST:
        source = resolve_data_dir(data_dir_for(data_dir, manifest))
        images, labels = load_split("train", source)
    else:
        source = resolve_data_dir(data_dir_for(data_dir, manifest))
        data = load_data(source, "train")
        images, labels = data.images, data.labels
    if images.shape[1:] != spec.image_shape:
        raise ContestInputError(source, f"training images are {images.shape[1:]}, the ensemble "
                                        f"takes {spec.image_shape}")
    return images, np.asarray(labels, dtype=np.int64), f"training set {source} ({len(labels)} images)"


def one_image(image_path, index, data_dir, manifest, spec):
    """(image in contest layout, true label or None, description): image `index` of the file
    `image_path` (any form predict reads), else of the test set."""
    if image_path is not None:
        images, labels, what = load_images(image_path, spec), None, str(image_path)
    else:
        images, labels, _ = default_test_set(data_dir, manifest, spec)
        what = "test set"
    if index >= len(images):
        raise ContestInputError(image_path or "--index", f"--index {index} out of range "
                                                         f"({len(images)} images)")
    return images[index], None if labels is None else int(labels[index]), f"{what} #{index}"
