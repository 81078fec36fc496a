"""Input schemas: one pandera schema per input table of the contract (sections 1 and 2).

The tables are defined by data files, not by this module: ``schemas/<table>.schema.json`` at the
top of the repository (the files live in ``dpaudit/resources/schemas/`` so that every installed
copy of the package carries them; ``schemas/`` is a link to that folder).  Each file is a
Frictionless Table Schema that a council's data team can read, or validate an export against
with any Table Schema tool, without Python.  This module builds its pandera schemas from those
files: the column names, which must be present and non-blank, the allowed values, the regular
expressions, the aliases and the cross-field checks all come from the files; the field's
``dpaudit:check`` names the registered parse check below that applies (:data:`CHECKS`).

A schema validates the *text* frame a reader produced (every cell a string), so that each
failure names the original value.  Checks are vectorised: money must parse to exact pence
(``£``, thousands commas and ``(12.50)`` accepted), dates are ISO or day-first (``31/02/2025``
fails), identifiers stay strings, enumerations are checked, and cross-field checks compare the
parsed values.  :func:`validate` runs the schema lazily (every failure at once), sends each
failing row to quarantine with a plain-English reason, and returns the typed frame of the rows
that passed (money in ``*_pence`` Int64 columns, dates as ``datetime64``).

Column aliases accepted for every table are the fields' ``dpaudit:aliases`` in the schema files
(the one place), gathered in :data:`ALIASES`.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Callable

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from dpaudit.core.dates import parse_dates_series
from dpaudit.core.distinct import per_distinct
from dpaudit.core.mask import mask_value
from dpaudit.core.money import parse_pence_series

# Where the package keeps the table schema files (the repository's top-level schemas/ links here).
SCHEMA_PACKAGE = "dpaudit.resources"
SCHEMA_FOLDER = "schemas"
SCHEMA_SUFFIX = ".schema.json"

# The registered checks a field's "dpaudit:check" may name.  Every cell is trimmed (and a leading
# apostrophe, Excel's text marker, dropped) before it is checked; a blank cell is allowed only
# where the field's constraints do not say "required".
#   pattern checks: the trimmed value must match the field's constraints.pattern, whole
#                   (sort_code: after removing spaces)
#   value checks:   the value, in lower case, must be one of the field's constraints.enum
#   parse checks:   money and date are parsed by dpaudit.core.money / dpaudit.core.dates; text is free
PATTERN_CHECKS = frozenset({"id", "sort_code", "account", "period", "decimal", "int", "ni"})
VALUE_CHECKS = frozenset({"enum", "yesno"})
PARSE_CHECKS = frozenset({"money", "date", "text"})
CHECKS = PATTERN_CHECKS | VALUE_CHECKS | PARSE_CHECKS


class SchemaFileError(ValueError):
    """A table schema file the package cannot use (a packaging or editing mistake, not bad input)."""


@dataclass(frozen=True)
class Col:
    """One column: its kind (the field's ``dpaudit:check``) decides the parse check and the typed result."""

    name: str
    kind: str  # id | text | date | money | enum | yesno | sort_code | account | period | decimal | int | ni
    required: bool = True  # the column must be present (False: an optional column of the contract)
    nullable: bool = False  # a blank value is allowed
    values: tuple[str, ...] = ()
    hint: str = ""
    pattern: str = ""  # the field's constraints.pattern, for the pattern checks


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


_HINT = {
    "id": "an identifier is required",
    "sort_code": "a sort code is 6 digits, e.g. 40-00-04 or 400004",
    "account": "an account number is 8 digits, e.g. 01234567 (a prepaid card: its last 4 digits)",
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
    if kind not in CHECKS or (kind in PATTERN_CHECKS and not col.pattern):
        raise SchemaFileError(f"column {col.name}: check {kind!r} is unknown or has no pattern")
    anchored = f"^(?:{col.pattern})$"  # a schema file's pattern matches the whole value

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
        elif kind in VALUE_CHECKS:
            good = t.str.lower().isin(col.values)
        elif kind == "sort_code":
            good = t.str.replace(" ", "", regex=False).str.match(anchored, na=False)
        else:  # the other pattern checks
            good = t.str.match(anchored, na=False)
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
    twice = sorted({n for n in out if out.count(n) > 1 and n in known})
    if twice:
        from dpaudit.ingest.readers.tabular import UnreadableFile

        pairs = "; ".join(f"{', '.join(repr(str(c)) for c, n in zip(columns, out) if n == name)} are all read as "
                          f"'{name}'" for name in twice)
        raise UnreadableFile(f"two columns mean the same thing ({pairs}); keep one of each and send the file again")
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


@dataclass(frozen=True)
class RejectLimits:
    """When a file's rejected rows are too many to report one by one (policy thresholds): the file
    is then rejected whole, as one quarantine row with counts and examples."""

    max_rows: int
    max_share: Decimal
    min_rows_for_share: int

    @classmethod
    def from_policy(cls, policy) -> "RejectLimits":
        th = policy.raw["thresholds"]
        return cls(int(th["max_rejected_rows_per_file"]), Decimal(str(th["max_rejected_share"])),
                   int(th["min_rows_for_share"]))

    def too_many(self, n_bad: int, n_rows: int) -> bool:
        return n_bad > self.max_rows or (n_rows >= self.min_rows_for_share and n_bad > self.max_share * n_rows)

    def reason(self, rel: str, n_bad: int, n_rows: int, examples: list[str]) -> str:
        """Why the file was rejected whole (``rel`` prefixes it, as evidence reasons are; "" for none)."""
        shown = "; ".join(examples[:3])
        prefix = f"{rel}: " if rel else ""
        return (f"{prefix}{n_bad} of its {n_rows} rows could not be read (more than {self.max_rows} rows or "
                f"{self.max_share:.0%} of them), so the file was not loaded. Is it the right file, in the expected "
                f"layout? First problems: {shown}. Correct the export and send it again")


def quarantine_id(path: str, row: object, column: str) -> str:
    """The stable id of a quarantined row (or, with no row, file): 16 hex characters of
    sha256(path | row | column)."""
    r = "" if row is None or pd.isna(row) else int(row)
    return hashlib.sha256(f"{path}|{r}|{column}".encode("utf-8")).hexdigest()[:16]


def quarantine_frame(rows: list[dict]) -> pd.DataFrame:
    q = pd.DataFrame(rows, columns=[c for c in QUARANTINE_COLUMNS if c != "q_id"])
    if q.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    q["q_id"] = [quarantine_id(p, r, c) for p, r, c in zip(q["path"], q["row_no"], q["column_name"])]
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


def _card_without_sort_code(sort_code: str, account: str) -> Callable[[pd.DataFrame], pd.Series]:
    """A 4-digit account number is a prepaid card's last 4 digits: the sort code must be blank."""
    return lambda f: f[account].isna() | (f[account].astype("string").str.len() != 4) | f[sort_code].isna()


# Cross-field checks a schema file's "dpaudit:rowChecks" may name: check name -> fn(*columns).
ROW_CHECKS: dict[str, Callable[..., Callable[[pd.DataFrame], pd.Series]]] = {
    "not_after": _le,  # the first date is on or before the second (either may be blank)
    "card_without_sort_code": _card_without_sort_code,  # a card's last 4 digits take no sort code
}


def schema_folder():
    """The package's folder of table schema files (an ``importlib.resources`` Traversable)."""
    return resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FOLDER)


@lru_cache(maxsize=1)
def _documents() -> dict[str, dict]:
    folder = schema_folder()
    docs: dict[str, dict] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(SCHEMA_SUFFIX):
            continue
        table = entry.name[: -len(SCHEMA_SUFFIX)]
        try:
            doc = json.loads(entry.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SchemaFileError(f"{entry.name} is not valid JSON: {exc}") from exc
        if doc.get("name") != table:
            raise SchemaFileError(f"{entry.name} names the table {doc.get('name')!r}, not {table!r}")
        docs[table] = doc
    if not docs:
        raise SchemaFileError(f"no *{SCHEMA_SUFFIX} files in {folder}; the package was installed without its schemas")
    return docs


def schema_documents() -> dict[str, dict]:
    """Every input table's schema file, parsed: table name -> Frictionless Table Schema descriptor."""
    return copy.deepcopy(_documents())


def _col(table: str, f: dict) -> Col:
    name = f.get("name")
    kind = f.get("dpaudit:check")
    if not name or kind not in CHECKS:
        raise SchemaFileError(f"{table}{SCHEMA_SUFFIX}: field {name!r} has no known dpaudit:check ({kind!r}); "
                              f"use one of {', '.join(sorted(CHECKS))}")
    cons = f.get("constraints", {})
    pattern = cons.get("pattern", "") if kind in PATTERN_CHECKS else ""
    values = tuple(cons.get("enum", ())) if kind in VALUE_CHECKS else ()
    if kind in PATTERN_CHECKS and not pattern:
        raise SchemaFileError(f"{table}{SCHEMA_SUFFIX}: field {name!r} (check {kind}) has no constraints.pattern")
    if kind in VALUE_CHECKS and (not values or any(v != v.lower() for v in values)):
        raise SchemaFileError(f"{table}{SCHEMA_SUFFIX}: field {name!r} (check {kind}) needs a lower-case constraints.enum")
    return Col(name, kind, required=not f.get("dpaudit:optionalColumn", False),
               nullable=not cons.get("required", False), values=values, pattern=pattern)


def _spec(table: str, doc: dict) -> TableSpec:
    columns = tuple(_col(table, f) for f in doc.get("fields", []))
    checks = []
    for rc in doc.get("dpaudit:rowChecks", []):
        if rc.get("check") not in ROW_CHECKS:
            raise SchemaFileError(f"{table}{SCHEMA_SUFFIX}: unknown row check {rc.get('check')!r}; "
                                  f"use one of {', '.join(sorted(ROW_CHECKS))}")
        cols = tuple(rc["columns"])
        if not set(cols) <= {c.name for c in columns}:
            raise SchemaFileError(f"{table}{SCHEMA_SUFFIX}: row check {rc.get('name')!r} names a column the table lacks")
        checks.append(RowCheck(rc["name"], ROW_CHECKS[rc["check"]](*cols), rc["reason"], cols))
    return TableSpec(table, columns, row_checks=tuple(checks), key=tuple(doc.get("dpaudit:key", ())))


def _aliases(table: str, doc: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in doc.get("fields", []):
        for alias in f.get("dpaudit:aliases", []):
            a = alias.strip().lower()
            if a in out and out[a] != f["name"]:
                raise SchemaFileError(f"{table}{SCHEMA_SUFFIX}: alias {alias!r} names both {out[a]} and {f['name']}")
            out[a] = f["name"]
    return out


# Built from the schema files once, when the module is imported.
SPECS: dict[str, TableSpec] = {t: _spec(t, d) for t, d in _documents().items()}

# The one place where column aliases live is the schema files; here: alias (lower case) -> contract column name.
ALIASES: dict[str, dict[str, str]] = {t: _aliases(t, d) for t, d in _documents().items()}

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
