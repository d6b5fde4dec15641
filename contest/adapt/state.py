"""What `contest adapt` writes besides the members: its settings, its resumable state and the
adapted ensemble's manifest entry saying what it was adapted to.

OUT/adapt-state.json holds the run's identity (source ensemble, images, settings) and the stages
finished so far (the BatchNorm stage, then the self-training rounds) with their reports; a rerun
with the same arguments goes on from there, one with other arguments is refused.
"""
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from contest.errors import ContestError, ContestInputError
from contest.fileio import read_json, sha256_file, write_json
from contest.modeldir.files import ADAPT_STAGES_DIR, ADAPT_STATE_FILE


@dataclass(frozen=True)
class AdaptSettings:
    """Everything `contest adapt` was asked to do."""
    models: str
    images: str
    out_dir: str
    rounds: int = 2
    epochs: int = 1
    lr_scale: float = 0.1          # self-training learning rate: the preset's times this
    precision: float = 0.995       # pseudo-label precision on validation the threshold must reach
    max_val_drop: float = 0.5      # points of validation accuracy a round may cost, else undone
    min_agreement: float = 0.5     # contest agreement / validation agreement needed to adapt
    min_spread: float = 0.5        # contest class spread / validation class spread needed
    seed: int = 0
    jobs: int = None
    data_dir: str = None
    batch_size: int = 1000

    def method(self):
        """The settings that decide the result (not where files are or how many workers)."""
        skip = {"models", "images", "out_dir", "jobs", "data_dir", "batch_size"}
        return {key: value for key, value in asdict(self).items() if key not in skip}

    def stage_method(self):
        """method() without the number of rounds: a finished run may go on for more rounds."""
        return {key: value for key, value in self.method().items() if key != "rounds"}


def check_settings(settings):
    """Refuse bad values and an output directory that is an input, before any work."""
    if not 0 < settings.precision <= 1:
        raise ContestError(f"--precision must be in (0, 1] (received: {settings.precision})")
    if settings.lr_scale <= 0:
        raise ContestError(f"--lr-scale must be > 0 (received: {settings.lr_scale})")
    if not 0 <= settings.min_agreement <= 1:
        raise ContestError(f"--min-agreement must be in [0, 1] (received: "
                           f"{settings.min_agreement})")
    if not 0 <= settings.min_spread <= 1:
        raise ContestError(f"--min-spread must be in [0, 1] (received: {settings.min_spread})")
    if settings.max_val_drop < 0:
        raise ContestError(f"--max-val-drop must be >= 0 (received: {settings.max_val_drop})")
    out = Path(settings.out_dir).resolve()
    if out == Path(settings.models).resolve():
        raise ContestInputError(settings.out_dir, "--out must differ from --models (the source "
                                                  "ensemble is never overwritten)")
    if out.exists() and not out.is_dir():
        raise ContestInputError(settings.out_dir, "--out exists and is not a directory")


def identity(settings, source_manifest_sha, images_sha):
    return {"source_manifest_sha256": source_manifest_sha, "images_sha256": images_sha,
            "method": settings.stage_method()}


def open_state(out_dir, ident):
    """The stages finished so far in out_dir (a new state when there is none); a directory of
    another adaptation, or holding other files, is refused."""
    out_dir = Path(out_dir)
    path = out_dir / ADAPT_STATE_FILE
    if path.is_file():
        state = read_json(path)
        if state.get("identity") != json.loads(json.dumps(ident)):
            raise ContestError(f"{out_dir}: holds an adaptation with other models, images or "
                               f"settings; use another --out or delete it")
        return state
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ContestInputError(out_dir, "--out is not empty and holds no adaptation to resume")
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {"identity": ident, "stages": []}
    write_json(path, state)
    return state


def save_state(out_dir, state):
    write_json(Path(out_dir) / ADAPT_STATE_FILE, state)


def stage_dir(out_dir, number):
    return Path(out_dir) / ADAPT_STAGES_DIR / str(number)


def other_images_warning(manifest, images_path):
    """One line when an adapted ensemble is given images other than those it adapted to."""
    adapted = manifest.get("adapted")
    if not adapted or images_path is None:
        return None
    if sha256_file(images_path) == adapted.get("images_sha256"):
        return None
    return (f"warning: this ensemble was adapted to other images ({adapted.get('images_file')}, "
            f"sha256 {str(adapted.get('images_sha256'))[:12]}...); {images_path} is not them")


def warn_other_images(manifest, images_path, stream=None):
    line = other_images_warning(manifest, images_path)
    if line:
        print(line, file=stream or sys.stderr, flush=True)
