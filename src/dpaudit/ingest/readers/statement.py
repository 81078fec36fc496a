"""The record every statement reader returns: one account statement with its transactions.

Grain: one :class:`ParsedStatement` per account statement inside a file (an OFX file may hold
several; a CSV/XLSX export holds one).  ``transactions`` has one row per transaction as read,
in source order, with the columns of :data:`TXN_COLUMNS`; ``rejects`` lists every row or value
that could not be read as ``(row, column, raw value, reason)`` so nothing is dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

TXN_COLUMNS = [
    "posted_date", "amount_pence", "description", "payee", "txn_type", "mcc", "balance_pence", "fitid", "position",
]
SOURCE_FORMATS = ("ofx1", "ofx2", "qfx", "csv", "xlsx")

# (row number or None for the whole statement, column, raw value, reason)
Reject = tuple[int | None, str, str, str]


def empty_transactions() -> pd.DataFrame:
    """A transactions frame with no rows and the reader dtypes."""
    return pd.DataFrame({
        "posted_date": pd.Series(dtype="datetime64[ns]"),
        "amount_pence": pd.Series(dtype="Int64"),
        "description": pd.Series(dtype="string"),
        "payee": pd.Series(dtype="string"),
        "txn_type": pd.Series(dtype="string"),
        "mcc": pd.Series(dtype="string"),
        "balance_pence": pd.Series(dtype="Int64"),
        "fitid": pd.Series(dtype="string"),
        "position": pd.Series(dtype="int64"),
    })


def conform_transactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a reader's frame to :data:`TXN_COLUMNS` with the agreed dtypes."""
    if frame is None or frame.empty:
        return empty_transactions()
    out = pd.DataFrame(index=frame.index)
    out["posted_date"] = pd.to_datetime(frame["posted_date"]).astype("datetime64[ns]")
    out["amount_pence"] = pd.array(frame["amount_pence"], dtype="Int64")
    for col in ("description", "payee", "txn_type", "mcc", "fitid"):
        out[col] = frame[col].astype("string") if col in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    out["balance_pence"] = pd.array(frame["balance_pence"], dtype="Int64") if "balance_pence" in frame else pd.array(
        [pd.NA] * len(frame), dtype="Int64")
    out["position"] = frame["position"].astype("int64")
    return out[TXN_COLUMNS].reset_index(drop=True)


def transactions_from_rows(rows: list[tuple]) -> pd.DataFrame:
    """A transactions frame straight from row tuples in :data:`TXN_COLUMNS` order (``posted_date`` a
    ``datetime.date``), with the dtypes of :func:`conform_transactions` but without its per-column
    casts: readers call this once per statement, thousands of times a month."""
    if not rows:
        return empty_transactions()
    cols = list(zip(*rows))
    return pd.DataFrame({
        "posted_date": np.array(cols[0], dtype="datetime64[D]").astype("datetime64[ns]"),
        "amount_pence": pd.array(cols[1], dtype="Int64"),
        "description": pd.array(cols[2], dtype="string"),
        "payee": pd.array(cols[3], dtype="string"),
        "txn_type": pd.array(cols[4], dtype="string"),
        "mcc": pd.array(cols[5], dtype="string"),
        "balance_pence": pd.array(cols[6], dtype="Int64"),
        "fitid": pd.array(cols[7], dtype="string"),
        "position": np.array(cols[8], dtype="int64"),
    })


@dataclass
class ParsedStatement:
    """One account statement as read from a file (no store identifiers yet)."""

    source_format: str
    profile: str
    bank_id: str = ""
    sort_code: str = ""
    account_number: str = ""
    currency: str = "GBP"
    start_date: date | None = None
    end_date: date | None = None
    closing_balance_pence: int | None = None
    opening_balance_pence: int | None = None
    transactions: pd.DataFrame = field(default_factory=empty_transactions)
    rejects: list[Reject] = field(default_factory=list)
    # prepaid-card exports: rows that are valid but moved no money, by reason (``declined``,
    # ``reversed``, ``authorised_then_settled``): counted, never transactions, never rejects
    not_counted: dict[str, int] = field(default_factory=dict)
