"""The monthly reconciliation flow: ingest → validate → audit → recommend → report for one month.

A thin wrapper over :mod:`dpaudit.pipeline`; the stage order is the same as ``run_period``:

1. ``parse-statements``: the writer plans the inbox (``plan_statement_files``: new, duplicate,
   re-read after quarantine, already loaded), then one task per batch of recipients, submitted to
   the flow's task runner (threads by default, a Dask cluster with :func:`dask_runner`), reads the
   files and builds their store rows (``prepare_statement_files``; pure work, no database).  A file
   that cannot be read is quarantined with its reason; one recipient's bad file never stops the
   others.
2. ``load-statements``: the single writer loads the prepared batches in inbox order, one
   transaction each (``load_prepared``): the same three steps as
   :func:`dpaudit.ingest.statements.ingest_statements`, which runs them in one process.
3. ``ingest``: reference data, evidence (validated by the pandera schemas) and statement checks
   (``pipeline.ingest_period``; statements already loaded are skipped by their SHA-256).
4. ``audit`` (rules, matching, reconciliation; findings committed here), ``recommend``, ``report``.

The flow holds the DuckDB single-writer lock from start to end, so a CLI run, a scheduled run and
a manual flow run on the same store never interleave: the second waits ``wait_seconds`` then
stops with a plain message.  A report failure fails the flow but the findings and
recommendations committed before it are kept (run ``dpaudit report`` to write them again).
"""
from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any, Optional

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from dpaudit import __version__
from dpaudit.ingest import statements as ist
from dpaudit.core.dates import parse_period, previous_period
from dpaudit.pipeline import (officer_name, audit_period, default_db, ingest_period, resolve_policy, run_id_for,
                              write_period_reports)
from dpaudit.core.policy import Policy
from dpaudit.decide.recommend import recommend_period
from dpaudit.store import now_utc, open_store

DEFAULT_BATCH = 200  # recipients per parse task: enough work per task to dwarf Prefect's per-task overhead


def default_period(today: date | None = None) -> str:
    """The month before ``today`` (a run on 6 May audits April)."""
    t = today or date.today()
    return previous_period(f"{t.year:04d}-{t.month:02d}")


