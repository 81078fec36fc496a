"""Named points in the writer where a crash test can stop the process deterministically.

In production :func:`reached` does nothing (one dictionary lookup).  When the environment
variable ``DPAUDIT_CHECKPOINTS`` names a checkpoint (a comma-separated list; ``*`` for all), the
process announces ``checkpoint <name> <n>`` on standard output each time it reaches it (``n``
counts from 1 per name) and then waits for one line on standard input before it goes on.  A test
therefore kills the process while it is *known* to stand at, say, "the second statement batch is
committed", whatever the speed of the machine; it answers the other announcements with a blank
line.  End of input (the test closed the pipe) lets the process run on without waiting again.
"""
from __future__ import annotations

import os
import sys
from collections import Counter

ENV = "DPAUDIT_CHECKPOINTS"
PREFIX = "checkpoint"

_seen: Counter[str] = Counter()
_released = False  # standard input reached its end: never wait again


def _enabled(name: str) -> bool:
    wanted = os.environ.get(ENV, "")
    if not wanted:
        return False
    names = {w.strip() for w in wanted.split(",")}
    return "*" in names or name in names


def reached(name: str) -> None:
    """Announce ``name`` and wait for the controlling test, when checkpoints are switched on."""
    global _released
    if not _enabled(name):
        return
    _seen[name] += 1
    print(f"{PREFIX} {name} {_seen[name]}", file=sys.stdout, flush=True)
    if not _released and sys.stdin is not None and not sys.stdin.readline():
        _released = True
