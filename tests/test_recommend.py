"""Monthly recommendations (rules.md "Recommendations", PBP 5.4/5.5)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpaudit.decide import recommend
from dpaudit import store
from dpaudit.core.policy import load_policy

POLICY = load_policy()
PERIOD = "2025-06"
RESPOND_BY = date(2025, 7, 28)  # 30 June + 28 days


@pytest.fixture()
def con(tmp_path):
    with store.open_store(tmp_path / "t.duckdb") as c:
        yield c


def recipient(rid, **kw):
    row = {"recipient_id": rid, "child_name": "Child " + rid, "date_of_birth": date(2015, 1, 1),
           "management_type": "direct_payment", "sort_code": "040004", "account_number": "12345678",
           "account_holder": "Parent", "dp_start_date": date(2024, 4, 1), "dp_end_date": None,
           "status": "active", "stop_requested": "no", "support_officer": "SO", "young_person_declines": ""}
    row.update(kw)
    return row


_seq = iter(range(1, 10**6))


def finding(eid, rid, rule, amount=None, period=PERIOD, txn_ref=None, txn_date=None, severity=None):
    cfg = POLICY.rule(rule)
    return {"exception_id": eid, "period": period, "recipient_id": rid, "rule_id": rule,
            "severity": severity or cfg.severity, "txn_date": txn_date, "amount_pence": amount,
            "txn_ref": txn_ref, "clause": cfg.clause, "message": "m"}


def decision(eid, value, seq=None):
    return {"seq": seq if seq is not None else next(_seq), "exception_id": eid, "decision": value, "officer": "o"}


def load(con, recipients=(), findings=(), decisions=(), matches=()):
    if recipients:
        store.insert_df(con, "recipients", pd.DataFrame(list(recipients)))
    if findings:
        store.insert_df(con, "findings", pd.DataFrame(list(findings)))
    if decisions:
        store.insert_df(con, "decisions", pd.DataFrame(list(decisions)))
    for m in matches:  # matches has no key, so store.insert_df cannot be used
        con.execute("INSERT INTO matches (period, txn_id, evidence_kind, evidence_id, matched_pence, method) "
                    "VALUES (?, ?, 'receipt', ?, 0, 'exact')", [PERIOD, m, m])


def run(con, period=PERIOD, policy=POLICY, **kw):
    return recommend.recommend_period(con, period, policy, prepared_by="Officer A", **kw)


def without_carry(policy):
    """The policy with no decision carried to the next period (tests/test_decisions_carry.py tests carrying)."""
    import copy
    from dataclasses import replace

    raw = copy.deepcopy(policy.raw)
    raw["recommend"]["carry_decision_rules"] = []
    raw["recommend"]["carry_decision_actions"] = []
    return replace(policy, raw=raw)


def row_of(frame, rid):
    got = frame[frame["recipient_id"] == rid]
    assert len(got) == 1, frame
    return got.iloc[0]


# ---------------------------------------------------------------- STOP grounds, one at a time

def test_stop_requested(con):
    load(con, [recipient("S", stop_requested="Yes"), recipient("N")])
    out = run(con)
    s = row_of(out, "S")
    assert (s.action, s.grounds, s.amount_pence, s.respond_by) == ("STOP", "STOP-REQUESTED", 0, RESPOND_BY)
    assert "asked for the direct payment to stop (PBP 5.5)" in s.reasons and "28 July 2025" in s.reasons
    assert row_of(out, "N").action == "NONE" and row_of(out, "N").respond_by is None


@pytest.mark.parametrize("end,status,expected", [
    (date(2025, 6, 30), "active", "STOP"),    # ends on the period's last day
    (date(2025, 6, 10), "active", "STOP"),
    (date(2025, 3, 31), "active", "STOP"),    # long ended but still active
    (date(2025, 7, 1), "active", "NONE"),
    (None, "stopped", "STOP"),                # stopped, still inside its dates
    (date(2025, 6, 15), "suspended", "STOP"),
    (None, "suspended", "NONE"),
])
def test_stop_no_longer_entitled(con, end, status, expected):
    load(con, [recipient("E", dp_end_date=end, status=status)])
    r = row_of(run(con), "E")
    assert r.action == expected
    if expected == "STOP":
        assert r.grounds == "STOP-NOT-ENTITLED" and "no longer an entitlement" in r.reasons


def test_stopped_before_the_period_or_not_started_or_notional_gets_no_row(con):
    load(con, [recipient("OLD", status="stopped", dp_end_date=date(2025, 5, 31)),
               recipient("LATE", dp_start_date=date(2025, 7, 1)),
               recipient("NOT", management_type="notional"),
               recipient("COMBI", management_type="combination")])
    assert list(run(con)["recipient_id"]) == ["COMBI"]


def test_stopped_before_the_period_but_spending_after_the_end_is_recovered(con):
    load(con, [recipient("AFTER", status="stopped", dp_end_date=date(2025, 5, 31)),
               recipient("QUIET", status="stopped", dp_end_date=date(2025, 5, 31))],
         [finding("a1", "AFTER", "SP-AFTER-END", 2_500, txn_ref="t1"),
          finding("a2", "AFTER", "SP-AFTER-END", 1_500, txn_ref="t2")])
    out = run(con)
    assert list(out["recipient_id"]) == ["AFTER"]
    r = row_of(out, "AFTER")
    assert (r.action, r.amount_pence, r.grounds) == ("STOP", 4_000, "SP-AFTER-END;STOP-NOT-ENTITLED")
    assert "ended on 31 May 2025" in r.reasons and "In addition, £40.00 should be repaid (PBP 5.4)." in r.reasons


def test_stop_misuse_in_two_of_last_three_months(con):
    load(con, [recipient(x) for x in ("TWO", "OLD", "ONE")], [
        finding("a1", "TWO", "SP-PROHIBITED", 1_000, period="2025-04", txn_ref="t1"),
        finding("a2", "TWO", "SP-HOUSEHOLD", 2_000, period="2025-06", txn_ref="t2"),
        finding("b1", "OLD", "SP-PROHIBITED", 1_000, period="2025-03", txn_ref="t3"),  # outside the lookback
        finding("b2", "OLD", "SP-PROHIBITED", 1_000, period="2025-06", txn_ref="t4"),
        finding("c1", "ONE", "SP-TRANSFER-OUT", 5_000, period="2025-05", txn_ref="t5"),
        finding("c2", "ONE", "SP-NOT-IN-PLAN", 700, period="2025-06", txn_ref="t6"),  # medium: not misuse for STOP
    ])
    out = run(con)
    two = row_of(out, "TWO")
    assert two.action == "STOP" and two.grounds == "SP-HOUSEHOLD;SP-PROHIBITED;STOP-MISUSE"
    assert two.amount_pence == 2_000  # this period's misuse is still to be repaid
    assert "2 of the last 3 months (April 2025 and June 2025)" in two.reasons and "In addition, £20.00" in two.reasons
    assert row_of(out, "OLD").action == "REPAY" and row_of(out, "OLD").amount_pence == 1_000
    assert row_of(out, "ONE").action == "REPAY" and row_of(out, "ONE").grounds == "SP-NOT-IN-PLAN"


def test_stop_misuse_above_stop_amount_in_the_period(con):
    load(con, [recipient("BIG"), recipient("EXACT")], [
        finding("a1", "BIG", "SP-PROHIBITED", 60_000, txn_ref="t1"),
        finding("a2", "BIG", "SP-PROHIBITED", 40_001, txn_ref="t2"),
        finding("b1", "EXACT", "SP-PROHIBITED", 60_000, txn_ref="t3"),
        finding("b2", "EXACT", "SP-HOUSEHOLD", 40_000, txn_ref="t4"),
        finding("b3", "EXACT", "SP-AFTER-END", 60_000, txn_ref="t3"),  # same debit: counted once
    ])
    out = run(con)
    big = row_of(out, "BIG")
    assert big.action == "STOP" and "£1,000.01, above the £1,000.00 limit" in big.reasons
    exact = row_of(out, "EXACT")  # £1,000.00 is not above the limit
    assert (exact.action, exact.amount_pence) == ("REPAY", 100_000)


def test_dismissed_misuse_does_not_count_toward_stop(con):
    load(con, [recipient("D")], [
        finding("a1", "D", "SP-PROHIBITED", 1_000, period="2025-05", txn_ref="t1"),
        finding("a2", "D", "SP-PROHIBITED", 2_000, period="2025-06", txn_ref="t2")],
        [decision("a1", "dismiss")])
    r = row_of(run(con), "D")
    assert (r.action, r.amount_pence) == ("REPAY", 2_000)


@pytest.mark.parametrize("dob,declines,expected", [
    (date(2009, 6, 30), "yes", "STOP"),   # 16 on the period's last day
    (date(2009, 7, 1), "yes", "NONE"),    # 16 the day after
    (date(2005, 1, 1), "YES", "STOP"),
    (date(2005, 1, 1), "no", "NONE"),
    (date(2005, 1, 1), "", "NONE"),
    (None, "yes", "NONE"),                # age unknown: not a ground
])
def test_stop_young_person_declines(con, dob, declines, expected):
    load(con, [recipient("Y", date_of_birth=dob, young_person_declines=declines)])
    r = row_of(run(con), "Y")
    assert r.action == expected
    if expected == "STOP":
        assert r.grounds == "STOP-YOUNG-PERSON" and "young person aged" in r.reasons


def test_several_stop_grounds_are_all_listed(con):
    load(con, [recipient("M", stop_requested="yes", dp_end_date=date(2025, 6, 1))])
    r = row_of(run(con), "M")
    assert r.grounds == "STOP-NOT-ENTITLED;STOP-REQUESTED" and r.clauses == "PBP 5.5"


# ---------------------------------------------------------------- REPAY

def test_repay_amount_excludes_dismissed_findings(con):
    load(con, [recipient("R")], [
        finding("a1", "R", "SP-PROHIBITED", 1_111, txn_ref="t1"),
        finding("a2", "R", "SP-HOUSEHOLD", 2_222, txn_ref="t2"),
        finding("a3", "R", "SP-NOT-IN-PLAN", 4_444, txn_ref="t3"),
        finding("a4", "R", "AC-SURPLUS", 8_888),
    ], [decision("a2", "dismiss", 1),
        decision("a3", "dismiss", 2), decision("a3", "accept", 3),   # latest decision wins
        decision("a1", "accept", 4), decision("a1", "dismiss", 5),
        decision("a4", "query", 6)])
    r = row_of(run(con), "R")
    assert (r.action, r.amount_pence) == ("REPAY", 4_444 + 8_888)
    assert r.grounds == "AC-SURPLUS;SP-NOT-IN-PLAN"
    assert r.clauses == "PBP 4.3.1, 4.3.2; PBP 5.3, 5.4; PBP 5.4"
    assert "We recommend that £133.32 is repaid (PBP 5.4)." in r.reasons
    assert "2 findings an officer dismissed are not counted." in r.reasons
    assert r.respond_by == RESPOND_BY


def test_misuse_flagged_by_two_rules_counts_once(con):
    load(con, [recipient("T")], [
        finding("a1", "T", "SP-PROHIBITED", 5_000, txn_ref="t1"),
        finding("a2", "T", "SP-NOT-IN-PLAN", 5_000, txn_ref="t1"),
        finding("a3", "T", "SP-HOUSEHOLD", 12_345, txn_ref="t2"),
    ])
    r = row_of(run(con), "T")
    assert r.amount_pence == 5_000 + 12_345
    assert r.grounds == "SP-HOUSEHOLD;SP-PROHIBITED"
    assert "1 payment totalling £123.45 (PBP 4.3.2)" in r.reasons


def test_unevidenced_counted_only_when_grace_period_ends_in_the_period(con):
    # grace 28 days: 3 May -> 31 May (May); 4 May -> 1 June; 2 June -> 30 June; 3 June -> 1 July
    load(con, [recipient("U")], [
        finding("e1", "U", "EV-NO-EVIDENCE", 100, period="2025-05", txn_ref="t1", txn_date=date(2025, 5, 3)),
        finding("e2", "U", "EV-NO-EVIDENCE", 200, period="2025-05", txn_ref="t2", txn_date=date(2025, 5, 4)),
        finding("e3", "U", "EV-NO-EVIDENCE", 400, period="2025-06", txn_ref="t3", txn_date=date(2025, 6, 2)),
        finding("e4", "U", "EV-NO-EVIDENCE", 800, period="2025-06", txn_ref="t4", txn_date=date(2025, 6, 3)),
    ])
    assert row_of(run(con, "2025-05"), "U").amount_pence == 100
    june = row_of(run(con, "2025-06"), "U")
    assert (june.action, june.amount_pence, june.grounds) == ("REPAY", 600, "EV-NO-EVIDENCE")
    assert "28 days after they were made" in june.reasons and "2 payments totalling £6.00" in june.reasons
    assert row_of(run(con, "2025-07"), "U").amount_pence == 800


def test_unevidenced_not_counted_twice_nor_once_evidenced_nor_dismissed(con):
    load(con, [recipient("W")], [
        finding("m1", "W", "SP-PROHIBITED", 3_000, period="2025-05", txn_ref="t1"),
        finding("e1", "W", "EV-NO-EVIDENCE", 3_000, period="2025-05", txn_ref="t1", txn_date=date(2025, 5, 10)),
        finding("e2", "W", "EV-NO-EVIDENCE", 500, period="2025-05", txn_ref="t2", txn_date=date(2025, 5, 10)),
        finding("e3", "W", "EV-NO-EVIDENCE", 700, period="2025-05", txn_ref="t3", txn_date=date(2025, 5, 10)),
        finding("e4", "W", "EV-NO-EVIDENCE", 900, period="2025-05", txn_ref="t4", txn_date=date(2025, 5, 10)),
    ], [decision("e4", "dismiss")], matches=["t3"])
    assert row_of(run(con, "2025-05"), "W").amount_pence == 3_000
    june = row_of(run(con, "2025-06"), "W")
    assert (june.action, june.amount_pence) == ("REPAY", 500)
    assert "1 finding an officer dismissed is not counted." in june.reasons


def test_surplus_excess_raised_this_period(con):
    load(con, [recipient("X")], [finding("s1", "X", "AC-SURPLUS", 25_000),
                                 finding("s0", "X", "AC-SURPLUS", 20_000, period="2025-05")])
    r = row_of(run(con), "X")
    assert (r.action, r.amount_pence, r.grounds) == ("REPAY", 25_000, "AC-SURPLUS")
    assert "Funds held back above the contingency the policy allows (AC-SURPLUS): £250.00 (PBP 5.3, 5.4)." in r.reasons


# ---------------------------------------------------------------- REVIEW vs NONE

def test_review_vs_none(con):
    load(con, [recipient(x) for x in ("CASH", "LOW", "DIS", "GRACE", "OLDP", "ZERO")], [
        finding("c1", "CASH", "SP-CASH", 4_000, txn_ref="t1"),
        finding("c2", "CASH", "DQ-STATEMENT-GAP"),
        finding("l1", "LOW", "AC-LOW-CONTINGENCY", 100),
        finding("l2", "LOW", "RV-REVIEW-DUE"),
        finding("d1", "DIS", "PY-NO-PAYSLIP", 30_000, txn_ref="t2"),
        finding("g1", "GRACE", "EV-NO-EVIDENCE", 500, txn_ref="t3", txn_date=date(2025, 6, 20)),
        finding("o1", "OLDP", "SP-CASH", 4_000, period="2025-05", txn_ref="t4"),
        finding("z1", "ZERO", "SP-NOT-IN-PLAN", None, txn_ref="t5"),
    ], [decision("d1", "dismiss")])
    out = run(con)
    cash = row_of(out, "CASH")
    assert (cash.action, cash.amount_pence, cash.grounds) == ("REVIEW", 0, "DQ-STATEMENT-GAP;SP-CASH")
    assert "Cash withdrawals that need receipts (SP-CASH): 1 finding, £40.00 at stake (PBP 5.2)." in cash.reasons
    assert cash.respond_by is None
    for rid in ("LOW", "DIS", "OLDP"):
        assert row_of(out, rid).action == "NONE", rid
    # a payment without evidence still in its 28-day grace period is no repayment ground yet, but an
    # open medium finding: a review with the family (docs/decisions.md 41)
    grace = row_of(out, "GRACE")
    assert (grace.action, grace.amount_pence, grace.grounds) == ("REVIEW", 0, "EV-NO-EVIDENCE")
    zero = row_of(out, "ZERO")  # a repayment ground with no money at stake is reviewed, not repaid
    assert (zero.action, zero.grounds) == ("REVIEW", "SP-NOT-IN-PLAN")


def test_repay_outranks_review(con):
    load(con, [recipient("B")], [finding("a", "B", "SP-CASH", 4_000, txn_ref="t1"),
                                 finding("b", "B", "SP-HOUSEHOLD", 1_000, txn_ref="t2")])
    r = row_of(run(con), "B")
    assert (r.action, r.grounds, r.amount_pence) == ("REPAY", "SP-HOUSEHOLD", 1_000)


# ---------------------------------------------------------------- store, determinism, contract

def test_writes_the_period_once_and_is_deterministic(con):
    load(con, [recipient("A"), recipient("B", stop_requested="yes")],
         [finding("a", "A", "SP-HOUSEHOLD", 1_000, txn_ref="t1"), finding("b", "B", "SP-CASH", 10, txn_ref="t2")])
    first = run(con, run_id="r1")
    second = run(con, run_id="r1")
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == recommend.RECOMMENDATION_COLUMNS
    stored = con.execute("SELECT recipient_id, action, amount_pence, respond_by, prepared_by FROM recommendations "
                         "WHERE period = ? ORDER BY recipient_id", [PERIOD]).fetchall()
    assert stored == [("A", "REPAY", 1_000, RESPOND_BY, "Officer A"), ("B", "STOP", 0, RESPOND_BY, "Officer A")]
    con.execute("DELETE FROM recipients WHERE recipient_id = 'B'")
    run(con)
    assert con.execute("SELECT count(*) FROM recommendations").fetchall() == [(1,)]
    csv = recommend.to_contract_frame(first)
    assert list(csv.columns) == ["recipient_id", "period", "action", "amount", "grounds", "clauses", "reasons",
                                 "respond_by"]
    assert list(csv["amount"]) == ["10.00", "0.00"] and list(csv["respond_by"]) == ["2025-07-28", "2025-07-28"]


def test_prepared_by_is_required(con):
    with pytest.raises(ValueError, match="prepared_by"):
        recommend.recommend_period(con, PERIOD, POLICY, prepared_by="  ")


RULES = ["SP-PROHIBITED", "SP-HOUSEHOLD", "SP-NOT-IN-PLAN", "SP-CASH", "EV-NO-EVIDENCE", "AC-SURPLUS",
         "AC-LOW-CONTINGENCY", "DQ-STATEMENT-GAP"]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(RULES), st.integers(0, 5), st.integers(0, 10**6),
                          st.sampled_from(["2025-05", "2025-06"]), st.booleans()), max_size=12))
def test_repay_amount_is_the_deduplicated_open_money(tmp_path_factory, specs):
    """Invariants: the REPAY/STOP amount never exceeds the open repayment-ground money of the period,
    equals it when nothing repeats a transaction, and the frame is the same on a second run."""
    rows, decisions = [], []
    for i, (rule, txn, amount, period, dismissed) in enumerate(specs):
        rows.append(finding(f"e{i}", "H", rule, amount, period=period, txn_ref=f"t{txn}",
                            txn_date=date(2025, 5, 10) if rule == "EV-NO-EVIDENCE" else None))
        if dismissed:
            decisions.append(decision(f"e{i}", "dismiss"))
    with store.open_store(tmp_path_factory.mktemp("h") / "t.duckdb") as c:
        load(c, [recipient("H")], rows, decisions)
        # the model below knows each finding's own decision only, not one carried from May to June
        first = run(c, policy=without_carry(POLICY))
        again = run(c, policy=without_carry(POLICY))
    pd.testing.assert_frame_equal(first, again)
    r = row_of(first, "H")
    repay_rules = set(POLICY.raw["recommend"]["repay_rules"])
    open_rows = [s for s in specs if not s[4]]
    money = [s for s in open_rows if (s[0] in repay_rules or s[0] == "AC-SURPLUS") and s[3] == "2025-06"]
    money += [s for s in open_rows if s[0] == "EV-NO-EVIDENCE"]  # grace ends 7 June
    ceiling = sum(s[2] for s in money)
    assert 0 <= r.amount_pence <= ceiling
    if r.action in ("REVIEW", "NONE"):
        assert r.amount_pence == 0
    txns = [s[1] for s in money if s[0] != "AC-SURPLUS"]
    if len(txns) == len(set(txns)) and not any(s[0] in repay_rules and s[1] in txns for s in open_rows if s[3] != "2025-06"):
        assert r.amount_pence == ceiling
