"""The realistic oracle's risk rating truth (dpaudit.synth.realistic.risk_truth): docs/risk.md's
arithmetic on hand-made inputs.  Every expected figure is worked out here from docs/risk.md and the
policy's [risk] weights; nothing of the engine is imported."""
from __future__ import annotations

import csv
import tomllib
from datetime import date
from pathlib import Path

import pytest

from dpaudit.synth.realistic import risk_truth as R
from dpaudit.synth.realistic.__main__ import generate
from dpaudit.synth.realistic.risk_truth import Balance, Finding, Inputs, rate

POLICY = Path(__file__).resolve().parents[1] / "src/dpaudit/resources/policy.default.toml"
M = "2026-03"  # the month rated; window October 2025 to March 2026


def f(period, rule, sev, status="open"):
    return Finding(period, rule, sev, status)


def score(findings=(), money=None, balance=None, period=M):
    return rate(Inputs(list(findings), money or {}, balance or {}), period)


# ---------------------------------------------------------------- the weights are the policy's
def test_weights_are_the_policys():
    pol = tomllib.loads(POLICY.read_text(encoding="utf-8"))
    risk = pol["risk"]
    for k in ("window_periods", "amber_score", "red_score", "max_per_rule_month", "dismissed_pct",
              "evidence_points", "surplus_month_points", "rising_months", "rising_points",
              "missing_statement_points", "statement_gap_points"):
        assert R.RISK[k] == risk[k], k
    assert R.RISK["contingency_max_pct"] == int(pol["thresholds"]["contingency_max_pct"])
    assert R.RISK["review_first_months"] == pol["thresholds"]["review_first_months"]
    assert R.FINDING_POINTS == risk["finding_points"]
    assert R.UPHELD_POINTS == risk["upheld_points"]
    assert R.REVIEW_MONTHS == risk["review_months"]
    assert R.IGNORE_RULES == set(risk["ignore_rules"])
    assert R.EVIDENCE_RULES == set(risk["evidence_rules"])
    assert R.SURPLUS_RULES == set(risk["surplus_rules"])
    assert R.MISSING_RULES == set(risk["missing_statement_rules"])
    assert R.GAP_RULES == set(risk["statement_gap_rules"])
    # the oracle's severities are the policy's [rules.*] (RULE-ERROR counts nowhere)
    sev = R.severities()
    for rule, t in pol["rules"].items():
        if rule != "RULE-ERROR":
            assert sev[rule] == t["severity"], rule


# ---------------------------------------------------------------- findings part
def test_severity_points():
    r = score([f(M, "SP-PROHIBITED", "high"), f(M, "SP-CASH", "medium"),
               f(M, "EV-ORPHAN-RECEIPT", "low"), f(M, "DQ-DUPLICATE-FILE", "info")])
    assert (r.parts["high"], r.parts["medium"], r.parts["low"]) == (20, 5, 1)
    assert r.score == 26 and r.rating == "amber"


def test_one_finding_of_a_rule_a_month():
    fs = [f(M, "SP-PROHIBITED", "high")] * 3 + [f("2026-01", "SP-PROHIBITED", "high")]
    fs += [f(M, "PY-DBS-MISSING", "high")] * 4  # another rule the same month counts on its own
    r = score(fs)
    assert r.parts["high"] == 60  # SP-PROHIBITED in January and March, PY-DBS-MISSING in March
    d = r.detail["high"]
    assert (d["counted"], d["found"]) == (3, 8)
    assert d["rules"] == ["PY-DBS-MISSING", "SP-PROHIBITED"]
    assert "8 found, at most 1 of one rule a month counted" in r.reasons[0][2]


def test_six_month_window():
    fs = [f("2025-09", "SP-HOUSEHOLD", "high"),  # 6 months before March: outside
          f("2025-10", "SP-CASH", "medium"),  # the window's first month
          f("2026-04", "SP-PROHIBITED", "high")]  # a later month never counts
    r = score(fs)
    assert R.window(M) == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert r.parts["high"] == 0 and r.parts["medium"] == 5 and r.score == 5
    # rated in February 2026 the window is September to February: the household bill counts
    assert score(fs, period="2026-02").score == 25


