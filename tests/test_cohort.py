"""Cohort checks across all accounts (CO-*, docs/rules.md "Cohort checks", issue 18).

Every expectation below is worked out by hand from the agreed definitions (defs.md "Cohort
checks"): the arithmetic is written out in the comments and the test, never taken from the code.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from builders import Council
from dpaudit.audit import shard
from dpaudit.audit.rules import RULES, STAGE, registry, run_cohort_rules, run_rules

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
RIDS = ["R001", "R002", "R003", "R004", "R005"]


def council(tmp_path, n: int = 4) -> Council:
    """``n`` recipients with DP lines all year (May 2025 onwards audited), no other data."""
    c = Council(tmp_path / "t.duckdb")
    for rid in RIDS[:n]:
        c.recipient(rid, holder=f"Parent {rid}").line(rid, "L1", "personal_assistant", "9000.00").line(
            rid, "L2", "agency_care", "20000.00")
    return c


def staff(c: Council, rid: str, eid: str, name: str, ni: str | None, payee: str | None = None) -> None:
    c.employee(rid, eid, name, payee_names=payee)
    c.rows["employees"][-1]["ni_number"] = ni


def slip(c: Council, rid: str, eid: str, pay: str, start: str, end: str, hours: str, gross: str = "100.00") -> None:
    c.payslip(rid, eid, pay, gross, gross, hours=hours)
    c.rows["payslips"][-1].update(period_start=pd.Timestamp(start).date(), period_end=pd.Timestamp(end).date())


def cohort(c: Council, period: str, rule: str) -> pd.DataFrame:
    """Write the tables, load the month and run one cohort rule (as the cohort stage does)."""
    c.audit(period, only=[])  # writes the store and loads the month: no recipient rule runs
    return run_cohort_rules(c.last_data, only=[rule])


# ---- the registry: stages --------------------------------------------------------------------
def test_cohort_rules_never_run_on_a_shard_and_run_in_the_cohort_stage(tmp_path):
    c = council(tmp_path)
    for rid in RIDS[:4]:
        staff(c, rid, "E1", "Mary Jones", "QQ123456C", payee="M JONES")
        c.txn(rid, "2025-05-09", "-100.00", "M JONES")
    assert {r: STAGE[r] for r in RULES if r.startswith("CO-")} == {
        "CO-SHARED-PAYEE": "cohort", "CO-DUPLICATE-INVOICE": "cohort", "CO-PROVIDER-PATTERN": "cohort"}
    assert STAGE["SP-PROHIBITED"] == "recipient" and STAGE["DQ-ROW-REJECTED"] == "recipient"
    # named or not, the recipient stage (what a shard runs) leaves the cohort rules out
    on_shard = c.audit("2025-05", only=["CO-SHARED-PAYEE", "PY-NO-PAYSLIP"])
    assert "CO-SHARED-PAYEE" not in set(on_shard["rule_id"]) and "PY-NO-PAYSLIP" in set(on_shard["rule_id"])
    assert "CO-SHARED-PAYEE" not in set(run_rules(c.last_data)["rule_id"])
    got = run_cohort_rules(c.last_data)
    assert sorted(got.loc[got["rule_id"] == "CO-SHARED-PAYEE", "recipient_id"]) == RIDS[:4]
    assert not set(got["rule_id"]) - {"CO-SHARED-PAYEE", "CO-DUPLICATE-INVOICE", "CO-PROVIDER-PATTERN"}


def test_a_new_cohort_rule_runs_without_changing_the_engine(tmp_path, monkeypatch):
    """A cohort rule is one registered function (and its policy section): the month's audit runs
    it once on the whole month, after the shards; a recipient-stage rule of the same shape per shard."""
    from dpaudit.core.policy import load_policy

    seen = []

    def count_accounts(data):
        seen.append(sorted(data.recipients["recipient_id"]))
        return pd.DataFrame([{"recipient_id": "COUNCIL", "key": data.period,
                              "message": f"{len(data.recipients)} accounts"}])

    monkeypatch.setattr(registry, "RULES", dict(registry.RULES))
    monkeypatch.setattr(registry, "STAGE", dict(registry.STAGE))
    registry.rule("CO-TEST-COUNT", stage="cohort")(count_accounts)
    with pytest.raises(ValueError, match="stage"):
        registry.rule("CO-TEST-BAD", stage="month")
    pol = tmp_path / "p.toml"
    pol.write_text('[rules.CO-TEST-COUNT]\nseverity = "info"\nclause = "audit practice"\nenabled = true\n')
    c = council(tmp_path)
    c.audit("2025-05", only=[], policy=load_policy(pol))
    data = c.last_data
    parts = shard.split(data, 2)
    assert len(parts) == 2
    findings, *_ = shard.audit_month(data, [shard.audit_shard(p) for p in parts])
    assert seen == [RIDS[:4]]  # once, on the whole month: never on a shard
    # the whole month is not categorised again: the cohort rules read what the shards attributed
    assert "categorised" not in data.cache and {"co_employee_debits", "co_provider_samples"} <= set(data.cache)
    x = findings[findings["rule_id"] == "CO-TEST-COUNT"]
    assert x["message"].tolist() == ["4 accounts"] and x["recipient_id"].tolist() == ["COUNCIL"]


# ---- CO-SHARED-PAYEE ----------------------------------------------------------------------------
def test_person_paid_from_more_than_three_accounts(tmp_path):
    c = council(tmp_path, 5)
    # one NI number written four ways, names spelt three ways: one person
    for rid, name, ni, pay in [("R001", "Mary Jones", "QQ123456C", "-100.00"), ("R002", "Mary Jones", "qq 12 34 56 c", "-120.00"),
                               ("R003", "Mary A Jones", "QQ 123456 C", "-80.00"), ("R004", "M. Jones-Smith", "QQ123456C", "-75.50")]:
        staff(c, rid, "E1", name, ni, payee="M JONES")
        c.txn(rid, "2025-05-09", pay, "M JONES")
    c.txn("R001", "2025-05-23", "-100.00", "M JONES")  # R001 pays her twice: 200.00 in the month
    staff(c, "R005", "E1", "Mary Jones", "QQ999999A", payee="M JONES")  # a namesake: another person
    c.txn("R005", "2025-05-09", "-60.00", "M JONES")
    c.txn("R004", "2025-04-20", "-75.50", "M JONES")  # April: not the period's
    f = cohort(c, "2025-05", "CO-SHARED-PAYEE")
    # 4 accounts > co_max_accounts 3: one finding per account, amount = its debits to her in May
    assert dict(zip(f["recipient_id"], f["amount_pence"])) == {"R001": 20000, "R002": 12000, "R003": 8000, "R004": 7550}
    assert set(f["severity"]) == {"medium"} and set(f["clause"]) == {"audit practice"}
    r2 = f[f["recipient_id"] == "R002"].iloc[0]["message"]
    assert "4 direct payment accounts" in r2 and "R001, R003, R004" in r2 and "R005" not in r2
    assert "timesheets" in r2  # what clears it
    assert not re.search(r"\d{8}", "".join(f["message"]))  # never an account number
    # three accounts is not more than three
    c.rows["transactions"] = [t for t in c.rows["transactions"] if t["recipient_id"] != "R004"]
    assert cohort(c, "2025-05", "CO-SHARED-PAYEE").empty


def _two_jobs(c: Council, name1: str, ni1, name2: str, ni2) -> None:
    """The same week's payslips at R001 (40 h over Mon 5 - Sun 11 May 2025) and R002 (42 h)."""
    staff(c, "R001", "E1", name1, ni1)
    staff(c, "R002", "E7", name2, ni2)
    slip(c, "R001", "E1", "2025-05-12", "2025-05-05", "2025-05-11", "40")
    slip(c, "R002", "E7", "2025-05-13", "2025-05-05", "2025-05-11", "42")


