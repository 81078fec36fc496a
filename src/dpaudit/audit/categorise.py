"""Categorise every bank transaction, with the reason kept beside it.

For each transaction: ``direction`` (debit/credit), ``counterparty`` (payee, else description),
``cp_norm`` (normalised name), keyword/MCC flags from the policy, the registered employee it
pays (exact or fuzzy match on name and ``payee_names``), the agreed provider (plan line
``providers`` or ``providers.csv``), a ``category`` from the plan vocabulary with ``cat_reason``,
and the plan ``line_id`` in force on the date.  Fuzzy matching is done once per distinct
(recipient, payee) pair, in C (rapidfuzz ``cpdist``), not per transaction.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dpaudit.audit.data import AuditData, cached_view, valid_plan_lines, wage_payslip_pairs
from dpaudit.core.distinct import Distinct, per_distinct
from dpaudit.core.names import normalise_name, pairs_scoring

EMPLOYER_CATEGORY = "personal_assistant"


def keyword_regex(words: list[str]) -> re.Pattern | None:
    words = [w for w in words if w]
    if not words:
        return None
    alt = "|".join(sorted((re.escape(w.lower()) for w in words), key=len, reverse=True))
    # whole words, plurals allowed ("taxi" matches "taxis"; "bar" does not match "barclays")
    return re.compile(rf"(?<![a-z0-9])(?:{alt})s?(?![a-z0-9])")


def _has(text: Distinct, words: list[str]) -> pd.Series:
    rx = keyword_regex(words)
    if rx is None:
        return pd.Series(False, index=text.index)
    return text.apply(lambda v: v.str.contains(rx, na=False).astype(bool))  # each distinct text once


def _split_names(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.split(";")


def _fuzzy_pairs(pairs: pd.DataFrame, cands: pd.DataFrame, on: list[str], threshold: float,
                 ties: bool = False) -> pd.DataFrame:
    """Best candidate per (recipient_id, cp_norm) pair with score >= threshold (``ties``: every
    candidate with the best score).

    ``cands`` has the ``on`` columns plus ``cand_norm`` and payload columns.
    """
    if pairs.empty or cands.empty:
        return pd.DataFrame(columns=list(pairs.columns) + [c for c in cands.columns if c not in on] + ["score"])
    # score each distinct (payee, candidate) name pair once: a council-wide list meets the same
    # payee names (supermarkets, transport) in thousands of accounts
    if on:
        m = pairs.merge(cands, on=on, how="inner")
        names = m[["cp_norm", "cand_norm"]].drop_duplicates()
    else:
        names = pairs[["cp_norm"]].drop_duplicates().merge(cands[["cand_norm"]].drop_duplicates(), how="cross")
    if names.empty:
        return pd.DataFrame(columns=list(pairs.columns) + [c for c in cands.columns if c not in on] + ["score"])
    names = pairs_scoring(names, "cp_norm", "cand_norm", threshold)
    m = m.merge(names, on=["cp_norm", "cand_norm"]) if on else \
        pairs.merge(names, on="cp_norm").merge(cands, on="cand_norm")
    m = m.sort_values(["recipient_id", "cp_norm", "score", "cand_norm"], ascending=[True, True, False, True])
    if ties:
        return m[m["score"] == m.groupby(["recipient_id", "cp_norm"])["score"].transform("max")]
    return m.drop_duplicates(["recipient_id", "cp_norm"])


@cached_view("categorised")
def categorise(data: AuditData) -> pd.DataFrame:
    """Return the transactions with categorisation columns (computed once per audit)."""
    pol = data.policy
    t = data.txns.copy()
    if t.empty:
        for c in ("direction", "counterparty", "cp_norm", "text", "employee_id", "category", "cat_reason", "line_id",
                  "provider", "f_prohibited", "f_household", "f_cash", "f_transfer", "f_bank_charge", "f_hmrc", "f_council"):
            t[c] = pd.Series(dtype="object")
        return t
    t["direction"] = np.where(t["amount_pence"] < 0, "debit", "credit")
    payee = t["payee"].fillna("").astype(str).str.strip()
    desc = t["description"].fillna("").astype(str).str.strip()
    t["counterparty"] = payee.where(payee != "", desc)
    t["text"] = (payee + " " + desc).str.lower()
    t["cp_norm"] = per_distinct(t["counterparty"], lambda v: v.map(normalise_name))
    text = Distinct(t["text"])
    ttype = t["txn_type"].fillna("").astype(str).str.upper()
    mcc = t["mcc"].fillna("").astype(str)
    kw = pol.keywords
    t["f_prohibited"] = _has(text, kw("prohibited")) | mcc.isin(pol.raw["keywords"]["prohibited_mcc"])
    t["f_household"] = _has(text, kw("household")) | mcc.isin(pol.raw["keywords"]["household_mcc"])
    t["f_cash"] = _has(text, kw("cash")) | ttype.isin([x.upper() for x in pol.raw["keywords"]["cash_types"]])
    t["f_transfer"] = _has(text, kw("transfer")) | ttype.isin([x.upper() for x in pol.raw["keywords"]["transfer_types"]])
    t["f_bank_charge"] = _has(text, kw("bank_charges")) | ttype.isin(["FEE", "SRVCHG"])
    t["f_hmrc"] = _has(text, kw("hmrc"))
    t["f_council"] = _has(text, kw("council"))

    threshold = float(pol.threshold("fuzzy_payee_threshold"))
    pairs = t[["recipient_id", "cp_norm"]].drop_duplicates()
    pairs = pairs[pairs["cp_norm"] != ""]

    # registered employees: name and every payee name, per recipient
    emp = data.employees
    if not emp.empty:
        e = emp[["recipient_id", "employee_id", "name", "payee_names"]].copy()
        e["alias"] = (e["name"].fillna("") + ";" + e["payee_names"].fillna("")).str.split(";")
        e = e.explode("alias")
        e["cand_norm"] = e["alias"].map(normalise_name)
        e = e[e["cand_norm"] != ""][["recipient_id", "cand_norm", "employee_id"]].drop_duplicates()
        emp_ties = _fuzzy_pairs(pairs, e, ["recipient_id"], threshold, ties=True)
        emp_ties = emp_ties[["recipient_id", "cp_norm", "employee_id"]].drop_duplicates()
        emp_hit = emp_ties.drop_duplicates(["recipient_id", "cp_norm"])
    else:
        emp_hit = pd.DataFrame(columns=["recipient_id", "cp_norm", "employee_id"])

    # agreed providers of plan lines (recipient-specific) and the council's providers list
    pl = data.plan_lines
    plan_cands = pd.DataFrame(columns=["recipient_id", "cand_norm", "prov_category", "prov_line"])
    if not pl.empty:
        p = pl[["recipient_id", "line_id", "category", "providers"]].copy()
        p["prov"] = _split_names(p["providers"])
        p = p.explode("prov")
        p["cand_norm"] = p["prov"].map(normalise_name)
        p = p[p["cand_norm"] != ""]
        plan_cands = p.rename(columns={"category": "prov_category", "line_id": "prov_line"})[
            ["recipient_id", "cand_norm", "prov_category", "prov_line"]].drop_duplicates(["recipient_id", "cand_norm"])
    plan_hit = _fuzzy_pairs(pairs, plan_cands, ["recipient_id"], threshold)[["recipient_id", "cp_norm", "prov_category", "prov_line"]]
    prov = data.providers
    list_hit = pd.DataFrame(columns=["recipient_id", "cp_norm", "list_category", "list_name"])
    if not prov.empty:
        c = prov[["name", "aliases", "category"]].copy()
        c["alias"] = (c["name"].fillna("") + ";" + c["aliases"].fillna("")).str.split(";")
        c = c.explode("alias")
        c["cand_norm"] = c["alias"].map(normalise_name)
        c = c[c["cand_norm"] != ""].rename(columns={"category": "list_category", "name": "list_name"})[
            ["cand_norm", "list_category", "list_name"]].drop_duplicates("cand_norm")
        list_hit = _fuzzy_pairs(pairs, c, [], threshold)[["recipient_id", "cp_norm", "list_category", "list_name"]]

    t = t.merge(emp_hit, on=["recipient_id", "cp_norm"], how="left")
    if not emp.empty:
        t = _namesakes_by_payslip(t, emp_ties, data)
    t = t.merge(plan_hit, on=["recipient_id", "cp_norm"], how="left")
    t = t.merge(list_hit, on=["recipient_id", "cp_norm"], how="left")
    t["provider"] = t["prov_line"].notna() | t["list_category"].notna()

    # category with its reason, in order of trust
    cat = pd.Series(pd.NA, index=t.index, dtype="object")
    why = pd.Series(pd.NA, index=t.index, dtype="object")

    def put(mask: pd.Series, value, reason) -> None:
        m = mask & cat.isna()
        if isinstance(value, pd.Series):
            cat.loc[m] = value[m]
        else:
            cat.loc[m] = value
        why.loc[m] = reason if isinstance(reason, str) else reason[m]

    debit = t["direction"] == "debit"
    put(debit & t["employee_id"].notna(), EMPLOYER_CATEGORY, "wages to a registered employee")
    put(debit & t["f_hmrc"], EMPLOYER_CATEGORY, "PAYE/NI paid to HMRC (employer cost)")
    put(debit & t["f_bank_charge"], "bank_charges", "bank charge")
    put(debit & t["prov_category"].notna(), t["prov_category"], "agreed provider of plan line " + t["prov_line"].fillna("").astype(str))
    put(debit & t["list_category"].notna() & t["list_category"].isin(pol.raw["categories"]["allowed"]),
        t["list_category"], "known provider " + t["list_name"].fillna("").astype(str))
    for category, words in pol.category_keywords().items():
        put(debit & _has(text, words), category, f"keyword for {category}")
    t["category"] = cat
    t["cat_reason"] = why
    t = _assign_lines(t, data)
    t = t.drop(columns=["list_name"]).reset_index(drop=True)
    return t


def _namesakes_by_payslip(t: pd.DataFrame, emp_ties: pd.DataFrame, data: AuditData) -> pd.DataFrame:
    """A payee name shared by two of a family's employees (two "Lisa Wade"s; Sarah and Steven
    Gibson paid as "S GIBSON") names each of them equally well: pay each such debit to the namesake
    whose payslip has that net pay near that date (else the first, as before)."""
    n = emp_ties.groupby(["recipient_id", "cp_norm"])["employee_id"].transform("size")
    shared = emp_ties[n > 1]
    ps = data.payslips
    if shared.empty or ps.empty:
        return t
    d = t[(t["direction"] == "debit") & t["employee_id"].notna()][["txn_id", "recipient_id", "cp_norm", "posted_date",
                                                                   "amount_pence"]]
    m = wage_payslip_pairs(d.merge(shared, on=["recipient_id", "cp_norm"]),
                           ps[["recipient_id", "employee_id", "pay_date", "net_pence"]], data.policy)
    if m.empty:
        return t
    best = m.sort_values(["txn_id", "gap", "employee_id"]).drop_duplicates("txn_id").set_index("txn_id")["employee_id"]
    hit = t["txn_id"].isin(best.index)
    t.loc[hit, "employee_id"] = t.loc[hit, "txn_id"].map(best)
    return t


def _assign_lines(t: pd.DataFrame, data: AuditData) -> pd.DataFrame:
    """Give each categorised debit the plan line of its category in force on its date (or none)."""
    lines = valid_plan_lines(data)
    t["line_id"] = pd.NA
    if lines.empty:
        return t
    d = t[(t["direction"] == "debit") & t["category"].notna()][["txn_id", "recipient_id", "category", "posted_date", "prov_line"]]
    m = d.merge(lines[["recipient_id", "line_id", "category", "valid_from", "valid_to"]], on=["recipient_id", "category"])
    m = m[(m["posted_date"] >= m["valid_from"]) & (m["posted_date"] <= m["valid_to"])]
    m["pref"] = (m["line_id"] != m["prov_line"]).astype(int)
    m = m.sort_values(["pref", "line_id"], kind="stable").drop_duplicates("txn_id")  # per txn: agreed line first
    t = t.drop(columns=["line_id"]).merge(m[["txn_id", "line_id"]], on="txn_id", how="left")
    return t
