"""Training presets: everything that decides how one ensemble member is trained, by name
(`--preset`). A preset is fixed; contest.train.recipes adapts the default one to the data it is
given (the digit recipe for digits, a general one for other images).

Values were chosen on a validation split carved from the training set (the last 5,000 training
images), never on the test set: `benchmarks/preset_trial.py` compared, at equal wall time, arch e
(2 conv blocks, 10 epochs: 99.50 % validation) with arch d (3 conv blocks, 7 epochs: 99.60 %).

`augment` holds keyword arguments of `augment.Augmenter` (geometry) plus an optional "pixel"
dict of `augment.pixel.PixelAugmenter` arguments (noise, salt-and-pepper, contrast, blur, stroke
width, stray lines): contest data is dirtier than MNIST's test set, and a model that never saw a
noisy digit answers one with a confident wrong class.

With the settings chosen, `default` and `large` members train on 59,000 images and keep only the
last 1,000 for the validation figure and learning curves (the last epoch is kept, so validation
picks nothing); `fast` keeps the 5,000-image split.
"""
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    arch: str
    epochs: int
    batch_size: int = 128
    optimizer: str = "adam"          # contest.train.options.OPTIMIZERS
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "none"           # none | cosine | onecycle | step
    label_smoothing: float = 0.0
    augment: dict = field(default_factory=dict)   # Augmenter kwargs (+ "pixel"); {} = none
    normalisation: str = "unit"      # contest.data.preprocess.NORMALISATIONS
    validation_size: int = 5000
    # the options of contest.train.options; their defaults keep the architectures' own choices,
    # and to_dict leaves them out then, so ensembles recorded before they existed still match
    momentum: float = None           # SGD/RMSProp momentum [None: 0.9 momentum/nesterov, else 0]
    beta1: float = None              # Adam/AdamW betas [None: 0.9, 0.999]
    beta2: float = None
    decay: float = None              # RMSProp's alpha, AdaDelta's rho [None: 0.99, 0.9]
    l1: float = 0.0
    dropout: float = None            # every Dropout's rate (one added before the last layer)
    init: str = None                 # nnlib initialiser of every weight layer
    init_std: float = None           # the "gaussian" initialiser's std
    activation: str = None           # relu | sigmoid | tanh instead of every ReLU
    restore_best: bool = False       # keep the epoch of best validation accuracy

    def to_dict(self):
        record = asdict(self)
        for name in OPTION_FIELDS:
            if record[name] == OPTION_DEFAULTS[name]:
                del record[name]
        return record


OPTION_FIELDS = ("momentum", "beta1", "beta2", "decay", "l1", "dropout", "init", "init_std",
                 "activation", "restore_best")
OPTION_DEFAULTS = {name: Preset.__dataclass_fields__[name].default for name in OPTION_FIELDS}


ROBUST_PIXEL = {"p_noise": 0.08, "noise_sigma": 0.3, "p_salt_pepper": 0.06,
                "salt_pepper_fraction": 0.1, "p_contrast": 0.08, "p_blur": 0.06, "blur_sigma": 1.1,
                "p_thick": 0.06, "p_thin": 0.06, "p_line": 0.06}
# large: twice the blurred share. The 45-epoch ensemble at 6 % made 47 blur mistakes against its
# mean member's 46.2, 29 of them shared by 5 or 6 members (README "Robustness"); one run, not tuned.
LARGE_PIXEL = {**ROBUST_PIXEL, "p_blur": 0.12}

# handwriting styles MNIST's American writers rarely used (augment.styles): a flag (and on half of
# them a foot) on 30 % of the 1s, a tail curled to the left on 30 % of the 9s
DIGIT_STYLES = {"p_flag": 0.3, "p_tail": 0.3}

PRESETS = {
    "fast": Preset("fast", arch="a", epochs=3),
    # peak rate: one member, 7 epochs, the last 5,000 training images (benchmarks/preset_trial.py
    # --normalisation standardise --lr LR --seed S, seeds 0 and 1): 3e-3 99.42 / 99.48 %,
    # 6e-3 99.52 / 99.50 % (restyled continental validation 99.28 / 99.34 and 99.32 / 99.42 %)
    # elastic distortion on 30 % of the images (docs/presets.md; benchmarks/preset_trial.py
    # --save and benchmarks/trial_vote.py, seeds 0 and 1 as a 2-member ensemble): validation
    # 99.56 -> 99.66 %, its elastic variant 97.12 -> 98.18 %, stray line 97.28 -> 96.96 %
    "default": Preset("default", arch="k", epochs=7, schedule="onecycle", lr=6e-3,
                      augment={"rotation": 15.0, "shift": 3.0, "zoom": 0.12, "shear": 0.15,
                               "elastic_alpha": 30.0, "p_elastic": 0.3,
                               "pixel": ROBUST_PIXEL, "style": DIGIT_STYLES},
                      normalisation="standardise", validation_size=1000),
    # validation accuracy of the ensemble (README "Presets and accuracy"): 10 members of 20 epochs
    # 99.68 %; 10 alternating arch d and c (--arch d+c) 99.66 %; 6 members of 30 epochs 99.70 %.
    # Longer training was the one lever validation favoured, so large trains 45 epochs (the
    # epochs of the public 15-CNN recipe); 6 x 45 epochs take 1 h 44 min on 2 cores. The styles:
    # with large's augmentation for 7 epochs (benchmarks/preset_trial.py --preset large), plain
    # validation 99.48 -> 99.46 %, validation restyled as continental digits 96.88 -> 99.28 %.
    "large": Preset("large", arch="d", epochs=45, schedule="onecycle", lr=3e-3,
                    augment={"rotation": 15.0, "shift": 3.0, "zoom": 0.12, "shear": 0.15,
                             "elastic_alpha": 30.0, "p_elastic": 0.3, "pixel": LARGE_PIXEL,
                             "style": DIGIT_STYLES},
                    normalisation="standardise", validation_size=1000),
    # what --init-from starts from by default: a tenth of default's peak rate, constant, few
    # epochs, light augmentation (arch and normalisation come from the --init-from ensemble)
    "finetune": Preset("finetune", arch="d", epochs=3, lr=3e-4,
                       augment={"rotation": 10.0, "shift": 2.0, "zoom": 0.1},
                       normalisation="standardise", validation_size=1000),
}
