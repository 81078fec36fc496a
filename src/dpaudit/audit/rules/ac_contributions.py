"""AC-CONTRIBUTION-SHORT: the family's client contributions paid into the DP account fall short of
what its charging assessment (contributions.csv) made due (docs/decisions.md 47)."""
from __future__ import annotations

import pandas as pd

from dpaudit.audit.contributions import contribution_credits, due_dates
from dpaudit.audit.data import AuditData, dp_recipients
from dpaudit.audit.rules.common import covered
from dpaudit.audit.rules.registry import rule
from dpaudit.core.dates import financial_year_bounds, financial_year_of
from dpaudit.core.money import format_gbp

COUNTERPARTY = "Client contribution"


def _terms(rows: pd.DataFrame) -> str:
    """The assessment in words: "£50.00 monthly from 15/01/2026" (rows joined by "; ")."""
    out = []
    for amount, freq, start, end in zip(rows["amount_pence"], rows["frequency"], rows["start_date"], rows["end_date"]):
        until = f" to {pd.Timestamp(end):%d/%m/%Y}" if pd.notna(end) else ""
        out.append(f"{format_gbp(int(amount))} {str(freq).strip().lower()} from {pd.Timestamp(start):%d/%m/%Y}{until}")
    return "; ".join(out)


@rule("AC-CONTRIBUTION-SHORT")
def contribution_short(data: AuditData) -> pd.DataFrame:
    """Judged per recipient and period over the financial year to date: due = contributions whose
    due date is from 1 April to the period end less ``payment_window_days``; paid = contribution
    credits from 1 April to the period end; fires when due - paid > 0, for the cumulative shortfall.
    A recipient with no statement for the period is left to DQ-STATEMENT-MISSING (what was paid
    cannot be seen)."""
    c = data.contributions
    if c is None or c.empty:
        return pd.DataFrame()
    fy_start = pd.Timestamp(financial_year_bounds(financial_year_of(data.start))[0])
    end = pd.Timestamp(data.end)
    upto = end - pd.Timedelta(days=data.policy.days("payment_window_days"))
    judged = set(dp_recipients(data)["recipient_id"]) & covered(data) & set(c["recipient_id"])
    c = c[c["recipient_id"].isin(judged)]
    due = due_dates(c, fy_start, upto)
    if due.empty:
        return pd.DataFrame()
    owed = due.groupby("recipient_id").agg(due_pence=("amount_pence", "sum"), n=("due_date", "size"),
                                           last=("due_date", "max"))
    cr = contribution_credits(data)
    cr = cr[(cr["posted_date"] >= fy_start) & (cr["posted_date"] <= end)]
    owed["paid_pence"] = cr.groupby("recipient_id")["amount_pence"].sum().reindex(owed.index).fillna(0).astype("int64")
    owed["due_pence"] = owed["due_pence"].astype("int64")
    owed["short_pence"] = owed["due_pence"] - owed["paid_pence"]
    owed = owed[owed["short_pence"] > 0]
    if owed.empty:
        return pd.DataFrame()
    terms = {rid: _terms(g) for rid, g in c[c["recipient_id"].isin(owed.index)].groupby("recipient_id")}
    msg = [f"The family's client contributions ({terms[rid]}) due from {fy_start:%d/%m/%Y} to {upto:%d/%m/%Y} come to "
           f"{format_gbp(due)} ({n} payment{'s' if n != 1 else ''}, the last due on {last:%d/%m/%Y}), but contributions "
           f"paid into the account from {fy_start:%d/%m/%Y} to {end:%d/%m/%Y} come to {format_gbp(paid)}: "
           f"{format_gbp(short)} short this financial year. A statement showing the missing contributions paid in, "
           f"or a change to the family's financial assessment, would clear this."
           for rid, due, n, last, paid, short in zip(owed.index, owed["due_pence"], owed["n"], owed["last"],
                                                     owed["paid_pence"], owed["short_pence"])]
    return pd.DataFrame({"recipient_id": owed.index.astype(str), "key": owed.index.astype(str) + "|" + data.period + "|contribution",
                         "txn_date": end, "amount_pence": owed["short_pence"].to_numpy(), "counterparty": COUNTERPARTY,
                         "message": msg})
