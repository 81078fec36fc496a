"""Review rule (RV-*): reviews 3 months after the DP starts, then every 6 months (PBP 5.1).

With ``[risk] schedule_reviews = true`` a recipient's reviews follow the schedule of its latest risk
rating from an earlier period (this period's rating is made after the audit): red, a review now
(the period's first day) and every ``[risk.review_months] red`` months while it stays red; amber,
every ``amber`` months after the first review; green, every ``green`` months after it.  A recipient
never rated keeps PBP 5.1's schedule (``review_first_months``, ``review_every_months``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dpaudit.audit.data import AuditData, dp_recipients
from dpaudit.audit.rules.registry import rule
from dpaudit.core.schedule import due_in_period, review_schedule


def _month_name(periods: pd.Series) -> pd.Series:
    return pd.to_datetime(periods.astype("string") + "-01", errors="coerce").dt.strftime("%B %Y").astype("string")


@rule("RV-REVIEW-DUE")
def review_due(data: AuditData) -> pd.DataFrame:
    first = data.policy.days("review_first_months")
    every = data.policy.days("review_every_months")
    r = dp_recipients(data)
    # recipients.csv is today's snapshot: a payment stopped with an end date had its reviews up to that
    # date; one stopped with no end date has none in the period audited
    r = r[(r["status"] != "stopped") | r["dp_end_date"].notna()].reset_index(drop=True)
    if r.empty:
        return pd.DataFrame()
    risk = data.policy.raw.get("risk", {})
    rid = r["recipient_id"].astype(str)
    rating = pd.Series(pd.NA, index=r.index, dtype="string")
    rated = pd.Series(pd.NA, index=r.index, dtype="string")
    if risk.get("schedule_reviews") and len(data.prior_ratings):
        pr = data.prior_ratings.drop_duplicates("recipient_id", keep="last").set_index("recipient_id")
        rating = rid.map(pr["rating"]).astype("string").str.lower()
        rated = rid.map(pr["period"]).astype("string")
    months = {k: int(v) for k, v in risk.get("review_months", {}).items()}
    anchor, first_s, every_s = review_schedule(rating, rated, r["dp_start_date"], first_months=first, months=months)
    every_s = every_s.where(rating.notna().to_numpy(), every)  # never rated: PBP 5.1
    due = due_in_period(anchor, first_s, every_s, data.period)
    end = r["dp_end_date"]
    hit = (due.notna() & (end.isna() | (due <= end))).to_numpy()
    if not hit.any():
        return pd.DataFrame()
    r, due, rating, rated = r[hit], due[hit], rating[hit], rated[hit]
    first_s, every_s, anchor = first_s[hit], every_s[hit], anchor[hit]
    shown = due.dt.strftime("%d/%m/%Y").astype("string")
    n_months = (due.dt.year - anchor.dt.year) * 12 + (due.dt.month - anchor.dt.month)
    which = pd.Series(np.where(n_months == first_s, f"{first} months after it started", ""), index=r.index, dtype="string")
    which = which.mask(which == "", "the " + every_s.astype("string") + "-monthly review")
    note = ("; the risk rating for " + _month_name(rated) + " is " + rating).fillna("")
    msg = "A review of the direct payment is due on " + shown + " (" + which + note + ")."
    red = (rating == "red").fillna(False).to_numpy()
    if red.any():
        then = every_s.map(lambda m: "monthly" if int(m) == 1 else f"every {int(m)} months")
        red_msg = ("A review of the direct payment is due now, on " + shown + " (the risk rating for "
                   + _month_name(rated) + " is red: review now, then " + then.astype("string") + " while it stays red).")
        msg = msg.mask(red, red_msg)
    msg = msg + " Book the review with the family; recording it clears this."
    return pd.DataFrame({"recipient_id": r["recipient_id"].to_numpy(), "key": due.dt.strftime("%Y-%m-%d").to_numpy(),
                         "txn_date": due.to_numpy(), "message": msg.astype(object).to_numpy()})
