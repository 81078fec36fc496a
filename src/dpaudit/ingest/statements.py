"""Bank statements in the inbox → store (counted once), and quarantine.

``ingest_statements`` scans ``<data>/inbox/<period>/<recipient_id>/`` for OFX/QFX files and
CSV/XLSX bank exports (not the evidence files ``receipts``/``payslips``/``hmrc``/``invoices``,
not scans).  Each file is loaded in one store transaction (a kill -9 leaves no half file) and
every load is an idempotent upsert:

* the same path with the same SHA-256 is skipped (a re-run adds nothing);
* the same content at another path is a ``DQ-DUPLICATE-FILE`` (nothing counted twice);
* transactions are keyed by ``txn_id`` (OFX: bank id | account | FITID; CSV/XLSX: account |
  date | amount | description | ordinal among identical rows that day in that file), so
  overlapping statements count once and two genuine identical same-day payments are both kept.

What the audit says about them (rejected rows, duplicate files, statement coverage, balance
breaks, the wrong account) is in the DQ rules of :mod:`dpaudit.audit.rules.dq`, derived from the
store, so a re-run reports the same findings with the same exception ids.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dpaudit.core import checkpoint
from dpaudit import store
from dpaudit.core.dates import parse_period
from dpaudit.core.mask import account_digits, mask_text, mask_value
from dpaudit.ingest.workers import Workers, require_visible
from dpaudit.core.policy import Policy
from dpaudit.ingest.readers.bank_csv import Profile, load_profiles, read_bank_tables
from dpaudit.ingest.inbox import Inbox, known_recipients, scan_inbox
from dpaudit.ingest.readers.ofx import read_ofx
from dpaudit.ingest.readers.statement import ParsedStatement
from dpaudit.ingest.readers.tabular import UnreadableFile, file_sha256
from dpaudit.ingest.remote import RemoteSource, fetch_missing
from dpaudit.ingest.schemas import RejectLimits, quarantine_id

KIND = "statement"
OFX_FORMATS = ("ofx1", "ofx2", "qfx")


def statement_files(data_dir: Path, period: str, inbox: Inbox | None = None) -> list[tuple[str, Path]]:
    """(recipient_id, path) of every statement file in the period's inbox, in a stable order
    (:func:`dpaudit.ingest.inbox.scan_inbox`: links are never followed)."""
    return (inbox or scan_inbox(Path(data_dir), period)).files["statement"]


def _account_key(st: ParsedStatement, recipient_id: str) -> str:
    """The account part of a CSV txn_id: sort code + account digits, or the recipient when the
    export gives no usable (unmasked) account, so two recipients' identical rows never merge."""
    acct = str(st.account_number or "")
    if "*" in acct or len(account_digits(acct)) < 6:
        return f"recipient:{recipient_id}"
    return account_digits(st.sort_code) + account_digits(acct)


def _key_prefix(st: ParsedStatement, recipient_id: str) -> str:
    if st.source_format in OFX_FORMATS:
        return f"{st.bank_id}|{st.account_number}|"
    return _account_key(st, recipient_id)


def _txn_ids(t: pd.DataFrame, stmt_key: np.ndarray, prefix: np.ndarray, is_ofx: np.ndarray) -> list[str]:
    """Stable transaction ids for the rows of many statements (see module docstring).

    ``stmt_key`` numbers the statement of each row; ``prefix``/``is_ofx`` give its key prefix and
    whether it is OFX (keyed by FITID) or a CSV/XLSX export (keyed by date, amount, description)."""
    if not len(t):
        return []
    sk = pd.Series(stmt_key, index=t.index)
    fitid = t["fitid"].fillna("").astype(object)
    day = t["posted_date"].dt.strftime("%Y-%m-%d").astype(object)
    amt = t["amount_pence"].astype("int64").astype(str).astype(object)
    desc = t["description"].fillna("").astype(object)
    # a FITID reused inside one statement is another transaction; so is a repeated identical CSV row
    nth_ofx = pd.DataFrame({"k": sk, "f": fitid}).groupby(["k", "f"], sort=False).cumcount().to_numpy()
    nth_csv = pd.DataFrame({"k": sk, "d": day, "a": amt, "s": desc}).groupby(["k", "d", "a", "s"], sort=False).cumcount().to_numpy()
    keys = [p + f + ("" if n == 0 else f"#{n}") if o else f"{p}|{d}|{a}|{s}|{m}"
            for p, o, f, n, d, a, s, m in zip(prefix, is_ofx, fitid, nth_ofx, day, amt, desc, nth_csv)]
    return [hashlib.sha256(k.encode("utf-8")).hexdigest() for k in keys]


