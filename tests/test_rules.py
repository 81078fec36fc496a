"""Every rule fires with the right money at stake, and a near miss does not fire (rules.md)."""
import pandas as pd
import pytest

from builders import simple_council


def fired(f, rule_id):
    return f[f["rule_id"] == rule_id]


def one(f, rule_id):
    x = fired(f, rule_id)
    assert len(x) == 1, f[["rule_id", "message"]].to_string()
    return x.iloc[0]


@pytest.fixture
def c(tmp_path):
    return simple_council(tmp_path)


# ---- spending -----------------------------------------------------------------------------
def test_prohibited_by_keyword_and_mcc(c):
    c.txn("R001", "2025-05-14", "-45.00", "BET365")
    c.txn("R001", "2025-05-15", "-12.00", "CORNER SHOP", mcc="5921")
    f = c.audit("2025-05")
    x = fired(f, "SP-PROHIBITED")
    assert sorted(x["amount_pence"].tolist()) == [1200, 4500]
    assert set(x["severity"]) == {"high"} and set(x["clause"]) == {"PBP 4.3.2"}
    assert len(fired(f, "EV-NO-EVIDENCE")) == 2  # evidence rules are independent of spending rules


def test_betting_word_inside_other_word_is_not_prohibited(c):
    c.txn("R001", "2025-05-14", "-30.00", "BARBARA'S SWIMMING SCHOOL")
    c.receipt("R001", "RCX", "2025-05-14", "Barbara's Swimming School", "30.00")
    assert fired(c.audit("2025-05"), "SP-PROHIBITED").empty


def test_household_unless_plan_agrees(c, tmp_path):
    c.txn("R001", "2025-05-20", "-80.00", "BRITISH GAS")
    assert one(c.audit("2025-05"), "SP-HOUSEHOLD")["amount_pence"] == 8000
    c.line("R001", "L9", "accommodation", "1000.00")
    assert fired(c.audit("2025-05"), "SP-HOUSEHOLD").empty


def test_cash_withdrawal_each_one(c):
    c.txn("R001", "2025-05-03", "-20.00", "CASH WITHDRAWAL LINK ATM", ttype="ATM")
    c.txn("R001", "2025-05-04", "-20.00", "CASH WITHDRAWAL LINK ATM", ttype="ATM")
    assert fired(c.audit("2025-05"), "SP-CASH")["amount_pence"].tolist() == [2000, 2000]


def test_transfer_out_to_own_account(c):
    c.txn("R001", "2025-05-21", "-300.00", "TRANSFER TO 12-34-56 87654321", ttype="XFER")
    x = one(c.audit("2025-05"), "SP-TRANSFER-OUT")
    assert x["amount_pence"] == 30000
    assert "87654321" not in x["message"] + x["counterparty"] and "****4321" in x["message"]


def test_transfer_to_agreed_provider_is_not_transfer_out(c):
    c.txn("R001", "2025-05-21", "-30.00", "STOCKPORT LEISURE", desc="TRANSFER TO STOCKPORT LEISURE", ttype="XFER")
    c.receipt("R001", "RC9", "2025-05-21", "Stockport Leisure", "30.00")
    assert fired(c.audit("2025-05"), "SP-TRANSFER-OUT").empty


def test_not_in_plan_category_without_line(c):
    c.txn("R001", "2025-05-22", "-60.00", "CITY TAXIS")
    c.receipt("R001", "RC2", "2025-05-22", "City Taxis", "60.00")
    x = one(c.audit("2025-05"), "SP-NOT-IN-PLAN")
    assert x["amount_pence"] == 6000 and "transport" in x["message"]
    c.line("R001", "L3", "transport", "500.00")
    assert fired(c.audit("2025-05"), "SP-NOT-IN-PLAN").empty


def test_precedence_prohibited_beats_not_in_plan_and_cash(c):
    c.txn("R001", "2025-05-22", "-50.00", "CASINO ATM", ttype="ATM")
    f = c.audit("2025-05")
    assert len(fired(f, "SP-PROHIBITED")) == 1 and fired(f, "SP-CASH").empty


