"""Names of the files a member leaves in the model directory: the finished model and the
per-epoch checkpoint that training resumes from."""
from pathlib import Path

MEMBER_FILE = "member-{}.npz"
CHECKPOINT_FILE = "member-{}.ckpt.npz"


def member_path(out_dir, index):
    return Path(out_dir) / MEMBER_FILE.format(index)


def checkpoint_path(out_dir, index):
    return Path(out_dir) / CHECKPOINT_FILE.format(index)
