"""Rule registration and the runner.

A rule is ``fn(data: AuditData) -> DataFrame`` of raw findings (``recipient_id, key, message``
and optional ``txn_date, amount_pence, counterparty, txn_ref, line_id``), registered with
``@rule("RULE-ID")``.  Adding a rule is adding one function; the runner never changes.  A rule
that crashes becomes a ``RULE-ERROR`` finding and the other rules still run.
"""
from __future__ import annotations

import traceback
from typing import Callable

import pandas as pd

from dpaudit.audit.data import AuditData
from dpaudit.audit.findings import finalise

RuleFn = Callable[[AuditData], pd.DataFrame]
RULES: dict[str, RuleFn] = {}


def rule(rule_id: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = fn
        fn.rule_id = rule_id  # type: ignore[attr-defined]
        return fn
    return register


def run_rules(data: AuditData, only: list[str] | None = None) -> pd.DataFrame:
    """Run every enabled rule; return finalised findings (severity, clause, exception_id)."""
    frames = []
    for rule_id in sorted(RULES):
        if only is not None and rule_id not in only:
            continue
        if not data.policy.rule(rule_id).enabled:
            continue
        try:
            raw = RULES[rule_id](data)
        except Exception as exc:  # a broken rule is a finding, not a crashed run
            raw = pd.DataFrame([{"recipient_id": "COUNCIL", "key": f"{data.period}|{rule_id}",
                                 "message": f"Rule {rule_id} could not run: {exc!r}. The other rules ran. "
                                            f"Details: {traceback.format_exc(limit=2)}"}])
            raw["rule_id"] = "RULE-ERROR"
        if raw is None or raw.empty:
            continue
        raw = raw.copy()
        if "rule_id" not in raw.columns:
            raw["rule_id"] = rule_id
        raw["period"] = data.period
        frames.append(raw)
    if not frames:
        return finalise(pd.DataFrame(), data.policy)
    return finalise(pd.concat(frames, ignore_index=True), data.policy)


def txn_findings(rows: pd.DataFrame, message: pd.Series | str, amount: pd.Series | None = None,
                 key_suffix: str = "") -> pd.DataFrame:
    """Raw findings about transactions: key = txn_id, money at stake = the debit/credit."""
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "recipient_id": rows["recipient_id"].values,
        "key": (rows["txn_id"].astype(str) + key_suffix).values,
        "txn_date": rows["posted_date"].values,
        "amount_pence": (rows["amount_pence"].abs() if amount is None else amount).values,
        "counterparty": rows["counterparty"].values,
        "txn_ref": rows["txn_id"].values,
        "line_id": rows["line_id"].values if "line_id" in rows.columns else None,
        "message": message.values if isinstance(message, pd.Series) else message,
    })
