"""Input schemas: one pandera schema per input table of the contract (sections 1 and 2).

A schema validates the *text* frame a reader produced (every cell a string), so that each
failure names the original value.  Checks are vectorised: money must parse to exact pence
(``£``, thousands commas and ``(12.50)`` accepted), dates are ISO or day-first (``31/02/2025``
fails), identifiers stay strings, enumerations are checked, and cross-field checks compare the
parsed values.  :func:`validate` runs the schema lazily (every failure at once), sends each
failing row to quarantine with a plain-English reason, and returns the typed frame of the rows
that passed (money in ``*_pence`` Int64 columns, dates as ``datetime64``).

Column aliases accepted for every table are listed in :data:`ALIASES` (the one place).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from dpaudit.core.dates import parse_dates_series
from dpaudit.core.distinct import per_distinct
from dpaudit.core.mask import mask_value
from dpaudit.core.money import parse_pence_series

YES_NO = ("yes", "no")
MANAGEMENT_TYPES = ("direct_payment", "notional", "third_party", "combination")
STATUSES = ("active", "stopped", "suspended")


@dataclass(frozen=True)
class Col:
    """One column: its kind decides the parse check and the typed result."""

    name: str
    kind: str  # id | text | date | money | enum | yesno | sort_code | account | period | decimal | int | ni
    required: bool = True  # the column must be present
    nullable: bool = False  # a blank value is allowed
    values: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class RowCheck:
    """A cross-field check on parsed values; ``fn(typed_frame) -> bool Series`` (True = fine)."""

    name: str
    fn: Callable[[pd.DataFrame], pd.Series]
    reason: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Col, ...]
    row_checks: tuple[RowCheck, ...] = ()
    key: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


# The one place where column aliases live: alias (lower case) -> contract column name.
ALIASES: dict[str, dict[str, str]] = {
    "recipients": {"id": "recipient_id", "child": "child_name", "dob": "date_of_birth", "sortcode": "sort_code",
                   "sort code": "sort_code", "account": "account_number", "account no": "account_number",
                   "account number": "account_number", "start_date": "dp_start_date", "end_date": "dp_end_date"},
    "support_plan_lines": {"line": "line_id", "amount": "annual_amount", "annual_budget": "annual_amount",
                           "stream": "funding_stream", "from": "valid_from", "to": "valid_to",
                           "consent_date": "setting_consent_date", "agreed_providers": "providers"},
    "payment_schedule": {"date": "due_date", "payment_date": "due_date", "ref": "reference"},
    "employees": {"ni": "ni_number", "national_insurance_number": "ni_number", "dob": "date_of_birth",
                  "rate": "hourly_rate", "dbs_date": "dbs_issue_date", "dbs_certificate": "dbs_number",
                  "bank_names": "payee_names", "aliases": "payee_names"},
    "insurance": {"policy": "policy_number", "start": "cover_start", "end": "cover_end", "el": "employers_liability"},
    "providers": {"provider": "name", "alias": "aliases"},
    "receipts": {"id": "receipt_id", "receipt_date": "date", "payee": "supplier", "merchant": "supplier",
                 "value": "amount", "total": "amount", "file": "attachment", "scan": "attachment"},
    "payslips": {"employee": "employee_id", "paid_on": "pay_date", "ni": "employee_ni", "net_pay": "net",
                 "gross_pay": "gross", "paye": "tax", "employers_ni": "employer_ni", "employee_pension": "pension_employee",
                 "employer_pension": "pension_employer"},
    "hmrc": {"month": "tax_month", "due": "amount_due", "paid": "amount_paid", "date_paid": "paid_date",
             "payment_reference": "reference"},
    "invoices": {"id": "invoice_id", "date": "invoice_date", "payee": "supplier", "total": "amount"},
}

_RE = {
    "id": r"^\S(.*\S)?$",
    "sort_code": r"^\d{2}-?\d{2}-?\d{2}$",
    "account": r"^\d{8}$",
    "period": r"^\d{4}-(0[1-9]|1[0-2])$",
    "decimal": r"^\d+(\.\d+)?$",
    "int": r"^\d+$",
    "ni": r"^[A-Za-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Da-d]$",
}
_HINT = {
    "id": "an identifier is required",
    "sort_code": "a sort code is 6 digits, e.g. 40-00-04 or 400004",
    "account": "an account number is 8 digits, e.g. 01234567",
    "period": "a tax month is written YYYY-MM, e.g. 2025-04",
    "decimal": "write a number such as 37.5",
    "int": "write a whole number",
    "ni": "an NI number looks like QQ123456C",
    "money": "write pounds with at most 2 decimals, e.g. 1234.50 (a £ sign and commas are fine)",
    "date": "write the date as YYYY-MM-DD or DD/MM/YYYY and check the day exists",
    "enum": "use one of",
    "yesno": "write yes or no",
}


def _clean_text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.lstrip("'")


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "")


def _check_for(col: Col) -> pa.Check:
    """A vectorised pandera check that a text column parses as ``col.kind``."""
    kind = col.kind

    def ok(s: pd.Series) -> pd.Series:
        return per_distinct(s, ok_values)

    def ok_values(s: pd.Series) -> pd.Series:
        t = _clean_text(s)
        blank = _blank(t)
        if kind in ("text",):
            good = pd.Series(True, index=s.index)
        elif kind == "money":
            good = ~parse_pence_series(t)[1]
        elif kind == "date":
            good = ~parse_dates_series(t)[1].astype(bool)
        elif kind == "enum":
            good = t.str.lower().isin(col.values)
        elif kind == "yesno":
            good = t.str.lower().isin(YES_NO)
        elif kind == "sort_code":
            good = t.str.replace(" ", "", regex=False).str.match(_RE["sort_code"], na=False)
        else:
            good = t.str.match(_RE[kind], na=False)
        if col.nullable:
            return (good.fillna(False) | blank).astype(bool)
        return (good.fillna(False) & ~blank).astype(bool)

    hint = col.hint or _HINT.get(kind, "")
    if kind == "enum":
        hint = f"use one of {', '.join(col.values)}"
    blank_msg = "" if col.nullable else "it must not be blank; "
    return pa.Check(ok, name=f"{col.name}:{kind}", error=f"{col.name}: {blank_msg}{hint}")


def pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    # no dtype: every cell is text and the checks parse it; a dtype check would coerce cell by cell
    cols = {c.name: pa.Column(None, checks=[_check_for(c)], nullable=True, required=c.required and not c.nullable)
            for c in spec.columns}
    return pa.DataFrameSchema(cols, strict=False, coerce=False, name=spec.name)


def alias_names(columns: list, table: str) -> list:
    """Column names matched case-insensitively after trimming, aliases mapped to contract names."""
    aliases = ALIASES.get(table, {})
    known = {c.name for c in SPECS[table].columns}
    out = []
    for c in columns:
        k = str(c).strip().lower()
        k2 = k.replace(" ", "_")
        out.append(k if k in known else k2 if k2 in known else aliases.get(k, aliases.get(k2, c)))
    return out


def rename_aliases(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Match column names case-insensitively after trimming, mapping aliases to contract names."""
    return frame.rename(columns=dict(zip(frame.columns, alias_names(list(frame.columns), table))))


