"""Client contributions in the sample council (issue 18): ``reference/contributions.csv``, the
families' payments into their DP accounts, and the findings they must (and must not) raise.

Planted by :func:`plant_contributions` (``sample.build_sample`` calls it once):

* R00001 is assessed at £20.00 weekly from Monday 5 January 2026 and pays every contribution on its
  due date as "MRS E CLARKE" - the family's surname, no keyword.  Paid in full: no
  AC-CONTRIBUTION-SHORT, and the credits are no AC-NON-COUNCIL-CREDIT (R00001 stays clean).  Its
  year-end surplus is split between the council and the family (the contributions raise it).
* R00011 is assessed at £50.00 monthly from 15 January 2026 and pays £40.00 on the 16th as
  "CLIENT CONTRIBUTION" (a keyword, no surname): AC-CONTRIBUTION-SHORT of the cumulative shortfall,
  £10.00 in January, £20.00 in February and £30.00 in March.

The truth is worked out here from the definition (docs/rules.md AC-CONTRIBUTION-SHORT), with its own
due-date arithmetic, not by calling the engine: due = contributions whose due date is from 1 April to
the month's last day less the default ``payment_window_days`` (5); paid = the contributions credited
from 1 April to the month's last day; a finding of due - paid when that is above nil.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from dpaudit.core.dates import add_months, financial_year_bounds, financial_year_of, parse_period
from dpaudit.synth.formats import pounds

RULE = "AC-CONTRIBUTION-SHORT"
COLUMNS = ["recipient_id", "amount", "frequency", "start_date", "end_date"]
PAYMENT_WINDOW_DAYS = 5  # the default policy's payment_window_days
STEP_DAYS = {"weekly": 7, "4-weekly": 28}
COUNTERPARTY = "Client contribution"


@dataclass(frozen=True)
class Plan:
    """One family's assessment and what it pays in: ``payments`` are (date, pence, payee)."""

    rid: str
    amount: int
    frequency: str
    start: date
    end: date | None
    payments: tuple[tuple[date, int, str], ...]
    story: str


def due_dates(plan: Plan, until: date) -> list[date]:
    """The plan's due dates up to ``until`` (and its end date), one by one."""
    stop = min(until, plan.end) if plan.end else until
    out, k = [], 0
    while True:
        if plan.frequency == "monthly":
            d = add_months(plan.start, k)  # the start's day, or the last day of a shorter month
        else:
            d = plan.start + timedelta(days=STEP_DAYS[plan.frequency] * k)
        if d > stop:
            return out
        out.append(d)
        k += 1


def shortfall(plan: Plan, period: str) -> int:
    """The cumulative shortfall of ``plan`` judged at the end of ``period`` (pence, 0 when none)."""
    _, end = parse_period(period)
    fy_start = financial_year_bounds(financial_year_of(end))[0]
    due = sum(plan.amount for d in due_dates(plan, end - timedelta(days=PAYMENT_WINDOW_DAYS)) if d >= fy_start)
    paid = sum(amount for d, amount, _ in plan.payments if fy_start <= d <= end)
    return max(0, due - paid)


def sample_plans(periods: list[str]) -> list[Plan]:
    """The sample's two families (module docstring), paying in over ``periods``."""
    first, last = parse_period(periods[0])[0], parse_period(periods[-1])[1]
    weekly = Plan("R00001", 2000, "weekly", date(2026, 1, 5), None, (),
                  "Client contributions (contributions.csv): £20.00 weekly from 5 January 2026, each paid on its due "
                  "date as \"MRS E CLARKE\" - the family's surname, no keyword (near miss: no "
                  "AC-CONTRIBUTION-SHORT, no AC-NON-COUNCIL-CREDIT); at the year end the surplus above the "
                  "carry-forward is split between the council and the family.")
    weekly = replace(weekly, payments=tuple((d, weekly.amount, "MRS E CLARKE") for d in due_dates(weekly, last)
                                            if d >= first))
    months = [parse_period(p)[0] for p in periods]
    monthly = Plan("R00011", 5000, "monthly", date(2026, 1, 15), None,
                   tuple((m.replace(day=16), 4000, "CLIENT CONTRIBUTION") for m in months),
                   "Client contributions: assessed at £50.00 monthly from 15 January 2026, the family pays £40.00 "
                   "on the 16th as \"CLIENT CONTRIBUTION\" (AC-CONTRIBUTION-SHORT of the cumulative shortfall each "
                   "month).")
    return [weekly, monthly]


