"""The CSV twins: exact contract columns, pounds text, ISO dates, order, bytes, CSV-injection guard."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpaudit.core.money import format_pounds
from dpaudit.report import neutralise_text
from dpaudit.report.csvs import (
    ReportInputError, pounds_series, write_exceptions_csv, write_reconciliation_csv, write_recommendations_csv,
    write_year_end_csv,
)
from dpaudit.report.manifest import write_manifest
from dpaudit.report.summary_md import summary_markdown
from test_workbook import RUN_TIME, small_fixture


def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def year_end_fixture() -> pd.DataFrame:
    return pd.DataFrame({
        "recipient_id": ["R010", "R002"], "annual_dp_value_pence": [1200000, 520000],
        "closing_balance_pence": [150000, -2500], "committed_pence": [10000, 0], "surplus_pence": [140000, -2500],
        "carry_forward_pence": [120000, 0], "repayment_pence": [20000, 0],
        "reasons": ["Surplus £1,400.00 above 10% (PBP 5.3).", "-Overdrawn at 31 March: no carry-forward."],
    })


def test_exact_columns_in_contract_order(tmp_path: Path) -> None:
    d = small_fixture()
    write_exceptions_csv(tmp_path / "e.csv", d["findings"])
    write_recommendations_csv(tmp_path / "r.csv", d["recommendations"])
    write_reconciliation_csv(tmp_path / "c.csv", d["reconciliation"])
    write_year_end_csv(tmp_path / "y.csv", year_end_fixture())
    assert read_rows(tmp_path / "e.csv")[0] == ["exception_id", "period", "recipient_id", "rule_id", "severity", "txn_date",
                                                "amount", "counterparty", "txn_ref", "line_id", "message", "clause", "status"]
    assert read_rows(tmp_path / "r.csv")[0] == ["recipient_id", "period", "action", "amount", "grounds", "clauses",
                                                "reasons", "respond_by"]
    assert read_rows(tmp_path / "c.csv")[0] == ["recipient_id", "period", "opening_balance", "council_credits",
                                                "other_credits", "debits", "closing_balance", "evidenced", "unevidenced",
                                                "plan_budget_to_date", "spend_to_date", "contingency_held", "contingency_pct"]
    # the contract's columns in order, then dpaudit's own at the end (docs/decisions.md 48, 49)
    assert read_rows(tmp_path / "y.csv")[0] == ["recipient_id", "annual_dp_value", "closing_balance", "committed",
                                                "surplus", "carry_forward", "repayment", "reasons",
                                                "council_in", "contributions_in", "family_share", "surplus_weeks"]


def test_exceptions_values_order_and_injection_guard(tmp_path: Path) -> None:
    p = write_exceptions_csv(tmp_path / "e.csv", small_fixture()["findings"])
    raw = p.read_bytes()
    assert b"\r\n" not in raw.replace(b'"\tTAB PUB"', b"") and not raw.startswith(b"\xef\xbb\xbf")
    rows = read_rows(p)[1:]
    by_id = {r[0]: r for r in rows}
    assert [r[0] for r in rows] == ["e7", "e2", "e4", "e3", "e1", "e6", "e5"]
    assert by_id["e7"][5:7] == ["2025-05-02", "999.99"]
    assert by_id["e5"][5:7] == ["", ""]
    assert by_id["e1"][6] == "45.00" and by_id["e6"][6] == "19.99"
    assert by_id["e2"][10] == "'" + '=HYPERLINK("http://x","y")'
    assert by_id["e3"][7] == "'+44 CASH MACHINE" and by_id["e4"][7] == "'-MAJESTIC WINE"
    assert by_id["e4"][10].startswith("'@")
    assert by_id["e7"][7] == "'\tTAB PUB"
    assert [by_id[k][12] for k in ("e1", "e2", "e3", "e4")] == ["open", "accepted", "dismissed", "queried"]


def test_byte_identical_and_order_independent(tmp_path: Path) -> None:
    d = small_fixture()
    a = write_exceptions_csv(tmp_path / "a.csv", d["findings"]).read_bytes()
    b = write_exceptions_csv(tmp_path / "b.csv", d["findings"].sample(frac=1, random_state=3)).read_bytes()
    c = write_exceptions_csv(tmp_path / "a.csv", d["findings"]).read_bytes()
    assert a == b == c
    r1 = write_recommendations_csv(tmp_path / "r1.csv", d["recommendations"]).read_bytes()
    r2 = write_recommendations_csv(tmp_path / "r2.csv", d["recommendations"].iloc[::-1]).read_bytes()
    assert r1 == r2


def test_recommendations_reconciliation_year_end_values(tmp_path: Path) -> None:
    d = small_fixture()
    recs = read_rows(write_recommendations_csv(tmp_path / "r.csv", d["recommendations"]))[1:]
    assert recs[0] == ["R001", "2025-05", "REPAY", "1164.99", "SP-PROHIBITED;EV-NO-EVIDENCE", "PBP 4.3.2;PBP 5.2",
                       "Spend at BET365 is not allowed (PBP 4.3.2).", "2025-06-30"]
    assert recs[1][3] == "0.00" and recs[1][6].startswith("'=")
    assert recs[2][7] == ""
    rec = read_rows(write_reconciliation_csv(tmp_path / "c.csv", d["reconciliation"]))[1:]
    assert [r[0] for r in rec] == ["R001", "R002", "R003"]
    assert rec[0][2] == "2500.00" and rec[0][12] == "15.42" and rec[2][12] == "-0.50"
    ye = read_rows(write_year_end_csv(tmp_path / "y.csv", year_end_fixture()))[1:]
    assert ye[0] == ["R002", "5200.00", "-25.00", "0.00", "-25.00", "0.00", "0.00",
                     "'-Overdrawn at 31 March: no carry-forward.", "", "", "", ""]  # numbers never get the quote
    assert ye[1][1:7] == ["12000.00", "1500.00", "100.00", "1400.00", "1200.00", "200.00"]
    # £1,400.00 / (£12,000.00 / 52) = 6.066... weeks -> 6.1 (no split columns in the fixture: blank)
    assert ye[1][8:] == ["", "", "", "6.1"]


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="amount_pence"):
        write_exceptions_csv(tmp_path / "e.csv", small_fixture()["findings"].drop(columns=["amount_pence"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(min_value=-10**13, max_value=10**13)), max_size=30))
def test_pounds_series_matches_format_pounds(values: list[int | None]) -> None:
    s = pd.Series(pd.array(values, dtype="Int64"))
    assert pounds_series(s).tolist() == [format_pounds(v) for v in values]


@given(st.text(max_size=20))
def test_neutralise_only_risky_leads(text: str) -> None:
    out = neutralise_text(text)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        assert out == "'" + text
    else:
        assert out == text


def test_manifest_sorted_and_stable(tmp_path: Path) -> None:
    data = {"run_time": RUN_TIME, "policy_version": "2025.1", "counts": {"findings": 7, "b": 1},
            "inputs": [{"path": Path("inbox/2025-05/R001/a.ofx"), "sha256": "ab"}], "pct": Decimal("7.50"),
            "fy_start": date(2025, 4, 1), "rules": {"SP-CASH", "AC-OVERDRAWN"}}
    a = write_manifest(tmp_path / "m1.json", data).read_text(encoding="utf-8")
    b = write_manifest(tmp_path / "m2.json", dict(reversed(list(data.items())))).read_text(encoding="utf-8")
    assert a == b and a.endswith("\n")
    parsed = json.loads(a)
    assert list(parsed) == sorted(parsed)
    assert parsed["run_time"] == "2025-06-02T09:30:00" and parsed["pct"] == "7.50"
    assert parsed["inputs"][0]["path"] == "inbox/2025-05/R001/a.ofx" and parsed["rules"] == ["AC-OVERDRAWN", "SP-CASH"]
    with pytest.raises(TypeError):
        write_manifest(tmp_path / "bad.json", {"x": object()})


def test_summary_markdown() -> None:
    d = small_fixture()
    md = summary_markdown(period="2025-05", run_time=datetime(2025, 6, 2, 9, 30), policy_version="2025.1",
                          findings=d["findings"], recommendations=d["recommendations"], quarantine=d["quarantine"])
    assert "# dpaudit run 2025-05" in md
    assert "- Findings: 7 (4 open) about 3 recipient(s)" in md
    assert "- Money at stake (not dismissed; each payment once, however many rules flag it): £1,214.98" in md
    assert "- Money to recover (recommended repayments): £1,164.99. Money at stake is every payment" in md
    assert "| SP-PROHIBITED | 3 | 0 | 0 | 0 | 3 | £1,149.99 |" in md
    assert "| R001 | 3 | £1,164.99 |" in md
    assert "| REPAY | 1 | £1,164.99 |" in md and "| STOP | 1 | £0.00 |" in md
    lines = md.splitlines()
    top = lines.index("| recipient | findings | money at stake |")
    assert [ln.split("|")[1].strip() for ln in lines[top + 2: top + 5]] == ["R001", "R002", "R003"]


def test_money_at_stake_counts_each_payment_once() -> None:
    """A household bill with no receipt is one payment under two rules: counted once in the total and
    per recipient, under each rule in the rule table; a dismissed finding leaves the other standing."""
    from dpaudit.report.summary_md import summary_figures

    f = pd.DataFrame([
        ("a", "R1", "SP-HOUSEHOLD", "high", 5000, "t1", "open"),
        ("b", "R1", "EV-NO-EVIDENCE", "medium", 5000, "t1", "open"),
        ("c", "R1", "EV-AMOUNT-MISMATCH", "medium", 700, "t2", "open"),
        ("d", "R1", "SP-NOT-IN-PLAN", "medium", 2500, "t2", "open"),
        ("e", "R1", "AC-SURPLUS", "medium", 10000, None, "open"),
        ("f", "R2", "SP-CASH", "medium", 3000, "t1", "dismissed"),   # another recipient's t1
        ("g", "R2", "EV-NO-EVIDENCE", "medium", 3000, "t1", "open"),
    ], columns=["exception_id", "recipient_id", "rule_id", "severity", "amount_pence", "txn_ref", "status"])
    fig = summary_figures(f)
    assert fig.money_at_stake_pence == 5000 + 2500 + 10000 + 3000
    per = dict(zip(fig.by_recipient["recipient_id"], fig.by_recipient["money_at_stake_pence"]))
    assert per == {"R1": 17500, "R2": 3000}
    rules = dict(zip(fig.by_rule["rule_id"], fig.by_rule["money_at_stake_pence"]))
    assert rules["SP-HOUSEHOLD"] == 5000 and rules["EV-NO-EVIDENCE"] == 8000 and rules["SP-CASH"] == 0
