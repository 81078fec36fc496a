"""Review rule (RV-*): reviews 3 months after the DP starts, then every 6 months (PBP 5.1)."""
from __future__ import annotations

import pandas as pd

from dpaudit.audit.data import AuditData, dp_recipients
from dpaudit.core.dates import add_months
from dpaudit.audit.rules.registry import rule


@rule("RV-REVIEW-DUE")
def review_due(data: AuditData) -> pd.DataFrame:
    first = data.policy.days("review_first_months")
    every = data.policy.days("review_every_months")
    r = dp_recipients(data)
    # recipients.csv is today's snapshot: a payment stopped with an end date had its reviews up to that
    # date; one stopped with no end date has none in the period audited
    r = r[(r["status"] != "stopped") | r["dp_end_date"].notna()]
    rows = []
    for rec in r.itertuples():
        start = rec.dp_start_date.date()
        end = data.end if pd.isna(rec.dp_end_date) else min(data.end, rec.dp_end_date.date())
        due = add_months(start, first)
        n = 0
        while due <= end:
            if due >= data.start:
                rows.append({"recipient_id": rec.recipient_id, "key": f"{due:%Y-%m-%d}", "txn_date": pd.Timestamp(due),
                             "message": f"A review of the direct payment is due on {due:%d/%m/%Y} ("
                                        f"{'3 months after it started' if n == 0 else 'the 6-monthly review'}). "
                                        "Book the review with the family; recording it clears this."})
            n += 1
            due = add_months(start, first + n * every)
    return pd.DataFrame(rows)
