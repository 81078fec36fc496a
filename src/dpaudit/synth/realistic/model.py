"""Plain data model of the simulated council (integer pence, datetime.date)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta


def money(p: int | None) -> str:
    if p is None:
        return ""
    s = "-" if p < 0 else ""
    p = abs(p)
    return f"{s}{p // 100}.{p % 100:02d}"


def money_gbp(p: int, sign_before: bool = True) -> str:
    s = "-" if p < 0 else ""
    p = abs(p)
    return f"{s}£{p // 100:,}.{p % 100:02d}"


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def month_start(period: str) -> date:
    y, m = period.split("-")
    return date(int(y), int(m), 1)


def add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    y = d.year + m // 12
    m = m % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def periods(fy: int) -> list[str]:
    out = []
    d = date(fy, 4, 1)
    for _ in range(12):
        out.append(month_of(d))
        d = add_months(d, 1)
    return out


def days(a: date, b: date):
    d = a
    while d <= b:
        yield d
        d += timedelta(days=1)


def half_up_div(num: int, den: int) -> int:
    """round(num/den) half away from zero for non-negative num, den>0"""
    if num < 0:
        return -half_up_div(-num, den)
    return (2 * num + den) // (2 * den)


@dataclass
class Line:
    line_id: str
    category: str
    description: str
    annual: int
    stream: str
    mgmt: str
    vfrom: date
    vto: date
    school: bool = False
    consent: date | None = None
    providers: list = field(default_factory=list)
    invalid: bool = False
    part_year: bool = False
    fixed: bool = False  # annual fixed by the plant, not sized from spend


@dataclass
class Employee:
    eid: str
    name: str
    ni: str
    dob: date
    rate: int  # pence per hour
    start: date
    end: date | None
    dbs_number: str
    dbs_issue: date | None
    payee_names: list
    bank_name: str  # how the bank shows the payee
    hours: float
    freq: str  # weekly / monthly
    payday: int  # weekday (weekly) or day of month (monthly)
    plan: object = None  # extended councils: hours(period_start, period_end) for planted PAs


@dataclass
class Txn:
    d: date
    amt: int  # signed pence, debits negative
    desc: str
    typ: str  # generic: CARD DD SO FPO FPI BGC ATM FEE TFR DEP
    kind: str
    cat: str | None = None
    emp: str | None = None
    evid: str | None = None  # doc / payslip / hmrc / bank / None
    mismatch: int = 0  # document amount minus debit amount (EV-AMOUNT-MISMATCH)
    dup: bool = False  # SP-DUPLICATE-PAYMENT (the second of a same-day pair)
    observed: bool = True
    note: str = ""
    seq: int = 0
    payee: str = ""
    ref: str = ""
    sched: object = None  # scheduled council payment this credit settles
    planted: list = field(default_factory=list)  # extra [(rule, amount, note)]
    amb_line: bool = False  # might arguably count against its category's line
    net_diff: int = 0  # bank net minus payslip net (PY-NET-MISMATCH)
    payslip_missing: bool = False
    fitid: str = ""
    doc_ids: list = field(default_factory=list)
    # prepaid cards (extended councils only): merchant category code, portal status of the
    # money-moving row (settled / authorised), date of the authorisation row that preceded the
    # settlement (not money moved), and the portal's reference shared by the two
    mcc: str = ""
    card_status: str = ""
    auth_d: date | None = None
    card_ref: str = ""

    @property
    def period(self) -> str:
        return month_of(self.d)


@dataclass
class Doc:
    kind: str  # receipt / invoice
    doc_id: str
    d: date
    supplier: str
    amount: int
    description: str
    category: str = ""
    folder: str = ""  # period folder it is filed in
    orphan: bool = False
    bad_amount: str | None = None  # written instead of the amount (rejected row)
    period_start: date | None = None
    period_end: date | None = None
    hours: float | None = None
    date_fmt: str = "iso"
    attachment: str = ""


@dataclass
class Sched:
    due: date
    amount: int
    ref: str
    arrived: int | None = None  # amount that arrived
    arrived_on: date | None = None


@dataclass
class CardRow:
    """a prepaid-card portal row that moves no money (declined, reversed)"""
    d: date
    amt: int  # signed pence as the portal prints it
    merchant: str
    mcc: str
    status: str
    ref: str
    note: str = ""


@dataclass
class Contribution:
    """one contributions.csv row: the family's assessed client contribution"""
    amount: int
    freq: str  # weekly / 4-weekly / monthly
    start: date
    end: date | None = None


@dataclass
class Recipient:
    rid: str
    child_first: str
    surname: str
    dob: date
    mgmt: str
    sort_code: str  # 30-96-26
    account: str
    holder: str
    holder_first: str
    start: date | None
    end: date | None
    status: str
    stop_req: bool
    officer: str
    fmt: str
    lines: list = field(default_factory=list)
    employees: list = field(default_factory=list)
    insurance: list = field(default_factory=list)
    schedule: list = field(default_factory=list)
    txns: list = field(default_factory=list)
    docs: list = field(default_factory=list)
    payslips: list = field(default_factory=list)
    hmrc: list = field(default_factory=list)
    opening: int = 0
    plants: list = field(default_factory=list)  # human readable
    tags: set = field(default_factory=set)
    extra_files: list = field(default_factory=list)  # (period, relpath, kind, payload)
    missing_months: set = field(default_factory=set)
    ofx_cut: dict = field(default_factory=dict)  # period -> last covered date
    break_month: str | None = None
    dup_statement: tuple | None = None  # (from_period, to_period)
    dup_receipts: tuple | None = None
    wrong_account: str | None = None  # period
    twin_of: str | None = None
    state_findings: list = field(default_factory=list)
    ambiguous: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    # extended councils only
    card_last4: str = ""  # prepaid-card recipient: account_number in recipients.csv
    card_ghosts: list = field(default_factory=list)  # CardRow: declined / reversed rows
    contributions: list = field(default_factory=list)  # Contribution rows
    wrong_card: tuple | None = None  # (period, card_last4) of another card's export

    @property
    def is_card(self) -> bool:
        return bool(self.card_last4)

    @property
    def is_dp(self) -> bool:
        return self.mgmt in ("direct_payment", "combination")
