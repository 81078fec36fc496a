"""The month's inbox, walked once: which files are read, and why every other entry is not.

``<data>/inbox/<YYYY-MM>/<recipient_id>/...``: every regular file under a recipient's folder (in
subfolders too) is a statement, an evidence file or a scan, by its name.  Nothing outside the data
folder is ever read: symbolic links are reported, never followed.  Every entry that is not read is
reported with a reason (an unknown recipient, a folder that is no recipient, an unsupported type,
a link), so nothing in the inbox is silently ignored.  Hidden files (``.DS_Store``) and Office lock
files (``~$book.xlsx``) are the operating system's and Excel's, not the family's: they are skipped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

STATEMENT_SUFFIXES = (".ofx", ".qfx", ".csv", ".xlsx")
EVIDENCE_STEMS = frozenset({"receipts", "payslips", "hmrc", "invoices"})
SCAN_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png")
KIND = "inbox"  # quarantine.kind of an inbox entry that was not read


def file_kind(path: Path) -> str | None:
    """``statement``, ``evidence``, ``scan`` or None (a type dpaudit does not read)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx") and path.stem.strip().lower() in EVIDENCE_STEMS:
        return "evidence"
    if suffix in STATEMENT_SUFFIXES:
        return "statement"
    if suffix in SCAN_SUFFIXES:
        return "scan"
    return None


def _system_file(name: str) -> bool:
    return name.startswith((".", "~$"))


@dataclass
class Inbox:
    """The files to read, as (recipient_id, path) by kind in a stable order, and the entries not read."""

    files: dict[str, list[tuple[str, Path]]] = field(default_factory=lambda: {"statement": [], "evidence": [], "scan": []})
    not_read: list[dict] = field(default_factory=list)  # quarantine rows: path, recipient_id, reason


def scan_inbox(data_dir: Path, period: str, known_recipients: set[str] | frozenset = frozenset()) -> Inbox:
    """Walk ``<data_dir>/inbox/<period>`` without following links.  ``known_recipients``: the
    recipient ids of the reference data; a folder of another name is reported, not read (when the
    set is empty, as before reference data is loaded, every folder is taken as a recipient)."""
    data_dir = Path(data_dir)
    root = data_dir / "inbox" / period
    box = Inbox()

    def report(path: Path, rid: str | None, why: str) -> None:
        rel = path.relative_to(data_dir).as_posix()
        box.not_read.append({"path": rel, "recipient_id": rid, "reason": f"{rel} was not read: {why}"})

    if root.is_symlink():
        report(root, None, "the month's folder is a symbolic link; dpaudit reads only what is inside the data folder. "
                           "Put the files themselves there")
        return box
    if not root.is_dir():
        return box
    for entry in sorted(root.iterdir()):
        if _system_file(entry.name) and not entry.is_dir():
            continue
        if entry.is_symlink():
            report(entry, None, "it is a symbolic link; dpaudit reads only what is inside the data folder. Put the "
                                "files themselves in the recipient's folder")
        elif not entry.is_dir():
            report(entry, None, "it is outside any recipient's folder. Move it into the folder of the recipient "
                                "it belongs to (inbox/YYYY-MM/RECIPIENT_ID/)")
        elif entry.name.startswith("."):
            report(entry, None, "a hidden folder is not a recipient's folder")
        elif known_recipients and entry.name not in known_recipients:
            report(entry, None, f"there is no recipient '{entry.name}' in recipients.csv. Rename the folder to the "
                                f"recipient's id, or add the recipient to the reference data")
        else:
            _walk_recipient(entry, entry.name, box, report)
    for kind in box.files:
        box.files[kind].sort(key=lambda rp: (rp[0], rp[1].relative_to(root).as_posix()))
    return box


def _walk_recipient(folder: Path, rid: str, box: Inbox, report) -> None:
    for top, dirs, names in os.walk(folder, followlinks=False):
        here = Path(top)
        for d in sorted(dirs):
            if (here / d).is_symlink():
                report(here / d, rid, "it is a symbolic link to a folder; dpaudit reads only what is inside the data "
                                      "folder. Put the files themselves in the recipient's folder")
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        for name in sorted(names):
            path = here / name
            if _system_file(name):
                continue
            if path.is_symlink():
                report(path, rid, "it is a symbolic link; dpaudit reads only what is inside the data folder. Put "
                                  "the file itself in the recipient's folder")
                continue
            if not path.is_file():
                report(path, rid, "it is not a regular file")
                continue
            kind = file_kind(path)
            if kind is None:
                report(path, rid, f"'{path.suffix or 'no extension'}' files are not read. Send bank statements as "
                                  f"OFX/QFX downloads or CSV/XLSX exports, evidence as receipts/invoices/payslips/hmrc "
                                  f".csv or .xlsx, and scans as PDF, JPG or PNG")
                continue
            box.files[kind].append((rid, path))


def known_recipients(con) -> frozenset[str]:
    """The recipient ids of the reference data in the store (empty before any is loaded)."""
    return frozenset(r[0] for r in con.execute("SELECT recipient_id FROM recipients").fetchall())


def record_not_read(con, period: str, inbox: Inbox) -> int:
    """Replace the period's reports of inbox entries that were not read (so a fixed entry's report
    goes away on the next run); return how many there are."""
    from dpaudit.ingest.schemas import quarantine_frame
    from dpaudit.store import insert_df, transaction

    rows = [{**r, "file_sha256": None, "kind": KIND, "period": period, "row_no": None, "column_name": "",
             "value_masked": ""} for r in inbox.not_read]
    with transaction(con):
        con.execute("DELETE FROM quarantine WHERE kind = ? AND period = ?", [KIND, period])
        insert_df(con, "quarantine", quarantine_frame(rows))
    return len(rows)