def _pay(sim, mo, when: date, amount: int, payee: str) -> None:
    mo.add(when, amount, payee, "credit")


def _truth(sim, mo, plan: Plan) -> None:
    short = shortfall(plan, mo.period)
    if short:
        due = [d for d in due_dates(plan, mo.end - timedelta(days=PAYMENT_WINDOW_DAYS))
               if d >= financial_year_bounds(financial_year_of(mo.end))[0]]
        sim.gt(mo.period, RULE, mo.end, short, COUNTERPARTY,
               f"{len(due)} contribution{'s' if len(due) != 1 else ''} of {pounds(plan.amount)} due by {due[-1]}, "
               f"short {pounds(short)} so far")


def plant_contributions(scenarios: list, out_dir: Path) -> str:
    """Add the contribution payments and their truth to the sample's scenarios (cases the sample's
    simulation calls), write ``reference/contributions.csv``, and return the README section."""
    plans = sample_plans(scenarios[0].periods)
    by_rid = {sc.profile.rid: sc for sc in scenarios}
    rows = []
    for plan in plans:
        sc = by_rid[plan.rid]
        for when, amount, payee in plan.payments:
            idx = sc.periods.index(when.strftime("%Y-%m"))
            sc.script.setdefault(idx, []).append((_pay, {"when": when, "amount": amount, "payee": payee}))
        for idx in range(len(sc.periods)):
            sc.script.setdefault(idx, []).append((_truth, {"plan": plan}))
        sc.story = f"{sc.story} {plan.story}"
        rows.append([plan.rid, pounds(plan.amount), plan.frequency, plan.start.isoformat(),
                     plan.end.isoformat() if plan.end else ""])
    ref = Path(out_dir) / "reference"
    os.makedirs(ref, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    with open(ref / "contributions.csv", "wb") as fh:
        fh.write(buf.getvalue().encode("utf-8"))
    return readme_section(plans, scenarios)


def readme_section(plans: list[Plan], scenarios: list) -> str:
    by_rid = {sc.profile.rid: sc for sc in scenarios}
    lines = ["## Client contributions", "",
             "`reference/contributions.csv` holds two families' assessed client contributions. A credit is a "
             "contribution when it is no council payment, its payee or description holds a `[contributions] "
             "keywords` entry or the account holder's or child's surname, and a contributions row is in force "
             "(from 7 days before `start_date` to 31 days after `end_date`). Contributions are never "
             "AC-NON-COUNCIL-CREDIT; AC-CONTRIBUTION-SHORT is the cumulative shortfall over the financial year "
             "(due by the month's last day less 5 days, paid by its last day).", ""]
    for plan in plans:
        sc = by_rid[plan.rid]
        paid = sum(a for _, a, _ in plan.payments)
        council = sum(sc.profile.monthly_credit(parse_period(p)[0]) for p in sc.periods)
        shorts = [f"{p} £{pounds(shortfall(plan, p))}" for p in sc.periods if shortfall(plan, p)]
        lines.append(f"- {plan.rid}: £{pounds(plan.amount)} {plan.frequency} from {plan.start}; "
                     f"{len(plan.payments)} payments totalling £{pounds(paid)} in "
                     f"{sc.periods[0]}..{sc.periods[-1]}. "
                     + (f"{RULE}: {', '.join(shorts)}." if shorts else "Paid in full: no finding.")
                     + f" Year end: the council paid in £{pounds(council)} and the family £{pounds(paid)}, so the "
                     f"council recovers {pounds(council)} / {pounds(council + paid)} of what is held back above the "
                     "carry-forward (`repayment`, half-up to 1p); the rest is `family_share` in `year_end.csv`.")
    lines.append("")
    return "\n".join(lines)
