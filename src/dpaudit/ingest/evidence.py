"""Load the monthly evidence files (receipts, invoices, payslips, HMRC) and scans into the store.

Files live in ``<data>/inbox/<YYYY-MM>/<recipient_id>/``.  A file already seen at the same path
with the same content is skipped; the same content at another path is a duplicate file
(``DQ-DUPLICATE-FILE``, counted once).  New files are read and validated in chunks of
:data:`READ_CHUNK_FILES` (on worker processes when there are several), the files of one kind in a
chunk in one pandera pass (a council sends thousands of small files a month: per-file validation
would cost more than the data); failures are quarantined (``DQ-ROW-REJECTED``) and valid rows inserted
by their natural key, so a receipt resubmitted in a later month counts once.  Each kind is
loaded in one transaction together with its ``files`` records, so a kill mid-load leaves
nothing half-loaded and a re-run completes it.
"""
from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dpaudit.core.policy import Policy
from dpaudit.ingest.workers import Workers, require_visible
from dpaudit.ingest.remote import RemoteSource, fetch_missing
from dpaudit.ingest.readers.tabular import RawTable, UnreadableFile, check_size, file_sha256, read_raw_table
from dpaudit.ingest.inbox import Inbox, file_kind, known_recipients, scan_inbox
from dpaudit.ingest.schemas import RejectLimits, alias_names, missing_columns, quarantine_frame, validate
from dpaudit.store import insert_df, now_utc, transaction

# file stem -> (schema, store table)
EVIDENCE_FILES: dict[str, tuple[str, str]] = {
    "receipts": ("receipts", "receipts"),
    "invoices": ("invoices", "invoices"),
    "payslips": ("payslips", "payslips"),
    "hmrc": ("hmrc", "hmrc_payments"),
}
_KEYS = {"receipts": ["recipient_id", "receipt_id"], "invoices": ["recipient_id", "invoice_id"],
         "payslips": ["recipient_id", "employee_id", "pay_date"], "hmrc_payments": ["recipient_id", "tax_month", "reference"]}


def is_evidence_file(path: Path) -> bool:
    return file_kind(path) == "evidence"


@dataclass
class EvidencePlan:
    """What to do with a period's evidence files and scans, given what the store holds."""

    scans: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)   # file_paths rows of content already read
    by_kind: dict[str, list[tuple[str, str, Path, str]]] = field(default_factory=dict)  # stem -> (rid, rel, path, sha)


def plan_evidence(con, data_dir: Path, period: str, policy: Policy, inbox: Inbox | None = None) -> EvidencePlan:
    """Scans, duplicates and the new evidence files by kind.

    A file is a duplicate only of the same content already read for the same recipient as the same
    kind of evidence (a copy under another name such as ``receipts (1).csv``, another recipient's
    folder, or a statement with the same bytes never hides it).  A path judged a duplicate is judged
    again on every run, so a wrong judgement (the file it copied is gone, or was another recipient's
    or kind's) heals: the file is then read."""
    data_dir = Path(data_dir)
    th = policy.raw["thresholds"]
    plan = EvidencePlan()
    inbox = inbox or scan_inbox(data_dir, period, known_recipients(con))
    files = inbox.files["evidence"] + inbox.files["scan"]
    if not files:
        return plan
    seen = {path: (sha, dup_of) for path, sha, dup_of in con.execute(
        "SELECT path, sha256, dup_of FROM file_paths WHERE period = ?", [period]).fetchall()}
    evidence = []
    for rid, path in files:
        rel = str(path.relative_to(data_dir))
        if file_kind(path) == "scan":
            try:
                check_size(path, th["max_file_bytes"])
            except UnreadableFile:
                continue
            plan.scans.append({"recipient_id": rid, "period": period, "path": rel, "sha256": file_sha256(path)})
        elif is_evidence_file(path):
            evidence.append((rid, path, rel, path.stem.strip().lower(), file_sha256(path)))
    # the content of this inbox already read as (recipient, kind): its first path (read itself)
    read_as: dict[tuple[str, str, str], str] = {}
    if evidence:
        con.register("_dpaudit_shas", pd.DataFrame({"sha256": sorted({e[4] for e in evidence})}))
        try:
            earlier = con.execute("""SELECT fp.path, fp.sha256, fp.recipient_id FROM file_paths fp
                                     JOIN files f ON f.sha256 = fp.sha256
                                     WHERE fp.dup_of IS NULL AND fp.sha256 IN (SELECT sha256 FROM _dpaudit_shas)
                                     ORDER BY fp.first_seen, fp.path""").fetchall()
        finally:
            con.unregister("_dpaudit_shas")
        for path, sha, rid in earlier:
            kind = Path(path).stem.strip().lower()
            if kind in EVIDENCE_FILES and (data_dir / path).is_file():
                read_as.setdefault((str(rid), kind, sha), path)
    for rid, path, rel, kind, sha in evidence:
        first = read_as.get((rid, kind, sha))
        if rel in seen and seen[rel][0] == sha and (seen[rel][1] is None or first not in (None, rel)):
            continue  # read before, or still a copy of a file read for this recipient and kind
        if first is not None and first != rel:
            plan.duplicates.append({"path": rel, "sha256": sha, "recipient_id": rid, "period": period,
                                    "first_seen": now_utc(), "dup_of": first})
            continue
        read_as[(rid, kind, sha)] = rel
        plan.by_kind.setdefault(kind, []).append((rid, rel, path, sha))
    return plan


