"""Machine facts every benchmark prints: cores, BLAS library and kernel, threads, versions."""
import os
import platform

import numpy as np


def machine_facts():
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, "
             f"cores {os.cpu_count()}, cpu {platform.processor() or platform.machine()}"]
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
    from contest.blas_check import weak_kernel_note
    note = weak_kernel_note()
    if note:
        lines.append(note)
    return "\n".join(lines)