def dask_runner(address: str | None = None, n_workers: int = 2, processes: bool = False):
    """A prefect-dask ``DaskTaskRunner``: a scheduler ``address`` or a local cluster."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": n_workers, "processes": processes, "threads_per_worker": 1,
                                          "dashboard_address": None})


def _batches(files: list[ist.StatementFile], batch_size: int) -> list[list[ist.StatementFile]]:
    """Whole recipients per batch (a recipient's files stay together, in inbox order)."""
    out: list[list[ist.StatementFile]] = []
    cur: list[ist.StatementFile] = []
    rids: set[str] = set()
    for f in files:
        if f.recipient_id not in rids and len(rids) >= batch_size:
            out.append(cur)
            cur, rids = [], set()
        rids.add(f.recipient_id)
        cur.append(f)
    if cur:
        out.append(cur)
    return out


# ------------------------------------------------------------------------------------------ tasks
@task(name="parse-statements", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def parse_statements(data_dir: str, period: str, files: list[ist.StatementFile], policy: Policy,
                     now) -> ist.PreparedStatements:
    """Read a batch of planned statement files and build their store rows (no database):
    :func:`dpaudit.ingest.statements.prepare_statement_files`."""
    return ist.prepare_statement_files(Path(data_dir), period, files, policy, now)


@task(name="load-statements", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def load_statements(con, period: str, prepared: list[ist.PreparedStatements]) -> dict:
    """Single writer: load the prepared batches in inbox order, one transaction each
    (:func:`dpaudit.ingest.statements.load_statement_batches`)."""
    counts = ist.load_statement_batches(con, prepared)
    get_run_logger().info("statements %s: %s", period, json.dumps(counts))
    return counts


@task(name="ingest", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def ingest(con, data_dir: str, period: str, policy: Policy) -> tuple[dict, pd.DataFrame]:
    """Reference data, evidence and statement checks (``pipeline.ingest_period``)."""
    counts, checks = ingest_period(con, Path(data_dir), period, policy)
    get_run_logger().info("ingest %s: %s; %d statement-check findings", period,
                          json.dumps(counts, default=str), len(checks))
    return counts, checks


@task(name="audit", cache_policy=NO_CACHE)
def audit(con, period: str, policy: Policy, run_id: str, checks: pd.DataFrame) -> dict:
    counts = audit_period(con, period, policy, run_id, checks)
    get_run_logger().info("audit %s: %s", period, json.dumps(counts))
    return counts


@task(name="recommend", cache_policy=NO_CACHE)
def recommend(con, period: str, policy: Policy, officer: str, run_id: str) -> dict:
    recs = recommend_period(con, period, policy, prepared_by=officer, run_id=run_id)
    by_action = recs["action"].value_counts().sort_index().to_dict() if len(recs) else {}
    get_run_logger().info("recommend %s: %s", period, json.dumps(by_action))
    return {str(k): int(v) for k, v in by_action.items()}


@task(name="report", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def report(con, period: str, reports_dir: str, policy: Policy, run_id: str, started, timings: dict) -> tuple[list[str], str]:
    files, md = write_period_reports(con, period, Path(reports_dir), policy, run_id, started, {"stage_seconds": timings})
    get_run_logger().info("report %s: %d files in %s", period, len(files), Path(reports_dir) / period)
    return [str(f) for f in files], md


def artifact_markdown(period: str, summary_md: str, files: list[str], counts: dict, timings: dict,
                      error: str | None = None) -> str:
    lines = [summary_md.strip() or f"# dpaudit run {period}", ""]
    if error:
        lines += ["## Reports were not written", "", f"{error}", "",
                  "Findings and recommendations are stored; write the reports again with "
                  f"`dpaudit report --period {period}`.", ""]
    lines += ["## Report files", ""]
    lines += [f"- [{Path(f).name}]({Path(f).resolve().as_uri()})" for f in files] or ["- (none)"]
    lines += ["", "## Stage times", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in timings.items()]
    lines += ["", "## Counts", "", "```json", json.dumps(counts, indent=1, sort_keys=True, default=str), "```"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ flow
def _run_name() -> str:
    from prefect.runtime import flow_run

    return f"month-{flow_run.parameters.get('period') or default_period()}"


@flow(name="dpaudit-monthly", flow_run_name=_run_name, log_prints=True)
def monthly_reconciliation(data_dir: str, period: Optional[str] = None, reports_dir: str = "reports",
                           db_path: Optional[str] = None, policy_path: Optional[str] = None,
                           officer: Optional[str] = None, wait_seconds: float = 0.0,
                           batch_size: int = DEFAULT_BATCH) -> dict:
    """Reconcile one month (default: the previous calendar month) and write its reports."""
    logger = get_run_logger()
    period = period or default_period()
    parse_period(period)
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"the data folder {root} does not exist; run 'dpaudit init {root}' to create one")
    policy = resolve_policy(root, policy_path)
    db = Path(db_path) if db_path else default_db(root)
    run_id = run_id_for("month", period, policy)
    started = now_utc()
    timings: dict[str, float] = {}
    counts: dict[str, Any] = {}
    with open_store(db, wait_seconds=wait_seconds) as con:
        con.execute("INSERT INTO runs VALUES (?, 'month', ?, ?, NULL, 'running', ?, ?, ?, NULL)",
                    [run_id, period, started, policy.version, policy.digest, __version__])
        t0 = time.perf_counter()
        plan = ist.plan_statement_files(con, root, period)
        futures = [parse_statements.submit(str(root), period, batch, policy, started)
                   for batch in _batches(plan, max(1, batch_size))]
        parsed = [f.result() for f in futures]
        timings["parse"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        st_counts = load_statements(con, period, parsed)
        in_counts, checks = ingest(con, str(root), period, policy)
        counts.update(in_counts)
        counts.update(st_counts)  # the parallel load did the statement work; ingest_period only re-checked it
        timings["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        counts.update(audit(con, period, policy, run_id, checks))
        timings["audit"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        counts["recommendations"] = recommend(con, period, policy, officer_name(officer), run_id)
        timings["recommend"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        state = report(con, period, str(reports_dir), policy, run_id, started, dict(timings), return_state=True)
        timings["report"] = time.perf_counter() - t0
        error = None
        if state.is_completed():
            out_files, md = state.result()
        else:
            out_files, md = [], ""
            error = f"The report stage failed: {state.message}"
            logger.error(error)
        con.execute("UPDATE runs SET finished_at = ?, status = ?, counts_json = ? WHERE run_id = ?",
                    [now_utc(), "ok" if error is None else "report_failed",
                     json.dumps(counts, sort_keys=True, default=str), run_id])
        con.execute("CHECKPOINT")
    create_markdown_artifact(markdown=artifact_markdown(period, md, out_files, counts, timings, error),
                             key=f"dpaudit-month-{period}", description=f"dpaudit monthly reconciliation {period}")
    result = {"run_id": run_id, "period": period, "db_path": str(db), "reports_dir": str(Path(reports_dir) / period),
              "files": out_files, "counts": counts, "timings": timings}
    if error:
        raise RuntimeError(f"{error} (findings and recommendations of {period} are stored; run_id {run_id})")
    return result


if __name__ == "__main__":  # pragma: no cover - manual run: python flows/monthly.py DATA [PERIOD]
    import sys

    print(monthly_reconciliation(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
