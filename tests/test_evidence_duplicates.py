"""Duplicate evidence is judged within one recipient and one kind of file, and a wrong judgement
heals on the next run: a copy never hides the genuine file (issue 15, item 1)."""
from __future__ import annotations

from pathlib import Path

from dpaudit.core.policy import load_policy
from dpaudit.ingest.evidence import ingest_evidence
from dpaudit.store import open_store

PERIOD = "2025-05"
RECEIPTS = "receipt_id,date,supplier,amount,description\nR1,05/05/2025,Shop,12.50,x\nR2,06/05/2025,Cafe,3.20,y\n"


def put(data: Path, rid: str, name: str, text: str) -> None:
    p = data / "inbox" / PERIOD / rid / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def ingest(data: Path) -> dict:
    with open_store(data / "db.duckdb") as con:
        return ingest_evidence(con, data, PERIOD, load_policy())


def q(data: Path, sql: str) -> list[tuple]:
    with open_store(data / "db.duckdb") as con:
        return con.execute(sql).fetchall()


def test_the_same_receipts_in_two_recipients_folders_count_for_both(tmp_path):
    put(tmp_path, "R001", "receipts.csv", RECEIPTS)
    put(tmp_path, "R002", "receipts.csv", RECEIPTS)  # a family sent the same file to both children's folders
    c = ingest(tmp_path)
    assert c["evidence_duplicates"] == 0 and c["evidence_rows"] == 4
    assert q(tmp_path, "SELECT recipient_id, count(*) FROM receipts GROUP BY 1 ORDER BY 1") == [("R001", 2), ("R002", 2)]
    assert q(tmp_path, "SELECT count(*) FROM file_paths WHERE dup_of IS NOT NULL") == [(0,)]


def test_empty_files_in_several_recipients_are_not_duplicates_of_the_first(tmp_path):
    for rid in ("R001", "R002", "R003"):
        put(tmp_path, rid, "receipts.csv", "receipt_id,date,supplier,amount,description\n")
    c = ingest(tmp_path)
    assert c["evidence_duplicates"] == 0 and c["evidence_files"] == 3


def test_a_copy_in_the_same_folder_is_a_duplicate_and_counts_once(tmp_path):
    put(tmp_path, "R001", "receipts.csv", RECEIPTS)
    put(tmp_path, "R001", "RECEIPTS.CSV", RECEIPTS)
    c = ingest(tmp_path)
    assert c["evidence_duplicates"] == 1 and c["evidence_rows"] == 2
    assert q(tmp_path, "SELECT path, dup_of FROM file_paths WHERE dup_of IS NOT NULL") == [
        (f"inbox/{PERIOD}/R001/receipts.csv", f"inbox/{PERIOD}/R001/RECEIPTS.CSV")]
    again = ingest(tmp_path)  # a re-run reads nothing again and judges the same
    assert again["evidence_files"] == 0 and again["evidence_duplicates"] == 0


def test_a_wrong_judgement_left_by_an_earlier_version_heals_on_the_next_run(tmp_path):
    """The earlier version took R002's copy as the original and R001's genuine file as its
    duplicate; the next run reads R001's file and its receipts count."""
    put(tmp_path, "R001", "receipts.csv", RECEIPTS)
    put(tmp_path, "R002", "receipts.csv", RECEIPTS)
    ingest(tmp_path)
    with open_store(tmp_path / "db.duckdb") as con:  # what the old judgement stored
        con.execute("DELETE FROM receipts WHERE recipient_id = 'R001'")
        con.execute(f"UPDATE file_paths SET dup_of = 'inbox/{PERIOD}/R002/receipts.csv' "
                    f"WHERE path = 'inbox/{PERIOD}/R001/receipts.csv'")
    c = ingest(tmp_path)
    assert c["evidence_files"] == 1 and c["evidence_rows"] == 2
    assert q(tmp_path, "SELECT count(*) FROM receipts WHERE recipient_id = 'R001'") == [(2,)]
    assert q(tmp_path, "SELECT count(*) FROM file_paths WHERE dup_of IS NOT NULL") == [(0,)]


def test_a_duplicate_whose_original_is_deleted_is_read_on_the_next_run(tmp_path):
    put(tmp_path, "R001", "receipts.csv", RECEIPTS)
    put(tmp_path, "R001", "Receipts.csv", RECEIPTS)
    first = ingest(tmp_path)
    assert first["evidence_duplicates"] == 1
    original = q(tmp_path, "SELECT dup_of FROM file_paths WHERE dup_of IS NOT NULL")[0][0]
    (tmp_path / original).unlink()
    c = ingest(tmp_path)
    assert c["evidence_files"] == 1  # the remaining copy is now the file of record
    assert q(tmp_path, "SELECT count(*) FROM file_paths WHERE dup_of IS NOT NULL") == [(0,)]
    assert q(tmp_path, "SELECT count(*) FROM receipts") == [(2,)]  # nothing counted twice


