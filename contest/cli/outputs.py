"""The one output-path rule of every command that writes files, and writing them all or none.

`check_outputs` runs BEFORE any computation and refuses, with one line naming the path:
  - an output that is an input of the same command (same resolved path or same file: hard links),
    or lies inside the model directory the command reads, or in any directory holding an
    `ensemble.json` / `run.json` (a model directory: only train-ensemble writes there);
  - two outputs of one command that are the same file;
  - a symbolic link, a directory or a special file (FIFO, device, socket) in an output's place:
    the tool never writes through a link or replaces a device node with a plain file;
  - a suffix the command cannot write, or a parent directory that cannot be written.
`write_all` then writes every output to a temporary file beside its target and, once all of them
are complete, renames them into place: a failure (disk full, permissions) leaves no new output
and no temporary file, and is reported as one line.
"""
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contest.errors import ContestError, ContestInputError
from contest.modeldir.files import MODEL_MARKERS


@dataclass(frozen=True)
class Output:
    """One file a command will write: the option that named it, its path, allowed suffixes."""
    option: str
    path: Path
    suffixes: tuple = ()


def output(option, path, suffixes=()):
    """An Output, or None-path Output for an option that was not given (ignored by checks)."""
    return Output(option, None if path is None else Path(path), tuple(suffixes))


def check_outputs(outputs, inputs=(), model_dirs=()):
    """Refuse unusable `outputs` (Output list) before the work starts; see the module docstring.

    inputs: files the command reads; model_dirs: directories it reads models from.
    """
    outputs = [o for o in outputs if o.path is not None]
    inputs = [Path(p) for p in inputs if p is not None]
    for index, out in enumerate(outputs):
        _check_place(out)
        _check_not_input(out, inputs)
        _check_not_model_dir(out, [Path(d) for d in model_dirs if d is not None])
        for other in outputs[:index]:
            if _same(out.path, other.path):
                raise ContestInputError(out.path, f"{out.option} is the same file as "
                                                  f"{other.option}; give two different paths")
    return [o.path for o in outputs]


def _refuse(out, problem):
    raise ContestInputError(out.path, f"{out.option}: {problem}")


def _check_place(out):
    try:
        info = out.path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # the parent check says why
        info = None
    except OSError as exc:
        _refuse(out, f"cannot inspect the output path ({exc.strerror})")
    if info is not None and stat.S_ISLNK(info.st_mode):
        _refuse(out, "is a symbolic link; refusing to write through it (give the real path)")
    if info is not None and stat.S_ISDIR(info.st_mode):
        _refuse(out, "output path is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        _refuse(out, "is a special file (FIFO, device or socket), not a regular file")
    if out.suffixes and out.path.suffix.lower() not in out.suffixes:
        _refuse(out, f"output must end with {' or '.join(out.suffixes)}")
    _check_parent_writable(out)


def _check_parent_writable(out):
    """The nearest existing ancestor must be a writable directory (missing ones get created)."""
    parent = out.path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            _refuse(out, f"parent {parent} is a dangling symbolic link")
        parent = parent.parent
    if not parent.is_dir():
        _refuse(out, f"parent {parent} is not a directory")
    try:  # a real probe: os.access says yes to root even on a read-only file system
        fd, probe = tempfile.mkstemp(prefix=".contest-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        _refuse(out, f"directory {parent} is not writable ({exc.strerror})")


def _same(a, b):
    """Same resolved path, or the same existing file under two names (hard or soft links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_not_input(out, inputs):
    for path in inputs:
        if _same(out.path, path):
            _refuse(out, f"is an input of this command ({path}); writing it would destroy it")


def _inside(path, directory):
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except OSError:
        return False


def _check_not_model_dir(out, model_dirs):
    for directory in model_dirs:
        if _inside(out.path, directory):
            _refuse(out, f"lies inside the model directory {directory}; write results elsewhere")
    parent = out.path.absolute().parent
    if any((parent / marker).exists() for marker in MODEL_MARKERS):
        _refuse(out, f"lies inside a model directory ({parent} holds a trained ensemble); "
                     "write results elsewhere")


def _temp_beside(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_all(writes):
    """Write every (path, write) pair -- write(temporary_path) fills the temporary file -- then
    rename them all into place; on any failure nothing new is left behind."""
    staged = []
    try:
        for path, write in writes:
            path = Path(path)
            staged.append((_temp_beside(path), path))
            write(staged[-1][0])
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as exc:
        failed = staged[-1][1] if staged else "output"
        raise ContestError(f"{failed}: cannot write ({exc.strerror or exc}); "
                           "no output was written") from None
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()
