"""Stopping a run cleanly: SIGTERM (SLURM's preemption or time limit) and SIGINT (Ctrl-C)
are caught, the loop checkpoints where it is, and the process exits with the signal's code."""

from __future__ import annotations

import contextlib
import signal
import threading


class StopRequest:
    """Set by SIGTERM (SLURM's preemption or time limit) or SIGINT (Ctrl-C): the loop
    checkpoints where it is, mid-epoch, and the run exits; its rerun resumes exactly there."""

    def __init__(self):
        self.signal = None

    def __call__(self, signum, frame):
        self.signal = signum

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_sigterm():
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return
    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Stopped(SystemExit):
    """The run checkpointed on SIGTERM or SIGINT and exits (code 143 or 130, as if killed by it)."""
