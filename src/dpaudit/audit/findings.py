"""Findings: the typed table every rule returns, and the stable ``exception_id``.

A finding is one row with the columns of :data:`FINDING_COLUMNS`.  Rules build a frame with
``rule_id, recipient_id, period, key`` (what the finding is about, e.g. a transaction id) and
any of the optional columns, then call :func:`finalise` which adds severity and clause from the
policy and a stable ``exception_id`` = sha256(rule_id | recipient_id | key)[:16].  The same
inputs and policy therefore always give the same exception ids.
"""
from __future__ import annotations

import hashlib

import pandas as pd

from dpaudit.core.mask import mask_text
from dpaudit.core.policy import Policy

FINDING_COLUMNS = [
    "exception_id", "period", "recipient_id", "rule_id", "severity", "txn_date", "amount_pence",
    "counterparty", "txn_ref", "line_id", "message", "clause",
]
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
# the recipient_id of a finding about no one family: a cohort check of the council's providers
# across all accounts (CO-PROVIDER-PATTERN), or a rule that could not run (RULE-ERROR)
COUNCIL = "COUNCIL"


def exception_id(rule_id: str, recipient_id: str, key: str) -> str:
    return hashlib.sha256(f"{rule_id}|{recipient_id}|{key}".encode("utf-8")).hexdigest()[:16]


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in FINDING_COLUMNS}).astype({"amount_pence": "Int64"})


def finalise(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Give a rule's raw frame severity, clause and exception_id; drop disabled rules; fix column order."""
    if frame is None or len(frame) == 0:
        return empty_findings()
    f = frame.copy()
    for col in FINDING_COLUMNS + ["key"]:
        if col not in f.columns:
            f[col] = None
    keep = f["rule_id"].map(lambda r: policy.rule(r).enabled)
    f = f[keep.astype(bool)].copy()
    if f.empty:
        return empty_findings()
    f["severity"] = f["rule_id"].map(lambda r: policy.rule(r).severity)
    f["clause"] = f["rule_id"].map(lambda r: policy.rule(r).clause)
    f["exception_id"] = [exception_id(r, str(rid), str(k)) for r, rid, k in zip(f["rule_id"], f["recipient_id"], f["key"])]
    f["amount_pence"] = pd.array(f["amount_pence"].map(lambda v: None if v is None or pd.isna(v) else abs(int(v))), dtype="Int64")
    f["txn_date"] = pd.to_datetime(f["txn_date"]).dt.date
    f["txn_date"] = f["txn_date"].where(f["txn_date"].notna(), None)
    # bank descriptions carry account numbers: show only their last 4 digits (house rule)
    f["message"] = f["message"].map(mask_text)
    f["counterparty"] = f["counterparty"].map(mask_text)
    f = f.drop_duplicates("exception_id")
    return f[FINDING_COLUMNS].reset_index(drop=True)


def sort_findings(f: pd.DataFrame) -> pd.DataFrame:
    """Severity, then money at stake (largest first), then id: a total, reproducible order."""
    if f.empty:
        return f
    order = f["severity"].map(SEVERITY_ORDER)
    amt = f["amount_pence"].fillna(0).astype("int64")
    return (f.assign(_o=order, _a=-amt).sort_values(["_o", "_a", "recipient_id", "rule_id", "exception_id"])
            .drop(columns=["_o", "_a"]).reset_index(drop=True))
