"""The deployments against a real Prefect server on loopback: schedules, scheduled runs, a served run.

Issue 16 item 2.  The other Prefect tests run in ephemeral mode, where no scheduler runs; this
module starts ``prefect server start`` on 127.0.0.1 (its own PREFECT_HOME and SQLite file, the
scheduler every 2 s), serves the project's deployments with ``python -m flows.deploy DATA REPORTS``
(the documented way; that process is the worker) and checks, through the server's API:

1. the three deployments exist, with the cron schedules and the Europe/London time zone;
2. the scheduler has created the upcoming runs: at least 3 monthly runs, the next three 6ths of a
   month at 06:00 London time, and the next 10 April at 06:00 for the year end.  This is the
   check that fails when the server's scheduler is broken (SQLAlchemy 2.1 with Prefect 3.8.8:
   ``InvalidRequestError: Can't evaluate bulk DML statement`` every loop, no runs created);
3. a monthly run triggered for 2026-01 on a copy of sample_data/ completes through the serve
   process, writes its reports and its markdown artifact ``dpaudit-month-2026-01``.

Everything has a deadline (no bare sleeps); the module takes about 20 s here (2 cores: server
start 6-8 s, deployments 3 s, scheduled runs 1 s, the run 4-5 s), well under its 4-minute budget.
``pytest -s`` prints the timing breakdown; failures show it and the tails of the server and serve
logs.  A scheduler that fails 5 loops in a row (in the server log) fails the test at once.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
LONDON = ZoneInfo("Europe/London")
PERIOD = "2026-01"
MONTHLY, YEAR_END, DECISIONS = "dpaudit-monthly/monthly", "dpaudit-year-end/year-end", "dpaudit-decisions/decisions"

SERVER_START_DEADLINE = 120.0
DEPLOYMENTS_DEADLINE = 120.0
SCHEDULED_RUNS_DEADLINE = 120.0
RUN_DEADLINE = 180.0
SCHEDULER_LOOP_SECONDS = 2
SCHEDULER_FAILURES_TOLERATED = 5  # failed scheduler loops (in the server log) before giving up early

TIMES: dict[str, float] = {}  # step -> seconds, printed and put into failure messages


def _timings() -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in TIMES.items()) or "(no step finished)"


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"({path}: {exc})"
    return "\n".join(text[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """Stop a process started with ``start_new_session=True`` and every process of its group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # the leader is gone (or would not go): kill what is left of its group
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=grace)