# ---- the three steps of loading statement files: plan (store), prepare (pure), load (store) -------

@dataclass(frozen=True)
class StatementFile:
    """One statement file of the inbox and what to do with it, given what the store holds.

    ``action``: ``read`` (content never seen), ``retry`` (quarantined before at this path: a council
    may have added the bank profile it lacked, so it is read again), ``duplicate`` (the same content
    was already read from another path) or ``skip`` (this path with this content is loaded)."""

    recipient_id: str
    path: Path
    rel: str
    sha256: str
    size: int
    action: str
    dup_of: str | None = None  # a duplicate's first path


@dataclass
class PreparedStatements:
    """The store rows of a batch of planned statement files, built without the database."""

    files: pd.DataFrame          # file records; ``_replace`` marks a re-read of a quarantined file
    paths: pd.DataFrame          # every path seen (new, re-read and duplicate)
    statements: pd.DataFrame
    totals: pd.DataFrame
    transactions: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict = field(default_factory=dict)


COUNT_KEYS = ("files_seen", "files_ingested", "files_quarantined", "files_duplicate", "txns_read", "txns_new",
              "rows_rejected", "card_rows_declined", "card_rows_reversed", "card_rows_authorised_then_settled")
# prepaid-card rows that are valid but moved no money (ParsedStatement.not_counted): reason -> count key
NOT_COUNTED_KEYS = {"declined": "card_rows_declined", "reversed": "card_rows_reversed",
                    "authorised_then_settled": "card_rows_authorised_then_settled"}


def plan_statement_files(con: duckdb.DuckDBPyConnection, data_dir: Path, period: str,
                         inbox: Inbox | None = None) -> list[StatementFile]:
    """Every statement file of the period's inbox, in inbox order, with its action (see
    :class:`StatementFile`).  A second copy of a new file's content in the same inbox is a duplicate."""
    parse_period(period)
    data_dir = Path(data_dir)
    seen_paths = dict(con.execute("SELECT path, sha256 FROM file_paths WHERE period = ?", [period]).fetchall())
    known = {sha: (path, status) for sha, path, status in con.execute("SELECT sha256, path, status FROM files").fetchall()}
    out: list[StatementFile] = []
    inbox = inbox or scan_inbox(data_dir, period, known_recipients(con))
    for rid, path in statement_files(data_dir, period, inbox):
        rel = path.relative_to(data_dir).as_posix()
        sha = file_sha256(path)
        k = known.get(sha)
        retry = k == (rel, "quarantined")
        if seen_paths.get(rel) == sha and not retry:
            action = "skip"
        elif retry:
            action = "retry"
        elif k:
            action = "duplicate"
        else:
            action = "read"
            known[sha] = (rel, "new")
        out.append(StatementFile(rid, path, rel, sha, path.stat().st_size, action,
                                 k[0] if action == "duplicate" and k else None))
    return out


