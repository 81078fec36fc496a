"""The DuckDB store: the only module that opens database connections.

Grain and keys of every table are documented in ``docs/architecture.md``.  Money columns are
``BIGINT`` pence, never DOUBLE.  Writes happen inside transactions; a process killed mid-load
leaves only committed transactions, and every load is an idempotent upsert, so a re-run
completes the work with nothing lost or counted twice.

DuckDB lets one process open a file for writing; :func:`open_store` turns the second opener's
lock error into :class:`StoreLocked` (after waiting ``wait_seconds``) with a plain message.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from dpaudit.core import checkpoint

log = logging.getLogger(__name__)

# Versioned migrations: append, never edit a released one.
MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR, period VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    status VARCHAR, policy_version VARCHAR, policy_digest VARCHAR, code_version VARCHAR, counts_json VARCHAR);
-- one row per distinct file content ever seen
CREATE TABLE IF NOT EXISTS files (
    sha256 VARCHAR PRIMARY KEY, path VARCHAR, kind VARCHAR, recipient_id VARCHAR, period VARCHAR,
    format VARCHAR, profile VARCHAR, status VARCHAR, reason VARCHAR, size_bytes BIGINT,
    rows_read INTEGER, rows_rejected INTEGER, ingested_at TIMESTAMP);
-- one row per path a file was found at (a second path with a known sha256 is a duplicate file)
CREATE TABLE IF NOT EXISTS file_paths (
    path VARCHAR PRIMARY KEY, sha256 VARCHAR, recipient_id VARCHAR, period VARCHAR, first_seen TIMESTAMP);
-- one row per account statement inside a statement file
CREATE TABLE IF NOT EXISTS statements (
    file_sha256 VARCHAR, stmt_index INTEGER, recipient_id VARCHAR, period VARCHAR, source_format VARCHAR,
    profile VARCHAR, bank_id VARCHAR, sort_code VARCHAR, account_number VARCHAR, currency VARCHAR,
    start_date DATE, end_date DATE, opening_balance_pence BIGINT, closing_balance_pence BIGINT,
    n_txns INTEGER, PRIMARY KEY (file_sha256, stmt_index));
-- one row per bank transaction, counted once however many statements show it
CREATE TABLE IF NOT EXISTS transactions (
    txn_id VARCHAR PRIMARY KEY, recipient_id VARCHAR, sort_code VARCHAR, account_number VARCHAR,
    posted_date DATE, amount_pence BIGINT, description VARCHAR, payee VARCHAR, txn_type VARCHAR,
    mcc VARCHAR, balance_pence BIGINT, fitid VARCHAR, file_sha256 VARCHAR, stmt_index INTEGER,
    position INTEGER, period VARCHAR);
CREATE TABLE IF NOT EXISTS quarantine (
    q_id VARCHAR PRIMARY KEY, path VARCHAR, file_sha256 VARCHAR, kind VARCHAR, recipient_id VARCHAR,
    period VARCHAR, row_no INTEGER, column_name VARCHAR, value_masked VARCHAR, reason VARCHAR);
-- reference data: a snapshot per table, replaced whole when its file changes
CREATE TABLE IF NOT EXISTS reference_files (table_name VARCHAR PRIMARY KEY, sha256 VARCHAR, path VARCHAR, loaded_at TIMESTAMP, rows_loaded INTEGER, rows_rejected INTEGER);
CREATE TABLE IF NOT EXISTS recipients (
    recipient_id VARCHAR PRIMARY KEY, child_name VARCHAR, date_of_birth DATE, management_type VARCHAR,
    sort_code VARCHAR, account_number VARCHAR, account_holder VARCHAR, dp_start_date DATE, dp_end_date DATE,
    status VARCHAR, stop_requested VARCHAR, support_officer VARCHAR, young_person_declines VARCHAR);
CREATE TABLE IF NOT EXISTS plan_lines (
    recipient_id VARCHAR, line_id VARCHAR, category VARCHAR, description VARCHAR, annual_amount_pence BIGINT,
    funding_stream VARCHAR, management_type VARCHAR, valid_from DATE, valid_to DATE, school_setting VARCHAR,
    setting_consent_date DATE, providers VARCHAR, PRIMARY KEY (recipient_id, line_id));
CREATE TABLE IF NOT EXISTS payment_schedule (
    recipient_id VARCHAR, due_date DATE, amount_pence BIGINT, reference VARCHAR, PRIMARY KEY (recipient_id, due_date, reference));
CREATE TABLE IF NOT EXISTS employees (
    recipient_id VARCHAR, employee_id VARCHAR, name VARCHAR, ni_number VARCHAR, date_of_birth DATE,
    hourly_rate_pence BIGINT, start_date DATE, end_date DATE, dbs_number VARCHAR, dbs_issue_date DATE,
    payee_names VARCHAR, PRIMARY KEY (recipient_id, employee_id));
CREATE TABLE IF NOT EXISTS insurance (
    recipient_id VARCHAR, policy_number VARCHAR, insurer VARCHAR, cover_start DATE, cover_end DATE,
    employers_liability VARCHAR, PRIMARY KEY (recipient_id, policy_number));
CREATE TABLE IF NOT EXISTS providers (name VARCHAR PRIMARY KEY, aliases VARCHAR, category VARCHAR, registered VARCHAR);
-- evidence: one row per document, keyed by its natural key so resubmissions count once
CREATE TABLE IF NOT EXISTS receipts (
    recipient_id VARCHAR, receipt_id VARCHAR, date DATE, supplier VARCHAR, amount_pence BIGINT,
    description VARCHAR, category VARCHAR, attachment VARCHAR, period VARCHAR, file_sha256 VARCHAR, row_no INTEGER,
    PRIMARY KEY (recipient_id, receipt_id));
CREATE TABLE IF NOT EXISTS invoices (
    recipient_id VARCHAR, invoice_id VARCHAR, supplier VARCHAR, invoice_date DATE, period_start DATE,
    period_end DATE, amount_pence BIGINT, hours DECIMAL(10,2), period VARCHAR, file_sha256 VARCHAR, row_no INTEGER,
    PRIMARY KEY (recipient_id, invoice_id));
CREATE TABLE IF NOT EXISTS payslips (
    recipient_id VARCHAR, employee_id VARCHAR, pay_date DATE, period_start DATE, period_end DATE,
    hours DECIMAL(10,2), gross_pence BIGINT, tax_pence BIGINT, employee_ni_pence BIGINT, employer_ni_pence BIGINT,
    pension_employee_pence BIGINT, pension_employer_pence BIGINT, net_pence BIGINT, period VARCHAR,
    file_sha256 VARCHAR, row_no INTEGER, PRIMARY KEY (recipient_id, employee_id, pay_date));
CREATE TABLE IF NOT EXISTS hmrc_payments (
    recipient_id VARCHAR, tax_month VARCHAR, amount_due_pence BIGINT, amount_paid_pence BIGINT, paid_date DATE,
    reference VARCHAR, period VARCHAR, file_sha256 VARCHAR, row_no INTEGER,
    PRIMARY KEY (recipient_id, tax_month, reference));
CREATE TABLE IF NOT EXISTS scans (recipient_id VARCHAR, period VARCHAR, path VARCHAR, sha256 VARCHAR, PRIMARY KEY (recipient_id, sha256));
-- audit results
CREATE TABLE IF NOT EXISTS matches (
    period VARCHAR, txn_id VARCHAR, evidence_kind VARCHAR, evidence_id VARCHAR, matched_pence BIGINT, method VARCHAR);
CREATE TABLE IF NOT EXISTS findings (
    exception_id VARCHAR PRIMARY KEY, run_id VARCHAR, period VARCHAR, recipient_id VARCHAR, rule_id VARCHAR,
    severity VARCHAR, txn_date DATE, amount_pence BIGINT, counterparty VARCHAR, txn_ref VARCHAR, line_id VARCHAR,
    message VARCHAR, clause VARCHAR);
CREATE TABLE IF NOT EXISTS reconciliation (
    period VARCHAR, recipient_id VARCHAR, opening_balance_pence BIGINT, council_credits_pence BIGINT,
    other_credits_pence BIGINT, debits_pence BIGINT, closing_balance_pence BIGINT, evidenced_pence BIGINT,
    unevidenced_pence BIGINT, plan_budget_to_date_pence BIGINT, spend_to_date_pence BIGINT,
    contingency_held_pence BIGINT, contingency_pct DECIMAL(9,2), PRIMARY KEY (period, recipient_id));
CREATE TABLE IF NOT EXISTS recommendations (
    period VARCHAR, recipient_id VARCHAR, action VARCHAR, amount_pence BIGINT, grounds VARCHAR, clauses VARCHAR,
    reasons VARCHAR, respond_by DATE, prepared_by VARCHAR, run_id VARCHAR, PRIMARY KEY (period, recipient_id));
CREATE TABLE IF NOT EXISTS year_end (
    fy INTEGER, recipient_id VARCHAR, annual_dp_value_pence BIGINT, closing_balance_pence BIGINT,
    committed_pence BIGINT, surplus_pence BIGINT, carry_forward_pence BIGINT, repayment_pence BIGINT,
    reasons VARCHAR, run_id VARCHAR, PRIMARY KEY (fy, recipient_id));
-- append-only, hash-chained officer decisions (enforced by the application; see decisions.py)
CREATE TABLE IF NOT EXISTS decisions (
    seq BIGINT PRIMARY KEY, exception_id VARCHAR, decision VARCHAR, officer VARCHAR, decided_at TIMESTAMP,
    note VARCHAR, source VARCHAR, prev_hash VARCHAR, hash VARCHAR);
""",
    # per-statement totals the statement checks need after de-duplication has merged overlapping
    # statements (stores made before it had the table created by the statement loader: IF NOT EXISTS)
    2: """
CREATE TABLE IF NOT EXISTS statement_totals (
    file_sha256 VARCHAR, stmt_index INTEGER, sum_amount_pence BIGINT, n_read INTEGER, n_rejected INTEGER,
    PRIMARY KEY (file_sha256, stmt_index));
""",
    # a path judged a duplicate names the path whose copy it is (NULL: the path was read itself);
    # before this, a duplicate was any path whose content's first path differed
    3: """
ALTER TABLE file_paths ADD COLUMN IF NOT EXISTS dup_of VARCHAR;
UPDATE file_paths SET dup_of = f.path FROM files f
    WHERE f.sha256 = file_paths.sha256 AND f.path <> file_paths.path AND file_paths.dup_of IS NULL;
""",
    # client contributions (issue 18): the reference snapshot of contributions.csv; per recipient and
    # month the contribution credits (part of other_credits, not a reconciliation.csv column); per
    # recipient and year what the council and the family paid in and the family's share of the surplus
    4: """
CREATE TABLE IF NOT EXISTS contributions (
    recipient_id VARCHAR, amount_pence BIGINT, frequency VARCHAR, start_date DATE, end_date DATE,
    PRIMARY KEY (recipient_id, start_date));
ALTER TABLE reconciliation ADD COLUMN IF NOT EXISTS contribution_credits_pence BIGINT;
ALTER TABLE year_end ADD COLUMN IF NOT EXISTS council_in_pence BIGINT;
ALTER TABLE year_end ADD COLUMN IF NOT EXISTS contributions_in_pence BIGINT;
ALTER TABLE year_end ADD COLUMN IF NOT EXISTS family_share_pence BIGINT;
""",
    # prepaid-card exports: rows of a statement that are valid but moved no money (declined,
    # reversed, an authorisation settled in the same file), kept visible beside the rows read
    5: """
ALTER TABLE statement_totals ADD COLUMN IF NOT EXISTS n_not_counted INTEGER;
""",
    # risk rating per recipient and period (decide.risk, docs/risk.md): replaced whole for a period
    # each time its recommendations are made
    7: """
CREATE TABLE IF NOT EXISTS risk_ratings (
    period VARCHAR, recipient_id VARCHAR, rating VARCHAR, score INTEGER, findings_points INTEGER,
    evidence_points INTEGER, surplus_points INTEGER, statements_points INTEGER, upheld_points INTEGER,
    reasons VARCHAR, next_review DATE, policy_digest VARCHAR, run_id VARCHAR, PRIMARY KEY (period, recipient_id));
""",
}


