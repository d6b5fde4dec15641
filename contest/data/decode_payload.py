"""What every reader of contest.data.decode works on: the input's bytes (in memory or an open
file, read once, never reopened) and the limits checked before anything large is allocated."""
import io
import os
from dataclasses import dataclass

from contest.errors import ContestInputError, ContestInputTooLarge

GIB = 2**30
MAX_PICTURE_PIXELS = 4096 * 4096   # larger pictures are refused from their header


@dataclass(frozen=True)
class Limits:
    """Bounds on one decoded input. `max_bytes`: the decoded array (from its header where the
    form has one, before it is allocated); `max_images`: images in it (None: any number);
    `max_picture_pixels`: width x height of a picture, read from its header."""
    max_bytes: int = 4 * GIB
    max_images: int = None
    max_picture_pixels: int = MAX_PICTURE_PIXELS

    def check_bytes(self, count, source, what):
        if count > self.max_bytes:
            raise ContestInputTooLarge(source, f"{what} of {_size_text(count)} refused: the "
                                              f"limit is {_size_text(self.max_bytes)}")

    def check_images(self, count, source):
        if self.max_images is not None and count > self.max_images:
            raise ContestInputTooLarge(source, f"{count} images, over the limit of "
                                              f"{self.max_images} per input")


def _size_text(count):
    if count >= GIB:
        return f"{count / GIB:.1f} GiB"
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count} bytes"


class Payload:
    """The bytes of one input: `data` is bytes-like or a binary file object positioned at the
    input's start. `size` is known before reading (len, or fstat of an open file)."""

    def __init__(self, data, source):
        self.source = source
        if isinstance(data, (bytes, bytearray, memoryview)):
            self.stream, self.size = io.BytesIO(data), len(data)
        else:
            self.stream, self.size = data, _remaining(data)

    def head(self, count):
        """The first `count` bytes, without moving past them."""
        start = self.stream.tell()
        head = self.stream.read(count)
        self.stream.seek(start)
        return head

    def read_all(self, limits, what="input"):
        """Every byte, refused first if more than `limits.max_bytes`."""
        limits.check_bytes(self.size, self.source, what)
        data = self.stream.read()
        if len(data) != self.size:
            raise ContestInputError(self.source, f"changed while being read ({len(data)} bytes, "
                                                 f"expected {self.size})")
        return data


def _remaining(handle):
    try:
        return os.fstat(handle.fileno()).st_size - handle.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        start = handle.tell()
        end = handle.seek(0, io.SEEK_END)
        handle.seek(start)
        return end - start
