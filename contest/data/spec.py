"""The input spec of an ensemble: image channels, height and width, and the classes it tells apart.

The spec is read from the training data, recorded in `ensemble.json` under "input", and used by
every part that used to assume 28x28 grey digits in 10 classes: the architectures are built for it,
prediction checks its inputs against it, and printed class names come from it. A manifest without
an "input" entry (written before specs existed) is an MNIST ensemble: `MNIST`.

Image arrays follow one layout throughout contest: (N, H, W) for grey images and (N, H, W, C) for
colour ones (the layout of image files), uint8 0-255 or float32 0-1; the model sees (N, C, H, W).
"""
from dataclasses import dataclass
from pathlib import Path

from contest.errors import ContestError, ContestInputError

MIN_SIZE = 8            # arch d pools three times: 8x8 is the smallest image it can take
MAX_SIZE = 1024
MAX_CHANNELS = 4
MAX_CLASSES = 1000

FASHION_MNIST_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                       "Sneaker", "Bag", "Ankle boot")
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck")
KNOWN_CLASS_NAMES = {"fashion-mnist": FASHION_MNIST_NAMES, "cifar-10": CIFAR10_NAMES}


def digit_names(classes):
    return tuple(str(k) for k in range(classes))


@dataclass(frozen=True)
class InputSpec:
    """What an ensemble takes (channels x height x width images) and gives (`classes` scores)."""
    channels: int
    height: int
    width: int
    classes: int
    class_names: tuple = None   # None: "0", "1", ...

    def __post_init__(self):
        for name in ("channels", "height", "width", "classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer (received: {value!r})")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise ValueError(f"channels must be 1..{MAX_CHANNELS} (received: {self.channels})")
        if not (MIN_SIZE <= self.height <= MAX_SIZE and MIN_SIZE <= self.width <= MAX_SIZE):
            raise ValueError(f"images must be {MIN_SIZE}..{MAX_SIZE} pixels high and wide "
                             f"(received: {self.height}x{self.width})")
        if not 2 <= self.classes <= MAX_CLASSES:
            raise ValueError(f"classes must be 2..{MAX_CLASSES} (received: {self.classes})")
        names = digit_names(self.classes) if self.class_names is None else \
            tuple(str(name) for name in self.class_names)
        if len(names) != self.classes:
            raise ValueError(f"{len(names)} class names for {self.classes} classes")
        if any(not name.strip() or "\n" in name for name in names) or len(set(names)) != len(names):
            raise ValueError("class names must be distinct, non-empty single lines")
        object.__setattr__(self, "class_names", names)

    @property
    def image_shape(self):
        """Shape of one image in contest's layout: (H, W) grey, (H, W, C) colour."""
        return (self.height, self.width) if self.channels == 1 else \
            (self.height, self.width, self.channels)

    @property
    def model_shape(self):
        """Shape of one model input: (C, H, W)."""
        return (self.channels, self.height, self.width)

    @property
    def pixels(self):
        return self.channels * self.height * self.width

    @property
    def named(self):
        """True when the classes have names other than their numbers."""
        return self.class_names != digit_names(self.classes)

    def shape_text(self):
        """'28x28' (grey) or '32x32x3' (colour)."""
        text = f"{self.height}x{self.width}"
        return text if self.channels == 1 else f"{text}x{self.channels}"

    def label(self, k):
        """How class `k` is printed: '7' for numbered classes, '7 Sneaker' for named ones."""
        k = int(k)
        return f"{k} {self.class_names[k]}" if self.named else str(k)

    def describe(self):
        kind = "grey" if self.channels == 1 else ("colour" if self.channels == 3 else
                                                  f"{self.channels}-channel")
        names = ", ".join(self.class_names[:10]) + (", ..." if self.classes > 10 else "")
        return f"{self.shape_text()} {kind} images, {self.classes} classes ({names})"

    def to_dict(self):
        return {"channels": self.channels, "height": self.height, "width": self.width,
                "classes": self.classes, "class_names": list(self.class_names)}

    @classmethod
    def from_dict(cls, data, path="ensemble.json"):
        """The spec of a manifest's "input" entry; a malformed one is a one-line error."""
        keys = ("channels", "height", "width", "classes")
        if not isinstance(data, dict) or any(key not in data for key in keys):
            raise ContestInputError(path, f"'input' must hold {', '.join(keys)}")
        names = data.get("class_names")
        try:
            return cls(*(data[key] for key in keys),
                       class_names=None if names is None else tuple(names))
        except (TypeError, ValueError) as exc:
            raise ContestInputError(path, f"bad 'input' entry: {exc}") from None

    def with_class_names(self, names):
        return InputSpec(self.channels, self.height, self.width, self.classes, tuple(names))


MNIST = InputSpec(1, 28, 28, 10)


def spec_of_manifest(manifest, path="ensemble.json"):
    """The input spec recorded in a manifest; MNIST's for manifests from before specs."""
    if "input" not in manifest:
        return MNIST
    return InputSpec.from_dict(manifest["input"], path)


def spec_of_images(images, classes, class_names=None, source="data"):
    """The spec of images in contest's layout ((N, H, W) or (N, H, W, C)) and `classes` classes."""
    shape = images.shape[1:]
    channels = 1 if len(shape) == 2 else shape[2]
    try:
        return InputSpec(int(channels), int(shape[0]), int(shape[1]), int(classes),
                         None if class_names is None else tuple(class_names))
    except ValueError as exc:
        raise ContestInputError(source, str(exc)) from None


def parse_class_names(value, option="--class-names"):
    """Class names from --class-names: a known data set's name, a .txt file with one name per
    line, or names separated by commas."""
    if value is None:
        return None
    key = value.strip().lower()
    if key in KNOWN_CLASS_NAMES:
        return KNOWN_CLASS_NAMES[key]
    if key.endswith(".txt"):
        path = Path(value)
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ContestInputError(path, f"cannot read class names ({exc.__class__.__name__})") \
                from None
        names = [line.strip() for line in lines if line.strip()]
    else:
        names = [name.strip() for name in value.split(",")]
    if len(names) < 2 or any(not name for name in names):
        raise ContestError(f"{option}: expected at least two non-empty names, separated by "
                           f"commas, or a .txt file, or one of {', '.join(KNOWN_CLASS_NAMES)} "
                           f"(received: {value!r})")
    return tuple(names)


def check_class_names(spec, names, source="--class-names"):
    """`spec` with `names` (given by the user) in place of its own, checked against its classes."""
    if names is None:
        return spec
    if len(names) < spec.classes:
        raise ContestError(f"{source}: {len(names)} names for {spec.classes} classes in the data")
    try:
        return InputSpec(spec.channels, spec.height, spec.width, len(names), tuple(names))
    except ValueError as exc:
        raise ContestError(f"{source}: {exc}") from None
