"""Client contributions (issue 18 items 4, 5; docs/decisions.md 47-49): the due-date schedule, which
credits are contributions, AC-CONTRIBUTION-SHORT, quarantine of a bad contributions.csv row, the year
end's pro-rata split and the surplus in weeks of funding.  Expected figures are worked by hand from
the agreed definitions, never taken from the code under test."""
from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import Council
from dpaudit import store
from dpaudit.audit.contributions import due_dates
from dpaudit.core.money import format_weeks, weeks_of_funding
from dpaudit.core.policy import load_policy
from dpaudit.decide import year_end

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
POLICY = load_policy()


def contrib(rid, amount_pence, frequency, start, end=None):
    return {"recipient_id": rid, "amount_pence": amount_pence, "frequency": frequency,
            "start_date": pd.Timestamp(start), "end_date": pd.Timestamp(end) if end else pd.NaT}


def dues(rows, since, until) -> list[tuple[str, str]]:
    d = due_dates(pd.DataFrame(rows), since, until)
    return [(r, f"{t:%Y-%m-%d}") for r, t in zip(d["recipient_id"], d["due_date"])]


# ------------------------------------------------------------------------------- the schedule
def test_weekly_due_dates_every_seven_days_from_the_start():
    assert dues([contrib("A", 1500, "weekly", "2025-04-07")], "2025-04-01", "2025-05-05") == [
        ("A", "2025-04-07"), ("A", "2025-04-14"), ("A", "2025-04-21"), ("A", "2025-04-28"), ("A", "2025-05-05")]


def test_four_weekly_due_dates_every_28_days_and_only_those_since():
    # 3 Apr, 1 May, 29 May, 26 Jun, 24 Jul, 21 Aug: from 1 May to 31 Jul
    assert dues([contrib("A", 1500, "4-weekly", "2025-04-03")], "2025-05-01", "2025-07-31") == [
        ("A", "2025-05-01"), ("A", "2025-05-29"), ("A", "2025-06-26"), ("A", "2025-07-24")]


def test_monthly_due_dates_keep_the_start_day_and_clamp_the_31st():
    assert dues([contrib("A", 1500, "monthly", "2025-01-31")], "2025-01-01", "2025-06-30") == [
        ("A", "2025-01-31"), ("A", "2025-02-28"), ("A", "2025-03-31"), ("A", "2025-04-30"), ("A", "2025-05-31"),
        ("A", "2025-06-30")]
    # a leap year's February; a later 30th keeps the 30th, not the 29th it was clamped to
    assert dues([contrib("B", 1500, "monthly", "2024-01-30")], "2024-02-01", "2024-04-30") == [
        ("B", "2024-02-29"), ("B", "2024-03-30"), ("B", "2024-04-30")]
    # since falls after the month's due day: that month's date is not due in the window
    assert dues([contrib("C", 1500, "MONTHLY", "2025-01-15")], "2025-04-20", "2025-06-15") == [
        ("C", "2025-05-15"), ("C", "2025-06-15")]


def test_end_date_is_the_last_day_a_contribution_can_fall_due():
    rows = [contrib("A", 1500, "weekly", "2025-04-07", "2025-04-21"),   # 21 Apr itself is due
            contrib("B", 1000, "monthly", "2025-04-10", "2025-06-09"),  # 10 Jun is after the end
            contrib("C", 1000, "weekly", "2025-08-04")]                 # starts after the window
    assert dues(rows, "2025-04-01", "2025-07-31") == [
        ("A", "2025-04-07"), ("A", "2025-04-14"), ("A", "2025-04-21"), ("B", "2025-04-10"), ("B", "2025-05-10")]


