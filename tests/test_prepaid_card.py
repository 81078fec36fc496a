"""Prepaid-card statements (contract section 2; issue #18 item 3): the two card profiles from CSV and
XLSX, which rows moved money, the card as the recipient's account, the merchant category code
deciding before keywords, the balance checks, and a whole month on a small council.

Expected values are written from the definitions (money moved = settled rows, plus authorised
rows with no settled row of the same reference; declined and reversed rows never), not read back
from the code."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from builders import simple_council
from dpaudit import store
from dpaudit.audit.data import load_audit_data
from dpaudit.audit.rules import RULES
from dpaudit.core.mask import same_account
from dpaudit.core.policy import load_policy
from dpaudit.ingest.readers.bank_csv import ProfileError, load_profiles, read_bank_table
from dpaudit.ingest.statements import ingest_statements
from dpaudit.pipeline import run_period

PROFILES = load_profiles()
POLICY = load_policy()
CARD_HEADER = ["date", "merchant", "mcc", "amount", "status", "card_last4", "balance", "reference"]
PORTAL_HEADER = ["Transaction Date", "Merchant Name", "MCC", "Amount", "Status", "Card Number (last 4)",
                 "Available Balance", "Transaction ID"]

# One card's May 2025, opening balance £250.00.  (date, merchant, mcc, amount, status, balance, reference):
# the balance after a row that moved no money is the previous money-moved row's.
MAY = [
    ("2025-05-01", "STOCKPORT COUNCIL DP LOAD", "", "300.00", "settled", "550.00", "L0501"),
    ("2025-05-03", "LIFE LEISURE", "7997", "-12.50", "authorised", "550.00", "A0503"),
    ("2025-05-04", "LIFE LEISURE", "7997", "-12.50", "settled", "537.50", "A0503"),
    ("2025-05-06", "BET365", "7995", "-40.00", "declined", "537.50", "D0506"),
    ("2025-05-08", "MOONLIGHT LOUNGE", "5813", "-22.00", "settled", "515.50", "S0508"),
    ("2025-05-10", "AMAZON MARKETPLACE", "5942", "-19.99", "reversed", "515.50", "R0510"),
    ("2025-05-12", "POST OFFICE COUNTER", "6010", "-30.00", "settled", "485.50", "S0512"),
    ("2025-05-15", "METROLINK", "4111", "-3.60", "settled", "481.90", "S0515"),
    ("2025-05-28", "LIFE LEISURE", "7997", "-9.00", "authorised", "472.90", "A0528"),
]
# money moved, by hand: the load, the settled swim (once), the lounge, the counter cash, the tram and
# the still-authorised swim; not the declined bet, the reversed order or the swim's authorisation
MOVED = [30000, -1250, -2200, -3000, -360, -900]
MOVED_DATES = ["2025-05-01", "2025-05-04", "2025-05-08", "2025-05-12", "2025-05-15", "2025-05-28"]
NOT_COUNTED = {"authorised_then_settled": 1, "declined": 1, "reversed": 1}


def _csv(header: list[str], rows: list[tuple]) -> str:
    return "\n".join(",".join(r) for r in [tuple(header), *rows]) + "\n"


def card_csv(rows=MAY, last4="4821") -> str:
    return _csv(CARD_HEADER, [(d, m, mcc, a, s, last4, b, ref) for d, m, mcc, a, s, b, ref in rows])


def portal_csv(rows=MAY, last4="4821") -> str:
    """The portal layout: newest first, DD/MM/YYYY, 'Pending' for authorised, the card number masked."""
    word = {"settled": "Settled", "authorised": "Pending", "declined": "Declined", "reversed": "Reversed"}
    body = [(f"{d[8:]}/{d[5:7]}/{d[:4]}", m, mcc, a, word[s], "************" + last4, b, ref)
            for d, m, mcc, a, s, b, ref in rows]
    return _csv(PORTAL_HEADER, list(reversed(body)))


def write_xlsx(path: Path, header: list[str], rows: list[tuple], portal: bool) -> Path:
    """As a portal's spreadsheet download: real dates and numbers in the cells (MCC and card as numbers)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    order = list(reversed(rows)) if portal else rows
    for d, m, mcc, a, s, b, ref in order:
        status = {"authorised": "Pending"}.get(s, s.title()) if portal else s
        card = 4821  # a number: Excel keeps no leading zeros
        ws.append([dt.datetime.fromisoformat(d), m, int(mcc) if mcc else None, float(a), status, card, float(b), ref])
    wb.save(path)
    return path