@pytest.mark.parametrize("name1,ni1,name2,ni2,same", [
    ("Mary Jones", "QQ123456C", "Maria Jonas", "qq123456c", True),     # the NI number decides
    ("Mary Jones", "QQ123456C", "Mary Jones", "QQ654321A", False),     # same name, two NI numbers: two people
    ("Mary-Jane  Smith", None, "MARY JANE SMITH", "", True),           # no NI number: the normalised name
    ("Mary Smith", None, "Mary Smyth", None, False),
    ("Mary Smith", "QQ123456C", "Mary Smith", None, False),            # an NI number and a name are two identities
])
def test_ni_number_or_name_is_the_person(tmp_path, name1, ni1, name2, ni2, same):
    c = council(tmp_path, 2)
    _two_jobs(c, name1, ni1, name2, ni2)
    f = cohort(c, "2025-05", "CO-SHARED-PAYEE")
    # 40 + 42 = 82 hours in the week of Monday 5 May > 78, when both payslips are one person's
    assert sorted(f["recipient_id"]) == (["R001", "R002"] if same else [])
    if same:
        m = f[f["recipient_id"] == "R001"].iloc[0]["message"]
        assert "82.0 hours in the week of Monday 05/05/2025" in m and "40.0 of them from this account" in m
        assert "R002" in m
        assert f["amount_pence"].tolist() == [0, 0]  # no wage paid in May from either account


