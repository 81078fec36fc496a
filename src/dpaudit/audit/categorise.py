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
from dpaudit.core.names import (NameRules, initial_form, looks_like_person, merchant_name, normalise_name,
                                pairs_scoring)

EMPLOYER_CATEGORY = "personal_assistant"
# words that may stand beside a family name in a transfer to the family's own accounts
# ("BOWLING SAVINGS", "TFR TO K BOWLING A/C"): tokens of normalise_name's output
_OWN_ACCOUNT_WORDS = frozenset({"savings", "saver", "isa", "tfr", "to", "a", "c", "ac", "acc", "account", "transfer",
                                "own", "pot", "joint", "current", "and", "from", "the", "family"})
_TOKEN = re.compile(r"[^a-z0-9]")


def keyword_regex(words: list[str]) -> re.Pattern | None:
    words = [w for w in words if w]
    if not words:
        return None
    alt = "|".join(sorted((re.escape(w.lower()) for w in words), key=len, reverse=True))
    # whole words, plurals allowed ("taxi" matches "taxis"; "bar" does not match "barclays")
    return re.compile(rf"(?<![a-z0-9])(?:{alt})s?(?![a-z0-9])")


def name_rules(data: AuditData) -> NameRules:
    return NameRules.from_raw(data.policy.raw.get("names", {}))


@cached_view("family_words")
def family_words(data: AuditData) -> pd.DataFrame:
    """The words of each DP family's own names (account holder and child, titles and initials
    left out): ``recipient_id, word, surname`` (``surname``: the last word of a name)."""
    r = data.recipients
    rules = name_rules(data)
    rows = []
    for col in ("account_holder", "child_name"):
        if col not in r.columns:
            continue
        for rid, name in zip(r["recipient_id"], r[col]):
            words = [w for w in normalise_name(name, rules).split() if len(w) > 1]
            rows += [(rid, w, i == len(words) - 1) for i, w in enumerate(words)]
    f = pd.DataFrame(rows, columns=["recipient_id", "word", "surname"])
    return f.groupby(["recipient_id", "word"], as_index=False)["surname"].max()


def _tokens(pairs: pd.DataFrame, col: str) -> pd.DataFrame:
    """One row per (row of ``pairs``, whitespace-separated word of ``col``): ``_row, pos, token, word``
    (``word``: the token's letters and digits only)."""
    tok = pairs[col].str.split().explode().dropna()
    out = pd.DataFrame({"_row": tok.index, "token": tok.to_numpy()})
    out["pos"] = out.groupby("_row").cumcount()
    out["word"] = out["token"].str.replace(_TOKEN, "", regex=True)
    return out


def without_family_names(t: pd.DataFrame, data: AuditData, family: pd.Series) -> pd.Series:
    """Each row's ``text`` without the words of the family's own names where the payee is a person
    (the family or anyone else): keywords are tested on merchant text, never on personal names (a
    holder called Coral Bowling paying "CORAL BOWLING SAVINGS" is a transfer, not gambling or a
    bowling alley); a company's name keeps its words ("CORAL RACING LTD" is a bookmaker whoever
    holds the account).  ``family``: the rows whose payee is the family's own name (:func:`family_payees`)."""
    fam = family_words(data)
    if fam.empty or t.empty:
        return t["text"]
    # judged on the name as the bank wrote it: "CORAL RACING LTD" is a company, though its
    # normalised form ("coral racing") reads like a person's name
    raw = t["counterparty"].fillna("").astype(str).str.lower()
    person = (family | per_distinct(raw, lambda v: v.map(looks_like_person)).astype(bool)) \
        & ~t["cp_norm"].isin(brand_names(data))
    pairs = t.loc[person, ["recipient_id", "text"]].drop_duplicates()
    pairs = pairs[pairs["recipient_id"].isin(fam["recipient_id"])].reset_index(drop=True)
    tok = _tokens(pairs, "text")
    tok["recipient_id"] = pairs["recipient_id"].to_numpy()[tok["_row"].to_numpy()] if len(tok) else []
    hit = tok.merge(fam[["recipient_id", "word"]], on=["recipient_id", "word"], how="left", indicator=True)
    hit = hit.sort_values(["_row", "pos"])
    named = hit.loc[hit["_merge"] == "both", "_row"].unique()
    if len(named) == 0:
        return t["text"]
    keep = hit[hit["_row"].isin(named) & (hit["_merge"] == "left_only")]
    rebuilt = keep.groupby("_row")["token"].agg(" ".join).reindex(named, fill_value="")
    changed = pairs.loc[named, ["recipient_id", "text"]].assign(kw_text=rebuilt.to_numpy())
    m = t[["recipient_id", "text"]].merge(changed, on=["recipient_id", "text"], how="left")
    kw = pd.Series(m["kw_text"].to_numpy(), index=t.index)
    return kw.where(person & kw.notna(), t["text"])