def test_rules_measured_elsewhere_or_nowhere_are_left_out_of_the_findings_part():
    fs = [f(M, "EV-NO-EVIDENCE", "medium"), f(M, "AC-SURPLUS", "medium"),
          f("2026-01", "DQ-STATEMENT-MISSING", "high"), f(M, "DQ-STATEMENT-GAP", "medium"),
          f(M, "RV-REVIEW-DUE", "info"), f(M, "RULE-ERROR", "high")]
    r = score(fs)
    assert (r.parts["high"], r.parts["medium"]) == (0, 0)
    assert r.parts["surplus"] == 5 and r.parts["missing"] == 10 and r.parts["gap"] == 5
    assert r.score == 20


def test_dismissed_counts_nothing_accepted_adds_upheld_points():
    fs = [f("2026-02", "SP-TRANSFER-OUT", "high", "dismissed"),
          f("2026-01", "SP-PROHIBITED", "high", "accepted"),
          f("2026-01", "SP-PROHIBITED", "high", "accepted"),  # one a month
          f(M, "SP-CASH", "medium", "accepted"), f(M, "EV-ORPHAN-RECEIPT", "low", "queried")]
    r = score(fs)
    assert r.parts["high"] == 20 and r.parts["medium"] == 5 and r.parts["low"] == 1
    assert r.parts["upheld"] == 10 + 3
    assert r.score == 39


# ---------------------------------------------------------------- evidence part
@pytest.mark.parametrize("unev, total, points", [
    (45000, 300000, 5),  # 30 x 450 / 3,000 = 4.5: half-up
    (44900, 300000, 4),  # 4.49
    (1, 12, 3),  # 2.5
    (5000, 204847, 1),  # 0.73
    (1000, 204847, 0),  # 0.15
    (300000, 300000, 30),  # nothing evidenced
    (0, 0, 0),  # nothing paid out
])
def test_evidence_share_rounded_half_up(unev, total, points):
    # the window's money is summed over its months before the share is taken
    a, b = unev // 2, unev - unev // 2
    ta, tb = total // 2, total - total // 2
    money = {"2026-01": (ta - a, a), M: (tb - b, b), "2025-09": (0, 999999)}  # September: outside
    assert score(money=money).parts["evidence"] == points


# ---------------------------------------------------------------- surplus part
def bal(o, c, above=True):
    return Balance(o, c, above)


def test_rising_balance():
    up = {"2026-01": bal(100, 200), "2026-02": bal(200, 300), M: bal(300, 400)}
    assert score(balance=up).parts["rising"] == 10
    # ends at or below 10% of the annual value: no points
    assert score(balance={**up, M: bal(300, 400, above=False)}).parts["rising"] == 0
    # one month did not rise (level): no points
    assert score(balance={**up, "2026-02": bal(200, 200)}).parts["rising"] == 0
    # a month of the three without a statement: not shown to rise
    assert score(balance={k: v for k, v in up.items() if k != "2026-02"}).parts["rising"] == 0
    # rising in December, January and February is not the last 3 months of March
    assert score(balance={"2025-12": bal(0, 100), "2026-01": bal(100, 200),
                          "2026-02": bal(200, 300), M: bal(300, 250)}).parts["rising"] == 0
    # surplus months: 5 each, counted once a month
    r = score([f("2026-01", "AC-SURPLUS", "medium"), f("2026-02", "AC-SURPLUS", "medium"),
               f("2026-02", "AC-SURPLUS", "medium")], balance=up)
    assert r.parts["surplus"] == 10 and r.score == 20 and r.rating == "amber"


def test_rising_balance_two_readings():
    # December has no statement: January's rise is known from January's opening balance (reading
    # A) but not from a December month-end of its own (reading B): the row is ambiguous
    up = {"2026-01": bal(100, 200), "2026-02": bal(200, 300), M: bal(300, 400)}
    r = score(balance=up)
    assert r.parts["rising"] == 10 and r.alt_score == 0
    r = score(balance={**up, "2025-12": bal(0, 100)})
    assert r.parts["rising"] == 10 and r.alt_score is None


# ---------------------------------------------------------------- statements part
def test_statement_parts():
    fs = [f("2025-11", "DQ-STATEMENT-MISSING", "high"),
          f("2026-01", "DQ-STATEMENT-MISSING", "high"),
          f("2026-01", "DQ-STATEMENT-GAP", "medium"),  # same month as a missing one: not again
          f("2026-02", "DQ-STATEMENT-GAP", "medium"), f(M, "DQ-STATEMENT-GAP", "medium"),
          f(M, "DQ-STATEMENT-GAP", "medium")]
    r = score(fs)
    assert r.parts["missing"] == 20 and r.parts["gap"] == 10 and r.score == 30
    assert r.detail["gap"]["months"] == ["2026-02", M]