def _read_files(files: list[StatementFile], profiles: list[Profile], policy: Policy) -> list[list[ParsedStatement] | Exception]:
    """Statements of each file (OFX one by one; CSV/XLSX exports of one layout together), or the
    exception that makes it unreadable."""
    max_bytes = int(policy.threshold("max_file_bytes"))
    out: list[list[ParsedStatement] | Exception | None] = [None] * len(files)
    tables = []
    for i, f in enumerate(files):
        if f.path.suffix.lower() in (".ofx", ".qfx"):
            try:
                out[i] = read_ofx(f.path, max_bytes)
            except Exception as exc:  # noqa: BLE001 - quarantined by the caller, never stops the run
                out[i] = exc
        else:
            tables.append(i)
    read = read_bank_tables([files[i].path for i in tables], profiles, max_bytes=max_bytes,
                            max_uncompressed=int(policy.threshold("max_xlsx_uncompressed_bytes")),
                            max_ratio=int(policy.threshold("max_xlsx_ratio")))
    for i, r in zip(tables, read):
        out[i] = r if isinstance(r, Exception) else [r]
    return out  # type: ignore[return-value]


def _unreadable_reason(f: StatementFile, exc: Exception) -> str:
    if isinstance(exc, UnreadableFile):
        return str(exc)
    return (f"{f.path.name} could not be read ({type(exc).__name__}: {str(exc)[:150]}); report this file to the "
            f"dpaudit maintainers")


def prepare_statement_files(data_dir: Path, period: str, files: list[StatementFile], policy: Policy, now,
                            profiles: list[Profile] | None = None) -> PreparedStatements:
    """Read the planned files and build their store rows (pure: safe to run on a worker)."""
    profiles = load_profiles(Path(data_dir)) if profiles is None else profiles
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts["files_seen"] = len(files)
    todo = [f for f in files if f.action in ("read", "retry")]
    require_visible(f.path for f in todo)
    limits = RejectLimits.from_policy(policy)
    parsed = dict(zip((f.rel for f in todo), _read_files(todo, profiles, policy)))
    file_rows, path_rows, stmt_rows, quarantine = [], [], [], []
    frames, sk_len, prefixes, ofx_flags, stmt_meta = [], [], [], [], []
    for f in files:
        if f.action == "skip":
            continue
        path_row = {"path": f.rel, "sha256": f.sha256, "recipient_id": f.recipient_id, "period": period, "first_seen": now,
                    "dup_of": f.dup_of}
        if f.action == "duplicate":
            counts["files_duplicate"] += 1
            path_rows.append(path_row)
            continue
        result = parsed[f.rel]
        statements = None if isinstance(result, Exception) else result
        too_many = None
        if statements is not None:  # a file of mostly bad rows is rejected whole, as one finding
            rejects = [r for st in statements for r in st.rejects]
            n_bad = len({(i, r[0]) for i, st in enumerate(statements) for r in st.rejects})  # rows, not cells
            # a card export's rows that moved no money are valid rows of the file too
            n_rows = sum(len(st.transactions) + sum(st.not_counted.values()) for st in statements) + n_bad
            if limits.too_many(n_bad, n_rows):
                too_many = limits.reason("", n_bad, n_rows,
                                         [f"row {row}, column {col}: {mask_value(why, 'reason')}"
                                          for row, col, _raw, why in rejects])
                statements = None
        if statements is None and f.action == "retry":
            continue  # still unreadable: its quarantine row stands
        path_rows.append(path_row)
        reason = None
        n_quarantine = len(quarantine)
        read = 0
        if statements is None:
            reason = too_many or mask_text(_unreadable_reason(f, result))
            quarantine.append({"q_id": quarantine_id(f.rel, None, ""), "path": f.rel, "file_sha256": f.sha256, "kind": KIND,
                               "recipient_id": f.recipient_id, "period": period, "row_no": None, "column_name": "",
                               "value_masked": "", "reason": reason})
        else:
            for idx, st in enumerate(statements):
                t = st.transactions
                read += len(t)
                for row, col, raw, why in st.rejects:
                    quarantine.append({"q_id": quarantine_id(f.rel, row, f"{idx}:{col}" if idx else col), "path": f.rel,
                                       "file_sha256": f.sha256, "kind": KIND, "recipient_id": f.recipient_id,
                                       "period": period, "row_no": row, "column_name": col,
                                       "value_masked": mask_value(raw, col), "reason": mask_value(why, "reason")})
                stmt_rows.append({"file_sha256": f.sha256, "stmt_index": idx, "recipient_id": f.recipient_id,
                                  "period": period, "source_format": st.source_format, "profile": st.profile,
                                  "bank_id": st.bank_id, "sort_code": st.sort_code, "account_number": st.account_number,
                                  "currency": st.currency, "start_date": st.start_date, "end_date": st.end_date,
                                  "opening_balance_pence": st.opening_balance_pence,
                                  "closing_balance_pence": st.closing_balance_pence, "n_txns": len(t),
                                  "_n_rejected": len(st.rejects), "_n_not_counted": sum(st.not_counted.values())})
                for why, n in st.not_counted.items():
                    counts[NOT_COUNTED_KEYS[why]] += n
                frames.append(t)
                sk_len.append(len(t))
                prefixes.append(_key_prefix(st, f.recipient_id))
                ofx_flags.append(st.source_format in OFX_FORMATS)
                stmt_meta.append((f.recipient_id, st.sort_code, st.account_number, f.sha256, idx))
        counts["files_quarantined" if statements is None else "files_ingested"] += 1
        counts["txns_read"] += read
        counts["rows_rejected"] += len(quarantine) - n_quarantine
        file_rows.append({"sha256": f.sha256, "path": f.rel, "kind": KIND, "recipient_id": f.recipient_id,
                          "period": period, "format": None if statements is None else statements[0].source_format,
                          "profile": None if statements is None else statements[0].profile,
                          "status": "quarantined" if statements is None else "ingested", "reason": reason,
                          "size_bytes": f.size, "rows_read": read, "rows_rejected": len(quarantine) - n_quarantine,
                          "ingested_at": now, "_replace": f.action == "retry"})
    txns = _batch_transactions(frames, sk_len, prefixes, ofx_flags, stmt_meta, period)
    statements_df = pd.DataFrame(stmt_rows)
    totals = pd.DataFrame(columns=["file_sha256", "stmt_index", "sum_amount_pence", "n_read", "n_rejected",
                                   "n_not_counted"])
    if len(statements_df):
        sums = (txns.groupby(["file_sha256", "stmt_index"])["amount_pence"].sum() if len(txns)
                else pd.Series(dtype="int64"))
        key = pd.MultiIndex.from_frame(statements_df[["file_sha256", "stmt_index"]])
        totals = statements_df[["file_sha256", "stmt_index"]].assign(
            sum_amount_pence=sums.reindex(key).fillna(0).astype("int64").to_numpy(),
            n_read=statements_df["n_txns"], n_rejected=statements_df.pop("_n_rejected"),
            n_not_counted=statements_df.pop("_n_not_counted"))
    return PreparedStatements(files=pd.DataFrame(file_rows), paths=pd.DataFrame(path_rows), statements=statements_df,
                              totals=totals, transactions=txns, quarantine=pd.DataFrame(quarantine), counts=counts)


