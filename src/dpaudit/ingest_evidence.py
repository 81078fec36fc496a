"""Load the monthly evidence files (receipts, invoices, payslips, HMRC) and scans into the store.

Files live in ``<data>/inbox/<YYYY-MM>/<recipient_id>/``.  A file already seen at the same path
with the same content is skipped; the same content at another path is ``DQ-DUPLICATE-FILE``
(counted once).  Rows are validated by :mod:`dpaudit.schemas`; failures are quarantined and
reported as ``DQ-ROW-REJECTED``; valid rows are inserted by their natural key, so a receipt
resubmitted in a later month counts once.  One transaction per file.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .policy import Policy
from .readers.tabular import UnreadableFile, check_size, file_sha256, read_table
from .schemas import quarantine_frame, validate
from .store import insert_df, now_utc, transaction

# file stem -> (schema, store table)
EVIDENCE_FILES: dict[str, tuple[str, str]] = {
    "receipts": ("receipts", "receipts"),
    "invoices": ("invoices", "invoices"),
    "payslips": ("payslips", "payslips"),
    "hmrc": ("hmrc", "hmrc_payments"),
}
SCAN_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png")
_STORE_RENAMES = {"hmrc_payments": {}, "receipts": {}, "invoices": {}, "payslips": {}}
_KEYS = {"receipts": ["recipient_id", "receipt_id"], "invoices": ["recipient_id", "invoice_id"],
         "payslips": ["recipient_id", "employee_id", "pay_date"], "hmrc_payments": ["recipient_id", "tax_month", "reference"]}


def is_evidence_file(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".xlsx") and path.stem.lower() in EVIDENCE_FILES


def _seen(con, rel: str, sha: str) -> str:
    """'same' when this path was loaded with this content, 'duplicate' when the content is known elsewhere."""
    here = con.execute("SELECT sha256 FROM file_paths WHERE path = ?", [rel]).fetchall()
    if here and here[0][0] == sha:
        return "same"
    known = con.execute("SELECT path FROM files WHERE sha256 = ?", [sha]).fetchall()
    return "duplicate" if known else "new"


def ingest_evidence(con, data_dir: Path, period: str, policy: Policy) -> dict:
    """Ingest evidence files and scans of one period; return counts.

    DQ-ROW-REJECTED and DQ-DUPLICATE-FILE findings are derived from the store afterwards
    (:mod:`dpaudit.rules.dq`), so a re-run that skips known files reports them again.
    """
    data_dir = Path(data_dir)
    inbox = data_dir / "inbox" / period
    th = policy.raw["thresholds"]
    counts = {"evidence_files": 0, "evidence_rows": 0, "evidence_rejected": 0, "evidence_duplicates": 0, "scans": 0}
    if not inbox.exists():
        return counts
    for rdir in sorted(p for p in inbox.iterdir() if p.is_dir()):
        rid = rdir.name
        for path in sorted(rdir.iterdir()):
            if not path.is_file():
                continue
            rel = str(path.relative_to(data_dir))
            if path.suffix.lower() in SCAN_SUFFIXES:
                try:
                    check_size(path, th["max_file_bytes"])
                except UnreadableFile:
                    continue
                insert_df(con, "scans", pd.DataFrame([{"recipient_id": rid, "period": period, "path": rel,
                                                         "sha256": file_sha256(path)}]))
                counts["scans"] += 1
                continue
            if not is_evidence_file(path):
                continue
            schema_name, table = EVIDENCE_FILES[path.stem.lower()]
            sha = file_sha256(path)
            state = _seen(con, rel, sha)
            if state == "same":
                continue
            if state == "duplicate":
                counts["evidence_duplicates"] += 1
                with transaction(con):
                    insert_df(con, "file_paths", pd.DataFrame([{"path": rel, "sha256": sha, "recipient_id": rid,
                                                                  "period": period, "first_seen": now_utc()}]), on_conflict="REPLACE")
                continue
            counts["evidence_files"] += 1
            status, reason = "ingested", None
            try:
                tab = read_table(path, sheet_hint=path.stem, max_bytes=th["max_file_bytes"],
                                 max_uncompressed=th["max_xlsx_uncompressed_bytes"], max_ratio=th["max_xlsx_ratio"])
                v = validate(schema_name, tab.frame, path=rel, row_numbers=tab.row_numbers, file_sha256=sha,
                             recipient_id=rid, period=period)
                valid, quarantine = v.valid, v.quarantine
                if tab.formula_cells:
                    bad = {r for r, _, _ in tab.formula_cells}
                    quarantine = pd.concat([quarantine, quarantine_frame([
                        {"path": rel, "file_sha256": sha, "kind": schema_name, "recipient_id": rid, "period": period,
                         "row_no": r, "column_name": c, "value_masked": "(formula)",
                         "reason": f"{rel} row {r}, column {c}: a formula is not accepted as evidence; type the value"}
                        for r, c, _ in tab.formula_cells])], ignore_index=True)
                    valid = valid[~valid["row_no"].isin(bad)]
                rows_read = v.rows_read
            except UnreadableFile as exc:
                status, reason = "quarantined", str(exc)
                valid, rows_read = None, 0
                quarantine = quarantine_frame([{"path": rel, "file_sha256": sha, "kind": schema_name, "recipient_id": rid,
                                                "period": period, "row_no": 0, "column_name": "", "value_masked": "",
                                                "reason": f"{rel}: {exc}"}])
            store_rows = _to_store(table, valid, rid, period, sha) if valid is not None else None
            with transaction(con):
                if store_rows is not None:
                    counts["evidence_rows"] += insert_df(con, table, store_rows)
                insert_df(con, "quarantine", quarantine)
                insert_df(con, "files", pd.DataFrame([{
                    "sha256": sha, "path": rel, "kind": schema_name, "recipient_id": rid, "period": period,
                    "format": path.suffix.lower().lstrip("."), "status": status, "reason": reason,
                    "size_bytes": path.stat().st_size, "rows_read": rows_read, "rows_rejected": len(quarantine),
                    "ingested_at": now_utc()}]))
                insert_df(con, "file_paths", pd.DataFrame([{"path": rel, "sha256": sha, "recipient_id": rid,
                                                              "period": period, "first_seen": now_utc()}]), on_conflict="REPLACE")
            counts["evidence_rejected"] += len(quarantine)
    return counts


def _to_store(table: str, valid: pd.DataFrame, rid: str, period: str, sha: str) -> pd.DataFrame:
    f = valid.copy()
    for c in f.columns:
        if pd.api.types.is_datetime64_any_dtype(f[c]):
            f[c] = f[c].dt.date
    f["recipient_id"] = rid
    f["period"] = period
    f["file_sha256"] = sha
    if table == "hmrc_payments":
        f["reference"] = f["reference"].fillna("")
    return f.drop_duplicates(_KEYS[table], keep="first")
