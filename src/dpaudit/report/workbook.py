"""The officers' exception workbook (``exceptions.xlsx``), written with openpyxl in write-only mode.

Sheets (contract §3): Summary (figures and two native bar charts), Exceptions (one row per
finding, frozen header, filter, £ format, real dates, severity colours, a ``decision`` drop-down
and a ``note`` column, hidden ``exception_id``), Recommendations (also ``decision``/``note`` and a
hidden id ``REC-<period>-<recipient_id>``), Reconciliation and Data quality.

Safe to open: every cell built from outside text that begins with ``= + - @``, tab, CR or LF is
stored as a text cell with the quote-prefix style, so it can never become a formula, not even
after an officer saves and reopens it; control characters XML cannot hold are replaced; the
workbook has no external links, macros or defined names.  Write-only mode streams rows to disk so
a month of 30,000 findings writes in seconds (``scripts/bench_workbook.py``).
"""
from __future__ import annotations

import re
import zipfile
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from dpaudit.audit.findings import sort_findings
from dpaudit.report import FORMULA_LEADS
from dpaudit.report.csvs import pounds_series
from dpaudit.report.summary_md import summary_figures

GBP_FORMAT = '"£"#,##0.00'
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM:SS"
PCT_FORMAT = '0.00"%"'
EXCEL_MAX_TEXT = 32767
DECISIONS = ("accept", "dismiss", "query")
STATUS_TO_DECISION = {"accepted": "accept", "dismissed": "dismiss", "queried": "query",
                      "accept": "accept", "dismiss": "dismiss", "query": "query"}
SHEETS = ("Summary", "Exceptions", "Recommendations", "Reconciliation", "Data quality")
TOP_RECIPIENTS = 20

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_TITLE_FONT = Font(bold=True, size=14)
_SECTION_FONT = Font(bold=True, size=12)
_BOLD = Font(bold=True)
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # the cells an officer fills in
_SEVERITY_COLOURS = {  # (fill, font) per severity: red, amber, blue, grey
    "high": ("FFC7CE", "9C0006"), "medium": ("FFEB9C", "9C5700"),
    "low": ("DDEBF7", "1F4E78"), "info": ("EDEDED", "404040"),
}
_ACTION_COLOURS = {"STOP": ("FFC7CE", "9C0006"), "REPAY": ("FFEB9C", "9C5700"), "REVIEW": ("DDEBF7", "1F4E78")}
_ACTION_ORDER = {"STOP": 0, "REPAY": 1, "REVIEW": 2, "NONE": 3}


def recommendation_id(period: str, recipient_id: str) -> str:
    """The id an officer's decision on a recommendation is logged under."""
    return f"REC-{period}-{recipient_id}"


# Characters XML 1.0 cannot hold: C0 controls except tab/LF/CR (openpyxl's list), lone surrogates, U+FFFE/F.
_XML_ILLEGAL_RE = re.compile(ILLEGAL_CHARACTERS_RE.pattern + "|[\ud800-\udfff\ufffe\uffff]")


def clean_text(value: object) -> str:
    """Outside text as XML can hold it: characters XML forbids become U+FFFD; Excel's length cap."""
    s = str(value)
    s = _XML_ILLEGAL_RE.sub("\ufffd", s)
    return s[:EXCEL_MAX_TEXT]


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = "text"      # text | money | date | int | pct | id
    hidden: bool = False


