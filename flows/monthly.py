"""The monthly reconciliation flow: ingest → validate → audit → recommend → report for one month.

A thin wrapper over :mod:`dpaudit.pipeline`; the stage order is the same as ``run_period``:

1. ``parse-statements`` (one task per batch of recipients, submitted to the flow's task runner:
   threads by default, a Dask cluster with :func:`dask_runner`): hash and parse each recipient's
   bank statement files and build their store rows.  Pure work: no database.  A file that cannot
   be read is carried as a reason and quarantined at load; one recipient's bad file never stops
   the others.
2. ``load-statements``: the single writer decides (new, duplicate, re-read after quarantine) and
   loads the parsed files in inbox order, in batched transactions, with the same rules as
   :func:`dpaudit.ingest_statements.ingest_statements` (whose private ``_read``, ``_file_rows``
   and ``_write_batch`` it reuses).
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
from dpaudit import ingest_statements as ist
from dpaudit.dates import parse_period, previous_period
from dpaudit.pipeline import (officer_name, audit_period, default_db, ingest_period, resolve_policy, run_id_for,
                              write_period_reports)
from dpaudit.policy import Policy
from dpaudit.readers.bank_csv import load_profiles
from dpaudit.readers.tabular import UnreadableFile
from dpaudit.recommend import recommend_period
from dpaudit.store import insert_df, now_utc, open_store, transaction

STATEMENT_COUNT_KEYS = ("files_seen", "files_ingested", "files_quarantined", "files_duplicate", "txns_read",
                        "txns_new", "rows_rejected")
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


def _batches(files: list[tuple[str, Path]], batch_size: int) -> list[list[tuple[str, Path]]]:
    """Whole recipients per batch (a recipient's files stay together, in inbox order)."""
    out: list[list[tuple[str, Path]]] = []
    cur: list[tuple[str, Path]] = []
    rids: set[str] = set()
    for rid, path in files:
        if rid not in rids and len(rids) >= batch_size:
            out.append(cur)
            cur, rids = [], set()
        rids.add(rid)
        cur.append((rid, path))
    if cur:
        out.append(cur)
    return out


# ------------------------------------------------------------------------------------------ tasks
@task(name="parse-statements", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def parse_statements(data_dir: str, period: str, files: list[tuple[str, str]], seen_paths: dict[str, str],
                     known_files: dict[str, tuple[str, str]], policy: Policy, now) -> list[dict[str, Any]]:
    """Hash, parse and build the store rows of a batch of statement files (no database).

    ``seen_paths``/``known_files`` are the store's state when the flow started; a file whose content
    is already known is not parsed (the loader decides what it is), a file quarantined before at
    the same path is read again (a council may have added the bank profile it lacked).
    """
    root = Path(data_dir)
    profiles = load_profiles(root)
    out = []
    for rid, p in files:
        path = Path(p)
        rel = path.relative_to(root).as_posix()
        sha = ist._sha256(path)
        size = path.stat().st_size
        item: dict[str, Any] = {"rid": rid, "rel": rel, "sha": sha, "rows": None, "readable": False}
        known = known_files.get(sha)
        retry = known == (rel, "quarantined")
        if (seen_paths.get(rel) == sha and not retry) or (known and not retry):
            out.append(item)
            continue
        statements, reason = None, None
        try:
            statements = ist._read(path, profiles, policy)
        except UnreadableFile as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a reader bug quarantines the file, never stops the run
            reason = (f"{path.name} could not be read ({type(exc).__name__}: {str(exc)[:150]}); "
                      f"report this file to the dpaudit maintainers")
        item["readable"] = statements is not None
        item["rows"] = ist._file_rows(rel, sha, size, rid, period, statements, reason, now)
        out.append(item)
    return out


@task(name="load-statements", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def load_statements(con, period: str, items: list[dict[str, Any]], seen_paths: dict[str, str],
                    known_files: dict[str, tuple[str, str]], now) -> dict:
    """Single writer: decide and load the parsed files in inbox order, with the same rules and
    batched writes as :func:`dpaudit.ingest_statements.ingest_statements`."""
    ist._ensure_tables(con)
    known_files = dict(known_files)
    counts = dict.fromkeys(STATEMENT_COUNT_KEYS, 0)
    batch: list[tuple[dict, bool]] = []

    def flush() -> None:
        counts["txns_new"] += ist._write_batch(con, batch)
        batch.clear()

    for it in items:
        counts["files_seen"] += 1
        rel, sha, rid = it["rel"], it["sha"], it["rid"]
        known = known_files.get(sha)
        retry = known == (rel, "quarantined")
        if seen_paths.get(rel) == sha and not retry:
            continue
        if retry:
            if not it["readable"]:
                continue  # still unreadable: its quarantine row stands
            rows = it["rows"]
            batch.append((rows, True))
            counts["files_ingested"] += 1
        elif known:
            counts["files_duplicate"] += 1
            batch.append(({"files": pd.DataFrame(), "paths": {"path": rel, "sha256": sha, "recipient_id": rid,
                           "period": period, "first_seen": now}, "statements": [], "totals": [], "frames": [],
                           "quarantine": [], "read": 0}, False))
            continue
        else:
            if it["rows"] is None:  # cannot happen while this flow holds the lock; fail loudly if it does
                raise RuntimeError(f"{rel} was skipped at parse time but is unknown to the store at load time")
            rows = it["rows"]
            batch.append((rows, False))
            known_files[sha] = (rel, "ingested" if it["readable"] else "quarantined")
            counts["files_ingested" if it["readable"] else "files_quarantined"] += 1
        counts["txns_read"] += rows["read"]
        counts["rows_rejected"] += len(rows["quarantine"])
        if len(batch) >= ist.WRITE_BATCH_FILES:
            flush()
    flush()
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
        files = ist.statement_files(root, period)
        ist._ensure_tables(con)
        seen_paths = dict(con.execute("SELECT path, sha256 FROM file_paths WHERE period = ?", [period]).fetchall())
        known_files = {sha: (path, status) for sha, path, status in
                       con.execute("SELECT sha256, path, status FROM files").fetchall()}
        futures = [parse_statements.submit(str(root), period, [(rid, str(p)) for rid, p in batch], seen_paths,
                                           known_files, policy, started)
                   for batch in _batches(files, max(1, batch_size))]
        parsed = [item for f in futures for item in f.result()]
        timings["parse"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        st_counts = load_statements(con, period, parsed, seen_paths, known_files, started)
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
