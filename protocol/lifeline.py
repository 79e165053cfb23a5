"""Worker processes that die with the process that started them.

A pool's workers outlive a parent killed with ``kill -9`` (nothing in the parent runs then): they
go on as orphans, holding CPUs and the terminal. On Linux the kernel can send a worker SIGKILL
when its parent dies (``prctl(PR_SET_DEATHSIG)``); elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Called first thing in a worker: SIGKILL this process when ``parent`` (the pid of the
    process that started it, read there) dies, and exit at once if it already has."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
