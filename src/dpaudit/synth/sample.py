"""The bundled sample council (``sample_data/``): 14 recipients, 2026-01..2026-03 (end of FY2025).

Each recipient has a hand-written scenario on top of the generator's building blocks
(:class:`dpaudit.synth.sim.RecipientSim`): a normal month raises nothing, and the script plants
named cases in named months so that every rule id of rules.md fires at least once, with
near misses that must NOT fire (a refund from an agreed provider, a PA paid under a nickname
listed in ``employees.payee_names``).  ``build_sample(out_dir)`` writes the data, the
``ground_truth.csv`` / ``expected_findings.csv`` truth files and ``README.md``; it is
deterministic, so ``python -m dpaudit.synth --sample sample_data`` regenerates the committed copy.
"""
from __future__ import annotations

import csv
import io
import random
import shutil
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from dpaudit.core.money import round_half_up_pence
from dpaudit.synth import card
from dpaudit.synth.cohort import plant_sample_cohort
from dpaudit.synth.council import CouncilWriter, _write
from dpaudit.synth.contributions import plant_contributions
from dpaudit.synth.formats import Account, Txn, ofx2
from dpaudit.synth.sim import Employee, Line, Month, Profile, RecipientSim

PERIODS = ["2026-01", "2026-02", "2026-03"]
FY = 2025
EXPECTED_COLUMNS = ["period", "recipient_id", "rule_id", "amount", "note"]

XXE_DOCTYPE = '<!DOCTYPE OFX [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>'
HYPERLINK = '=HYPERLINK("http://x","y")'


@dataclass
class Scenario:
    profile: Profile
    story: str                                   # one paragraph for the README
    script: dict[int, list[tuple[str, dict]]] = field(default_factory=dict)  # month index -> cases
    periods: list[str] = field(default_factory=lambda: list(PERIODS))


def _emp(rid: str, k: int, name: str, dob: date, rate: int, hours: int, dbs_issue: date | None,
         bank_name: str | None = None, payee_names: list[str] | None = None) -> Employee:
    first, sur = name.split(" ", 1)
    names = payee_names or [name.upper(), f"{first[0]} {sur}".upper()]
    return Employee(employee_id=f"E{rid[1:]}{k}", name=name, ni=f"JT{int(rid[1:]) * 10000 + k * 137:06d}A",
                    dob=dob, rate=rate, hours=hours, start=date(2024, 6, 1),
                    dbs_number=f"{int(rid[1:]) * 1000 + k:012d}", dbs_issue=dbs_issue, payee_names=names,
                    bank_name=bank_name or names[0])


def _lines(pa: list[Employee], *, agency: int = 0, day: int = 0, transport: int = 0, community: int = 0,
           payroll: int = 2000, agency_name: str = "BRIGHT HOMECARE LTD",
           day_providers: tuple[str, ...] = ("LIFE LEISURE", "GRAVITY TRAMPOLINE PARK", "CINEWORLD CINEMA"),
           transport_providers: tuple[str, ...] = ("STOCKPORT TAXI CO", "METROLINK")) -> list[Line]:
    out: list[Line] = []
    if pa:
        out.append(Line(len(out) + 1, "personal_assistant", "Personal assistant support",
                        sum(g + er for g, _, _, er, _ in (e.payroll() for e in pa)), []))
        out.append(Line(len(out) + 1, "payroll_services", "Payroll service", payroll, ["PENINSULA PAYROLL"]))
    if agency:
        out.append(Line(len(out) + 1, "agency_care", "Home care agency", agency, [agency_name],
                        funding_stream="chc_joint"))
    if day:
        out.append(Line(len(out) + 1, "day_activities", "Leisure and day activities", day, list(day_providers)))
    if transport:
        out.append(Line(len(out) + 1, "transport", "Transport to activities", transport, list(transport_providers)))
    if community:
        out.append(Line(len(out) + 1, "community_access", "Youth club and scouts", community,
                        ["STOCKPORT YOUTH CLUB", "1ST CHEADLE SCOUTS"]))
    return out


