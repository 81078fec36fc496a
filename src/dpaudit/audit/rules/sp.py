"""Spending rules (SP-*): what the direct payment was spent on, against PBP 4.3 and the plan."""
from __future__ import annotations

import pandas as pd

from dpaudit.audit.data import AuditData, budget_to_date
from dpaudit.audit.match import match_evidence
from dpaudit.core.money import gbp_series, pct_of
from dpaudit.audit.rules.common import fy_spend_verdict, fy_txns, period_txns, returned_to_sender, spend_verdict
from dpaudit.audit.rules.registry import rule, txn_findings


def _verdict_rows(data: AuditData, rule_id: str) -> pd.DataFrame:
    p = period_txns(data)
    return p[spend_verdict(data) == rule_id]


def _money(rows: pd.DataFrame) -> pd.Series:
    return gbp_series(rows["amount_pence"].abs())


def _spent(r: pd.DataFrame) -> pd.Series:
    """'Spent £12.50 at PAYEE on 05/01/2026' for each row: the opening of every spending message."""
    return "Spent " + _money(r) + " at " + r["counterparty"].astype(str) + " on " + r["posted_date"].dt.strftime("%d/%m/%Y")


@rule("SP-AFTER-END")
def after_end(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-AFTER-END")
    why = r["status"].eq("stopped").map({True: "while the direct payment is stopped", False: "after the direct payment ended"})
    end = r["dp_end_date"].dt.strftime("%d/%m/%Y").fillna("")
    msg = (_spent(r) + " " + why + (" (" + end + ")").where(end != "", "") + ". Funds paid after entitlement ends must be returned; "
           "evidence that the cost was agreed before the end date would clear this.")
    return txn_findings(r, msg)


@rule("SP-PROHIBITED")
def prohibited(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-PROHIBITED")
    mcc = r["mcc"].fillna("").astype(str)
    how = ("the merchant category " + mcc).where(mcc.isin(data.policy.raw["keywords"]["prohibited_mcc"]),
                                                 "'" + r["kw_prohibited"].fillna("").astype(str) + "' in the payee's name")
    msg = (_spent(r) + "; " + how + " shows alcohol, gambling or adult activity, which a personal budget may not buy. "
           "A receipt showing an item in the support plan would clear this.")
    return txn_findings(r, msg)


@rule("SP-TRANSFER-OUT")
def transfer_out(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-TRANSFER-OUT")
    lent = r["txn_id"].isin(returned_to_sender(data))
    why = pd.Series("the bank shows it as a transfer", index=r.index)
    why = why.where(~r["f_transfer"].astype(bool), "the description reads as a transfer to another account")
    why = why.where(~r["f_family"].astype(bool), "the payee carries the family's own name")
    why = why.where(~lent, "the same name paid it back soon after (money lent out of the account)")
    msg = ("Transferred " + _money(r) + " to " + r["counterparty"].astype(str) + " on " + r["posted_date"].dt.strftime("%d/%m/%Y")
           + " (" + why + "), which is not an agreed payee of the plan. The DP account may only pay for agreed support; "
           "an invoice or receipt from an agreed provider for this amount would clear this.")
    return txn_findings(r, msg)


@rule("SP-HOUSEHOLD")
def household(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-HOUSEHOLD")
    mcc = r["mcc"].fillna("").astype(str)
    word = r["kw_household"].fillna("").astype(str)
    how = pd.Series("a payment to the council itself (a bill such as council tax or rent; only the council's payments in "
                    "are the budget)", index=r.index)
    how = how.where(word == "", "'" + word + "' in the payee's name")
    how = how.where(~mcc.isin(data.policy.raw["keywords"]["household_mcc"]), "the merchant category " + mcc)
    msg = (_spent(r) + ", a household bill or general household purchase (" + how + "), which the plan does not agree. "
           "A plan line agreeing it, or a receipt showing items that directly benefit the child as set out in the plan, "
           "would clear this.")
    return txn_findings(r, msg)


@rule("SP-CASH")
def cash(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-CASH")
    mcc = r["mcc"].fillna("").astype(str)
    # a card's cash withdrawal is known by its merchant category (6010 counter, 6011 ATM): say so
    coded = (" at " + r["counterparty"].astype(str) + " (merchant category " + mcc + ")").where(
        mcc.isin(data.policy.raw["keywords"]["cash_mcc"]), "")
    msg = ("Cash withdrawal of " + _money(r) + coded + " on " + r["posted_date"].dt.strftime("%d/%m/%Y")
           + ". Receipts showing what the cash bought, within the plan, would clear this.")
    return txn_findings(r, msg)


@rule("SP-SCHOOL-CONSENT")
def school_consent(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-SCHOOL-CONSENT")
    msg = (_spent(r) + " on plan line " + r["line_id"].astype(str) + ", used in a school or other setting, with no written consent "
           "of the setting on or before that date. The head teacher's, principal's or provider's written consent would clear this.")
    return txn_findings(r, msg)


@rule("SP-NOT-IN-PLAN")
def not_in_plan(data: AuditData) -> pd.DataFrame:
    r = _verdict_rows(data, "SP-NOT-IN-PLAN")
    msg = (_spent(r) + " on " + r["category"].astype(str).str.replace("_", " ") + " (" + r["cat_reason"].astype(str)
           + "), but no plan line for that was in force on that date. An agreed change to the support plan would clear this.")
    return txn_findings(r, msg)


@rule("SP-DUPLICATE-PAYMENT")
def duplicate_payment(data: AuditData) -> pd.DataFrame:
    """Same payee and amount within the window, where only one of the payments is evidenced."""
    p = period_txns(data)
    d = p[(p["direction"] == "debit") & ~p["f_bank_charge"] & (p["cp_norm"] != "")]
    if d.empty:
        return pd.DataFrame()
    _, _, status = match_evidence(data)
    d = d.merge(status[["txn_id", "evidence_status"]], on="txn_id", how="left")
    win = pd.Timedelta(days=data.policy.days("duplicate_window_days"))
    pairs = d.merge(d, on=["recipient_id", "cp_norm", "amount_pence"], suffixes=("", "_first"))
    pairs = pairs[(pairs["posted_date_first"] <= pairs["posted_date"]) & (pairs["txn_id_first"] != pairs["txn_id"])
                  & ((pairs["posted_date"] - pairs["posted_date_first"]) <= win)]
    # the later (or, on the same day, the higher id) payment is the duplicate, and only when unevidenced
    later = (pairs["posted_date"] > pairs["posted_date_first"]) | (pairs["txn_id"] > pairs["txn_id_first"])
    pairs = pairs[later & (pairs["evidence_status"] != "evidenced") & (pairs["evidence_status_first"] == "evidenced")]
    pairs = pairs.drop_duplicates("txn_id")
    msg = ("Paid " + pairs["counterparty"].astype(str) + " " + gbp_series(pairs["amount_pence"].abs()) + " on "
           + pairs["posted_date"].dt.strftime("%d/%m/%Y") + " and the same amount on " + pairs["posted_date_first"].dt.strftime("%d/%m/%Y")
           + ", but the evidence shows one supply. A second receipt or invoice, or a refund, would clear this.")
    return txn_findings(pairs, msg)


@rule("SP-OVER-BUDGET")
def over_budget(data: AuditData) -> pd.DataFrame:
    """Spend on a plan line, financial year to date, above its pro-rata budget plus tolerance or its annual amount."""
    lines = budget_to_date(data)
    if lines.empty:
        return pd.DataFrame()
    spend = line_spend_to_date(data)
    m = lines.merge(spend, on=["recipient_id", "line_id"])
    if m.empty:
        return pd.DataFrame()
    tol = data.policy.pct("overspend_tolerance_pct")
    m["limit"] = [min(b + pct_of(b, tol), int(a)) for b, a in zip(m["budget_pence"], m["annual_amount_pence"])]
    m = m[m["spend_pence"] > m["limit"]]
    if m.empty:
        return pd.DataFrame()
    excess = (m["spend_pence"] - m["limit"]).astype("int64")
    msg = ("Spend on plan line " + m["line_id"].astype(str) + " (" + m["category"].str.replace("_", " ") + ") this financial year is "
           + gbp_series(m["spend_pence"]) + ", above its budget to date of " + gbp_series(m["budget_pence"])
           + " plus " + str(tol) + "% tolerance (limit " + gbp_series(m["limit"]) + ") by " + gbp_series(excess)
           + ". An agreed increase to the plan line, or evidence that the spend belongs to another line, would clear this.")
    return pd.DataFrame({"recipient_id": m["recipient_id"], "key": data.period + "|" + m["line_id"].astype(str),
                         "line_id": m["line_id"], "amount_pence": excess, "message": msg})


def line_spend_to_date(data: AuditData) -> pd.DataFrame:
    """Debits charged to each plan line from 1 April to the period end (pence, positive).

    Only debits categorised to the line's category count; one that a spending rule flags (cash,
    transfer, prohibited, household, not in plan, after end) counts toward repayment, never
    against a line (rules.md "Budget to date")."""
    t = fy_txns(data)
    verdict = fy_spend_verdict(data)
    flagged = verdict.isin(data.policy.raw["recommend"]["off_budget_rules"])
    spent = t[(t["direction"] == "debit") & t["line_id"].notna() & ~flagged]
    return (-spent.groupby(["recipient_id", "line_id"])["amount_pence"].sum()).astype("int64").rename("spend_pence").reset_index()
