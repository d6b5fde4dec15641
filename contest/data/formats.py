"""Labelled training (and test) data in the forms contest data comes in, recognised from the path.

    IDX directory     train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] (MNIST's layout;
                      t10k-* for the test split), gzip or not
    Kaggle CSV        a label column (default `label`) and one column per pixel (contest.data.decode_text)
    .npz              arrays x/y, images/labels or x_train/y_train (x_test/y_test: test split)
    .npy pair         images.npy + labels.npy, in a directory or given as the images file
    image folder      one sub-folder of images per class, class names = folder names, sorted
                      (contest.data.imagefolder); the images in a fixed shuffled order
    CIFAR-10 binary   data_batch_*.bin (train) / test_batch.bin (test) of 3,073-byte records (one
                      label byte, then 1,024 red, 1,024 green and 1,024 blue bytes, row by row),
                      class names from batches.meta.txt
    CIFAR-10 python   cifar-10-batches-py: data_batch_1..5 / test_batch pickles, read by a
                      restricted unpickler of plain data only (contest.data.cifar_pickle)

Images of shape (N, H, W), (N, H, W, C) or (N, C, H, W) come back in contest's layout ((N, H, W)
grey, (N, H, W, C) colour), uint8 or float32 0-1; labels as int64 0..classes-1. Anything unusable
raises ContestInputError naming the file.
"""
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contest.data import datasets
from contest.data.decode import check_values
from contest.data.spec import FASHION_MNIST_NAMES, spec_of_images
from contest.errors import ContestInputError

FORMAT_NAMES = {"idx": "IDX directory", "csv": "Kaggle CSV", "npz": ".npz arrays",
                "npy": "images.npy + labels.npy", "folder": "image folder (one sub-folder per "
                "class)", "cifar10": "CIFAR-10 binary",
                "cifar10py": "CIFAR-10 python batches"}
NPZ_KEYS = {"train": (("x", "y"), ("images", "labels"), ("x_train", "y_train")),
            "test": (("x_test", "y_test"), ("x", "y"), ("images", "labels"))}
IDX_STEMS = {"train": datasets.FILES["train"], "test": datasets.FILES["test"]}
CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_META = "batches.meta.txt"
MAX_CHANNELS = 4


@dataclass
class LabelledData:
    """Images and labels read from `source`, with the class names the data gives (or None)."""
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    format: str
    source: Path

    def spec(self, class_names=None):
        """The InputSpec of this data (classes: its names, else the largest label + 1)."""
        names = class_names or self.class_names
        classes = len(names) if names else int(self.labels.max()) + 1
        return spec_of_images(self.images, classes, names, self.source)

    def describe(self):
        return f"{FORMAT_NAMES[self.format]} {self.source}"

    def fingerprint(self):
        """Where the data came from and an md5 of its arrays (the run identity of a training)."""
        digest = hashlib.md5(np.ascontiguousarray(self.images).tobytes())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        return {"path": str(Path(self.source).resolve()), "format": self.format,
                "md5": digest.hexdigest(),
                "size": len(self.labels)}


def detect_format(path):
    """The format key of FORMAT_NAMES for `path`, recognised from its name or content."""
    path = Path(path)
    if not path.exists():
        raise ContestInputError(path, "data not found")
    if path.is_file():
        return _file_format(path)
    names = {child.name for child in path.iterdir()}
    if any(re.search(r"idx3-ubyte(\.gz)?$", name) for name in names):
        return "idx"
    if any(re.fullmatch(r"(data_batch_\d+|test_batch)\.bin", name) for name in names):
        return "cifar10"
    if names & {"data_batch_1", "test_batch"}:
        return "cifar10py"
    if {"images.npy", "labels.npy"} <= names:
        return "npy"
    if any(child.is_dir() and not child.name.startswith(".") for child in path.iterdir()):
        return "folder"
    raise ContestInputError(path, "no training data recognised: expected IDX files, CIFAR-10 "
                                  ".bin batches, images.npy + labels.npy or one sub-folder of "
                                  "images per class")


def _file_format(path):
    if re.search(r"idx[13]-ubyte(\.gz)?$", path.name):
        return "idx"                     # one file of an IDX directory: the directory
    suffix = path.suffix.lower()
    if suffix in (".csv", ".npz", ".npy", ".bin"):
        return {".csv": "csv", ".npz": "npz", ".npy": "npy", ".bin": "cifar10"}[suffix]
    raise ContestInputError(path, f"unrecognised data file type {suffix or '(none)'!r}: expected "
                                  ".csv, .npz, .npy, .bin (CIFAR-10) or a directory")


