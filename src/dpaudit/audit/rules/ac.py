"""Account rules (AC-*): what comes into the DP account and the balance it holds (PBP 5.2, 5.3)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dpaudit.audit.data import AuditData, cached_view
from dpaudit.audit.categorise import categorise
from dpaudit.core.money import format_gbp, gbp_series, pct_of
from dpaudit.audit.rules.common import (balances, covered, dp_value_at_end, end_of_day_balances, paid_back_names,
                                       period_txns)
from dpaudit.audit.rules.dq import uncovered_days
from dpaudit.audit.rules.registry import rule, txn_findings


@cached_view("council")
def council_credits(data: AuditData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(credits matched to the payment schedule, schedule rows with their matched credit or none).

    A credit is the council's when its text carries the schedule reference or a council keyword,
    or its amount equals a scheduled amount, within ``payment_window_days`` of the due date.
    """
    p = period_txns(data)
    win = pd.Timedelta(days=data.policy.days("payment_window_days"))
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    # a payment due at the end of a month may arrive early in the next (and one due early in a month
    # may have come at the end of the last): credits and due dates a window either side take part
    t = categorise(data)
    cr = t[(t["direction"] == "credit") & (t["posted_date"] >= s - win) & (t["posted_date"] <= e + win)]
    sch = data.schedule
    sch = sch[(sch["due_date"] >= s - 2 * win) & (sch["due_date"] <= e)].copy()
    sch["sched_id"] = sch["recipient_id"] + "|" + sch["due_date"].dt.strftime("%Y-%m-%d") + "|" + sch["reference"].fillna("")
    c = sch.merge(cr[["txn_id", "recipient_id", "posted_date", "amount_pence", "text", "f_council"]], on="recipient_id",
                  suffixes=("_due", ""))
    if not c.empty:
        c["gap"] = (c["posted_date"] - c["due_date"]).abs()
        ref = c["reference"].fillna("").str.lower()
        c["by_ref"] = [bool(r) and r in t for r, t in zip(ref, c["text"])]
        c["by_amount"] = c["amount_pence"] == c["amount_pence_due"]
        c = c[(c["gap"] <= win) & (c["by_ref"] | c["f_council"] | c["by_amount"])]
        c["rank"] = (~c["by_ref"]).astype(int) + (~c["by_amount"]).astype(int)
        from dpaudit.audit.match import greedy_one_to_one
        c = greedy_one_to_one(c, "sched_id", "txn_id", ["rank", "gap"], [True, True])
    matched = sch.merge(c[["sched_id", "txn_id", "posted_date", "amount_pence"]] if not c.empty else
                        pd.DataFrame(columns=["sched_id", "txn_id", "posted_date", "amount_pence"]),
                        on="sched_id", how="left", suffixes=("_due", ""))
    matched = matched.assign(window_end=matched["due_date"] + win)
    claimed = c["txn_id"] if not c.empty else pd.Series([], dtype=object)
    credits = p[p["txn_id"].isin(claimed.dropna()) | ((p["direction"] == "credit") & p["f_council"])]
    return credits, matched