def _typed(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Convert validated text columns to their types (money -> ``<col>_pence``)."""
    out = pd.DataFrame(index=frame.index)
    for c in spec.columns:
        if c.name not in frame.columns:
            if c.kind == "money":
                out[f"{c.name}_pence"] = pd.array([pd.NA] * len(frame), dtype="Int64")
            else:
                out[c.name] = None
            continue
        name = f"{c.name}_pence" if c.kind == "money" else c.name
        out[name] = per_distinct(frame[c.name], lambda v, kind=c.kind: _convert(v, kind))
    return out


def _convert(values: pd.Series, kind: str) -> pd.Series:
    """One validated text column as its type (blank is NA)."""
    t = _clean_text(values)
    t = t.mask(_blank(t), None)
    if kind == "money":
        return parse_pence_series(t)[0]
    if kind == "date":
        return parse_dates_series(t)[0]
    if kind in ("enum", "yesno"):
        return t.str.lower()
    if kind == "sort_code":
        return t.str.replace(r"\D", "", regex=True)
    if kind == "ni":
        return t.str.replace(" ", "", regex=False).str.upper()
    return t


@dataclass
class Validated:
    """Rows that passed (typed) and quarantine rows for those that did not."""

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: int


QUARANTINE_COLUMNS = ["q_id", "path", "file_sha256", "kind", "recipient_id", "period", "row_no", "column_name",
                      "value_masked", "reason"]


def quarantine_frame(rows: list[dict]) -> pd.DataFrame:
    q = pd.DataFrame(rows, columns=[c for c in QUARANTINE_COLUMNS if c != "q_id"])
    if q.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    q["q_id"] = [hashlib.sha256(f"{p}|{r}|{c}".encode()).hexdigest()[:16]
                 for p, r, c in zip(q["path"], q["row_no"], q["column_name"])]
    return q[QUARANTINE_COLUMNS].drop_duplicates("q_id")


def missing_columns(table: str, frame: pd.DataFrame | list[str]) -> list[str]:
    """Value columns the (alias-renamed) frame or column list lacks; a blank-able column may be left
    out altogether."""
    have = set(frame.columns if isinstance(frame, pd.DataFrame) else frame)
    return [c.name for c in SPECS[table].columns if c.required and not c.nullable and c.name not in have]


def validate(table: str, frame: pd.DataFrame, *, path: str, row_numbers: list[int] | None = None,
             file_sha256: str = "", recipient_id: str | None = None, period: str | None = None,
             origin: pd.DataFrame | None = None) -> Validated:
    """Validate a text frame against the table's schema; quarantine failures; type the rest.

    Many files of one kind may be validated in one call (one pandera pass, not one per file):
    ``origin`` then gives, per row, its ``path``, ``file_sha256``, ``recipient_id`` and ``row_no``,
    and the valid frame keeps those columns.
    """
    spec = SPECS[table]
    frame = rename_aliases(frame, table).reset_index(drop=True)
    if origin is not None:
        origin = origin.reset_index(drop=True)
        rows = origin["row_no"].astype(int).tolist()
    else:
        rows = row_numbers if row_numbers is not None else list(range(2, len(frame) + 2))
    base = {"path": path, "file_sha256": file_sha256, "kind": table, "recipient_id": recipient_id, "period": period}

    def where(i: int) -> dict:
        if origin is None:
            return base
        o = origin.iloc[i]
        return {**base, "path": o["path"], "file_sha256": o["file_sha256"], "recipient_id": o["recipient_id"]}

    missing = missing_columns(table, frame)
    if missing:
        reason = (f"{path}: the file lacks column(s) {', '.join(missing)}; the header it has is "
                  f"{', '.join(map(str, frame.columns))}. Add the columns (see the contract) and send it again.")
        q = quarantine_frame([{**base, "row_no": 0, "column_name": ",".join(missing), "value_masked": "", "reason": reason}])
        return Validated(valid=_typed(frame.iloc[0:0], spec), quarantine=q, rows_read=len(frame))
    bad_rows: dict[int, list[tuple[str, str, str]]] = {}
    try:
        pandera_schema(spec).validate(frame, lazy=True)
    except SchemaErrors as err:
        fc = err.failure_cases
        for _, r in fc.iterrows():
            idx = r.get("index")
            if idx is None or pd.isna(idx):
                continue
            col = str(r.get("column") or "")
            msg = str(r.get("check") or "")
            reason = _reason_for(spec, col, msg)
            bad_rows.setdefault(int(idx), []).append((col, str(r.get("failure_case")), reason))
    ok_idx = [i for i in range(len(frame)) if i not in bad_rows]
    typed = _typed(frame.iloc[ok_idx], spec) if ok_idx else _typed(frame.iloc[0:0], spec)
    # cross-field checks on parsed values of rows that parsed
    for chk in spec.row_checks:
        if typed.empty:
            break
        fine = chk.fn(typed).fillna(True).astype(bool)
        for i in typed.index[~fine]:
            bad_rows.setdefault(int(i), []).append((",".join(chk.columns), " / ".join(str(frame.at[i, c]) for c in chk.columns if c in frame.columns), chk.reason))
        typed = typed[fine]
    qrows = []
    for i, problems in sorted(bad_rows.items()):
        w = where(i)
        for col, value, reason in problems:
            qrows.append({**w, "row_no": rows[i], "column_name": col, "value_masked": mask_value(value, col),
                          "reason": f"{w['path']} row {rows[i]}, column {col}: {reason}"})
    typed = typed.copy()
    typed["row_no"] = [rows[i] for i in typed.index]
    if origin is not None:
        for c in ("path", "file_sha256", "recipient_id"):
            typed[f"_{c}"] = origin.loc[typed.index, c].values
    return Validated(valid=typed.reset_index(drop=True), quarantine=quarantine_frame(qrows), rows_read=len(frame))


def _reason_for(spec: TableSpec, column: str, check: str) -> str:
    for c in spec.columns:
        if c.name == column:
            hint = c.hint or _HINT.get(c.kind, "")
            if c.kind == "enum":
                hint = f"use one of {', '.join(c.values)}"
            what = "is blank or not valid" if not c.nullable else "is not valid"
            return f"the value {what}; {hint}"
    return check


def _le(a: str, b: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: f[b].isna() | f[a].isna() | (f[a] <= f[b])


def payslip_arithmetic_ok(f: pd.DataFrame) -> pd.Series:
    """net = gross - tax - employee_ni - pension_employee (pence). Used by PY-NET-MISMATCH, not quarantine."""
    g = f["gross_pence"]
    return g - f["tax_pence"].fillna(0) - f["employee_ni_pence"].fillna(0) - f["pension_employee_pence"].fillna(0) == f["net_pence"]


SPECS: dict[str, TableSpec] = {
    "recipients": TableSpec("recipients", (
        Col("recipient_id", "id"), Col("child_name", "text", nullable=True), Col("date_of_birth", "date", nullable=True),
        Col("management_type", "enum", values=MANAGEMENT_TYPES), Col("sort_code", "sort_code", nullable=True),
        Col("account_number", "account", nullable=True), Col("account_holder", "text", nullable=True),
        Col("dp_start_date", "date"), Col("dp_end_date", "date", nullable=True), Col("status", "enum", values=STATUSES),
        Col("stop_requested", "yesno", required=False, nullable=True), Col("support_officer", "text", required=False, nullable=True),
        Col("young_person_declines", "yesno", required=False, nullable=True)),
        row_checks=(RowCheck("dp dates", _le("dp_start_date", "dp_end_date"),
                             "dp_start_date is after dp_end_date; correct one of them", ("dp_start_date", "dp_end_date")),),
        key=("recipient_id",)),
    "support_plan_lines": TableSpec("support_plan_lines", (
        Col("recipient_id", "id"), Col("line_id", "id"), Col("category", "enum", values=(
            "personal_assistant", "agency_care", "short_breaks", "day_activities", "community_access", "transport",
            "training", "personal_care", "accommodation", "small_aids", "counselling", "therapy", "education_support",
            "payroll_services", "insurance", "bank_charges")),
        Col("description", "text", nullable=True), Col("annual_amount", "money"), Col("funding_stream", "id"),
        Col("management_type", "enum", values=MANAGEMENT_TYPES), Col("valid_from", "date", nullable=True),
        Col("valid_to", "date", nullable=True), Col("school_setting", "yesno", nullable=True),
        Col("setting_consent_date", "date", nullable=True), Col("providers", "text", required=False, nullable=True)),
        # valid_from > valid_to is kept and reported as DQ-PLAN-INVALID (rules.md), not quarantined.
        key=("recipient_id", "line_id")),
    "payment_schedule": TableSpec("payment_schedule", (
        Col("recipient_id", "id"), Col("due_date", "date"), Col("amount", "money"), Col("reference", "text", nullable=True)),
        key=("recipient_id", "due_date", "reference")),
    "employees": TableSpec("employees", (
        Col("recipient_id", "id"), Col("employee_id", "id"), Col("name", "id"), Col("ni_number", "ni", nullable=True),
        Col("date_of_birth", "date", nullable=True), Col("hourly_rate", "money", nullable=True),
        Col("start_date", "date", nullable=True), Col("end_date", "date", nullable=True),
        Col("dbs_number", "text", nullable=True), Col("dbs_issue_date", "date", nullable=True),
        Col("payee_names", "text", required=False, nullable=True)),
        row_checks=(RowCheck("employment dates", _le("start_date", "end_date"),
                             "start_date is after end_date; correct one of them", ("start_date", "end_date")),),
        key=("recipient_id", "employee_id")),
    "insurance": TableSpec("insurance", (
        Col("recipient_id", "id"), Col("policy_number", "id"), Col("insurer", "text", nullable=True),
        Col("cover_start", "date"), Col("cover_end", "date"), Col("employers_liability", "yesno")),
        row_checks=(RowCheck("cover dates", _le("cover_start", "cover_end"),
                             "cover_start is after cover_end; correct one of them", ("cover_start", "cover_end")),),
        key=("recipient_id", "policy_number")),
    "providers": TableSpec("providers", (
        Col("name", "id"), Col("aliases", "text", nullable=True), Col("category", "text", nullable=True),
        Col("registered", "yesno", nullable=True)), key=("name",)),
    "receipts": TableSpec("receipts", (
        Col("receipt_id", "id"), Col("date", "date"), Col("supplier", "id"), Col("amount", "money"),
        Col("description", "text", nullable=True), Col("category", "text", required=False, nullable=True),
        Col("attachment", "text", required=False, nullable=True)), key=("receipt_id",)),
    "payslips": TableSpec("payslips", (
        Col("employee_id", "id"), Col("pay_date", "date"), Col("period_start", "date", nullable=True),
        Col("period_end", "date", nullable=True), Col("hours", "decimal", nullable=True), Col("gross", "money"),
        Col("tax", "money", nullable=True), Col("employee_ni", "money", nullable=True),
        Col("employer_ni", "money", nullable=True), Col("pension_employee", "money", nullable=True),
        Col("pension_employer", "money", nullable=True), Col("net", "money")),
        row_checks=(RowCheck("pay period", _le("period_start", "period_end"),
                             "period_start is after period_end; correct one of them", ("period_start", "period_end")),),
        key=("employee_id", "pay_date")),
    "hmrc": TableSpec("hmrc", (
        Col("tax_month", "period"), Col("amount_due", "money"), Col("amount_paid", "money", nullable=True),
        Col("paid_date", "date", nullable=True), Col("reference", "text", nullable=True)),
        key=("tax_month", "reference")),
    "invoices": TableSpec("invoices", (
        Col("invoice_id", "id"), Col("supplier", "id"), Col("invoice_date", "date"),
        Col("period_start", "date", nullable=True), Col("period_end", "date", nullable=True), Col("amount", "money"),
        Col("hours", "decimal", required=False, nullable=True)),
        row_checks=(RowCheck("invoice period", _le("period_start", "period_end"),
                             "period_start is after period_end; correct one of them", ("period_start", "period_end")),),
        key=("invoice_id",)),
}

# The normalised bank transaction table (contract section 2, issue "bank ingest" item 2), typed.
TRANSACTION_SCHEMA = pa.DataFrameSchema({
    "txn_id": pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{16,64}$"), unique=True),
    "recipient_id": pa.Column(str),
    "sort_code": pa.Column(str, pa.Check.str_matches(r"^\d{6}$"), nullable=True),
    "account_number": pa.Column(str, nullable=True),
    "posted_date": pa.Column("datetime64[ns]"),
    "amount_pence": pa.Column("Int64", nullable=False),
    "description": pa.Column(str, nullable=True),
    "payee": pa.Column(str, nullable=True),
    "txn_type": pa.Column(str, nullable=True),
    "mcc": pa.Column(str, pa.Check.str_matches(r"^\d{4}$"), nullable=True),
    "balance_pence": pa.Column("Int64", nullable=True),
    "file_sha256": pa.Column(str),
    "position": pa.Column("int64"),
}, strict=False, coerce=True, name="transactions")