def _profile(rid: str, fmt: str, child: str, dob: date, sort_code: str, acct: str, dp_start: date,
             lines: list[Line], employees: list[Employee], opening_permille: int, **kw) -> Profile:
    holder = "Mr and Mrs " + child.split()[-1]
    p = Profile(rid=rid, child_name=child, dob=dob, account=Account(sort_code, acct, holder), fmt=fmt,
                dp_start=dp_start, lines=lines, employees=employees, opening=0,
                paye_ref=f"120PA{int(rid[1:]):08d}", **kw)
    if employees and not p.insurance:
        p.insurance = [(f"EL-{rid}", "Mark Bates Ltd", date(2025, 6, 1), date(2026, 5, 31), "yes")]
    p.opening = round_half_up_pence(Decimal(p.annual_value(FY)) * opening_permille / 1000)
    return p


def scenarios() -> list[Scenario]:
    S: list[Scenario] = []
    adult = date(1985, 3, 14)

    # R00001 - OFX 2.x, clean in every month
    e = [_emp("R00001", 1, "Sarah Holt", adult, 1350, 80, date(2025, 2, 3))]
    S.append(Scenario(_profile("R00001", "ofx2", "Amelia Clarke", date(2015, 6, 2), "202678", "03914726",
                               date(2024, 1, 10), _lines(e, day=30000, transport=15000, community=6000), e, 120,
                               officer="A. Turner", charge=500),
                      "OFX 2.x. A well-run account: PA paid with payslips, PAYE on time, every purchase receipted. "
                      "Clean in all three months."))

    # R00002 - Nationwide CSV, nickname payee and provider refund (near misses), review due in Feb
    e = [_emp("R00002", 1, "Margaret Ellis", date(1968, 9, 30), 1400, 70, date(2024, 11, 18), bank_name="PEGGY ELLIS",
              payee_names=["MARGARET ELLIS", "PEGGY ELLIS", "M ELLIS"])]
    S.append(Scenario(_profile("R00002", "nationwide", "Oliver Wright", date(2017, 1, 22), "070116", "18273645",
                               date(2025, 5, 14), _lines(e, day=25000, transport=12000), e, 110,
                               officer="B. Hussain", charge=0, uk_dates=True),
                      "Nationwide CSV; receipts dated DD/MM/YYYY. The PA Margaret Ellis is paid as \"PEGGY ELLIS\", "
                      "a name listed in employees.payee_names (near miss: no PY-UNKNOWN-PAYEE / PY-NO-PAYSLIP). "
                      "In January GRAVITY TRAMPOLINE PARK, an agreed provider, refunds £12.50 (near miss: no "
                      "AC-NON-COUNCIL-CREDIT). DP started 2025-05-14, so a review is due on 2026-02-14.",
                      {0: [("refund", {"payee": "GRAVITY TRAMPOLINE PARK", "amount": 1250, "day": 16})]}))

    # R00003 - Lloyds CSV, large misuse in Jan and Feb (REPAY and STOP)
    e = [_emp("R00003", 1, "Joanne Marsh", adult, 1325, 90, date(2024, 7, 8))]
    S.append(Scenario(_profile("R00003", "lloyds", "Isla Khan", date(2013, 11, 5), "309634", "00456123",
                               date(2023, 7, 3), _lines(e, agency=4 * 2450 * 8, day=20000, transport=10000), e, 150,
                               officer="C. Doyle"),
                      "Lloyds CSV. Gambling and household bills paid from the DP account in January and February "
                      "(high-severity misuse in 2 of the last 3 periods, well over £1,000): REPAY and STOP. "
                      "March is clean.",
                      {0: [("prohibited", {"payee": "BET365", "amount": 45000, "receipt": False, "day": 9}),
                           ("household", {"payee": "BRITISH GAS", "amount": 18000, "receipt": False, "day": 15}),
                           ("household", {"payee": "TESCO STORES 2431", "amount": 9640, "receipt": True, "day": 20})],
                       1: [("prohibited", {"payee": "WILLIAM HILL", "amount": 60000, "receipt": False, "day": 6}),
                           ("household", {"payee": "TESCO STORES 2431", "amount": 31255, "receipt": False,
                                          "day": 19})]}))

    # R00004 - OFX 1.x, family asked to stop; cash, transfer to own account, March statement missing
    e = [_emp("R00004", 1, "Paul Nolan", date(1990, 4, 2), 1300, 60, date(2025, 4, 22))]
    S.append(Scenario(_profile("R00004", "ofx1", "George Patel", date(2012, 8, 19), "401122", "71234560",
                               date(2024, 8, 19), _lines(e, day=22000, transport=9000), e, 130,
                               officer="D. Mensah", stop_requested="yes"),
                      "OFX 1.x (SGML). The family asked for the direct payment to stop (stop_requested=yes: STOP "
                      "ground). A £100 cash withdrawal in January, a £250 transfer to the parent's own account in "
                      "February (both without receipts), and no statement for March (payslips and HMRC record "
                      "only).",
                      {0: [("cash", {"amount": 10000, "day": 13})],
                       1: [("transfer_out", {"payee": "TRANSFER TO 12-34-56 87654321", "amount": 25000, "day": 11})],
                       2: [("missing", {})]}))

    # R00005 - canonical CSV, plan problems
    e = [_emp("R00005", 1, "Rachel Shaw", adult, 1450, 50, date(2024, 12, 2))]
    lines = _lines(e, day=18000, transport=8000)
    lines.append(Line(len(lines) + 1, "small_aids", "Sensory equipment", 2500, ["COMPLETE CARE SHOP"], regular=False))
    lines.append(Line(len(lines) + 1, "education_support", "Tuition in school setting", 20000,
                      ["BRIGHTSTART TUITION"], funding_stream="hnb_topup_maintained", school_setting="yes",
                      regular=False))
    lines.append(Line(len(lines) + 1, "training", "Independent travel training (high-needs block)", 10000,
                      ["STOCKPORT TRAVEL TRAINING"], funding_stream="hnb_support", regular=False, invalid=True,
                      valid_from=date(2026, 1, 1), valid_to=date(2026, 3, 31), annual_override=120000))
    S.append(Scenario(_profile("R00005", "canonical", "Ava Roberts", date(2011, 2, 27), "608371", "09871234",
                               date(2022, 9, 5), lines, e, 120, officer="A. Turner"),
                      "Canonical CSV. A plan line funded from hnb_support (notional only, PBP App. I) is set up as "
                      "a direct payment from January (DQ-PLAN-INVALID). A school-setting tuition line has no "
                      "setting consent and is spent on in February (SP-SCHOOL-CONSENT). £420 of sensory equipment "
                      "against a £300-a-year line in February (SP-OVER-BUDGET in February and March while it "
                      "lasts). A physiotherapy session in March with no therapy line (SP-NOT-IN-PLAN). The March "
                      "statement opens £100.00 above February's closing balance (DQ-BALANCE-BREAK).",
                      {0: [("plan_invalid", {})],
                       1: [("school_spend", {"amount": 20000, "day": 12}),
                           ("aids_spend", {"amount": 42000, "day": 17})],
                       2: [("not_in_plan", {"amount": 6500, "day": 10}), ("balance_break", {"shift": 10000})]}))

    # R00006 - OFX 2.x, evidence problems, bad rows, hostile file
    e = [_emp("R00006", 1, "Claire Gibson", adult, 1380, 75, date(2025, 1, 20))]
    S.append(Scenario(_profile("R00006", "ofx2", "Noah Evans", date(2016, 10, 11), "112233", "04455667",
                               date(2024, 2, 12), _lines(e, day=26000, transport=11000), e, 120, officer="B. Hussain"),
                      "OFX 2.x. January: one purchase has no receipt (EV-NO-EVIDENCE); receipts.csv has two bad "
                      "rows, a date 31/02/2026 and an amount £1,234.5O (DQ-ROW-REJECTED each), and a valid receipt "
                      "whose description is the text =HYPERLINK(\"http://x\",\"y\") (must stay text in the "
                      "workbook; no finding). February: a receipt matches a debit by supplier and date but not "
                      "amount (EV-AMOUNT-MISMATCH). March: a receipt with no debit (EV-ORPHAN-RECEIPT), a purchase "
                      "paid twice within 3 days with one receipt (SP-DUPLICATE-PAYMENT + EV-NO-EVIDENCE), and a "
                      "hostile OFX 2.x file with an external entity (XXE) that must be quarantined "
                      "(DQ-ROW-REJECTED).",
                      {0: [("no_evidence", {}), ("bad_row", {"which": 0}), ("bad_row", {"which": 1}),
                           ("hyperlink", {})],
                       1: [("amount_mismatch", {"delta": 450})],
                       2: [("orphan_receipt", {"amount": 2400, "day": 18}), ("duplicate_payment", {}),
                           ("hostile", {})]}))

    # R00007 - Nationwide CSV, account problems
    e = [_emp("R00007", 1, "Helen Irwin", adult, 1360, 60, date(2024, 10, 1))]
    S.append(Scenario(_profile("R00007", "nationwide", "Mia Walker", date(2014, 4, 8), "070093", "25836914",
                               date(2023, 3, 20), _lines(e, agency=4 * 2450 * 6, day=15000, transport=8000), e, 140,
                               officer="C. Doyle"),
                      "Nationwide CSV. January: £150 paid in by a relative (AC-NON-COUNCIL-CREDIT). February: the "
                      "council payment arrives 20% short (AC-PAYMENT-MISSING), and the family also sent a "
                      "statement of their personal account (DQ-WRONG-ACCOUNT). March: a large agency invoice is "
                      "paid before a scheduled top-up arrives and the account is overdrawn for four days "
                      "(AC-OVERDRAWN).",
                      {0: [("non_council_credit", {"payee": "TRANSFER FROM J SMITH", "amount": 15000, "day": 8})],
                       1: [("payment_short", {"pct": 20}), ("wrong_account", {})],
                       2: [("overdrawn", {"extra": 8520})]}))

    # R00008 - canonical CSV, surplus; unknown payee
    e = [_emp("R00008", 1, "Emma Fletcher", adult, 1400, 85, date(2025, 3, 3))]
    S.append(Scenario(_profile("R00008", "canonical", "Leo Thompson", date(2010, 12, 1), "204512", "63527180",
                               date(2021, 7, 1), _lines(e, day=20000, transport=10000), e, 340, officer="D. Mensah"),
                      "Canonical CSV. Funds are held back: the month-end balance is above 10% of the annual DP "
                      "value plus 8 weeks (AC-SURPLUS every month). In February three round £100 payments go to "
                      "\"K OKAFOR\", who is not a registered employee (PY-UNKNOWN-PAYEE + EV-NO-EVIDENCE each).",
                      {1: [("unknown_payee", {"payee": "K OKAFOR", "amount": 10000, "days": (3, 10, 17)})]}))

    # R00009 - Lloyds CSV, low contingency and payroll problems
    e = [_emp("R00009", 1, "Michelle Parry", adult, 1420, 95, date(2024, 9, 16)),
         _emp("R00009", 2, "Andrew Quinn", date(1999, 6, 6), 1350, 40, date(2025, 5, 12))]
    S.append(Scenario(_profile("R00009", "lloyds", "Freya Green", date(2015, 3, 3), "771234", "00987612",
                               date(2024, 9, 9), _lines(e, day=12000, transport=6000), e, 30, officer="A. Turner"),
                      "Lloyds CSV. The balance sits under 5% of the annual DP value (AC-LOW-CONTINGENCY every "
                      "month). January: a wage paid with no payslip (PY-NO-PAYSLIP + EV-NO-EVIDENCE). February: "
                      "the bank payment is £20 less than the payslip's net pay (PY-NET-MISMATCH). March: only half "
                      "of February's PAYE/NI reaches HMRC by the 22nd (PY-HMRC-UNPAID).",
                      {0: [("no_payslip", {})], 1: [("net_mismatch", {"delta": 2000})],
                       2: [("hmrc_unpaid", {"pct": 50})]}))

    # R00010 - OFX 1.x, statement gap, insurance lapsed
    e = [_emp("R00010", 1, "Nicola Riley", adult, 1330, 70, date(2024, 5, 20))]
    S.append(Scenario(_profile("R00010", "ofx1", "Arthur Jackson", date(2013, 7, 17), "160042", "30405060",
                               date(2025, 1, 6), _lines(e, day=16000, transport=7000), e, 120, officer="B. Hussain",
                               insurance=[("EL-R00010", "Fish Insurance", date(2025, 2, 1), date(2026, 1, 31), "yes")]),
                      "OFX 1.x. The January statement's DTEND is 25 January, so 26-31 January are covered by no "
                      "statement (DQ-STATEMENT-GAP; nothing happened on the account on those days). The "
                      "employer's liability policy ended on 31 January and was not renewed: the PA's February "
                      "and March wages (PY-NO-INSURANCE each).",
                      {0: [("gap", {})]}))

    # R00011 - OFX 2.x with merchant category codes; wage and DBS problems; duplicate file
    e = [_emp("R00011", 1, "Steven Vaughan", adult, 1300, 80, date(2023, 3, 10))]
    S.append(Scenario(_profile("R00011", "ofx2", "Ivy Harris", date(2012, 5, 25), "309912", "55667788",
                               date(2023, 8, 14), _lines(e, day=21000, transport=9000), e, 120, officer="C. Doyle"),
                      "OFX 2.x. January: a £75 payment to \"SKRILL PAYMENTS\" whose OFX <SIC> merchant category "
                      "code is 7995 (gambling) - no keyword, only the MCC says it (SP-PROHIBITED + "
                      "EV-NO-EVIDENCE). February: the payslip shows more hours for the same gross, below the "
                      "National Living Wage (PY-BELOW-MIN-WAGE), and the statement was sent twice under another "
                      "name (DQ-DUPLICATE-FILE). March: the PA's DBS check (issued 2023-03-10) is over 3 years old "
                      "on the pay date (PY-DBS-MISSING).",
                      {0: [("prohibited", {"payee": "SKRILL PAYMENTS", "amount": 7500, "receipt": False,
                                           "mcc": "7995", "day": 21})],
                       1: [("below_min_wage", {}), ("duplicate_file", {})]}))

    # R00012 - canonical CSV, stopped; spending continued in January
    S.append(Scenario(_profile("R00012", "canonical", "Ruby Lewis", date(2009, 9, 9), "401290", "12121212",
                               date(2022, 2, 1), [Line(1, "day_activities", "Leisure and day activities", 6000,
                                                       ["LIFE LEISURE", "TENPIN BOWLING"], purchases=4)], [], 220,
                               officer="D. Mensah", status="stopped", dp_end=date(2025, 12, 31), charge=0,
                               council_credit=False),
                      "Canonical CSV. The direct payment ended on 31 December 2025 (status stopped) but four "
                      "purchases were made in January (SP-AFTER-END each; receipts present). The account is "
                      "closed after January: no statements are expected for February and March.",
                      periods=["2026-01"]))

    S.extend(card.card_scenarios())  # R00013, R00014: prepaid cards (dpaudit.synth.card)
    return S


