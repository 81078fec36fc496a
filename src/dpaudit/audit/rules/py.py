"""Payroll rules (PY-*): personal assistants employed with the direct payment (PBP 5.2)."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from dpaudit.audit.data import AuditData, cached_view
from dpaudit.core.dates import age_on, next_period, parse_period
from dpaudit.audit.match import evidence_key, match_evidence, payslip_evidence_id
from dpaudit.core.money import format_gbp, gbp_series, round_half_up_pence
from dpaudit.ingest.schemas import payslip_arithmetic_ok
from dpaudit.audit.rules.common import period_txns, wage_like_unknown
from dpaudit.audit.rules.registry import rule, txn_findings


def wage_payments(data: AuditData) -> pd.DataFrame:
    p = period_txns(data)
    w = p[(p["direction"] == "debit") & p["employee_id"].notna()]
    return w.merge(data.employees[["recipient_id", "employee_id", "name", "date_of_birth", "dbs_issue_date", "dbs_number"]],
                   on=["recipient_id", "employee_id"], how="left")


def _payslips_near(data: AuditData, w: pd.DataFrame) -> pd.DataFrame:
    win = pd.Timedelta(days=data.policy.days("payslip_window_days"))
    m = w[["txn_id", "recipient_id", "employee_id", "posted_date", "amount_pence"]].merge(
        data.payslips[["recipient_id", "employee_id", "pay_date", "net_pence"]], on=["recipient_id", "employee_id"])
    return m[(m["posted_date"] - m["pay_date"]).abs() <= win]


def payslip_near_ids(data: AuditData) -> set[str]:
    """Wage payments that have a payslip of their employee dated within the window (any net)."""
    w = wage_payments(data)
    return set(_payslips_near(data, w)["txn_id"]) if not w.empty else set()


@rule("PY-NO-PAYSLIP")
def no_payslip(data: AuditData) -> pd.DataFrame:
    w = wage_payments(data)
    _, _, status = match_evidence(data)
    w = w.merge(status, on="txn_id")
    w = w[w["evidence_status"] != "evidenced"]
    w = w[~w["txn_id"].isin(_payslips_near(data, w)["txn_id"])]  # a payslip for that date -> PY-NET-MISMATCH instead
    msg = ("Paid " + gbp_series(w["amount_pence"].abs()) + " to " + w["name"].astype(str) + " (employee "
           + w["employee_id"].astype(str) + ") on " + w["posted_date"].dt.strftime("%d/%m/%Y")
           + " with no payslip whose net pay and pay date match. The payslip for this payment would clear this.")
    return txn_findings(w, msg)


@cached_view("net_mismatch_pairs")
def net_mismatch_pairs(data: AuditData) -> pd.DataFrame:
    """Each wage payment not evidenced to the penny whose payslip (same employee, pay date in window,
    not another payment's) shows another net pay: the payment's rows plus ``net_pence, diff,
    pay_date``.  PY-NET-MISMATCH reports them; the reconciliation counts such a payment evidenced up
    to the payslip's net (as a receipt for another amount is, EV-AMOUNT-MISMATCH)."""
    w = wage_payments(data)
    _, _, status = match_evidence(data)
    w = w.merge(status, on="txn_id")
    w = w[w["evidence_status"] != "evidenced"]
    near = _payslips_near(data, w)
    if near.empty:
        return w.iloc[:0].assign(net_pence=pd.Series(dtype="int64"), diff=pd.Series(dtype="int64"),
                                 pay_date=pd.Series(dtype="datetime64[ns]"), ev_key=pd.Series(dtype=object),
                                 gap=pd.Series(dtype="timedelta64[ns]"))
    # a payslip another payment matched is that payment's; of the rest, the one dated nearest
    matches, _, _ = match_evidence(data)
    paid = matches[matches["evidence_kind"] == "payslip"].merge(data.txns[["txn_id", "recipient_id"]], on="txn_id")
    taken = set(evidence_key(paid, "evidence_id"))
    near = near.assign(ev_key=evidence_key(near.assign(ev_id=payslip_evidence_id(near))))
    near = near[~near["ev_key"].isin(taken)].copy()
    near["diff"] = (near["net_pence"].astype("int64") + near["amount_pence"].astype("int64")).abs()
    near["gap"] = (near["posted_date"] - near["pay_date"]).abs()
    near = near.sort_values(["txn_id", "gap", "diff", "pay_date"]).drop_duplicates("txn_id")
    return w.merge(near[["txn_id", "net_pence", "diff", "pay_date", "ev_key", "gap"]], on="txn_id")


@rule("PY-NET-MISMATCH")
def net_mismatch(data: AuditData) -> pd.DataFrame:
    """A wage payment whose payslip (same employee, pay date in window) shows another net pay; or a payslip
    whose gross - tax - employee NI - employee pension is not its net."""
    frames = []
    x = net_mismatch_pairs(data)
    if not x.empty:
        msg = ("Paid " + gbp_series(x["amount_pence"].abs()) + " to " + x["name"].astype(str) + " on "
               + x["posted_date"].dt.strftime("%d/%m/%Y") + " but the payslip dated " + x["pay_date"].dt.strftime("%d/%m/%Y")
               + " shows net pay of " + gbp_series(x["net_pence"]) + " (difference " + gbp_series(x["diff"])
               + "). A corrected payslip or a refund of the difference would clear this.")
        frames.append(txn_findings(x, msg, amount=x["diff"]))
    ps = data.payslips
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    ps = ps[(ps["pay_date"] >= s) & (ps["pay_date"] <= e)]
    if not ps.empty:
        bad = ps[~payslip_arithmetic_ok(ps).fillna(False).astype(bool)].copy()
        if not bad.empty:
            calc = (bad["gross_pence"] - bad["tax_pence"].fillna(0) - bad["employee_ni_pence"].fillna(0)
                    - bad["pension_employee_pence"].fillna(0)).astype("int64")
            diff = (calc - bad["net_pence"].astype("int64")).abs()
            msg = ("The payslip of employee " + bad["employee_id"].astype(str) + " dated " + bad["pay_date"].dt.strftime("%d/%m/%Y")
                   + " does not add up: gross " + gbp_series(bad["gross_pence"]) + " less tax, employee NI and pension is "
                   + gbp_series(calc) + " but net is " + gbp_series(bad["net_pence"]) + ". A corrected payslip would clear this.")
            frames.append(pd.DataFrame({"recipient_id": bad["recipient_id"], "txn_date": bad["pay_date"], "amount_pence": diff,
                                        "counterparty": bad["employee_id"],
                                        "key": "payslip|" + bad["employee_id"].astype(str) + "|" + bad["pay_date"].dt.strftime("%Y-%m-%d"),
                                        "message": msg}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@rule("PY-HMRC-UNPAID")
def hmrc_unpaid(data: AuditData) -> pd.DataFrame:
    """PAYE/NI for the tax month before this period, due by the 22nd of this period, not paid in full by then."""
    tax_month = f"{(pd.Timestamp(data.start) - pd.Timedelta(days=1)):%Y-%m}"
    due_day = data.policy.days("hmrc_due_day")
    due_date = pd.Timestamp(parse_period(next_period(tax_month))[0]).replace(day=due_day)
    ps = data.payslips
    t0, t1 = parse_period(tax_month)
    ps = ps[(ps["pay_date"] >= pd.Timestamp(t0)) & (ps["pay_date"] <= pd.Timestamp(t1))]
    owed_ps = (ps["tax_pence"].fillna(0) + ps["employee_ni_pence"].fillna(0) + ps["employer_ni_pence"].fillna(0)) \
        .groupby(ps["recipient_id"]).sum().astype("int64") if not ps.empty else pd.Series(dtype="int64")
    h = data.hmrc[data.hmrc["tax_month"] == tax_month]
    due = h.groupby("recipient_id")["amount_due_pence"].sum().astype("int64") if not h.empty else pd.Series(dtype="int64")
    on_time = h[h["paid_date"].notna() & (h["paid_date"] <= due_date)]
    paid = on_time.groupby("recipient_id")["amount_paid_pence"].sum().astype("int64") if not on_time.empty else pd.Series(dtype="int64")
    rows = []
    for rid in sorted(set(owed_ps.index) | set(due.index)):
        owed = int(due.get(rid, owed_ps.get(rid, 0)))
        got = int(paid.get(rid, 0))
        if owed > got:
            rows.append({"recipient_id": rid, "key": tax_month, "txn_date": due_date, "amount_pence": owed - got,
                         "counterparty": "HMRC",
                         "message": f"PAYE/NI of {format_gbp(owed)} for tax month {tax_month} was due by {due_date:%d/%m/%Y}; "
                                    f"{format_gbp(got)} was paid by then, leaving {format_gbp(owed - got)} unpaid. "
                                    "Proof of payment to HMRC (date and amount) would clear this."})
    return pd.DataFrame(rows)


@rule("PY-NO-INSURANCE")
def no_insurance(data: AuditData) -> pd.DataFrame:
    w = wage_payments(data)
    if w.empty:
        return pd.DataFrame()
    ins = data.insurance[data.insurance["employers_liability"] == "yes"]
    m = w[["txn_id", "recipient_id", "posted_date"]].merge(ins[["recipient_id", "cover_start", "cover_end"]], on="recipient_id")
    ok = set(m[(m["posted_date"] >= m["cover_start"]) & (m["posted_date"] <= m["cover_end"])]["txn_id"])
    x = w[~w["txn_id"].isin(ok)]
    msg = ("Paid " + x["name"].astype(str) + " " + gbp_series(x["amount_pence"].abs()) + " on " + x["posted_date"].dt.strftime("%d/%m/%Y")
           + " with no employer's liability insurance in force on that date. The insurance certificate covering that date would clear this.")
    return txn_findings(x, msg)


@rule("PY-DBS-MISSING")
def dbs_missing(data: AuditData) -> pd.DataFrame:
    """Each wage payment to an employee with no DBS check, or one older than the limit, on the pay date."""
    w = wage_payments(data)
    if w.empty:
        return pd.DataFrame()
    years = data.policy.days("dbs_max_age_years")
    limit = w["dbs_issue_date"] + pd.DateOffset(years=years)
    bad = w[w["dbs_issue_date"].isna() | (w["posted_date"] > limit)]
    what = pd.Series(["a DBS check dated " + f"{d:%d/%m/%Y}" + f", older than {years} years," if pd.notna(d) else "no DBS check"
                      for d in bad["dbs_issue_date"]], index=bad.index, dtype="object")
    msg = (bad["name"].astype(str) + " (employee " + bad["employee_id"].astype(str) + ") was paid "
           + gbp_series(bad["amount_pence"].abs()) + " on " + bad["posted_date"].dt.strftime("%d/%m/%Y") + " with " + what
           + " on the pay date. An up-to-date DBS certificate would clear this.")
    return txn_findings(bad, msg)


@rule("PY-BELOW-MIN-WAGE")
def below_min_wage(data: AuditData) -> pd.DataFrame:
    ps = data.payslips
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    ps = ps[(ps["pay_date"] >= s) & (ps["pay_date"] <= e) & ps["hours"].notna()]
    if ps.empty:
        return pd.DataFrame()
    ps = ps.merge(data.employees[["recipient_id", "employee_id", "name", "date_of_birth"]], on=["recipient_id", "employee_id"], how="left")
    rows = []
    for r in ps.itertuples():
        hours = Decimal(str(r.hours))
        if hours <= 0:
            continue
        age = age_on(r.date_of_birth.date(), r.pay_date.date()) if pd.notna(r.date_of_birth) else 21
        rate = data.policy.min_wage_pence(age, r.pay_date.date())
        if rate is None:
            continue
        due = round_half_up_pence(hours * rate)
        if int(r.gross_pence) < due:
            paid_rate = round_half_up_pence(Decimal(int(r.gross_pence)) / hours)
            rows.append({"recipient_id": r.recipient_id, "key": f"{r.employee_id}|{r.pay_date:%Y-%m-%d}", "txn_date": r.pay_date,
                         "amount_pence": due - int(r.gross_pence), "counterparty": r.name if isinstance(r.name, str) else r.employee_id,
                         "message": f"The payslip of {r.name} dated {r.pay_date:%d/%m/%Y} pays {format_gbp(int(r.gross_pence))} "
                                    f"for {hours} hours ({format_gbp(paid_rate)} an hour), below the minimum wage of "
                                    f"{format_gbp(rate)} an hour for age {age}; {format_gbp(due - int(r.gross_pence))} short. "
                                    "Back pay to the minimum, or a corrected payslip showing the hours, would clear this."})
    return pd.DataFrame(rows)


@rule("PY-UNKNOWN-PAYEE")
def unknown_payee(data: AuditData) -> pd.DataFrame:
    p = period_txns(data)
    x = p[p["txn_id"].isin(wage_like_unknown(data))]
    msg = ("Paid " + gbp_series(x["amount_pence"].abs()) + " to " + x["counterparty"].astype(str) + " on "
           + x["posted_date"].dt.strftime("%d/%m/%Y") + ": regular round payments to a person who is not a registered employee. "
           "Registering the employee (contract, payslips, insurance, DBS) or an invoice from a provider would clear this.")
    return txn_findings(x, msg)