def test_payslip_hours_spread_over_the_weeks_they_cover(tmp_path):
    """February 2026 starts on a Sunday: its weeks begin on Mondays 26 January, 2, 9, 16 and 23
    February.  R001: 70 hours over Thu 29 January - Wed 11 February (14 days, 5 a day): 20 hours in
    the week of 26 January (29, 30, 31 Jan, 1 Feb), 35 in the week of 2 February, 15 in the week of 9
    February.  R002: 44 hours over 2-8 February.  R003: 60 hours over 26 January - 1 February."""
    c = council(tmp_path, 3)
    for rid in ("R001", "R002", "R003"):
        staff(c, rid, "E1", "Dan Cole", "AB123456C", payee="D COLE")
    # pay dates up to 7 February: January's audit reads them too (payslip_window_days after its end)
    slip(c, "R001", "E1", "2026-02-06", "2026-01-29", "2026-02-11", "70")
    slip(c, "R002", "E1", "2026-02-09", "2026-02-02", "2026-02-08", "44")
    slip(c, "R003", "E1", "2026-02-03", "2026-01-26", "2026-02-01", "60")
    c.txn("R002", "2026-02-09", "-572.00", "D COLE")
    f = cohort(c, "2026-02", "CO-SHARED-PAYEE")
    by = f.set_index("recipient_id")
    # week of 26 Jan: 20 + 60 = 80 > 78 (R001, R003); week of 2 Feb: 35 + 44 = 79 > 78 (R001, R002)
    assert sorted(f["recipient_id"]) == ["R001", "R002", "R003"]
    assert by.loc["R002", "amount_pence"] == 57200 and by.loc["R001", "amount_pence"] == 0
    assert "79.0 hours in the week of Monday 02/02/2026 (44.0 of them" in by.loc["R002", "message"]
    assert "80.0 hours in the week of Monday 26/01/2026 (60.0 of them" in by.loc["R003", "message"]
    # R001 is in both weeks: its message gives the worse one and says there was another
    assert "80.0 hours in the week of Monday 26/01/2026 (20.0 of them" in by.loc["R001", "message"]
    assert "1 other week" in by.loc["R001", "message"]
    # the week of 26 January has a day (1 February) in February and five in January: judged in both
    jan = cohort(c, "2026-01", "CO-SHARED-PAYEE")
    assert sorted(jan["recipient_id"]) == ["R001", "R003"]


