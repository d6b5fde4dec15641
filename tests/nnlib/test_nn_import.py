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


STATE_PROBE = r"""
import json, os, sys, threading

def umask():   # the probe may set it to read it; only nnlib may not
    value = os.umask(0)
    os.umask(value)
    return value

def os_threads():   # the kernel's count where there is /proc, else Python's
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("Threads:"))
    except OSError:
        return threading.active_count()

hooks = []
real_register = os.register_at_fork


def spy(**hook):   # records who registers: stdlib modules imported on the way may, nnlib not
    hooks.append(sys._getframe(1).f_globals.get("__name__"))
    real_register(**hook)

os.register_at_fork = spy
import numpy                                     # its BLAS threads are not nnlib's doing
os.umask(0o027)                                  # an unusual umask that import must keep
before = (umask(), os_threads(), threading.active_count())
import nnlib
after = (umask(), os_threads(), threading.active_count())
print(json.dumps({"before": before, "after": after, "hooks": hooks}))
"""


def _run(probe):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120, check=True)
    return json.loads(out.stdout)


def test_import_changes_no_process_state():
    """Same umask, same OS and Python thread counts, and no fork hook registered by nnlib."""
    info = _run(STATE_PROBE)
    assert info["before"][0] == 0o027
    assert info["after"] == info["before"]
    assert not [name for name in info["hooks"] if name.split(".")[0] == "nnlib"], info["hooks"]


MALLOC_PROBE = r"""
import ctypes, json
import numpy as np
import nnlib as nn

calls = []
real = ctypes.CDLL
# loading the BLAS (to hold it at one thread in a pass) is not malloc's business: count the rest
ctypes.CDLL = lambda *a, **k: (None if "openblas" in str(a[0]) else calls.append(a),
                               real(*a, **k))[1]
rng = np.random.default_rng(0)
model = nn.Sequential([nn.Flatten(), nn.Dense(16, 3, rng=rng)])
x = rng.standard_normal((20, 1, 4, 4)).astype(np.float32)
y = rng.integers(0, 3, 20)
nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters()), x, y, epochs=1,
       batch_size=8, rng=rng)
model.predict_proba(x)
during = len(calls)
nn.retain_freed_memory()
print(json.dumps({"during": during, "after": len(calls)}))
"""


def test_fit_and_predict_leave_malloc_alone_until_the_application_asks():
    info = _run(MALLOC_PROBE)
    assert info["during"] == 0        # neither fit nor predict_proba touched libc
    assert info["after"] == 1         # the documented call does