# ---------------------------------------------------------------------------------------------
# Sample-only cases (the generator's cases are RecipientSim._a_* methods)
# ---------------------------------------------------------------------------------------------
def _refund(sim: RecipientSim, mo: Month, payee: str, amount: int, day: int) -> None:
    mo.add(mo.day(day), amount, payee, "refund", "REFUND")


def _hyperlink(sim: RecipientSim, mo: Month) -> None:
    row = next(r for r in mo.receipts if r[5] == "day_activities")
    row[4] = HYPERLINK


def _hostile(sim: RecipientSim, mo: Month) -> None:
    p = sim.p
    tx = [Txn(mo.day(2), -1500, "XXE-PLACEHOLDER", "card", seq=1)]
    data = ofx2(p.account, tx, mo.first, mo.end, 100000, doctype=XXE_DOCTYPE)
    mo.extra["statement_xxe.ofx"] = data.replace(b"<NAME>XXE-PLACEHOLDER</NAME>", b"<NAME>&xxe;</NAME>")
    sim.gt(mo.period, "DQ-ROW-REJECTED", None, None, "",
           "statement_xxe.ofx declares an external entity (file:///etc/passwd): whole file quarantined")


def _school_spend(sim: RecipientSim, mo: Month, amount: int, day: int) -> None:
    ln = next(ln for ln in sim.p.lines if ln.school_setting == "yes")
    d = mo.day(day)
    sim.spend(mo, d, ln.providers[0], amount, ln.category, kind="payment")
    sim.gt(mo.period, "SP-SCHOOL-CONSENT", d, amount, ln.providers[0], "school-setting line with no consent date")