class Server:
    def __init__(self, url: str, log: Path, proc: subprocess.Popen) -> None:
        self.url, self.log, self.proc = url, log, proc
        self.serve_log: Path | None = None

    def scheduler_errors(self) -> tuple[int, list[str]]:
        """How many times the server logged a failed scheduler loop, and the distinct exceptions it logged."""
        text = _tail(self.log, 100_000).splitlines()
        failed = sum(1 for ln in text if "ERROR" in ln and re.search(r"schedule_(recent_)?deployments", ln))
        exceptions = list(dict.fromkeys(ln.strip() for ln in text if re.match(r"^[\w.]+(Error|Exception): ", ln)))
        return failed, exceptions

    def fail(self, message: str) -> None:
        parts = [message, f"timings: {_timings()}"]
        failed, exceptions = self.scheduler_errors()
        if failed or exceptions:
            parts.append(f"the server log has {failed} failed scheduler loops; exceptions logged:\n"
                         + "\n".join(exceptions[-10:]))
        parts.append(f"server log {self.log} (tail):\n{_tail(self.log, 30)}")
        if self.serve_log is not None:
            parts.append(f"serve log {self.serve_log} (tail):\n{_tail(self.serve_log, 40)}")
        pytest.fail("\n\n".join(parts), pytrace=False)

    def client(self):
        """A sync client of this server (PREFECT_API_URL only for the ``with`` block)."""
        import contextlib

        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        @contextlib.contextmanager
        def cm():
            with temporary_settings(updates={PREFECT_API_URL: self.url}):
                with get_client(sync_client=True) as client:
                    yield client

        return cm()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``prefect server start`` on 127.0.0.1:<free port>, own home and SQLite file, fast scheduler."""
    base = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(base / "home"),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{base / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",  # no access log of the polling below
        # the scheduler every 2 s (default 60 s; recently changed deployments every 5 s)
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": str(SCHEDULER_LOOP_SECONDS),
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": str(SCHEDULER_LOOP_SECONDS),
        # runs up to 400 days ahead (default 100 days), so the next 10 April is always scheduled
        "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": "P400D",
    })
    log = base / "server.log"
    t0 = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=base, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(url, log, proc)
    try:
        deadline = t0 + SERVER_START_DEADLINE
        while not _healthy(url):
            if proc.poll() is not None:
                srv.fail(f"prefect server start exited with code {proc.returncode} before it answered {url}/health")
            if time.monotonic() > deadline:
                srv.fail(f"the Prefect server did not answer {url}/health within {SERVER_START_DEADLINE:.0f} s")
            time.sleep(0.5)  # poll interval of the deadline loop above
        TIMES["server start"] = time.monotonic() - t0
        yield srv
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def served(server, tmp_path_factory):
    """``python -m flows.deploy DATA REPORTS`` against the server, on a copy of sample_data/;
    returns the deployments read back from the server once all three exist."""
    base = tmp_path_factory.mktemp("dpaudit-served")
    data, reports = base / "council", base / "reports"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    reports.mkdir()
    env = dict(os.environ)
    env.update({
        "PREFECT_API_URL": server.url,
        "PREFECT_HOME": str(base / "prefect-home"),  # not the test session's ephemeral home
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",  # look for runs to start every 2 s (default 10 s)
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    })
    for k in ("DPAUDIT_DATA", "DPAUDIT_REPORTS"):
        env.pop(k, None)
    log = base / "serve.log"
    server.serve_log = log
    t0 = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flows.deploy", str(data), str(reports)], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        from prefect.exceptions import ObjectNotFound

        deployments: dict = {}
        deadline = t0 + DEPLOYMENTS_DEADLINE
        with server.client() as client:
            while len(deployments) < 3:
                if proc.poll() is not None:
                    server.fail(f"`python -m flows.deploy` exited with code {proc.returncode} before the three "
                                f"deployments existed (found: {sorted(deployments) or 'none'})")
                if time.monotonic() > deadline:
                    server.fail(f"the deployments did not all appear within {DEPLOYMENTS_DEADLINE:.0f} s "
                                f"(found: {sorted(deployments) or 'none'})")
                for name in (MONTHLY, YEAR_END, DECISIONS):
                    if name not in deployments:
                        try:
                            deployments[name] = client.read_deployment_by_name(name)
                        except ObjectNotFound:
                            pass
                if len(deployments) < 3:
                    time.sleep(0.5)  # poll interval of the deadline loop above
        TIMES["deployments created"] = time.monotonic() - t0
        yield {"deployments": deployments, "data": data, "reports": reports, "proc": proc}
    finally:
        _stop(proc)


def _occurrences(now: datetime, month: int | None, day: int, count: int) -> list[datetime]:
    """The next ``count`` 06:00 Europe/London times after ``now`` on ``day`` of every month (or of ``month``)."""
    out, y, m = [], now.astimezone(LONDON).year, now.astimezone(LONDON).month
    while len(out) < count:
        if month is None or m == month:
            t = datetime(y, m, day, 6, 0, tzinfo=LONDON)
            if t > now:
                out.append(t)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _auto_scheduled_runs(client, deployment_id) -> list:
    from prefect.client.schemas.filters import (
        DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
        FlowRunFilterTags)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                                      tags=FlowRunFilterTags(all_=["auto-scheduled"])),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC)


def test_scheduler_creates_the_upcoming_runs(server, served):
    deps = served["deployments"]
    schedules = {name: [(s.schedule.cron, s.schedule.timezone, s.active) for s in deps[name].schedules]
                 for name in (MONTHLY, YEAR_END, DECISIONS)}
    assert schedules == {MONTHLY: [("0 6 6 * *", "Europe/London", True)],
                         YEAR_END: [("0 6 10 4 *", "Europe/London", True)],
                         DECISIONS: []}, schedules

    t0 = time.monotonic()
    deadline = t0 + SCHEDULED_RUNS_DEADLINE
    with server.client() as client:
        while True:
            monthly = _auto_scheduled_runs(client, deps[MONTHLY].id)
            year_end = _auto_scheduled_runs(client, deps[YEAR_END].id)
            if len(monthly) >= 3 and year_end:
                break
            if served["proc"].poll() is not None:
                server.fail(f"the serve process exited with code {served['proc'].returncode}")
            failed_loops = server.scheduler_errors()[0]
            if time.monotonic() > deadline or failed_loops >= SCHEDULER_FAILURES_TOLERATED:
                waited = time.monotonic() - t0
                server.fail(
                    f"the server's scheduler created too few scheduled runs in {waited:.0f} s (it loops every "
                    f"{SCHEDULER_LOOP_SECONDS} s; {failed_loops} loops failed): {len(monthly)} for {MONTHLY} "
                    f"(want >= 3), {len(year_end)} for {YEAR_END} (want >= 1).  Deployments on this install would "
                    f"never run on schedule.  (SQLAlchemy 2.1 with Prefect 3.8.8 fails every loop with "
                    f"'InvalidRequestError: Can't evaluate bulk DML statement'; see the exceptions below.)")
            time.sleep(1.0)  # poll interval of the deadline loop above
    TIMES["scheduled runs seen"] = time.monotonic() - t0
    now = datetime.now(timezone.utc)

    seen_monthly = [r.expected_start_time.astimezone(LONDON) for r in monthly]
    seen_year_end = [r.expected_start_time.astimezone(LONDON) for r in year_end]
    print(f"\nscheduled runs (Europe/London): monthly {[t.isoformat() for t in seen_monthly]}; "
          f"year end {[t.isoformat() for t in seen_year_end]}")
    print(f"timings: {_timings()}")
    for t in seen_monthly:
        assert (t.day, t.hour, t.minute) == (6, 6, 0) and t > now, f"monthly run at {t.isoformat()} ({_timings()})"
    for t in seen_year_end:
        assert (t.month, t.day, t.hour, t.minute) == (4, 10, 6, 0) and t > now, \
            f"year-end run at {t.isoformat()} ({_timings()})"
    assert seen_monthly[:3] == _occurrences(now, None, 6, 3), \
        f"monthly runs {seen_monthly} are not the next three 6ths of a month at 06:00 London time"
    assert seen_year_end[0] == _occurrences(now, 4, 10, 1)[0], \
        f"year-end run {seen_year_end[0]} is not the next 10 April at 06:00 London time"
    assert len({(t.year, t.month) for t in seen_monthly}) == len(seen_monthly), f"duplicate monthly runs {seen_monthly}"


def test_triggered_monthly_run_completes_with_reports_and_artifact(server, served):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    reports = served["reports"]
    key = f"dpaudit-month-{PERIOD}"
    with server.client() as client:
        t0 = time.monotonic()
        run = client.create_flow_run_from_deployment(served["deployments"][MONTHLY].id, parameters={"period": PERIOD})
        deadline = t0 + RUN_DEADLINE
        while True:
            run = client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                break
            if served["proc"].poll() is not None:
                server.fail(f"the serve process exited with code {served['proc'].returncode} while flow run "
                            f"{run.name} was {run.state.name if run.state else 'without state'}")
            if time.monotonic() > deadline:
                server.fail(f"the triggered monthly run {run.name} did not finish within {RUN_DEADLINE:.0f} s "
                            f"(state {run.state.name if run.state else None}); is the serve process picking it up?")
            time.sleep(1.0)  # poll interval of the deadline loop above
        took = TIMES["trigger to completion"] = time.monotonic() - t0
        print(f"\nmonthly run {run.name}: {run.state.name} {took:.1f} s after the trigger; timings: {_timings()}")
        if not run.state.is_completed():
            server.fail(f"the monthly run {run.name} ended {run.state.name} after {took:.1f} s: {run.state.message}")
        limits = [(g.name, g.limit, g.active) for g in client.read_global_concurrency_limits(limit=50)]
        print(f"global concurrency limits on the server: {limits or 'none'}")
        assert ("dpaudit", 1, True) in limits, f"serving must create the shared 'dpaudit' limit; found {limits}"
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))

    for name in ("exceptions.xlsx", "exceptions.csv"):
        f = reports / PERIOD / name
        assert f.is_file() and f.stat().st_size > 0, \
            f"{f} missing or empty after a Completed run ({took:.1f} s); {sorted(p.name for p in reports.rglob('*'))}"
    assert artifacts, f"no artifact {key} of flow run {run.name} on the server (run completed in {took:.1f} s)"
    md = artifacts[0].data
    assert artifacts[0].type == "markdown", artifacts[0].type
    assert PERIOD in md, f"artifact {key} does not name the period (run completed in {took:.1f} s):\n{md}"
    assert re.search(r"\]\([^)\s]*exceptions\.xlsx\)", md), \
        f"artifact {key} has no link to exceptions.xlsx (run completed in {took:.1f} s):\n{md}"
    assert took < RUN_DEADLINE, f"trigger to completion {took:.1f} s"
