"""Request bodies -> checked pixels, and predictions -> response bodies, for `POST /predict`.

The body's format is decided by its Content-Type (an .npy body may also come as
application/octet-stream, recognised by its magic bytes); every parser is the shared one of
`contest.data.images`, so the service checks exactly what the CLI and the Python API check.
"""
import json

import numpy as np

from contest.data import images
from contest.errors import ContestInputError

SOURCE = "request body"
NPY_MAGIC = b"\x93NUMPY"
FORMATS = {
    "application/x-npy": "npy", "application/npy": "npy", "application/octet-stream": "npy",
    "text/csv": "csv", "image/png": "png", "application/json": "json",
}
ACCEPTED = "application/x-npy, text/csv, image/png or application/json"
BYTES_PER_PIXEL = 16  # generous for JSON ("0.12345678901, "); binding for the body size limit


class RequestProblem(Exception):
    """A bad request: HTTP status and a one-line message naming the problem."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def body_format(content_type):
    """The body format named by a Content-Type header; 415 for any other."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in FORMATS:
        shown = media or "(none)"
        raise RequestProblem(415, f"unknown body format: Content-Type {shown!r}; "
                                  f"send {ACCEPTED}")
    return FORMATS[media]


def body_limit(max_batch, shape):
    """Largest accepted body in bytes: `max_batch` images in the widest format, plus headers."""
    return max_batch * int(np.prod(shape)) * BYTES_PER_PIXEL + (1 << 16)


def parse_body(data, fmt, shape):
    """Checked (N, C, H, W) uint8/float32 pixels from the body `data` (bytes) in format `fmt`."""
    if not data:
        raise RequestProblem(400, "empty body: send images")
    try:
        if fmt == "npy":
            if not data.startswith(NPY_MAGIC):
                raise ContestInputError(SOURCE, "not a valid .npy file (no NUMPY magic bytes)")
            return images.parse_npy(data, SOURCE, shape)
        if fmt == "png":
            return images.decode_png(data, SOURCE, shape)
        text = _text(data)
        if fmt == "csv":
            return images.parse_csv(text, SOURCE, shape)
        return images.parse_json(_json(text), SOURCE, shape)
    except ContestInputError as exc:
        raise RequestProblem(400, str(exc)) from None


def _text(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestProblem(400, f"{SOURCE}: not UTF-8 text") from None


def _json(text):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RequestProblem(400, f"{SOURCE}: not valid JSON ({exc})") from None


def check_batch(pixels, max_batch):
    if len(pixels) > max_batch:
        raise RequestProblem(413, f"{SOURCE}: {len(pixels)} images, over the limit of "
                                  f"{max_batch} per request (--max-batch)")
    return pixels


def prediction_json(mean, members, names, preprocessed=None):
    """The JSON answer: labels, probabilities, every member's vote and confidence, and which
    images the members disagree on. mean (N, K), members (M, N, K)."""
    mean, members = mean.astype(np.float64), members.astype(np.float64)  # rounds to short text
    votes = members.argmax(axis=2)
    confidence = members.max(axis=2)   # the probability of each member's vote
    answer = {
        "count": int(mean.shape[0]),
        "labels": mean.argmax(axis=1).tolist(),
        "confidence": np.round(mean.max(axis=1), 6).tolist(),
        "probabilities": np.round(mean, 6).tolist(),
        "members": [{"member": m, "file": names[m], "labels": votes[m].tolist(),
                     "confidence": np.round(confidence[m], 6).tolist()}
                    for m in range(len(members))],
        "disagree": (votes != votes[:1]).any(axis=0).tolist(),
    }
    if preprocessed is not None:
        answer["images"] = preprocessed.tolist()
    return answer


def as_uint8_images(pixels):
    """(N, H, W) uint8 pixels (0..255) of checked (N, C, H, W) pixels, for showing them."""
    grey = pixels.mean(axis=1) if pixels.shape[1] != 1 else pixels[:, 0]
    if grey.dtype != np.uint8:
        grey = np.round(np.asarray(grey, dtype=np.float32) * 255)
    return grey.astype(np.uint8)
