"""Cross-account (cohort) cases of the synthetic councils and their truth (CO-* rules, issue 18).

Two parts, both written from the agreed definitions (docs/rules.md "Cohort checks"), never by
calling the engine:

- :class:`ProviderSamples` watches every debit a :class:`~dpaudit.synth.council.CouncilWriter`
  writes and derives the CO-PROVIDER-PATTERN truth of the council: per providers.csv provider,
  its debits of at least £10.00 from all accounts, financial year to date, tested against
  Benford's law and for round sums.  Any council the generator writes gets this truth (its
  routine purchases are not Benford-distributed, so the first-digit test fires on providers with
  60 or more payments), recipient ``COUNCIL``.
- :func:`plant_sample_cohort` plants the sample council's cases (``sample_data/``): one personal
  assistant (one NI number, written three ways) employed and paid by four families in
  February; one whose payslips from two families add up to 80 hours in a January week (no NI
  number: the same name); one payroll invoice number paid from two accounts; a provider paid
  round sums from six accounts (and a near miss below the minimum sample).  Each planted debit
  is covered by a scheduled council top-up the same month, so no balance, contingency or
  overdraft figure of the sample moves; no case draws from a recipient's random generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from dpaudit.core.dates import financial_year_of
from dpaudit.synth.formats import pounds
from dpaudit.synth.sim import COUNCIL_NAME, EXTRA_PROVIDERS, SUPPLIERS, Employee, Month, RecipientSim

# the policy defaults of [cohort] (resources/policy.default.toml), as the generator's truth uses them
SAMPLE_MIN_PENCE = 1000
BENFORD_MIN_SAMPLE = 60
BENFORD_CHI2 = 20.09
BENFORD_MIN_SPAN = 100  # the first-digit test applies only to amounts spread over two orders of magnitude
ROUND_UNIT_PENCE = 5000
ROUND_SHARE = 0.5
ROUND_MIN_SAMPLE = 20
MAX_ACCOUNTS = 3
MAX_WEEKLY_HOURS = 78
COUNCIL = "COUNCIL"


@dataclass
class _Tally:
    n: int = 0
    total: int = 0
    rounds: int = 0
    digits: list[int] = field(default_factory=lambda: [0] * 9)
    accounts: set[str] = field(default_factory=set)
    least: int | None = None
    greatest: int = 0

    def add(self, other: "_Tally") -> None:
        if other.least is not None:
            self.least = other.least if self.least is None else min(self.least, other.least)
        self.greatest = max(self.greatest, other.greatest)
        self.n += other.n
        self.total += other.total
        self.rounds += other.rounds
        self.digits = [a + b for a, b in zip(self.digits, other.digits)]
        self.accounts |= other.accounts


def benford_chi2(digits: list[int]) -> float:
    """sum over d = 1..9 of (obs_d - exp_d)^2 / exp_d, exp_d = n x log10(1 + 1/d)."""
    n = sum(digits)
    return sum((o - n * math.log10(1 + 1 / d)) ** 2 / (n * math.log10(1 + 1 / d)) for d, o in zip(range(1, 10), digits))


class ProviderSamples:
    """Per (period, payee) tallies of the debits of at least £10.00 that statements show; the
    CO-PROVIDER-PATTERN truth once the providers list is known (:meth:`truth`)."""

    def __init__(self) -> None:
        self.by: dict[tuple[str, str], _Tally] = {}
        self.periods: set[str] = set()
        self.known = {n for names in SUPPLIERS.values() for n in names} | {
            n for names in EXTRA_PROVIDERS.values() for n in names}

    def add(self, sim: RecipientSim) -> None:
        own = self.known | {n for ln in sim.p.lines for n in ln.providers}
        for mo in sim.months:
            self.periods.add(mo.period)
            if mo.missing:  # no statement: the audit sees none of the month's debits
                continue
            for t in mo.txns:
                if t.amount > -SAMPLE_MIN_PENCE or t.payee not in own:
                    continue
                tally = self.by.setdefault((mo.period, t.payee), _Tally())
                amount = -t.amount
                tally.n += 1
                tally.total += amount
                tally.rounds += amount % ROUND_UNIT_PENCE == 0
                tally.digits[int(str(amount)[0]) - 1] += 1
                tally.least = amount if tally.least is None else min(tally.least, amount)
                tally.greatest = max(tally.greatest, amount)
                tally.accounts.add(sim.p.rid)

    def truth(self, providers: set[str]) -> list[list[str]]:
        """Ground-truth rows (``period, recipient_id, rule_id, txn_date, amount, counterparty, note``)."""
        rows = []
        for name in sorted(providers):
            cum: dict[int, _Tally] = {}
            raised: set[int] = set()  # financial years in which the provider was raised: once a year
            for period in sorted(self.periods):
                fy = financial_year_of(date(int(period[:4]), int(period[5:]), 1))
                acc = cum.setdefault(fy, _Tally())
                if (period, name) in self.by:
                    acc.add(self.by[(period, name)])
                if acc.n == 0 or fy in raised:
                    continue
                chi2 = benford_chi2(acc.digits)
                spread = acc.least is not None and acc.greatest >= BENFORD_MIN_SPAN * acc.least
                benford = acc.n >= BENFORD_MIN_SAMPLE and spread and chi2 > BENFORD_CHI2
                rounds = acc.n >= ROUND_MIN_SAMPLE and acc.rounds >= ROUND_SHARE * acc.n
                if benford or rounds:
                    raised.add(fy)
                    why = []
                    if benford:
                        why.append(f"chi-square {chi2:.2f} with n = {acc.n}")
                    if rounds:
                        why.append(f"{acc.rounds} of {acc.n} round sums of £50")
                    rows.append([period, COUNCIL, "CO-PROVIDER-PATTERN", "", pounds(acc.total), name,
                                 f"derived: {name} from {len(acc.accounts)} accounts, FY to date: " + "; ".join(why)])
        return rows


# ---------------------------------------------------------------------------------------------
# The sample council's planted cases
# ---------------------------------------------------------------------------------------------
ROUND_PROVIDER = "PEAK ADVENTURE CENTRE"
NEAR_MISS_PROVIDER = "BRABYNS RIDING CENTRE"
SHARED_NI = "JK123456A"


def _pa(rid: str, name: str, ni: str, payee_names: list[str]) -> Employee:
    return Employee(employee_id=f"E{rid[1:]}7", name=name, ni=ni, dob=date(1988, 7, 21), rate=1300, hours=0,
                    start=date(2025, 9, 1), dbs_number=f"{int(rid[1:]) * 1000 + 7:012d}",
                    dbs_issue=date(2025, 8, 4), payee_names=payee_names, bank_name=payee_names[-1])


def _purchase(sim: RecipientSim, mo: Month, n: int, d: date, supplier: str, amount: int, text: str) -> int:
    """A receipted purchase of a day-activities supplier (receipt dated the same day)."""
    row = [f"{sim.p.rid}-{mo.period.replace('-', '')}-C{n:02d}", d, supplier, amount, text, "day_activities", ""]
    mo.receipts.append(row)
    mo.add(d, -amount, supplier, "card", cat="day_activities", ev=row)
    return amount


def _wage(sim: RecipientSim, mo: Month, e: Employee, pay: date, ps: date, pe: date, hours: int) -> int:
    """One payslip and its wage payment (no tax or NI on so small a pay)."""
    gross = hours * e.rate
    slip = [e.employee_id, pay, ps, pe, str(hours), gross, 0, 0, 0, 0, 0, gross]
    mo.payslips.append(slip)
    t = mo.add(pay, -gross, e.bank_name, "payment", f"WAGES {e.employee_id}", cat="personal_assistant", ev=slip)
    mo.wages.append((e, t, slip))
    return gross


def _cohort_month(sim: RecipientSim, mo: Month, purchases=(), wages=(), invoice=None, register=(), agree=()) -> None:
    """The cohort cases of one recipient-month (a sample case, run after the month's routine)."""
    spent = 0
    for k, (day, supplier, amount) in enumerate(purchases, start=1):
        spent += _purchase(sim, mo, k, mo.day(day), supplier, amount, "Adventure day" if supplier == ROUND_PROVIDER
                           else "Riding lesson")
    for e, pay, ps, pe, hours, note in wages:
        gross = _wage(sim, mo, e, pay, ps, pe, hours)
        spent += gross
        sim.gt(mo.period, "CO-SHARED-PAYEE", None, gross, e.name, note)
    if spent:
        # the council covers the extra support the same month: no balance figure of the sample moves
        d, ref = mo.day(2), f"DP {sim.p.rid} {mo.period} COVER"
        sim.p.schedule.append((d, spent, ref))
        mo.add(d, spent, COUNCIL_NAME, "council", ref)
    if invoice is not None:
        new_id, supplier_text, first = invoice
        row = next(r for r in mo.invoices if r[1] == "PENINSULA PAYROLL")
        t = next(t for t in mo.txns if t.ev is row)
        row[0], t.ref = new_id, new_id
        if supplier_text:
            row[1] = supplier_text
        if first is not None:
            sim.gt(mo.period, "CO-DUPLICATE-INVOICE", row[2], row[5], row[1],
                   f"invoice {new_id} has the number of {first}")
    for e in register:  # the assistant's employees.csv row (written once the months are built)
        sim.p.employees.append(e)
    for supplier in agree:  # the supplier as an agreed provider of the day-activities line (and in providers.csv)
        next(ln for ln in sim.p.lines if ln.category == "day_activities").providers.append(supplier)


# Round-sum payments to ROUND_PROVIDER, (day, pence) per recipient and month index: 10 in January
# (below the minimum sample of 20), 12 more in February, 6 in March; 21 of the 28 are £50 multiples.
ROUND_PAYMENTS = {
    ("R00003", 0): [(6, 15000), (20, 8750)], ("R00004", 0): [(7, 10000), (21, 20000)],
    ("R00005", 0): [(8, 5000), (22, 12500)], ("R00006", 0): [(9, 25000), (23, 6240)],
    ("R00010", 0): [(10, 15000), (24, 10000)],
    ("R00002", 1): [(5, 20000), (19, 5000)], ("R00003", 1): [(6, 10000), (20, 15000)],
    ("R00004", 1): [(7, 7320), (21, 25000)], ("R00005", 1): [(8, 15000), (22, 10000)],
    ("R00006", 1): [(9, 5000), (23, 20000)], ("R00010", 1): [(10, 9180), (24, 30000)],
    ("R00005", 2): [(8, 10000), (22, 15000)], ("R00006", 2): [(9, 8410), (23, 5000)],
    ("R00010", 2): [(10, 20000), (24, 4990)],
}
# The near miss: every payment a round sum, but 9 in the year, fewer than the 20 the test needs.
NEAR_MISS_PAYMENTS = {("R00011", 0): [(12, 5000)], ("R00011", 1): [(12, 5000), (26, 10000)],
                      ("R00011", 2): [(12, 5000)], ("R00005", 0): [(14, 10000)], ("R00005", 1): [(14, 5000)],
                      ("R00006", 2): [(14, 10000)], ("R00010", 0): [(15, 5000)], ("R00010", 2): [(15, 10000)]}


def _shared_pas() -> dict[str, Employee]:
    """One assistant on four families' payroll: the NI number written three ways, the name three."""
    return {"R00003": _pa("R00003", "Dawn Hardy", "JK 12 34 56 A", ["DAWN HARDY", "D HARDY"]),
            "R00004": _pa("R00004", "Dawn Hardy", "JK123456A", ["DAWN HARDY", "D HARDY"]),
            "R00005": _pa("R00005", "Dawn M Hardy", "jk 123456 a", ["DAWN M HARDY", "D HARDY"]),
            "R00006": _pa("R00006", "Dawn Hardy-Lowe", "JK123456A", ["DAWN HARDY-LOWE", "D HARDY"])}


def _long_week_pas() -> dict[str, Employee]:
    """One assistant on two families' payroll with no NI number: the same name decides."""
    return {"R00010": _pa("R00010", "Lee Carver", "", ["LEE CARVER", "L CARVER"]),
            "R00011": _pa("R00011", "LEE  CARVER", "", ["LEE CARVER", "L CARVER"])}


def plant_sample_cohort(scenarios: list, cases: dict) -> str:
    """Add the cohort cases to the sample's scenarios (their scripts and stories) and their case
    function to ``cases`` (the sample's case table); return the README section about them."""
    cases["cohort_month"] = _cohort_month
    by_rid = {sc.profile.rid: sc for sc in scenarios}
    plan: dict[tuple[str, int], dict] = {}

    def at(rid: str, idx: int) -> dict:
        return plan.setdefault((rid, idx), {"purchases": [], "wages": [], "register": [], "agree": []})

    for (rid, idx), pays in ROUND_PAYMENTS.items():
        at(rid, idx)["purchases"] += [(d, ROUND_PROVIDER, a) for d, a in pays]
    for (rid, idx), pays in NEAR_MISS_PAYMENTS.items():
        at(rid, idx)["purchases"] += [(d, NEAR_MISS_PROVIDER, a) for d, a in pays]
    for rid in sorted({r for r, _ in ROUND_PAYMENTS} | {r for r, _ in NEAR_MISS_PAYMENTS}):
        agreed = [name for name, pays in ((ROUND_PROVIDER, ROUND_PAYMENTS), (NEAR_MISS_PROVIDER, NEAR_MISS_PAYMENTS))
                  if any(r == rid for r, _ in pays)]
        at(rid, len(by_rid[rid].periods) - 1)["agree"] += agreed
    # February: Dawn Hardy paid by four families for one week each (2-8 February, 12 hours)
    ps, pe = date(2026, 2, 2), date(2026, 2, 8)
    for k, (rid, e) in enumerate(sorted(_shared_pas().items())):
        note = "planted: the same NI number employed and paid by 4 accounts in February (R00003-R00006)"
        at(rid, 1)["wages"].append((e, date(2026, 2, 11) + timedelta(days=k), ps, pe, 12, note))
        at(rid, len(by_rid[rid].periods) - 1)["register"].append(e)
    # January: Lee Carver, 42 hours in the week of Monday 5 January for R00010 and 76 hours over
    # 1-14 January for R00011 (38 of them in that week): 80 hours in one week
    pas = _long_week_pas()
    note = "planted: payslips of two accounts add up to 80.0 hours in the week of Monday 05/01/2026"
    at("R00010", 0)["wages"].append((pas["R00010"], date(2026, 1, 16), date(2026, 1, 5), date(2026, 1, 11), 42, note))
    at("R00011", 0)["wages"].append((pas["R00011"], date(2026, 1, 16), date(2026, 1, 1), date(2026, 1, 14), 76, note))
    for rid, e in pas.items():
        at(rid, len(by_rid[rid].periods) - 1)["register"].append(e)
    # the payroll invoice R00005 paid in January, number INV-0042, comes again from R00006 in February
    at("R00005", 0)["invoice"] = ("INV-0042", None, None)
    at("R00006", 1)["invoice"] = ("inv 0042", "Peninsula Payroll Ltd", "R00005's January invoice INV-0042")

    for (rid, idx), kw in sorted(plan.items()):
        by_rid[rid].script.setdefault(idx, []).append(("cohort_month", kw))
    stories = {
        "R00003": "Cohort: pays the assistant Dawn Hardy (NI JK 12 34 56 A) in February, as R00004-R00006 do "
                  "(CO-SHARED-PAYEE).",
        "R00004": "Cohort: pays Dawn Hardy in February (CO-SHARED-PAYEE).",
        "R00005": "Cohort: pays Dawn M Hardy (the same NI number) in February (CO-SHARED-PAYEE); its January "
                  "payroll invoice is INV-0042.",
        "R00006": "Cohort: pays Dawn Hardy-Lowe (the same NI number) in February (CO-SHARED-PAYEE); its February "
                  "payroll invoice from \"Peninsula Payroll Ltd\" is numbered \"inv 0042\", R00005's January number "
                  "(CO-DUPLICATE-INVOICE).",
        "R00010": "Cohort: Lee Carver's payslip for 5-11 January gives 42 hours (CO-SHARED-PAYEE with R00011).",
        "R00011": "Cohort: LEE  CARVER's payslip for 1-14 January gives 76 hours, 38 of them in the week of 5 "
                  "January (CO-SHARED-PAYEE with R00010).",
    }
    for rid, text in stories.items():
        by_rid[rid].story += " " + text
    return readme()


def _round_counts(pays: dict) -> list[tuple[int, int]]:
    """(payments, round sums) of ``pays`` cumulated month by month (month index 0, 1, 2)."""
    out, n, r = [], 0, 0
    for idx in range(3):
        amounts = [a for (_, i), ps in pays.items() if i == idx for _, a in ps if a >= SAMPLE_MIN_PENCE]
        n += len(amounts)
        r += sum(a % ROUND_UNIT_PENCE == 0 for a in amounts)
        out.append((n, r))
    return out


def readme() -> str:
    """The README section about the cohort cases (figures computed from the planted payments)."""
    (n1, r1), (n2, r2), (n3, r3) = _round_counts(ROUND_PAYMENTS)
    near = _round_counts(NEAR_MISS_PAYMENTS)[-1]
    payers = len({r for r, _ in ROUND_PAYMENTS})
    return f"""
## Cohort checks (CO-*: across all accounts)

These run once a month over every account together (docs/rules.md "Cohort checks"). Each planted
payment below is covered by a scheduled council top-up the same month (reference `DP <id> <month>
COVER`), so no balance or contingency figure changes.

- **CO-SHARED-PAYEE, February**: the personal assistant Dawn Hardy is on four families' payroll with
  one NI number written three ways (`JK 12 34 56 A`, `JK123456A`, `jk 123456 a`) and three spellings
  of her name (Dawn Hardy, Dawn M Hardy, Dawn Hardy-Lowe). R00003, R00004, R00005 and R00006 each pay
  her £156.00 (12 hours, 2-8 February) with a payslip: paid from 4 accounts, more than {MAX_ACCOUNTS}.
  One finding per account, £156.00 each. Her 48 hours that week are below {MAX_WEEKLY_HOURS}.
- **CO-SHARED-PAYEE, January**: Lee Carver (no NI number on either family's list, so the name
  decides: "Lee Carver" and "LEE  CARVER") has a payslip from R00010 for 42 hours over 5-11 January
  and one from R00011 for 76 hours over 1-14 January, i.e. 76 x 7/14 = 38 hours in the week of
  Monday 5 January: 80.0 hours, more than {MAX_WEEKLY_HOURS}. One finding each, for the wages paid
  (£546.00 and £988.00). The weeks of 29 December (21.7 hours) and 12 January (16.3 hours) are
  one account's only.
- **CO-DUPLICATE-INVOICE, February**: R00005 pays PENINSULA PAYROLL's January invoice `INV-0042`;
  in February R00006's payroll invoice from "Peninsula Payroll Ltd" is numbered `inv 0042` - the
  same supplier and number once case and punctuation are set aside. One finding, on R00006's
  later invoice (£20.00); R00005's first invoice is not flagged.
- **CO-PROVIDER-PATTERN (recipient `COUNCIL`), February**: {ROUND_PROVIDER}, an agreed
  day-activities provider of {payers} families, is paid round sums: {n1} payments of £10.00 or more in
  January ({r1} of them whole multiples of £50.00; below the minimum sample of {ROUND_MIN_SAMPLE}, so
  no finding), {n2} by February ({r2} round, {r2 / n2:.1%}) and {n3} by March ({r3} round, {r3 / n3:.1%}),
  at least {ROUND_SHARE:.0%}: one finding in February, the first month the pattern shows (amount = the
  year-to-date sample's total), and none in March: a provider is raised once a financial year. Too
  few payments for the first-digit (Benford) test, which needs {BENFORD_MIN_SAMPLE}.
- **Near miss**: {NEAR_MISS_PROVIDER} is paid only round sums ({near[1]} of {near[0]}) by R00005,
  R00006, R00010 and R00011 - below the minimum sample of {ROUND_MIN_SAMPLE}: no finding.
- No other provider of the sample reaches {BENFORD_MIN_SAMPLE} payments in the quarter, so the
  first-digit test never applies here.
"""
