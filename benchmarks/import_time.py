"""Wall time of `python -c "import nnlib"` in a fresh interpreter (best and median of 7), and the
third-party modules it pulls in. Issue 2 target: under 0.3 s, numpy only.

    python benchmarks/import_time.py
"""
import json
import os
import subprocess
import sys

from benchargs import Parser
from machine import machine_facts

PROBE = ("import sys, time; before = set(sys.modules); t = time.perf_counter(); import nnlib; "
         "e = time.perf_counter() - t; import json; "
         "print(json.dumps([e, sorted({m.split('.')[0] for m in set(sys.modules) - before})]))")


def main():
    Parser(__doc__).parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    times, mods = [], None
    for _ in range(7):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             cwd=root, check=True)
        elapsed, mods = json.loads(out.stdout)
        times.append(elapsed)
    third = [m for m in mods if m not in sys.stdlib_module_names and not m.startswith("_")]
    print(machine_facts())
    print(f"import nnlib: best {min(times):.3f} s, median {sorted(times)[3]:.3f} s; "
          f"non-stdlib modules loaded: {third}")


if __name__ == "__main__":
    main()