# ---------------------------------------------------------------- rating
@pytest.mark.parametrize("n_medium, n_low, rating", [
    (4, 0, "amber"),  # exactly 20
    (3, 4, "green"),  # 19
    (10, 0, "red"),  # exactly 50
    (9, 4, "amber"),  # 49
])
def test_thresholds(n_medium, n_low, rating):
    fs = [f(M, f"RULE-M{i}", "medium") for i in range(n_medium)]
    fs += [f(M, f"RULE-L{i}", "low") for i in range(n_low)]
    r = score(fs)
    assert r.score == 5 * n_medium + n_low and r.rating == rating


# ---------------------------------------------------------------- reasons
def test_reasons_largest_first_ties_in_the_documented_order():
    # missing 10 and upheld 10 tie: statements first; medium 5 and evidence 5 are smaller
    fs = [f("2026-01", "SP-PROHIBITED", "high", "accepted"), f(M, "SP-CASH", "medium"),
          f("2025-12", "DQ-STATEMENT-MISSING", "high"),
          f("2025-10", "SP-CASH", "medium", "dismissed")]
    r = score(fs, money={M: (25500, 4500)})  # 30 x 4,500 / 30,000 = 4.5 -> 5
    assert [(k, p) for k, p, _ in r.reasons] == [("high", 20), ("missing", 10), ("upheld", 10)]
    assert r.score == 50 and r.rating == "red"
    # rising 10 before missing 10, gap 5 after surplus 5
    up = {"2026-01": bal(100, 200), "2026-02": bal(200, 300), M: bal(300, 400)}
    r = score([f("2025-11", "DQ-STATEMENT-MISSING", "high"), f(M, "DQ-STATEMENT-GAP", "medium"),
               f("2026-02", "AC-SURPLUS", "medium")], balance=up)
    assert [(k, p) for k, p, _ in r.reasons] == [("rising", 10), ("missing", 10), ("surplus", 5)]
    # two months with gaps (10) tie with one month without a statement (10): missing first
    r = score([f(M, "DQ-STATEMENT-GAP", "medium"), f("2026-01", "DQ-STATEMENT-GAP", "medium"),
               f("2025-11", "DQ-STATEMENT-MISSING", "high"), f(M, "SP-CASH", "medium")])
    assert [(k, p) for k, p, _ in r.reasons] == [("missing", 10), ("gap", 10), ("medium", 5)]
    r = score([f(M, "SP-CASH", "medium"), f(M, "AC-SURPLUS", "medium")],
              money={M: (25500, 4500)})
    assert [(k, p) for k, p, _ in r.reasons] == [("medium", 5), ("evidence", 5), ("surplus", 5)]
    assert score().reasons == [] and score().score == 0


def test_worked_example_of_docs_risk():
    """docs/risk.md "Worked example": R00042 in March 2026 scores 70, red."""
    fs = [f("2026-01", "SP-PROHIBITED", "high", "accepted")] + \
        [f(M, "SP-PROHIBITED", "high")] * 3 + \
        [f("2026-02", "SP-CASH", "medium"), f("2026-02", "EV-NO-EVIDENCE", "medium"),
         f("2026-02", "SP-TRANSFER-OUT", "high", "dismissed"),
         f("2025-12", "DQ-STATEMENT-MISSING", "high"), f(M, "RV-REVIEW-DUE", "info"),
         f("2025-09", "SP-HOUSEHOLD", "high")]
    money = {"2026-01": (100000, 15000), "2026-02": (80000, 15000), M: (75000, 15000)}
    r = score(fs, money)
    assert r.parts == dict(high=40, medium=5, low=0, evidence=5, surplus=0, rising=0, missing=10,
                           gap=0, upheld=10)
    assert (r.score, r.rating) == (70, "red")
    assert [(k, p) for k, p, _ in r.reasons] == [("high", 40), ("missing", 10), ("upheld", 10)]
    assert R.next_review("red", M, date(2024, 7, 15), None, False) == date(2026, 4, 1)


