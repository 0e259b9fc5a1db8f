"""Avatar Studio: design cute avatars with a trained conditional generator."""
import ctypes
import os
import sys
import warnings

# Must precede the first torch import: on small shared-CPU machines (2-vCPU Spaces, these
# VMs) OpenMP's busy-wait makes torch many times slower.
_TOO_LATE = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def _keep_freed_memory() -> None:
    """glibc: serve the generator's short-lived activations (up to a few MB) from memory the process
    already holds, not from fresh zeroed pages on every call (mmap above 128 KB, trim above 128 KB
    by default). Measured here: a batch-1 synthesis ~25% faster. Elsewhere (not glibc) a no-op."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 128 << 20)
    except (OSError, AttributeError):  # no glibc (macOS, Windows, musl): nothing to tune
        pass


_keep_freed_memory()


def _one_thread_if_busy_waiting() -> None:
    """torch came first, so OpenMP already spins: with one thread nothing waits (measured here, a
    batch-1 design on a busy 2-core VM: 61 ms with two spinning threads, 13 ms with one)."""
    import torch
    if torch.get_num_threads() > 1:
        torch.set_num_threads(1)
        warnings.warn("torch was imported before avatar_studio without OMP_WAIT_POLICY=PASSIVE; OpenMP's "
                      "busy-wait can make it many times slower on shared CPUs, so torch now uses one thread. "
                      "Set OMP_WAIT_POLICY=PASSIVE, or import avatar_studio first, to keep more.",
                      RuntimeWarning, stacklevel=2)


if _TOO_LATE:
    _one_thread_if_busy_waiting()

from avatar_studio.studio import AvatarStudio  # noqa: E402
from avatar_studio.weights import WeightsError  # noqa: E402

__all__ = ["AvatarStudio", "WeightsError"]
__version__ = "0.1.0"