@rule("AC-NON-COUNCIL-CREDIT")
def non_council_credit(data: AuditData) -> pd.DataFrame:
    p = period_txns(data)
    council, _ = council_credits(data)
    cr = p[(p["direction"] == "credit") & ~p["txn_id"].isin(council["txn_id"])]
    # a refund from a payee of the account (provider, employee, or someone it paid before) is fine
    t = categorise(data)
    names = paid_back_names(data)  # the same payee, however the bank writes the name each way
    payees = set(zip(names["recipient_id"], names["back_norm"]))
    paid_before = pd.Series(list(zip(cr["recipient_id"], cr["cp_norm"])), index=cr.index).isin(payees).values
    # HMRC paying back PAYE to an account that pays HMRC ("HMRC CUMBERNAULD") is a refund too
    pays_hmrc = set(t.loc[(t["direction"] == "debit") & t["f_hmrc"].astype(bool), "recipient_id"])
    hmrc_back = (cr["f_hmrc"].astype(bool) & cr["recipient_id"].isin(pays_hmrc)).values
    refund = cr["provider"].astype(bool).values | cr["employee_id"].notna().values | paid_before | hmrc_back
    # the family's client contribution is the family's own money, paid in as assessed (contributions.csv)
    from dpaudit.audit.contributions import contribution_credits
    contribution = cr["txn_id"].isin(contribution_credits(data)["txn_id"]).values
    cr = cr[~refund & ~contribution]
    msg = ("Received " + gbp_series(cr["amount_pence"]) + " from " + cr["counterparty"].astype(str) + " on "
           + cr["posted_date"].dt.strftime("%d/%m/%Y") + ", which is neither a scheduled council payment nor a refund from "
           "a payee of the account; only the personal budget may be paid in. Evidence that it is a refund of plan spending, "
           "or the family's assessed client contribution (a contributions.csv row in force), would clear this.")
    return txn_findings(cr, msg)


@rule("AC-PAYMENT-MISSING")
def payment_missing(data: AuditData) -> pd.DataFrame:
    _, m = council_credits(data)
    m = m[m["recipient_id"].isin(covered(data))]
    if m.empty:
        return pd.DataFrame()
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    # a payment that came short is judged in the month it was due; one that has not come, in the month
    # its window ends (a payment due on 30 April may come on 5 May, which April's statements cannot show)
    missing = m["txn_id"].isna() & (m["window_end"] >= s) & (m["window_end"] <= e)
    # a payment may have come on a day no statement shows: that is DQ-STATEMENT-GAP's to report
    gaps = uncovered_days(data)
    unseen = pd.Series([any(d in gaps.get(rid, ()) for d in pd.date_range(due, end).date)
                        for rid, due, end in zip(m["recipient_id"], m["due_date"], m["window_end"])], index=m.index, dtype=bool)
    missing &= ~unseen
    short = m["txn_id"].notna() & (m["amount_pence"] != m["amount_pence_due"]) & (m["due_date"] >= s)
    m = m[missing | short].copy()
    if m.empty:
        return pd.DataFrame()
    got = m["amount_pence"].fillna(0).astype("int64")
    diff = (m["amount_pence_due"].astype("int64") - got).abs()
    due = m["due_date"].dt.strftime("%d/%m/%Y")
    msg = pd.Series([
        (f"The council payment of {format_gbp(d)} due on {dd} (reference {ref or 'none'}) did not arrive within "
         f"{data.policy.days('payment_window_days')} days." if miss else
         f"The council payment due on {dd} arrived as {format_gbp(g)} instead of {format_gbp(d)} (difference {format_gbp(x)}).")
        + " Check the council's payment run and the bank statement for that date."
        for d, dd, ref, miss, g, x in zip(m["amount_pence_due"], due, m["reference"].fillna(""), missing[m.index], got, diff)],
        index=m.index)
    return pd.DataFrame({"recipient_id": m["recipient_id"], "key": m["sched_id"], "txn_date": m["due_date"],
                         "amount_pence": diff, "counterparty": "Council", "txn_ref": m["txn_id"], "message": msg})


