"""Logging for pipeline scripts: every message goes to the rule's log file and stderr."""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from pathlib import Path


@contextlib.contextmanager
def script_log(path):
    """Yield a ``log(msg)`` callable; an exception is written to the log before it propagates."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:

        def log(msg):
            line = f"[{time.strftime('%H:%M:%S')}] {msg}"
            print(line, file=f, flush=True)
            print(line, file=sys.stderr, flush=True)

        try:
            yield log
        except BaseException as exc:
            f.write(traceback.format_exc())
            log(f"ERROR: {exc}")
            raise
