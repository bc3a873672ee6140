"""Logging for pipeline scripts: every message goes to the rule's log file and stderr."""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from pathlib import Path

from cnnstudy.checkout import check_this_process


@contextlib.contextmanager
def script_log(path):
    """Yield a ``log(msg)`` callable; an exception is written to the log before it propagates,
    as ``ERROR: <what>``, or ``STOPPED: <why>`` for an interrupt or a requested exit."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:

        def log(msg):
            line = f"[{time.strftime('%H:%M:%S')}] {msg}"
            print(line, file=f, flush=True)
            print(line, file=sys.stderr, flush=True)

        try:
            check_this_process()  # the package this job imported is the workflow's own
            yield log
        except (KeyboardInterrupt, SystemExit) as exc:
            f.write(traceback.format_exc())
            log(f"STOPPED: {_stop_reason(exc)}")
            raise
        except BaseException as exc:
            f.write(traceback.format_exc())
            log(f"ERROR: {str(exc) or type(exc).__name__}")
            raise


def _stop_reason(exc: BaseException) -> str:
    """Why a script stopped without an error of its own (status reads this line)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGINT); a rerun starts it again"
    return f"exit code {exc.code}; a rerun resumes from its last checkpoint" if exc.code else "exit code 0"