def _aids_spend(sim: RecipientSim, mo: Month, amount: int, day: int) -> None:
    ln = next(ln for ln in sim.p.lines if ln.category == "small_aids")
    sim.spend(mo, mo.day(day), ln.providers[0], amount, ln.category)


def _plan_invalid(sim: RecipientSim, mo: Month) -> None:
    ln = next(ln for ln in sim.p.lines if ln.invalid)
    sim.gt(mo.period, "DQ-PLAN-INVALID", ln.valid_from, ln.annual, "",
           f"line {ln.n:02d} funding stream {ln.funding_stream} is notional only but paid as direct payment")


SAMPLE_CASES = {**card.CASES, "refund": _refund, "hyperlink": _hyperlink, "hostile": _hostile, "school_spend": _school_spend,
                "aids_spend": _aids_spend, "plan_invalid": _plan_invalid}
PRE_BUILD = {"gap"}


def simulate_scenario(sc: Scenario) -> RecipientSim:
    rng = random.Random(f"dpaudit-sample:{sc.profile.rid}")
    sim = RecipientSim(sc.profile, rng, sc.periods)
    for idx, period in enumerate(sc.periods):
        mo = Month(idx, period)
        cases = sc.script.get(idx, [])
        for kind, kw in cases:
            if kind in PRE_BUILD:
                sim.plant(mo, kind, **kw)
        sim.base_month(mo)
        for kind, kw in cases:
            if kind in PRE_BUILD:
                continue
            if callable(kind):  # a case planted by another module (synth.contributions)
                kind(sim, mo, **kw)
            elif kind in SAMPLE_CASES:
                SAMPLE_CASES[kind](sim, mo, **kw)
            elif not sim.plant(mo, kind, **kw):
                raise RuntimeError(f"sample case {kind} does not apply to {sc.profile.rid} {period}")
        sim.finish(mo)
    sim.after_end_truth()
    sim.derive()
    return sim


