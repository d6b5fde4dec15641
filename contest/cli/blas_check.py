"""Tell the user when NumPy's OpenBLAS runs kernels weaker than the CPU supports.

OpenBLAS picks its matrix-product kernels when NumPy loads, from the CPU or from the environment
variable OPENBLAS_CORETYPE. A stale OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU (or an OpenBLAS
too old to know the CPU) halves its float32 GEMM speed: measured on this project's 2-core AMD
EPYC (Zen 5), one thread, 110-125 GFLOP/s with the Haswell kernels against 190-245 with
SkylakeX; reference architectures A and B trained 1.3-1.4x faster. contest respects the
setting; it only says so.
"""
import os

import numpy  # noqa: F401  (loads NumPy's OpenBLAS, so that threadpoolctl sees it)
from threadpoolctl import threadpool_info

AVX512_KERNELS = {"skylakex", "cooperlake", "sapphirerapids"}
AVX512_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (an empty set elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_kernels():
    """The kernel names ('Haswell', 'SkylakeX', ...) of the OpenBLAS libraries loaded now."""
    return [i.get("architecture") or "" for i in threadpool_info()
            if i.get("internal_api") == "openblas"]


def weak_kernel_note(flags=None, kernels=None):
    """One line for the user if an OpenBLAS runs non-AVX-512 kernels on an AVX-512 CPU, else None."""
    flags = cpu_flags() if flags is None else flags
    if not AVX512_FLAGS <= flags:
        return None
    kernels = openblas_kernels() if kernels is None else kernels
    weak = sorted({k for k in kernels if k and k.lower() not in AVX512_KERNELS})
    if not weak:
        return None
    forced = os.environ.get("OPENBLAS_CORETYPE")
    cause = (f"OPENBLAS_CORETYPE={forced} is set" if forced
             else "OpenBLAS does not recognise this CPU")
    hint = ("unset it" if forced else "set OPENBLAS_CORETYPE=SkylakeX")
    return (f"note: {cause}, so NumPy multiplies matrices with its {'/'.join(weak)} kernels "
            f"although this CPU has AVX-512; {hint} to train about 1.3x faster")
