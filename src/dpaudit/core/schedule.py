"""Review schedules in whole months, vectorised: "3 months after the start, then every 6" (PBP 5.1).

A schedule is an anchor date, an offset ``first`` and a step ``every`` (months): its dates are
``add_months(anchor, first + k * every)`` for k = 0, 1, 2, ... with the day clamped to the month's
last day, as :func:`dpaudit.core.dates.add_months` does.  The risk rating picks the schedule of
each recipient (:func:`review_schedule`): RV-REVIEW-DUE asks which dates fall in a period
(:func:`due_in_period`) and the rating's next review is the first date after a period
(:func:`next_due_after`).
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from dpaudit.core.dates import parse_period


def _month_index(d: pd.Series) -> pd.Series:
    """Months since year 0 (``2026-03-xx`` -> 2026 * 12 + 2), NA where the date is missing."""
    d = pd.to_datetime(d)
    return (d.dt.year * 12 + d.dt.month - 1).astype("Int64")


def _on_month(month_index: pd.Series, day: pd.Series) -> pd.Series:
    """The date ``day`` of the month ``month_index`` (clamped to the month's last day)."""
    ok = month_index.notna() & day.notna()
    mi = month_index.where(ok, 0).astype("int64")
    first = pd.to_datetime(pd.DataFrame({"year": mi // 12, "month": mi % 12 + 1, "day": 1}))
    dim = first.dt.days_in_month
    d = np.minimum(day.where(ok, 1).astype("int64"), dim)
    out = first + pd.to_timedelta(d - 1, unit="D")
    return out.where(ok.to_numpy(), pd.NaT)


def due_in_period(anchor: pd.Series, first: pd.Series, every: pd.Series, period: str) -> pd.Series:
    """The schedule's date inside ``period`` (at most one when ``every`` >= 1), else NaT."""
    start, _ = parse_period(period)
    anchor = pd.to_datetime(anchor)
    d = int(start.year * 12 + start.month - 1) - _month_index(anchor)
    first, every = first.astype("Int64"), every.clip(lower=1).astype("Int64")
    hit = (d >= first) & ((d - first) % every == 0)
    hit = hit.fillna(False).astype(bool)
    out = _on_month(d.where(hit) + _month_index(anchor), anchor.dt.day.astype("Int64"))
    return out.where(hit.to_numpy(), pd.NaT)


def next_due_after(anchor: pd.Series, first: pd.Series, every: pd.Series, after: date) -> pd.Series:
    """The first date of the schedule later than ``after``, else NaT (no anchor)."""
    anchor = pd.to_datetime(anchor)
    d = int(after.year * 12 + after.month - 1) - _month_index(anchor)  # months from anchor to after's month
    first, every = first.astype("Int64"), every.clip(lower=1).astype("Int64")
    # a date in after's own month is on or before ``after`` only when its day is; the schedule's
    # dates keep the anchor's day (clamped), so compare in that month first
    same = _on_month(d + _month_index(anchor), anchor.dt.day.astype("Int64"))
    d_eff = d.where(same > pd.Timestamp(after), d + 1).where(same.notna(), d + 1)
    # smallest offset o >= first, o = first (mod every), o >= d_eff
    gap = (d_eff - first).clip(lower=0)
    k = -((-gap) // every)
    o = first + k * every
    return _on_month(o + _month_index(anchor), anchor.dt.day.astype("Int64"))


def review_schedule(ratings: pd.Series, rated_period: pd.Series, dp_start: pd.Series, *, first_months: int,
                    months: dict[str, int]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Anchor, first and every (months) of each recipient's review schedule by risk rating.

    green (and no rating): PBP 5.1, ``first_months`` after the payment starts, then every
    ``months['green']``; amber: ``first_months`` after the start, then every ``months['amber']``;
    red: now, meaning the first day after the rated period, then every ``months['red']``."""
    r = ratings.astype("string").fillna("green").str.lower()
    idx = ratings.index
    every = r.map(months).fillna(months.get("green", 6)).astype("int64")
    red = (r == "red").to_numpy()
    after = pd.Series([pd.NaT] * len(idx), index=idx, dtype="datetime64[ns]")
    if red.any():
        rp = rated_period.astype("string")
        ends = pd.to_datetime(rp.where(red) + "-01", errors="coerce") + pd.offsets.MonthBegin(1)
        after = after.mask(red, ends)
    anchor = pd.to_datetime(dp_start).where(~red, after)
    first = pd.Series(np.where(red, 0, first_months), index=idx, dtype="int64")
    return anchor, first, every