def load_data(path, split="train", label_column="label"):
    """LabelledData of the `split` ("train" or "test") part of the data at `path`."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "idx":
        data = _load_idx(path if path.is_dir() else path.parent, split)
    elif fmt == "csv":
        data = LabelledData(*read_labelled_csv(path, label_column), None, fmt, path)
    elif fmt == "npz":
        data = _load_npz(path, split)
    elif fmt == "npy":
        data = _load_npy_pair(path)
    elif fmt == "cifar10py":
        data = _load_cifar_python(path, split)
    elif fmt == "folder":
        from contest.data.imagefolder import read_image_folder

        data = shuffled(LabelledData(*read_image_folder(path), fmt, path))
    else:
        data = _load_cifar(path, split)
    return check_labelled(data, training=split == "train")


def has_test_split(path):
    """True when the data at `path` carries its own test split (IDX t10k files, test_batch.bin)."""
    path = Path(path)
    if not path.is_dir():
        return False
    fmt = detect_format(path)
    if fmt == "idx":
        return all(_idx_file(path, stem, required=False) for stem in IDX_STEMS["test"])
    return ((fmt == "cifar10" and (path / "test_batch.bin").is_file())
            or (fmt == "cifar10py" and (path / "test_batch").is_file()))


def shuffled(data, seed=0):
    """`data` in a fixed random order: an image folder is read class by class, and the validation
    split (the last images) must hold every class, not the last one only."""
    order = np.random.default_rng(seed).permutation(len(data.labels))
    data.images, data.labels = data.images[order], data.labels[order]
    return data


# ---- IDX ----------------------------------------------------------------------------------------

def _idx_file(directory, stem, required=True):
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    if required:
        raise ContestInputError(directory / (stem + ".gz"), f"IDX file {stem}[.gz] not found")
    return None


def _load_idx(directory, split):
    bundled = datasets.is_bundled(directory)
    images_stem, labels_stem = IDX_STEMS[split]
    images_path = _idx_file(directory, images_stem)
    labels_path = _idx_file(directory, labels_stem)
    images = datasets.read_idx(images_path, datasets.MNIST_MD5[images_stem] if bundled else None)
    labels = datasets.read_idx(labels_path, datasets.MNIST_MD5[labels_stem] if bundled else None)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ContestInputError(labels_path, f"labels of shape {labels.shape} for "
                                             f"{len(images)} images")
    names = FASHION_MNIST_NAMES if "fashion" in str(directory).lower() else None
    return LabelledData(as_layout(images, images_path), labels, names, "idx", directory)


# ---- NumPy arrays -------------------------------------------------------------------------------

def _load_npz(path, split):
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            for x_key, y_key in NPZ_KEYS[split]:
                if x_key in keys and y_key in keys:
                    images, labels = archive[x_key], archive[y_key]
                    break
            else:
                wanted = " or ".join(f"{x}/{y}" for x, y in NPZ_KEYS[split])
                raise ContestInputError(path, f"expected arrays {wanted}; found "
                                              f"{', '.join(sorted(keys)) or 'none'}")
    except (ValueError, OSError, EOFError) as exc:
        raise ContestInputError(path, f"unreadable .npz file ({exc})") from None
    _check_numeric(images, path)
    return LabelledData(as_layout(images, path), labels, None, "npz", path)


def _load_npy_pair(path):
    from contest.data.decode import read_array_file as read_npy

    directory = path if path.is_dir() else path.parent
    images_path = path if path.is_file() else directory / "images.npy"
    labels_path = directory / images_path.name.replace("images", "labels")
    if labels_path == images_path or not labels_path.is_file():
        raise ContestInputError(images_path, f"no labels file {labels_path.name} beside it")
    images, labels = read_npy(images_path), read_npy(labels_path)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ContestInputError(labels_path, f"labels of shape {labels.shape} for "
                                             f"{len(images)} images in {images_path.name}")
    return LabelledData(as_layout(images, images_path), labels, None, "npy", path)


def _check_numeric(array, path):
    if array.dtype.kind not in "uif":
        raise ContestInputError(path, f"non-numeric images of dtype {array.dtype}")


def as_layout(array, path):
    """Images (N, H, W), (N, H, W, C) or (N, C, H, W) in contest's layout ((N, H, W) grey)."""
    if array.ndim == 3:
        return array
    if array.ndim == 4:
        if array.shape[3] <= MAX_CHANNELS:
            hwc = array
        elif array.shape[1] <= MAX_CHANNELS:
            hwc = array.transpose(0, 2, 3, 1)
        else:
            raise ContestInputError(path, f"images of shape {array.shape}: no channel axis of "
                                          f"1..{MAX_CHANNELS} first or last")
        return hwc[..., 0] if hwc.shape[3] == 1 else np.ascontiguousarray(hwc)
    raise ContestInputError(path, f"images of shape {array.shape}: expected (N, H, W), "
                                  "(N, H, W, C) or (N, C, H, W)")


# ---- CIFAR-10 binary ----------------------------------------------------------------------------

def _cifar_files(path, split):
    if path.is_file():
        return [path], path.parent
    if split == "test":
        files = [path / "test_batch.bin"] if (path / "test_batch.bin").is_file() else []
    else:
        files = sorted(path.glob("data_batch_*.bin"),
                       key=lambda f: int(re.sub(r"\D", "", f.stem) or 0))
    if not files:
        wanted = "test_batch.bin" if split == "test" else "data_batch_*.bin"
        raise ContestInputError(path, f"no CIFAR-10 {wanted} in this directory")
    return files, path


