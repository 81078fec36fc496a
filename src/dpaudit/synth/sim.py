"""Model and per-recipient simulation of the synthetic council (used by ``dpaudit.synth.council``).

A :class:`RecipientSim` builds one recipient's months: ``base_month`` makes a month that raises
no finding, the ``_a_<kind>`` methods plant one named anomaly each and record the findings it
must raise (``gt``), and ``derive`` adds the state findings (overdrawn episodes, contingency,
surplus, over-budget lines, reviews, DBS, insurance, minimum wage) computed from the generated
data with the definitions of rules.md.  Money is integer pence throughout.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from dpaudit.core.dates import add_months, age_on, financial_year_bounds, financial_year_of, parse_period
from dpaudit.core.money import pct_of, pro_rata, round_half_up_pence
from dpaudit.synth.formats import Account, Txn, pounds

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------
COUNCIL_NAME = "STOCKPORT COUNCIL"
HMRC_NAME = "HMRC PAYE"
CHARGE_NAME = "MONTHLY ACCOUNT FEE"

SUPPLIERS = {
    "day_activities": ["LIFE LEISURE", "GRAVITY TRAMPOLINE PARK", "CINEWORLD CINEMA", "PLAYSCAPE SOFT PLAY",
                       "SPLASH SWIMMING CLUB", "ROCK UP CLIMBING", "TENPIN BOWLING", "REDDISH VALE FARM"],
    "transport": ["STOCKPORT TAXI CO", "METROLINK", "NORTHERN RAIL", "A1 ACCESSIBLE TAXI"],
    "community_access": ["STOCKPORT YOUTH CLUB", "1ST CHEADLE SCOUTS", "COMMUNITY ARTS HUB"],
    "agency_care": ["BRIGHT HOMECARE LTD", "CARING HANDS CARE SERVICES", "HOMEINSTEAD CARE LTD",
                    "ALLIED HOME CARE"],
    "payroll_services": ["PENINSULA PAYROLL", "DP PAYROLL SERVICES"],
}
EXTRA_PROVIDERS = {  # used only by planted cases
    "therapy": ["BRAMHALL PHYSIO CLINIC"],
    "education_support": ["BRIGHTSTART TUITION"],
    "small_aids": ["COMPLETE CARE SHOP"],
    "day_activities": ["THE ART ROOM"],
}
SUPPLIER_TEXT = {
    "LIFE LEISURE": "Swimming session", "GRAVITY TRAMPOLINE PARK": "Trampoline hour",
    "CINEWORLD CINEMA": "Cinema tickets", "PLAYSCAPE SOFT PLAY": "Soft play entry",
    "SPLASH SWIMMING CLUB": "Swimming lesson", "ROCK UP CLIMBING": "Climbing session",
    "TENPIN BOWLING": "Bowling game", "REDDISH VALE FARM": "Farm visit", "STOCKPORT TAXI CO": "Taxi to activity",
    "METROLINK": "Tram fare", "NORTHERN RAIL": "Rail fare", "A1 ACCESSIBLE TAXI": "Accessible taxi",
    "STOCKPORT YOUTH CLUB": "Youth club subs", "1ST CHEADLE SCOUTS": "Scouts subs",
    "COMMUNITY ARTS HUB": "Arts session", "BRAMHALL PHYSIO CLINIC": "Physiotherapy session",
    "BRIGHTSTART TUITION": "Tuition session", "COMPLETE CARE SHOP": "Sensory equipment",
    "THE ART ROOM": "Art workshop",
}
RECEIPT_TEXT = {
    "day_activities": ["Swimming session", "Trampoline hour", "Cinema tickets", "Soft play entry", "Climbing taster",
                       "Bowling game", "Farm visit", "Art workshop"],
    "transport": ["Taxi to activity", "Tram fare", "Rail fare", "Accessible taxi"],
    "community_access": ["Youth club subs", "Scouts subs", "Arts session"],
    "therapy": ["Physiotherapy session"],
    "education_support": ["Tuition session"],
    "small_aids": ["Sensory equipment"],
}
PROHIBITED = ["BET365", "WILLIAM HILL", "PADDY POWER", "LADBROKES", "MAJESTIC WINE"]
HOUSEHOLD = ["BRITISH GAS", "TESCO STORES 2431", "OCTOPUS ENERGY", "VIRGIN MEDIA", "ASDA SUPERSTORE"]
FIRST = ["Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Leo", "Ivy", "Arthur", "Freya", "Oscar",
         "Lily", "Harry", "Grace", "Jack", "Evie", "Charlie", "Ella", "Theo", "Rosie", "Alfie", "Ruby", "Finley"]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
            "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
            "Clarke", "Khan", "Lewis", "Harris"]
PA_FIRST = ["Sarah", "Emma", "Claire", "Helen", "Joanne", "Lisa", "Karen", "Rachel", "Nicola", "Michelle",
            "David", "Paul", "Mark", "Andrew", "Steven", "Gary"]
PA_SURNAMES = ["Ellis", "Fletcher", "Gibson", "Holt", "Irwin", "Kemp", "Lord", "Marsh", "Nolan", "Parry",
               "Quinn", "Riley", "Shaw", "Tate", "Vaughan", "Wade"]
UNKNOWN_PAYEES = ["K OKAFOR", "D NOWAK", "L HUGHES", "B ADEYEMI", "T MURPHY"]
OFFICERS = ["A. Turner", "B. Hussain", "C. Doyle", "D. Mensah"]
INSURERS = ["Mark Bates Ltd", "Fish Insurance", "Premier Care"]
NI_PREFIX = ["AB", "CE", "JT", "KM", "NP", "PR", "SK", "WL"]

GROUND_TRUTH_COLUMNS = ["period", "recipient_id", "rule_id", "txn_date", "amount", "counterparty", "note"]
REFERENCE_COLUMNS = {
    "recipients": ["recipient_id", "child_name", "date_of_birth", "management_type", "sort_code", "account_number",
                   "account_holder", "dp_start_date", "dp_end_date", "status", "stop_requested", "support_officer"],
    "support_plan_lines": ["recipient_id", "line_id", "category", "description", "annual_amount", "funding_stream",
                           "management_type", "valid_from", "valid_to", "school_setting", "setting_consent_date",
                           "providers"],
    "payment_schedule": ["recipient_id", "due_date", "amount", "reference"],
    "employees": ["recipient_id", "employee_id", "name", "ni_number", "date_of_birth", "hourly_rate", "start_date",
                  "end_date", "dbs_number", "dbs_issue_date", "payee_names"],
    "insurance": ["recipient_id", "policy_number", "insurer", "cover_start", "cover_end", "employers_liability"],
    "providers": ["name", "aliases", "category", "registered"],
}
EVIDENCE_COLUMNS = {
    "receipts": ["receipt_id", "date", "supplier", "amount", "description", "category", "attachment"],
    "invoices": ["invoice_id", "supplier", "invoice_date", "period_start", "period_end", "amount", "hours"],
    "payslips": ["employee_id", "pay_date", "period_start", "period_end", "hours", "gross", "tax", "employee_ni",
                 "employer_ni", "pension_employee", "pension_employer", "net"],
    "hmrc": ["tax_month", "amount_due", "amount_paid", "paid_date", "reference"],
}
# National Minimum/Living Wage (rules.md): from date -> (21+, 18-20, under 18) in pence.
MIN_WAGE = [(date(2024, 4, 1), (1144, 860, 640)), (date(2025, 4, 1), (1221, 1000, 755)),
            (date(2026, 4, 1), (1271, 1085, 800))]

MONTH_KINDS = ["prohibited", "household", "cash", "transfer_out", "not_in_plan", "duplicate_payment", "no_evidence",
               "amount_mismatch", "orphan_receipt", "non_council_credit", "payment_short", "overdrawn", "no_payslip",
               "net_mismatch", "hmrc_unpaid", "below_min_wage", "unknown_payee", "bad_row", "duplicate_file",
               "wrong_account", "balance_break", "gap", "missing", "over_budget", "surplus"]
RECIPIENT_KINDS = ["plan_invalid", "school_consent", "after_end", "dbs_expiry", "insurance_lapse"]


def min_wage_pence(dob: date, on: date) -> int:
    rates = MIN_WAGE[0][1]
    for start, r in MIN_WAGE:
        if on >= start:
            rates = r
    age = age_on(dob, on)
    return rates[0] if age >= 21 else rates[1] if age >= 18 else rates[2]


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------
@dataclass
class Line:
    n: int
    category: str
    description: str
    monthly: int                     # pence the council pays for it each month (annual = 12x)
    providers: list[str]
    funding_stream: str = "social_care_respite"
    management_type: str = "direct_payment"
    school_setting: str = "no"
    consent: date | None = None
    regular: bool = True             # gets routine spending every month
    invalid: bool = False            # notional-only stream paid as DP (DQ-PLAN-INVALID)
    valid_from: date | None = None   # None: start of each FY
    valid_to: date | None = None
    annual_override: int | None = None
    purchases: int | None = None     # routine purchases a month (None: by category)

    @property
    def annual(self) -> int:
        return self.annual_override if self.annual_override is not None else 12 * self.monthly

    @property
    def counts(self) -> bool:
        return self.management_type == "direct_payment" and not self.invalid


@dataclass
class Employee:
    employee_id: str
    name: str
    ni: str
    dob: date
    rate: int          # pence per hour
    hours: int         # hours per month
    start: date
    dbs_number: str
    dbs_issue: date | None
    payee_names: list[str]
    bank_name: str

    def payroll(self) -> tuple[int, int, int, int, int]:
        """(gross, tax, employee_ni, employer_ni, net) for a month (2025/26 monthly thresholds)."""
        gross = self.hours * self.rate
        tax = (max(0, gross - 104750) * 20 + 50) // 100
        ee = (max(0, gross - 104800) * 8 + 50) // 100
        er = (max(0, gross - 41667) * 15 + 50) // 100
        return gross, tax, ee, er, gross - tax - ee


@dataclass
class Profile:
    rid: str
    child_name: str
    dob: date
    account: Account
    fmt: str
    dp_start: date
    lines: list[Line]
    employees: list[Employee]
    opening: int
    dp_end: date | None = None
    status: str = "active"
    stop_requested: str = "no"
    officer: str = "A. Turner"
    insurance: list[tuple] = field(default_factory=list)  # (policy, insurer, start, end, el)
    charge: int = 500
    pay_day: int = 25
    hmrc_day: int = 12
    payroll_day: int = 5
    paye_ref: str = "123PA00000000"
    uk_dates: bool = False           # evidence files written DD/MM/YYYY
    council_credit: bool = True      # the council still pays (False once stopped)
    schedule: list[tuple] = field(default_factory=list)  # (due_date, amount, reference)

    def monthly_credit(self, d: date) -> int:
        return sum(ln.monthly for ln in self.lines if ln.counts and _line_in_force(ln, d))

    def annual_value(self, fy: int) -> int:
        return sum(ln.annual for ln in self.lines if ln.counts and _line_fy_overlap(ln, fy))


def _line_bounds(ln: Line, fy: int) -> tuple[date, date]:
    fs, fe = financial_year_bounds(fy)
    return (max(fs, ln.valid_from) if ln.valid_from else fs, min(fe, ln.valid_to) if ln.valid_to else fe)


def _line_in_force(ln: Line, d: date) -> bool:
    s, e = _line_bounds(ln, financial_year_of(d))
    return s <= d <= e


def _line_fy_overlap(ln: Line, fy: int) -> bool:
    s, e = _line_bounds(ln, fy)
    return s <= e


class Month:
    """One recipient-month while it is being built."""

    __slots__ = ("idx", "period", "y", "m", "first", "end", "max_day", "txns", "receipts", "invoices",
                 "payslips", "hmrc", "bad_rows", "extra", "missing", "gap", "shift", "dup_file", "wrong_account",
                 "hostile", "opening", "closing", "charge_day", "wages", "seq")

    def __init__(self, idx: int, period: str) -> None:
        self.idx, self.period = idx, period
        self.first, self.end = parse_period(period)
        self.y, self.m = self.first.year, self.first.month
        self.max_day = self.end.day
        self.txns: list[Txn] = []
        self.receipts: list[list] = []
        self.invoices: list[list] = []
        self.payslips: list[list] = []
        self.hmrc: list[list] = []
        self.bad_rows: list[list[str]] = []
        self.extra: dict[str, bytes] = {}
        self.missing = self.gap = self.dup_file = self.wrong_account = self.hostile = False
        self.shift = 0
        self.opening = self.closing = 0
        self.charge_day = 28
        self.wages: list[tuple] = []  # (employee, txn or None, payslip row or None)
        self.seq = 0

    def day(self, d: int) -> date:
        return date(self.y, self.m, max(1, min(d, self.max_day)))

    def add(self, d: date, amount: int, payee: str, kind: str, ref: str = "", mcc: str = "", cat: str | None = None,
            ev: list | None = None) -> Txn:
        self.seq += 1
        t = Txn(d, amount, payee, kind, ref, mcc, cat, self.seq, ev)
        self.txns.append(t)
        return t


# ---------------------------------------------------------------------------------------------
# Building one recipient
# ---------------------------------------------------------------------------------------------
class RecipientSim:
    """Builds all months of one recipient, plants anomalies and derives the truth."""

    def __init__(self, profile: Profile, rng: random.Random, periods: list[str]) -> None:
        self.p = profile
        self.rng = rng
        self.periods = periods
        self.months: list[Month] = []
        self.truth: list[list[str]] = []
        self.balance = profile.opening
        self._rid_n = 0
        self.after_end_all = False

    # -- truth ---------------------------------------------------------------------------
    def gt(self, period: str, rule: str, d: date | None = None, amount: int | None = None, counterparty: str = "",
           note: str = "") -> None:
        self.truth.append([period, self.p.rid, rule, d.isoformat() if d else "",
                           pounds(amount) if amount is not None else "", counterparty, note])

    # -- evidence helpers ------------------------------------------------------------------
    def _receipt(self, mo: Month, d: date, supplier: str, amount: int, cat: str, text: str | None = None) -> list:
        self._rid_n += 1
        rd = max(mo.first, d - timedelta(days=self.rng.choice((0, 0, 0, 1, 2))))
        row = [f"{self.p.rid}-{mo.period.replace('-', '')}-{self._rid_n:03d}", rd, supplier, amount,
               text or SUPPLIER_TEXT.get(supplier) or self.rng.choice(RECEIPT_TEXT.get(cat, ["Purchase"])), cat, ""]
        mo.receipts.append(row)
        return row

    def _invoice(self, mo: Month, d: date, supplier: str, amount: int, hours: str, ps: date, pe: date) -> list:
        self._rid_n += 1
        row = [f"INV-{self.p.rid}-{mo.period.replace('-', '')}-{self._rid_n:03d}", supplier,
               max(mo.first, d - timedelta(days=3)), ps, pe, amount, hours]
        mo.invoices.append(row)
        return row

    def spend(self, mo: Month, d: date, supplier: str, amount: int, cat: str, *, kind: str = "card",
              text: str | None = None, mcc: str = "", receipt: bool = True, line_cat: str | None = "same") -> Txn:
        """A debit with (optionally) an exact receipt."""
        row = self._receipt(mo, d, supplier, amount, cat, text) if receipt else None
        return mo.add(d, -amount, supplier, kind, mcc=mcc, cat=cat if line_cat == "same" else line_cat, ev=row)

    # -- the normal month -------------------------------------------------------------------
    def base_month(self, mo: Month) -> None:
        p, rng = self.p, self.rng
        if p.council_credit:
            amt = p.monthly_credit(mo.first)
            if amt:
                ref = f"DP {p.rid} {mo.period}"
                p.schedule.append((mo.first, amt, ref))
                mo.add(mo.first, amt, COUNCIL_NAME, "council", ref)
        # never the same payee and amount twice within a month or across the month boundary
        used: set[tuple[str, int]] = {(t.payee, -t.amount) for t in self.months[-1].txns} if self.months else set()
        # personal assistants, paid monthly with a payslip; PAYE for last month to HMRC
        hmrc_due = 0
        for e in p.employees:
            gross, tax, ee, er, net = e.payroll()
            hmrc_due += tax + ee + er
            pay = mo.day(p.pay_day)
            slip = [e.employee_id, pay, mo.first, mo.end, str(e.hours), gross, tax, ee, er, 0, 0, net]
            mo.payslips.append(slip)
            t = mo.add(pay, -net, e.bank_name, "payment", f"WAGES {mo.period}", cat="personal_assistant", ev=slip)
            mo.wages.append((e, t, slip))
        if hmrc_due:
            d = mo.day(p.hmrc_day)
            prev = add_months(mo.first, -1).strftime("%Y-%m")
            row = [prev, hmrc_due, hmrc_due, d, f"{p.paye_ref}{prev[2:4]}{prev[5:7]}"]
            mo.hmrc.append(row)
            mo.add(d, -hmrc_due, HMRC_NAME, "payment", row[4], cat="personal_assistant", ev=row)
        for ln in p.lines:
            if not (ln.regular and ln.counts and _line_in_force(ln, mo.first)):
                continue
            if ln.category == "personal_assistant":
                continue
            if ln.category == "payroll_services":
                d = mo.day(p.payroll_day)
                inv = self._invoice(mo, d, ln.providers[0], ln.monthly, "", mo.first, mo.end)
                mo.add(d, -ln.monthly, ln.providers[0], "payment", inv[0], cat=ln.category, ev=inv)
                continue
            if ln.category == "agency_care":
                weekly = ln.monthly // 4
                hours = str(weekly // 2450) if weekly % 2450 == 0 else ""
                for k, dd in enumerate((7, 14, 21, 28)):
                    amt = weekly if k < 3 else ln.monthly - 3 * weekly
                    d = mo.day(dd)
                    ps = max(mo.first, d - timedelta(days=10))
                    inv = self._invoice(mo, d, ln.providers[0], amt, hours, ps, max(ps, d - timedelta(days=4)))
                    mo.add(d, -amt, ln.providers[0], "payment", inv[0], cat=ln.category, ev=inv)
                continue
            n = {"day_activities": rng.randint(28, 36), "transport": rng.randint(14, 20)}.get(ln.category,
                                                                                                rng.randint(4, 8))
            n = ln.purchases or max(1, min(n, ln.monthly // 200))
            parts = _split(ln.monthly, n, rng)
            carry = 0
            for k, amt in enumerate(parts):
                sup = rng.choice(ln.providers)
                step = 1
                if k == len(parts) - 1:
                    amt, step = amt - carry, -1
                while (sup, amt) in used:
                    amt += step
                    carry += step
                used.add((sup, amt))
                self.spend(mo, mo.day(rng.randint(2, mo.max_day)), sup, amt, ln.category)
        # nudges never take a line over its monthly amount (the last part gives the pence back)
        if p.charge:
            mo.add(mo.day(mo.charge_day), -p.charge, CHARGE_NAME, "charge", cat="bank_charges")

    # -- planted anomalies --------------------------------------------------------------------
    def card_txns(self, mo: Month) -> list[Txn]:
        """Receipted routine purchases (those of £10 or more when there are any)."""
        cands = [t for t in mo.txns if t.kind == "card" and t.ev is not None and t.cat in
                 ("day_activities", "transport", "community_access")]
        return [t for t in cands if t.amount <= -1000] or cands

    def plant(self, mo: Month, kind: str, **kw) -> bool:
        """Plant one anomaly in a built month; False when it does not apply to this month."""
        return getattr(self, f"_a_{kind}")(mo, **kw) is not False

    def _misuse(self, mo, rule, payee, amount, receipt, kind="card", mcc="", day=None):
        d = mo.day(day or self.rng.randint(3, mo.max_day))
        t = self.spend(mo, d, payee, amount, "", kind=kind, mcc=mcc, receipt=receipt, line_cat=None,
                       text="Purchase")
        self.gt(mo.period, rule, d, amount, payee, f"planted {rule}" + (f" (MCC {mcc})" if mcc else ""))
        if not receipt:
            self.gt(mo.period, "EV-NO-EVIDENCE", d, amount, payee, f"no receipt for the {rule} debit")
        return t

    def _a_prohibited(self, mo, payee=None, amount=None, receipt=None, mcc="", day=None):
        rng = self.rng
        self._misuse(mo, "SP-PROHIBITED", payee or rng.choice(PROHIBITED), amount or rng.randint(1500, 25000),
                     rng.random() < 0.4 if receipt is None else receipt, mcc=mcc, day=day)

    def _a_household(self, mo, payee=None, amount=None, receipt=None, day=None):
        rng = self.rng
        payee = payee or rng.choice(HOUSEHOLD)
        kind = "card" if any(w in payee for w in ("TESCO", "ASDA")) else "payment"
        self._misuse(mo, "SP-HOUSEHOLD", payee, amount or rng.randint(2000, 20000),
                     rng.random() < 0.4 if receipt is None else receipt, kind=kind, day=day)

    def _a_cash(self, mo, amount=None, day=None):
        self._misuse(mo, "SP-CASH", "LINK ATM STOCKPORT", amount or self.rng.choice((2000, 3000, 5000, 10000)),
                     False, kind="atm", day=day)

    def _a_transfer_out(self, mo, payee=None, amount=None, day=None):
        rng = self.rng
        payee = payee or f"TRANSFER TO {rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(10, 99)} " \
                f"{rng.randint(10**7, 10**8 - 1)}"
        self._misuse(mo, "SP-TRANSFER-OUT", payee, amount or rng.randint(5000, 50000), False, kind="xfer", day=day)

    def _a_not_in_plan(self, mo, amount=None, day=None):
        if any(ln.category == "therapy" for ln in self.p.lines):
            return False
        d = mo.day(day or self.rng.randint(3, mo.max_day))
        amount = amount or self.rng.randint(4000, 9000)
        self.spend(mo, d, EXTRA_PROVIDERS["therapy"][0], amount, "therapy", line_cat=None)
        self.gt(mo.period, "SP-NOT-IN-PLAN", d, amount, EXTRA_PROVIDERS["therapy"][0], "therapy: no plan line")

    def _a_duplicate_payment(self, mo):
        cands = [t for t in self.card_txns(mo) if t.date.day <= mo.max_day - 2]
        if not cands:
            return False
        t = self.rng.choice(cands)
        d = t.date + timedelta(days=self.rng.randint(1, 2))
        mo.add(d, t.amount, t.payee, t.kind, cat=t.cat)
        self.gt(mo.period, "SP-DUPLICATE-PAYMENT", d, -t.amount, t.payee, f"repeats the debit of {t.date}, one receipt")
        self.gt(mo.period, "EV-NO-EVIDENCE", d, -t.amount, t.payee, "second debit of a duplicate payment")

    def _a_no_evidence(self, mo):
        cands = self.card_txns(mo)
        if not cands:
            return False
        t = self.rng.choice(cands)
        mo.receipts.remove(t.ev)
        t.ev = None
        self.gt(mo.period, "EV-NO-EVIDENCE", t.date, -t.amount, t.payee, "receipt missing")

    def _a_amount_mismatch(self, mo, delta=None):
        cands = self.card_txns(mo)
        if not cands:
            return False
        t = self.rng.choice(cands)
        delta = delta or self.rng.choice((1, -1)) * self.rng.randint(100, 1000)
        if -t.amount + delta <= 0:
            delta = abs(delta)
        new = -t.amount + delta
        if any(o.payee == t.payee and -o.amount == new for o in mo.txns):
            return False
        t.ev[3] = new
        self.gt(mo.period, "EV-AMOUNT-MISMATCH", t.date, abs(delta), t.payee,
                f"receipt {t.ev[0]} says {pounds(new)}, bank {pounds(-t.amount)}")

    def _a_orphan_receipt(self, mo, amount=None, day=None):
        d = mo.day(day or self.rng.randint(2, mo.max_day))
        amount = amount or self.rng.randint(800, 4000)
        sup = EXTRA_PROVIDERS["day_activities"][0]
        self._rid_n += 1
        row = [f"{self.p.rid}-{mo.period.replace('-', '')}-{self._rid_n:03d}", d, sup, amount, "Art workshop",
               "day_activities", ""]
        mo.receipts.append(row)
        self.gt(mo.period, "EV-ORPHAN-RECEIPT", d, amount, sup, f"receipt {row[0]} matches no debit")

    def _a_non_council_credit(self, mo, payee=None, amount=None, day=None):
        rng = self.rng
        d = mo.day(day or rng.randint(3, mo.max_day))
        payee = payee or f"TRANSFER FROM {rng.choice('ABCDJKMPS')} {rng.choice(SURNAMES).upper()}"
        amount = amount or rng.randint(2000, 30000)
        mo.add(d, amount, payee, "credit")
        self.gt(mo.period, "AC-NON-COUNCIL-CREDIT", d, amount, payee, "credit from a family member")

    def _a_payment_short(self, mo, pct=None):
        t = next((t for t in mo.txns if t.kind == "council"), None)
        if t is None:
            return False
        rng = self.rng
        if pct is None and rng.random() < 0.25:
            mo.txns.remove(t)
            self.gt(mo.period, "AC-PAYMENT-MISSING", t.date, t.amount, COUNCIL_NAME, "scheduled payment never arrived")
            return
        short = pct_of(t.amount, pct or rng.randint(10, 30))
        t.amount -= short
        self.gt(mo.period, "AC-PAYMENT-MISSING", t.date, short, COUNCIL_NAME, f"arrived {pounds(short)} short")

    def _a_overdrawn(self, mo, extra=None):
        p = self.p
        day10 = mo.day(10)
        bal = self.balance + mo.shift + sum(t.amount for t in mo.txns if t.date <= day10)
        amount = bal + (extra or self.rng.randint(1000, 15000))
        if amount <= 0:
            return False
        agency = next((ln for ln in p.lines if ln.category == "agency_care" and ln.regular), None)
        if agency:
            inv = self._invoice(mo, day10, agency.providers[0], amount, "", mo.first, day10)
            mo.add(day10, -amount, agency.providers[0], "payment", inv[0], cat="agency_care", ev=inv)
        else:
            ln = next(ln for ln in p.lines if ln.category == "day_activities")
            self.spend(mo, day10, ln.providers[0], amount, "day_activities", text="Holiday scheme block booking")
        topup = mo.day(14)
        ref = f"DP {p.rid} {mo.period} TOPUP"
        p.schedule.append((topup, amount, ref))
        mo.add(topup, amount, COUNCIL_NAME, "council", ref)
        # AC-OVERDRAWN (and any SP-OVER-BUDGET) are derived from the balances

    def _a_surplus(self, mo, pct=None):
        """An extra (scheduled) council payment the family does not spend: funds held back."""
        a = self.p.annual_value(financial_year_of(mo.first))
        if not a:
            return False
        amount = pct_of(a, pct or self.rng.randint(15, 30))
        d = mo.day(2)
        ref = f"DP {self.p.rid} {mo.period} ARREARS"
        self.p.schedule.append((d, amount, ref))
        mo.add(d, amount, COUNCIL_NAME, "council", ref)
        # AC-SURPLUS is derived from the month-end balances

    def _wage(self, mo, i=0):
        return mo.wages[i] if len(mo.wages) > i else None

    def _a_no_payslip(self, mo):
        w = self._wage(mo)
        if not w:
            return False
        e, t, slip = w
        mo.payslips.remove(slip)
        t.ev = None
        mo.wages[0] = (e, t, None)
        self.gt(mo.period, "PY-NO-PAYSLIP", t.date, -t.amount, t.payee, f"no payslip for {e.employee_id}")
        self.gt(mo.period, "EV-NO-EVIDENCE", t.date, -t.amount, t.payee, "wage payment without a payslip")

    def _a_net_mismatch(self, mo, delta=None):
        w = self._wage(mo)
        if not w:
            return False
        e, t, slip = w
        delta = delta or self.rng.randint(500, 4000)
        t.amount += delta
        self.gt(mo.period, "PY-NET-MISMATCH", t.date, delta, t.payee,
                f"payslip net {pounds(slip[11])}, bank {pounds(-t.amount)}")

    def _a_hmrc_unpaid(self, mo, pct=None):
        t = next((t for t in mo.txns if t.payee == HMRC_NAME), None)
        if t is None:
            return False
        due = -t.amount
        paid = pct_of(due, pct or self.rng.randint(40, 80))
        t.amount = -paid
        t.ev[2] = paid
        self.gt(mo.period, "PY-HMRC-UNPAID", t.date, due - paid, "HMRC",
                f"tax month {t.ev[0]}: due {pounds(due)}, paid {pounds(paid)} by the 22nd")

    def _a_below_min_wage(self, mo):
        w = self._wage(mo)
        if not w or w[2] is None:
            return False
        e, t, slip = w
        minimum = min_wage_pence(e.dob, t.date)
        slip[4] = str(slip[5] // (minimum - 100) + 1)  # more hours for the same gross
        # PY-BELOW-MIN-WAGE is derived from the payslips

    def _a_unknown_payee(self, mo, payee=None, amount=None, days=None):
        rng = self.rng
        payee = payee or rng.choice(UNKNOWN_PAYEES)
        amount = amount or rng.choice((6000, 8000, 10000, 12000))
        if days is None:
            d0 = rng.randint(2, mo.max_day - 14)
            days = (d0, d0 + 7, d0 + 14)
        for dd in days:
            d = mo.day(dd)
            mo.add(d, -amount, payee, "payment", "CARE")
            self.gt(mo.period, "PY-UNKNOWN-PAYEE", d, amount, payee, "regular round payment to an unregistered person")
            self.gt(mo.period, "EV-NO-EVIDENCE", d, amount, payee, "no payslip or receipt")

    def _a_bad_row(self, mo, which=None):
        which = which if which is not None else self.rng.randint(0, 1)
        self._rid_n += 1
        rid = f"{self.p.rid}-{mo.period.replace('-', '')}-{self._rid_n:03d}"
        if which == 0:
            row = [rid, f"31/02/{mo.y}", "LIFE LEISURE", "12.50", "Swimming session", "day_activities", ""]
            why = "date 31/02 does not exist"
        else:
            row = [rid, f"{mo.y}-{mo.m:02d}-14", "LIFE LEISURE", "£1,234.5O", "Swimming session", "day_activities", ""]
            why = "amount £1,234.5O has a letter O"
        mo.bad_rows.append(row)
        self.gt(mo.period, "DQ-ROW-REJECTED", None, None, "", f"receipts.csv receipt {rid}: {why}")

    def _a_duplicate_file(self, mo):
        mo.dup_file = True
        self.gt(mo.period, "DQ-DUPLICATE-FILE", None, None, "", "statement saved twice under another name")

    def _a_wrong_account(self, mo):
        mo.wrong_account = True
        self.gt(mo.period, "DQ-WRONG-ACCOUNT", None, None, "", "personal_account.csv is another account")

    def _a_balance_break(self, mo, shift=None):
        if mo.idx == 0:
            return False
        mo.shift = shift or self.rng.randint(1000, 10000)
        self.gt(mo.period, "DQ-BALANCE-BREAK", mo.first, mo.shift, "",
                f"opening balance {pounds(mo.shift)} above last month's closing")

    def _a_gap(self, mo):
        """Set before the month is built: nothing happens after the 25th and DTEND is the 25th."""
        if not self.p.fmt.startswith("ofx"):
            return False
        mo.gap = True
        mo.max_day = 25
        self.gt(mo.period, "DQ-STATEMENT-GAP", None, None, "",
                f"statement ends {mo.period}-25: days 26-{mo.end.day} not covered")

    def _a_missing(self, mo):
        mo.missing = True
        self.gt(mo.period, "DQ-STATEMENT-MISSING", None, None, "", "no statement sent (nor receipts) this month")

    def _a_over_budget(self, mo):
        ln = next((ln for ln in self.p.lines if ln.category == "day_activities" and ln.regular), None)
        if ln is None:
            return False
        total = ln.annual * 3 // 10
        for amt in _split(total, 3, self.rng):
            self.spend(mo, mo.day(self.rng.randint(2, mo.max_day)), ln.providers[0], amt, "day_activities",
                       text="Holiday scheme")
        # SP-OVER-BUDGET is derived from spend to date

    # -- finishing a month ----------------------------------------------------------------------
    def finish(self, mo: Month) -> None:
        mo.txns.sort(key=Txn.sort_key)
        mo.opening = self.balance + mo.shift
        mo.closing = mo.opening + sum(t.amount for t in mo.txns)
        self.balance = mo.closing
        if mo.missing:
            mo.receipts.clear()
            mo.invoices.clear()
            mo.bad_rows.clear()
        self.months.append(mo)

    def after_end_truth(self) -> None:
        end = self.p.dp_end
        if end is None:
            return
        for mo in self.months:
            if mo.missing:
                continue
            for t in mo.txns:
                if t.amount < 0 and t.date > end and t.kind != "charge":
                    self.gt(mo.period, "SP-AFTER-END", t.date, -t.amount, t.payee,
                            f"spent after the direct payment ended on {end}")

    # -- derived state findings ------------------------------------------------------------------
    def derive(self) -> None:
        p = self.p
        visible = [mo for mo in self.months if not mo.missing]
        # AC-OVERDRAWN: episodes of negative end-of-day balance
        neg_start: tuple | None = None
        low = 0
        for mo in visible:
            bal = mo.opening
            days: dict[date, int] = {}
            for t in mo.txns:
                bal += t.amount
                days[t.date] = bal
            for d, b in days.items():
                if b < 0:
                    if neg_start is None:
                        neg_start, low = (mo.period, d), b
                    low = min(low, b)
                elif neg_start is not None:
                    self.gt(neg_start[0], "AC-OVERDRAWN", neg_start[1], -low, "",
                            f"overdrawn from {neg_start[1]} to {d}")
                    neg_start = None
        if neg_start is not None:
            self.gt(neg_start[0], "AC-OVERDRAWN", neg_start[1], -low, "", f"overdrawn from {neg_start[1]}")
        # month-end contingency and surplus (PBP 5.3)
        for mo in visible:
            a = p.annual_value(financial_year_of(mo.end))
            if not a:
                continue
            floor = pct_of(a, 5)
            ceiling = pct_of(a, 10) + round_half_up_pence(Decimal(a) * 8 / 52)
            if mo.closing < floor:
                self.gt(mo.period, "AC-LOW-CONTINGENCY", mo.end, floor - mo.closing, "",
                        f"month-end balance {pounds(mo.closing)} below 5% of {pounds(a)}")
            elif mo.closing > ceiling:
                self.gt(mo.period, "AC-SURPLUS", mo.end, mo.closing - ceiling, "",
                        f"month-end balance {pounds(mo.closing)} above 10% + 8 weeks of {pounds(a)}")
        # SP-OVER-BUDGET: spend to date per valid DP line vs pro-rata budget to date
        by_cat: list[dict[str, list[Txn]]] = []
        for mo in visible:
            cats: dict[str, list[Txn]] = {}
            for t in mo.txns:
                if t.amount < 0 and t.cat:
                    cats.setdefault(t.cat, []).append(t)
            by_cat.append(cats)
        for ln in p.lines:
            if not ln.counts:
                continue
            spent, spent_fy = 0, None
            for mo, cats in zip(visible, by_cat):
                fy = financial_year_of(mo.end)
                if fy != spent_fy:
                    spent, spent_fy = 0, fy
                start, stop = _line_bounds(ln, fy)
                spent += sum(-t.amount for t in cats.get(ln.category, ()) if start <= t.date <= stop)
                if not (start <= mo.end and stop >= mo.first):
                    continue
                fs, fe = financial_year_bounds(fy)
                btd = pro_rata(ln.annual, (min(mo.end, stop) - start).days + 1, (fe - fs).days + 1)
                limit = min(btd + pct_of(btd, 10), ln.annual)
                if spent > limit:
                    self.gt(mo.period, "SP-OVER-BUDGET", mo.end, spent - limit, ln.category,
                            f"line {line_id(ln, fy)} spent {pounds(spent)} to date, limit {pounds(limit)}")
        # RV-REVIEW-DUE: 3 months after dp_start, then every 6 months
        first, last = parse_period(self.periods[0])[0], parse_period(self.periods[-1])[1]
        if p.status == "active":
            k = 3
            while True:
                due = add_months(p.dp_start, k)
                if due > last or (p.dp_end and due > p.dp_end):
                    break
                if due >= first:
                    self.gt(due.strftime("%Y-%m"), "RV-REVIEW-DUE", due, None, "", f"review due {due}")
                k += 6
        # payroll: DBS, insurance per wage payment seen on a statement; minimum wage per payslip
        for mo in self.months:
            for e, t, slip in mo.wages:
                if t is not None and not mo.missing:
                    if e.dbs_issue is None or add_months(e.dbs_issue, 36) < t.date:
                        self.gt(mo.period, "PY-DBS-MISSING", t.date, -t.amount, t.payee,
                                f"{e.employee_id} DBS issued {e.dbs_issue}")
                    if not any(s <= t.date <= en and el == "yes" for _, _, s, en, el in p.insurance):
                        self.gt(mo.period, "PY-NO-INSURANCE", t.date, -t.amount, t.payee,
                                f"no employer's liability cover on {t.date}")
                if slip is not None:
                    hours = Decimal(slip[4])
                    minimum = min_wage_pence(e.dob, slip[1])
                    if slip[5] < minimum * hours:
                        short = round_half_up_pence(minimum * hours) - slip[5]
                        self.gt(mo.period, "PY-BELOW-MIN-WAGE", slip[1], short, t.payee if t else e.name,
                                f"{e.employee_id} paid {pounds(slip[5])} for {slip[4]} h, minimum "
                                f"{pounds(minimum)}/h")


def line_id(ln: Line, fy: int) -> str:
    return f"L{ln.n:02d}-FY{fy}"


def _split(total: int, n: int, rng: random.Random) -> list[int]:
    """``total`` pence in ``n`` positive random parts that add up exactly."""
    if n <= 1:
        return [total]
    w = [rng.random() + 0.5 for _ in range(n)]
    s = sum(w)
    parts = [max(1, int(total * x / s)) for x in w[:-1]]
    parts.append(total - sum(parts))
    if parts[-1] <= 0:
        return [total]
    return parts
