"""The machine-readable CSV twins of the workbook sheets (contract §3), byte-identical on re-run.

Each writer takes a frame with money in integer pence and writes the contract's exact columns in
the contract's order: money as pounds text (``1234.56``, as :func:`dpaudit.core.money.format_pounds`),
dates ISO, UTF-8 without BOM, ``\\n`` line endings and a total row order, so the same inputs give
the same bytes.  Free text (``message``, ``counterparty``, ``reasons``) that starts like a formula
gets a leading ``'`` so a spreadsheet program opening the CSV shows it as text.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from dpaudit.audit.findings import sort_findings
from dpaudit.report import atomic_write_bytes, neutralise_series

EXCEPTIONS_COLUMNS = [
    "exception_id", "period", "recipient_id", "rule_id", "severity", "txn_date", "amount", "counterparty",
    "txn_ref", "line_id", "message", "clause", "status",
]
RECOMMENDATIONS_COLUMNS = ["recipient_id", "period", "action", "amount", "grounds", "clauses", "reasons", "respond_by"]
# after the contract's columns, when the recommendations carry their risk rating (decide.risk)
RISK_COLUMNS = ["risk_rating", "risk_score", "risk_reasons", "next_review"]
RECONCILIATION_COLUMNS = [
    "recipient_id", "period", "opening_balance", "council_credits", "other_credits", "debits", "closing_balance",
    "evidenced", "unevidenced", "plan_budget_to_date", "spend_to_date", "contingency_held", "contingency_pct",
]
YEAR_END_COLUMNS = [
    "recipient_id", "annual_dp_value", "closing_balance", "committed", "surplus", "carry_forward", "repayment", "reasons",
]
# dpaudit's own year-end columns, after the contract's (decisions 48, 49): what the council and the
# family paid in over the year, the family's share of what was held back (not recovered: `repayment`
# is the council's share), and the surplus in weeks of funding (blank when there is none)
YEAR_END_EXTRA_COLUMNS = ["council_in", "contributions_in", "family_share", "surplus_weeks"]
STATUSES = ("open", "accepted", "dismissed", "queried")


class ReportInputError(ValueError):
    """A frame handed to a writer lacks a column the contract needs (a programming error upstream)."""


def pounds_series(pence: pd.Series) -> pd.Series:
    """Integer pence -> pounds text with two decimals, vectorised; blank where missing.

    Same text as :func:`dpaudit.core.money.format_pounds` (``-5`` -> ``-0.05``).
    """
    p = pd.array(pence, dtype="Int64")
    s = pd.Series(p)
    neg = (s < 0).fillna(False).astype(bool)
    a = s.abs()
    whole = (a // 100).astype("string")
    frac = (a % 100).astype("string").str.zfill(2)
    out = whole + "." + frac
    out = out.mask(neg, "-" + out)
    out = out.fillna("")
    out.index = pence.index
    return out.astype(object)


def iso_date_series(values: pd.Series) -> pd.Series:
    """Dates (``date``, ``datetime``, ``Timestamp`` or ISO text) -> ``YYYY-MM-DD`` text; blank where missing."""
    def one(v: object) -> str:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return ""
        if isinstance(v, (datetime, pd.Timestamp)):
            return v.date().isoformat()
        if isinstance(v, date):
            return v.isoformat()
        return str(v)[:10]
    return values.map(one).astype(object)


def text_series(values: pd.Series) -> pd.Series:
    """Any column -> text, blank where missing (identifiers keep their leading zeros)."""
    return values.astype("string").fillna("").astype(object)


def decimal_text(values: pd.Series, places: str = "0.01") -> pd.Series:
    """Exact decimal text with fixed places (``Decimal('5.5')`` -> ``5.50``); blank where missing."""
    q = Decimal(places)

    def one(v: object) -> str:
        if v is None or (not isinstance(v, (str, Decimal)) and pd.isna(v)):
            return ""
        return str(Decimal(str(v)).quantize(q))
    return values.map(one).astype(object)


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportInputError(f"{what} frame lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}")


# identifiers that come from the public (folder names, bank references): never a formula
TEXT_ID_COLUMNS = ("recipient_id", "txn_ref", "line_id")


def _write(path: Path | str, frame: pd.DataFrame, columns: list[str]) -> Path:
    frame = frame.copy()
    for c in TEXT_ID_COLUMNS:
        if c in frame.columns:
            frame[c] = neutralise_series(frame[c]).astype(object)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(columns)
    w.writerows(frame[columns].itertuples(index=False, name=None))
    return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def exceptions_frame(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings (+ ``status``) -> the text frame of ``exceptions.csv`` in the workbook's order."""
    need = ["exception_id", "period", "recipient_id", "rule_id", "severity", "txn_date", "amount_pence",
            "counterparty", "txn_ref", "line_id", "message", "clause"]
    _require(findings, need, "findings")
    f = sort_findings(findings.copy()) if len(findings) else findings.copy()
    status = f["status"] if "status" in f.columns else pd.Series("open", index=f.index)
    status = status.astype("string").fillna("open").str.strip().str.lower().replace("", "open")
    out = pd.DataFrame(index=f.index)
    for c in ("exception_id", "period", "recipient_id", "rule_id", "severity", "txn_ref", "line_id", "clause"):
        out[c] = text_series(f[c])
    out["txn_date"] = iso_date_series(f["txn_date"])
    out["amount"] = pounds_series(f["amount_pence"])
    out["counterparty"] = neutralise_series(f["counterparty"]).astype(object)
    out["message"] = neutralise_series(f["message"]).astype(object)
    out["status"] = status.astype(object)
    return out[EXCEPTIONS_COLUMNS]


