"""Every file name of a model directory (train-ensemble --out, adapt --out), in one place:

    ensemble.json          MANIFEST: the finished ensemble (settings, data checksums, members with
                           sha256, accuracies, times)
    run.json               RUN_FILE: the run's identity, written before training; a rerun of the
                           same command must match it
    member-K.npz           MEMBER_FILE: member K, an nnlib model file with its metadata
    member-K.ckpt.npz      CHECKPOINT_FILE: member K's last epoch while it trains (resumable)
    member-K.best.npz      BEST_FILE: member K's best epoch so far while it trains with
                           --restore-best
    member-K-curves.png    CURVES_FILE: member K's learning curves
    .lock, .owner          LOCK_FILE (one run at a time), OWNER_FILE (the pid holding it)
    .progress/             PROGRESS_DIR: the members' progress reports while they train
    .contest-train-*/      SCRATCH_PREFIX: arrays shared with the worker processes of a run
    adapt-state.json       ADAPT_STATE_FILE: an adapt run's identity and finished stages
    stages/                ADAPT_STAGES_DIR: the members of each finished adapt stage
"""
import re
from pathlib import Path

MANIFEST = "ensemble.json"
RUN_FILE = "run.json"
MEMBER_FILE = "member-{}.npz"
CHECKPOINT_FILE = "member-{}.ckpt.npz"
BEST_FILE = "member-{}.best.npz"
CURVES_FILE = "member-{}-curves.png"
LOCK_FILE = ".lock"
OWNER_FILE = ".owner"
PROGRESS_DIR = ".progress"
SCRATCH_PREFIX = ".contest-train-"
ADAPT_STATE_FILE = "adapt-state.json"
ADAPT_STAGES_DIR = "stages"
MODEL_MARKERS = (MANIFEST, RUN_FILE)   # a directory holding one is a model directory
# the names train-ensemble writes at the top of --out (member K for any K)
TOOL_NAMES = re.compile("|".join(re.escape(name).replace(r"\{\}", r"\d+") for name in (
    MANIFEST, RUN_FILE, MEMBER_FILE, CHECKPOINT_FILE, BEST_FILE, CURVES_FILE, LOCK_FILE,
    OWNER_FILE, PROGRESS_DIR)))


def member_path(out_dir, index):
    return Path(out_dir) / MEMBER_FILE.format(index)


def checkpoint_path(out_dir, index):
    return Path(out_dir) / CHECKPOINT_FILE.format(index)


def best_path(out_dir, index):
    return Path(out_dir) / BEST_FILE.format(index)
