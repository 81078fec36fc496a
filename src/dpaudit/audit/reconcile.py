"""Per recipient and month: balances, council and other credits, debits, evidenced/unevidenced,
plan budget and spend to date, and the contingency held (PBP 5.3).

Client contributions (the family's own money) are among ``other_credits``: credits that are not the
council's.  They are not unexplained income (AC-NON-COUNCIL-CREDIT names those); the store keeps
their total beside the row (``contribution_credits_pence``) for the year end's split (decision 48).

Invariants checked here, at the stage boundary: opening + credits - debits = closing, and
evidenced + unevidenced = debits, to the penny (a breach is a bug, so it raises).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from dpaudit.audit.data import AuditData, budget_to_date
from dpaudit.audit.categorise import categorise
from dpaudit.core.dates import financial_year_bounds, financial_year_of
from dpaudit.audit.match import match_evidence
from dpaudit.audit.rules.ac import council_credits
from dpaudit.audit.rules.common import balances, dp_value_at_end, period_txns

RECONCILIATION_COLUMNS = ["recipient_id", "period", "opening_balance_pence", "council_credits_pence", "other_credits_pence",
                          "debits_pence", "closing_balance_pence", "evidenced_pence", "unevidenced_pence",
                          "plan_budget_to_date_pence", "spend_to_date_pence", "contingency_held_pence", "contingency_pct"]
# stored beside them (not a reconciliation.csv column): the client contributions among other_credits
STORE_ONLY_COLUMNS = ["contribution_credits_pence"]


def reconcile(data: AuditData) -> pd.DataFrame:
    b = balances(data)
    if b.empty:
        return pd.DataFrame(columns=RECONCILIATION_COLUMNS)
    p = period_txns(data)
    council, _ = council_credits(data)
    _, _, status = match_evidence(data)
    # a wage paid against a payslip that shows another net pay (PY-NET-MISMATCH) is evidenced up to the
    # payslip's net, as a payment against a receipt for another amount is (EV-AMOUNT-MISMATCH)
    from dpaudit.audit.match import used_evidence
    from dpaudit.audit.rules.py import net_mismatch_pairs
    slips = net_mismatch_pairs(data)
    # one payslip evidences one payment, and not one a payment of another month already had
    slips = slips[~slips["ev_key"].isin(used_evidence(data))].sort_values(["ev_key", "gap", "diff", "txn_id"])
    slips = slips.drop_duplicates("ev_key")
    if len(slips):
        net = status["txn_id"].map(slips.drop_duplicates("txn_id").set_index("txn_id")["net_pence"]).fillna(0)
        extra = pd.concat([net.astype("int64"), status["unevidenced_pence"]], axis=1).min(axis=1).clip(lower=0)
        status = status.assign(evidenced_pence=status["evidenced_pence"] + extra,
                               unevidenced_pence=status["unevidenced_pence"] - extra)
    st = status.merge(p[["txn_id", "recipient_id"]], on="txn_id")
    ev = st.groupby("recipient_id")[["evidenced_pence", "unevidenced_pence"]].sum()
    cc = council[council["amount_pence"] > 0].groupby("recipient_id")["amount_pence"].sum()
    from dpaudit.audit.contributions import contribution_credits
    contrib = contribution_credits(data)
    contrib = contrib[contrib["posted_date"] >= pd.Timestamp(data.start)].groupby("recipient_id")["amount_pence"].sum()
    budget = budget_to_date(data).groupby("recipient_id")["budget_pence"].sum() if not data.plan_lines.empty else pd.Series(dtype="int64")
    fy_start = pd.Timestamp(financial_year_bounds(financial_year_of(data.start))[0])
    t = categorise(data)
    fy = t[(t["direction"] == "debit") & (t["posted_date"] >= fy_start) & (t["posted_date"] <= pd.Timestamp(data.end))]
    spend = (-fy.groupby("recipient_id")["amount_pence"].sum())
    value = dp_value_at_end(data)
    out = pd.DataFrame({"recipient_id": b["recipient_id"], "period": data.period,
                        "opening_balance_pence": b["opening_pence"].astype("int64")})
    rid = out["recipient_id"]
    out["council_credits_pence"] = rid.map(cc).fillna(0).astype("int64")
    out["other_credits_pence"] = (b["credits_pence"].astype("int64").values - out["council_credits_pence"]).astype("int64")
    out["contribution_credits_pence"] = rid.map(contrib).fillna(0).astype("int64")
    out["debits_pence"] = b["debits_pence"].astype("int64").values
    out["closing_balance_pence"] = b["closing_pence"].astype("int64").values
    out["evidenced_pence"] = rid.map(ev["evidenced_pence"]).fillna(0).astype("int64")
    out["unevidenced_pence"] = rid.map(ev["unevidenced_pence"]).fillna(0).astype("int64")
    out["plan_budget_to_date_pence"] = rid.map(budget).fillna(0).astype("int64")
    out["spend_to_date_pence"] = rid.map(spend).fillna(0).astype("int64")
    out["contingency_held_pence"] = out["closing_balance_pence"]
    out["contingency_pct"] = [
        (Decimal(int(c)) * 100 / Decimal(int(value[r]))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if r in value.index and int(value[r]) > 0 else None
        for r, c in zip(rid, out["closing_balance_pence"])]
    return out[RECONCILIATION_COLUMNS + STORE_ONLY_COLUMNS].sort_values("recipient_id").reset_index(drop=True)