def test_a_store_from_before_records_its_duplicates_on_migration(tmp_path):
    import duckdb

    from dpaudit.store import MIGRATIONS

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for v in (1, 2):
        con.execute(MIGRATIONS[v])
        con.execute("INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [v])
    con.execute("INSERT INTO files (sha256, path, kind, status) VALUES ('s1', 'inbox/a/receipts.csv', 'receipts', 'ingested')")
    con.execute("INSERT INTO file_paths (path, sha256, recipient_id, period) VALUES "
                "('inbox/a/receipts.csv', 's1', 'A', '2025-05'), ('inbox/b/receipts.csv', 's1', 'B', '2025-05')")
    con.close()
    with open_store(db) as con:
        got = con.execute("SELECT path, dup_of FROM file_paths ORDER BY path").fetchall()
    assert got == [("inbox/a/receipts.csv", None), ("inbox/b/receipts.csv", "inbox/a/receipts.csv")]


# ---- a file of mostly bad rows is one finding (issue 15, item 2) ---------------------------------

def test_a_receipts_file_of_garbage_is_rejected_whole_as_one_finding(tmp_path):
    rows = "".join(f"G{i},not a date,Shop,??,x\n" for i in range(200)) + "OK1,05/05/2025,Shop,1.00,fine\n"
    put(tmp_path, "R001", "receipts.csv", "receipt_id,date,supplier,amount,description\n" + rows)
    put(tmp_path, "R002", "receipts.csv", RECEIPTS.replace("12.50", "1x.50"))  # 1 bad row of 2: row by row
    c = ingest(tmp_path)
    q1 = q(tmp_path, f"SELECT row_no, reason FROM quarantine WHERE path = 'inbox/{PERIOD}/R001/receipts.csv'")
    assert len(q1) == 1 and "200 of its 201 rows could not be read" in q1[0][1] and "row 2" in q1[0][1]
    assert q(tmp_path, "SELECT count(*) FROM receipts WHERE recipient_id = 'R001'") == [(0,)]  # nothing of it loaded
    assert q(tmp_path, f"SELECT status FROM files WHERE path = 'inbox/{PERIOD}/R001/receipts.csv'") == [("quarantined",)]
    q2 = q(tmp_path, f"SELECT row_no, column_name FROM quarantine WHERE path = 'inbox/{PERIOD}/R002/receipts.csv'")
    assert q2 == [(2, "amount")]
    assert q(tmp_path, "SELECT count(*) FROM receipts WHERE recipient_id = 'R002'") == [(1,)]
    assert c["evidence_rejected"] == 2


def test_a_statement_of_garbage_rows_is_rejected_whole_as_one_finding(tmp_path):
    from dpaudit.ingest.statements import ingest_statements

    header = "date,description,amount,balance,type,reference,sort_code,account_number\n"
    good = "2025-05-01,DP,100.00,100.00,CREDIT,,40-47-84,11223344\n"
    bad = "".join(f"2025-05-{1 + i % 28:02d},SHOP,??{i},,DEBIT,,40-47-84,11223344\n" for i in range(60))
    put(tmp_path, "R001", "bank.csv", header + good + bad)
    with open_store(tmp_path / "db.duckdb") as con:
        counts = ingest_statements(con, tmp_path, PERIOD, load_policy())
    assert counts["files_quarantined"] == 1 and counts["files_ingested"] == 0
    rows = q(tmp_path, "SELECT row_no, reason FROM quarantine")
    assert len(rows) == 1 and rows[0][0] is None and "60 of its 61 rows could not be read" in rows[0][1]
    assert q(tmp_path, "SELECT count(*) FROM transactions") == [(0,)]


def test_a_statement_in_a_sibling_s_folder_is_that_sibling_s_wrong_account(tmp_path):
    """A family sends R00001's bank statement to R00002's folder as well: for R00002 it is a statement
    of another account (DQ-WRONG-ACCOUNT), not a duplicate of R00001's file (rules.md: a duplicate is
    judged within one recipient); R00001 audits as before."""
    import shutil

    from dpaudit.pipeline import run_period

    sample = Path(__file__).resolve().parents[1] / "sample_data"
    data = tmp_path / "data"
    shutil.copytree(sample, data)
    statement = data / "inbox" / "2026-01" / "R00001" / "statement_2026-01.ofx"
    shutil.copy(statement, data / "inbox" / "2026-01" / "R00002" / "statement_2026-01.ofx")
    run_period(data, "2026-01", reports_dir=tmp_path / "r", db_path=tmp_path / "db.duckdb", officer="Prep")
    with open_store(tmp_path / "db.duckdb") as con:
        rows = con.execute("SELECT recipient_id, rule_id, message FROM findings WHERE rule_id IN "
                           "('DQ-WRONG-ACCOUNT', 'DQ-DUPLICATE-FILE') ORDER BY 1, 2").fetchall()
    assert [(r, rule) for r, rule, _ in rows] == [("R00002", "DQ-WRONG-ACCOUNT")]
    assert "inbox/2026-01/R00002/statement_2026-01.ofx" in rows[0][2]
