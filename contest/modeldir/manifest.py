"""Strict reading of `ensemble.json` and of the member files it lists.

The manifest is parsed with a nesting limit and validated field by field with types, so a hand
edit gives one line naming the field (`arch: 5`, `file: null`, a member listed twice) instead of
a traceback or a silently different prediction. The fields that change predictions but are not
covered by the members' sha256 -- normalisation, the member list, `data.dir` -- are cross-checked
against each member's own metadata, which the sha256 does cover. Member weights must be finite.
"""
import re
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError

MAX_MANIFEST_BYTES = 16 * 2**20    # a 100-member manifest is ~40 kB
MAX_JSON_DEPTH = 32
_SHA256 = re.compile(r"[0-9a-f]{64}")


def load_json(path, max_bytes=MAX_MANIFEST_BYTES):
    """The JSON document at `path`, refusing huge or deeply nested files with one line."""
    from nnlib.serialization import loads_limited

    path = Path(path)
    if path.stat().st_size > max_bytes:
        raise ContestInputError(path, f"file larger than {max_bytes // 2**20} MiB refused")
    try:
        return loads_limited(path.read_text(encoding="utf-8"), MAX_JSON_DEPTH)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContestInputError(path, f"not valid JSON ({exc})") from None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_fields(manifest, path):
    """Refuse a manifest whose prediction-relevant fields have the wrong type or value."""
    from contest.data.preprocess import NORMALISATIONS
    from contest.train.architectures import member_arch

    def refuse(field, problem):
        raise ContestInputError(path, f"{field}: {problem}")
    arch = manifest["arch"]
    if not isinstance(arch, str):
        refuse("arch", f"expected an architecture name, got {arch!r}")
    try:
        member_arch(arch, 0)
    except ValueError as exc:
        refuse("arch", str(exc))
    normalisation = manifest["normalisation"]
    if not isinstance(normalisation, str) or normalisation not in NORMALISATIONS:
        refuse("normalisation", f"unknown normalisation {normalisation!r}")
    _check_data(manifest.get("data"), refuse)
    _check_members(manifest, refuse)


def _check_data(data, refuse):
    if data is None:
        return
    if not isinstance(data, dict):
        refuse("data", f"expected an object, got {type(data).__name__}")
    if data.get("dir") is not None and not isinstance(data["dir"], str):
        refuse("data.dir", f"expected a directory name or null, got {data['dir']!r}")


def _check_members(manifest, refuse):
    members = manifest["members"]
    seen = {}
    for number, entry in enumerate(members):
        where = f"members[{number}]"
        if not isinstance(entry, dict):
            refuse(where, "expected an object with 'file' and 'sha256'")
        file, sha = entry.get("file"), entry.get("sha256")
        if not isinstance(file, str) or not file.endswith(".npz") or Path(file).name != file \
                or file.startswith("."):
            refuse(f"{where}.file", f"expected a member file name like member-0.npz, got {file!r}")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            refuse(f"{where}.sha256", f"expected 64 lowercase hex digits, got {sha!r}")
        if "index" in entry and (not _is_int(entry["index"]) or entry["index"] < 0):
            refuse(f"{where}.index", f"expected a non-negative integer, got {entry['index']!r}")
        for key in ("file", "sha256", "index"):
            if key in entry and (key, entry[key]) in seen:
                refuse(f"{where}.{key}", f"{entry[key]!r} is listed twice (also in "
                                         f"members[{seen[key, entry[key]]}])")
            seen[key, entry.get(key)] = number
    n = manifest.get("n")
    if n is not None and (not _is_int(n) or n != len(members)):
        refuse("n", f"says {n!r} members, the list holds {len(members)}")


def check_member(manifest, entry, meta, path):
    """Cross-check a loaded member's own metadata (covered by its sha256) with the manifest."""
    expected = {"normalisation": manifest["normalisation"]}
    if "index" in entry:
        expected["index"] = entry["index"]
    data = manifest.get("data")
    run_data = (meta.get("run") or {}).get("data")
    if isinstance(data, dict) and isinstance(run_data, dict):
        if data.get("dir") != run_data.get("dir"):
            raise ContestInputError(path, f"trained on data.dir {run_data.get('dir')!r}, the "
                                          f"manifest says {data.get('dir')!r} (edited manifest?)")
    for key, value in expected.items():
        if key in meta and meta[key] != value:
            raise ContestInputError(path, f"member {key} is {meta[key]!r}, the manifest says "
                                          f"{value!r} (edited manifest?)")


def non_finite(named_arrays):
    """(name, count) of the first array holding NaN or infinite values, or None."""
    for name, array in named_arrays:
        array = np.asarray(array)
        if array.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(array)))
            if bad:
                return name, bad
    return None


def check_finite_model(model, path):
    """Refuse a member whose weights or buffers hold NaN or inf (diverged or edited)."""
    found = non_finite(model.state_dict().items())
    if found is not None:
        raise ContestInputError(path, f"{found[1]} NaN or infinite values in {found[0]}: a "
                                      "diverged or damaged member; retrain it")