def _batch_transactions(frames: list[pd.DataFrame], sk_len: list[int], prefixes: list[str], ofx_flags: list[bool],
                        stmt_meta: list[tuple], period: str) -> pd.DataFrame:
    """One frame of every statement's transactions with their store columns and txn_id."""
    frames = [t for t in frames if len(t)]
    if not frames:
        return pd.DataFrame()
    t = pd.concat(frames, ignore_index=True)
    sk = np.repeat(np.arange(len(sk_len)), sk_len)
    t["txn_id"] = _txn_ids(t, sk, np.array(prefixes, dtype=object)[sk], np.array(ofx_flags, dtype=bool)[sk])
    meta = np.array(stmt_meta, dtype=object)[sk]
    for j, col in enumerate(("recipient_id", "sort_code", "account_number", "file_sha256", "stmt_index")):
        t[col] = meta[:, j]
    t["stmt_index"] = t["stmt_index"].astype("int64")
    t["posted_date"] = t["posted_date"].dt.date
    t["period"] = period
    return _plain(t)


def load_prepared(con: duckdb.DuckDBPyConnection, prepared: PreparedStatements) -> int:
    """Write a prepared batch in one transaction (all or nothing); return the new transactions."""
    pr = prepared
    if not len(pr.paths):
        return 0
    with store.transaction(con):
        con.register("_dpaudit_paths", pr.paths[["path"]])
        con.execute("DELETE FROM quarantine WHERE path IN (SELECT path FROM _dpaudit_paths)")  # a path whose content changed
        con.unregister("_dpaudit_paths")
        if len(pr.files):
            for replace in (False, True):
                part = pr.files[pr.files["_replace"] == replace]
                store.insert_df(con, "files", part, on_conflict="REPLACE" if replace else "NOTHING")
        store.insert_df(con, "file_paths", pr.paths, on_conflict="REPLACE")
        store.insert_df(con, "statements", pr.statements)
        store.insert_df(con, "statement_totals", pr.totals)
        new = store.insert_df(con, "transactions", pr.transactions)
        store.insert_df(con, "quarantine", pr.quarantine, on_conflict="REPLACE")
        checkpoint.reached("statements.batch_written")
    checkpoint.reached("statements.batch_committed")
    return new


