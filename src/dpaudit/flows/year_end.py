"""The year-end flow: carry-forward and repayment for a financial year (``pipeline.run_year_end``).

Runs after the March monthly run, from what the monthly runs stored (scheduled on 10 April for
the year that ended on 31 March).  Holds the dpaudit concurrency slot and the store's single-writer
lock for the whole run.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from dpaudit.core.dates import financial_year_of
from dpaudit.core.money import format_gbp
from dpaudit.flows.common import dpaudit_slot
from dpaudit.pipeline import run_year_end

__all__ = ["default_fy", "year_end", "year_end_task"]


def default_fy(today: date | None = None) -> int:
    """The financial year that ended most recently (on 10 April 2027: FY2026 = Apr 2026..Mar 2027)."""
    return financial_year_of(today or date.today()) - 1


@task(name="year-end", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def year_end_task(data_dir: str, fy: int, reports_dir: str, db_path: Optional[str], policy_path: Optional[str],
                  wait_seconds: float) -> dict:
    r = run_year_end(data_dir, fy, reports_dir=reports_dir, db_path=db_path, policy_path=policy_path,
                     wait_seconds=wait_seconds)
    get_run_logger().info("year end FY%d: %s", fy, json.dumps(r.counts))
    return {"run_id": r.run_id, "period": r.period, "reports_dir": str(r.reports_dir), "db_path": str(r.db_path),
            "counts": r.counts, "files": [str(f) for f in r.files]}


@flow(name="dpaudit-year-end", flow_run_name="year-end-FY{fy}", log_prints=True)
def year_end(data_dir: str, fy: Optional[int] = None, reports_dir: str = "reports", db_path: Optional[str] = None,
             policy_path: Optional[str] = None, wait_seconds: float = 0.0) -> dict:
    """Year end for FY ``fy`` (April to March; default the year that ended last 31 March)."""
    fy = fy if fy is not None else default_fy()
    with dpaudit_slot(f"year end FY{fy}", wait_seconds):
        res = year_end_task(data_dir, fy, reports_dir, db_path, policy_path, wait_seconds)
    c = res["counts"]
    md = "\n".join([
        f"# dpaudit year end FY{fy} (1 April {fy} to 31 March {fy + 1})", "",
        f"- Recipients: {c.get('recipients', 0)}",
        f"- Carry forward: {format_gbp(c.get('carry_forward_pence', 0))}",
        f"- To repay: {format_gbp(c.get('repayment_pence', 0))}", "", "## Report files", "",
        *[f"- [{Path(f).name}]({Path(f).resolve().as_uri()})" for f in res["files"]]])
    create_markdown_artifact(markdown=md, key=f"dpaudit-year-end-fy{fy}", description=f"dpaudit year end FY{fy}")
    return res
