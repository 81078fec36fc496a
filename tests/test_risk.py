"""Risk rating per recipient (decide.risk, docs/risk.md): score arithmetic from the policy's weights,
thresholds, reasons, the 6-period window, decisions, review schedules, RV-REVIEW-DUE, reports, re-runs.

Expected values are worked out by hand from the default policy's [risk] weights, which the first
test pins: high 20, medium 5, low 1, info 0 per finding (at most 1 of one rule a month); upheld
+10/+3/+1; 30 points x the unevidenced share; 5 per surplus month, 10 for a rising balance above
10%; 10 per month without a statement, 5 per other month with a gap; amber from 20, red from 50.
"""
from __future__ import annotations

import copy
import csv
import io
import zipfile
from dataclasses import replace
from datetime import date, datetime
from types import SimpleNamespace

import pandas as pd
import pytest
from openpyxl import load_workbook

from dpaudit import store
from dpaudit.audit.data import load_audit_data
from dpaudit.audit.rules.rv import review_due
from dpaudit.core.dates import parse_period
from dpaudit.core.policy import PolicyError, load_policy
from dpaudit.decide.risk import RISK_COLUMNS, rate_period, rate_recipients, window_periods
from dpaudit.report.csvs import RECOMMENDATIONS_COLUMNS, write_recommendations_csv
from dpaudit.report.summary_md import summary_markdown
from dpaudit.report.workbook import write_workbook

POLICY = load_policy()
P = "2026-03"
START = date(2025, 9, 10)


def with_risk(**over) -> object:
    raw = copy.deepcopy(POLICY.raw)
    for k, v in over.items():
        raw["risk"][k] = v
    return replace(POLICY, raw=raw)


def people(*ids, start=START, end=None, status="active") -> pd.DataFrame:
    return pd.DataFrame({"recipient_id": list(ids), "dp_start_date": [start] * len(ids),
                         "dp_end_date": [end] * len(ids), "status": [status] * len(ids)})


_n = iter(range(10**6))


def f(rid, rule, severity, period=P, status="open") -> dict:
    return {"exception_id": f"x{next(_n):05d}", "period": period, "recipient_id": rid, "rule_id": rule,
            "severity": severity, "status": status}


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["exception_id", "period", "recipient_id", "rule_id", "severity", "status"])


NO_REC = pd.DataFrame(columns=["period", "recipient_id", "opening_balance_pence", "closing_balance_pence", "evidenced_pence",
                               "unevidenced_pence", "contingency_pct"])


def rate(rows, ids=None, rec=NO_REC, policy=POLICY, period=P, **kw) -> pd.DataFrame:
    rf = frame(rows)
    ids = ids or sorted(set(rf["recipient_id"])) or ["R1"]
    return rate_recipients(period, people(*ids, **kw), rf, rec, policy).set_index("recipient_id")


def test_default_weights_are_the_ones_this_file_computes_with():
    r = POLICY.raw["risk"]
    assert r["finding_points"] == {"high": 20, "medium": 5, "low": 1, "info": 0}
    assert r["upheld_points"] == {"high": 10, "medium": 3, "low": 1, "info": 0}
    assert (r["amber_score"], r["red_score"], r["window_periods"], r["max_per_rule_month"]) == (20, 50, 6, 1)
    assert (r["evidence_points"], r["surplus_month_points"], r["rising_points"], r["rising_months"]) == (30, 5, 10, 3)
    assert (r["missing_statement_points"], r["statement_gap_points"], r["dismissed_pct"]) == (10, 5, 0)
    assert r["review_months"] == {"red": 1, "amber": 3, "green": 6} and r["schedule_reviews"] is False
    assert list(RISK_COLUMNS[:4]) == ["recipient_id", "period", "rating", "score"]


