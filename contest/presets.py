"""Training presets: everything that decides how one ensemble member is trained.

Values are chosen on a validation split carved from the training set, never on the test set.
"""
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    arch: str
    epochs: int
    batch_size: int = 128
    optimizer: str = "adam"          # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "none"           # none | cosine | onecycle | step
    label_smoothing: float = 0.0
    augment: dict = field(default_factory=dict)   # keyword arguments of augment.Augmenter; {} = none
    validation_size: int = 5000

    def to_dict(self):
        return asdict(self)


PRESETS = {
    "fast": Preset("fast", arch="a", epochs=3),
    "default": Preset("default", arch="b", epochs=8, schedule="onecycle", lr=3e-3,
                      augment={"rotation": 10.0, "shift": 2.0, "zoom": 0.1}),
    "large": Preset("large", arch="b", epochs=30, schedule="onecycle", lr=3e-3,
                    augment={"rotation": 12.0, "shift": 2.5, "zoom": 0.12, "shear": 0.15}),
}
