"""Views shared by several rules, computed once per audit and cached on ``AuditData``."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dpaudit.audit.data import (AuditData, cached_view, day_end_balances, dp_recipients, own_account_only,
                                valid_plan_lines)
from dpaudit.core.dates import financial_year_bounds, financial_year_of
from dpaudit.audit.categorise import categorise, keyword_regex
from dpaudit.core.distinct import per_distinct
from dpaudit.core.names import looks_like_person, pairs_scoring

SPEND_ORDER = ["SP-AFTER-END", "SP-PROHIBITED", "SP-TRANSFER-OUT", "SP-HOUSEHOLD", "SP-CASH",
               "SP-SCHOOL-CONSENT", "SP-NOT-IN-PLAN"]


@cached_view("fy_txns")
def fy_txns(data: AuditData) -> pd.DataFrame:
    """Categorised transactions of DP recipients from 1 April to the period end, with the
    recipient's DP dates and status."""
    t = categorise(data)
    s = pd.Timestamp(financial_year_bounds(financial_year_of(data.start))[0])
    e = pd.Timestamp(data.end)
    r = dp_recipients(data)
    p = t[(t["posted_date"] >= s) & (t["posted_date"] <= e) & t["recipient_id"].isin(r["recipient_id"])]
    return p.merge(r[["recipient_id", "dp_start_date", "dp_end_date", "status"]], on="recipient_id", how="left")


def _in_period(data: AuditData, frame: pd.DataFrame) -> pd.Series:
    return frame["posted_date"] >= pd.Timestamp(data.start)


@cached_view("period_txns")
def period_txns(data: AuditData) -> pd.DataFrame:
    """Categorised transactions of DP recipients posted in the period."""
    p = fy_txns(data)
    return p[_in_period(data, p)].reset_index(drop=True)


@cached_view("covered")
def covered(data: AuditData) -> set[str]:
    """Recipients with a statement covering some day of the period (else only DQ-STATEMENT-MISSING)."""
    st = data.statements
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    ids = set()
    if not st.empty:
        ids = set(st[(st["start_date"] <= e) & (st["end_date"] >= s)]["recipient_id"])
    ids |= set(period_txns(data)["recipient_id"])
    return ids


@cached_view("wage_like")
def wage_like_unknown(data: AuditData) -> set:
    """txn_ids of debits that look like wages (regular, round, a person's name) to no registered
    employee (and not to the family's own name)."""
    pol = data.policy
    t = categorise(data)
    d = t[(t["direction"] == "debit") & t["employee_id"].isna() & ~t["provider"].astype(bool) & ~t["f_hmrc"]
          & ~t["f_cash"] & ~t["f_prohibited"] & ~t["f_household"] & ~t["f_bank_charge"] & ~t["f_family"]]
    d = d[(d["amount_pence"] % 100 == 0) & per_distinct(d["counterparty"], lambda v: v.map(looks_like_person)).astype(bool)]
    lookback = pd.Timedelta(days=pol.days("wage_lookback_days"))
    out = set()
    if not d.empty:
        for (_, _), g in d.groupby(["recipient_id", "cp_norm"], sort=True):
            if len(g) < pol.days("wage_min_occurrences"):
                continue
            dates = g["posted_date"].sort_values()
            for txn_id, dt in zip(g["txn_id"], g["posted_date"]):
                n = int(((dates >= dt - lookback) & (dates <= dt + lookback)).sum())
                if n >= pol.days("wage_min_occurrences"):
                    out.add(txn_id)
    return out


@cached_view("paid_back_names")
def paid_back_names(data: AuditData) -> pd.DataFrame:
    """``recipient_id, paid_norm, back_norm``: a name the account paid and a name that paid into it
    that are the same payee as the bank writes it each way ("D KOWALSKI LOAN" out, "D KOWALSKI"
    back), names compared with ``fuzzy_payee_threshold``."""
    t = categorise(data)
    named = t[t["cp_norm"] != ""]
    paid = named.loc[named["direction"] == "debit", ["recipient_id", "cp_norm"]].drop_duplicates()
    back = named.loc[named["direction"] == "credit", ["recipient_id", "cp_norm"]].drop_duplicates()
    names = paid.rename(columns={"cp_norm": "paid_norm"}).merge(back.rename(columns={"cp_norm": "back_norm"}),
                                                                on="recipient_id")
    return pairs_scoring(names, "paid_norm", "back_norm", float(data.policy.threshold("fuzzy_payee_threshold")))