def test_score_is_the_sum_of_severity_points_and_upheld_points():
    rows = [f("R1", "SP-PROHIBITED", "high"), f("R1", "SP-TRANSFER-OUT", "high", "2026-01", status="accepted"),
            f("R1", "SP-CASH", "medium", "2025-12"), f("R1", "SP-NOT-IN-PLAN", "medium", status="queried"),
            f("R1", "EV-ORPHAN-RECEIPT", "low", "2025-11"), f("R1", "DQ-DUPLICATE-FILE", "info"),
            # rules a part of the score measures itself, and rules never counted
            f("R1", "EV-NO-EVIDENCE", "medium"), f("R1", "RV-REVIEW-DUE", "info"), f("R1", "RULE-ERROR", "high"),
            # any rule id, including ones added later, counts through its severity
            f("R1", "CO-SHARED-PAYEE", "medium", "2026-02")]
    r = rate(rows).loc["R1"]
    # findings: 2 high x 20 + 3 medium x 5 + 1 low x 1 + 1 info x 0 = 56; upheld: 1 high = +10
    assert (r["findings_points"], r["upheld_points"]) == (56, 10)
    assert (r["evidence_points"], r["surplus_points"], r["statements_points"]) == (0, 0, 0)
    assert r["score"] == 66 and r["rating"] == "red"


@pytest.mark.parametrize("rows, score, rating", [
    # 3 medium (15) + 4 low of four rules (4) = 19
    ([(r, "medium") for r in ("M1", "M2", "M3")] + [(r, "low") for r in ("L1", "L2", "L3", "L4")], 19, "green"),
    ([("SP-PROHIBITED", "high")], 20, "amber"),                                      # exactly amber
    ([("H1", "high"), ("H2", "high"), ("M1", "medium")] + [(r, "low") for r in ("L1", "L2", "L3", "L4")], 49, "amber"),
    ([("H1", "high"), ("H2", "high"), ("M1", "medium"), ("M2", "medium")], 50, "red"),  # exactly red
    ([], 0, "green"),
])
def test_thresholds_at_their_exact_boundaries(rows, score, rating):
    out = rate([f("R1", rule, sev) for rule, sev in rows], ids=["R1"]).loc["R1"]
    assert (out["score"], out["rating"]) == (score, rating)


def test_window_is_the_period_and_the_five_before():
    assert window_periods(P, 6) == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    six = rate([f("R1", "SP-PROHIBITED", "high", "2025-10")]).loc["R1"]   # 5 periods back: counts
    seven = rate([f("R1", "SP-PROHIBITED", "high", "2025-09")]).loc["R1"]  # 6 periods back: does not
    later = rate([f("R1", "SP-PROHIBITED", "high", "2026-04")]).loc["R1"]  # after the period: does not
    assert six["score"] == 20 and seven["score"] == 0 and later["score"] == 0


def test_at_most_one_finding_of_a_rule_a_month_counts():
    rows = [f("R1", "SP-PROHIBITED", "high") for _ in range(5)] + [f("R1", "SP-PROHIBITED", "high", "2026-02"),
                                                                   f("R1", "SP-HOUSEHOLD", "high")]
    r = rate(rows).loc["R1"]
    assert r["findings_points"] == 3 * 20  # SP-PROHIBITED in March and February, SP-HOUSEHOLD in March
    assert r["reasons"] == ("3 high findings in the last 6 months (SP-HOUSEHOLD, SP-PROHIBITED; 7 found, at most 1 "
                            "of one rule a month counted): +60")
    three = rate(rows, policy=with_risk(max_per_rule_month=3)).loc["R1"]
    assert three["findings_points"] == (3 + 1 + 1) * 20
    # the one that counts is the one an officer accepted
    upheld = rate([f("R1", "SP-CASH", "medium"), f("R1", "SP-CASH", "medium", status="accepted")]).loc["R1"]
    assert (upheld["findings_points"], upheld["upheld_points"]) == (5, 3)


def test_dismissed_findings_do_not_count_by_default_and_keep_their_share_when_set():
    rows = [f("R1", "SP-PROHIBITED", "high", status="dismissed"), f("R1", "SP-CASH", "medium", status="dismissed")]
    assert rate(rows).loc["R1", "score"] == 0
    half = rate(rows, policy=with_risk(dismissed_pct=50)).loc["R1"]
    # 20 x 50% = 10, 5 x 50% = 2.5 -> 3 (half-up)
    assert (half["findings_points"], half["score"]) == (13, 13)
    assert "1 high finding in the last 6 months (SP-PROHIBITED; 1 dismissed, counted at 50%): +10" in half["reasons"]
    # a dismissed statement or surplus finding does not count either
    assert rate([f("R1", "DQ-STATEMENT-MISSING", "high", status="dismissed"),
                 f("R1", "AC-SURPLUS", "medium", status="dismissed")]).loc["R1", "score"] == 0


