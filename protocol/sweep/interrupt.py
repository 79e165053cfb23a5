"""Stopping a sweep on Ctrl-C, SIGINT or SIGTERM without losing finished work.

The first signal asks the engine to stop: queued runs are cancelled at once, runs in flight go
on and are stored if they finish within the grace period. A second signal (or the end of the
grace period) abandons the runs in flight. Either way :func:`~protocol.sweep.sweep.run_sweep`
then raises :class:`SweepInterrupted`, and the output folder resumes like any other.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator, Optional

from protocol.lifeline import die_with_parent

DEFAULT_GRACE = 60.0  # seconds the runs in flight get to finish after the first signal
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by a signal (or an interrupt in a notebook). ``stored`` of ``total`` runs
    are in ``out/runs.jsonl``; the same sweep again runs only the others. A subclass of
    :class:`KeyboardInterrupt`, so an ``except Exception`` does not swallow it."""

    def __init__(self, signum: Optional[int], stored: int, total: int, out: Path):
        self.signum = signum
        self.stored = stored
        self.total = total
        self.out = out
        super().__init__(f"interrupted by {self.signal_name}: {stored} of {total} runs stored "
                         f"in {out}")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "an interrupt"

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, the shell's convention (130 for SIGINT)."""
        return 128 + (self.signum or signal.SIGINT)


class Stop:
    """A request to stop a sweep, made by a signal handler (or any thread) and read by the
    engine's loop. ``grace`` seconds after the first request, or at a second one, the runs in
    flight are abandoned. ``on_stop(cancelled, in_flight)`` is called once, from the engine's
    loop (not from the signal handler), when the queue has been dropped."""

    def __init__(self, grace: float = DEFAULT_GRACE,
                 on_stop: Optional[Callable[[int, int], None]] = None):
        self.grace = grace
        self.on_stop = on_stop
        self.signum: Optional[int] = None
        self.cancelled = 0  # queued runs dropped
        self.in_flight = 0  # runs running when the queue was dropped
        self.interruptible = False  # set while a run executes in this very process
        self._at: Optional[float] = None
        self._forced = False
        self._acknowledged = False

    def request(self, signum: Optional[int] = None) -> None:
        """Ask to stop; asking again stops waiting for the runs in flight."""
        if self._at is None:
            self._at = time.monotonic()
            self.signum = signum
        else:
            self._forced = True

    @property
    def requested(self) -> bool:
        return self._at is not None

    @property
    def expired(self) -> bool:
        """True once the runs in flight are no longer waited for."""
        return self._at is not None and (self._forced or time.monotonic() - self._at >= self.grace)

    def acknowledge(self, cancelled: int, in_flight: int) -> None:
        """Called by the engine when it has dropped its queue (once)."""
        if self._acknowledged:
            return
        self._acknowledged = True
        self.cancelled, self.in_flight = cancelled, in_flight
        if self.on_stop is not None:
            self.on_stop(cancelled, in_flight)


@contextmanager
def stop_on_signals(stop: Stop) -> Iterator[Stop]:
    """Within the block, SIGINT and SIGTERM request ``stop`` instead of killing the process.
    A second signal while a run executes in this process (a one-worker local engine) raises
    :class:`KeyboardInterrupt` to abandon it. Off the main thread (where Python cannot catch
    signals) this does nothing. The previous handlers are restored on leaving."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        stop.request(signum)
        if stop.expired and stop.interruptible:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def worker_init(parent: int) -> None:
    """Set up a local-engine worker process: the parent decides when runs stop, so the worker
    ignores SIGINT (Ctrl-C reaches the whole process group) and SIGTERM, and it dies with its
    parent, so a killed sweep never leaves workers behind."""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    die_with_parent(parent)
