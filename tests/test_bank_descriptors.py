"""How real statements, receipts and families write names (issue 13), rule by rule.

Each case is built from descriptors as UK banks print them (card-scheme and country tails, towns,
"ON 11 NOV", abbreviations, glued digits) and evidence as suppliers write it (trading names), and
asserts the finding an officer should see, and the false one they must not.
"""
from __future__ import annotations

import pytest

from builders import Council


def rules_of(f, rule_id):
    return f[f["rule_id"] == rule_id] if not f.empty else f


def counterparties(f, rule_id):
    return sorted(rules_of(f, rule_id)["counterparty"].tolist())


@pytest.fixture
def c(tmp_path):
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001", holder="Mrs Coral Bowling", child="Alfie Bowling").line("R001", "L1", "day_activities", "2400.00")
    c.line("R001", "L2", "therapy", "3000.00").line("R001", "L3", "bank_charges", "60.00", providers="Lloyds Bank")
    c.schedule("R001", "2025-05-01", "1000.00", "SMBC DP R001")
    c.statement("R001", "2025-05-01", "2025-05-31", "1000.00")
    c.txn("R001", "2025-05-01", "1000.00", "STOCKPORT MBC", desc="SMBC DIRECT PAYMENT 4WK", ttype="CREDIT")
    return c


# ---- evidence: trading names vs bank descriptors ----------------------------------------------
def test_a_receipt_in_the_trading_name_evidences_the_descriptor_through_providers_csv(c):
    c.provider("Vue Entertainment", aliases="VUE CINEMAS;VUE BSL", category="day_activities")
    c.txn("R001", "2025-05-10", "-12.50", "VUE CINEMAS MANCHESTER GB", ttype="POS")
    c.txn("R001", "2025-05-17", "-25.00", "VUE BSL LTD ON 16 MAY CLP", ttype="POS")
    c.receipt("R001", "RC1", "2025-05-10", "Vue Entertainment", "12.50")
    c.receipt("R001", "RC2", "2025-05-16", "Vue Entertainment", "25.00")
    f = c.audit("2025-05")
    assert rules_of(f, "EV-NO-EVIDENCE").empty and rules_of(f, "EV-ORPHAN-RECEIPT").empty


def test_abbreviations_card_tails_and_towns_do_not_stop_a_match(c):
    c.txn("R001", "2025-05-12", "-85.00", "CRD 4921 SPEECH THERAPY NW GB", ttype="POS")
    c.txn("R001", "2025-05-14", "-85.00", "SPEECH THERAPY NW", ttype="POS")
    c.invoice("R001", "INV-7", "2025-05-12", "Speech Therapy North West", "85.00")
    c.invoice("R001", "INV-8", "2025-05-14", "Speech Therapy North West Ltd", "85.00")
    f = c.audit("2025-05")
    assert rules_of(f, "EV-NO-EVIDENCE").empty and rules_of(f, "EV-ORPHAN-RECEIPT").empty


def test_amount_and_date_decide_and_the_name_breaks_ties(c):
    # one candidate pair: matched, though the names share nothing
    c.txn("R001", "2025-05-08", "-18.40", "SQ *PLAYZONE", ttype="POS")
    c.receipt("R001", "RC1", "2025-05-08", "Funtastic Soft Play Centre", "18.40")
    # two debits and two receipts of one amount on one day: each receipt goes to its own payee
    a = c.txn("R001", "2025-05-20", "-30.00", "SWIM STOCKPORT GB", ttype="POS")
    b = c.txn("R001", "2025-05-20", "-30.00", "NATIONAL TRUST GB", ttype="POS")
    c.receipt("R001", "RC2", "2025-05-20", "National Trust", "30.00")
    c.receipt("R001", "RC3", "2025-05-20", "Swim Stockport", "30.00")
    f = c.audit("2025-05")
    assert rules_of(f, "EV-NO-EVIDENCE").empty and rules_of(f, "EV-ORPHAN-RECEIPT").empty
    from dpaudit.audit.match import match_evidence
    m = match_evidence(c.last_data)[0].set_index("txn_id")["evidence_id"]
    assert m[a] == "receipt:RC3" and m[b] == "receipt:RC2"


def test_a_receipt_for_another_amount_is_still_no_evidence(c):
    c.txn("R001", "2025-05-08", "-18.40", "SQ *PLAYZONE", ttype="POS")
    c.receipt("R001", "RC1", "2025-05-08", "Funtastic Soft Play Centre", "12.00")
    f = c.audit("2025-05")
    assert len(rules_of(f, "EV-NO-EVIDENCE")) == 1 and len(rules_of(f, "EV-ORPHAN-RECEIPT")) == 1


