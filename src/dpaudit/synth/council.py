"""Synthetic council generator with ground truth (and the builder of ``sample_data/``).

``generate(out_dir, recipients=, months=, seed=)`` writes a council in the contract layout
(``reference/*.csv`` and ``inbox/<YYYY-MM>/<recipient_id>/``): bank statements in five formats,
receipts, invoices, payslips and HMRC records, balances continuous to the penny, and with
``anomaly_rate`` a share of recipient-months carrying one planted anomaly.  Every finding the
audit should make is listed in ``ground_truth.csv``.

How the truth is made:
- transaction findings (SP-*, EV-*, AC-NON-COUNCIL-CREDIT, AC-PAYMENT-MISSING, PY-NO-PAYSLIP,
  PY-NET-MISMATCH, PY-HMRC-UNPAID, PY-UNKNOWN-PAYEE, DQ-*) are recorded when planted;
- state findings (AC-OVERDRAWN, AC-LOW-CONTINGENCY, AC-SURPLUS, SP-OVER-BUDGET, RV-REVIEW-DUE,
  PY-DBS-MISSING, PY-NO-INSURANCE, PY-BELOW-MIN-WAGE) are derived from the generated data with
  the rules.md definitions, so knock-on effects of a planted anomaly are in the truth too.

A normal recipient-month is built so that it raises nothing: the council pays the sum of the
plan lines' monthly amounts on the 1st, spending per line equals that line's monthly amount,
every debit has exact evidence, wages are paid with payslips and PAYE reaches HMRC before the
22nd, the balance stays between the contingency floor and the surplus ceiling.

Randomness: one ``random.Random`` per recipient seeded from (seed, recipient id), so output is
byte-identical for the same arguments and one recipient does not shift another's draws.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from dpaudit.core.dates import add_months, financial_year_bounds, financial_year_of, next_period, parse_period
from dpaudit.core.money import round_half_up_pence
from dpaudit.synth.cohort import ProviderSamples
from dpaudit.synth.formats import EXTENSIONS, Account, Txn, canonical, pounds, write_statement
from dpaudit.synth.sim import (EVIDENCE_COLUMNS, EXTRA_PROVIDERS, FIRST, GROUND_TRUTH_COLUMNS, INSURERS,
                               MONTH_KINDS, NI_PREFIX, OFFICERS, PA_FIRST, PA_SURNAMES, RECIPIENT_KINDS,
                               REFERENCE_COLUMNS, SUPPLIERS, SURNAMES, Employee, Line, Month, Profile, RecipientSim,
                               _line_bounds, _line_fy_overlap, line_id)

# ---------------------------------------------------------------------------------------------
# Random profiles for generate()
# ---------------------------------------------------------------------------------------------
def _ni(rng: random.Random) -> str:
    return f"{rng.choice(NI_PREFIX)}{rng.randint(0, 999999):06d}{rng.choice('ABCD')}"


def make_employee(rng: random.Random, rid: str, k: int, run_start: date, run_end: date) -> Employee:
    first, sur = rng.choice(PA_FIRST), rng.choice(PA_SURNAMES)
    bank = rng.choice((f"{first} {sur}".upper(), f"{first[0]} {sur}".upper()))
    # DBS young enough to stay under 3 years old for the whole run
    newest = run_start - timedelta(days=20)
    oldest = add_months(run_end, -33)
    dbs = newest - timedelta(days=rng.randint(0, max(0, (newest - oldest).days)))
    return Employee(employee_id=f"E{rid[1:]}{k}", name=f"{first} {sur}", ni=_ni(rng),
                    dob=date(rng.randint(1965, 2002), rng.randint(1, 12), rng.randint(1, 28)),
                    rate=rng.randint(1300, 1550), hours=rng.randint(40, 100),
                    start=add_months(run_start, -rng.randint(6, 40)), dbs_number=f"{rng.randint(0, 10**12 - 1):012d}",
                    dbs_issue=dbs, payee_names=[f"{first} {sur}".upper(), f"{first[0]} {sur}".upper()], bank_name=bank)


def random_profile(i: int, seed: int, rng: random.Random, run_start: date, run_end: date) -> Profile:
    rid = f"R{i:05d}"
    fmt = ("ofx1", "ofx2", "canonical", "nationwide", "lloyds")[rng.randrange(5)]
    sort_prefix = {"nationwide": "07", "lloyds": "30"}.get(fmt, f"{rng.randint(10, 99)}")
    acct = f"{(i * 104729 + seed * 7919 + 1234567) % 10**8:08d}"
    first = rng.choice(FIRST)
    sur = rng.choice(SURNAMES)
    dob = date(run_end.year - rng.randint(4, 14), rng.randint(1, 12), rng.randint(1, 28))
    dp_start = add_months(run_start, -rng.randint(4, 60)).replace(day=rng.randint(1, 28))
    lines: list[Line] = []
    employees: list[Employee] = []
    n = 0
    if rng.random() < 0.8:
        employees = [make_employee(rng, rid, k, run_start, run_end) for k in range(rng.choice((1, 1, 2)))]
        pa_month = sum(g + er for g, _, _, er, _ in (e.payroll() for e in employees))
        n += 1
        lines.append(Line(n, "personal_assistant", "Personal assistant support", pa_month, []))
        n += 1
        lines.append(Line(n, "payroll_services", "Payroll service", rng.randint(15, 30) * 100,
                          [rng.choice(SUPPLIERS["payroll_services"])]))
    if not employees or rng.random() < 0.5:
        n += 1
        weekly = 2450 * rng.randint(6, 25)
        lines.append(Line(n, "agency_care", "Home care agency", weekly * 4, [rng.choice(SUPPLIERS["agency_care"])],
                          funding_stream=rng.choice(("social_care_respite", "chc_joint"))))
    n += 1
    lines.append(Line(n, "day_activities", "Leisure and day activities", rng.randint(150, 500) * 100,
                      rng.sample(SUPPLIERS["day_activities"], 4)))
    if rng.random() < 0.8:
        n += 1
        lines.append(Line(n, "transport", "Transport to activities", rng.randint(80, 300) * 100,
                          rng.sample(SUPPLIERS["transport"], 2)))
    if rng.random() < 0.6:
        n += 1
        lines.append(Line(n, "community_access", "Community access", rng.randint(40, 120) * 100,
                          [rng.choice(SUPPLIERS["community_access"])]))
    p = Profile(rid=rid, child_name=f"{first} {sur}", dob=dob,
                account=Account(f"{sort_prefix}{rng.randint(0, 9999):04d}", acct, f"Mr/Mrs {sur}"),
                fmt=fmt, dp_start=dp_start, lines=lines, employees=employees, opening=0,
                officer=rng.choice(OFFICERS), charge=rng.choice((0, 300, 500, 750)),
                pay_day=rng.randint(20, 25), hmrc_day=rng.randint(8, 19), payroll_day=rng.randint(3, 9),
                paye_ref=f"{rng.randint(100, 999)}PA{rng.randint(0, 10**8 - 1):08d}")
    if employees:
        p.insurance = [(f"EL{rid[1:]}{rng.randint(100, 999)}", rng.choice(INSURERS), add_months(run_start, -6),
                        add_months(run_end, 6), "yes")]
    a = p.annual_value(financial_year_of(run_start))
    p.opening = round_half_up_pence(Decimal(a) * Decimal(rng.randint(80, 160)) / 1000)
    return p


def _apply_recipient_kind(sim: RecipientSim, kind: str, run_start: date, run_end: date) -> bool:
    p, rng, months = sim.p, sim.rng, len(sim.periods)
    if kind == "plan_invalid":
        k = rng.randrange(months)
        vf = parse_period(sim.periods[k])[0]
        p.lines.append(Line(len(p.lines) + 1, "education_support", "Specialist tuition (high-needs block)",
                            rng.randint(100, 400) * 100, ["BRIGHTSTART TUITION"], funding_stream=rng.choice(
                                ("hnb_support", "sen_transport", "hnb_topup_other")), regular=False, invalid=True,
                            valid_from=vf, valid_to=financial_year_bounds(financial_year_of(vf))[1]))
        sim.gt(sim.periods[k], "DQ-PLAN-INVALID", vf, p.lines[-1].annual, "",
               "notional-only funding stream paid as direct payment")
        return True
    if kind == "school_consent":
        if months < 2:
            return False
        k = rng.randint(1, months - 1)
        p.lines.append(Line(len(p.lines) + 1, "education_support", "Tuition in school setting",
                            rng.randint(100, 300) * 100, EXTRA_PROVIDERS["education_support"], school_setting="yes",
                            consent=parse_period(sim.periods[k])[0], regular=False,
                            funding_stream="hnb_topup_maintained"))
        return True
    if kind == "after_end":
        last = parse_period(sim.periods[-1])[0]
        if any(add_months(p.dp_start, 3 + 6 * j).strftime("%Y-%m") == sim.periods[-1] for j in range(40)):
            return False
        p.dp_end = last.replace(day=12)
        return True
    if kind in ("dbs_expiry", "insurance_lapse"):
        if not p.employees or months < 2:
            return False
        k = rng.randint(1, months - 1)
        pay = parse_period(sim.periods[k])[0].replace(day=p.pay_day)
        if kind == "dbs_expiry":
            p.employees[0].dbs_issue = add_months(pay, -36) - timedelta(days=3)
        else:
            pol = p.insurance[0]
            p.insurance = [(pol[0], pol[1], pol[2], pay - timedelta(days=5), "yes")]
        return True
    raise ValueError(kind)


def simulate_recipient(p: Profile, rng: random.Random, periods: list[str], anomaly_rate: float) -> RecipientSim:
    sim = RecipientSim(p, rng, periods)
    run_start, run_end = parse_period(periods[0])[0], parse_period(periods[-1])[1]
    rkind = None
    if rng.random() < anomaly_rate / 2:
        rkind = rng.choice(RECIPIENT_KINDS)
        if not _apply_recipient_kind(sim, rkind, run_start, run_end):
            rkind = None
    consent_line = next((ln for ln in p.lines if ln.school_setting == "yes"), None)
    for idx, period in enumerate(periods):
        mo = Month(idx, period)
        kind = None
        if rng.random() < anomaly_rate:
            kind = rng.choice(MONTH_KINDS)
            blocked = (
                (rkind == "after_end" and idx == len(periods) - 1)
                or (kind == "missing" and (idx != len(periods) - 1 or rkind in ("dbs_expiry", "insurance_lapse")))
            )
            if blocked:
                kind = None
        if p.dp_end and idx == len(periods) - 1:
            mo.charge_day = 5
        if kind == "gap" and sim.plant(mo, "gap") is False:
            kind = None
        sim.base_month(mo)
        school = None
        if consent_line is not None:
            d = mo.day(rng.randint(3, 20))
            school = sim.spend(mo, d, consent_line.providers[0], consent_line.monthly, "education_support",
                               kind="payment", text="Tuition session")
        if kind and kind != "gap":
            sim.plant(mo, kind)
        if school is not None and not mo.missing and (consent_line.consent is None
                                                      or school.date < consent_line.consent):
            sim.gt(period, "SP-SCHOOL-CONSENT", school.date, -school.amount, school.payee,
                   "spend on a school-setting line before consent")
        sim.finish(mo)
    sim.after_end_truth()
    sim.derive()
    return sim


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _fmt_cell(v: object, uk: bool) -> str:
    if isinstance(v, date):
        return v.strftime("%d/%m/%Y") if uk else v.isoformat()
    if isinstance(v, int):
        return pounds(v)
    return "" if v is None else str(v)


def _csv_bytes(header: list[str], rows: list[list], uk: bool = False) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_fmt_cell(v, uk) for v in r])
    return buf.getvalue().encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


class CouncilWriter:
    """Accumulates reference rows and writes each recipient's inbox as it is simulated."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.ref: dict[str, list[list]] = {k: [] for k in REFERENCE_COLUMNS}
        self.truth: list[list[str]] = []
        self.providers: dict[str, tuple[str, str]] = {}
        self.fy: list[int] = []
        self.made_dirs: set[str] = set()
        self.provider_samples = ProviderSamples()  # CO-PROVIDER-PATTERN truth, across all accounts

    def add(self, sim: RecipientSim, periods_fy: list[int]) -> None:
        p = sim.p
        self.ref["recipients"].append([p.rid, p.child_name, p.dob, "direct_payment", p.account.sort_code,
                                       p.account.account_number, p.account.holder, p.dp_start, p.dp_end, p.status,
                                       p.stop_requested, p.officer])
        for fy in periods_fy:
            for ln in p.lines:
                if not _line_fy_overlap(ln, fy):
                    continue
                s, e = _line_bounds(ln, fy)
                self.ref["support_plan_lines"].append([p.rid, line_id(ln, fy), ln.category, ln.description,
                                                       ln.annual, ln.funding_stream, ln.management_type, s, e,
                                                       ln.school_setting, ln.consent, ";".join(ln.providers)])
                for name in ln.providers:
                    self.providers.setdefault(name, (ln.category, ""))
        for due, amt, ref in p.schedule:
            self.ref["payment_schedule"].append([p.rid, due, amt, ref])
        for e in p.employees:
            self.ref["employees"].append([p.rid, e.employee_id, e.name, e.ni, e.dob, e.rate, e.start, None,
                                          e.dbs_number, e.dbs_issue, ";".join(e.payee_names)])
        for pol, ins, s, en, el in p.insurance:
            self.ref["insurance"].append([p.rid, pol, ins, s, en, el])
        self.truth.extend(sim.truth)
        self.provider_samples.add(sim)
        for mo in sim.months:
            self.write_month(p, mo)

    def write_month(self, p: Profile, mo: Month) -> None:
        d = self.out / "inbox" / mo.period / p.rid
        os.makedirs(d, exist_ok=True)
        uk = p.uk_dates
        if not mo.missing:
            end = date(mo.y, mo.m, 25) if mo.gap else mo.end
            data = write_statement(p.fmt, p.account, mo.txns, mo.first, end, mo.opening, fitid_base=1)
            ext = EXTENSIONS[p.fmt]
            _write(d / f"statement_{mo.period}.{ext}", data)
            if mo.dup_file:
                _write(d / f"statement_{mo.period} (1).{ext}", data)
            if mo.wrong_account:
                other = Account("401276", f"{(int(p.account.account_number) + 4242421) % 10**8:08d}", p.account.holder)
                tx = [Txn(mo.day(9), 180000, "SALARY ACME LTD", "credit", seq=1),
                      Txn(mo.day(11), -6420, "AMAZON MARKETPLACE", "card", seq=2)]
                _write(d / "personal_account.csv", canonical(other, tx, mo.first, mo.end, 25000))
        if mo.receipts or mo.bad_rows:
            rows = [r[:3] + [r[3]] + r[4:] for r in mo.receipts]
            body = _csv_bytes(EVIDENCE_COLUMNS["receipts"], rows, uk)
            if mo.bad_rows:
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(mo.bad_rows)
                body += buf.getvalue().encode("utf-8")
            _write(d / "receipts.csv", body)
        if mo.invoices:
            _write(d / "invoices.csv", _csv_bytes(EVIDENCE_COLUMNS["invoices"], mo.invoices, uk))
        if mo.payslips:
            _write(d / "payslips.csv", _csv_bytes(EVIDENCE_COLUMNS["payslips"], mo.payslips, uk))
        if mo.hmrc:
            _write(d / "hmrc.csv", _csv_bytes(EVIDENCE_COLUMNS["hmrc"], mo.hmrc, uk))
        for name, data in mo.extra.items():
            _write(d / name, data)

    def close(self) -> dict:
        ref = self.out / "reference"
        os.makedirs(ref, exist_ok=True)
        for name, cols in REFERENCE_COLUMNS.items():
            if name == "providers":
                continue
            _write(ref / f"{name}.csv", _csv_bytes(cols, self.ref[name]))
        provs = dict(self.providers)
        for cat, names in EXTRA_PROVIDERS.items():
            for n in names:
                provs.setdefault(n, (cat, ""))
        prov_rows = [[n, provs[n][1], provs[n][0], "yes" if provs[n][0] in ("agency_care", "payroll_services",
                                                                            "therapy") else "no"]
                     for n in sorted(provs)]
        _write(ref / "providers.csv", _csv_bytes(REFERENCE_COLUMNS["providers"], prov_rows))
        self.truth.extend(self.provider_samples.truth(set(provs)))
        truth = sorted(self.truth, key=lambda r: (r[0], r[1]))
        _write(self.out / "ground_truth.csv", _csv_bytes(GROUND_TRUTH_COLUMNS, truth))
        counts: dict[str, int] = {}
        for r in truth:
            counts[r[2]] = counts.get(r[2], 0) + 1
        return {"recipients": len(self.ref["recipients"]), "findings": len(truth), "by_rule": dict(sorted(counts.items()))}