def submit_evidence_reads(pool: Workers, plan: EvidencePlan, policy: Policy, period: str,
                          source: RemoteSource | None = None) -> Iterator[list]:
    """Send the new files to be read and validated (on the workers when there are many); per
    chunk, in order, a list of (kind, rows and quarantine of that kind's files in the chunk).
    ``source``: where a worker that cannot see a planned file fetches it (a data folder URL)."""
    th = policy.raw["thresholds"]
    items = [(stem, *item) for stem, its in sorted(plan.by_kind.items()) for item in its]
    size = getattr(pool, "chunk_files", READ_CHUNK_FILES)  # a pool may ask for smaller chunks (the flow's tasks)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    limits = (th["max_file_bytes"], th["max_xlsx_uncompressed_bytes"], th["max_xlsx_ratio"])
    return pool.submit(_read_chunk, chunks, limits, period, RejectLimits.from_policy(policy), source)


def load_evidence(con, plan: EvidencePlan, reads: Iterable[list], period: str) -> dict:
    """Load the read and validated files kind by kind (one transaction per kind); return counts."""
    counts = {"evidence_files": 0, "evidence_rows": 0, "evidence_rejected": 0,
              "evidence_duplicates": len(plan.duplicates), "scans": len(plan.scans)}
    with transaction(con):
        insert_df(con, "scans", pd.DataFrame(plan.scans))
        insert_df(con, "file_paths", pd.DataFrame(plan.duplicates), on_conflict="REPLACE")
    parts: dict[str, list[_KindPart]] = {}
    for chunk in reads:
        for stem, part in chunk:
            parts.setdefault(stem, []).append(part)
    for stem, items in sorted(plan.by_kind.items()):
        n_rows, n_bad = _write_kind(con, EVIDENCE_FILES[stem][1], parts.get(stem, []), period)
        counts["evidence_files"] += len(items)
        counts["evidence_rows"] += n_rows
        counts["evidence_rejected"] += n_bad
    return counts


def ingest_evidence(con, data_dir: Path, period: str, policy: Policy, pool: Workers | None = None) -> dict:
    """Ingest evidence files and scans of one period; return counts.

    Plan (store), read (pure, on ``pool`` or workers started for this call), load.
    DQ-ROW-REJECTED and DQ-DUPLICATE-FILE findings are derived from the store afterwards
    (``pipeline._store_views``), so a re-run that skips known files reports them again.
    """
    plan = plan_evidence(con, data_dir, period, policy)
    with contextlib.ExitStack() as stack:
        pool = pool or stack.enter_context(Workers())
        return load_evidence(con, plan, submit_evidence_reads(pool, plan, policy, period), period)


READ_CHUNK_FILES = 2000  # evidence files read and validated per worker task


@dataclass
class _KindPart:
    """The store rows of some files of one kind: valid rows (typed), quarantine, file records."""

    valid: pd.DataFrame | None
    quarantine: pd.DataFrame
    files: pd.DataFrame