# ---------------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------------
def _readme(sims: list[RecipientSim], stories: dict[str, str], formats: dict[str, str]) -> str:
    by: dict[tuple[str, str], list[list[str]]] = {}
    for sim in sims:
        for r in sim.truth:
            by.setdefault((r[1], r[0]), []).append(r)
    fmt_name = {"ofx1": "OFX 1.x", "ofx2": "OFX 2.x", "canonical": "canonical CSV", "nationwide": "Nationwide CSV",
                "lloyds": "Lloyds CSV", **card.FORMAT_NAMES}
    out = [
        "# Sample council (demo data and end-to-end fixture)",
        "",
        "Fourteen direct-payment recipients (two of them paid onto prepaid cards) of a fictional council over **2026-01, 2026-02 and 2026-03** - the last "
        "quarter of FY2025, so a year end at 31 March 2026 runs on it. Opening balances at 1 January 2026 are "
        "those of the first statement. The layout is the data contract's (`reference/`, "
        "`inbox/<YYYY-MM>/<recipient_id>/`). Everything here is generated by `build_sample()` in "
        "`src/dpaudit/synth/sample.py`; regenerate it with",
        "",
        "```",
        "python -m dpaudit.synth --sample sample_data",
        "```",
        "",
        "(a test checks the committed copy equals a fresh build). All names, accounts and NI numbers are invented.",
        "",
        "Files: `ground_truth.csv` (`period, recipient_id, rule_id, txn_date, amount, counterparty, note`) and "
        "`expected_findings.csv` (`period, recipient_id, rule_id, amount, note`) list every finding the audit "
        "should raise, one row per finding, `amount` = money at stake per rules.md (blank where none).",
        "",
        "## How a normal month looks (and raises nothing)",
        "",
        "The council pays the sum of the plan lines' monthly amounts on the 1st (`payment_schedule.csv`). PAs are "
        "paid monthly with a payslip whose net equals the bank payment; last month's PAYE/NI reaches HMRC well "
        "before the 22nd (`hmrc.csv`); agency care and payroll fees are paid against invoices; every purchase "
        "has a receipt with the same supplier name as the bank line and the plan line's providers, dated 0-2 days "
        "before it, with the exact amount. Balances are continuous to the penny across months; the month-end "
        "balance stays between 5% and 10% + 8 weeks of the annual DP value; DBS checks are recent and "
        "employer's liability insurance in force.",
        "",
        "## Recipients",
        "",
        "| recipient | statement format | scenario |",
        "|---|---|---|",
    ]
    for sim in sims:
        out.append(f"| {sim.p.rid} | {fmt_name[formats[sim.p.rid]]} | {stories[sim.p.rid]} |")
    out += ["", "## Planted findings by recipient and month", "",
            "| recipient | month | rule ids (count) | amounts (£) |", "|---|---|---|---|"]
    clean = []
    for sim in sims:
        for period in PERIODS:
            rows = by.get((sim.p.rid, period), [])
            if period not in sim.periods:
                out.append(f"| {sim.p.rid} | {period} | - (stopped: no statement expected) | |")
                continue
            if not rows:
                clean.append(f"{sim.p.rid} {period}")
                out.append(f"| {sim.p.rid} | {period} | **clean** | |")
                continue
            counts: dict[str, int] = {}
            for r in rows:
                counts[r[2]] = counts.get(r[2], 0) + 1
            rules = ", ".join(f"{k}" + (f" ({v})" if v > 1 else "") for k, v in counts.items())
            amounts = "; ".join(f"{r[2]} {r[4]}" for r in rows if r[4])
            out.append(f"| {sim.p.rid} | {period} | {rules} | {amounts} |")
    out += ["", "## Clean recipient-months (no finding at all)", "", ", ".join(clean), "",
            "## Bad rows and the hostile file", "",
            "- `inbox/2026-01/R00006/receipts.csv`: the last two rows are invalid - one dated `31/02/2026`, one "
            "with amount `£1,234.5O` (letter O). Each is one `DQ-ROW-REJECTED`; the other rows load.",
            f"- `inbox/2026-01/R00006/receipts.csv`: a valid receipt whose description is `{HYPERLINK}`. It "
            "matches a debit (no finding) and must appear as text, never as a formula, in any workbook.",
            "- `inbox/2026-03/R00006/statement_xxe.ofx`: an OFX 2.x file with `<!DOCTYPE OFX [<!ENTITY xxe SYSTEM "
            "\"file:///etc/passwd\">]>` and `&xxe;` in a payee name. It must be quarantined whole "
            "(`DQ-ROW-REJECTED`), never expanded.",
            "- `inbox/2026-02/R00011/statement_2026-02 (1).ofx`: byte-identical copy of the February statement "
            "(`DQ-DUPLICATE-FILE`; nothing counted twice).",
            "- `inbox/2026-02/R00007/personal_account.csv`: a statement of another account (sort code 401276) "
            "(`DQ-WRONG-ACCOUNT`; its transactions are not the DP account's).",
            *card.README_NOTES,
            "",
            "## Near misses (must NOT fire)",
            "",
            "- R00002: wages to `PEGGY ELLIS`, a payee name of employee Margaret Ellis in `employees.csv`.",
            "- R00002 2026-01: a £12.50 refund credit from GRAVITY TRAMPOLINE PARK, an agreed provider of the plan.",
            "- R00012 2026-02/03: no statements, but the recipient is stopped (no DQ-STATEMENT-MISSING).",
            *card.NEAR_MISSES,
            "",
            "## Conventions used for the expected amounts",
            "",
            "- AC-LOW-CONTINGENCY: 5% of the annual DP value minus the month-end balance; AC-SURPLUS: month-end "
            "balance minus (10% of the annual DP value + annual value x 8/52), each rounded half-up to 1p.",
            "- SP-OVER-BUDGET: spend to date minus min(budget to date x 1.10, annual amount); budget to date = "
            "annual amount x days from 1 April (or valid_from) to month end / days in the financial year.",
            "- DQ-BALANCE-BREAK: the difference between opening and last closing balance; DQ-PLAN-INVALID: the "
            "line's annual amount; DQ-* about files and rows: blank.",
            "- PY-BELOW-MIN-WAGE: minimum rate x hours minus gross; PY-DBS-MISSING and PY-NO-INSURANCE: the wage "
            "payment; AC-OVERDRAWN: the lowest end-of-day balance's size; EV-ORPHAN-RECEIPT: the receipt amount.",
            "- A debit without any receipt is also EV-NO-EVIDENCE (misuse included); a wage without a payslip is "
            "PY-NO-PAYSLIP and EV-NO-EVIDENCE; a wage whose payslip exists but differs is PY-NET-MISMATCH only.",
            "- RV-REVIEW-DUE falls in the month of dp_start_date + 3 months + k x 6 months (R00002: 2026-02-14).",
            ""]
    return "\n".join(out)