WRITE_BATCH_FILES = 500  # files prepared and written per transaction


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects (None for NA): DuckDB scans them faster than pandas 'string'."""
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.StringDtype):
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame


def ingest_statements(con: duckdb.DuckDBPyConnection, data_dir: Path, period: str, policy: Policy,
                      pool: Workers | None = None) -> dict:
    """Load every statement file of ``<data_dir>/inbox/<period>``; return the counts.

    Plan (what the store already holds), then prepare and load the files in batches of
    :data:`WRITE_BATCH_FILES` in inbox order (prepared on worker processes when there are many:
    ``pool``, or workers started for this call).  The monthly flow runs the same three steps with
    the preparing spread over its task runner."""
    data_dir = Path(data_dir)
    plan = plan_statement_files(con, data_dir, period)
    with contextlib.ExitStack() as stack:
        pool = pool or stack.enter_context(Workers())
        counts = load_statement_batches(con, submit_statement_files(pool, data_dir, period, plan, policy))
    return counts


def submit_statement_files(pool: Workers, data_dir: Path, period: str, plan: list[StatementFile],
                           policy: Policy, source: RemoteSource | None = None) -> Iterator[PreparedStatements]:
    """Send the planned files to be prepared in batches; the prepared batches, in inbox order.
    ``source``: where a worker that cannot see a planned file fetches it (a data folder URL)."""
    data_dir = Path(data_dir)
    profiles = load_profiles(data_dir)
    now = store.now_utc()
    size = getattr(pool, "chunk_files", WRITE_BATCH_FILES)  # a pool may ask for smaller chunks (the flow's tasks)
    chunks = [plan[i:i + size] for i in range(0, len(plan), size)]
    to_read = sum(f.action in ("read", "retry") for f in plan)
    return pool.submit(_prepare_chunk, chunks, data_dir, period, policy, now, profiles, source,
                       parallel=to_read > size)


def load_statement_batches(con: duckdb.DuckDBPyConnection, batches: Iterable[PreparedStatements]) -> dict:
    """Load prepared batches in order, one transaction each; return the counts."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for prepared in batches:
        prepared.counts["txns_new"] = load_prepared(con, prepared)
        add_counts(counts, prepared.counts)
    checkpoint.reached("statements.loaded")
    return counts


def _prepare_chunk(files: list[StatementFile], data_dir: Path, period: str, policy: Policy, now,
                   profiles: list[Profile], source: RemoteSource | None = None) -> PreparedStatements:
    if source is not None:  # a worker on another machine fetches its files from the data folder's URL
        todo = [f for f in files if f.action in ("read", "retry")]
        where = fetch_missing([f.path for f in todo], [f.sha256 for f in todo], source)
        files = [replace(f, path=where.get(Path(f.path), f.path)) for f in files]
    return prepare_statement_files(data_dir, period, files, policy, now, profiles)


def add_counts(total: dict, part: dict) -> dict:
    for k in COUNT_KEYS:
        total[k] = total.get(k, 0) + int(part.get(k, 0))
    return total