def _check_may(st, profile: str) -> None:
    t = st.transactions.sort_values("posted_date", kind="stable")  # a portal lists newest first
    assert st.profile == profile
    assert st.account_number == "****4821" and st.sort_code == ""
    assert t["amount_pence"].tolist() == MOVED
    assert t["posted_date"].dt.strftime("%Y-%m-%d").tolist() == MOVED_DATES
    assert st.opening_balance_pence == 25000 and st.closing_balance_pence == 47290
    assert st.opening_balance_pence + sum(MOVED) == st.closing_balance_pence
    assert st.not_counted == NOT_COUNTED and st.rejects == []  # set aside, never rejected
    assert (st.start_date, st.end_date) == (dt.date(2025, 5, 1), dt.date(2025, 5, 28))
    assert t.loc[t["payee"] == "MOONLIGHT LOUNGE", "mcc"].tolist() == ["5813"]


# ---- reading both profiles, CSV and XLSX --------------------------------------------------------

def test_canonical_card_csv(tmp_path):
    p = tmp_path / "card.csv"
    p.write_text(card_csv(), encoding="utf-8")
    _check_may(read_bank_table(p, PROFILES), "prepaid_card")


def test_portal_card_csv_newest_first(tmp_path):
    p = tmp_path / "transactions.csv"
    p.write_text(portal_csv(), encoding="utf-8")
    _check_may(read_bank_table(p, PROFILES), "prepaid_card_portal")


@pytest.mark.parametrize("portal", [False, True], ids=["canonical", "portal"])
def test_card_xlsx(tmp_path, portal):
    p = write_xlsx(tmp_path / "card.xlsx", PORTAL_HEADER if portal else CARD_HEADER, MAY, portal)
    _check_may(read_bank_table(p, PROFILES), "prepaid_card_portal" if portal else "prepaid_card")


def test_card_number_from_a_spreadsheet_keeps_its_leading_zero(tmp_path):
    rows = [("2025-05-01", "LOAD", "", "10.00", "settled", "10.00", "X1")]
    p = tmp_path / "c.csv"
    p.write_text(card_csv(rows, last4="123"), encoding="utf-8")  # Excel wrote 0123 as 123
    assert read_bank_table(p, PROFILES).account_number == "****0123"


# ---- status semantics -----------------------------------------------------------------------------

def test_declined_and_reversed_never_count_even_as_credits(tmp_path):
    rows = [("2025-05-01", "LOAD", "", "100.00", "settled", "100.00", "L1"),
            ("2025-05-02", "REFUND SHOP", "5311", "25.00", "reversed", "100.00", "R1"),
            ("2025-05-03", "SHOP", "5311", "-60.00", "Declined", "100.00", "D1"),
            ("2025-05-04", "SHOP", "5311", "-5.00", "SETTLED", "95.00", "S1")]
    p = tmp_path / "c.csv"
    p.write_text(card_csv(rows), encoding="utf-8")
    st = read_bank_table(p, PROFILES)
    assert st.transactions["amount_pence"].tolist() == [10000, -500]
    assert st.not_counted == {"declined": 1, "reversed": 1}
    assert (st.opening_balance_pence, st.closing_balance_pence) == (0, 9500)