def _read_one(path: Path, limits: tuple[int, int, int]) -> RawTable | UnreadableFile:
    max_bytes, max_uncompressed, max_ratio = limits
    try:
        return read_raw_table(path, sheet_hint=path.stem, max_bytes=max_bytes, max_uncompressed=max_uncompressed,
                              max_ratio=max_ratio)
    except UnreadableFile as exc:
        return exc


def _read_chunk(items: list[tuple[str, str, str, Path, str]], limits: tuple[int, int, int],
                period: str, reject_limits: RejectLimits, source: RemoteSource | None = None) -> list[tuple[str, _KindPart]]:
    """Read and validate a chunk of (kind, recipient, path, file, sha) in kind order (pure: runs on
    a worker process); one part per kind, the rows of its files validated in one pandera pass."""
    if source is not None:  # a worker on another machine fetches its files from the data folder's URL
        where = fetch_missing([it[3] for it in items], [it[4] for it in items], source)
        items = [(stem, rid, rel, where[Path(path)], sha) for stem, rid, rel, path, sha in items]
    require_visible(path for _, _, _, path, _ in items)
    out = []
    for stem, group in itertools.groupby(items, key=lambda x: x[0]):
        files = [(rid, rel, path, sha) for _, rid, rel, path, sha in group]
        tables = {path: _read_one(path, limits) for _, _, path, _ in files}
        out.append((stem, _reject_mostly_bad(_prepare_kind(EVIDENCE_FILES[stem][0], files, period, tables),
                                             reject_limits)))
    return out


def _prepare_kind(schema_name: str, items: list[tuple[str, str, Path, str]], period: str,
                  tables: dict[Path, RawTable | UnreadableFile]) -> _KindPart:
    groups: dict[tuple, tuple[list, list]] = {}  # header -> (rows, origins): files framed together
    quarantined, file_rows = [], []
    for rid, rel, path, sha in items:
        q_base = {"path": rel, "file_sha256": sha, "kind": schema_name, "recipient_id": rid, "period": period}
        status, reason, n_read = "ingested", None, 0
        try:
            raw = tables[path]
            if isinstance(raw, UnreadableFile):
                raise raw
            names = alias_names(raw.header, schema_name)
            missing = missing_columns(schema_name, names)
            if missing:
                raise UnreadableFile(f"the file lacks column(s) {', '.join(missing)}; the header it has is "
                                     f"{', '.join(map(str, raw.header))}. Add the columns (see the contract) and send it again")
            n_read = len(raw.body)
            quarantined += [{**q_base, "row_no": r, "column_name": "", "value_masked": "", "reason": f"{rel} row {r}: {why}"}
                            for r, why in raw.ragged_rows]
            quarantined += [{**q_base, "row_no": r, "column_name": c, "value_masked": "(formula)",
                             "reason": f"{rel} row {r}, column {c}: a formula is not accepted as evidence; type the value"}
                            for r, c, _ in raw.formula_cells]
            bad_rows = {r for r, _, _ in raw.formula_cells}
            rows, origins = groups.setdefault(tuple(names), ([], []))
            for row, number in zip(raw.body, raw.row_numbers):
                if number not in bad_rows:
                    rows.append(row)
                    origins.append((rel, sha, rid, number, len(file_rows)))
        except UnreadableFile as exc:
            status, reason = "quarantined", str(exc)
            quarantined.append({**q_base, "row_no": 0, "column_name": "", "value_masked": "", "reason": f"{rel}: {exc}"})
        file_rows.append({"sha256": sha, "path": rel, "kind": schema_name, "recipient_id": rid, "period": period,
                          "format": path.suffix.lower().lstrip("."), "status": status, "reason": reason,
                          "size_bytes": path.stat().st_size, "rows_read": n_read, "ingested_at": now_utc()})
    quarantines = [quarantine_frame(quarantined)] if quarantined else []
    valid = None
    if groups:
        frames = [pd.DataFrame(rows, columns=list(names), dtype="string") if rows
                  else pd.DataFrame(columns=list(names), dtype="string") for names, (rows, _) in groups.items()]
        origin = pd.DataFrame([o for _, origins in groups.values() for o in origins],
                              columns=["path", "file_sha256", "recipient_id", "row_no", "_file_no"])
        order = origin["_file_no"].argsort(kind="stable").to_numpy()  # back to inbox order across headers
        rows_all = pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)
        origin = origin.iloc[order].drop(columns="_file_no").reset_index(drop=True)
        v = validate(schema_name, rows_all, path="", origin=origin, period=period)
        quarantines.append(v.quarantine)
        valid = v.valid
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else quarantine_frame([])
    rejected = quarantine.groupby("path").size() if len(quarantine) else pd.Series(dtype="int64")
    files = pd.DataFrame(file_rows)
    files["rows_rejected"] = files["path"].map(rejected).fillna(0).astype(int)
    return _KindPart(valid=valid, quarantine=quarantine, files=files)


