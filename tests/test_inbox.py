"""The inbox is walked without following links: nothing outside the data folder is read, and every
entry is either read or reported with a reason (issue 15, item 3)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from dpaudit.ingest.inbox import scan_inbox
from dpaudit.store import open_store

PERIOD = "2026-01"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
RECEIPTS = "receipt_id,date,supplier,amount,description\nR1,05/01/2026,Shop,1.00,x\n"


def test_every_entry_is_read_or_reported_and_links_are_never_followed(tmp_path):
    data = tmp_path / "data"
    box = data / "inbox" / PERIOD
    (box / "R1" / "sub").mkdir(parents=True)
    (box / "R1" / "receipts.csv").write_text(RECEIPTS)
    (box / "R1" / "sub" / "invoices.csv").write_text("x\n")          # evidence in a subfolder: read
    (box / "R1" / "statement_dir.csv").mkdir()                       # a folder named like a file: never a file
    (box / "R1" / "notes.docx").write_text("x")                       # unsupported: reported
    (box / "R1" / ".DS_Store").write_text("x")                        # the system's: skipped
    secret = tmp_path / "outside" / "passwd.csv"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0\n")
    os.symlink(secret, box / "R1" / "bank.csv")                       # a link out of the data folder
    os.symlink(tmp_path / "outside", box / "R1" / "more")             # a linked folder
    (box / "..x").mkdir()
    (box / ".hidden").mkdir()
    (box / "R9").mkdir()                                              # no such recipient
    os.symlink(box / "R1", box / "R2")                                # a recipient folder that is a link
    (box / "loose.csv").write_text("x")                               # outside any recipient's folder
    inbox = scan_inbox(data, PERIOD, frozenset({"R1", "R2"}))
    read = {k: sorted(p.relative_to(box).as_posix() for _, p in v) for k, v in inbox.files.items()}
    assert read == {"statement": [], "evidence": ["R1/receipts.csv", "R1/sub/invoices.csv"], "scan": []}
    reported = {r["path"].removeprefix(f"inbox/{PERIOD}/"): r["reason"] for r in inbox.not_read}
    assert set(reported) == {"R1/notes.docx", "R1/bank.csv", "R1/more", "..x", ".hidden", "R9", "R2", "loose.csv"}
    assert "symbolic link" in reported["R1/bank.csv"] and "symbolic link" in reported["R2"]
    assert "no recipient 'R9'" in reported["R9"] and "'.docx' files are not read" in reported["R1/notes.docx"]
    assert all(r.startswith(f"inbox/{PERIOD}/") for r in (x["reason"] for x in inbox.not_read))


def test_a_run_reports_what_it_did_not_read_and_forgets_it_once_fixed(tmp_path):
    from dpaudit.pipeline import run_period

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    box = data / "inbox" / PERIOD
    (tmp_path / "secret.csv").write_text("date,description,amount\n2026-01-02,SECRET PAYEE,-1.00\n")
    os.symlink(tmp_path / "secret.csv", box / "R00001" / "extra.csv")
    (box / "@SUM(1)").mkdir()
    (box / "@SUM(1)" / "receipts.csv").write_text(RECEIPTS)
    db = tmp_path / "db.duckdb"
    r = run_period(data, PERIOD, reports_dir=tmp_path / "r", db_path=db, officer="P")
    assert r.counts["inbox_not_read"] == 2
    text = (tmp_path / "r" / PERIOD / "exceptions.csv").read_text()
    assert "SECRET PAYEE" not in text and "extra.csv was not read: it is a symbolic link" in text
    assert "there is no recipient '@SUM(1)'" in text
    with open_store(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transactions WHERE description LIKE '%SECRET%'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM receipts WHERE recipient_id = '@SUM(1)'").fetchall() == [(0,)]
    (box / "R00001" / "extra.csv").unlink()
    shutil.rmtree(box / "@SUM(1)")
    r2 = run_period(data, PERIOD, reports_dir=tmp_path / "r", db_path=db, officer="P")
    assert r2.counts["inbox_not_read"] == 0
    assert "was not read: it is a symbolic link" not in (tmp_path / "r" / PERIOD / "exceptions.csv").read_text()


def test_truncated_ofx_and_utf16_exports_are_reported_for_what_they_are(tmp_path):
    import pytest

    from dpaudit.ingest.readers.bank_csv import load_profiles, read_bank_tables
    from dpaudit.ingest.readers.ofx import read_ofx
    from dpaudit.ingest.readers.tabular import UnreadableFile

    whole = (SAMPLE / "inbox" / PERIOD / "R00001" / "statement_2026-01.ofx").read_bytes()
    cut = tmp_path / "cut.ofx"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableFile, match="is cut short"):
        read_ofx(cut)
    u16 = tmp_path / "u16.csv"
    u16.write_bytes("date,description,amount\n2026-01-02,X,-1.00\n".encode("utf-16"))
    (got,) = read_bank_tables([u16], load_profiles(tmp_path), max_bytes=10**7, max_uncompressed=10**8, max_ratio=100)
    assert isinstance(got, UnreadableFile) and "UTF-16" in str(got) and "\x00" not in str(got)


def test_files_the_fuzzer_broke_readers_with_are_reported_not_crashes(tmp_path):
    """Found by make fuzz: two headers that both mean one contract column, and a stray carriage
    return inside a field, stopped the run with a traceback; now each is a quarantine reason."""
    import pytest

    from dpaudit.core.policy import load_policy
    from dpaudit.ingest.evidence import ingest_evidence
    from dpaudit.ingest.readers.tabular import UnreadableFile, read_csv_text
    from dpaudit.store import open_store

    box = tmp_path / "inbox" / PERIOD / "R1"
    box.mkdir(parents=True)
    (box / "receipts.csv").write_text("receipt_id,date,supplier,Amount,amount,description\nR1,05/01/2026,Shop,1,1,x\n")
    with open_store(tmp_path / "db.duckdb") as con:
        counts = ingest_evidence(con, tmp_path, PERIOD, load_policy())
        (reason,) = con.execute("SELECT reason FROM quarantine").fetchone()
    assert counts["evidence_rows"] == 0 and "two columns mean the same thing" in reason and "'amount'" in reason
    rows = read_csv_text("a,b\r\nx\ry,z\n")  # a lone CR ends a row, as spreadsheets write it
    assert rows[0] == ["a", "b"]
    with pytest.raises(UnreadableFile, match="not well-formed CSV"):
        read_csv_text('a\n"' + "x" * 200_000 + '"\n')  # a field beyond the csv module's limit