def test_exactly_78_hours_is_not_over(tmp_path):
    c = council(tmp_path, 3)
    for rid in ("R001", "R002"):
        staff(c, rid, "E1", "Dan Cole", "AB123456C")
    slip(c, "R001", "E1", "2026-02-13", "2026-01-29", "2026-02-11", "70")   # 35 in the week of 2 Feb
    slip(c, "R002", "E1", "2026-02-09", "2026-02-02", "2026-02-08", "43")   # 35 + 43 = 78: not more
    assert cohort(c, "2026-02", "CO-SHARED-PAYEE").empty
    # one account alone over the limit is no cohort matter (it needs two or more accounts)
    staff(c, "R003", "E1", "Eve Hart", "CD123456A")
    slip(c, "R003", "E1", "2026-02-09", "2026-02-02", "2026-02-08", "90")
    assert cohort(c, "2026-02", "CO-SHARED-PAYEE").empty


# ---- CO-DUPLICATE-INVOICE ----------------------------------------------------------------------
def _inv(c: Council, rid: str, inv: str, date: str, supplier: str, amount: str, *, period: str | None = None,
         file: str | None = None) -> None:
    c.invoice(rid, inv, date, supplier, amount)
    c.rows["invoices"][-1].update(period=period or date[:7], file_sha256=file or f"{rid}-{period or date[:7]}")


def test_invoice_number_seen_in_another_account(tmp_path):
    c = council(tmp_path).provider("Acme Care Ltd", aliases="ACME HOMECARE")
    _inv(c, "R001", "INV-0042", "2025-04-10", "Acme Care Ltd", "245.00")
    _inv(c, "R002", "inv 0042", "2025-05-05", "ACME HOMECARE", "245.00")    # the same number, the alias
    _inv(c, "R003", "INV 0042", "2025-05-03", "Acme Care", "250.00")         # earlier in May than R002's
    _inv(c, "R004", "INV-0042", "2025-05-04", "Zenith Care", "245.00")       # another supplier: no match
    _inv(c, "R004", "INV-0043", "2025-05-04", "Acme Care Ltd", "245.00")     # another number
    f = cohort(c, "2025-05", "CO-DUPLICATE-INVOICE")
    # order: R001 (10 Apr, the first: not flagged), R003 (3 May), R002 (5 May)
    assert dict(zip(f["recipient_id"], f["amount_pence"])) == {"R003": 25000, "R002": 24500}
    m = f.set_index("recipient_id").loc["R002", "message"]
    assert "inv 0042" in m and "R001's evidence for 2025-04" in m and "INV-0042" in m and "credit note" in m
    assert set(f["severity"]) == {"medium"}
    assert cohort(c, "2025-04", "CO-DUPLICATE-INVOICE").empty  # the first row, in its own month


def test_invoice_repeats_within_one_account(tmp_path):
    c = council(tmp_path, 2)
    _inv(c, "R001", "A-7", "2025-05-02", "Zenith Care", "90.00", file="f1")
    _inv(c, "R001", "a 7", "2025-05-03", "Zenith Care", "90.00", file="f1")   # one file: not a repeat
    _inv(c, "R001", "A7", "2025-05-20", "Zenith Care", "90.00", file="f2")    # another file of the month: a repeat
    _inv(c, "R001", "A.7", "2025-06-02", "Zenith Care", "90.00", period="2025-06")  # June's inbox
    may = cohort(c, "2025-05", "CO-DUPLICATE-INVOICE")
    assert may["amount_pence"].tolist() == [9000] and "this account's evidence for 2025-05" in may["message"].iloc[0]
    assert len(cohort(c, "2025-06", "CO-DUPLICATE-INVOICE")) == 1