def test_statements_surplus_and_evidence_parts():
    rows = [f("R1", "DQ-STATEMENT-MISSING", "high", "2026-01"), f("R1", "DQ-STATEMENT-MISSING", "high"),
            f("R1", "DQ-STATEMENT-GAP", "medium", "2026-01"),   # same month as a missing one: not again
            f("R1", "DQ-STATEMENT-GAP", "medium", "2025-12"), f("R1", "DQ-STATEMENT-GAP", "medium", "2025-12"),
            f("R1", "AC-SURPLUS", "medium", "2025-11"), f("R1", "AC-SURPLUS", "medium", "2026-02"),
            f("R1", "AC-SURPLUS", "medium")]
    rec = pd.DataFrame({"period": ["2026-01", "2026-02", "2026-03"], "recipient_id": "R1",
                        "opening_balance_pence": [600, 500, 400], "closing_balance_pence": [500, 400, 300], "evidenced_pence": [70000, 0, 0],
                        "unevidenced_pence": [20000, 10000, 0], "contingency_pct": ["30", "25", "20"]})
    r = rate(rows, rec=rec).loc["R1"]
    assert r["statements_points"] == 2 * 10 + 1 * 5
    assert r["surplus_points"] == 3 * 5   # the balance falls: nothing for a rise
    assert r["evidence_points"] == 9      # 30 x 30,000 / 100,000
    assert r["findings_points"] == 0      # these rules count only in their own part
    assert r["score"] == 49 and r["rating"] == "amber"
    assert r["reasons"].split("; ") == [
        "No bank statement for 2 of the last 6 months (January 2026, March 2026): +20",
        "Funds above the surplus limit (AC-SURPLUS) in 3 of the last 6 months (November 2025, February 2026, "
        "March 2026): +15",
        "30% of the money paid out in the last 6 months had no receipt, invoice or payslip (£300.00 of £1,000.00): +9"]


def test_evidence_share_rounds_half_up():
    rec = pd.DataFrame({"period": [P], "recipient_id": ["R1"], "opening_balance_pence": [0], "closing_balance_pence": [0],
                        "evidenced_pence": [59],
                        "unevidenced_pence": [1], "contingency_pct": [None]})
    assert rate([], ids=["R1"], rec=rec).loc["R1", "evidence_points"] == 1  # 30 / 60 = 0.5 -> 1
    rec["evidenced_pence"] = 60
    assert rate([], ids=["R1"], rec=rec).loc["R1", "evidence_points"] == 0  # 30 / 61 = 0.49 -> 0


def test_a_rising_balance_above_the_contingency_scores_once():
    def rec(closing, pct, periods=("2025-12", "2026-01", "2026-02", "2026-03"), opening=None):
        # each month opens where the one before closed (the first a penny lower) unless told otherwise
        opening = opening or [closing[0] - 1] + list(closing[:-1])
        return pd.DataFrame({"period": list(periods), "recipient_id": "R1", "opening_balance_pence": opening,
                             "closing_balance_pence": closing, "evidenced_pence": 0, "unevidenced_pence": 0,
                             "contingency_pct": pct})
    up = rate([], ids=["R1"], rec=rec([100000, 120000, 130000, 150000], ["8", "9", "9.5", "12.34"])).loc["R1"]
    assert up["surplus_points"] == 10
    assert up["reasons"] == ("The balance rose in each of the last 3 months, to £1,500.00 (12.3% of the annual value, "
                             "above the 10% contingency): +10")
    assert rate([], ids=["R1"], rec=rec([1, 2, 3, 4], ["7", "8", "9", "10"])).loc["R1", "score"] == 0  # not above 10%
    assert rate([], ids=["R1"], rec=rec([1, 2, 2, 4], ["7", "8", "9", "11"])).loc["R1", "score"] == 0  # not every month
    assert rate([], ids=["R1"], rec=rec([1, 2, 4], ["8", "9", "11"], ("2025-12", "2026-02", "2026-03"))
                ).loc["R1", "score"] == 0  # a month not audited
    # each month is judged on its own statement: the three months each closed above their opening,
    # though a break between January and February (its own finding) lowered February's opening
    broken = rec([100000, 120000, 130000, 150000], ["8", "9", "9.5", "12.34"], opening=[90000, 110000, 100000, 140000])
    assert rate([], ids=["R1"], rec=broken).loc["R1", "surplus_points"] == 10
    # only 3 months are needed: December (the 4th month back) is not read
    three = rec([120000, 130000, 150000], ["9", "9.5", "12.34"], ("2026-01", "2026-02", "2026-03"))
    assert rate([], ids=["R1"], rec=three).loc["R1", "surplus_points"] == 10
    fell = rec([120000, 130000, 150000], ["9", "9.5", "12.34"], ("2026-01", "2026-02", "2026-03"),
               opening=[120000, 125000, 140000])  # January closed where it opened: not a rise
    assert rate([], ids=["R1"], rec=fell).loc["R1", "surplus_points"] == 0