def test_authorised_counts_once_settled_and_alone_when_not(tmp_path):
    rows = [("2025-05-01", "LOAD", "", "100.00", "settled", "100.00", "L1"),
            ("2025-05-02", "TAXI", "4121", "-8.00", "authorised", "100.00", "T1"),
            ("2025-05-03", "TAXI", "4121", "-8.00", "settled", "92.00", "T1"),     # the same payment
            ("2025-05-05", "CINEMA", "7832", "-6.00", "authorised", "86.00", "C1"),  # not yet settled: counts
            ("2025-05-06", "CAFE", "5814", "-4.00", "authorised", "82.00", "")]      # no reference: pairs with nothing
    p = tmp_path / "c.csv"
    p.write_text(card_csv(rows), encoding="utf-8")
    st = read_bank_table(p, PROFILES)
    assert st.transactions["amount_pence"].tolist() == [10000, -800, -600, -400]
    assert st.transactions["posted_date"].dt.day.tolist() == [1, 3, 5, 6]  # the settlement's date
    assert st.not_counted == {"authorised_then_settled": 1}


def test_an_unknown_status_is_a_rejected_row_naming_the_words(tmp_path):
    rows = [("2025-05-01", "LOAD", "", "100.00", "settled", "100.00", "L1"),
            ("2025-05-02", "SHOP", "5311", "-5.00", "on hold", "95.00", "H1")]
    p = tmp_path / "c.csv"
    p.write_text(card_csv(rows), encoding="utf-8")
    st = read_bank_table(p, PROFILES)
    assert st.transactions["amount_pence"].tolist() == [10000]
    (row, col, raw, why), = st.rejects
    assert (row, col, raw) == (3, "status", "on hold") and "settled" in why and "declined" in why


def test_an_export_of_only_declined_rows_is_a_statement_with_nothing_moved(tmp_path):
    rows = [("2025-05-07", "SHOP", "5311", "-50.00", "declined", "3.00", "D1")]
    p = tmp_path / "c.csv"
    p.write_text(card_csv(rows), encoding="utf-8")
    st = read_bank_table(p, PROFILES)
    assert st.transactions.empty and st.not_counted == {"declined": 1} and st.start_date == dt.date(2025, 5, 7)


def test_a_user_profile_may_name_its_own_status_words(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "my_card.toml").write_text('''
name = "my_card"
bank = "My card scheme"
[header]
columns = ["Posted", "Where", "Value", "State", "Card", "Ref"]
[columns]
date = "Posted"
description = "Where"
payee = "Where"
amount = "Value"
status = "State"
card_last4 = "Card"
reference = "Ref"
[status]
settled = ["complete"]
authorised = ["hold"]
declined = ["refused"]
reversed = ["undone"]
''', encoding="utf-8")
    p = tmp_path / "x.csv"
    p.write_text("Posted,Where,Value,State,Card,Ref\n01/05/2025,A,-1.00,complete,5555,1\n02/05/2025,B,-2.00,hold,5555,2\n"
                 "03/05/2025,C,-3.00,refused,5555,3\n04/05/2025,D,-4.00,undone,5555,4\n", encoding="utf-8")
    st = read_bank_table(p, load_profiles(tmp_path))
    assert st.transactions["amount_pence"].tolist() == [-100, -200]
    assert st.not_counted == {"declined": 1, "reversed": 1} and st.account_number == "****5555"


def test_profile_mistakes_are_named():
    from dpaudit.ingest.readers.bank_csv import parse_profile

    base = {"name": "x", "header": {"columns": ["d", "a", "s"]}, "columns": {"date": "d", "amount": "a"}}
    with pytest.raises(ProfileError, match=r"\[status\] needs columns.status"):
        parse_profile({**base, "status": {"settled": ["ok"]}}, "x.toml")
    with pytest.raises(ProfileError, match="status.pending is not a card status"):
        parse_profile({**base, "columns": {**base["columns"], "status": "s"}, "status": {"pending": ["p"]}}, "x.toml")


# ---- the card as the recipient's account ---------------------------------------------------------

def test_card_last4_against_the_registered_card():
    assert same_account("", "****4821", "", "4821") is True
    assert same_account("", "****9932", "", "4821") is False
    assert same_account("", "****4821", "40-00-04", "01234567") is False  # a card export for a bank recipient
    assert same_account("", "****4821|****9932", "", "4821") is False    # two cards in one export


