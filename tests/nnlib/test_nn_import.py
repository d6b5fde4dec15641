"""`import nnlib` pulls in numpy only (no scipy, joblib, click, matplotlib, ...) and is quick."""
import json
import os
import pathlib
import subprocess
import sys

import nnlib

ROOT = str(pathlib.Path(nnlib.__file__).resolve().parent.parent)

PROBE = r"""
import json, sys, time
baseline = set(sys.modules)
t = time.perf_counter()
import nnlib
elapsed = time.perf_counter() - t
new = sorted({m.split(".")[0] for m in set(sys.modules) - baseline})
print(json.dumps({"new": new, "elapsed": elapsed, "file": nnlib.__file__}))
"""


def _probe():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60, check=True)
    assert out.stderr == "", out.stderr       # no warnings or prints at import time
    return json.loads(out.stdout)


def test_import_pulls_in_numpy_only():
    info = _probe()
    assert pathlib.Path(info["file"]).resolve().parent == pathlib.Path(nnlib.__file__).resolve().parent
    new = set(info["new"])
    for forbidden in ("scipy", "joblib", "click", "matplotlib", "tqdm", "threadpoolctl", "torch",
                      "pandas", "augment", "contest"):
        assert forbidden not in new, f"import nnlib imports {forbidden}"
    third_party = new - set(sys.stdlib_module_names) - {"nnlib", "numpy"}
    assert not third_party, f"import nnlib pulls in non-stdlib modules {sorted(third_party)}"
    assert "numpy" in new