# ------------------------------------------------------------------------------- a small council
def council(tmp_path) -> Council:
    """R001 (Bowling family) pays £15.00 weekly from 7 April 2025, three times in April and twice in
    May, under the surname or a keyword; a friend's £20.00 in May.  R002 (Hill family) has no
    contributions row.  R003's contributions begin on 2 June 2025, so a keyword credit on 12 May is
    before its window (26 May)."""
    c = Council(tmp_path / "t.duckdb")
    c.rows["contributions"] = [
        {"recipient_id": "R001", "amount_pence": 1500, "frequency": "weekly", "start_date": date(2025, 4, 7), "end_date": None},
        {"recipient_id": "R003", "amount_pence": 1000, "frequency": "weekly", "start_date": date(2025, 6, 2), "end_date": None}]
    c.recipient("R001", holder="Mrs Jane Bowling", child="Sam Bowling")
    c.recipient("R002", holder="Mr Peter Hill", child="Amy Hill", account="01234568")
    c.recipient("R003", holder="Ms Ada Shaw", child="Kit Shaw", account="01234569")
    for rid, acct in (("R001", "01234567"), ("R002", "01234568"), ("R003", "01234569")):
        c.line(rid, "L1", "day_activities", "1200.00", providers="Stockport Leisure")
        c.statement(rid, "2025-04-01", "2025-05-31", "100.00", account=acct)
    c.schedule("R001", "2025-05-01", "100.00", "SMBC DP R001")
    c.txn("R001", "2025-05-01", "100.00", "STOCKPORT COUNCIL", desc="SMBC DP R001", ttype="CREDIT")
    c.txn("R001", "2025-04-07", "15.00", "J BOWLING", ttype="CREDIT")
    c.txn("R001", "2025-04-14", "15.00", "FPI", desc="CLIENT CONT R001", ttype="CREDIT")
    c.txn("R001", "2025-04-22", "15.00", "BOWLING CONTRIB", ttype="CREDIT")
    c.txn("R001", "2025-05-06", "15.00", "MRS J BOWLING", ttype="CREDIT")
    c.txn("R001", "2025-05-20", "15.00", "Contribution", ttype="CREDIT")
    c.txn("R001", "2025-05-15", "20.00", "A FRIEND", ttype="CREDIT")
    c.txn("R002", "2025-05-10", "30.00", "P HILL", ttype="CREDIT", account="01234568")
    c.txn("R003", "2025-05-12", "10.00", "CLIENT CONTRIBUTION", ttype="CREDIT", account="01234569")
    return c


def rows_of(f: pd.DataFrame, rule: str) -> list[tuple[str, int]]:
    g = f[f["rule_id"] == rule]
    return sorted(zip(g["recipient_id"], g["amount_pence"].astype(int)))


def test_contribution_short_is_the_cumulative_shortfall(tmp_path):
    c = council(tmp_path)
    # April: due by 25 April (30 - 5 days): 7, 14, 21 April = £45.00; paid 7, 14, 22 April = £45.00
    assert rows_of(c.audit("2025-04", only=["AC-CONTRIBUTION-SHORT"]), "AC-CONTRIBUTION-SHORT") == []
    # May: due by 26 May: 8 weeks (7 Apr .. 26 May) x £15.00 = £120.00; paid 5 x £15.00 = £75.00 -> £45.00
    f = c.audit("2025-05", only=["AC-CONTRIBUTION-SHORT"])
    assert rows_of(f, "AC-CONTRIBUTION-SHORT") == [("R001", 4500)]
    r = f.iloc[0]
    assert "£120.00" in r.message and "£75.00" in r.message and "£45.00 short" in r.message
    assert (r.severity, r.clause, str(r.txn_date)) == ("medium", "charging assessment", "2025-05-31")
    # one finding per recipient and period: its key is <recipient>|<period>|contribution
    from dpaudit.audit.findings import exception_id
    assert r.exception_id == exception_id("AC-CONTRIBUTION-SHORT", "R001", "R001|2025-05|contribution")


def test_contribution_credits_are_never_non_council_credits_but_other_family_money_is(tmp_path):
    f = council(tmp_path).audit("2025-05", only=["AC-NON-COUNCIL-CREDIT"])
    # R001's two May contributions (surname, keyword) are not flagged; the friend's £20.00 is;
    # R002 has no contributions row, so the family's £30.00 is flagged; R003's keyword credit of
    # 12 May is before its row's window (2 June - 7 days = 26 May), so it is flagged
    assert rows_of(f, "AC-NON-COUNCIL-CREDIT") == [("R001", 2000), ("R002", 3000), ("R003", 1000)]


def test_reconciliation_keeps_contributions_in_other_credits(tmp_path):
    from dpaudit.audit.reconcile import reconcile

    c = council(tmp_path)
    c.audit("2025-05", only=[])
    rec = reconcile(c.last_data).set_index("recipient_id")
    r = rec.loc["R001"]
    # other credits = two contributions (£30.00) + the friend (£20.00); £30.00 of them are contributions
    assert (r.council_credits_pence, r.other_credits_pence, r.contribution_credits_pence) == (10000, 5000, 3000)
    assert rec.loc["R002", "contribution_credits_pence"] == 0 and rec.loc["R003", "contribution_credits_pence"] == 0


