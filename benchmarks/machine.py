"""Machine facts every benchmark prints: cores, CPU, BLAS library and kernel, threads, versions,
and how long a thread takes to pick up work (the cost nnlib's intra-op threads pay per layer)."""
import os
import platform
import sys
import time

import numpy as np


def cpu_model():
    """'model name (family F)' from /proc/cpuinfo, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        return f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')})"
    except OSError:
        return platform.processor() or platform.machine()


def handoff_microseconds(rounds=2000):
    """Median time from handing a task to an idle pool thread until it starts running: about
    5-20 us on a laptop; far more on a virtual machine whose idle cores halt at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(time.perf_counter).result()
        waits = []
        for _ in range(rounds):
            t = time.perf_counter()
            waits.append(pool.submit(time.perf_counter).result() - t)
            time.sleep(0.0002)   # let the worker go idle, as between two layers
    return sorted(waits)[rounds // 2] * 1e6


def _halt_poll():
    """A virtual machine's guest halt polling (Linux cpuidle-haltpoll): at 0 an idle core halts
    at once, and waking a thread on it costs a round trip through the hypervisor."""
    try:
        with open("/sys/module/haltpoll/parameters/guest_halt_poll_ns") as f:
            return f"; VM guest halt polling {int(f.read())} ns"
    except (OSError, ValueError):
        return ""


def machine_facts():
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, "
             f"cores {os.cpu_count()}, cpu {cpu_model()}",
             f"thread hand-off (idle pool thread starts a task): median "
             f"{handoff_microseconds():.0f} us" + _halt_poll()]
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            lines.append(f"{info.get('internal_api')} {info.get('version')} "
                         f"kernel={info.get('architecture')} threads={info.get('num_threads')} "
                         f"({os.path.basename(info.get('filepath', ''))})")
    except ImportError:
        lines.append("threadpoolctl not installed: BLAS facts unknown")
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    if env:
        lines.append("env: " + " ".join(f"{k}={v}" for k, v in sorted(env.items())))
    if sys.dont_write_bytecode:
        lines.append("bytecode cache off (PYTHONDONTWRITEBYTECODE or -B): unless the install "
                     "compiled it (pip install . does, -e does not), each new process compiles "
                     "contest's modules again, ~70 ms of a command's start")
    from contest.cli.blas_check import weak_kernel_note
    note = weak_kernel_note()
    if note:
        lines.append(note)
    return "\n".join(lines)
