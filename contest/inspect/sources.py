"""The training images the inspect views compare with (nearest neighbours, the label check). The
image and the labelled set they look at are read as predict-one and evaluate read them
(contest.cli.run.one_image, labelled_set)."""
import numpy as np

from contest.cli.run import data_dir_for
from contest.data.datasets import load_split, resolve_data_dir
from contest.data.formats import load_data
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