def test_parse_engine_reasons():
    text = ("2 high findings in the last 6 months (SP-PROHIBITED; 4 found, at most 1 of one rule "
            "a month counted): +40; No bank statement for 1 of the last 6 months (December "
            "2025): +10; 1 finding upheld by an officer (SP-PROHIBITED): +10")
    got = R.parse_reasons(text)
    assert [(k, p) for k, p, _ in got] == [("high", 40), ("missing", 10), ("upheld", 10)]
    assert got[0][2] == dict(counted=2, found=4, rules=["SP-PROHIBITED"])
    ev = R.parse_reasons("24% of the money paid out in the last 6 months had no receipt, invoice "
                         "or payslip (£425.99 of £1,744.99): +7")
    assert ev == [("evidence", 7, dict(unevidenced=42599, paid_out=174499))]
    parts = R.engine_parts(70, got)
    assert parts["high"] == 40 and parts["medium"] == ("<=", 10)
    assert R.engine_parts(7, ev)["high"] == 0
    assert R.parse_reasons("Nothing in the last 6 months adds to the score.") == []


def test_next_review():
    start = date(2024, 7, 15)
    # amber: 3 months after the start, then every 3 months; green: 3, then every 6
    assert R.next_review("amber", "2025-11", start, None, False) == date(2026, 1, 15)
    assert R.next_review("green", "2025-11", start, None, False) == date(2026, 4, 15)
    assert R.next_review("green", "2025-09", start, None, False) == date(2025, 10, 15)
    assert R.next_review("red", "2025-11", start, None, False) == date(2025, 12, 1)
    # blank: the payment ends before it, or was stopped with no end date; no start (amber, green)
    assert R.next_review("amber", "2025-11", start, date(2026, 1, 14), False) is None
    assert R.next_review("red", "2025-11", start, None, True) is None
    assert R.next_review("green", "2025-11", None, None, False) is None
    assert R.next_review("red", "2025-11", None, None, False) == date(2025, 12, 1)


# ---------------------------------------------------------------- on a generated council
@pytest.fixture(scope="module")
def council(tmp_path_factory):
    out = tmp_path_factory.mktemp("risk") / "council"
    generate(str(out), n=8, seed=7)
    return out


def test_truth_of_a_generated_council_and_a_hand_made_engine_report(council, tmp_path):
    rt = R.RiskTruth(str(council))
    # a stopped recipient whose spending after the end is SP-AFTER-END (high) every month
    rows = list(csv.DictReader((council / "truth" / "findings.csv").open(encoding="utf-8")))
    after = [x for x in rows if x["rule_id"] == "SP-AFTER-END"]
    assert after
    rid = after[0]["recipient_id"]
    months = sorted({x["period"] for x in after if x["recipient_id"] == rid})
    t = rt.rating(rid, months[0])
    assert t.parts["high"] >= 20 and t.rating in ("amber", "red")
    # an engine report equal to the truth but for one rating: 1 disagreement, in the matrix
    reports = tmp_path / "reports"
    period = months[0]
    (reports / period).mkdir(parents=True)
    recs = []
    for r in rt.recips:
        x = rt.rating(r.rid, period)
        if x is None:
            continue
        nr = rt.next_review(r.rid, x)
        rating, sc = x.rating, x.score
        if r.rid == rid:
            rating, sc = "green", 0
        recs.append(dict(recipient_id=r.rid, period=period, risk_rating=rating, risk_score=sc,
                         risk_reasons="; ".join(s for _, _, s in x.reasons) if r.rid != rid else
                         "Nothing in the last 6 months adds to the score.",
                         next_review=nr.isoformat() if nr else ""))
    with (reports / period / "recommendations.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(recs[0]))
        w.writeheader()
        w.writerows(recs)
    res = R.compare(str(council), str(reports))
    m = next(x for x in res["months"] if x["period"] == period)
    assert m["rows"] == len(recs) and m["rating_agree"] == len(recs) - 1
    assert m["confusion"][f"{t.rating}->green"] == 1
    bad = [x for x in res["rows"] if x["truth_score"] != x["engine_score"]]
    assert [(x["recipient_id"], x["differing_parts"][0]) for x in bad] == [(rid, "high")]


def test_a_council_the_generator_did_not_write_is_refused(council, tmp_path):
    import shutil
    other = tmp_path / "council"
    shutil.copytree(council, other)
    p = other / "truth" / "findings.csv"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(lines[:-1]), encoding="utf-8")  # one finding less
    with pytest.raises(SystemExit, match="regenerate"):
        R.RiskTruth(str(other))
