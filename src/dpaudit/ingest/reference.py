"""Load the reference files of ``<data>/reference/`` into the store.

Each table is a snapshot: when its file's SHA-256 is unchanged nothing happens; when it changed,
the table's rows are replaced in one transaction (a kill mid-load leaves the old snapshot).
Rows that fail their schema are quarantined and reported as ``DQ-ROW-REJECTED``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dpaudit.core import checkpoint
from dpaudit.core.policy import Policy
from dpaudit.ingest.readers.tabular import UnreadableFile, file_sha256, read_table
from dpaudit.ingest.schemas import quarantine_frame, validate
from dpaudit.store import insert_df, now_utc, transaction


# reference file stem -> (schema name, store table, column renames to store names)
REFERENCE_TABLES: dict[str, tuple[str, str]] = {
    "recipients": ("recipients", "recipients"),
    "support_plan_lines": ("support_plan_lines", "plan_lines"),
    "payment_schedule": ("payment_schedule", "payment_schedule"),
    "employees": ("employees", "employees"),
    "insurance": ("insurance", "insurance"),
    "providers": ("providers", "providers"),
    "contributions": ("contributions", "contributions"),
}
OPTIONAL = {"providers", "insurance", "employees", "contributions"}


@dataclass
class LoadResult:
    loaded: dict[str, int] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    rejected_rows: int = 0
    missing: list[str] = field(default_factory=list)


def _find(ref_dir: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".xlsx"):
        p = ref_dir / f"{stem}{suffix}"
        if p.exists():
            return p
    return None


def load_reference(con, data_dir: Path, policy: Policy) -> LoadResult:
    """Load every reference table whose file changed. Idempotent."""
    ref_dir = Path(data_dir) / "reference"
    result = LoadResult()
    th = policy.raw["thresholds"]
    for stem, (schema_name, table) in REFERENCE_TABLES.items():
        path = _find(ref_dir, stem)
        if path is None:
            if stem not in OPTIONAL:
                result.missing.append(stem)
            continue
        sha = file_sha256(path)
        prev = con.execute("SELECT sha256 FROM reference_files WHERE table_name = ?", [table]).fetchall()
        if prev and prev[0][0] == sha:
            result.unchanged.append(stem)
            continue
        rel = str(path.relative_to(data_dir)) if path.is_relative_to(data_dir) else str(path)
        try:
            tab = read_table(path, sheet_hint=stem, max_bytes=th["max_file_bytes"],
                             max_uncompressed=th["max_xlsx_uncompressed_bytes"], max_ratio=th["max_xlsx_ratio"])
            v = validate(schema_name, tab.frame, path=rel, row_numbers=tab.row_numbers, file_sha256=sha)
            valid, quarantine = v.valid, v.quarantine
            if stem in VALUE_CHECKS:
                valid, quarantine = _value_checks(stem, valid, quarantine, rel, sha)
            if tab.ragged_rows:
                quarantine = pd.concat([quarantine, quarantine_frame([
                    {"path": rel, "file_sha256": sha, "kind": schema_name, "recipient_id": None, "period": None,
                     "row_no": r, "column_name": "", "value_masked": "", "reason": f"{rel} row {r}: {why}"}
                    for r, why in tab.ragged_rows])], ignore_index=True)
            if tab.formula_cells:
                bad = {r for r, _, _ in tab.formula_cells}
                quarantine = pd.concat([quarantine, quarantine_frame([
                    {"path": rel, "file_sha256": sha, "kind": schema_name, "recipient_id": None, "period": None,
                     "row_no": r, "column_name": c, "value_masked": "(formula)",
                     "reason": f"{rel} row {r}, column {c}: a formula is not accepted as data; type the value"}
                    for r, c, _ in tab.formula_cells])], ignore_index=True)
                valid = valid[~valid["row_no"].isin(bad)]
        except UnreadableFile as exc:
            valid = None
            quarantine = quarantine_frame([{"path": rel, "file_sha256": sha, "kind": schema_name, "recipient_id": None,
                                            "period": None, "row_no": 0, "column_name": "", "value_masked": "",
                                            "reason": f"{rel}: {exc}"}])
        store_frame = _to_store(table, valid) if valid is not None else None
        with transaction(con):
            if store_frame is not None:
                con.execute(f"DELETE FROM {table}")
                insert_df(con, table, store_frame)
            con.execute("DELETE FROM quarantine WHERE kind = ? AND period IS NULL", [schema_name])
            insert_df(con, "quarantine", quarantine)
            con.execute("INSERT OR REPLACE INTO reference_files VALUES (?, ?, ?, ?, ?, ?)",
                        [table, sha, rel, now_utc(), 0 if store_frame is None else len(store_frame), len(quarantine)])
            checkpoint.reached("reference.table_written")
        checkpoint.reached("reference.table_committed")
        result.loaded[stem] = 0 if store_frame is None else len(store_frame)
        result.rejected_rows += len(quarantine)
    return result


# Checks on parsed values that no schema file can state (a Table Schema has no "more than 0"):
# table -> [(column, fn(valid) -> bool Series (True = fine), reason)].
VALUE_CHECKS = {
    "contributions": [("amount", lambda f: f["amount_pence"] > 0,
                       "a contribution must be more than 0.00; leave out a family assessed to pay nothing")],
}


def _value_checks(stem: str, valid: pd.DataFrame, quarantine: pd.DataFrame, rel: str, sha: str
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarantine the valid rows that fail :data:`VALUE_CHECKS` (file, row, column and reason named)."""
    rows = []
    for column, ok, reason in VALUE_CHECKS[stem]:
        fine = ok(valid).fillna(False).astype(bool)
        for r in valid.loc[~fine].itertuples(index=False):
            rows.append({"path": rel, "file_sha256": sha, "kind": stem, "recipient_id": None, "period": None,
                         "row_no": r.row_no, "column_name": column, "value_masked": "",
                         "reason": f"{rel} row {r.row_no}, column {column}: {reason}"})
        valid = valid[fine.to_numpy()]
    if rows:
        quarantine = pd.concat([quarantine, quarantine_frame(rows)], ignore_index=True)
    return valid, quarantine


def _to_store(table: str, valid: pd.DataFrame) -> pd.DataFrame:
    f = valid.drop(columns=["row_no"], errors="ignore").copy()
    for c in f.columns:
        if pd.api.types.is_datetime64_any_dtype(f[c]):
            f[c] = f[c].dt.date
    key = {"recipients": ["recipient_id"], "plan_lines": ["recipient_id", "line_id"],
           "payment_schedule": ["recipient_id", "due_date", "reference"], "employees": ["recipient_id", "employee_id"],
           "insurance": ["recipient_id", "policy_number"], "providers": ["name"],
           "contributions": ["recipient_id", "start_date"]}[table]
    if table == "payment_schedule":
        f["reference"] = f["reference"].fillna("")
    return f.drop_duplicates(key, keep="first")
