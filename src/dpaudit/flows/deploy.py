"""Scheduled deployments of the dpaudit flows, served from this machine.

- ``dpaudit-monthly/monthly``: 06:00 (Europe/London) on the 6th of every month, for the previous
  month (the flow's ``period`` defaults to it).
- ``dpaudit-year-end/year-end``: 06:00 on 10 April, for the financial year that ended on 31 March.
- ``dpaudit-decisions/decisions``: no schedule; run it on demand with the returned workbook's path.

Every deployment has a concurrency limit of 1 (a second scheduled run is queued until the first
ends), and every flow holds the global concurrency limit ``dpaudit`` (one slot, shared by the
three; :mod:`dpaudit.flows.common`), which serving creates on the server.  Runs started by hand
from the CLI bypass Prefect's limits; the DuckDB single-writer lock in ``dpaudit.store`` keeps
those from interleaving too.

Serve them (this process is the worker; it needs a Prefect server, see docs/scheduling.md)::

    DPAUDIT_DATA=/srv/dpaudit/data DPAUDIT_REPORTS=/srv/dpaudit/reports python -m flows.deploy

The data and reports folders are stored in the deployments as absolute paths (a relative one is
resolved against the folder you serve from, when you serve), because a scheduled run may start
in another working directory or on another machine.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron

from dpaudit.flows.decisions import decisions_import
from dpaudit.flows.monthly import monthly_reconciliation
from dpaudit.flows.year_end import year_end

TIMEZONE = "Europe/London"
MONTHLY_CRON = "0 6 6 * *"
YEAR_END_CRON = "0 6 10 4 *"
TAGS = ["dpaudit"]

__all__ = ["MONTHLY_CRON", "TIMEZONE", "YEAR_END_CRON", "build_deployments", "main"]


class DeployError(ValueError):
    """The deployments cannot be built as asked (a plain message saying what to set)."""


def _folder(given: str | None, env: str, what: str) -> str:
    value = given or os.environ.get(env)
    if not value:
        raise DeployError(f"Say where the council's {what} is: pass it, or set {env} to an absolute path "
                          f"(for example {env}=/srv/dpaudit/{'data' if env == 'DPAUDIT_DATA' else 'reports'}).")
    return str(Path(value).expanduser().resolve())


def _limit() -> ConcurrencyLimitConfig:
    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def build_deployments(data_dir: str | None = None, reports_dir: str | None = None, wait_seconds: float = 3600.0) -> list:
    """The three RunnerDeployments (built locally; no server is contacted), with absolute folders."""
    data = _folder(data_dir, "DPAUDIT_DATA", "data folder")
    reports = _folder(reports_dir, "DPAUDIT_REPORTS", "reports folder")
    common = {"data_dir": data, "reports_dir": reports, "wait_seconds": wait_seconds}
    # flows are loaded by module path, from the installed package, wherever the run starts
    by_module = {"entrypoint_type": EntrypointType.MODULE_PATH}
    return [
        monthly_reconciliation.to_deployment(
            name="monthly", schedules=[Cron(MONTHLY_CRON, timezone=TIMEZONE)], concurrency_limit=_limit(),
            parameters=common, tags=TAGS, **by_module,
            description="Reconcile the previous month on the 6th (PBP 5.1-5.5); reports and a summary artifact."),
        year_end.to_deployment(
            name="year-end", schedules=[Cron(YEAR_END_CRON, timezone=TIMEZONE)], concurrency_limit=_limit(),
            parameters=common, tags=TAGS, **by_module,
            description="Year end on 10 April for the financial year that ended on 31 March (PBP 5.3, 5.4)."),
        decisions_import.to_deployment(
            name="decisions", concurrency_limit=_limit(), tags=TAGS,
            parameters={"data_dir": data, "wait_seconds": wait_seconds}, **by_module,
            description="Import a returned exceptions.xlsx into the decision log (give its path)."),
    ]


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - long-running server process
    from prefect import serve

    from dpaudit.flows.common import ensure_concurrency_limit

    args = list(sys.argv[1:] if argv is None else argv)
    deployments = build_deployments(*(args[:2]))
    ensure_concurrency_limit()
    serve(*deployments, limit=1)


if __name__ == "__main__":  # pragma: no cover
    main()