def test_invoice_without_a_number_compares_supplier_amount_and_date(tmp_path):
    c = council(tmp_path, 3)
    _inv(c, "R001", "--", "2025-05-02", "Zenith Care", "90.00")
    _inv(c, "R002", "#", "2025-05-02", "ZENITH CARE LTD", "90.00")    # same supplier, amount and date
    _inv(c, "R003", "-", "2025-05-02", "Zenith Care", "91.00")        # another amount
    f = cohort(c, "2025-05", "CO-DUPLICATE-INVOICE")
    assert f["recipient_id"].tolist() == ["R002"] and "with no number" in f["message"].iloc[0]


def test_an_invoice_sent_later_is_not_judged_in_an_earlier_month(tmp_path):
    """Only invoices sent up to the audited month count, so re-running a month gives what it gave."""
    c = council(tmp_path, 2)
    _inv(c, "R001", "Q-1", "2025-05-20", "Zenith Care", "90.00")
    _inv(c, "R002", "Q-1", "2025-05-10", "Zenith Care", "90.00", period="2025-06")  # dated earlier, sent in June
    assert cohort(c, "2025-05", "CO-DUPLICATE-INVOICE").empty
    june = cohort(c, "2025-06", "CO-DUPLICATE-INVOICE")
    # by invoice date R002's (10 May) is the first: R001's row is the repeat, in its own month (May)
    assert june.empty


# ---- CO-PROVIDER-PATTERN -------------------------------------------------------------------------
def benford(counts: list[int]) -> float:
    n = sum(counts)
    return sum((o - n * math.log10(1 + 1 / d)) ** 2 / (n * math.log10(1 + 1 / d)) for d, o in zip(range(1, 10), counts))


def _pay(c: Council, amounts: list[str], payee: str = "ACME CARE LTD", month: str = "2025-05") -> None:
    for k, a in enumerate(amounts):
        c.txn(RIDS[k % 2], f"{month}-{1 + k % 28:02d}", f"-{a}", payee, ttype="PAYMENT")


def test_first_digits_against_benford(tmp_path):
    c = council(tmp_path, 2).provider("Acme Care Ltd", aliases="ACME HOMECARE")
    # 60 payments: 30 start with 5, 10 each with 1, 2 and 3 (none a multiple of £50), from £20.40 to
    # £19,000.39: more than the 100 times from least to greatest that Benford's test needs
    amounts = [f"5{k % 10}.{k:02d}" for k in range(1, 31)] + [f"1{k}000.3{k}" for k in range(10)] \
        + [f"2{k}.4{k}" for k in range(10)] + [f"3{k}.6{k}" for k in range(10)]
    _pay(c, amounts[:30], "ACME HOMECARE")   # an alias counts as the provider
    _pay(c, amounts[30:])
    _pay(c, ["9.99"] * 5)                          # below £10.00: not in the sample
    _pay(c, ["55.55"], month="2025-03")            # last financial year
    c.txn("R001", "2025-06-03", "-44.44", "ACME CARE LTD")  # after the period (still loaded)
    f = cohort(c, "2025-05", "CO-PROVIDER-PATTERN")
    chi2 = benford([10, 10, 10, 0, 30, 0, 0, 0, 0])
    assert chi2 > 20.09
    assert len(f) == 1
    x = f.iloc[0]
    total = sum(round(float(a) * 100) for a in amounts)
    assert (x["recipient_id"], x["counterparty"], x["amount_pence"], x["severity"]) == (
        "COUNCIL", "Acme Care Ltd", total, "low")
    assert f"chi-square {chi2:.2f} with n = 60" in x["message"]
    assert "60 payments from 2 accounts" in x["message"] and "0 of 60" in x["message"]
    assert "from £20.40 to £19,000.39" in x["message"]