def test_top_three_reasons_largest_first():
    rows = ([f("R1", "SP-CASH", "medium")] + [f("R1", "SP-PROHIBITED", "high", p) for p in ("2026-01", "2026-02")]
            + [f("R1", "DQ-STATEMENT-MISSING", "high", "2025-12"), f("R1", "EV-ORPHAN-RECEIPT", "low")]
            + [f("R1", "PY-DBS-MISSING", "high", status="accepted")])
    r = rate(rows).loc["R1"]
    # findings high 3 x 20 = 60, statements 10, upheld 10, medium 5, low 1: the three largest, then by part
    assert r["score"] == 86
    assert r["reasons"].split("; ") == [
        "3 high findings in the last 6 months (PY-DBS-MISSING, SP-PROHIBITED): +60",
        "No bank statement for 1 of the last 6 months (December 2025): +10",
        "1 finding upheld by an officer (PY-DBS-MISSING): +10"]
    assert rate([], ids=["R2"]).loc["R2", "reasons"] == "Nothing in the last 6 months adds to the score."


def test_next_review_per_rating():
    rows = [f("R1", "SP-PROHIBITED", "high", "2025-12")] + [f("R2", h, "high", "2025-12") for h in ("H1", "H2", "H3")]
    out = rate(rows + [f("R3", "X", "info", "2025-12")], period="2025-12", start=date(2025, 2, 15))
    assert (out.loc["R2", "rating"], out.loc["R1", "rating"], out.loc["R3", "rating"]) == ("red", "amber", "green")
    assert out.loc["R2", "next_review"] == date(2026, 1, 1)    # red: now, the day after the period
    assert out.loc["R1", "next_review"] == date(2026, 2, 15)   # amber: 15 May, Aug, Nov, then Feb
    assert out.loc["R3", "next_review"] == date(2026, 5, 15)   # green: 15 May, 15 Nov, then 15 May (PBP 5.1)
    # a start on the 31st keeps the month's last day
    late = rate([f("R1", "SP-PROHIBITED", "high", "2026-01")], period="2026-01", start=date(2025, 8, 31)).loc["R1"]
    assert late["next_review"] == date(2026, 2, 28)  # amber: 30 Nov, then 28 Feb
    ended = rate([f("R1", "SP-PROHIBITED", "high")], end=date(2026, 3, 31)).loc["R1"]
    stopped = rate([f("R1", "SP-PROHIBITED", "high")], status="stopped").loc["R1"]
    assert ended["next_review"] is None and stopped["next_review"] is None