def test_shards_split_the_contributions_by_recipient(tmp_path):
    from dpaudit.audit.shard import split

    c = council(tmp_path)
    c.audit("2025-05", only=[])
    shards = split(c.last_data, 2)
    assert len(shards) == 2
    got = sorted(rid for s in shards for rid in s.contributions["recipient_id"])
    assert got == ["R001", "R003"]
    for s in shards:
        assert set(s.contributions["recipient_id"]) <= set(s.recipients["recipient_id"])


# ------------------------------------------------------------------------------- quarantine
def test_a_bad_contributions_row_is_quarantined_and_the_rest_load(tmp_path):
    from dpaudit.ingest.reference import load_reference

    ref = tmp_path / "data" / "reference"
    ref.mkdir(parents=True)
    (ref / "contributions.csv").write_text(
        "recipient_id,amount,frequency,start_date,end_date\n"
        "R001,15.00,weekly,2025-04-07,\n"          # row 2: good
        "R002,20.00,fortnightly,2025-04-07,\n"     # row 3: no such frequency
        "R003,0.00,monthly,2025-04-01,\n"          # row 4: nothing to pay
        "R004,12.50,4-Weekly,07/04/2025,2025-03-31\n"  # row 5: ends before it starts
        "R005,9.99,Monthly,15/04/2025,31/03/2026\n",   # row 6: good (UK dates, any letter case)
        encoding="utf-8")
    with store.open_store(tmp_path / "t.duckdb") as con:
        res = load_reference(con, tmp_path / "data", POLICY)
        assert res.loaded["contributions"] == 2 and "contributions" not in res.missing
        rows = con.execute("SELECT recipient_id, amount_pence, frequency, start_date, end_date FROM contributions "
                           "ORDER BY recipient_id").fetchall()
        assert rows == [("R001", 1500, "weekly", date(2025, 4, 7), None),
                        ("R005", 999, "monthly", date(2025, 4, 15), date(2026, 3, 31))]
        q = con.execute("SELECT row_no, column_name, reason FROM quarantine WHERE kind = 'contributions' "
                        "ORDER BY row_no").fetchall()
    assert [(r, col) for r, col, _ in q] == [(3, "frequency"), (4, "amount"), (5, "start_date,end_date")]
    assert q[0][2] == ("reference/contributions.csv row 3, column frequency: the value is blank or not valid; "
                       "use one of weekly, 4-weekly, monthly")
    assert "row 4, column amount: a contribution must be more than 0.00" in q[1][2]
    assert "start_date is after end_date" in q[2][2]


def test_no_contributions_file_means_no_contributions(tmp_path):
    from dpaudit.ingest.reference import load_reference

    (tmp_path / "data" / "reference").mkdir(parents=True)
    with store.open_store(tmp_path / "t.duckdb") as con:
        res = load_reference(con, tmp_path / "data", POLICY)
        assert "contributions" not in res.missing and "contributions" not in res.loaded
        assert con.execute("SELECT count(*) FROM contributions").fetchone()[0] == 0


# ------------------------------------------------------------------------------- year end
def test_council_share_to_the_penny():
    # £300.00 held back; council paid in £9,000.00, the family £1,000.00: 90% is the council's
    assert year_end.council_share(30_000, 900_000, 100_000) == (27_000, 3_000)
    # 5p x 1 / 2 = 2.5p -> 3p (half-up), the family 2p
    assert year_end.council_share(5, 1, 1) == (3, 2)
    # £546.72 x £5,128.50 / £5,388.50: 54,672 x 512,850 / 538,850 = 52,034.03p -> £520.34, the family £26.38
    assert year_end.council_share(54_672, 512_850, 26_000) == (52_034, 2_638)
    assert year_end.council_share(30_000, 900_000, 0) == (30_000, 0)   # no contributions: all the council's
    assert year_end.council_share(30_000, 0, 50_000) == (0, 30_000)    # the council paid nothing in
    assert year_end.council_share(0, 900_000, 100_000) == (0, 0)


@settings(max_examples=300, deadline=None)
@given(held=st.integers(0, 10**10), council_in=st.integers(0, 10**10), contrib_in=st.integers(0, 10**10))
def test_council_share_property(held, council_in, contrib_in):
    council, family = year_end.council_share(held, council_in, contrib_in)
    assert council + family == held
    assert 0 <= council <= held and family >= 0
    if contrib_in == 0:
        assert council == held
    else:  # within half a penny of the exact proportion
        assert abs(Decimal(council) - Decimal(held) * council_in / (council_in + contrib_in)) <= Decimal("0.5")


