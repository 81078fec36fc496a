"""Data-quality rules raised by the audit from the store (DQ-*).

Statement continuity checks (DQ-STATEMENT-MISSING, -GAP, DQ-BALANCE-BREAK, DQ-WRONG-ACCOUNT)
come from :mod:`dpaudit.ingest.statements` and are added by the pipeline; the ones here are
derived from stored state, so a re-run that skips already-read files raises them again.
"""
from __future__ import annotations

import pandas as pd

from dpaudit.audit.data import AuditData
from dpaudit.audit.rules.registry import rule

# The quarantine and duplicate-file views are read by the pipeline and put in data.cache.


@rule("DQ-ROW-REJECTED")
def row_rejected(data: AuditData) -> pd.DataFrame:
    q = data.cache.get("quarantine_period", pd.DataFrame())
    if q.empty:
        return pd.DataFrame()
    return pd.DataFrame({"recipient_id": q["recipient_id"].fillna("COUNCIL"), "key": q["key"],
                         "message": q["reason"].str.rstrip(".") + ". It was not counted; correct it and send it again."})


@rule("DQ-DUPLICATE-FILE")
def duplicate_file(data: AuditData) -> pd.DataFrame:
    d = data.cache.get("duplicate_files", pd.DataFrame())
    if d.empty:
        return pd.DataFrame()
    return pd.DataFrame({"recipient_id": d["recipient_id"], "key": d["path"],
                         "message": d["path"] + " has the same content as " + d["first_path"]
                         + ", which was already read; nothing in it was counted twice. No action is needed unless another file was meant."})


@rule("DQ-PLAN-INVALID")
def plan_invalid(data: AuditData) -> pd.DataFrame:
    """A DP plan line from a funding stream restricted to notional, or without valid dates; raised in the
    first audited period in which the line is in force."""
    pl = data.plan_lines
    if pl.empty:
        return pd.DataFrame()
    pl = pl[pl["management_type"].isin(["direct_payment", "combination"])].copy()
    restricted = pl["funding_stream"].map(lambda s: data.policy.funding_restriction(str(s)) == "notional")
    unknown = pl["funding_stream"].map(lambda s: data.policy.funding_restriction(str(s)) is None)
    bad_dates = pl["valid_from"].isna() | pl["valid_to"].isna() | (pl["valid_from"] > pl["valid_to"])
    pl["why"] = None
    pl.loc[unknown, "why"] = "its funding stream '" + pl["funding_stream"].astype(str) + "' is not in PBP Appendix I"
    pl.loc[restricted, "why"] = ("its funding stream '" + pl["funding_stream"].astype(str)
                                 + "' is restricted to notional arrangements (PBP Appendix I) but it is paid as a direct payment")
    pl.loc[bad_dates, "why"] = "it has no valid dates (valid_from and valid_to must be given, in order)"
    pl["bad_dates"] = bad_dates
    pl = pl[pl["why"].notna()]
    bad_dates = pl["bad_dates"]
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    in_force = pl["valid_from"].isna() | (pl["valid_from"] <= e)
    pl = pl[in_force & (pl["valid_to"].isna() | (pl["valid_to"] >= s) | bad_dates)]
    if not data.prior_findings.empty:
        seen = data.prior_findings[data.prior_findings["rule_id"] == "DQ-PLAN-INVALID"]
        pl = pl[~(pl["recipient_id"] + "|" + pl["line_id"]).isin(seen["recipient_id"] + "|" + seen["line_id"].fillna(""))]
    msg = ("Plan line " + pl["line_id"].astype(str) + " (" + pl["category"].astype(str).str.replace("_", " ") + ") is not valid: "
           + pl["why"] + ". It is left out of the budget and the annual DP value; correct the support plan line.")
    return pd.DataFrame({"recipient_id": pl["recipient_id"], "key": pl["line_id"], "line_id": pl["line_id"],
                         "amount_pence": pl["annual_amount_pence"], "message": msg})