def periods_from(start: str, months: int) -> list[str]:
    parse_period(start)
    out, p = [], start
    for _ in range(months):
        out.append(p)
        p = next_period(p)
    return out


def generate(out_dir: Path, *, recipients: int, months: int, seed: int, start_period: str = "2025-04",
             anomaly_rate: float = 0.05) -> dict:
    """Write a synthetic council to ``out_dir`` and return a summary (counts per planted rule).

    ``anomaly_rate`` is the share of recipient-months that get one planted month case (one of
    ``MONTH_KINDS``); each recipient also gets one recipient-level case (``RECIPIENT_KINDS``:
    invalid plan line, school line without consent, DP ended, DBS expiring, insurance lapsing)
    with probability ``anomaly_rate / 2``.  With 0.0 the only findings are the reviews due.
    Deterministic: the same arguments give byte-identical files.
    """
    if recipients < 1 or months < 1:
        raise ValueError("recipients and months must be at least 1")
    if not 0 <= anomaly_rate <= 1:
        raise ValueError("anomaly_rate must be between 0 and 1")
    out = Path(out_dir)
    periods = periods_from(start_period, months)
    run_start, run_end = parse_period(periods[0])[0], parse_period(periods[-1])[1]
    fys = sorted({financial_year_of(parse_period(p)[0]) for p in periods})
    writer = CouncilWriter(out)
    txn_count = 0
    for i in range(1, recipients + 1):
        rng = random.Random(f"dpaudit-synth:{seed}:{i}")
        p = random_profile(i, seed, rng, run_start, run_end)
        sim = simulate_recipient(p, rng, periods, anomaly_rate)
        txn_count += sum(len(mo.txns) for mo in sim.months if not mo.missing)
        writer.add(sim, fys)
    summary = writer.close()
    summary.update(months=months, periods=[periods[0], periods[-1]], transactions=txn_count, seed=seed)
    return summary


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dpaudit.synth",
                                 description="Generate a synthetic council (or rebuild sample_data/).")
    ap.add_argument("--recipients", type=int, default=50)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--start", default="2025-04", help="first period YYYY-MM (default 2025-04)")
    ap.add_argument("--anomaly-rate", type=float, default=0.05)
    ap.add_argument("--sample", type=Path, help="rebuild the hand-crafted sample council into this folder")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.sample:
        from dpaudit.synth.sample import build_sample

        build_sample(args.sample)
        print(f"sample council written to {args.sample} in {time.perf_counter() - t0:.1f} s")
        return 0
    if not args.out:
        ap.error("--out is required (or --sample DIR)")
    s = generate(args.out, recipients=args.recipients, months=args.months, seed=args.seed,
                 start_period=args.start, anomaly_rate=args.anomaly_rate)
    print(f"{s['recipients']} recipients x {s['months']} months ({s['transactions']:,} transactions, "
          f"{s['findings']:,} ground-truth findings) written to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