def test_school_consent(c):
    c.line("R001", "L4", "education_support", "2000.00", stream="hnb_topup_maintained", school="yes", consent="2025-05-20",
           providers="Bright Tutors")
    c.txn("R001", "2025-05-10", "-100.00", "BRIGHT TUTORS LTD")
    c.receipt("R001", "RC3", "2025-05-10", "Bright Tutors", "100.00")
    c.txn("R001", "2025-05-25", "-100.00", "BRIGHT TUTORS LTD")
    c.receipt("R001", "RC4", "2025-05-25", "Bright Tutors", "100.00")
    x = fired(c.audit("2025-05"), "SP-SCHOOL-CONSENT")
    assert len(x) == 1 and x.iloc[0]["txn_date"] == pd.Timestamp("2025-05-10").date()


def test_after_end_and_stopped(c, tmp_path):
    c.rows["recipients"][0]["dp_end_date"] = pd.Timestamp("2025-05-15").date()
    c.txn("R001", "2025-05-20", "-25.50", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RC5", "2025-05-20", "Stockport Leisure", "25.50")
    x = one(c.audit("2025-05"), "SP-AFTER-END")
    assert x["amount_pence"] == 2550


def test_duplicate_payment_with_one_receipt(c):
    c.txn("R001", "2025-05-13", "-25.50", "STOCKPORT LEISURE LTD")
    f = c.audit("2025-05")
    x = one(f, "SP-DUPLICATE-PAYMENT")
    assert x["amount_pence"] == 2550


def test_two_payments_two_receipts_not_duplicate(c):
    c.txn("R001", "2025-05-13", "-25.50", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RC6", "2025-05-13", "Stockport Leisure", "25.50")
    assert fired(c.audit("2025-05"), "SP-DUPLICATE-PAYMENT").empty


def test_over_budget_excess_over_tolerance(c):
    # L2 day_activities 1200/yr; by 31 May budget = 1200 * 61/365 = 200.55; +10% = 220.61 (half-up)
    c.txn("R001", "2025-05-16", "-300.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RC7", "2025-05-16", "Stockport Leisure", "300.00")
    x = one(c.audit("2025-05"), "SP-OVER-BUDGET")
    # spend 25.50 + 300.00 = 325.50; budget 1200 * 61/365 = 200.55; limit 200.55 + 20.06 = 220.61
    assert x["amount_pence"] == 32550 - 22061 and x["line_id"] == "L2"


def test_within_tolerance_not_over_budget(c):
    c.txn("R001", "2025-05-16", "-190.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RC7", "2025-05-16", "Stockport Leisure", "190.00")
    assert fired(c.audit("2025-05"), "SP-OVER-BUDGET").empty  # 215.50 <= 220.61


# ---- evidence -----------------------------------------------------------------------------
def test_no_evidence_and_bank_charge_exempt(c):
    c.txn("R001", "2025-05-18", "-15.00", "SOFT PLAY CENTRE")
    c.txn("R001", "2025-05-31", "-5.00", "MONTHLY FEE", ttype="FEE")
    f = c.audit("2025-05")
    assert one(f, "EV-NO-EVIDENCE")["amount_pence"] == 1500


def test_fuzzy_supplier_matches_receipt(c):
    c.line("R001", "L5", "agency_care", "5000.00", providers="Homecare Solutions Ltd")
    c.txn("R001", "2025-05-19", "-120.00", "HOMECARE SOLNS LTD")
    c.invoice("R001", "INV1", "2025-05-17", "Homecare Solutions Ltd", "120.00")
    f = c.audit("2025-05")
    assert fired(f, "EV-NO-EVIDENCE").empty and fired(f, "SP-NOT-IN-PLAN").empty


def test_amount_mismatch_replaces_no_evidence_and_orphan(c):
    c.txn("R001", "2025-05-19", "-50.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RC8", "2025-05-19", "Stockport Leisure", "45.00")
    f = c.audit("2025-05")
    assert one(f, "EV-AMOUNT-MISMATCH")["amount_pence"] == 500
    assert fired(f, "EV-NO-EVIDENCE").empty and fired(f, "EV-ORPHAN-RECEIPT").empty


def test_orphan_receipt(c):
    c.receipt("R001", "RC9", "2025-05-26", "Toy Shop", "19.99")
    assert one(c.audit("2025-05"), "EV-ORPHAN-RECEIPT")["amount_pence"] == 1999


def test_one_payment_several_receipts_and_invoice_in_parts(c):
    c.line("R001", "L5", "agency_care", "5000.00", providers="Homecare Solutions Ltd")
    c.txn("R001", "2025-05-19", "-40.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RA", "2025-05-18", "Stockport Leisure", "15.00")
    c.receipt("R001", "RB", "2025-05-19", "Stockport Leisure", "25.00")
    c.invoice("R001", "INV2", "2025-05-05", "Homecare Solutions Ltd", "300.00")
    c.txn("R001", "2025-05-06", "-100.00", "HOMECARE SOLUTIONS")
    c.txn("R001", "2025-05-20", "-200.00", "HOMECARE SOLUTIONS")
    f = c.audit("2025-05")
    assert fired(f, "EV-NO-EVIDENCE").empty and fired(f, "EV-ORPHAN-RECEIPT").empty, f[["rule_id", "message"]]


# ---- account ------------------------------------------------------------------------------
def test_non_council_credit_and_refund_near_miss(c):
    c.txn("R001", "2025-05-23", "250.00", "J SMITH", desc="TRANSFER FROM J SMITH", ttype="CREDIT")
    c.txn("R001", "2025-05-24", "5.00", "STOCKPORT LEISURE LTD", desc="REFUND", ttype="CREDIT")
    x = one(c.audit("2025-05"), "AC-NON-COUNCIL-CREDIT")
    assert x["amount_pence"] == 25000 and "J SMITH" in x["message"]


def test_payment_missing_and_short(c):
    c.schedule("R001", "2025-05-29", "1000.00", "SMBC DP R001")
    c.txn("R001", "2025-05-29", "900.00", "STOCKPORT COUNCIL", desc="SMBC DP R001", ttype="CREDIT")
    c.schedule("R001", "2025-05-15", "1000.00", "SMBC DP R001 B")
    f = c.audit("2025-05")
    x = fired(f, "AC-PAYMENT-MISSING").sort_values("amount_pence")
    assert x["amount_pence"].tolist() == [10000, 100000]
    assert fired(f, "AC-NON-COUNCIL-CREDIT").empty  # a short council payment is not a non-council credit


def test_overdrawn_once_per_episode(c):
    c.txn("R001", "2025-05-10", "-1700.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RCO", "2025-05-10", "Stockport Leisure", "1700.00")
    c.txn("R001", "2025-05-11", "-100.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RCP", "2025-05-11", "Stockport Leisure", "100.00")
    c.txn("R001", "2025-05-20", "500.00", "STOCKPORT COUNCIL", desc="SMBC DP R001", ttype="CREDIT")
    c.schedule("R001", "2025-05-20", "500.00", "SMBC DP R001")
    c.txn("R001", "2025-05-28", "-300.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RCQ", "2025-05-28", "Stockport Leisure", "300.00")
    f = c.audit("2025-05")
    x = fired(f, "AC-OVERDRAWN").sort_values("txn_date")
    # 2000 - 400 = 1600; 10th: -100; 11th: -200; 12th: -225.50; 20th: 274.50; 28th: -25.50 (a second episode)
    assert x["amount_pence"].tolist() == [22550, 2550]
    assert x["txn_date"].tolist() == [pd.Timestamp("2025-05-10").date(), pd.Timestamp("2025-05-28").date()]


def test_low_contingency_and_surplus(c, tmp_path):
    # annual DP value 10,200: 5% = 510.00; closing = 1000 + 1000 - 400 - 25.50 = 1574.50 -> fine
    f = c.audit("2025-05")
    assert fired(f, "AC-LOW-CONTINGENCY").empty and fired(f, "AC-SURPLUS").empty
    c.txn("R001", "2025-05-30", "-1200.00", "STOCKPORT LEISURE LTD")
    c.receipt("R001", "RCL", "2025-05-30", "Stockport Leisure", "1200.00")
    assert one(c.audit("2025-05"), "AC-LOW-CONTINGENCY")["amount_pence"] == 51000 - 37450


def test_surplus_excess(tmp_path):
    c = simple_council(tmp_path)
    c.rows["statements"][0]["opening_balance_pence"] = 500000
    f = c.audit("2025-05")
    # closing 5574.50; limit = 1020.00 + 10200*8/52 (1569.23) = 2589.23
    assert one(f, "AC-SURPLUS")["amount_pence"] == 557450 - 258923


# ---- payroll ------------------------------------------------------------------------------
def test_no_payslip_and_nickname_is_not_unknown(c):
    c.txn("R001", "2025-05-23", "-400.00", "MOLLY JONES")
    f = c.audit("2025-05")
    assert one(f, "PY-NO-PAYSLIP")["amount_pence"] == 40000
    assert one(f, "EV-NO-EVIDENCE")["amount_pence"] == 40000  # no payslip is no evidence too
    assert fired(f, "PY-UNKNOWN-PAYEE").empty


def test_net_mismatch_replaces_no_payslip(c):
    c.txn("R001", "2025-05-23", "-410.00", "M JONES")
    c.payslip("R001", "E1", "2025-05-23", "400.00", "400.00", hours="30")
    f = c.audit("2025-05")
    assert one(f, "PY-NET-MISMATCH")["amount_pence"] == 1000 and fired(f, "PY-NO-PAYSLIP").empty
    assert fired(f, "EV-NO-EVIDENCE").empty
    # the reconciliation counts the wage evidenced up to the payslip's net, like a receipt for another amount
    from dpaudit.audit.reconcile import reconcile
    rec = reconcile(c.last_data).set_index("recipient_id").loc["R001"]
    assert rec["evidenced_pence"] + rec["unevidenced_pence"] == rec["debits_pence"]
    assert rec["unevidenced_pence"] == 1000  # the month's other debits are evidenced; of the wage, £10.00 is not


def test_namesake_employees_are_told_apart_by_their_payslips(c):
    """Mary and Mike Jones are both paid as "M JONES": each payment goes with the payslip whose net
    pay it is, so neither is a net-pay mismatch (found on a generated council of 5,000)."""
    c.employee("R001", "E2", "Mike Jones", payee_names="M JONES")
    c.txn("R001", "2025-05-16", "-250.00", "M JONES")
    c.payslip("R001", "E2", "2025-05-16", "250.00", "250.00", hours="20")
    f = c.audit("2025-05")
    for rule in ("PY-NET-MISMATCH", "PY-NO-PAYSLIP", "EV-NO-EVIDENCE", "PY-UNKNOWN-PAYEE"):
        assert fired(f, rule).empty, rule
    # near miss: a payment matching neither namesake's payslip is still flagged
    c.txn("R001", "2025-05-20", "-260.00", "M JONES")
    f = c.audit("2025-05")
    assert one(f, "PY-NO-PAYSLIP")["amount_pence"] == 26000 and one(f, "EV-NO-EVIDENCE")["amount_pence"] == 26000


def test_payslip_arithmetic(c):
    c.rows["payslips"][0].update(gross_pence=45000, tax_pence=3000, employee_ni_pence=1000, net_pence=40000)
    x = one(c.audit("2025-05"), "PY-NET-MISMATCH")
    assert x["amount_pence"] == 1000  # 450 - 30 - 10 = 410 vs 400


def test_hmrc_unpaid_by_22nd(c):
    c.payslip("R001", "E1", "2025-04-25", "500.00", "450.00", tax="40.00", ni="10.00", er_ni="20.00")
    c.hmrc("R001", "2025-04", "70.00", "70.00", "2025-05-23")
    x = one(c.audit("2025-05"), "PY-HMRC-UNPAID")
    assert x["amount_pence"] == 7000
    c.rows["hmrc_payments"][0]["paid_date"] = pd.Timestamp("2025-05-22").date()
    assert fired(c.audit("2025-05"), "PY-HMRC-UNPAID").empty


def test_no_insurance(c):
    c.rows["insurance"][0]["cover_end"] = pd.Timestamp("2025-05-01").date()
    assert one(c.audit("2025-05"), "PY-NO-INSURANCE")["amount_pence"] == 40000


def test_dbs_too_old(c):
    c.rows["employees"][0]["dbs_issue_date"] = pd.Timestamp("2022-05-08").date()
    assert len(fired(c.audit("2025-05"), "PY-DBS-MISSING")) == 1
    c.rows["employees"][0]["dbs_issue_date"] = pd.Timestamp("2022-05-10").date()
    assert fired(c.audit("2025-05"), "PY-DBS-MISSING").empty  # exactly 3 years on the pay date


def test_below_min_wage_by_age(c):
    c.rows["payslips"][0].update(hours="40")  # 400/40 = 10.00 < 12.21 (21+)
    x = one(c.audit("2025-05"), "PY-BELOW-MIN-WAGE")
    assert x["amount_pence"] == 48840 - 40000
    c.rows["employees"][0]["date_of_birth"] = pd.Timestamp("2006-01-01").date()  # 19: 10.00 is the rate
    assert fired(c.audit("2025-05"), "PY-BELOW-MIN-WAGE").empty


def test_unknown_payee_regular_round_person(c):
    c.txn("R001", "2025-05-02", "-100.00", "SARAH BROWN", ttype="XFER")
    c.txn("R001", "2025-05-16", "-100.00", "SARAH BROWN", ttype="XFER")
    f = c.audit("2025-05")
    assert fired(f, "PY-UNKNOWN-PAYEE")["amount_pence"].tolist() == [10000, 10000]
    assert fired(f, "SP-TRANSFER-OUT").empty


def test_single_payment_to_person_is_not_wages(c):
    c.txn("R001", "2025-05-02", "-100.00", "SARAH BROWN")
    assert fired(c.audit("2025-05"), "PY-UNKNOWN-PAYEE").empty


# ---- review and plan ----------------------------------------------------------------------
def test_review_due_3_months_then_6(c):
    c.rows["recipients"][0]["dp_start_date"] = pd.Timestamp("2025-02-10").date()
    assert one(c.audit("2025-05"), "RV-REVIEW-DUE")["txn_date"] == pd.Timestamp("2025-05-10").date()
    assert fired(c.audit("2025-06"), "RV-REVIEW-DUE").empty


def test_plan_invalid_notional_stream(c):
    c.line("R001", "L8", "transport", "800.00", stream="sen_transport")
    x = one(c.audit("2025-05"), "DQ-PLAN-INVALID")
    assert x["line_id"] == "L8" and "notional" in x["message"]


def test_rule_can_be_switched_off(c, tmp_path):
    from dpaudit.core.policy import load_policy
    p = tmp_path / "p.toml"
    p.write_text('[rules.SP-CASH]\nenabled = false\n')
    c.txn("R001", "2025-05-03", "-20.00", "CASH WITHDRAWAL", ttype="ATM")
    assert fired(c.audit("2025-05", policy=load_policy(p)), "SP-CASH").empty


def test_other_account_transactions_are_not_audited(c):
    c.txn("R001", "2025-05-14", "1800.00", "SALARY ACME LTD", ttype="CREDIT", account="99999999")
    c.txn("R001", "2025-05-15", "-64.20", "AMAZON", account="99999999")
    assert c.audit("2025-05").empty


def test_exception_ids_stable_and_order_free(c):
    c.txn("R001", "2025-05-14", "-45.00", "BET365")
    c.txn("R001", "2025-05-18", "-15.00", "SOFT PLAY CENTRE")
    a = c.audit("2025-05")
    for k in c.rows:
        c.rows[k] = list(reversed(c.rows[k]))
    b = c.audit("2025-05")
    assert sorted(a["exception_id"]) == sorted(b["exception_id"])


def test_one_payslip_evidences_one_payment_in_the_reconciliation(c):
    """Two wages of £300 near one £500 payslip: both are PY-NET-MISMATCH, but the payslip counts
    as evidence of one payment only (£300 of it), never £600."""
    from dpaudit.audit.reconcile import reconcile

    c.txn("R001", "2025-05-23", "-300.00", "M JONES")
    c.txn("R001", "2025-05-24", "-300.00", "M JONES")
    c.payslip("R001", "E1", "2025-05-23", "500.00", "500.00", hours="30")
    c.audit("2025-05")
    rec = reconcile(c.last_data).set_index("recipient_id").loc["R001"]
    assert rec["evidenced_pence"] + rec["unevidenced_pence"] == rec["debits_pence"]
    assert rec["unevidenced_pence"] == 30000  # one wage evidenced by the payslip (£300 of its £500), the other not