@cached_view("lent")
def returned_to_sender(data: AuditData) -> set:
    """txn_ids of debits to a person's name (no employee, provider or family name) of at least
    ``transfer_return_min_amount`` that the same name (:func:`paid_back_names`) paid back into the
    account within ``transfer_return_days``: money lent out of the DP account (SP-TRANSFER-OUT)."""
    pol = data.policy
    t = categorise(data)
    minimum = pol.pence("transfer_return_min_amount")
    d = t[(t["direction"] == "debit") & t["employee_id"].isna() & ~t["provider"].astype(bool) & (t["cp_norm"] != "")
          & (-t["amount_pence"] >= minimum)]
    d = d[per_distinct(d["cp_norm"], lambda v: v.map(looks_like_person)).astype(bool)]
    c = t[(t["direction"] == "credit") & (t["cp_norm"] != "")]
    if d.empty or c.empty:
        return set()
    names = paid_back_names(data).rename(columns={"paid_norm": "cp_norm"})
    m = d[["txn_id", "recipient_id", "cp_norm", "posted_date"]].merge(names, on=["recipient_id", "cp_norm"]).merge(
        c[["recipient_id", "cp_norm", "posted_date"]].rename(columns={"cp_norm": "back_norm"}),
        on=["recipient_id", "back_norm"], suffixes=("", "_back"))
    gap = m["posted_date_back"] - m["posted_date"]
    m = m[(gap >= pd.Timedelta(0)) & (gap <= pd.Timedelta(days=pol.days("transfer_return_days")))]
    return set(m["txn_id"])


def _verdicts(data: AuditData, p: pd.DataFrame) -> pd.Series:
    """The one spending rule that wins for each debit of ``p`` (rules.md precedence), or None."""
    pol = data.policy
    debit = (p["direction"] == "debit") & ~p["f_bank_charge"]
    # recipients.csv is today's snapshot: an end date decides; "stopped" with no end date counts
    # for the period audited only (rules.md SP-AFTER-END)
    stopped_now = (p["status"] == "stopped") & p["dp_end_date"].isna() & _in_period(data, p)
    after_end = (p["dp_end_date"].notna() & (p["posted_date"] > p["dp_end_date"])) | stopped_now
    agreed = p["employee_id"].notna() | p["provider"].astype(bool) | p["f_hmrc"]
    phrase = p["text"].str.contains(keyword_regex(pol.keywords("transfer")), na=False)
    ttype = p["txn_type"].fillna("").astype(str).str.upper().isin([x.upper() for x in pol.raw["keywords"]["transfer_types"]])
    wage_like = p["txn_id"].isin(wage_like_unknown(data))
    lent = p["txn_id"].isin(returned_to_sender(data))
    transfer = ((phrase | (ttype & p["category"].isna()) | p["f_family"].astype(bool)) & ~wage_like | lent) & ~agreed
    lines = valid_plan_lines(data)
    hh_cat = pol.raw["keywords"]["household_category"]
    hh_lines = lines[lines["category"] == hh_cat] if not lines.empty else lines
    has_hh = pd.Series(False, index=p.index)
    if not hh_lines.empty:
        m = p[["txn_id", "recipient_id", "posted_date"]].reset_index().merge(hh_lines[["recipient_id", "valid_from", "valid_to"]], on="recipient_id")
        m = m[(m["posted_date"] >= m["valid_from"]) & (m["posted_date"] <= m["valid_to"])]
        has_hh = pd.Series(p.index.isin(m["index"]), index=p.index)
    household = p["f_household"] & ~has_hh & ~agreed
    school = pd.Series(False, index=p.index)
    if not lines.empty:
        sl = lines[["recipient_id", "line_id", "school_setting", "setting_consent_date"]]
        m = p[["line_id", "recipient_id", "posted_date"]].reset_index().merge(sl, on=["recipient_id", "line_id"])
        bad = (m["school_setting"] == "yes") & (m["setting_consent_date"].isna() | (m["setting_consent_date"] > m["posted_date"]))
        school = pd.Series(p.index.isin(m.loc[bad, "index"]), index=p.index)
    allowed_always = set(pol.raw["categories"]["always_allowed"])
    not_in_plan = p["category"].notna() & ~p["category"].isin(allowed_always) & p["line_id"].isna()
    conds = [after_end, p["f_prohibited"] & ~agreed, transfer, household, p["f_cash"], school, not_in_plan]
    verdict = pd.Series(np.select([debit & c.astype(bool) for c in conds], SPEND_ORDER, default=""), index=p.index)
    return verdict.replace("", None)


@cached_view("fy_verdict")
def fy_spend_verdict(data: AuditData) -> pd.Series:
    """:func:`_verdicts` of every debit of :func:`fy_txns` (aligned with it)."""
    return _verdicts(data, fy_txns(data))


@cached_view("verdict")
def spend_verdict(data: AuditData) -> pd.Series:
    """The one spending rule that wins for each period debit (aligned with :func:`period_txns`)."""
    p = fy_txns(data)
    return fy_spend_verdict(data)[_in_period(data, p)].reset_index(drop=True)


