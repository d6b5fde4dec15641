"""Request bodies -> checked images, and predictions -> response bodies, for `POST /predict`.

The body's form is decided by its Content-Type (application/octet-stream: recognised by its first
bytes) and read by contest.data.decode, the decoder of the command line and the Python API, so the
service refuses what they refuse, in the same words ("request body: " instead of a file name).
"""
import numpy as np

from contest.data import decode
from contest.errors import ContestInputError, ContestInputTooLarge

SOURCE = "request body"
BYTES_PER_PIXEL = 16  # generous for JSON ("0.12345678901, "); binding for the body size limit


class RequestProblem(Exception):
    """A bad request: HTTP status, a one-line message naming the problem, extra headers."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def body_format(content_type, head=b""):
    """The decode form named by a Content-Type header (and the body's first bytes); 415 for
    any other."""
    form = decode.form_of_media(content_type, head)
    if form is None:
        media = (content_type or "").split(";")[0].strip().lower()
        raise RequestProblem(415, f"unknown body format: Content-Type {media or '(none)'!r}; "
                                  f"send {decode.media_text()}")
    return form


def body_limit(max_batch, pixels):
    """Largest accepted body in bytes: `max_batch` images in the widest form, plus headers."""
    return max_batch * pixels * BYTES_PER_PIXEL + (1 << 16)


def parse_body(data, form, spec, max_batch):
    """Checked images (contest's layout) of the body `data` (bytes) in the decode `form`."""
    if not data:
        raise RequestProblem(400, "empty body: send images")
    limits = decode.Limits(max_bytes=max_batch * spec.pixels * 8 + (1 << 16),
                           max_images=max_batch)
    try:
        return decode.decode(data, form, spec, SOURCE, limits)
    except ContestInputError as exc:
        raise RequestProblem(413 if isinstance(exc, ContestInputTooLarge) else 400,
                             str(exc)) from None


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
    """(N, H, W) uint8 pixels (0..255) of checked images in contest's layout, for showing them."""
    grey = pixels.mean(axis=3) if pixels.ndim == 4 else pixels
    if grey.dtype != np.uint8:
        grey = np.round(np.asarray(grey, dtype=np.float32) * 255)
    return grey.astype(np.uint8)