def test_an_export_holding_two_cards_belongs_to_neither(tmp_path):
    rows = [("2025-05-01", "LOAD", "", "100.00", "settled", "100.00", "L1")]
    body = card_csv(rows) + "2025-05-02,SHOP,5311,-5.00,settled,9932,95.00,S1\n"
    p = tmp_path / "c.csv"
    p.write_text(body, encoding="utf-8")
    st = read_bank_table(p, PROFILES)
    assert st.account_number == "****4821|****9932" and st.rejects == []


# ---- the merchant category code decides before keywords (decisions.md 50) ----------------------

@pytest.fixture
def c(tmp_path):
    return simple_council(tmp_path)


def _by_payee(f, rule_id):
    return sorted(f.loc[f["rule_id"] == rule_id, "counterparty"].tolist())


def test_mcc_decides_prohibited_household_and_cash(c):
    c.txn("R001", "2025-05-14", "-45.00", "SKYLINE ENTERTAINMENT", mcc="7995")  # gambling, no keyword
    c.txn("R001", "2025-05-15", "-30.00", "NOTEMACHINE STOCKPORT", mcc="6011")  # ATM, no keyword
    c.txn("R001", "2025-05-16", "-40.00", "POST OFFICE COUNTER", mcc="6010")    # counter cash
    c.txn("R001", "2025-05-17", "-27.35", "EVERYDAY LOCAL 214", mcc="5411")     # grocery
    f = c.audit("2025-05", only=["SP-PROHIBITED", "SP-HOUSEHOLD", "SP-CASH"])
    assert _by_payee(f, "SP-PROHIBITED") == ["SKYLINE ENTERTAINMENT"]
    assert _by_payee(f, "SP-CASH") == ["NOTEMACHINE STOCKPORT", "POST OFFICE COUNTER"]
    assert _by_payee(f, "SP-HOUSEHOLD") == ["EVERYDAY LOCAL 214"]
    cash = f[(f["rule_id"] == "SP-CASH") & (f["counterparty"] == "NOTEMACHINE STOCKPORT")].iloc[0]
    assert cash["amount_pence"] == 3000 and "merchant category 6011" in cash["message"]
    assert "merchant category 7995" in f[f["rule_id"] == "SP-PROHIBITED"].iloc[0]["message"]


def test_a_code_outside_the_lists_is_not_overridden_by_a_keyword(c):
    c.txn("R001", "2025-05-14", "-18.00", "STRIKE BOWLING BAR", mcc="7933")  # 'bar', but a bowling alley
    c.txn("R001", "2025-05-15", "-25.00", "CASH CONVERTERS", mcc="5932")     # 'cash', but a second-hand shop
    c.txn("R001", "2025-05-16", "-12.00", "TESCO WINES", mcc="5411")          # a grocer: household, not alcohol
    f = c.audit("2025-05", only=["SP-PROHIBITED", "SP-HOUSEHOLD", "SP-CASH"])
    assert _by_payee(f, "SP-PROHIBITED") == [] and _by_payee(f, "SP-CASH") == []
    assert _by_payee(f, "SP-HOUSEHOLD") == ["TESCO WINES"]
    assert "merchant category 5411" in f.iloc[0]["message"]


def test_without_a_code_the_keywords_still_decide(c):
    c.txn("R001", "2025-05-14", "-18.00", "STRIKE BOWLING BAR")
    c.txn("R001", "2025-05-15", "-25.00", "CASH CONVERTERS")
    f = c.audit("2025-05", only=["SP-PROHIBITED", "SP-HOUSEHOLD", "SP-CASH"])
    assert _by_payee(f, "SP-PROHIBITED") == ["STRIKE BOWLING BAR"] and _by_payee(f, "SP-CASH") == ["CASH CONVERTERS"]


# ---- balance checks on the money moved -----------------------------------------------------------

def _ingest(data: Path, period: str):
    with store.open_store(data / "dp.duckdb") as con:
        counts = ingest_statements(con, data, period, POLICY)
        d = load_audit_data(con, period, POLICY)
        return counts, RULES["DQ-BALANCE-BREAK"](d), RULES["DQ-ROW-REJECTED"](d), con.execute(
            "SELECT n_read, n_rejected, n_not_counted FROM statement_totals").fetchall()