def _write_kind(con, table: str, parts: list[_KindPart], period: str) -> tuple[int, int]:
    """Load one kind's parts (in inbox order) in one transaction; return (rows added, quarantined)."""
    if not parts:
        return 0, 0
    valids = [p.valid for p in parts if p.valid is not None]
    valid = pd.concat(valids, ignore_index=True) if valids else None
    quarantine = pd.concat([p.quarantine for p in parts], ignore_index=True)
    files = pd.concat([p.files for p in parts], ignore_index=True)
    paths = files[["path", "sha256", "recipient_id", "period"]].assign(first_seen=now_utc(), dup_of=None)  # read itself
    with transaction(con):
        added = insert_df(con, table, _to_store(table, valid, period)) if valid is not None and len(valid) else 0
        insert_df(con, "quarantine", quarantine)
        insert_df(con, "files", files)
        insert_df(con, "file_paths", paths, on_conflict="REPLACE")
    return added, len(quarantine)


def _reject_mostly_bad(part: _KindPart, limits: RejectLimits) -> _KindPart:
    """A file with too many rejected rows is rejected whole: one quarantine row with the counts and
    the first problems, none of its rows loaded (a file of garbage never becomes thousands of findings)."""
    files, q = part.files, part.quarantine
    bad_rows = q.groupby("path")["row_no"].nunique() if len(q) else pd.Series(dtype="int64")  # rows, not cells
    n_bad = files["path"].map(bad_rows).fillna(0).astype(int)
    bad = files[[limits.too_many(int(b), int(n)) for b, n in zip(n_bad, files["rows_read"])]]
    if bad.empty:
        return part
    whole = []
    for f, nb in zip(bad.itertuples(index=False), n_bad[bad.index]):
        rows = q[q["path"] == f.path].sort_values("row_no", kind="stable")
        reason = limits.reason(f.path, int(nb), int(f.rows_read), [str(r) for r in rows["reason"]])
        whole.append({"path": f.path, "file_sha256": f.sha256, "kind": f.kind, "recipient_id": f.recipient_id,
                      "period": f.period, "row_no": 0, "column_name": "", "value_masked": "", "reason": reason})
    gone = set(bad["path"])
    quarantine = pd.concat([q[~q["path"].isin(gone)], quarantine_frame(whole)], ignore_index=True)
    valid = part.valid
    if valid is not None:
        valid = valid[~valid["_path"].isin(gone)].reset_index(drop=True)
    files = files.copy()
    hit = files["path"].isin(gone)
    files.loc[hit, "status"] = "quarantined"
    files.loc[hit, "reason"] = quarantine.set_index("path").loc[files.loc[hit, "path"], "reason"].values
    return _KindPart(valid=valid, quarantine=quarantine, files=files)


def _to_store(table: str, valid: pd.DataFrame, period: str) -> pd.DataFrame:
    f = valid.rename(columns={"_recipient_id": "recipient_id", "_file_sha256": "file_sha256"}).drop(columns=["_path"])
    for c in f.columns:
        if pd.api.types.is_datetime64_any_dtype(f[c]):
            f[c] = f[c].dt.date
    f["period"] = period
    if table == "hmrc_payments":
        f["reference"] = f["reference"].fillna("")
    return f.drop_duplicates(_KEYS[table], keep="first")
