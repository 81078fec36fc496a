"""Shared test setup: Prefect in a temporary home, ``flows`` importable, and golden files.

pytest imports this file before any test module, so the environment below is in place before
anything imports prefect.  Prefect runs against a temporary server in its own PREFECT_HOME (no
PREFECT_API_URL); the first flow of the session starts it (~10-30 s), later flows reuse it.  A
child process started by a test inherits DPAUDIT_TEST_PREFECT_HOME and so uses the same home.
"""
from __future__ import annotations

import difflib
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ["PREFECT_HOME"] = os.environ.get("DPAUDIT_TEST_PREFECT_HOME") or tempfile.mkdtemp(prefix="dpaudit-prefect-")
os.environ["DPAUDIT_TEST_PREFECT_HOME"] = os.environ["PREFECT_HOME"]
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
if str(ROOT) not in sys.path:  # the Prefect flows live in ROOT/flows, outside the package
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- golden files
@pytest.fixture()
def golden(request):
    """``golden(path, text)``: assert ``text`` equals the golden file at ``path``.

    The file is (re)written only when the environment has ``UPDATE_GOLDEN=1``; a missing golden
    file fails the test with the command that creates it, it is never written silently.
    """

    def check(path: Path, text: str) -> None:
        path = Path(path)
        rerun = f"cd {request.config.rootpath} && UPDATE_GOLDEN=1 {sys.executable} -m pytest '{request.node.nodeid}'"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing. Create it with\n    {rerun}\n"
                        "then check the new file and commit it.", pytrace=False)
        want = path.read_text(encoding="utf-8")
        if text != want:
            diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), text.splitlines(keepends=True),
                                                fromfile=f"{path.name} (golden)", tofile="this run", n=1))
            if len(diff) > 6000:
                diff = diff[:6000] + "\n... (diff cut short)\n"
            pytest.fail(f"output differs from the golden file {path}:\n{diff}\n"
                        f"If the change is intended, rewrite the golden file with\n    {rerun}", pytrace=False)

    return check


# ---------------------------------------------------------------- clean exit (issue 19)
def pytest_sessionfinish(session, exitstatus):
    """Let go of the DuckDB objects Prefect keeps until the interpreter exits.

    Prefect's background services (the API log and event workers) run on a daemon event-loop
    thread, ``prefect._internal.concurrency.threads._global_loop``.  Starting a service registers
    a ``drain`` call in that thread's ``_on_shutdown`` list; the call keeps the contextvars of the
    moment it was made.  When the first WARNING log is sent from inside a task run (in
    test_flows.py, the failing ``report`` stage task), that context holds the ``TaskRunContext``
    and the flow's ``EngineContext``: the task's parameters include the pipeline's DuckDB
    connection, and the failed flow-run state (and the result store's in-memory cache) hold the
    flow's exception, whose traceback frames hold more connections.  A daemon loop is never
    shut down, so the list is never emptied and DuckDB's nanobind module reports ~100 lines of
    "nanobind: leaked ..." at exit.  Shutting the loop down here runs the drains (logs and events
    are flushed while the test server still runs) and empties the list; gc then frees the rest.
    """
    threads = sys.modules.get("prefect._internal.concurrency.threads")
    loop = getattr(threads, "_global_loop", None)
    if loop is not None and loop.thread.is_alive():
        loop.shutdown()
        loop.thread.join(timeout=30)
    import gc

    gc.collect()