# ---- transfers and the family's own names -----------------------------------------------------
def test_payments_to_the_family_are_transfers_and_their_names_are_no_keywords(c):
    c.txn("R001", "2025-05-05", "-200.00", "C BOWLING", ttype="DEBIT")
    c.txn("R001", "2025-05-06", "-150.00", "BOWLING SAVINGS", ttype="DEBIT")
    c.txn("R001", "2025-05-07", "-90.00", "CORAL BOWLING ISA", ttype="DEBIT")
    c.txn("R001", "2025-05-08", "-60.00", "TFR TO A/C 12345678", ttype="DEBIT")
    c.txn("R001", "2025-05-09", "-75.00", "PETER BOWLING", ttype="DEBIT")
    f = c.audit("2025-05")
    assert counterparties(f, "SP-TRANSFER-OUT") == ["BOWLING SAVINGS", "C BOWLING", "CORAL BOWLING ISA",
                                                     "PETER BOWLING", "TFR TO A/C ****5678"]
    # the holder is called Coral and the family Bowling: neither is gambling nor a bowling alley
    assert rules_of(f, "SP-PROHIBITED").empty and rules_of(f, "SP-NOT-IN-PLAN").empty
    t = c.last_data.cache["categorised"]
    assert t[t["counterparty"].str.contains("BOWLING")]["category"].isna().all()


def test_money_lent_to_a_person_and_paid_back_is_a_transfer(c):
    c.txn("R001", "2025-05-10", "-400.00", "JAMES OKAFOR", desc="JAMES OKAFOR FPO 10MAY", ttype="DEBIT")
    c.txn("R001", "2025-05-24", "400.00", "JAMES OKAFOR", ttype="CREDIT")
    c.txn("R001", "2025-05-11", "-40.00", "ANNA NOWAK", ttype="DEBIT")  # small and never paid back: not lent
    f = c.audit("2025-05")
    assert counterparties(f, "SP-TRANSFER-OUT") == ["JAMES OKAFOR"]
    assert rules_of(f, "AC-NON-COUNCIL-CREDIT").empty  # paid back by a payee of the account


# ---- prohibited and household lists -----------------------------------------------------------
@pytest.mark.parametrize("descriptor,rule", [
    ("LADBROKES ON 11 MAY BCC", "SP-PROHIBITED"),
    ("WILLIAMHILL 4433 STOCKPORT", "SP-PROHIBITED"),
    ("BETFRED 1234 HAZEL GROVE", "SP-PROHIBITED"),
    ("PADDYPOWER.COM GB", "SP-PROHIBITED"),
    ("MAJESTIC WINE CHEADLE", "SP-PROHIBITED"),
    ("BARGAIN BOOZE 55 EDGELEY", "SP-PROHIBITED"),
    ("MECCA BINGO STOCKPORT", "SP-PROHIBITED"),
    ("OCTOPUS ENERGY", "SP-HOUSEHOLD"),
    ("UNITED UTILITIES WATER", "SP-HOUSEHOLD"),
    ("TV LICENCE MBP", "SP-HOUSEHOLD"),
    ("VIRGIN MEDIA PYMTS", "SP-HOUSEHOLD"),
    ("STOCKPORT MBC COUNCIL TAX", "SP-HOUSEHOLD"),
    ("STOCKPORT MBC", "SP-HOUSEHOLD"),
    ("SAINSBURYS S/MKTS", "SP-HOUSEHOLD"),
])
def test_betting_off_licence_and_household_chains_as_banks_print_them(c, descriptor, rule):
    c.txn("R001", "2025-05-15", "-23.00", descriptor, ttype="DEBIT")
    f = c.audit("2025-05")
    assert rules_of(f, rule)["counterparty"].tolist() == [descriptor]


def test_a_council_credit_is_still_income(c):
    f = c.audit("2025-05")
    assert rules_of(f, "AC-NON-COUNCIL-CREDIT").empty and rules_of(f, "SP-HOUSEHOLD").empty


# ---- status is a snapshot; budgets count only their own category ------------------------------
def test_a_stopped_recipient_s_spending_before_the_end_date_is_not_after_the_end(tmp_path):
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001", status="stopped", end="2025-08-31").line("R001", "L1", "day_activities", "2400.00")
    c.provider("Stockport Leisure", category="day_activities")
    for day in ("2025-05-12", "2025-09-12"):
        c.txn("R001", day, "-25.00", "STOCKPORT LEISURE", ttype="POS")
        c.receipt("R001", "RC" + day, day, "Stockport Leisure", "25.00")
    assert rules_of(c.audit("2025-05"), "SP-AFTER-END").empty
    assert rules_of(c.audit("2025-09"), "SP-AFTER-END")["txn_date"].astype(str).tolist() == ["2025-09-12"]


def test_stopped_with_no_end_date_is_after_the_end_in_the_period_audited(tmp_path):
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001", status="stopped").line("R001", "L1", "day_activities", "2400.00")
    c.txn("R001", "2025-05-12", "-25.00", "STOCKPORT LEISURE", ttype="POS")
    assert len(rules_of(c.audit("2025-05"), "SP-AFTER-END")) == 1


