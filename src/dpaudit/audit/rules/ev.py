"""Evidence rules (EV-*): receipts for all expenditure (PBP 5.2)."""
from __future__ import annotations

import pandas as pd

from dpaudit.audit.data import AuditData
from dpaudit.audit.match import match_evidence, unmatched_documents
from dpaudit.core.money import gbp_series
from dpaudit.audit.rules.common import covered, period_txns
from dpaudit.audit.rules.registry import rule, txn_findings


@rule("EV-NO-EVIDENCE")
def no_evidence(data: AuditData) -> pd.DataFrame:
    """Debits with no receipt, invoice, payslip or HMRC record (bank charges and amounts below the
    de-minimis excepted).  A wage payment with a payslip for its date whose net differs is
    PY-NET-MISMATCH, not also unevidenced."""
    from dpaudit.audit.rules.py import payslip_near_ids

    p = period_txns(data)
    _, mism, status = match_evidence(data)
    d = p[(p["direction"] == "debit") & ~p["f_bank_charge"] & p["recipient_id"].isin(covered(data))]
    d = d[~d["txn_id"].isin(payslip_near_ids(data))]
    d = d.merge(status, on="txn_id")
    d = d[(d["evidence_status"] == "unevidenced") & ~d["txn_id"].isin(mism["txn_id"])]
    d = d[d["amount_pence"].abs() >= max(data.policy.pence("evidence_min_amount"), 1)]
    msg = ("No receipt, invoice or payroll record was found for " + gbp_series(d["amount_pence"].abs()) + " paid to "
           + d["counterparty"].astype(str) + " on " + d["posted_date"].dt.strftime("%d/%m/%Y")
           + ". A receipt or invoice for this amount dated within " + str(data.policy.days("match_window_days"))
           + " days of the payment would clear this.")
    return txn_findings(d, msg)


@rule("EV-AMOUNT-MISMATCH")
def amount_mismatch(data: AuditData) -> pd.DataFrame:
    p = period_txns(data)
    _, mism, _ = match_evidence(data)
    if mism.empty:
        return pd.DataFrame()
    m = mism.merge(p, on="txn_id")
    diff = (m["debit_pence"] - m["doc_pence"]).abs()
    msg = ("Paid " + gbp_series(m["debit_pence"]) + " to " + m["counterparty"].astype(str) + " on "
           + m["posted_date"].dt.strftime("%d/%m/%Y") + " but the " + m["kind"].astype(str) + " " + m["ev_id"].str.split(":", n=1).str[1]
           + " from " + m["supplier"].astype(str) + " is for " + gbp_series(m["doc_pence"]) + " (difference "
           + gbp_series(diff) + "). A corrected receipt or invoice, or a refund of the difference, would clear this.")
    return txn_findings(m, msg, amount=diff, key_suffix="|" + m["ev_id"])


@rule("EV-ORPHAN-RECEIPT")
def orphan_receipt(data: AuditData) -> pd.DataFrame:
    docs = unmatched_documents(data)
    _, mism, _ = match_evidence(data)
    docs = docs[~docs["ev_key"].isin(mism["ev_key"]) & docs["recipient_id"].isin(covered(data))]
    if docs.empty:
        return pd.DataFrame()
    label = docs["kind"].astype(str) + " " + docs["ev_id"].str.split(":", n=1).str[1]
    msg = ("The " + label + " from " + docs["supplier"].astype(str) + " for " + gbp_series(docs["doc_pence"])
           + " dated " + docs["doc_date"].dt.strftime("%d/%m/%Y") + " matches no payment from the DP account within "
           + str(data.policy.days("match_window_days")) + " days. The bank statement line that paid it, or a note that "
           "it was paid from elsewhere, would clear this.")
    return pd.DataFrame({"recipient_id": docs["recipient_id"], "key": docs["ev_id"], "txn_date": docs["doc_date"],
                         "amount_pence": docs["doc_pence"], "counterparty": docs["supplier"], "message": msg})