def read_cifar_batch(path):
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of one CIFAR-10 binary batch file."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or data.size % CIFAR_RECORD:
        raise ContestInputError(path, f"{data.size} bytes is not a whole number of CIFAR-10 "
                                      f"records of {CIFAR_RECORD} bytes")
    records = data.reshape(-1, CIFAR_RECORD)
    planes = records[:, 1:].reshape(-1, 3, 32, 32)
    return np.ascontiguousarray(planes.transpose(0, 2, 3, 1)), records[:, 0].astype(np.int64)


def read_cifar_names(directory):
    """Class names from batches.meta.txt (one per line), or None when absent."""
    path = Path(directory) / CIFAR_META
    if not path.is_file():
        return None
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ContestInputError(path, f"unreadable class names ({exc.__class__.__name__})") \
            from None
    return tuple(name for name in names if name) or None


def _load_cifar(path, split):
    files, directory = _cifar_files(path, split)
    parts = [read_cifar_batch(f) for f in files]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return LabelledData(images, labels, read_cifar_names(directory), "cifar10", path)


def _load_cifar_python(path, split):
    from contest.data.cifar_pickle import python_batch_files, read_python_batch, read_python_names

    parts = [read_python_batch(f) for f in python_batch_files(path, split)]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return LabelledData(images, labels, read_python_names(path), "cifar10py", path)


# ---- checks common to every format --------------------------------------------------------------

def check_labelled(data, training=True):
    """`data` with checked pixel values and integer labels 0..classes-1 (of at least two classes
    for training data)."""
    data.images = check_values(data.images, data.source)
    data.labels = check_labels(data.labels, data.source, data.class_names, training)
    return data


def check_labels(labels, source, class_names=None, training=True, classes=None):
    """Integer labels (N,) int64 >= 0, below len(class_names) or `classes` when given; integral
    floats are accepted (a CSV's label column)."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and \
            np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "ui":
        raise ContestInputError(source, f"labels must be integers, found dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ContestInputError(source, f"wrong dimensions {labels.shape}: expected labels of "
                                        "shape (N,)")
    if len(labels) == 0:
        raise ContestInputError(source, "empty: the file contains no labels")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ContestInputError(source, f"labels must be >= 0; found "
                                        f"{labels.min()}..{labels.max()}")
    if class_names is not None and labels.max() >= len(class_names):
        raise ContestInputError(source, f"label {labels.max()} but only {len(class_names)} "
                                        "class names")
    if classes is not None and labels.max() >= classes:
        raise ContestInputError(source, f"labels must lie in 0..{classes - 1}; "
                                        f"found {labels.min()}..{labels.max()}")
    present = np.unique(labels)
    if training and len(present) < 2:
        raise ContestInputError(source, f"one class only (every label is {present[0]}): "
                                        "training needs at least two")
    return labels


def read_labelled_csv(path, label_column="label"):
    """(images (N, S, S), labels) of a Kaggle train.csv, read by the one CSV reader of
    contest.data.decode (floats when the text has floats); values checked by the caller."""
    import math

    from contest.data.decode import open_input
    from contest.data.decode_payload import Limits, Payload
    from contest.data.decode_text import read_csv_table

    with open_input(path) as handle:
        pixels, labels, count = read_csv_table(Payload(handle, path), Limits(),
                                               label_column or "label")
    side = math.isqrt(count)
    if side * side != count:
        raise ContestInputError(path, f"{count} pixel columns is not a square image "
                                      "(784 = 28x28, 1024 = 32x32, ...)")
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ContestInputError(path, f"labels in column {label_column!r} must be integers")
    return pixels.reshape(-1, side, side), labels


def check_test_matches(test, spec):
    """Refuse a test set whose images or classes do not fit the training data's spec."""
    test_spec = test.spec()
    if test_spec.image_shape != spec.image_shape:
        raise ContestInputError(test.source, f"test images are {test_spec.shape_text()}, the "
                                             f"training images {spec.shape_text()}")
    if test.class_names is not None and test.class_names != spec.class_names:
        test.labels = _renumbered(test, spec)
    if test.labels.max() >= spec.classes:
        raise ContestInputError(test.source, f"test label {test.labels.max()} but the training "
                                             f"data has {spec.classes} classes")
    return test


def _renumbered(test, spec):
    """Test labels numbered by the training classes' names (a test folder may lack a class)."""
    index = {name: k for k, name in enumerate(spec.class_names)}
    unknown = [name for name in test.class_names if name not in index]
    if unknown:
        raise ContestInputError(test.source, f"test class {unknown[0]!r} is not one of the "
                                             f"training classes ({', '.join(spec.class_names)})")
    mapping = np.array([index[name] for name in test.class_names], dtype=np.int64)
    return mapping[test.labels]