def write_exceptions_csv(path: Path | str, findings: pd.DataFrame) -> Path:
    """``exceptions.csv``: one row per finding, sorted by severity, money at stake, recipient, rule, id."""
    return _write(path, exceptions_frame(findings), EXCEPTIONS_COLUMNS)


def recommendations_frame(recs: pd.DataFrame) -> pd.DataFrame:
    need = ["recipient_id", "period", "action", "amount_pence", "grounds", "clauses", "reasons", "respond_by"]
    _require(recs, need, "recommendations")
    r = recs.copy()
    r["recipient_id"] = text_series(r["recipient_id"])
    r["period"] = text_series(r["period"])
    r = r.sort_values(["period", "recipient_id"], kind="mergesort").reset_index(drop=True)
    out = pd.DataFrame(index=r.index)
    for c in ("recipient_id", "period", "action", "grounds", "clauses"):
        out[c] = text_series(r[c])
    out["amount"] = pounds_series(r["amount_pence"].fillna(0))
    out["reasons"] = neutralise_series(r["reasons"]).astype(object)
    out["respond_by"] = iso_date_series(r["respond_by"])
    if "risk_rating" not in r.columns:
        return out[RECOMMENDATIONS_COLUMNS]
    out["risk_rating"] = text_series(r["risk_rating"])
    score = r["risk_score"] if "risk_score" in r.columns else pd.Series(pd.NA, index=r.index)
    out["risk_score"] = pd.Series(pd.array(score, dtype="Int64")).astype("string").fillna("").astype(object).values
    out["risk_reasons"] = neutralise_series(r["risk_reasons"] if "risk_reasons" in r.columns
                                            else pd.Series("", index=r.index)).astype(object)
    out["next_review"] = iso_date_series(r["next_review"] if "next_review" in r.columns
                                         else pd.Series(None, index=r.index, dtype=object))
    return out[RECOMMENDATIONS_COLUMNS + RISK_COLUMNS]


def write_recommendations_csv(path: Path | str, recs: pd.DataFrame) -> Path:
    """``recommendations.csv``: one row per recipient (and period), sorted by period then recipient;
    the risk rating's columns (:data:`RISK_COLUMNS`) follow the contract's when ``recs`` has them."""
    frame = recommendations_frame(recs)
    return _write(path, frame, list(frame.columns))


RECONCILIATION_MONEY = [c for c in RECONCILIATION_COLUMNS if c not in ("recipient_id", "period", "contingency_pct")]


def reconciliation_frame(rec: pd.DataFrame) -> pd.DataFrame:
    need = ["recipient_id", "period"] + [f"{c}_pence" for c in RECONCILIATION_MONEY] + ["contingency_pct"]
    _require(rec, need, "reconciliation")
    r = rec.copy()
    r["recipient_id"] = text_series(r["recipient_id"])
    r["period"] = text_series(r["period"])
    r = r.sort_values(["period", "recipient_id"], kind="mergesort").reset_index(drop=True)
    out = pd.DataFrame(index=r.index)
    out["recipient_id"] = r["recipient_id"]
    out["period"] = r["period"]
    for c in RECONCILIATION_MONEY:
        out[c] = pounds_series(r[f"{c}_pence"])
    out["contingency_pct"] = decimal_text(r["contingency_pct"])
    return out[RECONCILIATION_COLUMNS]


def write_reconciliation_csv(path: Path | str, rec: pd.DataFrame) -> Path:
    """``reconciliation.csv``: one row per recipient and period, sorted by period then recipient."""
    return _write(path, reconciliation_frame(rec), RECONCILIATION_COLUMNS)


YEAR_END_MONEY = ["annual_dp_value", "closing_balance", "committed", "surplus", "carry_forward", "repayment"]


def year_end_frame(ye: pd.DataFrame) -> pd.DataFrame:
    need = ["recipient_id"] + [f"{c}_pence" for c in YEAR_END_MONEY] + ["reasons"]
    _require(ye, need, "year_end")
    y = ye.copy()
    y["recipient_id"] = text_series(y["recipient_id"])
    y = y.sort_values(["recipient_id"], kind="mergesort").reset_index(drop=True)
    out = pd.DataFrame(index=y.index)
    out["recipient_id"] = y["recipient_id"]
    for c in YEAR_END_MONEY:
        out[c] = pounds_series(y[f"{c}_pence"])
    out["reasons"] = neutralise_series(y["reasons"]).astype(object)
    for c in ("council_in", "contributions_in", "family_share"):
        out[c] = pounds_series(y[f"{c}_pence"]) if f"{c}_pence" in y.columns else ""
    out["surplus_weeks"] = surplus_weeks_series(y["surplus_pence"], y["annual_dp_value_pence"])
    return out[YEAR_END_COLUMNS + YEAR_END_EXTRA_COLUMNS]


def surplus_weeks_series(surplus: pd.Series, annual: pd.Series) -> pd.Series:
    """The surplus in weeks of funding, ``surplus / (annual / 52)`` to 1 decimal half-up (``6.3``);
    blank where there is no surplus or no annual value."""
    from dpaudit.core.money import weeks_of_funding

    return pd.Series(["" if pd.isna(s) or int(s) <= 0 else str(weeks_of_funding(s, a) or "")
                      for s, a in zip(surplus, annual)], index=surplus.index, dtype=object)


def write_year_end_csv(path: Path | str, ye: pd.DataFrame) -> Path:
    """``FY<YYYY>/year_end.csv``: one row per recipient, sorted by recipient."""
    return _write(path, year_end_frame(ye), YEAR_END_COLUMNS + YEAR_END_EXTRA_COLUMNS)