def _recon(rid, period, closing, council_in, contrib_in):
    return {"period": period, "recipient_id": rid, "opening_balance_pence": 0, "council_credits_pence": council_in,
            "other_credits_pence": contrib_in, "debits_pence": 0, "closing_balance_pence": closing,
            "evidenced_pence": 0, "unevidenced_pence": 0, "plan_budget_to_date_pence": 0, "spend_to_date_pence": 0,
            "contingency_held_pence": closing, "contingency_pct": None, "contribution_credits_pence": contrib_in}


def test_year_end_recovers_the_council_share_through_the_store(tmp_path):
    from dpaudit.report.csvs import year_end_frame
    from dpaudit.report.letters import write_letters, year_end_letters

    with store.open_store(tmp_path / "t.duckdb") as con:
        people = [{"recipient_id": rid, "child_name": f"Child {rid}", "date_of_birth": date(2015, 1, 1),
                   "management_type": "direct_payment", "account_holder": "Parent", "dp_start_date": date(2024, 4, 1),
                   "status": "active", "support_officer": "SO"} for rid in ("A", "B")]
        store.insert_df(con, "recipients", pd.DataFrame(people))
        store.insert_df(con, "plan_lines", pd.DataFrame([
            {"recipient_id": rid, "line_id": "L1", "category": "short_breaks", "annual_amount_pence": 1_200_000,
             "funding_stream": "social_care_respite", "management_type": "direct_payment",
             "valid_from": date(2025, 4, 1), "valid_to": date(2026, 3, 31)} for rid in ("A", "B")]))
        # A: council £4,500.00 + £4,500.00, contributions £500.00 + £500.00; closing £1,500.00
        # B: the same money, no contributions
        store.insert_df(con, "reconciliation", pd.DataFrame([
            _recon("A", "2026-02", 100_000, 450_000, 50_000), _recon("A", "2026-03", 150_000, 450_000, 50_000),
            _recon("B", "2026-03", 150_000, 900_000, 0), _recon("A", "2025-03", 0, 999_999, 999_999)]))  # FY2024
        ye = year_end.compute_year_end(con, 2025, POLICY).set_index("recipient_id", drop=False)
        stored = con.execute("SELECT recipient_id, repayment_pence, council_in_pence, contributions_in_pence, "
                             "family_share_pence FROM year_end ORDER BY recipient_id").fetchall()
    # surplus £1,500.00, carry forward 10% of £12,000.00 = £1,200.00, held back £300.00:
    # A repays 90% (£270.00), its family keeps £30.00; B repays all £300.00
    a, b = ye.loc["A"], ye.loc["B"]
    assert (a.surplus_pence, a.carry_forward_pence, a.repayment_pence, a.family_share_pence) == (150_000, 120_000, 27_000, 3_000)
    assert (b.repayment_pence, b.family_share_pence) == (30_000, 0)
    assert stored == [("A", 27_000, 900_000, 100_000, 3_000), ("B", 30_000, 900_000, 0, 0)]
    # £1,500.00 / (£12,000.00 / 52) = 6.5 weeks
    assert "The surplus is £1,500.00 (6.5 weeks of funding)." in a.reasons
    assert ("the council paid in £9,000.00 and your client contributions came to £1,000.00, so the council's "
            "share of the £300.00 is £270.00 and the other £30.00") in a.reasons
    assert "£30.00" not in b.reasons and "should be repaid (PBP 5.4)" in b.reasons
    csv = year_end_frame(ye.reset_index(drop=True))
    assert list(csv.columns)[-4:] == ["council_in", "contributions_in", "family_share", "surplus_weeks"]
    assert csv.iloc[0][["repayment", "council_in", "contributions_in", "family_share", "surplus_weeks"]].tolist() == \
        ["270.00", "9000.00", "1000.00", "30.00", "6.5"]
    people = pd.DataFrame(people)
    letters = year_end_letters(ye.reset_index(drop=True), people, fy=2025, letter_date=date(2026, 4, 20))
    texts = {p.stem.split("_")[1]: " ".join(p.read_text(encoding="utf-8").split())
             for p in write_letters(tmp_path / "l", letters) if p.suffix == ".txt"}
    assert ("The amount to repay is £270.00. This is the council's share of the £300.00 held back: the other £30.00 "
            "is the share of your own client contributions and is not asked back.") in texts["A"]
    # no contributions paid in: all of it is council funding and the letter does not speak of contributions
    assert "The amount to repay is £300.00. Please repay it by" in texts["B"] and "contribution" not in texts["B"]
    assert "6.5 weeks of funding" in texts["A"]


