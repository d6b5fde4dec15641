"""Helpers for the contest tests (imported by conftest.py and the test modules)."""
import gzip
import socket
import struct
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from contest.cli import main

TRAIN_ARGS = ["--n", "2", "--preset", "fast", "--epochs", "2", "--train-limit", "300",
              "--augment", '{"rotation": 5, "shift": 1}', "--seed", "3"]


def write_idx(path, array, compress=True):
    """Write `array` (uint8) as an IDX file, gzip-compressed when `compress`."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)


def write_mnist_slice(directory, train_count, test_count):
    """`directory` holding the first `train_count` MNIST training and `test_count` test images
    as IDX files (a --data-dir); returned."""
    from contest.data import datasets

    for kind, count in (("train", train_count), ("test", test_count)):
        images, labels = datasets.load_split(kind)
        image_stem, label_stem = datasets.FILES[kind]
        write_idx(directory / image_stem, images[:count])
        write_idx(directory / label_stem, labels[:count], compress=False)
    return directory


def invoke(args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)


def train(out_dir, data_dir, *extra, env=None):
    result = invoke(["train-ensemble", *TRAIN_ARGS, "--out", out_dir, "--data-dir", data_dir,
                     *extra], env=env)
    return result


def assert_refused(result, name, output_paths=()):
    """Exit status 2, one line naming `name`, no traceback, no output file written."""
    text = result.output.strip()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(text.splitlines()) == 1, text
    assert str(name) in text, text
    for path in output_paths:
        assert not path.exists(), f"{path} was written"


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid):
    """The child processes of `pid` (Linux /proc), in pid order."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return sorted(int(c) for c in path.read_text().split()) if path.exists() else []


def alive(pid):
    """Whether process `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