def test_benford_needs_amounts_spread_over_two_orders_of_magnitude(tmp_path):
    """The same skewed first digits within £10-£60 (least to greatest under 100 times): a fixed-price
    provider's amounts cannot follow Benford's law, so the test does not apply."""
    c = council(tmp_path, 2).provider("Acme Care Ltd")
    amounts = [f"5{k % 10}.{k:02d}" for k in range(1, 31)] + [f"1{k}.3{k}" for k in range(10)] \
        + [f"2{k}.4{k}" for k in range(10)] + [f"3{k}.6{k}" for k in range(10)]
    _pay(c, amounts)
    assert benford([10, 10, 10, 0, 30, 0, 0, 0, 0]) > 20.09
    assert cohort(c, "2025-05", "CO-PROVIDER-PATTERN").empty
    # one payment of 100 x the least (£10.30 x 100 = £1,030.00): now it applies
    c = council(tmp_path / "b", 2).provider("Acme Care Ltd")
    _pay(c, amounts[:-1] + ["1030.00"])
    assert len(cohort(c, "2025-05", "CO-PROVIDER-PATTERN")) == 1


def test_a_provider_pattern_is_raised_in_the_first_month_it_shows_and_not_again_that_year(tmp_path):
    def run(tmp, may: list[str], june: list[str], period: str) -> pd.DataFrame:
        c = council(tmp, 2).provider("Acme Care Ltd")
        _pay(c, may)
        _pay(c, june, month="2025-06")
        return cohort(c, period, "CO-PROVIDER-PATTERN")

    rounds = [f"{50 * (k + 1)}.00" for k in range(20)]
    odd = [f"{12 + k}.34" for k in range(20)]
    assert len(run(tmp_path / "a", rounds, rounds, "2025-05")) == 1          # fails in May: raised in May
    assert run(tmp_path / "b", rounds, rounds, "2025-06").empty              # still failing in June: not again
    assert run(tmp_path / "c", odd[:10], rounds[:5], "2025-05").empty        # May: 0 of 10, too few
    # June to date: 20 of 35 round (57%) >= 50%, first failing month: raised in June
    f = run(tmp_path / "d", odd[:15], rounds, "2025-06")
    assert len(f) == 1 and "20 of 35" in f.iloc[0]["message"]
    assert run(tmp_path / "e", odd[:15], [], "2025-06").empty                # no payment in June: nothing new


def test_benford_below_the_minimum_sample_or_close_to_the_law(tmp_path):
    c = council(tmp_path, 2).provider("Acme Care Ltd")
    fifty_nine = [f"5{k % 10}.{k:02d}" for k in range(1, 60)]
    _pay(c, fifty_nine)
    assert cohort(c, "2025-05", "CO-PROVIDER-PATTERN").empty  # n = 59 < 60, however skewed
    c = council(tmp_path / "b", 2).provider("Acme Care Ltd")
    # 60 payments close to Benford's shares: 18 11 8 6 5 4 3 3 2
    counts = [18, 11, 8, 6, 5, 4, 3, 3, 2]
    _pay(c, [f"{d}{k % 10}.1{k % 10}" for d, n in zip(range(1, 10), counts) for k in range(n)])
    assert benford(counts) < 20.09
    assert cohort(c, "2025-05", "CO-PROVIDER-PATTERN").empty


@pytest.mark.parametrize("n,round_n,fires", [(20, 10, True), (20, 9, False), (19, 19, False), (24, 12, True)])
def test_round_sums(tmp_path, n, round_n, fires):
    c = council(tmp_path, 2).provider("Acme Care Ltd")
    amounts = [f"{50 * (k + 1)}.00" for k in range(round_n)] + [f"{12 + k}.34" for k in range(n - round_n)]
    _pay(c, amounts)
    f = cohort(c, "2025-05", "CO-PROVIDER-PATTERN")
    assert len(f) == (1 if fires else 0)
    if fires:
        share = round_n / n  # 0.5 is enough (at least co_round_share)
        assert f"{round_n} of {n} ({share:.1%}) are whole multiples of £50.00" in f.iloc[0]["message"]
        assert f"Too few for the first-digit test: n = {n}" in f.iloc[0]["message"]
        assert f.iloc[0]["amount_pence"] == sum(round(float(a) * 100) for a in amounts)