def test_risk_policy_is_checked_when_loaded(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("[risk]\namber_score = 60\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="amber"):
        load_policy(bad)
    bad.write_text("[risk.review_months]\namber = 0\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="review_months.amber"):
        load_policy(bad)
    bad.write_text("[risk]\nrising_months = 7\n", encoding="utf-8")  # more than the 6-month window reads
    with pytest.raises(PolicyError, match="rising_months = 7 is more than risk.window_periods = 6"):
        load_policy(bad)
    ok = tmp_path / "ok.toml"
    ok.write_text("[risk]\nschedule_reviews = true\nred_score = 40\n", encoding="utf-8")
    assert load_policy(ok).raw["risk"]["red_score"] == 40


# ------------------------------------------------------------------ RV-REVIEW-DUE with the schedule
def _audit(period, ratings, policy):
    s, e = parse_period(period)
    rc = pd.DataFrame({"recipient_id": ["A", "G", "N", "R"], "management_type": "direct_payment",
                       "dp_start_date": pd.to_datetime([START] * 4), "dp_end_date": pd.NaT, "status": "active"})
    pr = pd.DataFrame(ratings, columns=["recipient_id", "period", "rating"])
    return SimpleNamespace(policy=policy, period=period, start=s, end=e, recipients=rc, prior_ratings=pr)


def test_review_due_follows_the_rating_when_the_schedule_is_on():
    ratings = [("A", "2026-02", "amber"), ("G", "2026-02", "green"), ("R", "2026-02", "red")]
    on = review_due(_audit("2026-03", ratings, with_risk(schedule_reviews=True))).set_index("recipient_id")
    # started 10 Sep 2025: amber every 3 months -> 10 Dec, 10 Mar; green and never rated (N) -> 10 Dec, 10 Jun
    assert sorted(on.index) == ["A", "R"]
    assert on.loc["A", "key"] == "2026-03-10" and "risk rating for February 2026 is amber" in on.loc["A", "message"]
    assert on.loc["R", "key"] == "2026-03-01"  # red: due now, the first day of the period
    assert on.loc["R", "message"].startswith("A review of the direct payment is due now, on 01/03/2026")
    off = review_due(_audit("2026-03", ratings, POLICY))
    assert off.empty  # PBP 5.1 for everyone: no review in March
    dec = review_due(_audit("2025-12", [], with_risk(schedule_reviews=True))).set_index("recipient_id")
    assert sorted(dec.index) == ["A", "G", "N", "R"]  # nobody rated yet: PBP 5.1's first review on 10 Dec
    assert dec.loc["N", "message"].startswith("A review of the direct payment is due on 10/12/2025 (3 months after")
    # red stays monthly: rated red in January, still the latest rating in March
    again = review_due(_audit("2026-03", [("R", "2026-01", "red")], with_risk(schedule_reviews=True)))
    assert list(again["key"]) == ["2026-03-01"]


# ------------------------------------------------------------------ the store: rate_period
def _store_month(con, period, rows, rec_rows=()):
    store.insert_df(con, "findings", pd.DataFrame([{**r, "period": period} for r in rows]))
    store.insert_df(con, "recommendations", pd.DataFrame({"period": period, "recipient_id": ["R1", "R2"],
                                                          "action": "NONE", "amount_pence": 0}), on_conflict="REPLACE")
    if rec_rows:
        store.insert_df(con, "reconciliation", pd.DataFrame(list(rec_rows)))


@pytest.fixture()
def con(tmp_path):
    with store.open_store(tmp_path / "t.duckdb") as c:
        store.insert_df(c, "recipients", pd.DataFrame({
            "recipient_id": ["R1", "R2"], "management_type": "direct_payment", "dp_start_date": [START, START],
            "status": "active"}))
        yield c


def test_rate_period_stores_idempotently_and_decisions_count(con):
    _store_month(con, "2026-02", [{"exception_id": "a1", "recipient_id": "R1", "rule_id": "SP-PROHIBITED",
                                   "severity": "high"}])
    _store_month(con, P, [{"exception_id": "b1", "recipient_id": "R1", "rule_id": "SP-HOUSEHOLD", "severity": "high"},
                          {"exception_id": "b2", "recipient_id": "R2", "rule_id": "SP-CASH", "severity": "medium"}],
                 [{"period": P, "recipient_id": "R2", "evidenced_pence": 0, "unevidenced_pence": 5000,
                   "closing_balance_pence": 0}])
    first = rate_period(con, P, POLICY, run_id="run-1")
    again = rate_period(con, P, POLICY, run_id="run-2")
    pd.testing.assert_frame_equal(first, again)
    stored = con.execute("SELECT recipient_id, rating, score, reasons FROM risk_ratings WHERE period = ? "
                         "ORDER BY recipient_id", [P]).fetchall()
    assert [(r[0], r[1], r[2]) for r in stored] == [("R1", "amber", 40), ("R2", "amber", 35)]  # R2: 5 + 30
    # an officer accepts one finding and dismisses another: the rating is made again from them
    store.insert_df(con, "decisions", pd.DataFrame([
        {"seq": 1, "exception_id": "a1", "decision": "accept", "officer": "o"},
        {"seq": 2, "exception_id": "b2", "decision": "dismiss", "officer": "o"}]))
    after = rate_period(con, P, POLICY).set_index("recipient_id")
    assert (after.loc["R1", "score"], after.loc["R1", "upheld_points"]) == (50, 10) and after.loc["R1", "rating"] == "red"
    assert after.loc["R2", "score"] == 30
    assert con.execute("SELECT count(*) FROM risk_ratings WHERE period = ?", [P]).fetchall() == [(2,)]
    # the audit of the next period carries the latest earlier rating, not its own period's
    data = load_audit_data(con, "2026-04", POLICY)
    assert dict(zip(data.prior_ratings["recipient_id"], data.prior_ratings["rating"])) == {"R1": "red", "R2": "amber"}
    assert load_audit_data(con, P, POLICY).prior_ratings.empty


# ------------------------------------------------------------------ reports
def _recs_with_risk():
    from test_workbook import small_fixture

    d = small_fixture()
    d["recommendations"] = d["recommendations"].assign(
        risk_rating=["amber", "red", "green"], risk_score=[35, 120, 0],
        risk_reasons=["1 high finding in the last 6 months (SP-PROHIBITED): +20", "=bad; 6 high findings: +120",
                      "Nothing in the last 6 months adds to the score."],
        next_review=[date(2026, 8, 1), date(2025, 6, 1), None])
    return d


def test_recommendations_csv_keeps_the_contract_columns_first(tmp_path):
    d = _recs_with_risk()
    rows = list(csv.reader(io.StringIO(write_recommendations_csv(tmp_path / "r.csv", d["recommendations"])
                                       .read_text(encoding="utf-8"))))
    assert rows[0] == RECOMMENDATIONS_COLUMNS + ["risk_rating", "risk_score", "risk_reasons", "next_review"]
    by = {r[0]: r for r in rows[1:]}
    assert by["R001"][8:] == ["amber", "35", "1 high finding in the last 6 months (SP-PROHIBITED): +20", "2026-08-01"]
    assert by["R002"][8:10] == ["red", "120"] and by["R002"][10].startswith("'=")  # never a formula
    assert by["R003"][11] == ""


def test_workbook_shows_the_rating_with_its_colour_and_a_chart(tmp_path):
    d = _recs_with_risk()
    p = write_workbook(tmp_path / "x.xlsx", period="2025-05", run_time=datetime(2025, 6, 2, 9, 30),
                       policy_version="2025.1", policy=POLICY, **d)
    wb = load_workbook(p)
    rs = wb["Recommendations"]
    head = [c.value for c in rs[1]]
    assert head[-4:] == ["Risk", "Risk score", "Risk reasons", "Next review"] and head[11] == "exception_id"
    rows = {r[0].value: r for r in rs.iter_rows(min_row=2, max_row=4)}
    risk = head.index("Risk")
    assert rows["R002"][risk].value == "red" and rows["R002"][risk].fill.fgColor.rgb.endswith("FFC7CE")
    assert rows["R001"][risk].fill.fgColor.rgb.endswith("FFEB9C") and rows["R003"][risk].fill.fgColor.rgb.endswith("C6EFCE")
    assert rows["R002"][risk + 1].value == 120 and rows["R002"][risk + 3].value == datetime(2025, 6, 1)
    ex = wb["Exceptions"]
    assert [c.value for c in ex[1]][-1] == "Risk"
    assert {r[0].value: r[-1].value for r in ex.iter_rows(min_row=2, max_row=8)} == {"R001": "amber", "R002": "red",
                                                                                     "R003": "green"}
    assert any(str(cf.sqref) == "S2:S8" for cf in ex.conditional_formatting)
    summary = wb["Summary"]
    cells = [[c.value for c in row] for row in summary.iter_rows()]
    at = next(i for i, r in enumerate(cells) if r[0] == "Risk rating")
    assert [r[:3] for r in cells[at + 1: at + 4]] == [["red", 1, "review now, then monthly"],
                                                      ["amber", 1, "review every 3 months"],
                                                      ["green", 1, "review every 6 months"]]
    assert len(summary._charts) == 3
    with zipfile.ZipFile(p) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert any("Recipients by risk rating" in c for c in charts)


def test_summary_markdown_counts_ratings_and_lists_the_red_ones():
    d = _recs_with_risk()
    md = summary_markdown(period="2025-05", run_time=datetime(2025, 6, 2), policy_version="2025.1",
                          findings=d["findings"], recommendations=d["recommendations"],
                          review_months=POLICY.raw["risk"]["review_months"])
    assert "| red | 1 | review now, then monthly |" in md and "| green | 1 | review every 6 months |" in md
    assert "## Red recipients" in md and "| R002 | 120 | =bad; 6 high findings: +120 |" in md
    assert "## Recipients by risk rating" not in summary_markdown(
        period="2025-05", run_time=datetime(2025, 6, 2), policy_version="2025.1", findings=d["findings"],
        recommendations=d["recommendations"].drop(columns=["risk_rating"]))


# ------------------------------------------------------------------ the pipeline on the sample council
def test_pipeline_rates_each_month_reruns_identically_and_schedules_reviews(tmp_path):
    import shutil
    from pathlib import Path

    from dpaudit import pipeline
    from dpaudit.flows.monthly import artifact_markdown

    data = tmp_path / "data"
    shutil.copytree(Path(__file__).resolve().parents[1] / "sample_data", data)
    pol = tmp_path / "policy.toml"
    pol.write_text("[risk]\nschedule_reviews = true\n", encoding="utf-8")
    db, reports = tmp_path / "db.duckdb", tmp_path / "reports"
    runs = [pipeline.run_period(data, p, reports_dir=reports, db_path=db, policy_path=pol, officer="Preparer")
            for p in ("2026-01", "2026-02", "2026-03")]
    cols = "recipient_id, rating, score, findings_points, evidence_points, surplus_points, statements_points, " \
           "upheld_points, reasons, next_review"
    with store.open_store(db, read_only=True) as c:
        before = c.execute(f"SELECT {cols} FROM risk_ratings WHERE period = '2026-03' ORDER BY 1").fetchall()
        n_recs = c.execute("SELECT count(*) FROM recommendations WHERE period = '2026-03'").fetchall()[0][0]
        red_feb = {r[0] for r in c.execute("SELECT recipient_id FROM risk_ratings WHERE period = '2026-02' "
                                           "AND rating = 'red'").fetchall()}
        due_now = {r[0] for r in c.execute("SELECT recipient_id FROM findings WHERE period = '2026-03' AND "
                                           "rule_id = 'RV-REVIEW-DUE' AND txn_date = DATE '2026-03-01'").fetchall()}
    assert len(before) == n_recs > 0
    assert red_feb and due_now == red_feb  # red in February: a review is due on 1 March
    assert runs[2].counts["risk"] == {k: sum(r[1] == k for r in before) for k in ("red", "amber", "green")}
    rows = list(csv.reader(io.StringIO((reports / "2026-03" / "recommendations.csv").read_text(encoding="utf-8"))))
    assert rows[0][-4:] == ["risk_rating", "risk_score", "risk_reasons", "next_review"]
    assert {r[0]: r[8] for r in rows[1:]} == {r[0]: r[1] for r in before}
    md = artifact_markdown("2026-03", runs[2].summary_md, [], runs[2].counts, runs[2].timings)
    assert "## Recipients by risk rating" in md and "## Red recipients" in md
    # the month again: the same ratings, the same rows
    pipeline.run_period(data, "2026-03", reports_dir=reports, db_path=db, policy_path=pol, officer="Preparer")
    with store.open_store(db, read_only=True) as c:
        again = c.execute(f"SELECT {cols} FROM risk_ratings WHERE period = '2026-03' ORDER BY 1").fetchall()
    assert again == before