@cached_view("opening_balances")
def opening_balances(data: AuditData) -> pd.Series:
    """Balance at the period start per covered recipient (pence), indexed by recipient_id.

    The opening of the earliest statement overlapping the period plus the transactions of that
    account dated before the period start; when no statement gives an opening, it is read back
    from the first running balance in the period.  Recipients with neither are absent.
    """
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    cov = sorted(covered(data))
    p = period_txns(data)
    p = p[p["recipient_id"].isin(cov)]
    opening = pd.Series(dtype="int64")
    # another account's statement (DQ-WRONG-ACCOUNT) gives no balance of the DP account
    st = own_account_only(data.statements, data.recipients)
    if not st.empty:
        first = st[st["recipient_id"].isin(cov) & (st["start_date"] <= e) & (st["end_date"] >= s)]
        first = first.sort_values(["recipient_id", "start_date", "file_sha256", "stmt_index"]).drop_duplicates("recipient_id")
        first = first[first["opening_balance_pence"].notna()]
        if not first.empty:
            t = data.txns[["recipient_id", "account_number", "posted_date", "amount_pence"]]
            m = t.merge(first[["recipient_id", "account_number", "start_date"]], on=["recipient_id", "account_number"])
            before = m[(m["posted_date"] >= m["start_date"]) & (m["posted_date"] < s)].groupby("recipient_id")["amount_pence"].sum()
            opening = (first.set_index("recipient_id")["opening_balance_pence"].astype("int64")
                       + before.reindex(first["recipient_id"]).fillna(0).astype("int64").values)
    rest = [r for r in cov if r not in opening.index]
    if rest:
        # read back from the end of the first day with running balances: that day's end minus its total
        tx = p[p["recipient_id"].isin(rest) & p["balance_pence"].notna()]
        first_day = tx.groupby("recipient_id")["posted_date"].transform("min")
        day_rows = tx[tx["posted_date"] == first_day]
        ends = day_end_balances(day_rows).set_index("recipient_id")["balance_pence"].astype("int64")
        day_of = day_rows.drop_duplicates("recipient_id").set_index("recipient_id")["posted_date"]
        whole_day = p.merge(day_of.rename("first_day").reset_index(), on="recipient_id")
        totals = whole_day[whole_day["posted_date"] == whole_day["first_day"]].groupby("recipient_id")["amount_pence"].sum()
        extra = (ends - totals.reindex(ends.index).fillna(0).astype("int64")).sort_index()
        opening = pd.concat([opening, extra.astype("int64")])
    return opening.astype("int64")


def _balanced_txns(data: AuditData) -> pd.DataFrame:
    """The period's transactions of the recipients whose opening balance is known."""
    p = period_txns(data)
    return p[p["recipient_id"].isin(opening_balances(data).index)]


@cached_view("end_of_day_balances")
def end_of_day_balances(data: AuditData) -> pd.DataFrame:
    """Grain: one row per recipient with a known opening and day of the period with transactions:
    recipient_id, posted_date, eod_pence (the balance at the end of that day)."""
    opening = opening_balances(data)
    p = _balanced_txns(data)
    daily = p.groupby(["recipient_id", "posted_date"])["amount_pence"].sum().astype("int64").reset_index()
    daily["eod_pence"] = daily.groupby("recipient_id")["amount_pence"].cumsum() + daily["recipient_id"].map(opening).astype("int64")
    return daily[["recipient_id", "posted_date", "eod_pence"]]


@cached_view("balances")
def balances(data: AuditData) -> pd.DataFrame:
    """Grain: one row per recipient with a known opening: opening, credits, debits, closing and the
    lowest end-of-day balance of the period (pence)."""
    opening = opening_balances(data)
    p = _balanced_txns(data)
    daily = end_of_day_balances(data)
    amt = p["amount_pence"].astype("int64")
    credits = amt.where(amt > 0, 0).groupby(p["recipient_id"]).sum()
    debits = (-amt.where(amt < 0, 0)).groupby(p["recipient_id"]).sum()
    low = daily.groupby("recipient_id")["eod_pence"].min()
    b = pd.DataFrame({"recipient_id": opening.index.astype(str), "opening_pence": opening.values})
    b["credits_pence"] = b["recipient_id"].map(credits).fillna(0).astype("int64")
    b["debits_pence"] = b["recipient_id"].map(debits).fillna(0).astype("int64")
    b["closing_pence"] = b["opening_pence"] + b["credits_pence"] - b["debits_pence"]
    b["min_eod_pence"] = b["recipient_id"].map(low).fillna(b["opening_pence"]).astype("int64")
    b = b.sort_values("recipient_id").reset_index(drop=True)
    return b


def dp_value_at_end(data: AuditData) -> pd.Series:
    from dpaudit.audit.data import annual_dp_value
    return annual_dp_value(data, data.end)