def _put(data: Path, period: str, name: str, text: str) -> None:
    p = data / "inbox" / period / "R1" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def test_a_card_export_with_rows_set_aside_adds_up(tmp_path):
    _put(tmp_path, "2025-05", "card.csv", card_csv())
    counts, breaks, rejected, totals = _ingest(tmp_path, "2025-05")
    assert breaks.empty and rejected.empty
    assert totals == [(6, 0, 3)]
    assert (counts["card_rows_declined"], counts["card_rows_reversed"], counts["card_rows_authorised_then_settled"],
            counts["txns_read"]) == (1, 1, 1, 6)


def test_a_card_export_missing_a_money_row_breaks(tmp_path):
    rows = [r for r in MAY if r[1] != "METROLINK"]  # the tram fare's row is gone; later balances still show it
    _put(tmp_path, "2025-05", "card.csv", card_csv(rows))
    _, breaks, _, _ = _ingest(tmp_path, "2025-05")
    (b,) = breaks.itertuples()
    # opening 250.00 + (300.00 - 12.50 - 22.00 - 30.00 - 9.00) = 476.50 against the closing 472.90
    assert b.amount_pence == 47290 - 47650 and "£476.50" in b.message and "£472.90" in b.message


@pytest.mark.parametrize("shift,expect", [(0, None), (500, 500)])
def test_card_exports_run_on_from_month_to_month(tmp_path, shift, expect):
    april = [("2025-04-01", "STOCKPORT COUNCIL DP LOAD", "", "300.00", "settled", "300.00", "L0401"),
             ("2025-04-20", "LIFE LEISURE", "7997", "-50.00", "settled", "250.00", "S0420")]
    bal = lambda pence: f"{(pence + shift) // 100}.{(pence + shift) % 100:02d}"  # noqa: E731
    # May opens with a declined row (the card was empty before the load): its balance is April's closing
    may = [("2025-05-01", "SHOP", "5311", "-400.00", "declined", bal(25000), "D0501"),
           ("2025-05-01", "STOCKPORT COUNCIL DP LOAD", "", "300.00", "settled", bal(55000), "L0501")]
    _put(tmp_path, "2025-04", "card_april.csv", card_csv(april))
    _ingest(tmp_path, "2025-04")
    _put(tmp_path, "2025-05", "card_may.csv", card_csv(may))
    _, breaks, _, _ = _ingest(tmp_path, "2025-05")
    assert (breaks["amount_pence"].tolist() if len(breaks) else []) == ([] if expect is None else [expect])


# ---- a whole month on a small council -----------------------------------------------------------

REFERENCE = {
    "recipients.csv": "recipient_id,child_name,date_of_birth,management_type,sort_code,account_number,account_holder,"
                      "dp_start_date,dp_end_date,status,stop_requested,support_officer\n"
                      "R1,Poppy Adams,2016-04-12,direct_payment,,4821,Mrs Adams,2024-09-01,,active,no,B. Hussain\n",
    "support_plan_lines.csv": "recipient_id,line_id,category,description,annual_amount,funding_stream,management_type,"
                              "valid_from,valid_to,school_setting,setting_consent_date,providers\n"
                              "R1,L1,day_activities,Leisure,2400.00,social_care_respite,direct_payment,2025-04-01,"
                              "2026-03-31,no,,LIFE LEISURE\n"
                              "R1,L2,transport,Transport,1200.00,social_care_respite,direct_payment,2025-04-01,"
                              "2026-03-31,no,,METROLINK\n",
    "payment_schedule.csv": "recipient_id,due_date,amount,reference\nR1,2025-05-01,300.00,DP R1 2025-05\n",
}
RECEIPTS = ("receipt_id,date,supplier,amount,description,category,attachment\n"
            "RC1,2025-05-04,LIFE LEISURE,12.50,Swim,day_activities,\n"
            "RC2,2025-05-15,METROLINK,3.60,Tram,transport,\n"
            "RC3,2025-05-28,LIFE LEISURE,9.00,Swim,day_activities,\n")


