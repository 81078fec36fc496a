"""Client contributions (contract section 1 ``contributions.csv``; docs/decisions.md 47-49).

A family assessed to pay towards its child's support pays a client contribution into the DP
account.  That money is the family's, not the council's: it is no AC-NON-COUNCIL-CREDIT, a short
payment is AC-CONTRIBUTION-SHORT, and at year end the council recovers only its own share of a
surplus (``decide.year_end``).

Two views, both pure functions of :class:`~dpaudit.audit.data.AuditData`:

* :func:`due_dates` - when contributions fall due: ``start_date``, then every 7 days (``weekly``),
  28 days (``4-weekly``) or on the same day of each following month (``monthly``; a start on the
  29th-31st falls on the last day of a shorter month), up to ``end_date`` inclusive.
* :func:`contribution_credits` - which credits of the financial year to date are contributions:
  a credit that is no council payment (neither one the period's schedule matching claims nor one
  whose text names the council), whose payee or description holds a policy ``[contributions]
  keywords`` entry (anywhere, any letter case) or the surname of the account holder or the child (a
  whole word), made while a contributions row of the recipient is in force (``early_days`` before
  ``start_date`` to ``late_days`` after ``end_date``; open when ``end_date`` is blank).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dpaudit.audit.data import AuditData, cached_view

STEP_DAYS = {"weekly": 7, "4-weekly": 28}
MONTHLY = "monthly"
DUE_COLUMNS = ["recipient_id", "due_date", "amount_pence", "frequency", "start_date"]
CREDIT_COLUMNS = ["txn_id", "recipient_id", "posted_date", "amount_pence", "counterparty"]
_WORD = re.compile(r"[a-z0-9]+")


def _month_index(ts: pd.Series) -> pd.Series:
    return ts.dt.year.astype("int64") * 12 + ts.dt.month.astype("int64") - 1


def due_dates(contributions: pd.DataFrame, since: object, until: object) -> pd.DataFrame:
    """Grain: one row per contributions row and due date in ``[since, until]`` (and on or before
    the row's ``end_date``): ``recipient_id, due_date, amount_pence, frequency, start_date``,
    sorted by recipient and date.  Vectorised: each row's steps are counted, repeated and added."""
    c = contributions
    if c is None or c.empty:
        return pd.DataFrame({k: pd.Series(dtype="datetime64[ns]" if k in ("due_date", "start_date") else object)
                             for k in DUE_COLUMNS})
    since, until = pd.Timestamp(since), pd.Timestamp(until)
    c = c.reset_index(drop=True).copy()
    c["start_date"] = pd.to_datetime(c["start_date"])
    c["end_date"] = pd.to_datetime(c["end_date"])
    c["frequency"] = c["frequency"].astype(str).str.strip().str.lower()
    stop = c["end_date"].where(c["end_date"].notna() & (c["end_date"] < until), until)
    c["stop"] = stop
    parts = []
    step = c["frequency"].map(STEP_DAYS)
    stepped = c[step.notna()].assign(step=step[step.notna()].astype("int64"))
    if len(stepped):
        lo = ((since - stepped["start_date"]).dt.days.clip(lower=0) + stepped["step"] - 1) // stepped["step"]
        hi = (stepped["stop"] - stepped["start_date"]).dt.days // stepped["step"]
        n = (hi - lo + 1).clip(lower=0).astype("int64")
        rep = stepped.loc[stepped.index.repeat(n)].copy()
        k = lo.loc[rep.index].to_numpy() + rep.groupby(level=0).cumcount().to_numpy()
        rep["due_date"] = rep["start_date"] + pd.to_timedelta(k * rep["step"].to_numpy(), unit="D")
        parts.append(rep)
    monthly = c[c["frequency"] == MONTHLY]
    if len(monthly):
        first = _month_index(monthly["start_date"])
        lo = (_month_index(pd.Series(since, index=monthly.index)) - first - 1).clip(lower=0)
        hi = _month_index(monthly["stop"]) - first
        n = (hi - lo + 1).clip(lower=0).astype("int64")
        rep = monthly.loc[monthly.index.repeat(n)].copy()
        month = first.loc[rep.index].to_numpy() + lo.loc[rep.index].to_numpy() + rep.groupby(level=0).cumcount().to_numpy()
        first_of = pd.to_datetime(pd.DataFrame({"year": month // 12, "month": month % 12 + 1, "day": 1}))
        day = np.minimum(rep["start_date"].dt.day.to_numpy(), first_of.dt.days_in_month.to_numpy())
        rep["due_date"] = first_of.to_numpy() + pd.to_timedelta(day - 1, unit="D").to_numpy()
        parts.append(rep)
    if not parts:
        return due_dates(None, since, until)
    out = pd.concat(parts)
    out = out[(out["due_date"] >= since) & (out["due_date"] <= out["stop"])]
    out = out.sort_values(["recipient_id", "due_date", "start_date"], kind="mergesort")
    return out[DUE_COLUMNS].reset_index(drop=True)


def in_force(contributions: pd.DataFrame, frame: pd.DataFrame, early_days: int, late_days: int) -> pd.Series:
    """Per row of ``frame`` (``recipient_id, posted_date``): a contributions row of the recipient is
    in force on the date (``start_date - early_days`` .. ``end_date + late_days``, open when
    ``end_date`` is blank)."""
    if frame.empty or contributions.empty:
        return pd.Series(False, index=frame.index, dtype=bool)
    c = contributions[["recipient_id", "start_date", "end_date"]]
    m = frame[["recipient_id", "posted_date"]].reset_index().merge(c, on="recipient_id")
    lo = pd.to_datetime(m["start_date"]) - pd.Timedelta(days=int(early_days))
    hi = pd.to_datetime(m["end_date"]) + pd.Timedelta(days=int(late_days))
    ok = (m["posted_date"] >= lo) & (hi.isna() | (m["posted_date"] <= hi))
    return pd.Series(frame.index.isin(m.loc[ok, "index"]), index=frame.index, dtype=bool)


def keyword_hit(text: pd.Series, keywords: list[str]) -> pd.Series:
    """The (lower-case) text holds one of ``keywords`` anywhere, in any letter case."""
    words = [re.escape(str(k).strip().lower()) for k in keywords if str(k).strip()]
    if not words or text.empty:
        return pd.Series(False, index=text.index, dtype=bool)
    rx = "|".join(sorted(words, key=len, reverse=True))
    return text.fillna("").astype(str).str.lower().str.contains(rx, regex=True).astype(bool)


def surname_hit(frame: pd.DataFrame, surnames: pd.DataFrame) -> pd.Series:
    """Per row of ``frame`` (``recipient_id, text``): the text holds, as a whole word, a surname of
    the recipient's family (``surnames``: ``recipient_id, word``)."""
    if frame.empty or surnames.empty:
        return pd.Series(False, index=frame.index, dtype=bool)
    pairs = frame[["recipient_id", "text"]].drop_duplicates().reset_index(drop=True)
    tok = pairs["text"].fillna("").astype(str).str.lower().str.findall(_WORD).explode().dropna()
    hits = pd.DataFrame({"_row": tok.index, "word": tok.to_numpy()})
    hits["recipient_id"] = pairs["recipient_id"].to_numpy()[hits["_row"].to_numpy()] if len(hits) else []
    named = hits.merge(surnames[["recipient_id", "word"]], on=["recipient_id", "word"])["_row"].unique()
    flagged = pairs.loc[named].assign(_hit=True)
    m = frame[["recipient_id", "text"]].merge(flagged, on=["recipient_id", "text"], how="left")
    return pd.Series(m["_hit"].fillna(False).astype(bool).to_numpy(), index=frame.index)


def policy_settings(data: AuditData) -> tuple[list[str], int, int]:
    """``(keywords, early_days, late_days)`` of the policy's ``[contributions]`` table."""
    raw = data.policy.raw.get("contributions", {})
    return [str(k) for k in raw.get("keywords", [])], int(raw.get("early_days", 0)), int(raw.get("late_days", 0))


@cached_view("contribution_credits")
def contribution_credits(data: AuditData) -> pd.DataFrame:
    """Grain: one row per credit of the financial year to date (:func:`~dpaudit.audit.rules.common.fy_txns`)
    that is a client contribution (module docstring): ``txn_id, recipient_id, posted_date,
    amount_pence, counterparty``.  Council payments are those the period's schedule matching claims
    (``council_credits``) and any credit whose text names the council."""
    from dpaudit.audit.categorise import family_words
    from dpaudit.audit.rules.ac import council_credits
    from dpaudit.audit.rules.common import fy_txns

    c = data.contributions
    empty = pd.DataFrame({k: pd.Series(dtype="datetime64[ns]" if k == "posted_date" else object) for k in CREDIT_COLUMNS})
    if c is None or c.empty:
        return empty
    t = fy_txns(data)
    if t.empty:
        return empty
    council, _ = council_credits(data)
    cr = t[(t["direction"] == "credit") & ~t["f_council"].astype(bool) & ~t["txn_id"].isin(council["txn_id"])
           & t["recipient_id"].isin(c["recipient_id"])]
    if cr.empty:
        return empty
    keywords, early, late = policy_settings(data)
    fam = family_words(data)
    surnames = fam.loc[fam["surname"].astype(bool), ["recipient_id", "word"]]
    named = keyword_hit(cr["text"], keywords) | surname_hit(cr, surnames)
    cr = cr[named & in_force(c, cr, early, late)]
    return cr[CREDIT_COLUMNS].reset_index(drop=True)