class StoreLocked(RuntimeError):
    """Another process is writing to the database."""


LOCK_POLL_SECONDS = 0.5


def holder_path(db: Path) -> Path:
    """``<db>.holder``: who holds the database for writing (pid, host, since, what), for the
    message a waiting run gives.  Written after the lock is taken, removed when it is let go."""
    return db.with_name(db.name + ".holder")


def _write_holder(db: Path, what: str) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_utc().isoformat(sep=" "),
            "what": what or " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:4]))}
    with contextlib.suppress(OSError):  # a read-only folder: the message is less precise, nothing else
        holder_path(db).write_text(json.dumps(info), encoding="utf-8")


def _drop_holder(db: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(holder_path(db).read_text(encoding="utf-8")).get("pid") == os.getpid():
            holder_path(db).unlink()


def describe_holder(db: Path) -> str:
    """Who holds ``db``, in words ("month run 2026-01, pid 4242 on host-a since 2026-05-06 06:00:01"),
    or "" when unknown."""
    try:
        info = json.loads(holder_path(db).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return f"{info.get('what') or 'a dpaudit process'}, pid {info.get('pid')} on {info.get('host')} since {info.get('since')} UTC"


def set_holder(con: duckdb.DuckDBPyConnection, what: str) -> None:
    """Say what the writer holding this store is doing (a run's kind and period)."""
    db = db_path_of(con)
    if db is not None:
        _write_holder(db, what)


_DB_OF: dict[int, Path] = {}  # open read-write connection -> its database file


def db_path_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The database file of an open read-write store connection (None for other connections)."""
    return _DB_OF.get(id(con))


def _connect(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    waiting = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            holder = describe_holder(path)
            by = f" ({holder})" if holder else ""
            if time.monotonic() >= deadline:
                raise StoreLocked(
                    f"The database {path} is in use by another dpaudit run{by}. Wait for it to finish "
                    f"(or pass --wait SECONDS) and try again; two runs never write at once.") from exc
            if not waiting:
                waiting = True
                log.warning("The database %s is in use by another dpaudit run%s; waiting up to %g s for it.",
                            path, by, wait_seconds)
                checkpoint.reached("store.waiting_for_lock")
            time.sleep(LOCK_POLL_SECONDS)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations in order, each in its own transaction. Returns the schema version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version in sorted(MIGRATIONS):
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[version])
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, now_utc()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return max(MIGRATIONS)


@contextlib.contextmanager
def open_store(path: Path | str, *, read_only: bool = False, wait_seconds: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (creating and migrating) the store; the connection is the single-writer lock."""
    p = Path(path)
    if not read_only:
        p.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(p, read_only, wait_seconds)
    if not read_only:
        _DB_OF[id(con)] = p
        _write_holder(p, "")
    # DuckDB takes 80% of RAM by default; a council's month needs far less, and a scheduled run
    # shares the machine.  Override with DPAUDIT_DUCKDB_MEMORY (e.g. "4GB").
    con.execute(f"SET memory_limit = '{os.environ.get('DPAUDIT_DUCKDB_MEMORY', '1GB')}'")
    try:
        if not read_only:
            migrate(con)
        yield con
    finally:
        if not read_only:
            _DB_OF.pop(id(con), None)
            _drop_holder(p)
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def compute_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for joins over frames (no file, no lock): the audit's range joins."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{os.environ.get('DPAUDIT_DUCKDB_MEMORY', '1GB')}'")
    return con


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


_COLUMNS_CACHE: dict[str, list[str]] = {}


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table (cached: the schema only changes through MIGRATIONS)."""
    if table not in _COLUMNS_CACHE:
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()]
        if not cols:
            return cols
        _COLUMNS_CACHE[table] = cols
    return _COLUMNS_CACHE[table]


def insert_df(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, *, on_conflict: str = "NOTHING") -> int:
    """Insert a frame into ``table`` by column name (missing columns are NULL).

    ``on_conflict`` is ``"NOTHING"`` (idempotent: a row whose key exists is skipped),
    ``"REPLACE"`` (the row is overwritten) or ``"APPEND"`` (a table without a key).
    Returns the number of rows written.
    """
    if df is None or len(df) == 0:
        return 0
    cols = [c for c in table_columns(con, table) if c in df.columns]
    frame = df[cols]
    con.register("_dpaudit_insert", frame)
    try:
        verb = {"REPLACE": "INSERT OR REPLACE", "APPEND": "INSERT"}.get(on_conflict, "INSERT OR IGNORE")
        col_list = ", ".join(cols)
        res = con.execute(f"{verb} INTO {table} ({col_list}) SELECT {col_list} FROM _dpaudit_insert").fetchall()
    finally:
        con.unregister("_dpaudit_insert")
    return int(res[0][0]) if res else 0


def query_df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()
