"""Kill a child process at a named checkpoint (``dpaudit.core.checkpoint``), never after a guessed delay.

The child runs with ``DPAUDIT_CHECKPOINTS`` set; it announces each checkpoint on standard output and
waits for a line on standard input.  :func:`kill_at` answers every announcement until the wanted
one (the ``n``-th time ``name`` is reached), then sends SIGKILL while the child is blocked there.
Where the child is stopped therefore depends only on the code path, not on the machine's speed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from dpaudit.core.checkpoint import ENV, PREFIX

SRC = str(Path(__file__).resolve().parents[1] / "src")


def spawn(script: str, checkpoints: str = "*", **env: str) -> subprocess.Popen:
    full_env = {**os.environ, ENV: checkpoints, "PYTHONPATH": SRC, **env}
    return subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=full_env)


def kill_at(script: str, name: str, n: int = 1, **env: str) -> list[str]:
    """Run ``script`` until it reaches checkpoint ``name`` for the ``n``-th time and kill it there.

    Returns the checkpoints it passed, the last being the one it was killed at.  Fails if the child
    finished or crashed before reaching it."""
    child = spawn(script, **env)
    passed: list[str] = []
    try:
        for line in child.stdout:
            parts = line.split()
            if len(parts) != 3 or parts[0] != PREFIX:
                continue
            passed.append(f"{parts[1]} {parts[2]}")
            if parts[1] == name and int(parts[2]) == n:
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=60)
                return passed
            child.stdin.write("\n")
            child.stdin.flush()
        child.wait(timeout=60)
        raise AssertionError(f"the child ended (exit {child.returncode}) before checkpoint {name} #{n}; "
                             f"it passed {passed}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)
        for stream in (child.stdin, child.stdout):
            try:
                stream.close()
            except OSError:  # the pipe's reader is gone: the child was killed
                pass