def brand_names(data: AuditData) -> set[str]:
    """The policy's prohibited and household names of two or more words ("william hill", "british
    gas"): a payee that is exactly one of them is that brand, whoever in the family shares a word of it."""
    return {" ".join(w.split()) for key in ("prohibited", "household") for w in data.policy.keywords(key) if " " in w}


def family_payees(t: pd.DataFrame, data: AuditData) -> pd.Series:
    """Debits to the family's own name: a payee name holding the holder's or child's surname that is
    a person's name ("J BOWLING", "JOHN BOWLING") or only family names and own-account words
    ("BOWLING SAVINGS", "K BOWLING ISA").  Registered employees are excluded by the caller."""
    fam = family_words(data)
    res = pd.Series(False, index=t.index)
    if fam.empty or t.empty:
        return res
    pairs = t.loc[t["direction"] == "debit", ["recipient_id", "cp_norm"]].drop_duplicates()
    pairs = pairs[pairs["recipient_id"].isin(fam["recipient_id"]) & (pairs["cp_norm"] != "")].reset_index(drop=True)
    if pairs.empty:
        return res
    tok = _tokens(pairs, "cp_norm")
    tok["recipient_id"] = pairs["recipient_id"].to_numpy()[tok["_row"].to_numpy()]
    tok = tok.merge(fam, on=["recipient_id", "word"], how="left")
    family = tok["surname"].notna()
    tok["surname"] = tok["surname"].fillna(False).astype(bool)
    # a word that is neither the family's, an own-account word nor an initial
    tok["other"] = ~family & ~tok["word"].isin(_OWN_ACCOUNT_WORDS) & (tok["word"].str.len() > 1)
    g = tok.groupby("_row").agg(surname=("surname", "any"), other=("other", "sum"))
    # a person's name as the bank wrote it: "WILLIAM HILL 2231 STOCKPORT GB" (a bookmaker's shop
    # number and town) is no person, whoever in the family is called Hill
    raw = t.loc[t["direction"] == "debit", ["recipient_id", "cp_norm", "counterparty"]].drop_duplicates(
        ["recipient_id", "cp_norm"])
    raw = pairs.merge(raw, on=["recipient_id", "cp_norm"], how="left")["counterparty"].fillna("").astype(str).str.lower()
    person = raw.map(looks_like_person)
    own = g["surname"] & ((g["other"] == 0) | person.reindex(g.index).astype(bool)) \
        & ~pairs["cp_norm"].isin(brand_names(data)).reindex(g.index).astype(bool)
    flagged = pairs.loc[own[own].index, ["recipient_id", "cp_norm"]].assign(_fam=True)
    m = t[["recipient_id", "cp_norm"]].merge(flagged, on=["recipient_id", "cp_norm"], how="left")
    return pd.Series((m["_fam"].fillna(False).astype(bool) & (t["direction"] == "debit").to_numpy()).to_numpy(), index=t.index)


def _has(text: Distinct, words: list[str]) -> pd.Series:
    rx = keyword_regex(words)
    if rx is None:
        return pd.Series(False, index=text.index)
    return text.apply(lambda v: v.str.contains(rx, na=False).astype(bool))  # each distinct text once