# ---- the bundled sample council, end to end ---------------------------------------------------
@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from dpaudit.pipeline import run_period

    out = tmp_path_factory.mktemp("cohort-sample")
    shutil.copytree(SAMPLE, out / "data")
    for p in ("2026-01", "2026-02", "2026-03"):
        run_period(out / "data", p, reports_dir=out / "reports", db_path=out / "db.duckdb", officer="Prep")
    return out


def _csv(run, period, name):
    return pd.read_csv(run / "reports" / period / name, dtype=str, keep_default_na=False)


def test_sample_cohort_findings(sample_run):
    co = {p: _csv(sample_run, p, "exceptions.csv").query("rule_id.str.startswith('CO-')", engine="python")
          for p in ("2026-01", "2026-02", "2026-03")}
    got = {p: sorted(zip(f["recipient_id"], f["rule_id"], f["amount"])) for p, f in co.items()}
    # January: Lee Carver, 42 h (R00010, 5-11 Jan) + 76 x 7/14 = 38 h (R00011, 1-14 Jan) = 80 h that week;
    # wages 42 x £13.00 = £546.00 and 76 x £13.00 = £988.00
    assert got["2026-01"] == [("R00010", "CO-SHARED-PAYEE", "546.00"), ("R00011", "CO-SHARED-PAYEE", "988.00")]
    # February: Dawn Hardy paid 12 x £13.00 = £156.00 by four accounts; the payroll invoice INV-0042
    # again at R00006; PEAK ADVENTURE CENTRE paid 22 times so far, 17 of them multiples of £50:
    # January 1,274.90 + February 1,715.00 = £2,989.90
    assert got["2026-02"] == [("COUNCIL", "CO-PROVIDER-PATTERN", "2989.90"),
                              ("R00003", "CO-SHARED-PAYEE", "156.00"), ("R00004", "CO-SHARED-PAYEE", "156.00"),
                              ("R00005", "CO-SHARED-PAYEE", "156.00"), ("R00006", "CO-DUPLICATE-INVOICE", "20.00"),
                              ("R00006", "CO-SHARED-PAYEE", "156.00")]
    # March: 28 payments (21 round): still a pattern, but raised once a financial year (in February)
    assert got["2026-03"] == []
    feb = co["2026-02"].set_index(["recipient_id", "rule_id"])["message"]
    assert "R00003, R00004, R00005" in feb[("R00006", "CO-SHARED-PAYEE")]
    assert "17 of 22 (77.3%)" in feb[("COUNCIL", "CO-PROVIDER-PATTERN")]
    assert "R00005's evidence for 2026-01 (invoice INV-0042" in feb[("R00006", "CO-DUPLICATE-INVOICE")]
    assert "80.0 hours in the week of Monday 05/01/2026" in co["2026-01"]["message"].iloc[0]
    # the near miss (BRABYNS RIDING CENTRE, 9 round sums) never fires; no account number anywhere
    every = pd.concat(co.values())
    assert not every["counterparty"].str.contains("BRABYNS").any()
    accounts = pd.read_csv(SAMPLE / "reference" / "recipients.csv", dtype=str)["account_number"]
    text = " ".join(every["message"]) + " ".join(every["counterparty"])
    assert not re.search(r"\d{8,}", text) and not any(a in text for a in accounts)


def test_sample_council_findings_make_no_recommendation_row(sample_run):
    for p in ("2026-01", "2026-02", "2026-03"):
        recs = _csv(sample_run, p, "recommendations.csv")
        assert "COUNCIL" not in set(recs["recipient_id"])
        assert recs["recipient_id"].is_unique and len(recs) == (14 if p == "2026-01" else 13)
    feb = _csv(sample_run, "2026-02", "recommendations.csv").set_index("recipient_id")
    # a medium cohort finding is a ground to review
    assert feb.loc["R00005", "action"] == "REVIEW" and "CO-SHARED-PAYEE" in feb.loc["R00005", "grounds"]


