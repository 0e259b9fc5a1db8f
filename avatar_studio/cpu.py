"""CPU tuning for small shared machines: one explicit call, made by the entry points.

    import avatar_studio
    avatar_studio.tune_cpu()      # before torch is imported: app.py, the CLI, train/ do this
    from avatar_studio import AvatarStudio

Importing avatar_studio changes nothing in the process; ``tune_cpu`` does, on purpose:
- ``OMP_WAIT_POLICY=PASSIVE`` (unless set): OpenMP threads sleep instead of spinning while they
  wait. OpenMP reads it once, when torch loads, so it must be set before the first torch import.
  On a shared 2-core VM a batch-1 design took 280-620 ms untuned vs 39-45 ms tuned (busy, median
  of 60) and 61 vs 13 ms (quieter day).
  If torch came first without it, torch is set to one thread instead (a warning says why).
- glibc's malloc thresholds: the generator's short-lived activations (up to a few MB) come from
  memory the process already holds, not fresh zeroed pages (mmap and trim above 128 KB by
  default): a batch-1 synthesis ~25% faster here (11.6 -> 9.2 ms). Elsewhere a no-op.

This module does not import torch.
"""
from __future__ import annotations

import ctypes
import os
import sys
import warnings

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
SMALL_CPU = 4                                # usable cores at or below which spinning threads hurt
COST = ("measured on a shared 2-core VM, one batch-1 design: 280-620 ms untuned vs 39-45 ms tuned when busy, "
        "61 vs 13 ms when quieter; the malloc tuning alone: 11.6 -> 9.2 ms a synthesis")
_state = {"tuned": False, "warned": False}


def tune_cpu(threads: int | None = None) -> None:
    """Tune this process for torch on a small CPU (see the module docstring); ``threads`` sets
    torch's thread count too. Safe to call more than once."""
    too_late = "torch" in sys.modules and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _keep_freed_memory()
    if too_late or threads:
        import torch
        if threads:
            torch.set_num_threads(threads)
        elif torch.get_num_threads() > 1:
            torch.set_num_threads(1)
            warnings.warn("avatar_studio.tune_cpu(): torch was imported first without OMP_WAIT_POLICY=PASSIVE, so "
                          "OpenMP's threads spin while they wait; torch now uses one thread. Call tune_cpu() before "
                          f"importing torch, or set OMP_WAIT_POLICY=PASSIVE, to keep more ({COST}).",
                          RuntimeWarning, stacklevel=2)
    _state["tuned"] = True


def _keep_freed_memory() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 128 << 20)
    except (OSError, AttributeError):  # no glibc (macOS, Windows, musl): nothing to tune
        pass


def release_free_memory() -> None:
    """Hand the heap's free pages back to the kernel (glibc ``malloc_trim``; elsewhere a no-op).

    ``tune_cpu`` lets the heap keep freed memory, which is what makes batch-1 painting fast; a server
    painting 512-1024 px exports on its worker threads then fragments it, and RSS grew 25-83 MB over
    900 soak requests. The app's cache sweep calls this, so the growth is returned every sweep, off the
    request path."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # no glibc
        pass


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def warn_if_untuned(stacklevel: int = 3) -> None:
    """Once per process: a library user on a small CPU who has not called ``tune_cpu`` hears how."""
    if _state["tuned"] or _state["warned"] or usable_cores() > SMALL_CPU:
        return
    _state["warned"] = True
    warnings.warn(f"avatar_studio: this machine has {usable_cores()} cores and the CPU is not tuned; call "
                  "avatar_studio.tune_cpu() before importing torch (what app.py and the CLI do), or at least set "
                  f"OMP_WAIT_POLICY=PASSIVE: {COST}.", RuntimeWarning, stacklevel=stacklevel)