class _Cells:
    """Builds cells for one write-only sheet.

    Plain text and numbers are handed to openpyxl as raw values (it reuses one cell for them);
    values that need a style get their own cell whose style is copied from a template, which
    avoids openpyxl's per-assignment style lookups (the write-time hot spot).
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._templates: dict[tuple, Any] = {}

    def _styled(self, value: Any, *, number_format: str | None = None, font: Font | None = None,
                fill: PatternFill | None = None, quote: bool = False) -> Any:
        key = (number_format, id(font), id(fill), quote)  # ids: hashing style objects is slow
        tmpl = self._templates.get(key)
        if tmpl is None:
            t = WriteOnlyCell(self.ws)
            if number_format is not None:
                t.number_format = number_format
            if font is not None:
                t.font = font
            if fill is not None:
                t.fill = fill
            if quote:
                t.quotePrefix = True
            tmpl = self._templates[key] = t._style
        c = WriteOnlyCell(self.ws, value=value)
        c._style = copy(tmpl)
        return c

    def text(self, value: object, *, font: Font | None = None, fill: PatternFill | None = None) -> Any:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            value = ""
        return self.clean_text_cell(clean_text(value), font=font, fill=fill)

    def clean_text_cell(self, s: str, *, font: Font | None = None, fill: PatternFill | None = None) -> Any:
        """A cell for text already passed through :func:`clean_text`."""
        if not s:  # empty: no value at all (an empty inline string is not valid SpreadsheetML)
            return None if font is None and fill is None else self._styled(None, font=font, fill=fill)
        risky = s.startswith(FORMULA_LEADS)
        if not risky and font is None and fill is None:
            return s
        if not risky:
            return self._styled(s, font=font, fill=fill)
        c = self._styled(None, font=font, fill=fill, quote=True)  # quote prefix: stays text when edited
        c._value = s
        c.data_type = "s"  # text, never a formula
        return c

    def text_column(self, values: list[Any], *, fill: PatternFill | None = None) -> list[Any]:
        """A whole column of outside text, cleaned in one vectorised pass."""
        cleaned = clean_series(pd.Series(values, dtype="object"))
        return [self.clean_text_cell(s, fill=fill) for s in cleaned]

    def money(self, pence: object, *, font: Font | None = None) -> Any:
        v = None if pence is None or pd.isna(pence) else Decimal(int(pence)).scaleb(-2)
        return self._styled(v, number_format=GBP_FORMAT, font=font)

    def date(self, value: object, fmt: str = DATE_FORMAT) -> Any:
        if value is None or (not isinstance(value, (date, datetime)) and pd.isna(value)):
            return None
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, datetime) and fmt == DATE_FORMAT:
            value = value.date()
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return self._styled(value, number_format=fmt)

    def number(self, value: object, fmt: str | None = None) -> Any:
        if value is None or (not isinstance(value, (int, Decimal)) and pd.isna(value)):
            return None
        v = value if isinstance(value, (int, Decimal)) else Decimal(str(value))
        if fmt is None:
            return v
        return self._styled(v, number_format=fmt)

    def header(self, text: str) -> Any:
        c = WriteOnlyCell(self.ws, value=clean_text(text))
        c.font = _HEADER_FONT
        c.fill = _HEADER_FILL
        c.alignment = Alignment(vertical="center")
        return c

    def input(self, value: object) -> Any:
        return self.text(value, fill=_INPUT_FILL)


def clean_series(values: pd.Series) -> list[str]:
    """Vectorised :func:`clean_text` (blank for missing)."""
    t = values.astype("string").fillna("")
    t = t.str.replace(_XML_ILLEGAL_RE.pattern, "\ufffd", regex=True).str.slice(0, EXCEL_MAX_TEXT)
    return t.astype(object).tolist()


def _setup_table(ws: Any, columns: list[Column], n_rows: int) -> None:
    """Widths, hidden columns, frozen header and autofilter (set before the first row is written)."""
    for i, col in enumerate(columns, start=1):
        dim = ws.column_dimensions[get_column_letter(i)]
        dim.width = col.width
        if col.hidden:
            dim.hidden = True
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(n_rows, 0) + 1}"


def _colour_rules(ws: Any, col_letter: str, n_rows: int, colours: dict[str, tuple[str, str]]) -> None:
    ref = f"{col_letter}2:{col_letter}{max(n_rows, 1) + 1}"
    for value, (fill, font) in colours.items():
        ws.conditional_formatting.add(ref, FormulaRule(
            formula=[f'${col_letter}2="{value}"'], fill=PatternFill("solid", bgColor=fill), font=Font(color=font)))


def _decision_validation(ws: Any, col_letter: str, n_rows: int) -> None:
    dv = DataValidation(type="list", formula1='"' + ",".join(DECISIONS) + '"', allow_blank=True,
                        showErrorMessage=True, errorStyle="stop", errorTitle="Decision",
                        error="Choose accept, dismiss or query (or leave blank).",
                        showInputMessage=True, promptTitle="Decision",
                        prompt="accept: the finding stands; dismiss: it does not; query: ask the family.")
    dv.add(f"{col_letter}2:{col_letter}{max(n_rows, 1) + 1}")
    ws.data_validations.append(dv)


def _prefill(ids: list[str], status: list[object], decisions: pd.DataFrame | None) -> tuple[list[str], list[str]]:
    """Previous decisions (and notes) for the decision/note columns."""
    dec = [STATUS_TO_DECISION.get(str(s).strip().lower(), "") if s is not None and not pd.isna(s) else "" for s in status]
    notes = [""] * len(ids)
    if decisions is not None and len(decisions):
        d = decisions.drop_duplicates("exception_id", keep="last").set_index("exception_id")
        st = d["status"].to_dict() if "status" in d.columns else {}
        nt = d["note"].to_dict() if "note" in d.columns else {}
        for i, eid in enumerate(ids):
            if eid in st and STATUS_TO_DECISION.get(str(st[eid]).lower()):
                dec[i] = STATUS_TO_DECISION[str(st[eid]).lower()]
            n = nt.get(eid)
            if n is not None and not pd.isna(n):
                notes[i] = str(n)
    return dec, notes


def _col(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame.columns:
        return [None] * len(frame)
    return [None if (v is None or (not isinstance(v, str) and pd.isna(v))) else v for v in frame[name].tolist()]


def _write_columns(ws: Any, columns: list[Column], data: list[list[Any]]) -> None:
    """Header row, then the rows of ``data`` (one list of ready values or cells per column)."""
    cells = _Cells(ws)
    ws.append([cells.header(c.header) for c in columns])
    for row in zip(*data):
        ws.append(list(row))


# ---------------------------------------------------------------- fast rows for the big sheet
_EPOCH = pd.Timestamp("1899-12-30")
_RISKY_RE = r"^[=+\-@\t\r\n]"


def _xml_escape(s: pd.Series) -> pd.Series:
    return (s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False).str.replace("\r", "&#13;", regex=False))


class _FastRows:
    """The data rows of a big sheet as SpreadsheetML, built column by column with vectorised string
    operations and spliced into the saved file (openpyxl's per-cell writer is the bottleneck).

    The cells are exactly those openpyxl writes (same ``r``/``s``/``t`` attributes, inline strings,
    numbers, date serials; empty unstyled cells left out); tests check both give the same sheet.
    """

    def __init__(self, cells: _Cells, n: int) -> None:
        self.cells = cells
        self.n = n
        self.rows = pd.Series(range(2, n + 2), dtype="int64").astype("string")
        self.columns: list[pd.Series] = []
        self.quote = self._sid(quote=True)

    def _sid(self, **style: Any) -> int:
        return self.cells._styled(None, **style).style_id

    def _ref(self, col: int) -> pd.Series:
        return '<c r="' + get_column_letter(col) + self.rows + '"'

    def text(self, values: list[Any], fill: PatternFill | None = None) -> None:
        col = len(self.columns) + 1
        s = pd.Series(clean_series(pd.Series(values, dtype="object")), dtype="string")
        plain = self._sid(fill=fill) if fill is not None else None
        quoted = self._sid(fill=fill, quote=True) if fill is not None else self.quote
        risky = s.str.match(_RISKY_RE, na=False)
        s_attr = pd.Series("" if plain is None else f' s="{plain}"', index=s.index, dtype="string")
        s_attr = s_attr.mask(risky, f' s="{quoted}"')
        space = pd.Series("", index=s.index, dtype="string").mask(s != s.str.strip(), ' xml:space="preserve"')
        ref = self._ref(col)
        cell = ref + s_attr + ' t="inlineStr"><is><t' + space + ">" + _xml_escape(s) + "</t></is></c>"
        empty = "" if plain is None else ref + f' s="{plain}" t="n"></c>'
        self.columns.append(cell.mask(s == "", empty))

    def money(self, pence: list[Any]) -> None:
        col = len(self.columns) + 1
        sid = self._sid(number_format=GBP_FORMAT)
        txt = pd.Series(pounds_series(pd.Series(pd.array(pence, dtype="Int64"))), dtype="string")
        txt = txt.str.replace(r"\.?0+$", "", regex=True).mask(txt == "", "")  # 45.00 -> 45, 0.50 -> 0.5
        txt = txt.mask(txt == "-", "0")
        ref = self._ref(col)
        cell = ref + f' s="{sid}" t="n"><v>' + txt + "</v></c>"
        self.columns.append(cell.mask(txt == "", ref + f' s="{sid}" t="n"></c>'))

    def date(self, values: list[Any]) -> None:
        col = len(self.columns) + 1
        sid = self._sid(number_format=DATE_FORMAT)
        d = pd.to_datetime(pd.Series(values, dtype="object"), errors="coerce")
        serial = (d.dt.normalize() - _EPOCH).dt.days.astype("Int64").astype("string")
        cell = self._ref(col) + f' s="{sid}" t="n"><v>' + serial + "</v></c>"
        self.columns.append(cell.fillna(""))

    def xml(self) -> str:
        if not self.n:
            return ""
        body = self.columns[0].fillna("")
        for c in self.columns[1:]:
            body = body + c.fillna("")
        return "".join(('<row r="' + self.rows + '">' + body + "</row>").tolist())


def _splice_rows(path: Path, member: str, rows_xml: str) -> None:
    """Insert ``rows_xml`` at the end of ``member``'s sheetData inside the saved xlsx ``path``."""
    tmp = path.with_name(path.name + ".splice")
    try:
        with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == member:
                    head, sep, tail = data.partition(b"</sheetData>")
                    if not sep:  # pragma: no cover - openpyxl always writes sheetData
                        raise RuntimeError(f"{member} has no sheetData to add rows to")
                    data = head + rows_xml.encode("utf-8") + sep + tail
                zout.writestr(item, data)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------- sheets
EXCEPTION_COLUMNS = [
    Column("Severity", 10), Column("Rule", 22), Column("Recipient", 12), Column("Period", 9), Column("Date", 11, "date"),
    Column("Amount", 13, "money"), Column("Counterparty", 28), Column("Transaction ref", 18), Column("Plan line", 10),
    Column("Message", 80), Column("Clause", 16), Column("Status", 10), Column("decision", 11), Column("note", 40),
    Column("exception_id", 18, "id", hidden=True),
]
RECOMMENDATION_COLUMNS = [
    Column("Recipient", 12), Column("Period", 9), Column("Action", 9), Column("Amount", 13, "money"), Column("Grounds", 30),
    Column("Clauses", 20), Column("Reasons", 90), Column("Respond by", 12, "date"), Column("Prepared by", 16),
    Column("decision", 11), Column("note", 40), Column("exception_id", 24, "id", hidden=True),
]
RECONCILIATION_COLUMNS = [
    Column("Recipient", 12), Column("Period", 9), Column("Opening balance", 15, "money"),
    Column("Council credits", 15, "money"), Column("Other credits", 14, "money"), Column("Debits", 14, "money"),
    Column("Closing balance", 15, "money"), Column("Evidenced", 14, "money"), Column("Unevidenced", 14, "money"),
    Column("Plan budget to date", 18, "money"), Column("Spend to date", 14, "money"),
    Column("Contingency held", 16, "money"), Column("Contingency %", 13, "pct"),
]
QUARANTINE_COLUMNS = [
    Column("File", 40), Column("Kind", 14), Column("Recipient", 12), Column("Period", 9), Column("Row", 7, "int"),
    Column("Column", 18), Column("Value (masked)", 24), Column("Reason", 80),
]


def _exceptions_sheet(wb: Workbook, findings: pd.DataFrame, decisions: pd.DataFrame | None,
                      fast_rows: bool) -> tuple[Any, _FastRows | None]:
    ws = wb.create_sheet("Exceptions")
    f = sort_findings(findings.copy()) if len(findings) else findings
    n = len(f)
    _setup_table(ws, EXCEPTION_COLUMNS, n)
    c = _Cells(ws)
    ids = [str(v) for v in _col(f, "exception_id")]
    dec, notes = _prefill(ids, _col(f, "status"), decisions)
    if "note" in f.columns:
        notes = [str(o) if o is not None else nt for o, nt in zip(_col(f, "note"), notes)]
    status = [str(s).lower() if s is not None else "open" for s in _col(f, "status")]
    _colour_rules(ws, "A", n, _SEVERITY_COLOURS)
    _decision_validation(ws, "M", n)
    text_before = ("severity", "rule_id", "recipient_id", "period")
    text_after = ("counterparty", "txn_ref", "line_id", "message", "clause")
    if fast_rows:
        fr = _FastRows(c, n)
        for k in text_before:
            fr.text(_col(f, k))
        fr.date(_col(f, "txn_date"))
        fr.money(_col(f, "amount_pence"))
        for k in text_after:
            fr.text(_col(f, k))
        fr.text(status)
        fr.text(dec, fill=_INPUT_FILL)
        fr.text(notes, fill=_INPUT_FILL)
        fr.text(ids)
        _write_columns(ws, EXCEPTION_COLUMNS, [[] for _ in EXCEPTION_COLUMNS])  # header only
        return ws, fr
    data = [c.text_column(_col(f, k)) for k in text_before]
    data.append([c.date(v) for v in _col(f, "txn_date")])
    data.append([c.money(v) for v in _col(f, "amount_pence")])
    data += [c.text_column(_col(f, k)) for k in text_after]
    data.append(c.text_column(status))
    data.append(c.text_column(dec, fill=_INPUT_FILL))
    data.append(c.text_column(notes, fill=_INPUT_FILL))
    data.append(c.text_column(ids))
    _write_columns(ws, EXCEPTION_COLUMNS, data)
    return ws, None


def _recommendations_sheet(wb: Workbook, recs: pd.DataFrame, decisions: pd.DataFrame | None) -> None:
    ws = wb.create_sheet("Recommendations")
    r = recs.copy()
    if len(r):
        r["_o"] = r["action"].astype(str).str.upper().map(_ACTION_ORDER).fillna(9)
        r["_a"] = -pd.array(r["amount_pence"], dtype="Int64").fillna(0).astype("int64")
        r = r.sort_values(["_o", "_a", "period", "recipient_id"], kind="mergesort").reset_index(drop=True)
    n = len(r)
    _setup_table(ws, RECOMMENDATION_COLUMNS, n)
    c = _Cells(ws)
    ids = [recommendation_id(str(p), str(x)) for p, x in zip(_col(r, "period"), _col(r, "recipient_id"))]
    dec, notes = _prefill(ids, _col(r, "status"), decisions)
    data = [c.text_column(_col(r, k)) for k in ("recipient_id", "period", "action")]
    data.append([c.money(v or 0) for v in _col(r, "amount_pence")])
    data += [c.text_column(_col(r, k)) for k in ("grounds", "clauses", "reasons")]
    data.append([c.date(v) for v in _col(r, "respond_by")])
    data.append(c.text_column(_col(r, "prepared_by")))
    data.append(c.text_column(dec, fill=_INPUT_FILL))
    data.append(c.text_column(notes, fill=_INPUT_FILL))
    data.append(c.text_column(ids))
    _colour_rules(ws, "C", n, _ACTION_COLOURS)
    _decision_validation(ws, "J", n)
    _write_columns(ws, RECOMMENDATION_COLUMNS, data)


def _reconciliation_sheet(wb: Workbook, rec: pd.DataFrame) -> None:
    ws = wb.create_sheet("Reconciliation")
    r = rec.sort_values(["recipient_id", "period"], kind="mergesort").reset_index(drop=True) if len(rec) else rec
    _setup_table(ws, RECONCILIATION_COLUMNS, len(r))
    c = _Cells(ws)
    keys = ["opening_balance", "council_credits", "other_credits", "debits", "closing_balance", "evidenced",
            "unevidenced", "plan_budget_to_date", "spend_to_date", "contingency_held"]
    data = [c.text_column(_col(r, "recipient_id")), c.text_column(_col(r, "period"))]
    data += [[c.money(v) for v in _col(r, f"{k}_pence")] for k in keys]
    data.append([c.number(v, PCT_FORMAT) for v in _col(r, "contingency_pct")])
    _write_columns(ws, RECONCILIATION_COLUMNS, data)


def _quarantine_sheet(wb: Workbook, q: pd.DataFrame) -> None:
    ws = wb.create_sheet("Data quality")
    sort_cols = [k for k in ("path", "row_no", "column_name") if k in q.columns]
    r = q.sort_values(sort_cols, kind="mergesort").reset_index(drop=True) if len(q) and sort_cols else q
    _setup_table(ws, QUARANTINE_COLUMNS, len(r))
    c = _Cells(ws)
    data = [c.text_column(_col(r, k)) for k in ("path", "kind", "recipient_id", "period")]
    data.append([None if v is None else int(v) for v in _col(r, "row_no")])
    data += [c.text_column(_col(r, k)) for k in ("column_name", "value_masked", "reason")]
    _write_columns(ws, QUARANTINE_COLUMNS, data)


def _summary_sheet(wb: Workbook, *, period: str, run_time: datetime, policy_version: str, findings: pd.DataFrame,
                   recommendations: pd.DataFrame, quarantine: pd.DataFrame, overflow: list[str] = ()) -> None:
    ws = wb.create_sheet("Summary")
    fig = summary_figures(findings, recommendations, quarantine)
    c = _Cells(ws)
    for letter, width in zip("ABCDEFGH", (34, 20, 18, 16, 12, 12, 16, 4)):
        ws.column_dimensions[letter].width = width
    rows: list[list[Any]] = []

    def add(*values: Any) -> int:
        rows.append(list(values))
        return len(rows)

    add(c.text("dpaudit exceptions workbook", font=_TITLE_FONT))
    add(c.text("Period", font=_BOLD), c.text(period))
    add(c.text("Run time", font=_BOLD), c.date(run_time, DATETIME_FORMAT))
    add(c.text("Policy version", font=_BOLD), c.text(policy_version))
    add(c.text("Findings", font=_BOLD), fig.n_findings)
    add(c.text("Open findings (no decision yet)", font=_BOLD), fig.n_open)
    add(c.text("Recipients with findings", font=_BOLD), fig.n_recipients_with_findings)
    add(c.text("Money at stake (not dismissed)", font=_BOLD), c.money(fig.money_at_stake_pence, font=_BOLD))
    add(c.text("Quarantined rows or files", font=_BOLD), fig.n_quarantined)
    for note in overflow:
        add(c.text("Not all rows fit", font=_BOLD), c.text(note))
    add()
    add(c.text("Findings by status", font=_SECTION_FONT))
    add(c.header("Status"), c.header("Findings"))
    for row in fig.by_status.itertuples(index=False):
        add(c.text(row.status), int(row.findings))
    add()
    add(c.text("Recipients by recommended action", font=_SECTION_FONT))
    add(c.header("Action"), c.header("Recipients"), c.header("Amount to recover"))
    for row in fig.by_action.itertuples(index=False):
        add(c.text(row.action), int(row.recipients), c.money(row.amount_pence))
    add()
    add(c.text("Findings by rule and severity", font=_SECTION_FONT))
    rule_header = add(c.header("Rule"), c.header("High"), c.header("Medium"), c.header("Low"), c.header("Info"),
                      c.header("Total"), c.header("Money at stake"))
    for row in fig.by_rule.itertuples(index=False):
        add(c.text(row.rule_id), int(row.high), int(row.medium), int(row.low), int(row.info), int(row.total),
            c.money(row.money_at_stake_pence))
    rule_last = len(rows)
    add()
    add(c.text(f"Money at stake by recipient (top {TOP_RECIPIENTS})", font=_SECTION_FONT))
    rcp_header = add(c.header("Recipient"), c.header("Findings"), c.header("Money at stake"))
    for row in fig.by_recipient.head(TOP_RECIPIENTS).itertuples(index=False):
        add(c.text(row.recipient_id), int(row.findings), c.money(row.money_at_stake_pence))
    rcp_last = len(rows)

    if rule_last > rule_header:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Findings by rule"
        chart.y_axis.title = "Findings"
        chart.add_data(Reference(ws, min_col=6, min_row=rule_header, max_row=rule_last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=rule_header + 1, max_row=rule_last))
        chart.legend = None
        chart.height = max(7.5, 0.6 * (rule_last - rule_header) + 3)
        chart.width = 18
        ws.add_chart(chart, "I2")
    if rcp_last > rcp_header:
        chart2 = BarChart()
        chart2.type = "col"
        chart2.title = f"Money at stake by recipient (top {TOP_RECIPIENTS})"
        chart2.y_axis.title = "£"
        chart2.y_axis.number_format = GBP_FORMAT
        chart2.add_data(Reference(ws, min_col=3, min_row=rcp_header, max_row=rcp_last), titles_from_data=True)
        chart2.set_categories(Reference(ws, min_col=1, min_row=rcp_header + 1, max_row=rcp_last))
        chart2.legend = None
        chart2.height = 9
        chart2.width = 18
        ws.add_chart(chart2, "I24")
    for r in rows:
        ws.append(r)


EXCEL_MAX_ROWS = 1_048_576  # rows a worksheet can hold (the format's limit, not a policy)


def _fit_sheet(frame: pd.DataFrame, sheet: str, where: str) -> tuple[pd.DataFrame, str | None]:
    """The rows that fit one sheet (with its header), and what to tell the reader when some do not."""
    room = EXCEL_MAX_ROWS - 1
    if len(frame) <= room:
        return frame, None
    return frame.iloc[:room], (f"The {sheet} sheet shows the first {room:,} of {len(frame):,} rows (a sheet holds "
                               f"{EXCEL_MAX_ROWS:,}); every row is in {where}.")


def write_workbook(path: Path | str, *, period: str, run_time: datetime, policy_version: str, findings: pd.DataFrame,
                   recommendations: pd.DataFrame, reconciliation: pd.DataFrame, quarantine: pd.DataFrame,
                   decisions: pd.DataFrame | None = None, fast_rows: bool = True) -> Path:
    """Write ``exceptions.xlsx``.

    ``findings`` has the columns of ``findings.FINDING_COLUMNS`` plus ``status``; ``decisions``
    (optional, as ``decisions.current_status``) pre-fills each row's previous decision and note.
    The file is written beside ``path`` and renamed into place, so a reader never sees half a file.
    ``fast_rows=False`` writes the Exceptions rows cell by cell through openpyxl instead of the
    vectorised writer (same sheet, several times slower; kept so tests can compare the two).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    wb.properties.creator = "dpaudit"
    wb.properties.title = f"dpaudit exceptions {period}"
    created = run_time.replace(tzinfo=None) if isinstance(run_time, datetime) else None
    wb.properties.created = created
    # most important first (severity, money at stake), so what does not fit a sheet matters least
    shown_findings, over_f = _fit_sheet(sort_findings(findings.copy()) if len(findings) else findings, "Exceptions",
                                        "exceptions.csv")
    q_sorted = quarantine
    sort_cols = [k for k in ("path", "row_no", "column_name") if k in quarantine.columns]
    if len(quarantine) and sort_cols:
        q_sorted = quarantine.sort_values(sort_cols, kind="mergesort").reset_index(drop=True)
    shown_q, over_q = _fit_sheet(q_sorted, "Data quality", "exceptions.csv (rule DQ-ROW-REJECTED)")
    _summary_sheet(wb, period=period, run_time=run_time, policy_version=policy_version, findings=findings,
                   recommendations=recommendations, quarantine=quarantine,
                   overflow=[n for n in (over_f, over_q) if n])
    ex_ws, fast = _exceptions_sheet(wb, shown_findings, decisions, fast_rows)
    _recommendations_sheet(wb, recommendations, decisions)
    _reconciliation_sheet(wb, reconciliation)
    _quarantine_sheet(wb, shown_q)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        wb.save(tmp)
        if fast is not None and fast.n:
            _splice_rows(tmp, ex_ws.path.lstrip("/"), fast.xml())
        tmp.replace(p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