def test_cash_and_transfers_never_count_against_an_unrelated_line(c):
    # £60 a year for bank charges (agreed payee: the bank): by May its budget to date is about £10;
    # a cash withdrawal names the bank too
    c.txn("R001", "2025-04-20", "-250.00", "CASH WITHDRAWAL LLOYDS BANK", ttype="ATM")
    c.txn("R001", "2025-05-20", "-300.00", "LLOYDS BANK CASH 20MAY", ttype="DEBIT")
    c.txn("R001", "2025-05-21", "-120.00", "TFR TO A/C 12345678", ttype="DEBIT")
    c.txn("R001", "2025-05-22", "-5.00", "ACCOUNT FEE", ttype="FEE")
    f = c.audit("2025-05")
    assert rules_of(f, "SP-OVER-BUDGET").empty
    assert len(rules_of(f, "SP-CASH")) == 1 and len(rules_of(f, "SP-TRANSFER-OUT")) == 1


def test_spend_of_the_line_s_own_category_still_goes_over_budget(c):
    c.provider("Stockport Leisure", category="day_activities")
    c.txn("R001", "2025-05-20", "-900.00", "STOCKPORT LEISURE", ttype="POS")
    c.receipt("R001", "RC1", "2025-05-20", "Stockport Leisure", "900.00")
    f = c.audit("2025-05")
    assert rules_of(f, "SP-OVER-BUDGET")["line_id"].tolist() == ["L1"]


def test_a_bookmaker_named_like_the_family_is_still_a_bookmaker(tmp_path):
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001", holder="Gary Hill", child="Coral Hill").line("R001", "L1", "day_activities", "2400.00")
    c.txn("R001", "2025-05-07", "-20.00", "WILLIAM HILL 2231 STOCKPORT GB", ttype="POS")
    c.txn("R001", "2025-05-08", "-25.00", "WILLIAM HILL", ttype="POS")
    c.txn("R001", "2025-05-09", "-10.00", "CORAL RACING LTD STOCKPORT", ttype="POS")
    c.txn("R001", "2025-05-10", "-60.00", "G HILL", ttype="DEBIT")
    f = c.audit("2025-05")
    assert counterparties(f, "SP-PROHIBITED") == ["CORAL RACING LTD STOCKPORT", "WILLIAM HILL",
                                                  "WILLIAM HILL 2231 STOCKPORT GB"]
    assert counterparties(f, "SP-TRANSFER-OUT") == ["G HILL"]


def test_categories_stay_with_their_rows_when_another_account_s_statement_is_dropped(tmp_path):
    """A statement of the family's own account leaves gaps in the transactions' numbering; every
    payment to one tutor is still categorised the same way."""
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001").line("R001", "L1", "education_support", "2400.00").line("R001", "L2", "bank_charges", "60.00")
    for day in range(1, 29, 3):
        c.txn("R001", f"2025-05-{day:02d}", "-5.00", "PERSONAL SHOP", account="99999999")
        c.txn("R001", f"2025-05-{day:02d}", "-30.00", "P KAUR TUITION", ttype="DEBIT")
    c.txn("R001", "2025-05-28", "-6.50", "MONTHLY ACCOUNT FEE", ttype="FEE")
    c.audit("2025-05")
    t = c.last_data.cache["categorised"]
    tutor = t[t["counterparty"] == "P KAUR TUITION"]
    assert len(tutor) == 10 and set(tutor["category"]) == {"education_support"}
    assert t.loc[t["counterparty"] == "MONTHLY ACCOUNT FEE", "category"].tolist() == ["bank_charges"]


def test_hmrc_paying_back_paye_is_a_refund_not_other_income(c):
    c.txn("R001", "2025-05-06", "-120.00", "HMRC PAYE 123PA00045678", ttype="DD")
    c.txn("R001", "2025-05-19", "76.71", "HMRC CUMBERNAULD", ttype="CREDIT")
    c.txn("R001", "2025-05-20", "50.00", "GRANDMA JOAN", ttype="CREDIT")
    f = c.audit("2025-05")
    assert counterparties(f, "AC-NON-COUNCIL-CREDIT") == ["GRANDMA JOAN"]


def test_a_payment_due_at_the_month_end_is_judged_when_its_window_has_passed(tmp_path):
    """Due on 30 April, paid on 1 May: April's statement cannot show it, so April raises nothing and
    May finds it paid; one due on 30 May that never comes is raised in June."""
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001").line("R001", "L1", "day_activities", "2400.00")
    c.schedule("R001", "2025-04-30", "500.00", "SMBC DP R001-4").schedule("R001", "2025-05-30", "500.00", "SMBC DP R001-5")
    for p, last in (("2025-04", "30"), ("2025-05", "31"), ("2025-06", "30")):
        c.statement("R001", f"{p}-01", f"{p}-{last}", "0.00")
    c.txn("R001", "2025-05-01", "500.00", "STOCKPORT MBC", desc="SMBC DP R001-4", ttype="CREDIT")
    assert rules_of(c.audit("2025-04"), "AC-PAYMENT-MISSING").empty
    may = c.audit("2025-05")
    assert rules_of(may, "AC-PAYMENT-MISSING").empty and rules_of(may, "AC-NON-COUNCIL-CREDIT").empty
    june = rules_of(c.audit("2025-06"), "AC-PAYMENT-MISSING")
    assert june["txn_date"].astype(str).tolist() == ["2025-05-30"] and june["amount_pence"].tolist() == [50000]