@rule("AC-OVERDRAWN")
def overdrawn(data: AuditData) -> pd.DataFrame:
    """Once per episode of negative end-of-day balance (an episode running on from an audited last month
    is not raised again; in the first month audited, an overdraft already there is raised)."""
    b = balances(data)
    eod = end_of_day_balances(data)
    neg_ids = set(eod.loc[eod["eod_pence"] < 0, "recipient_id"])
    rows = []
    neg_ids |= set(b.loc[b["opening_pence"] < 0, "recipient_id"])
    for r in b[b["recipient_id"].isin(neg_ids)].itertuples():
        # the month opens with the opening balance (overdrawn from the 1st if it is negative)
        days = pd.concat([pd.DataFrame({"posted_date": [pd.Timestamp(data.start)], "eod_pence": [r.opening_pence]}),
                          eod[eod["recipient_id"] == r.recipient_id][["posted_date", "eod_pence"]]], ignore_index=True)
        neg = (days["eod_pence"] < 0).to_numpy()
        # a new episode begins (one running on from last month was reported then, if it was audited)
        running_on = r.opening_pence < 0 and r.recipient_id in data.audited_before
        starts = neg & ~np.concatenate([[running_on], neg[:-1]])
        episode = np.cumsum(starts)
        for k in sorted(set(episode[neg])):
            if k == 0:
                continue  # the episode began last month and is already reported
            sel = days[neg & (episode == k)]
            low, first = int(sel["eod_pence"].min()), sel["posted_date"].iloc[0]
            rows.append({"recipient_id": r.recipient_id, "key": f"{first:%Y-%m-%d}", "txn_date": first, "amount_pence": -low,
                         "message": f"The account was overdrawn from {first:%d/%m/%Y}, lowest end-of-day balance "
                                    f"{format_gbp(low)}. The account must not go below £0.00; "
                                    "a plan to keep a contingency would clear this."})
    return pd.DataFrame(rows)


def _month_end(data: AuditData) -> pd.DataFrame:
    b = balances(data)
    value = dp_value_at_end(data)
    b = b[b["recipient_id"].isin(value.index)].copy()
    b["annual_pence"] = b["recipient_id"].map(value).astype("int64")
    return b[b["annual_pence"] > 0]


@rule("AC-LOW-CONTINGENCY")
def low_contingency(data: AuditData) -> pd.DataFrame:
    b = _month_end(data)
    pct = data.policy.pct("contingency_min_pct")
    b["floor"] = [pct_of(a, pct) for a in b["annual_pence"]]
    b = b[(b["closing_pence"] < b["floor"]) & (b["closing_pence"] >= 0)]
    msg = ("The month-end balance of " + gbp_series(b["closing_pence"]) + " is below the " + str(pct)
           + "% contingency (" + gbp_series(b["floor"]) + ") of the annual direct payment of " + gbp_series(b["annual_pence"])
           + ". Keeping 5-10% back covers changes in support needs; no evidence is needed, but the family may need advice.")
    return pd.DataFrame({"recipient_id": b["recipient_id"], "key": data.period, "amount_pence": b["floor"] - b["closing_pence"],
                         "txn_date": pd.Timestamp(data.end), "message": msg})


@rule("AC-SURPLUS")
def surplus(data: AuditData) -> pd.DataFrame:
    b = _month_end(data)
    pct = data.policy.pct("contingency_max_pct")
    weeks = data.policy.days("surplus_weeks")
    from dpaudit.core.money import round_half_up_pence
    from decimal import Decimal
    b["limit"] = [pct_of(a, pct) + round_half_up_pence(Decimal(int(a)) * weeks / 52) for a in b["annual_pence"]]
    b = b[b["closing_pence"] > b["limit"]]
    from dpaudit.core.money import format_weeks, weeks_of_funding
    excess = b["closing_pence"] - b["limit"]
    in_weeks = pd.Series([format_weeks(weeks_of_funding(x, a)) for x, a in zip(excess, b["annual_pence"])],
                         index=b.index, dtype="object")
    msg = ("The month-end balance of " + gbp_series(b["closing_pence"]) + " is above " + str(pct) + "% of the annual direct "
           "payment plus " + str(weeks) + " weeks' payments (" + gbp_series(b["limit"]) + ") by "
           + gbp_series(excess) + " (" + in_weeks + "): funds are being held back. Evidence of committed "
           "costs (unpaid invoices, wages due) would clear this; otherwise the excess may be recovered.")
    return pd.DataFrame({"recipient_id": b["recipient_id"], "key": data.period, "amount_pence": b["closing_pence"] - b["limit"],
                         "txn_date": pd.Timestamp(data.end), "message": msg})