def test_a_month_of_a_card_recipient_end_to_end(tmp_path):
    data = tmp_path / "data"
    (data / "reference").mkdir(parents=True)
    for name, text in REFERENCE.items():
        (data / "reference" / name).write_text(text, encoding="utf-8")
    inbox = data / "inbox" / "2025-05" / "R1"
    inbox.mkdir(parents=True)
    (inbox / "card_may.csv").write_text(portal_csv(), encoding="utf-8")
    (inbox / "receipts.csv").write_text(RECEIPTS, encoding="utf-8")
    other = [("2025-05-09", "CARD TOP UP", "", "50.00", "settled", "60.00", "X1"),
             ("2025-05-11", "SPORTS DIRECT", "5655", "-10.00", "settled", "50.00", "X2")]
    (inbox / "card_9932.csv").write_text(card_csv(other, last4="9932"), encoding="utf-8")
    res = run_period(data, "2025-05", reports_dir=tmp_path / "reports", db_path=tmp_path / "db.duckdb", officer="P")
    out = tmp_path / "reports" / "2025-05"
    ex = pd.read_csv(out / "exceptions.csv", dtype=str, keep_default_na=False)
    got = sorted(zip(ex.rule_id, ex.amount, ex.counterparty))
    assert got == sorted([("SP-PROHIBITED", "22.00", "MOONLIGHT LOUNGE"), ("EV-NO-EVIDENCE", "22.00", "MOONLIGHT LOUNGE"),
                          ("SP-CASH", "30.00", "POST OFFICE COUNTER"), ("EV-NO-EVIDENCE", "30.00", "POST OFFICE COUNTER"),
                          ("DQ-WRONG-ACCOUNT", "", "")]), ex[["rule_id", "amount", "message"]].to_string()
    wrong = ex[ex.rule_id == "DQ-WRONG-ACCOUNT"].iloc[0]["message"]
    assert "card ****9932" in wrong and "registered DP card is ****4821" in wrong
    rec = pd.read_csv(out / "reconciliation.csv", dtype=str).iloc[0]
    # 250.00 + 300.00 - (12.50 + 22.00 + 30.00 + 3.60 + 9.00); the other card's rows are not the DP card's
    assert (rec.opening_balance, rec.council_credits, rec.other_credits, rec.debits, rec.closing_balance) == (
        "250.00", "300.00", "0.00", "77.10", "472.90")
    assert (rec.evidenced, rec.unevidenced) == ("25.10", "52.00")
    # what was set aside stays visible: the run's ingest counts and the manifest
    assert (res.counts["card_rows_declined"], res.counts["card_rows_reversed"],
            res.counts["card_rows_authorised_then_settled"]) == (1, 1, 1)
    assert json.loads((out / "manifest.json").read_text())["counts"]["card_rows_not_counted"] == 3


def test_a_settlement_in_the_next_export_shows_as_a_balance_break(tmp_path):
    """Pairing is within one file (defs): April's export counts the still-authorised £10.00; May's
    export settles it without the balance moving again, so May does not add up (decisions.md 51)."""
    april = [("2025-04-01", "STOCKPORT COUNCIL DP LOAD", "", "300.00", "settled", "300.00", "L0401"),
             ("2025-04-30", "LIFE LEISURE", "7997", "-10.00", "authorised", "290.00", "A0430")]
    may = [("2025-05-01", "STOCKPORT COUNCIL DP LOAD", "", "300.00", "settled", "590.00", "L0501"),
           ("2025-05-02", "LIFE LEISURE", "7997", "-10.00", "settled", "590.00", "A0430")]
    _put(tmp_path, "2025-04", "card_april.csv", card_csv(april))
    _ingest(tmp_path, "2025-04")
    _put(tmp_path, "2025-05", "card_may.csv", card_csv(may))
    _, breaks, _, _ = _ingest(tmp_path, "2025-05")
    # May: opening 290.00 + 300.00 - 10.00 = 580.00, but the closing balance is 590.00
    assert breaks["amount_pence"].tolist() == [1000]