def _which(text: Distinct, words: list[str]) -> pd.Series:
    """The keyword of ``words`` each text holds (the longest, as the regex tries them), or NA."""
    rx = keyword_regex(words)
    if rx is None:
        return pd.Series(pd.NA, index=text.index, dtype="object")
    return text.apply(lambda v: v.str.extract(f"({rx.pattern})", expand=False).astype("object"))


def _split_names(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.split(";")


def _fuzzy_pairs(pairs: pd.DataFrame, cands: pd.DataFrame, on: list[str], threshold: float,
                 ties: bool = False, col: str = "cp_norm") -> pd.DataFrame:
    """Best candidate per (recipient_id, cp_norm) pair with score >= threshold (``ties``: every
    candidate with the best score), scoring the pair's ``col`` (``cp_norm`` or a form of it).

    ``cands`` has the ``on`` columns plus ``cand_norm`` and payload columns.
    """
    if col != "cp_norm":
        keyed = pairs[["recipient_id", "cp_norm", col]]
        hit = _fuzzy_pairs(keyed.drop(columns="cp_norm").rename(columns={col: "cp_norm"}).drop_duplicates(),
                           cands, on, threshold, ties)
        return keyed.merge(hit.rename(columns={"cp_norm": col}), on=["recipient_id", col]).drop(columns=col)
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
    # a 0..n-1 index: the keyword tests below are computed before the merges (which renumber rows)
    # and must line up with them (another account's statement leaves gaps in data.txns' index)
    t = data.txns.reset_index(drop=True)
    if t.empty:
        for c in ("direction", "counterparty", "cp_norm", "text", "employee_id", "category", "cat_reason", "line_id",
                  "provider", "cp_merchant", "cp_canon", "kw_prohibited", "kw_household", "f_prohibited", "f_household", "f_cash", "f_transfer",
                  "f_bank_charge", "f_hmrc", "f_council", "f_family"):
            # flags are bool even when empty: indexing by an empty object column selects columns
            t[c] = pd.Series(dtype="bool" if c.startswith("f_") or c == "provider" else "object")
        return t
    t["direction"] = np.where(t["amount_pence"] < 0, "debit", "credit")
    rules = name_rules(data)
    payee = t["payee"].fillna("").astype(str).str.strip()
    desc = t["description"].fillna("").astype(str).str.strip()
    t["counterparty"] = payee.where(payee != "", desc)
    t["text"] = (payee + " " + desc).str.lower()
    t["cp_norm"] = per_distinct(t["counterparty"], lambda v: v.map(lambda x: normalise_name(x, rules)))
    t["cp_merchant"] = per_distinct(t["cp_norm"], lambda v: v.map(lambda x: merchant_name(x, rules)))
    text = Distinct(t["text"])
    t["f_family"] = family_payees(t, data)  # before employees and providers are known; narrowed below
    merchant_text = Distinct(without_family_names(t, data, t["f_family"]))
    ttype = t["txn_type"].fillna("").astype(str).str.upper()
    mcc = t["mcc"].fillna("").astype(str)
    kw = pol.keywords
    kwr = pol.raw["keywords"]
    debit = t["direction"] == "debit"
    # A merchant category code decides before any keyword (contract section 2, decisions.md 50):
    # where the card scheme's code is present, prohibited, household and cash come from the code
    # lists alone; the payee's words decide only for rows without a code.
    coded = mcc.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    # the word that fired, kept for the finding's message (an officer can check it)
    t["kw_prohibited"] = _which(merchant_text, kw("prohibited")).where(~coded)
    t["kw_household"] = _which(merchant_text, kw("household")).where(~coded)
    t["f_prohibited"] = t["kw_prohibited"].notna() | mcc.isin(kwr["prohibited_mcc"])
    t["f_council"] = _has(text, kw("council"))
    # a debit to the council itself (council tax, rent) is a household bill: only credits from
    # the council are DP income (rules.md SP-HOUSEHOLD)
    t["f_household"] = t["kw_household"].notna() | mcc.isin(kwr["household_mcc"]) | (debit & t["f_council"] & ~coded)
    # the bank's own transaction type (ATM, CASH) is structured like the code and counts either way
    t["f_cash"] = (_has(text, kw("cash")) & ~coded) | mcc.isin(kwr["cash_mcc"]) \
        | ttype.isin([x.upper() for x in kwr["cash_types"]])
    t["f_transfer"] = _has(text, kw("transfer")) | ttype.isin([x.upper() for x in pol.raw["keywords"]["transfer_types"]])
    t["f_bank_charge"] = _has(text, kw("bank_charges")) | ttype.isin(["FEE", "SRVCHG"])
    t["f_hmrc"] = _has(text, kw("hmrc"))

    threshold = float(pol.threshold("fuzzy_payee_threshold"))
    pairs = t[["recipient_id", "cp_norm", "cp_merchant"]].drop_duplicates(["recipient_id", "cp_norm"])
    pairs = pairs[pairs["cp_norm"] != ""]

    # registered employees: name and every payee name, per recipient
    emp = data.employees
    if not emp.empty:
        e = emp[["recipient_id", "employee_id", "name", "payee_names"]].copy()
        e["alias"] = (e["name"].fillna("") + ";" + e["payee_names"].fillna("")).str.split(";")
        e = e.explode("alias")
        e["cand_norm"] = e["alias"].map(lambda x: normalise_name(x, rules))
        e = e[e["cand_norm"] != ""][["recipient_id", "cand_norm", "employee_id"]].drop_duplicates()
        emp_ties = _fuzzy_pairs(pairs, e, ["recipient_id"], threshold, ties=True)
        emp_ties = emp_ties[["recipient_id", "cp_norm", "employee_id"]].drop_duplicates()
        emp_hit = emp_ties.drop_duplicates(["recipient_id", "cp_norm"])
    else:
        emp_hit = pd.DataFrame(columns=["recipient_id", "cp_norm", "employee_id"])

    # agreed providers of plan lines (recipient-specific) and the council's providers list, each
    # compared in the merchant form (no town, card-scheme or country words on either side)
    plan_hit = _fuzzy_pairs(pairs, plan_provider_names(data), ["recipient_id"], threshold, col="cp_merchant")[
        ["recipient_id", "cp_norm", "prov_category", "prov_line", "plan_key"]]
    list_hit = _fuzzy_pairs(pairs, listed_provider_names(data), [], threshold, col="cp_merchant")[
        ["recipient_id", "cp_norm", "list_category", "list_name"]]

    t = t.merge(emp_hit, on=["recipient_id", "cp_norm"], how="left")
    if not emp.empty:
        t = _namesakes_by_payslip(t, emp_ties, data)
    t = t.merge(plan_hit, on=["recipient_id", "cp_norm"], how="left")
    t = t.merge(list_hit, on=["recipient_id", "cp_norm"], how="left")
    t["provider"] = t["prov_line"].notna() | t["list_category"].notna()
    # the name the payee is known by, whichever of its names the bank shows: the providers.csv
    # entry's name, else the plan line's agreed payee, else the descriptor without its town
    t["cp_canon"] = canonical_names(t, data, list_hit=list_hit, plan_hit=plan_hit)
    t["f_family"] = t["f_family"].astype(bool) & t["employee_id"].isna() & ~t["provider"]

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
        word = _which(merchant_text, words)
        put(debit & word.notna(), category, "'" + word.fillna("").astype(str) + "' in the payee's name")
    own = debit & t["f_family"]  # the family's own accounts are no plan category, whatever the words
    cat[own] = pd.NA
    why[own] = "a payment to the family's own name"
    t["category"] = cat
    t["cat_reason"] = why
    t = _assign_lines(t, data)
    t = t.drop(columns=["list_name", "plan_key"]).reset_index(drop=True)
    return t


@cached_view("plan_provider_names")
def plan_provider_names(data: AuditData) -> pd.DataFrame:
    """The agreed payees of each recipient's plan lines, in merchant form: ``recipient_id,
    cand_norm, prov_category, prov_line, plan_key``."""
    pl = data.plan_lines
    cols = ["recipient_id", "cand_norm", "prov_category", "prov_line", "plan_key"]
    if pl.empty or "providers" not in pl.columns:
        return pd.DataFrame(columns=cols)
    rules = name_rules(data)
    p = pl[["recipient_id", "line_id", "category", "providers"]].copy()
    p["prov"] = _split_names(p["providers"])
    p = p.explode("prov")
    p["cand_norm"] = p["prov"].map(lambda x: merchant_name(normalise_name(x, rules), rules))
    p = p[p["cand_norm"] != ""]
    p["plan_key"] = p["cand_norm"]
    p = _with_initial_forms(p)
    return p.rename(columns={"category": "prov_category", "line_id": "prov_line"})[cols].drop_duplicates(
        ["recipient_id", "cand_norm"])


@cached_view("listed_provider_names")
def listed_provider_names(data: AuditData) -> pd.DataFrame:
    """Every name and alias of providers.csv, in merchant form: ``cand_norm, list_category, list_name``."""
    prov = data.providers
    cols = ["cand_norm", "list_category", "list_name"]
    if prov.empty:
        return pd.DataFrame(columns=cols)
    rules = name_rules(data)
    c = prov[["name", "aliases", "category"]].copy()
    c["alias"] = (c["name"].fillna("") + ";" + c["aliases"].fillna("")).str.split(";")
    c = c.explode("alias")
    c["cand_norm"] = c["alias"].map(lambda x: merchant_name(normalise_name(x, rules), rules))
    c = c[c["cand_norm"] != ""].rename(columns={"category": "list_category", "name": "list_name"})
    return _with_initial_forms(c)[cols].drop_duplicates("cand_norm")


def _with_initial_forms(cands: pd.DataFrame) -> pd.DataFrame:
    """``cands`` plus, for each name that is a person's ("Priya Kaur", a self-employed tutor named
    in the plan), the form a bank prints ("P KAUR")."""
    short = cands["cand_norm"].map(initial_form)
    extra = cands[short.notna()].assign(cand_norm=short[short.notna()])
    return pd.concat([cands, extra], ignore_index=True)


def canonical_names(frame: pd.DataFrame, data: AuditData, *, list_hit: pd.DataFrame | None = None,
                    plan_hit: pd.DataFrame | None = None) -> pd.Series:
    """The canonical merchant name of each row of ``frame`` (``recipient_id, cp_norm``: a payee's
    or a receipt's supplier's normalised name): the providers.csv entry it is a name or alias of,
    else the recipient's plan-line payee it is, else its own merchant form.  A receipt naming
    "Vue Entertainment" and a debit to "VUE CINEMAS MANCHESTER GB" get the same name when
    providers.csv lists "VUE CINEMAS" as an alias of Vue Entertainment."""
    rules = name_rules(data)
    if list_hit is None or plan_hit is None:
        threshold = float(data.policy.threshold("fuzzy_payee_threshold"))
        pairs = frame[["recipient_id", "cp_norm"]].drop_duplicates()
        pairs = pairs[pairs["cp_norm"] != ""].assign(cp_merchant=lambda f: f["cp_norm"].map(lambda x: merchant_name(x, rules)))
        list_hit = _fuzzy_pairs(pairs, listed_provider_names(data), [], threshold, col="cp_merchant")
        plan_hit = _fuzzy_pairs(pairs, plan_provider_names(data), ["recipient_id"], threshold, col="cp_merchant")
    listed = listed_provider_names(data)
    list_canon = {n: merchant_name(normalise_name(n, rules), rules) for n in listed["list_name"].dropna().unique()}
    m = frame[["recipient_id", "cp_norm"]].merge(
        list_hit[["recipient_id", "cp_norm", "list_name"]].drop_duplicates(["recipient_id", "cp_norm"]),
        on=["recipient_id", "cp_norm"], how="left").merge(
        plan_hit[["recipient_id", "cp_norm", "plan_key"]].drop_duplicates(["recipient_id", "cp_norm"]),
        on=["recipient_id", "cp_norm"], how="left")
    own = per_distinct(m["cp_norm"].fillna(""), lambda v: v.map(lambda x: merchant_name(x, rules)))
    canon = m["list_name"].map(list_canon).astype("object")
    canon = canon.where(canon.notna(), m["plan_key"]).where(lambda c: c.notna(), own)
    return pd.Series(canon.to_numpy(), index=frame.index, dtype=object)
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
