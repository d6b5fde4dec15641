"""A folder of images in one sub-folder per class (torchvision ImageFolder's convention).

    train/cat/001.png, train/cat/002.png, train/dog/001.jpg, ...

Class names are the sub-folder names, sorted; label K is the K-th name. Images are read with
Pillow: grey when every image is grey, else colour (grey images then repeated over R, G, B);
all must have one size. Hidden files and folders (a leading dot) are skipped.
"""
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def class_folders(root):
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise ContestInputError(root, f"{len(folders)} class folder(s): an image folder needs one "
                                      "sub-folder per class, at least two")
    return folders


def image_files(folder):
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ContestInputError(folder, "class folder with no images "
                                        f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def read_image(path):
    """One image file as uint8 (H, W) (grey) or (H, W, 3) (colour)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            grey = image.mode in GREY_MODES
            if image.mode in ("I", "I;16", "F"):
                array = np.asarray(image, dtype=np.float64)
                return np.clip(array / max(array.max(), 1.0) * 255, 0, 255).astype(np.uint8)
            return np.asarray(image.convert("L" if grey else "RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ContestInputError(path, f"unreadable image ({exc.__class__.__name__}: "
                                      f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def read_image_folder(root):
    """(images uint8 (N, H, W) or (N, H, W, 3), labels int64 (N,), class names)."""
    root = Path(root)
    folders = class_folders(root)
    arrays, labels, size, first = [], [], None, None
    for label, folder in enumerate(folders):
        for path in image_files(folder):
            array = read_image(path)
            if size is None:
                size, first = array.shape[:2], path
            elif array.shape[:2] != size:
                raise ContestInputError(path, f"image of {array.shape[1]}x{array.shape[0]} "
                                              f"pixels, but {first} is {size[1]}x{size[0]}: "
                                              "all images must have one size")
            arrays.append(array)
            labels.append(label)
    if any(a.ndim == 3 for a in arrays):
        arrays = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    return np.stack(arrays), np.asarray(labels, dtype=np.int64), tuple(f.name for f in folders)
