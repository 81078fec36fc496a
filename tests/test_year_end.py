"""Year end (rules.md "Year end", PBP 5.3/5.4): hand-worked examples to the penny."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpaudit import store
from dpaudit.decide import year_end
from dpaudit.core.policy import load_policy

POLICY = load_policy()


@pytest.fixture()
def con(tmp_path):
    with store.open_store(tmp_path / "t.duckdb") as c:
        yield c


def recipient(rid, management_type="direct_payment", **kw):
    row = {"recipient_id": rid, "child_name": "Child " + rid, "date_of_birth": date(2015, 1, 1),
           "management_type": management_type, "sort_code": "040004", "account_number": "12345678",
           "account_holder": "Parent", "dp_start_date": date(2024, 4, 1), "dp_end_date": None,
           "status": "active", "stop_requested": "no", "support_officer": "SO", "young_person_declines": ""}
    row.update(kw)
    return row


def line(rid, line_id, annual_pence, valid_from=date(2025, 4, 1), valid_to=None,
         funding_stream="social_care_respite", management_type="direct_payment"):
    return {"recipient_id": rid, "line_id": line_id, "category": "short_breaks", "description": "d",
            "annual_amount_pence": annual_pence, "funding_stream": funding_stream,
            "management_type": management_type, "valid_from": valid_from, "valid_to": valid_to,
            "school_setting": "no", "setting_consent_date": None, "providers": None}


def recon(rid, period, closing_pence):
    return {"period": period, "recipient_id": rid, "opening_balance_pence": 0, "council_credits_pence": 0,
            "other_credits_pence": 0, "debits_pence": 0, "closing_balance_pence": closing_pence,
            "evidenced_pence": 0, "unevidenced_pence": 0, "plan_budget_to_date_pence": 0,
            "spend_to_date_pence": 0, "contingency_held_pence": closing_pence, "contingency_pct": None}


def txn(rid, txn_id, posted, amount, balance=None, position=0):
    return {"txn_id": txn_id, "recipient_id": rid, "posted_date": posted, "amount_pence": amount,
            "balance_pence": balance, "description": "x", "file_sha256": "f", "stmt_index": 0,
            "position": position, "period": f"{posted.year:04d}-{posted.month:02d}"}


def load(con, **tables):
    for table, rows in tables.items():
        frame = pd.DataFrame(rows)
        if table == "matches":  # no key: store.insert_df's INSERT OR IGNORE needs one
            con.register("_m", frame)
            con.execute(f"INSERT INTO matches ({', '.join(frame.columns)}) SELECT * FROM _m")
            con.unregister("_m")
        else:
            store.insert_df(con, table, frame)


def row_of(frame, rid):
    got = frame[frame["recipient_id"] == rid]
    assert len(got) == 1, frame
    return got.iloc[0]


def figures(r):
    return (int(r.annual_dp_value_pence), int(r.closing_balance_pence), int(r.committed_pence),
            int(r.surplus_pence), int(r.carry_forward_pence), int(r.repayment_pence))


def test_surplus_below_at_and_above_ten_percent(con):
    # annual £12,000.00 each; 10% = £1,200.00
    load(con,
         recipients=[recipient("A"), recipient("B"), recipient("C")],
         plan_lines=[line("A", "L1", 1_200_000), line("B", "L1", 1_200_000), line("C", "L1", 700_000),
                     line("C", "L2", 500_000)],
         reconciliation=[recon("A", "2026-03", 80_000), recon("B", "2026-03", 120_000),
                         recon("C", "2026-03", 150_000)])
    ye = year_end.compute_year_end(con, 2025, POLICY)
    assert figures(row_of(ye, "A")) == (1_200_000, 80_000, 0, 80_000, 80_000, 0)
    assert figures(row_of(ye, "B")) == (1_200_000, 120_000, 0, 120_000, 120_000, 0)
    assert figures(row_of(ye, "C")) == (1_200_000, 150_000, 0, 150_000, 120_000, 30_000)
    c = row_of(ye, "C").reasons
    assert "£1,500.00" in c and "£1,200.00" in c and "£300.00" in c and "PBP 5.3" in c and "PBP 5.4" in c
    assert "Nothing needs to be repaid" in row_of(ye, "A").reasons


def test_part_year_recipient_pro_rata_by_day(con):
    # L1 from 1 Oct 2025: 182 of 365 days of £10,000.00 = 498,630.137p -> 498,630p
    # L2 1 Apr - 30 Jun 2025: 91 of 365 days of £3,650.00 = £910.00 exactly
    load(con, recipients=[recipient("P")],
         plan_lines=[line("P", "L1", 1_000_000, valid_from=date(2025, 10, 1)),
                     line("P", "L2", 365_000, valid_to=date(2025, 6, 30))],
         reconciliation=[recon("P", "2026-03", 60_000)])
    r = row_of(year_end.compute_year_end(con, 2025, POLICY), "P")
    annual = 498_630 + 91_000
    cap = 58_963  # 10% of 589,630p
    assert figures(r) == (annual, 60_000, 0, 60_000, cap, 60_000 - cap)
    assert "line L1 for 182 of 365 days" in r.reasons and "line L2 for 91 of 365 days" in r.reasons


def test_direct_payment_dates_make_a_part_year_recipient(con):
    # whole-year line of £7,300.00; DP from 1 July 2025 (274 days) and another ended 31 Dec 2025 (275 days)
    load(con, recipients=[recipient("JOIN", dp_start_date=date(2025, 7, 1)),
                          recipient("LEFT", dp_end_date=date(2025, 12, 31), status="stopped"),
                          recipient("GONE", dp_end_date=date(2025, 3, 31), status="stopped")],
         plan_lines=[line(x, "L1", 730_000, valid_to=date(2026, 3, 31)) for x in ("JOIN", "LEFT", "GONE")])
    ye = year_end.compute_year_end(con, 2025, POLICY).set_index("recipient_id")
    assert ye.loc["JOIN", "annual_dp_value_pence"] == 548_000  # 730,000 * 274 / 365
    assert ye.loc["LEFT", "annual_dp_value_pence"] == 550_000  # 730,000 * 275 / 365
    assert ye.loc["GONE", "annual_dp_value_pence"] == 0
    assert "line L1 for 274 of 365 days" in ye.loc["JOIN", "reasons"]


def test_leap_year_has_366_days_and_rounds_half_up(con):
    # FY2023 = 2023-04-01..2024-03-31 includes 29 Feb 2024: 366 days.
    # L1 whole year £5,000.00 counts whole; L2 30 days of £366.00 = £30.00;
    # L3 one day of £1.83 = 0.5p -> 1p (half-up, not half-even).
    load(con, recipients=[recipient("Y", dp_start_date=date(2020, 1, 1))],
         plan_lines=[line("Y", "L1", 500_000, valid_from=date(2023, 1, 1)),
                     line("Y", "L2", 36_600, valid_from=date(2023, 4, 1), valid_to=date(2023, 4, 30)),
                     line("Y", "L3", 183, valid_from=date(2024, 3, 31), valid_to=date(2024, 12, 31))])
    lines = year_end.annual_dp_values(con, 2023, POLICY).set_index("line_id")
    assert lines.loc["L1", "value_pence"] == 500_000 and lines.loc["L1", "days"] == 366
    assert lines.loc["L2", "value_pence"] == 3_000 and lines.loc["L3", "value_pence"] == 1
    r = row_of(year_end.compute_year_end(con, 2023, POLICY), "Y")
    assert r.annual_dp_value_pence == 503_001
    # the same 30-day line in a 365-day year: 36,600 * 30 / 365 = 3,008.2p -> 3,008p
    con.execute("UPDATE plan_lines SET valid_from = DATE '2024-04-01', valid_to = DATE '2024-04-30' WHERE line_id = 'L2'")
    l2 = year_end.annual_dp_values(con, 2024, POLICY).set_index("line_id").loc["L2"]
    assert (l2["days"], l2["fy_days"], l2["value_pence"]) == (30, 365, 3_008)


def test_invalid_and_notional_lines_do_not_count(con):
    load(con, recipients=[recipient("V")],
         plan_lines=[line("V", "OK", 100_000),
                     line("V", "NOTIONAL_STREAM", 200_000, funding_stream="hnb_support"),
                     line("V", "NOTIONAL_LINE", 400_000, management_type="notional"),
                     line("V", "NO_DATES", 800_000, valid_from=None),
                     line("V", "BACKWARDS", 1_600_000, valid_from=date(2025, 6, 1), valid_to=date(2025, 5, 1)),
                     line("V", "FLAGGED", 3_200_000),
                     line("V", "FLAG_DISMISSED", 6_400_000)],
         findings=[{"exception_id": "e1", "period": "2025-04", "recipient_id": "V", "rule_id": "DQ-PLAN-INVALID",
                    "severity": "medium", "line_id": "FLAGGED"},
                   {"exception_id": "e2", "period": "2025-04", "recipient_id": "V", "rule_id": "DQ-PLAN-INVALID",
                    "severity": "medium", "line_id": "FLAG_DISMISSED"}],
         decisions=[{"seq": 1, "exception_id": "e2", "decision": "dismiss", "officer": "o"}])
    r = row_of(year_end.compute_year_end(con, 2025, POLICY), "V")
    assert r.annual_dp_value_pence == 100_000 + 6_400_000


def test_overdrawn_account_gives_no_carry_forward_or_repayment(con):
    load(con, recipients=[recipient("O")], plan_lines=[line("O", "L1", 1_200_000)],
         reconciliation=[recon("O", "2026-03", -5_000)])
    r = row_of(year_end.compute_year_end(con, 2025, POLICY), "O")
    assert figures(r) == (1_200_000, -5_000, 0, -5_000, 0, 0)
    assert "overdrawn" in r.reasons


def test_committed_invoices_and_hmrc(con):
    load(con, recipients=[recipient("K")], plan_lines=[line("K", "L1", 1_200_000)],
         reconciliation=[recon("K", "2026-03", 200_000)],
         invoices=[
             {"recipient_id": "K", "invoice_id": "I1", "invoice_date": date(2026, 3, 20), "amount_pence": 30_000},
             {"recipient_id": "K", "invoice_id": "I2", "invoice_date": date(2026, 2, 10), "amount_pence": 10_000},
             {"recipient_id": "K", "invoice_id": "I3", "invoice_date": date(2026, 3, 25), "amount_pence": 5_000},
             {"recipient_id": "K", "invoice_id": "I0", "invoice_date": date(2025, 3, 30), "amount_pence": 7_000},
             {"recipient_id": "K", "invoice_id": "I4", "invoice_date": date(2026, 1, 5), "amount_pence": 4_000},
             {"recipient_id": "OTHER", "invoice_id": "I1", "invoice_date": date(2026, 1, 5), "amount_pence": 1}],
         transactions=[txn("K", "t2", date(2026, 2, 15), -10_000), txn("K", "t3", date(2026, 4, 3), -5_000),
                       txn("K", "t4", date(2026, 1, 9), -1_500), txn("K", "t5", date(2026, 2, 9), -1_000),
                       txn("OTHER", "o1", date(2026, 1, 9), -30_000)],
         matches=[{"period": "2026-02", "txn_id": "t2", "evidence_kind": "invoice", "evidence_id": "invoice:I2",
                   "matched_pence": 10_000, "method": "amount, date and supplier"},
                  {"period": "2026-04", "txn_id": "t3", "evidence_kind": "invoice", "evidence_id": "invoice:I3",
                   "matched_pence": 5_000, "method": "amount, date and supplier"},
                  {"period": "2026-01", "txn_id": "t4", "evidence_kind": "invoice", "evidence_id": "invoice:I4",
                   "matched_pence": 1_500, "method": "invoice paid in parts"},
                  {"period": "2026-02", "txn_id": "t5", "evidence_kind": "invoice", "evidence_id": "I4",
                   "matched_pence": 1_000, "method": "invoice paid in parts"},
                  # another recipient's invoice with the same id does not pay K's I1
                  {"period": "2026-01", "txn_id": "o1", "evidence_kind": "invoice", "evidence_id": "invoice:I1",
                   "matched_pence": 30_000, "method": "amount, date and supplier"}],
         hmrc_payments=[
             {"recipient_id": "K", "tax_month": "2026-02", "amount_due_pence": 20_000, "amount_paid_pence": 15_000,
              "paid_date": date(2026, 3, 20), "reference": "a"},
             {"recipient_id": "K", "tax_month": "2026-03", "amount_due_pence": 18_000, "amount_paid_pence": 18_000,
              "paid_date": date(2026, 4, 20), "reference": "b"},
             {"recipient_id": "K", "tax_month": "2025-12", "amount_due_pence": 9_000, "amount_paid_pence": 12_000,
              "paid_date": date(2026, 1, 20), "reference": "c"},
             {"recipient_id": "K", "tax_month": "2025-03", "amount_due_pence": 9_900, "amount_paid_pence": 0,
              "paid_date": None, "reference": "d"}])
    ye = year_end.compute_year_end(con, 2025, POLICY)
    r = row_of(ye, "K")
    # invoices: I1 unpaid 300.00 + I3 paid only after 31 March 50.00 + I4 part paid, 15.00 owed;
    # I2 paid; I0 last year.
    # HMRC: 2026-02 short by 50.00; 2026-03 paid after 31 March 180.00; overpayment never negative
    assert (r.committed_invoices_pence, r.committed_hmrc_pence) == (36_500, 23_000)
    assert figures(r) == (1_200_000, 200_000, 59_500, 140_500, 120_000, 20_500)
    assert "3 invoices dated in the year still to be paid £365.00" in r.reasons and "HMRC £230.00" in r.reasons


def test_closing_balance_sources(con):
    load(con, recipients=[recipient(x) for x in ("R", "N", "A", "S", "Z")],
         plan_lines=[line(x, "L1", 100_000) for x in ("R", "N", "A", "S", "Z")],
         reconciliation=[recon("R", "2026-03", 12_345), recon("A", "2026-01", 50_000)],
         transactions=[
             txn("R", "r1", date(2026, 3, 30), -100, balance=99_999),
             # newest-first export: the later transaction has the lower position
             txn("N", "n1", date(2026, 3, 30), -10_000, balance=90_000, position=1),
             txn("N", "n2", date(2026, 3, 30), -5_000, balance=85_000, position=0),
             txn("N", "n0", date(2026, 3, 2), 100_000, balance=100_000, position=5),
             txn("N", "n9", date(2026, 4, 2), -1_000, balance=84_000),
             txn("A", "a0", date(2026, 1, 20), -999),
             txn("A", "a1", date(2026, 2, 3), 10_000),
             txn("A", "a2", date(2026, 3, 9), -3_000),
             txn("S", "s1", date(2025, 5, 1), 20_000),
             txn("S", "s2", date(2025, 6, 1), -2_500)])
    ye = year_end.compute_year_end(con, 2025, POLICY).set_index("recipient_id")
    assert ye.loc["R", "closing_balance_pence"] == 12_345  # reconciliation for March wins
    assert ye.loc["N", "closing_balance_pence"] == 85_000  # end of the last day, not the highest position
    assert ye.loc["A", "closing_balance_pence"] == 57_000  # Jan closing + Feb/Mar transactions
    assert ye.loc["S", "closing_balance_pence"] == 17_500  # no balances, no reconciliation
    assert ye.loc["Z", "closing_balance_pence"] == 0
    assert "no statement or reconciliation" in ye.loc["Z", "reasons"]


def test_only_direct_payment_recipients_with_lines_or_transactions(con):
    load(con, recipients=[recipient("D"), recipient("C", "combination"), recipient("N", "notional"),
                          recipient("OLD"), recipient("T")],
         plan_lines=[line("D", "L1", 100_000), line("C", "L1", 100_000), line("N", "L1", 100_000),
                     line("OLD", "L1", 100_000, valid_from=date(2023, 4, 1), valid_to=date(2024, 3, 31))],
         transactions=[txn("T", "t1", date(2025, 8, 1), 5_000)])
    ye = year_end.compute_year_end(con, 2025, POLICY)
    assert list(ye["recipient_id"]) == ["C", "D", "T"]
    t = row_of(ye, "T")
    assert figures(t) == (0, 5_000, 0, 5_000, 0, 5_000)


def test_writes_table_replacing_the_year_and_is_deterministic(con):
    load(con, recipients=[recipient("A"), recipient("B")],
         plan_lines=[line("A", "L1", 1_200_000), line("B", "L1", 600_000, valid_from=date(2025, 7, 1))],
         reconciliation=[recon("A", "2026-03", 150_000), recon("B", "2026-03", 10_000)])
    first = year_end.compute_year_end(con, 2025, POLICY, run_id="r1")
    second = year_end.compute_year_end(con, 2025, POLICY, run_id="r1")
    pd.testing.assert_frame_equal(first, second)
    stored = con.execute("SELECT fy, recipient_id, repayment_pence, run_id FROM year_end ORDER BY recipient_id").fetchall()
    assert stored == [(2025, "A", 30_000, "r1"), (2025, "B", 0, "r1")]
    con.execute("DELETE FROM plan_lines WHERE recipient_id = 'B'")
    con.execute("DELETE FROM reconciliation WHERE recipient_id = 'B'")
    year_end.compute_year_end(con, 2025, POLICY)
    assert con.execute("SELECT recipient_id FROM year_end WHERE fy = 2025").fetchall() == [("A",)]
    csv = year_end.to_contract_frame(first)
    assert list(csv.columns) == ["recipient_id", "annual_dp_value", "closing_balance", "committed", "surplus",
                                 "carry_forward", "repayment", "reasons"]
    assert csv.iloc[0]["repayment"] == "300.00" and csv.iloc[0]["annual_dp_value"] == "12000.00"


def test_contingency_summary(con):
    rows = [recon("A", "2025-04", 1_000), recon("A", "2025-05", 3_000), recon("A", "2026-04", 1)]
    rows[0]["contingency_pct"], rows[1]["contingency_pct"], rows[2]["contingency_pct"] = 4.5, 12.25, 0
    load(con, reconciliation=rows)
    s = year_end.contingency_summary(con, 2025, POLICY).iloc[0]
    assert (s.months, s.min_contingency_held_pence, s.avg_contingency_held_pence) == (2, 1_000, 2_000)
    assert (s.min_contingency_pct, s.avg_contingency_pct) == ("4.50", "8.38")
    assert (s.months_below_min, s.months_above_max) == (1, 1)


@given(surplus=st.integers(-10**9, 10**9), annual=st.integers(0, 10**9))
def test_split_surplus_invariants(surplus, annual):
    cap, carry, repay = year_end.split_surplus(surplus, annual, "10")
    assert carry + repay == max(0, surplus)
    assert 0 <= carry <= cap and cap * 10 - annual in range(-5, 6)  # cap is 10% to the penny
    assert repay >= 0
    if surplus <= cap:
        assert repay == 0


@settings(max_examples=15, deadline=None)
@given(closing=st.integers(-10**7, 10**8), annual=st.integers(0, 10**8), invoice=st.integers(0, 10**6))
def test_year_end_invariants_through_the_store(tmp_path_factory, closing, annual, invoice):
    with store.open_store(tmp_path_factory.mktemp("h") / "t.duckdb") as c:
        load(c, recipients=[recipient("H")], plan_lines=[line("H", "L1", annual)],
             reconciliation=[recon("H", "2026-03", closing)],
             invoices=[{"recipient_id": "H", "invoice_id": "I", "invoice_date": date(2026, 1, 5),
                        "amount_pence": invoice}])
        r = row_of(year_end.compute_year_end(c, 2025, POLICY), "H")
    assert r.surplus_pence == closing - invoice
    assert r.carry_forward_pence + r.repayment_pence == max(0, r.surplus_pence)
    assert 0 <= r.carry_forward_pence and r.carry_forward_pence * 10 <= annual + 5


def test_a_recipient_whose_payment_ended_is_not_told_money_carries_into_the_new_year(con):
    load(con,
         recipients=[recipient("A"), recipient("S", dp_end_date=date(2025, 12, 31), status="stopped")],
         plan_lines=[line("A", "L1", 1_200_000), line("S", "L1", 1_200_000)],
         reconciliation=[recon("A", "2026-03", 150_000), recon("S", "2026-03", 150_000)])
    ye = year_end.compute_year_end(con, 2025, POLICY)
    assert "carried forward into the new financial year" in row_of(ye, "A").reasons
    s = row_of(ye, "S").reasons
    assert "carried forward into the new financial year" not in s and "has ended" in s


def test_march_wages_paid_in_april_and_march_paye_are_committed(con):
    ps = {"recipient_id": "A", "employee_id": "E1", "period_start": date(2026, 3, 1), "period_end": date(2026, 3, 31),
          "hours": "40", "gross_pence": 60_000, "tax_pence": 5_000, "employee_ni_pence": 3_000, "employer_ni_pence": 4_000,
          "pension_employee_pence": 0, "pension_employer_pence": 0, "net_pence": 52_000, "file_sha256": "p", "row_no": 2}
    load(con, recipients=[recipient("A")], plan_lines=[line("A", "L1", 1_200_000)],
         reconciliation=[recon("A", "2026-03", 150_000)],
         payslips=[{**ps, "pay_date": date(2026, 4, 2), "period": "2026-04"},
                   {**ps, "pay_date": date(2026, 2, 27), "period": "2026-02", "period_start": date(2026, 2, 1),
                    "period_end": date(2026, 2, 28), "employee_id": "E2"}])
    ye = year_end.compute_year_end(con, 2025, POLICY)
    r = row_of(ye, "A")
    # April's pay for March work (net 520.00) is owed; February's, dated well before 31 March, is not;
    # no HMRC record for March and no payslip dated in March: no PAYE from payslips either
    assert int(r.committed_wages_pence) == 52_000 and int(r.committed_pence) == 52_000
    assert "paid after 31 March 2026" in r.reasons
