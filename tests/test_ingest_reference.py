"""Reference and evidence loads: idempotent, replace-on-change in one transaction, safe to kill."""
import textwrap

import pandas as pd
import pytest

from dpaudit.ingest.evidence import ingest_evidence
from dpaudit.ingest.reference import REFERENCE_TABLES, load_reference
from dpaudit.core.policy import load_policy
from dpaudit.store import open_store
from killpoints import kill_at

RECIPIENTS = ("recipient_id,child_name,date_of_birth,management_type,sort_code,account_number,account_holder,"
              "dp_start_date,dp_end_date,status,stop_requested,support_officer\n")


def council(tmp_path, n=3, bad=False):
    ref = tmp_path / "data" / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    rows = [f"{i:03d},Child {i},01/02/2014,direct_payment,40-00-04,{i:08d},Parent,2025-04-01,,active,no,Ann" for i in range(n)]
    if bad:
        rows.append("999,Bad,01/02/2014,direct_payment,4-00-04,123,Parent,31/02/2025,,active,no,Ann")
    (ref / "recipients.csv").write_text(RECIPIENTS + "\n".join(rows) + "\n")
    (ref / "support_plan_lines.csv").write_text(
        "recipient_id,line_id,category,description,annual_amount,funding_stream,management_type,valid_from,valid_to,"
        "school_setting,setting_consent_date\n000,L1,personal_assistant,PA,\"£12,000.00\",social_care_respite,direct_payment,"
        "01/04/2025,31/03/2026,no,\n")
    (ref / "payment_schedule.csv").write_text("recipient_id,due_date,amount,reference\n000,01/04/2025,1000.00,DP000\n")
    return tmp_path / "data"


def counts(db):
    with open_store(db) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("recipients", "plan_lines", "quarantine")}


def test_reload_is_idempotent_and_change_replaces(tmp_path):
    data = council(tmp_path, bad=True)
    db = tmp_path / "s.duckdb"
    policy = load_policy()
    with open_store(db) as con:
        r = load_reference(con, data, policy)
        assert r.loaded["recipients"] == 3 and r.rejected_rows >= 1
        ids = [x[0] for x in con.execute("SELECT recipient_id FROM recipients ORDER BY 1").fetchall()]
        assert ids == ["000", "001", "002"]  # leading zeros kept
        plan = con.execute("SELECT annual_amount_pence FROM plan_lines").fetchall()
        assert plan == [(1200000,)]
    first = counts(db)
    with open_store(db) as con:
        again = load_reference(con, data, policy)
    assert again.loaded == {} and set(again.unchanged) >= {"recipients", "support_plan_lines"}
    assert counts(db) == first
    council(tmp_path, n=5)  # the council sends a changed file: it replaces the old snapshot
    with open_store(db) as con:
        load_reference(con, data, policy)
        assert con.execute("SELECT count(*) FROM recipients").fetchall()[0][0] == 5
        assert con.execute("SELECT count(*) FROM quarantine WHERE kind = 'recipients'").fetchall()[0][0] == 0


def test_missing_mandatory_reference_is_reported(tmp_path):
    data = council(tmp_path)
    (data / "reference" / "payment_schedule.csv").unlink()
    with open_store(tmp_path / "s.duckdb") as con:
        assert load_reference(con, data, load_policy()).missing == ["payment_schedule"]


def test_evidence_counted_once_and_bad_rows_quarantined(tmp_path):
    data = council(tmp_path)
    box = data / "inbox" / "2025-04" / "000"
    box.mkdir(parents=True)
    (box / "receipts.csv").write_text("receipt_id,date,supplier,amount,description\nR1,05/04/2025,Shop,12.50,x\n"
                                      "R2,31/02/2025,Shop,1.00,bad date\nR3,06/04/2025,Shop,\"£1,234.5O\",bad amount\n")
    later = data / "inbox" / "2025-05" / "000"
    later.mkdir(parents=True)
    (later / "receipts.csv").write_text("receipt_id,date,supplier,amount,description\nR1,05/04/2025,Shop,12.50,again\n")
    (later / "copy").mkdir()
    db = tmp_path / "s.duckdb"
    policy = load_policy()
    with open_store(db) as con:
        c1 = ingest_evidence(con, data, "2025-04", policy)
        c2 = ingest_evidence(con, data, "2025-05", policy)
        c3 = ingest_evidence(con, data, "2025-04", policy)
        assert c1["evidence_rows"] == 1 and c1["evidence_rejected"] == 2
        assert c2["evidence_rows"] == 0  # the same receipt resubmitted counts once
        assert c3["evidence_files"] == 0  # a re-run reads nothing again
        assert con.execute("SELECT count(*) FROM receipts").fetchall()[0][0] == 1
        reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine ORDER BY row_no").fetchall()]
        assert "row 3, column date" in reasons[0] and "row 4, column amount" in reasons[1]


# the reference tables load in this order, each in its own transaction
LOAD_ORDER = ["recipients", "support_plan_lines", "payment_schedule"]


@pytest.mark.parametrize("point,n", [("reference.table_written", 1), ("reference.table_committed", 1),
                                     ("reference.table_written", 2), ("reference.table_committed", 3)])
def test_kill_during_reference_load_leaves_store_consistent(tmp_path, point, n):
    """kill -9 the loader at known points; the store holds whole snapshots only, the record agrees, a re-run completes."""
    data = council(tmp_path, n=2000)
    db = tmp_path / "k.duckdb"
    script = textwrap.dedent(f"""
        from dpaudit.ingest.reference import REFERENCE_TABLES, load_reference
        from dpaudit.core.policy import load_policy
        from dpaudit.store import open_store
        with open_store(r"{db}") as con:
            load_reference(con, r"{data}", load_policy())
    """)
    kill_at(script, point, n)
    committed = n if point == "reference.table_committed" else n - 1
    with open_store(db) as con:
        n_recipients = con.execute("SELECT count(*) FROM recipients").fetchall()[0][0]
        loaded = {r[0] for r in con.execute("SELECT table_name FROM reference_files").fetchall()}
    assert n_recipients == (2000 if committed >= 1 else 0)  # all or nothing
    assert loaded == {REFERENCE_TABLES[stem][1] for stem in LOAD_ORDER[:committed]}
    with open_store(db) as con:
        again = load_reference(con, data, load_policy())
    assert sorted(again.unchanged) == sorted(LOAD_ORDER[:committed])
    assert sorted(again.loaded) == sorted(LOAD_ORDER[committed:])
    assert counts(db)["recipients"] == 2000 and counts(db)["plan_lines"] == 1


def test_ragged_rows_are_quarantined_not_shifted(tmp_path):
    data = council(tmp_path)
    box = data / "inbox" / "2025-04" / "000"
    box.mkdir(parents=True)
    (box / "receipts.csv").write_text("receipt_id,date,supplier,amount,description\nR1,05/04/2025,Shop,12.50,x\n"
                                      "R2,06/04/2025,Shop,1,000.00,stray comma\nR3,07/04/2025,Shop\n")
    with open_store(tmp_path / "s.duckdb") as con:
        c = ingest_evidence(con, data, "2025-04", load_policy())
        assert c["evidence_rows"] == 1 and c["evidence_rejected"] == 2
        reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine ORDER BY row_no").fetchall()]
        assert "row 3: the row has 6 fields but the header has 5" in reasons[0]
        assert "row 4: the row has 3 fields" in reasons[1]