# ------------------------------------------------------------------------------- weeks of funding
def test_weeks_of_funding_to_one_place_half_up():
    # £625.00 of a £5,200.00 year (£100.00 a week) is 6.25 weeks -> 6.3 (half-up)
    assert weeks_of_funding(62_500, 520_000) == Decimal("6.3")
    assert format_weeks(weeks_of_funding(62_500, 520_000)) == "6.3 weeks of funding"
    # £2,163.46 of £18,000.00: 2,163.46 x 52 / 18,000 = 6.2499... -> 6.2
    assert weeks_of_funding(216_346, 1_800_000) == Decimal("6.2")
    assert format_weeks(weeks_of_funding(10_000, 520_000)) == "1.0 week of funding"
    assert weeks_of_funding(10_000, 0) is None and format_weeks(None) == ""


def test_ac_surplus_message_gives_the_excess_in_weeks(tmp_path):
    # annual £5,200.00: limit 10% (£520.00) + 8 weeks (£800.00) = £1,320.00; balance £1,945.00 -> £625.00
    # over, 6.25 weeks -> 6.3
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001").line("R001", "L1", "day_activities", "5200.00")
    c.statement("R001", "2025-05-01", "2025-05-31", "1945.00")
    f = c.audit("2025-05", only=["AC-SURPLUS"])
    assert rows_of(f, "AC-SURPLUS") == [("R001", 62_500)]
    assert "by £625.00 (6.3 weeks of funding)" in f.iloc[0].message


# ------------------------------------------------------------------------------- the sample council
@pytest.fixture(scope="module")
def sample_year_end(tmp_path_factory):
    from dpaudit import pipeline

    root = tmp_path_factory.mktemp("contrib")
    data = root / "data"
    shutil.copytree(SAMPLE, data)
    for p in ("2026-01", "2026-02", "2026-03"):
        pipeline.run_period(data, p, reports_dir=root / "r", db_path=root / "db.duckdb", officer="Prep A")
    pipeline.run_year_end(data, 2025, reports_dir=root / "r", db_path=root / "db.duckdb")
    return root / "r"


def test_sample_full_payer_is_clean_and_short_payer_is_found(sample_year_end):
    got = pd.concat([pd.read_csv(sample_year_end / p / "exceptions.csv", dtype=str, keep_default_na=False)
                     for p in ("2026-01", "2026-02", "2026-03")])
    assert got[got["recipient_id"] == "R00001"].empty  # 13 weekly contributions, no AC-NON-COUNCIL-CREDIT
    short = got[got["rule_id"] == "AC-CONTRIBUTION-SHORT"]
    # R00011: £50.00 due monthly from 15 January, £40.00 paid each month -> £10.00, £20.00, £30.00
    assert sorted(zip(short["period"], short["recipient_id"], short["amount"])) == [
        ("2026-01", "R00011", "10.00"), ("2026-02", "R00011", "20.00"), ("2026-03", "R00011", "30.00")]
    recs = pd.read_csv(sample_year_end / "2026-02" / "recommendations.csv", dtype=str).set_index("recipient_id")
    assert "AC-CONTRIBUTION-SHORT" in recs.loc["R00011", "grounds"] and recs.loc["R00011", "action"] == "REVIEW"


def test_sample_year_end_split_from_the_sample_files(sample_year_end):
    from dpaudit.core.money import parse_pence

    ye = pd.read_csv(sample_year_end / "FY2025" / "year_end.csv", dtype=str, keep_default_na=False).set_index("recipient_id")
    sched = pd.read_csv(SAMPLE / "reference" / "payment_schedule.csv", dtype=str)
    for rid, contributions in (("R00001", 13 * 2000), ("R00011", 3 * 4000)):  # what the families paid in
        council = sum(parse_pence(a) for a in sched.loc[sched["recipient_id"] == rid, "amount"])
        r = ye.loc[rid]
        held = parse_pence(r.surplus) - parse_pence(r.carry_forward)
        share = (held * council * 2 + (council + contributions)) // (2 * (council + contributions))  # half-up
        assert (parse_pence(r.council_in), parse_pence(r.contributions_in)) == (council, contributions)
        assert parse_pence(r.repayment) == share and parse_pence(r.family_share) == held - share > 0
        annual = parse_pence(r.annual_dp_value)
        weeks = (parse_pence(r.surplus) * 520 * 2 + annual) // (2 * annual)  # tenths, half-up
        assert r.surplus_weeks == f"{weeks // 10}.{weeks % 10}" and f"({r.surplus_weeks} weeks of funding)" in r.reasons
    assert ye.loc["R00008", "family_share"] == "0.00"  # no contributions: the council recovers all