# What a finance officer decides on February's recommendations in the demo (`make demo` imports it,
# then re-writes February's reports, which gives the REPAY and STOP letters).
OFFICER_DECISIONS = """exception_id,decision,officer,decided_at,note
REC-2026-02-R00003,accept,A. Finance,2026-03-09T10:15:00,Gambling and household bills two months running: stop and recover
REC-2026-02-R00006,accept,A. Finance,2026-03-09T10:20:00,Recover the unevidenced duplicate payment
REC-2026-02-R00008,query,A. Finance,2026-03-09T10:25:00,Ask the family whether the balance is committed to planned respite
"""

# the officer's year-end decisions (make demo imports them, then writes the accepted repayment's letter)
YEAR_END_DECISIONS = """exception_id,decision,officer,decided_at,note
YE-FY2025-R00007,accept,A. Finance,2026-04-14T09:30:00,Surplus above the 10% carry-forward: recover
YE-FY2025-R00008,query,A. Finance,2026-04-14T09:35:00,February's query about planned respite is still open: ask before recovering
YE-FY2025-R00012,dismiss,A. Finance,2026-04-14T09:40:00,Started in March: too small to recover
"""


def build_sample(out_dir: Path) -> None:
    """Write the sample council to ``out_dir`` (replacing what the builder owns there)."""
    out = Path(out_dir)
    for sub in ("reference", "inbox"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    scs = scenarios()
    contributions_readme = plant_contributions(scs, out)  # reference/contributions.csv and its cases
    cohort_readme = plant_sample_cohort(scs, SAMPLE_CASES)  # the cases across accounts (CO-*)
    writer = CouncilWriter(out)
    sims = []
    for sc in scs:
        sim = simulate_scenario(sc)
        sims.append(sim)
        writer.add(sim, [FY])
    writer.close()
    rows = [[r[0], r[1], r[2], r[4], r[6]] for r in sorted(writer.truth, key=lambda r: (r[0], r[1]))]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EXPECTED_COLUMNS)
    w.writerows(rows)
    _write(out / "expected_findings.csv", buf.getvalue().encode("utf-8"))
    _write(out / "officer_decisions.csv", OFFICER_DECISIONS.encode("utf-8"))
    _write(out / "year_end_decisions.csv", YEAR_END_DECISIONS.encode("utf-8"))
    stories = {sc.profile.rid: sc.story for sc in scs}
    formats = {sc.profile.rid: sc.profile.fmt for sc in scs}
    _write(out / "README.md", (_readme(sims, stories, formats) + "\n" + contributions_readme + cohort_readme).encode("utf-8"))