def test_cohort_findings_alone_give_review_never_repay(tmp_path):
    from dpaudit.core.policy import load_policy
    from dpaudit.decide.recommend import recommend_period
    from dpaudit.store import insert_df, open_store

    c = council(tmp_path, 3)
    c.audit("2025-05", only=[])
    rows = [("R001", "CO-SHARED-PAYEE", "medium", 15600), ("R002", "CO-DUPLICATE-INVOICE", "medium", 24500),
            ("COUNCIL", "CO-PROVIDER-PATTERN", "low", 298990)]
    f = pd.DataFrame([{"exception_id": f"x{k}", "run_id": "r", "period": "2025-05", "recipient_id": rid, "rule_id": rule,
                       "severity": sev, "amount_pence": amt, "message": "m", "clause": "audit practice"}
                      for k, (rid, rule, sev, amt) in enumerate(rows)])
    with open_store(c.path) as con:
        insert_df(con, "findings", f)
        recs = recommend_period(con, "2025-05", load_policy(), prepared_by="Prep", write=False).set_index("recipient_id")
    assert list(recs.index) == ["R001", "R002", "R003"]  # no row for COUNCIL
    assert recs["action"].tolist() == ["REVIEW", "REVIEW", "NONE"]
    assert recs["amount_pence"].tolist() == [0, 0, 0]
    assert recs.loc["R001", "grounds"] == "CO-SHARED-PAYEE" and recs.loc["R001", "clauses"] == "audit practice"


def test_sample_workbook_names_the_council_wide_finding(sample_run):
    import openpyxl

    wb = openpyxl.load_workbook(sample_run / "reports" / "2026-02" / "exceptions.xlsx", read_only=True)
    rows = list(wb["Exceptions"].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and "Recipient" in r and "Rule" in r)
    header = rows[at]
    council = [dict(zip(header, r)) for r in rows[at + 1:] if r and r[header.index("Recipient")] == "COUNCIL"]
    assert len(council) == 1
    assert council[0]["Name"] == "All accounts (council-wide check)" and council[0]["Rule"] == "CO-PROVIDER-PATTERN"
    # on the Summary, the provider's sample is no money at stake (its payments are the families')
    summary = [r for r in wb["Summary"].iter_rows(values_only=True) if r and len(r) > 1 and r[1] == "COUNCIL"]
    assert len(summary) == 1 and str(summary[0][0]).startswith("All accounts") and summary[0][7] in (0, None)


def test_cohort_thresholds_come_from_the_policy(tmp_path):
    from dpaudit.core.policy import PolicyError, load_policy

    bad = tmp_path / "bad.toml"
    for text, key in (('[cohort]\nco_round_share = "1.5"\n', "cohort.co_round_share"),
                      ('[cohort]\nco_round_unit = "fifty"\n', "cohort.co_round_unit"),
                      ('[cohort]\nco_max_accounts = "3"\n', "cohort.co_max_accounts")):
        bad.write_text(text)
        with pytest.raises(PolicyError, match=key):
            load_policy(bad)
    two = tmp_path / "two.toml"
    two.write_text("[cohort]\nco_max_accounts = 2\n")
    c = council(tmp_path, 3)
    for rid in RIDS[:3]:
        staff(c, rid, "E1", "Mary Jones", "QQ123456C", payee="M JONES")
        c.txn(rid, "2025-05-09", "-100.00", "M JONES")
    assert cohort(c, "2025-05", "CO-SHARED-PAYEE").empty  # 3 accounts: not more than the default 3
    c.audit("2025-05", only=[], policy=load_policy(two))
    assert len(run_cohort_rules(c.last_data, only=["CO-SHARED-PAYEE"])) == 3
