"""Decisions carry and drive what follows (issue 14, item 1).

A decision keeps its status while the same state is raised month after month; an accepted STOP is
not a new STOP the next month; a dismissed finding never counts toward a repayment, and the
recommendation is recomputed from the log.
"""
from __future__ import annotations

import pandas as pd

from builders import Council
from dpaudit.core.policy import load_policy
from dpaudit.decide.decisions import current_status, import_decisions, known_ids, prepared_by_map
from dpaudit.decide.recommend import recommend_period
from dpaudit.pipeline import audit_period, period_findings
from dpaudit.store import insert_df, open_store

POLICY = load_policy()
PERIODS = ["2025-05", "2025-06", "2025-07"]


def council(tmp_path, *, overspend_months=("2025-05", "2025-06", "2025-07"), status="active", end=None,
            annual="1200.00", spend="400.00") -> Council:
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001", status=status, end=end).line("R001", "L1", "day_activities", annual, providers="Stockport Leisure")
    for p in PERIODS:
        c.schedule("R001", f"{p}-01", "500.00", "SMBC DP R001")
        c.statement("R001", f"{p}-01", f"{p}-28", "0.00")
        c.txn("R001", f"{p}-01", "500.00", "STOCKPORT MBC", desc="SMBC DP R001", ttype="CREDIT")
        if p in overspend_months:
            c.txn("R001", f"{p}-10", "-" + spend, "STOCKPORT LEISURE", ttype="POS")
            c.receipt("R001", f"RC{p}", f"{p}-10", "Stockport Leisure", spend)
    c.txn("R001", "2025-05-12", "-50.00", "LADBROKES ON 12 MAY BCC", ttype="POS")
    c.txn("R001", "2025-05-13", "-30.00", "OCTOPUS ENERGY", ttype="DD")
    return c


def audit_all(c: Council, con) -> None:
    for table, rows in c.rows.items():
        con.execute(f"DELETE FROM {table}")
        if rows:
            insert_df(con, table, pd.DataFrame(rows))
    for p in PERIODS:
        audit_period(con, p, POLICY, f"run-{p}")
        recommend_period(con, p, POLICY, prepared_by="auditor.a", run_id=f"run-{p}")


def decide(con, rows: list[tuple[str, str]]) -> None:
    frame = pd.DataFrame([{"exception_id": e, "decision": d, "officer": "officer.b", "note": ""} for e, d in rows])
    import_decisions(con, frame, known_ids=known_ids(con), officer_default="officer.b", source="test",
                     prepared_by=prepared_by_map(con))


def over_budget(con, period):
    f = period_findings(con, period, POLICY)
    return f[f["rule_id"] == "SP-OVER-BUDGET"]


def test_a_dismissed_state_stays_dismissed_while_it_lasts(tmp_path):
    with open_store(tmp_path / "t.duckdb") as con:
        audit_all(council(tmp_path), con)
        may = over_budget(con, "2025-05")
        assert len(may) == 1 and may["status"].tolist() == ["open"]
        decide(con, [(may["exception_id"].iloc[0], "dismiss")])
        for p in PERIODS:
            assert over_budget(con, p)["status"].tolist() == ["dismissed"], p
        st = current_status(con, list(over_budget(con, "2025-07")["exception_id"]), **POLICY.carry())
        assert st["carried_from"].tolist() == [may["exception_id"].iloc[0]]
        # without the policy's carry rules only the officer's own decision counts
        assert period_findings(con, "2025-07")["status"].tolist().count("dismissed") == 0


def test_a_lapsed_state_starts_open_again(tmp_path):
    # £2,400 a year: £500 in May is over its budget to date, within it by June (no spend), and
    # £600 more in July is over again: July's finding is new
    with open_store(tmp_path / "t.duckdb") as con:
        c = council(tmp_path, overspend_months=("2025-05", "2025-07"), annual="2400.00", spend="500.00")
        c.txn("R001", "2025-07-11", "-600.00", "STOCKPORT LEISURE", ttype="POS")
        c.receipt("R001", "RCx", "2025-07-11", "Stockport Leisure", "600.00")
        audit_all(c, con)
        assert len(over_budget(con, "2025-06")) == 0 and len(over_budget(con, "2025-07")) == 1
        decide(con, [(over_budget(con, "2025-05")["exception_id"].iloc[0], "dismiss")])
        assert over_budget(con, "2025-07")["status"].tolist() == ["open"]


def test_an_accepted_stop_is_not_a_new_stop_next_month(tmp_path):
    with open_store(tmp_path / "t.duckdb") as con:
        audit_all(council(tmp_path, status="stopped"), con)
        recs = con.execute("SELECT period, action FROM recommendations ORDER BY period").fetchall()
        assert [a for _, a in recs] == ["STOP", "STOP", "STOP"]
        decide(con, [("REC-2025-05-R001", "accept")])
        st = current_status(con, [f"REC-{p}-R001" for p in PERIODS], **POLICY.carry())
        assert st["status"].tolist() == ["accepted"] * 3
        assert st["carried_from"].tolist() == [None, "REC-2025-05-R001", "REC-2025-05-R001"]
        # letters follow only an officer's own acceptance (no carry asked for): June gets none
        own = current_status(con, [f"REC-{p}-R001" for p in PERIODS])
        assert own["status"].tolist() == ["accepted", "open", "open"]


def test_a_dismissed_finding_leaves_the_repayment_when_recommended_again(tmp_path):
    with open_store(tmp_path / "t.duckdb") as con:
        audit_all(council(tmp_path), con)
        amount = lambda: con.execute("SELECT action, amount_pence FROM recommendations WHERE period = '2025-05'").fetchall()
        assert amount() == [("REPAY", 8000)]
        f = period_findings(con, "2025-05", POLICY)
        decide(con, [(f.loc[f["rule_id"] == "SP-PROHIBITED", "exception_id"].iloc[0], "dismiss")])
        recommend_period(con, "2025-05", POLICY, prepared_by="auditor.a")
        assert amount() == [("REPAY", 3000)]


def test_the_next_month_s_workbook_shows_the_accepted_stop_without_deciding_it_again(tmp_path):
    from datetime import datetime

    from openpyxl import load_workbook

    from dpaudit.pipeline import write_period_reports

    with open_store(tmp_path / "t.duckdb") as con:
        audit_all(council(tmp_path, status="stopped"), con)
        decide(con, [("REC-2025-05-R001", "accept")])
        write_period_reports(con, "2025-06", tmp_path / "r", POLICY, "run-r", datetime(2025, 7, 2, 9, 0), {})
    ws = load_workbook(tmp_path / "r" / "2025-06" / "exceptions.xlsx")["Recommendations"]
    head = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[head.index("exception_id")] == "REC-2025-06-R001")
    assert row[head.index("Action")] == "STOP" and row[head.index("decision")] in (None, "")
    assert row[head.index("note")].startswith("Already accepted for 2025-05 by officer.b")
    assert not list((tmp_path / "r" / "2025-06").glob("letters/*")), "no second STOP letter"
