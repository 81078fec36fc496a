"""The officers' exception workbook (``exceptions.xlsx``), written with openpyxl in write-only mode.

Sheets (contract §3): Summary (figures and two native bar charts labelled with the rules'
titles), Exceptions (one row per finding, grouped by recipient, with the child's name and the
support officer, the source file and row of the transaction, frozen header and key columns,
filter, £ format, real dates, severity colours, a ``decision`` drop-down and a ``note`` column,
hidden ``exception_id`` and transaction hash), Recommendations (also ``decision``/``note`` and a
hidden id ``REC-<period>-<recipient_id>``), Reconciliation, Data quality and How to use (what each
sheet is for, how to record a decision, a plain-English glossary of every rule read from the rule
catalogue).  Exceptions, Recommendations and Reconciliation end with a totals row (below a blank
row, outside the filter, no formula).

Printable without setting anything up: every sheet is A4 landscape, fitted to one page wide (as
many pages tall as needed), its header row repeated on each page, the sheet and period in the page
header and "page N of M" in the footer; long text (message, reasons, file names) wraps in columns
of a set width; the Summary's charts start on a page of their own.

Safe to open: every cell built from outside text that begins with ``= + - @``, tab, CR or LF is
stored as a text cell with the quote-prefix style, so it can never become a formula, not even
after an officer saves and reopens it; control characters XML cannot hold are replaced; the
workbook has no external links or macros, and no defined names but the print titles.  Write-only
mode streams rows to disk so a month of 30,000 findings writes in seconds
(``scripts/bench_workbook.py``).
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
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.pagebreak import Break

from dpaudit.audit.findings import COUNCIL, sort_findings
from dpaudit.core.mask import mask_text
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
HOW_TO_USE_MAX_PAGES = 3  # printed pages of the How to use sheet (scaled down to fit when the catalogue grows)
SHEETS = ("Summary", "Exceptions", "Recommendations", "Reconciliation", "Data quality", "How to use")
TOP_RECIPIENTS = 20
COUNCIL_NAME = "All accounts (council-wide check)"  # the Name of a finding about no one family
# under the key figures, in lines short enough to print within the sheet's width
AT_STAKE_NOTE = ("Money at stake counts each payment once, however many rules flag it.",
                 "The money to recover counts only misused spend, payments still without evidence",
                 "after their grace period, and funds held above the limit, so it is usually smaller.")
TOTALS_ROWS = 2  # a blank row, then the totals row, below a table's data rows

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_HEADER_ALIGN = Alignment(vertical="center", wrap_text=True)
_TITLE_FONT = Font(bold=True, size=14, color="1F4E78")
_SECTION_FONT = Font(bold=True, size=12, color="1F4E78")  # one heading style: the title's colour, a size down
_BOLD = Font(bold=True)
_ITALIC = Font(italic=True, color="404040")
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")
_TOTAL_FILL = PatternFill("solid", fgColor="D9E1F2")
_GROUP_BORDER = Border(top=Side(style="thin", color="1F4E78"))  # a line above each recipient's first row
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # the cells an officer fills in
_SEVERITY_COLOURS = {  # (fill, font) per severity: red, amber, blue, grey
    "high": ("FFC7CE", "9C0006"), "medium": ("FFEB9C", "9C5700"),
    "low": ("DDEBF7", "1F4E78"), "info": ("EDEDED", "404040"),
}
_ACTION_COLOURS = {"STOP": ("FFC7CE", "9C0006"), "REPAY": ("FFEB9C", "9C5700"), "REVIEW": ("DDEBF7", "1F4E78")}
_ACTION_ORDER = {"STOP": 0, "REPAY": 1, "REVIEW": 2, "NONE": 3}
_RATING_COLOURS = {"red": ("FFC7CE", "9C0006"), "amber": ("FFEB9C", "9C5700"), "green": ("C6EFCE", "006100")}
_RATING_FILLS = {k: (PatternFill("solid", fgColor=fill), Font(color=font)) for k, (fill, font) in _RATING_COLOURS.items()}


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
    wrap: bool = False      # long text: wrapped in the column's width (rows grow), else one line

    @property
    def align(self) -> Alignment:
        return _WRAP if self.wrap else _TOP


LINE_HEIGHT = 15.0      # points per line of 11-point text
CHARS_PER_WIDTH = 1.15  # characters of ordinary text per unit of column width (a unit is one "0")


def _line_counts(values: list[Any], width: float) -> pd.Series:
    """How many lines each text takes when wrapped in a column ``width`` wide (an estimate that errs
    long: word wrapping wastes part of a line)."""
    t = pd.Series(values, dtype="object").astype("string").fillna("")
    per_line = max(int(width * CHARS_PER_WIDTH), 1)
    parts = t.str.split("\n")
    return parts.map(lambda ps: sum(len(p) // per_line + 1 for p in ps)).astype("int64")


def row_heights(columns: list[Column], values: dict[str, list[Any]], n: int) -> list[float | None]:
    """An explicit height per row for rows whose wrapped text needs more than one line (None: the
    default height).  Spreadsheet programs do not all grow rows to fit wrapped text when they open a
    file (LibreOffice keeps the default height), so the printed rows would overlap without it."""
    lines = pd.Series(1, index=range(n), dtype="int64")
    for col in columns:
        if col.wrap and not col.hidden and col.header in values and n:
            lines = lines.combine(_line_counts(values[col.header], col.width).set_axis(range(n)), max)
    return [None if k <= 1 else float(k) * LINE_HEIGHT for k in lines.tolist()]


def _set_heights(ws: Any, heights: list[float | None], first_row: int = 2) -> None:
    for i, h in enumerate(heights, start=first_row):
        if h:
            ws.row_dimensions[i].height = h


def _header_height(ws: Any, columns: list[Column]) -> None:
    """The header row tall enough for headings that wrap in narrow columns."""
    k = max((int(_line_counts([c.header], c.width).iloc[0]) for c in columns if not c.hidden), default=1)
    if k > 1:
        ws.row_dimensions[1].height = k * LINE_HEIGHT


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
                fill: PatternFill | None = None, quote: bool = False, alignment: Alignment | None = None) -> Any:
        key = (number_format, id(font), id(fill), quote, id(alignment))  # ids: hashing style objects is slow
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
            if alignment is not None:
                t.alignment = alignment
            tmpl = self._templates[key] = t._style
        c = WriteOnlyCell(self.ws, value=value)
        c._style = copy(tmpl)
        return c

    def text(self, value: object, *, font: Font | None = None, fill: PatternFill | None = None,
             alignment: Alignment | None = None) -> Any:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            value = ""
        return self.clean_text_cell(clean_text(value), font=font, fill=fill, alignment=alignment)

    def clean_text_cell(self, s: str, *, font: Font | None = None, fill: PatternFill | None = None,
                        alignment: Alignment | None = None) -> Any:
        """A cell for text already passed through :func:`clean_text`."""
        plain = font is None and fill is None and alignment is None
        if not s:  # empty: no value at all (an empty inline string is not valid SpreadsheetML)
            return None if plain else self._styled(None, font=font, fill=fill, alignment=alignment)
        risky = s.startswith(FORMULA_LEADS)
        if not risky and plain:
            return s
        if not risky:
            return self._styled(s, font=font, fill=fill, alignment=alignment)
        c = self._styled(None, font=font, fill=fill, quote=True, alignment=alignment)  # quote prefix: stays text
        c._value = s
        c.data_type = "s"  # text, never a formula
        return c

    def text_column(self, values: list[Any], *, fill: PatternFill | None = None,
                    alignment: Alignment | None = None) -> list[Any]:
        """A whole column of outside text, cleaned in one vectorised pass."""
        cleaned = clean_series(pd.Series(values, dtype="object"))
        return [self.clean_text_cell(s, fill=fill, alignment=alignment) for s in cleaned]

    def money(self, pence: object, *, font: Font | None = None, fill: PatternFill | None = None,
              alignment: Alignment | None = None) -> Any:
        v = None if pence is None or pd.isna(pence) else Decimal(int(pence)).scaleb(-2)
        return self._styled(v, number_format=GBP_FORMAT, font=font, fill=fill, alignment=alignment)

    def date(self, value: object, fmt: str = DATE_FORMAT, *, alignment: Alignment | None = None) -> Any:
        if value is None or (not isinstance(value, (date, datetime)) and pd.isna(value)):
            return None
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, datetime) and fmt == DATE_FORMAT:
            value = value.date()
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return self._styled(value, number_format=fmt, alignment=alignment)

    def number(self, value: object, fmt: str | None = None, *, alignment: Alignment | None = None,
               font: Font | None = None, fill: PatternFill | None = None) -> Any:
        if value is None or (not isinstance(value, (int, Decimal)) and pd.isna(value)):
            return None
        v = value if isinstance(value, (int, Decimal)) else Decimal(str(value))
        if fmt is None and alignment is None and font is None and fill is None:
            return v
        return self._styled(v, number_format=fmt, alignment=alignment, font=font, fill=fill)

    def header(self, text: str) -> Any:
        c = WriteOnlyCell(self.ws, value=clean_text(text))
        c.font = _HEADER_FONT
        c.fill = _HEADER_FILL
        c.alignment = _HEADER_ALIGN
        return c

    def total(self, value: object = None, *, money: bool = False) -> Any:
        """A cell of a totals row (bold on the totals fill); money in £."""
        if money:
            return self.money(value, font=_BOLD, fill=_TOTAL_FILL)
        if isinstance(value, int):
            return self.number(value, font=_BOLD, fill=_TOTAL_FILL)
        return self.text(value, font=_BOLD, fill=_TOTAL_FILL)

    def input(self, value: object) -> Any:
        return self.text(value, fill=_INPUT_FILL)


def clean_series(values: pd.Series) -> list[str]:
    """Vectorised :func:`clean_text` (blank for missing)."""
    t = values.astype("string").fillna("")
    t = t.str.replace(_XML_ILLEGAL_RE.pattern, "\ufffd", regex=True).str.slice(0, EXCEL_MAX_TEXT)
    return t.astype(object).tolist()


def _page_setup(ws: Any, period: str, *, title_rows: str | None = "1:1") -> None:
    """A4 landscape, one page wide and as many tall as needed, the header row on every page, the
    sheet and period at the top of each page and "page N of M" at the foot, grid lines printed."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.page_margins.header = ws.page_margins.footer = 0.25
    ws.print_options.gridLines = title_rows is not None
    ws.oddHeader.left.text = "&A"  # the sheet's name
    ws.oddHeader.right.text = clean_text(f"dpaudit, period {period}")
    ws.oddFooter.center.text = "Page &P of &N"
    if title_rows:
        ws.print_title_rows = title_rows


def _setup_table(ws: Any, columns: list[Column], n_rows: int, *, period: str = "", freeze: str = "A2") -> None:
    """Widths, hidden columns, frozen header (and key columns), autofilter and page setup (set
    before the first row is written)."""
    for i, col in enumerate(columns, start=1):
        dim = ws.column_dimensions[get_column_letter(i)]
        dim.width = col.width
        if col.hidden:
            dim.hidden = True
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(n_rows, 0) + 1}"
    _page_setup(ws, period)
    _header_height(ws, columns)


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


def _totals_row(cells: _Cells, columns: list[Column], values: dict[str, Any]) -> list[Any]:
    """A totals row: ``values`` by column header (money columns in pence), the rest blank on the fill."""
    row = []
    for col in columns:
        v = values.get(col.header)
        row.append(cells.total(v, money=col.kind == "money" and v is not None and not isinstance(v, str)))
    return row


def _group_lines(ws: Any, n_rows: int, n_cols: int) -> None:
    """A line above the first row of each recipient (column A holds the recipient id)."""
    if n_rows > 1:
        ws.conditional_formatting.add(f"A3:{get_column_letter(n_cols)}{n_rows + 1}", FormulaRule(
            formula=["$A3<>$A2"], border=_GROUP_BORDER))


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

    def __init__(self, cells: _Cells, n: int, heights: list[float | None] | None = None) -> None:
        self.cells = cells
        self.n = n
        self.rows = pd.Series(range(2, n + 2), dtype="int64").astype("string")
        hs = pd.Series(heights if heights is not None else [None] * n, dtype="object")
        self.row_attrs = pd.Series(["" if h is None else f' customHeight="1" ht="{h:.16g}"' for h in hs],
                                   dtype="string")
        self.columns: list[pd.Series] = []
        self.quote = self._sid(quote=True)

    def _sid(self, **style: Any) -> int:
        return self.cells._styled(None, **style).style_id

    def _ref(self, col: int) -> pd.Series:
        return '<c r="' + get_column_letter(col) + self.rows + '"'

    def text(self, values: list[Any], fill: PatternFill | None = None, alignment: Alignment | None = None) -> None:
        col = len(self.columns) + 1
        s = pd.Series(clean_series(pd.Series(values, dtype="object")), dtype="string")
        styled = fill is not None or alignment is not None
        plain = self._sid(fill=fill, alignment=alignment) if styled else None
        quoted = self._sid(fill=fill, quote=True, alignment=alignment) if styled else self.quote
        risky = s.str.match(_RISKY_RE, na=False)
        s_attr = pd.Series("" if plain is None else f' s="{plain}"', index=s.index, dtype="string")
        s_attr = s_attr.mask(risky, f' s="{quoted}"')
        space = pd.Series("", index=s.index, dtype="string").mask(s != s.str.strip(), ' xml:space="preserve"')
        ref = self._ref(col)
        cell = ref + s_attr + ' t="inlineStr"><is><t' + space + ">" + _xml_escape(s) + "</t></is></c>"
        empty = "" if plain is None else ref + f' s="{plain}" t="n"></c>'
        self.columns.append(cell.mask(s == "", empty))

    def money(self, pence: list[Any], alignment: Alignment | None = None) -> None:
        col = len(self.columns) + 1
        sid = self._sid(number_format=GBP_FORMAT, alignment=alignment)
        txt = pd.Series(pounds_series(pd.Series(pd.array(pence, dtype="Int64"))), dtype="string")
        txt = txt.str.replace(r"\.?0+$", "", regex=True).mask(txt == "", "")  # 45.00 -> 45, 0.50 -> 0.5
        txt = txt.mask(txt == "-", "0")
        ref = self._ref(col)
        cell = ref + f' s="{sid}" t="n"><v>' + txt + "</v></c>"
        self.columns.append(cell.mask(txt == "", ref + f' s="{sid}" t="n"></c>'))

    def date(self, values: list[Any], alignment: Alignment | None = None) -> None:
        col = len(self.columns) + 1
        sid = self._sid(number_format=DATE_FORMAT, alignment=alignment)
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
        return "".join(('<row r="' + self.rows + '"' + self.row_attrs + ">" + body + "</row>").tolist())


def _shift_rows(xml: bytes, by: int) -> bytes:
    """Rows (and their cells' references) moved ``by`` rows down."""
    xml = re.sub(rb'<row r="(\d+)"', lambda m: b'<row r="%d"' % (int(m.group(1)) + by), xml)
    return re.sub(rb'<c r="([A-Z]+)(\d+)"', lambda m: b'<c r="%s%d"' % (m.group(1), int(m.group(2)) + by), xml)


def _splice_rows(path: Path, member: str, rows_xml: str, n_rows: int = 0) -> None:
    """Insert ``rows_xml`` (``n_rows`` rows) after the header row of ``member``'s sheetData inside the
    saved xlsx ``path``; the rows openpyxl wrote after the header (the totals) move down to follow them."""
    tmp = path.with_name(path.name + ".splice")
    try:
        with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == member:
                    head, sep, tail = data.partition(b"</sheetData>")
                    if not sep:  # pragma: no cover - openpyxl always writes sheetData
                        raise RuntimeError(f"{member} has no sheetData to add rows to")
                    header, end, after = head.partition(b"</row>")
                    if not end:  # pragma: no cover - the header row is always written
                        raise RuntimeError(f"{member} has no header row to add rows after")
                    data = header + end + rows_xml.encode("utf-8") + _shift_rows(after, n_rows) + sep + tail
                zout.writestr(item, data)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------- sheets
EXCEPTION_COLUMNS = [
    Column("Recipient", 10), Column("Name", 15, wrap=True), Column("Rule", 19), Column("Severity", 9),
    Column("Date", 10.5, "date"), Column("Amount", 11, "money"), Column("Counterparty", 18, wrap=True),
    Column("Message", 52, wrap=True), Column("Support officer", 12, wrap=True), Column("Clause", 13, wrap=True),
    Column("Plan line", 9, wrap=True), Column("Status", 9), Column("decision", 10), Column("note", 22, wrap=True),
    Column("exception_id", 18, "id", hidden=True), Column("Source (file, row)", 26, wrap=True),
    Column("Period", 8), Column("Transaction ref", 18, hidden=True),
]
EXCEPTION_FREEZE = "D2"  # the header row and Recipient, Name, Rule stay in view
RECOMMENDATION_COLUMNS = [
    Column("Recipient", 10), Column("Name", 15, wrap=True), Column("Action", 9), Column("Amount", 11, "money"),
    Column("Reasons", 62, wrap=True), Column("Grounds", 18, wrap=True), Column("Clauses", 14, wrap=True),
    Column("Respond by", 11, "date"), Column("Support officer", 12, wrap=True), Column("decision", 10),
    Column("note", 22, wrap=True), Column("exception_id", 24, "id", hidden=True), Column("Prepared by", 13, wrap=True),
    Column("Period", 8),
]
RECOMMENDATION_FREEZE = "D2"  # Recipient, Name, Action
# after the columns above when the recommendations carry their risk rating (decide.risk)
RISK_RECOMMENDATION_COLUMNS = [
    Column("Risk", 8), Column("Risk score", 7, "int"), Column("Risk reasons", 48, wrap=True),
    Column("Next review", 11, "date"),
]
RISK_EXCEPTION_COLUMN = Column("Risk", 8)  # the recipient's rating, after the Exceptions columns
RECONCILIATION_COLUMNS = [
    Column("Recipient", 10), Column("Name", 15, wrap=True), Column("Opening balance", 11, "money"),
    Column("Council credits", 11, "money"), Column("Other credits", 11, "money"), Column("Debits", 11, "money"),
    Column("Closing balance", 11, "money"), Column("Evidenced", 11, "money"), Column("Unevidenced", 11, "money"),
    Column("Plan budget to date", 11, "money"), Column("Spend to date", 11, "money"),
    Column("Contingency held", 11, "money"), Column("Contingency %", 11, "pct"), Column("Period", 8),
]
RECONCILIATION_FREEZE = "C2"  # Recipient, Name
QUARANTINE_COLUMNS = [
    Column("File", 36, wrap=True), Column("Kind", 11), Column("Recipient", 10), Column("Period", 8), Column("Row", 6, "int"),
    Column("Column", 16, wrap=True), Column("Value (masked)", 22, wrap=True), Column("Reason", 64, wrap=True),
]
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


def _by_recipient(f: pd.DataFrame) -> pd.DataFrame:
    """Findings grouped by recipient (in id order), each recipient's most serious and largest first."""
    if not len(f):
        return f
    g = f.assign(_s=f["severity"].astype(str).str.lower().map(_SEVERITY_ORDER).fillna(9),
                 _a=-pd.array(f["amount_pence"], dtype="Int64").fillna(0).astype("int64"),
                 _r=f["recipient_id"].astype(str), _d=pd.to_datetime(f["txn_date"], errors="coerce"))
    keys = ["_r", "_s", "_a", "_d", "rule_id", "exception_id"]
    return g.sort_values(keys, kind="mergesort", na_position="last").drop(columns=["_s", "_a", "_r", "_d"]).reset_index(drop=True)


def _people(frame: pd.DataFrame, people: pd.DataFrame | None) -> tuple[list[Any], list[Any]]:
    """Child's name and support officer per row of ``frame`` (blank where the recipient is unknown)."""
    if people is None or not len(people) or not len(frame):
        return [None] * len(frame), [None] * len(frame)
    p = people.drop_duplicates("recipient_id").set_index(people.drop_duplicates("recipient_id")["recipient_id"].astype(str))
    rid = frame["recipient_id"].astype(str)
    names = rid.map(p["child_name"]) if "child_name" in p.columns else pd.Series([None] * len(frame))
    officers = rid.map(p["support_officer"]) if "support_officer" in p.columns else pd.Series([None] * len(frame))
    return _col(pd.DataFrame({"n": names.values}), "n"), _col(pd.DataFrame({"n": officers.values}), "n")


def _sources(frame: pd.DataFrame, sources: pd.DataFrame | None) -> list[Any]:
    """Where each finding's transaction came from (``sources``: txn_ref -> source text)."""
    if sources is None or not len(sources) or not len(frame) or "txn_ref" not in frame.columns:
        return [None] * len(frame)
    m = dict(zip(sources["txn_ref"].astype(str), sources["source"]))
    return [m.get(str(v)) if v is not None and not pd.isna(v) else None for v in frame["txn_ref"].tolist()]


def _exceptions_sheet(wb: Workbook, findings: pd.DataFrame, decisions: pd.DataFrame | None, fast_rows: bool, *,
                      period: str, money_at_stake_pence: int, people: pd.DataFrame | None = None,
                      sources: pd.DataFrame | None = None,
                      ratings: dict[str, str] | None = None) -> tuple[Any, _FastRows | None]:
    ws = wb.create_sheet("Exceptions")
    f = _by_recipient(findings.copy())
    n = len(f)
    columns = EXCEPTION_COLUMNS + ([RISK_EXCEPTION_COLUMN] if ratings is not None else [])
    _setup_table(ws, columns, n, period=period, freeze=EXCEPTION_FREEZE)
    c = _Cells(ws)
    ids = [str(v) for v in _col(f, "exception_id")]
    dec, notes = _prefill(ids, _col(f, "status"), decisions)
    if "note" in f.columns:
        notes = [str(o) if o is not None else nt for o, nt in zip(_col(f, "note"), notes)]
    status = [str(s).lower() if s is not None else "open" for s in _col(f, "status")]
    names, officers = _people(f, people)
    values: dict[str, list[Any]] = {
        "Recipient": _col(f, "recipient_id"), "Name": names, "Rule": _col(f, "rule_id"), "Severity": _col(f, "severity"),
        "Date": _col(f, "txn_date"), "Amount": _col(f, "amount_pence"), "Counterparty": _col(f, "counterparty"),
        "Message": _col(f, "message"), "Support officer": officers, "Clause": _col(f, "clause"),
        "Plan line": _col(f, "line_id"), "Status": status, "decision": dec, "note": notes, "exception_id": ids,
        "Source (file, row)": _sources(f, sources), "Period": _col(f, "period"), "Transaction ref": _col(f, "txn_ref"),
    }
    if ratings is not None:
        values["Risk"] = [ratings.get(str(r)) for r in _col(f, "recipient_id")]
        _colour_rules(ws, _letter(columns, "Risk"), n, _RATING_COLOURS)
    _colour_rules(ws, _letter(columns, "Severity"), n, _SEVERITY_COLOURS)
    _group_lines(ws, n, len(columns))
    _decision_validation(ws, _letter(columns, "decision"), n)
    totals = _totals_row(c, columns, {"Recipient": "Total", "Name": f"{n:,} findings",
                                      "Amount": money_at_stake_pence,
                                      "Message": "Money at stake (not dismissed), as on the Summary sheet"})
    heights = row_heights(columns, values, n)
    if fast_rows:
        fr = _FastRows(c, n, heights)
        for col in columns:
            fill = _INPUT_FILL if col.header in ("decision", "note") else None
            if col.kind == "date":
                fr.date(values[col.header], alignment=col.align)
            elif col.kind == "money":
                fr.money(values[col.header], alignment=col.align)
            else:
                fr.text(values[col.header], fill=fill, alignment=col.align)
        _write_columns(ws, columns, [[] for _ in columns])  # header only; rows spliced in
        ws.append([])
        ws.append(totals)
        return ws, fr
    _set_heights(ws, heights)
    data = []
    for col in columns:
        fill = _INPUT_FILL if col.header in ("decision", "note") else None
        if col.kind == "date":
            data.append([c.date(v, alignment=col.align) for v in values[col.header]])
        elif col.kind == "money":
            data.append([c.money(v, alignment=col.align) for v in values[col.header]])
        else:
            data.append(c.text_column(values[col.header], fill=fill, alignment=col.align))
    _write_columns(ws, columns, data)
    ws.append([])
    ws.append(totals)
    return ws, None


def _letter(columns: list[Column], header: str) -> str:
    return get_column_letter(next(i for i, c in enumerate(columns, start=1) if c.header == header))


def _recommendations_sheet(wb: Workbook, recs: pd.DataFrame, decisions: pd.DataFrame | None, *, period: str,
                           people: pd.DataFrame | None = None) -> None:
    ws = wb.create_sheet("Recommendations")
    r = recs.copy()
    if len(r):
        r["_o"] = r["action"].astype(str).str.upper().map(_ACTION_ORDER).fillna(9)
        r["_a"] = -pd.array(r["amount_pence"], dtype="Int64").fillna(0).astype("int64")
        r = r.sort_values(["_o", "_a", "period", "recipient_id"], kind="mergesort").reset_index(drop=True)
    n = len(r)
    rated = "risk_rating" in r.columns
    columns = RECOMMENDATION_COLUMNS + (RISK_RECOMMENDATION_COLUMNS if rated else [])
    _setup_table(ws, columns, n, period=period, freeze=RECOMMENDATION_FREEZE)
    c = _Cells(ws)
    ids = [recommendation_id(str(p), str(x)) for p, x in zip(_col(r, "period"), _col(r, "recipient_id"))]
    dec, notes = _prefill(ids, _col(r, "status"), decisions)
    names, officers = _people(r, people)
    values = {"Recipient": _col(r, "recipient_id"), "Name": names, "Action": _col(r, "action"),
              "Reasons": _col(r, "reasons"), "Grounds": [None if g is None else str(g).replace(";", "; ")
                                                          for g in _col(r, "grounds")],
              "Clauses": _col(r, "clauses"), "Support officer": officers, "decision": dec, "note": notes,
              "exception_id": ids, "Prepared by": _col(r, "prepared_by"), "Period": _col(r, "period"),
              "Risk": _col(r, "risk_rating"), "Risk reasons": _col(r, "risk_reasons")}
    data = []
    for col in columns:
        if col.header == "Amount":
            data.append([c.money(v or 0, alignment=col.align) for v in _col(r, "amount_pence")])
        elif col.header == "Respond by":
            data.append([c.date(v, alignment=col.align) for v in _col(r, "respond_by")])
        elif col.header == "Next review":
            data.append([c.date(v, alignment=col.align) for v in _col(r, "next_review")])
        elif col.header == "Risk score":
            data.append([c.number(None if v is None else int(v), alignment=col.align) for v in _col(r, "risk_score")])
        elif col.header == "Risk":  # the rating's own colour, whatever program opens the file
            data.append([c.text(v, fill=_RATING_FILLS[str(v)][0], font=_RATING_FILLS[str(v)][1], alignment=col.align)
                         if str(v) in _RATING_FILLS else c.text(v, alignment=col.align) for v in values["Risk"]])
        else:
            fill = _INPUT_FILL if col.header in ("decision", "note") else None
            data.append(c.text_column(values[col.header], fill=fill, alignment=col.align))
    _set_heights(ws, row_heights(columns, values, n))
    _colour_rules(ws, _letter(columns, "Action"), n, _ACTION_COLOURS)
    _decision_validation(ws, _letter(columns, "decision"), n)
    _write_columns(ws, columns, data)
    actions = r["action"].astype(str).str.upper() if n else pd.Series([], dtype=str)
    to_recover = int(pd.array(r["amount_pence"], dtype="Int64").fillna(0).sum()) if n else 0
    counts = ", ".join(f"{a} {int((actions == a).sum())}" for a in _ACTION_ORDER if (actions == a).any()) or "none"
    ws.append([])
    totals = {"Recipient": "Total", "Name": f"{n:,} recipients", "Action": counts, "Amount": to_recover,
              "Reasons": "money to recover (REPAY, and STOP with money to recover)"}
    if rated:
        ratings = r["risk_rating"].astype("string").str.lower() if n else pd.Series([], dtype="string")
        totals["Risk reasons"] = ", ".join(f"{k} {int((ratings == k).sum())}" for k in _RATING_COLOURS)
    ws.append(_totals_row(c, columns, totals))


def _reconciliation_sheet(wb: Workbook, rec: pd.DataFrame, *, period: str, people: pd.DataFrame | None = None) -> None:
    ws = wb.create_sheet("Reconciliation")
    r = rec.sort_values(["recipient_id", "period"], kind="mergesort").reset_index(drop=True) if len(rec) else rec
    n = len(r)
    _setup_table(ws, RECONCILIATION_COLUMNS, n, period=period, freeze=RECONCILIATION_FREEZE)
    c = _Cells(ws)
    keys = ["opening_balance", "council_credits", "other_credits", "debits", "closing_balance", "evidenced",
            "unevidenced", "plan_budget_to_date", "spend_to_date", "contingency_held"]
    names, _ = _people(r, people)
    _set_heights(ws, row_heights(RECONCILIATION_COLUMNS, {"Name": names}, n))
    data = [c.text_column(_col(r, "recipient_id"), alignment=_TOP), c.text_column(names, alignment=_WRAP)]
    data += [[c.money(v, alignment=_TOP) for v in _col(r, f"{k}_pence")] for k in keys]
    data.append([c.number(v, PCT_FORMAT, alignment=_TOP) for v in _col(r, "contingency_pct")])
    data.append(c.text_column(_col(r, "period"), alignment=_TOP))
    _write_columns(ws, RECONCILIATION_COLUMNS, data)
    sums = {}
    for k, col in zip(keys, RECONCILIATION_COLUMNS[2:12]):
        v = pd.array(r[f"{k}_pence"], dtype="Int64") if n and f"{k}_pence" in r.columns else pd.array([], dtype="Int64")
        sums[col.header] = int(v.sum()) if len(v) and not v.isna().all() else None
    ws.append([])
    ws.append(_totals_row(c, RECONCILIATION_COLUMNS, {"Recipient": "Total", "Name": f"{n:,} recipients", **sums}))


def _quarantine_sheet(wb: Workbook, q: pd.DataFrame, *, period: str) -> None:
    ws = wb.create_sheet("Data quality")
    sort_cols = [k for k in ("path", "row_no", "column_name") if k in q.columns]
    r = q.sort_values(sort_cols, kind="mergesort").reset_index(drop=True) if len(q) and sort_cols else q
    _setup_table(ws, QUARANTINE_COLUMNS, len(r), period=period, freeze="B2")
    _set_heights(ws, row_heights(QUARANTINE_COLUMNS, dict(zip(
        ("File", "Column", "Value (masked)", "Reason"),
        (_col(r, "path"), _col(r, "column_name"), _col(r, "value_masked"), _col(r, "reason")))), len(r)))
    c = _Cells(ws)
    data = [c.text_column(_col(r, k), alignment=col.align)
            for k, col in zip(("path", "kind", "recipient_id", "period"), QUARANTINE_COLUMNS)]
    data.append([c.number(None if v is None else int(v), alignment=_TOP) for v in _col(r, "row_no")])
    data += [c.text_column(_col(r, k), alignment=col.align)
             for k, col in zip(("column_name", "value_masked", "reason"), QUARANTINE_COLUMNS[5:])]
    _write_columns(ws, QUARANTINE_COLUMNS, data)


def rule_title(rule_id: object) -> str:
    """A rule's title in plain English (the rule catalogue's words, ``decide.recommend.RULE_TEXT``)."""
    from dpaudit.decide.recommend import RULE_TEXT

    return RULE_TEXT.get(str(rule_id), str(rule_id))


def _rule_label(rule_id: object, room: int = 60) -> str:
    """A chart label: the rule's title, shortened to ``room`` characters at a word."""
    t = rule_title(rule_id)
    if len(t) <= room:
        return t
    return t[: t.rfind(" ", 0, room - 1)].rstrip(",;: ") + "…"


def _summary_sheet(wb: Workbook, *, period: str, run_time: datetime, policy_version: str, findings: pd.DataFrame,
                   recommendations: pd.DataFrame, quarantine: pd.DataFrame, overflow: list[str] = (),
                   people: pd.DataFrame | None = None, review_months: dict | None = None) -> None:
    ws = wb.create_sheet("Summary")
    fig = summary_figures(findings, recommendations, quarantine, review_months)
    c = _Cells(ws)
    widths = (46, 20, 10, 10, 10, 10, 10, 17)
    for letter, width in zip("ABCDEFGH", widths):
        ws.column_dimensions[letter].width = width
    _page_setup(ws, period, title_rows=None)
    rows: list[list[Any]] = []

    def add(*values: Any) -> int:
        rows.append(list(values))
        return len(rows)

    def section(title: str) -> None:
        add(c.text(title, font=_SECTION_FONT))

    add(c.text(f"dpaudit exceptions workbook: {period}", font=_TITLE_FONT))
    add(c.text("New to this workbook? The 'How to use' sheet (the last tab) says what each sheet is for, how to "
               "record a decision, and what every rule means.", font=_ITALIC))
    add()
    section("Key figures")
    add(c.text("Period", font=_BOLD), c.text(period))
    add(c.text("Run time", font=_BOLD), c.date(run_time, DATETIME_FORMAT))
    add(c.text("Policy version", font=_BOLD), c.text(policy_version))
    add(c.text("Findings", font=_BOLD), fig.n_findings)
    add(c.text("Open findings (no decision yet)", font=_BOLD), fig.n_open)
    add(c.text("Recipients with findings", font=_BOLD), fig.n_recipients_with_findings)
    add(c.text("Money at stake (not dismissed)", font=_BOLD), c.money(fig.money_at_stake_pence, font=_BOLD))
    add(c.text("Money to recover (recommended)", font=_BOLD), c.money(int(fig.by_action["amount_pence"].sum()), font=_BOLD))
    for line in AT_STAKE_NOTE:
        add(c.text(line, font=_ITALIC))
    add(c.text("Quarantined rows or files", font=_BOLD), fig.n_quarantined)
    for note in overflow:
        add(c.text("Not all rows fit", font=_BOLD), c.text(note))
    add()
    # findings by status (A:B) beside recipients by recommended action (D:H)
    by_status = list(fig.by_status.itertuples(index=False))
    by_action = list(fig.by_action.itertuples(index=False))
    add(c.text("Findings by status", font=_SECTION_FONT), None, None, c.text("Recipients by recommended action",
                                                                             font=_SECTION_FONT))
    add(c.header("Status"), c.header("Findings"), None, c.header("Action"), c.header("Recipients"), c.header(""),
        c.header(""), c.header("Amount to recover"))
    for i in range(max(len(by_status), len(by_action))):
        left = [c.text(by_status[i].status), int(by_status[i].findings)] if i < len(by_status) else [None, None]
        right = ([c.text(by_action[i].action), int(by_action[i].recipients), None, None,
                  c.money(by_action[i].amount_pence)] if i < len(by_action) else [])
        add(*left, None, *right)
    add()
    section("Findings by rule and severity")
    rule_header = add(c.header("Rule"), c.header("Rule id"), c.header("High"), c.header("Medium"), c.header("Low"),
                      c.header("Info"), c.header("Total"), c.header("Money at stake"))
    for row in fig.by_rule.itertuples(index=False):
        add(c.text(_rule_label(row.rule_id)), c.text(row.rule_id), int(row.high), int(row.medium), int(row.low),
            int(row.info), int(row.total), c.money(row.money_at_stake_pence))
    rule_last = len(rows)
    add()
    section(f"Money at stake by recipient (top {TOP_RECIPIENTS})")
    rcp_header = add(c.header("Recipient"), c.header("Recipient id"), c.header("Findings"), c.header(""), c.header(""),
                     c.header(""), c.header(""), c.header("Money at stake"))
    names = {}
    if people is not None and len(people):
        names = dict(zip(people["recipient_id"].astype(str), people["child_name"]))
    for row in fig.by_recipient.head(TOP_RECIPIENTS).itertuples(index=False):
        name = names.get(str(row.recipient_id))
        label = f"{name} ({row.recipient_id})" if name is not None and not pd.isna(name) else str(row.recipient_id)
        add(c.text(label), c.text(row.recipient_id), int(row.findings), None, None, None, None,
            c.money(row.money_at_stake_pence))
    rcp_last = len(rows)
    rating_header = rating_last = 0
    if fig.by_rating is not None:  # the recommendations carry risk ratings (decide.risk)
        add()
        section("Recipients by risk rating")
        rating_header = add(c.header("Risk rating"), c.header("Recipients"), c.header("Review"))
        for row in fig.by_rating.itertuples(index=False):
            fill, font = _RATING_FILLS[row.rating]
            add(c.text(row.rating, fill=fill, font=font), int(row.recipients), c.text(row.review))
        rating_last = len(rows)
    has_ratings = fig.by_rating is not None and int(fig.by_rating["recipients"].sum()) > 0

    # the charts start on a page of their own, side by side, each whole on that page
    chart_row = len(rows) + 2
    if rule_last > rule_header or rcp_last > rcp_header or has_ratings:
        ws.row_breaks.append(Break(id=chart_row - 1))
        add()
        add(c.text("Charts", font=_SECTION_FONT))
    height = min(15.0, max(7.0, 0.6 * max(rule_last - rule_header, rcp_last - rcp_header) + 3))
    if rule_last > rule_header:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Findings by rule"
        chart.y_axis.title = "Findings"
        chart.add_data(Reference(ws, min_col=7, min_row=rule_header, max_row=rule_last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=rule_header + 1, max_row=rule_last))
        chart.x_axis.scaling.orientation = "maxMin"  # the table's order, top to bottom
        chart.x_axis.tickLblSkip = 1  # every rule named, none skipped
        chart.legend = None
        chart.height, chart.width = height, 17.5
        chart.anchor = _cells_anchor(chart_row, 0, 5, height)
        ws.add_chart(chart)
    if rcp_last > rcp_header:
        chart2 = BarChart()
        chart2.type = "bar"
        chart2.title = f"Money at stake by recipient (top {TOP_RECIPIENTS})"
        chart2.y_axis.title = "£"
        chart2.y_axis.number_format = '"£"#,##0'
        chart2.add_data(Reference(ws, min_col=8, min_row=rcp_header, max_row=rcp_last), titles_from_data=True)
        chart2.set_categories(Reference(ws, min_col=1, min_row=rcp_header + 1, max_row=rcp_last))
        chart2.x_axis.scaling.orientation = "maxMin"
        chart2.x_axis.tickLblSkip = 1
        chart2.legend = None
        chart2.height, chart2.width = height, 10.5
        chart2.anchor = _cells_anchor(chart_row, 5, 8, height)
        ws.add_chart(chart2)
    if has_ratings:
        below = chart_row + (max(int(round(height / 0.529)), 1) + 1 if rule_last > rule_header or rcp_last > rcp_header else 0)
        ws.add_chart(_rating_chart(ws, rating_header, rating_last, below))
    for r in rows:
        ws.append(r)


def _rating_chart(ws: Any, header: int, last: int, row: int) -> BarChart:
    """Recipients by risk rating: one bar per rating in the rating's colour (the Summary's table)."""
    from openpyxl.chart.marker import DataPoint

    chart = BarChart()
    chart.type = "col"
    chart.title = "Recipients by risk rating"
    chart.y_axis.title = "Recipients"
    chart.add_data(Reference(ws, min_col=2, min_row=header, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=last))
    series = chart.series[0]
    for i, rating in enumerate(list(_RATING_COLOURS)[: last - header]):
        point = DataPoint(idx=i)
        point.graphicalProperties.solidFill = _RATING_COLOURS[rating][1]
        series.dPt.append(point)
    chart.legend = None
    chart.height, chart.width = 7.0, 12.0
    chart.anchor = _cells_anchor(row, 0, 3, chart.height)
    return chart


def _cells_anchor(row: int, first_col: int, end_col: int, height_cm: float) -> Any:
    """A chart held between cells (from column ``first_col`` to ``end_col``, 0-based, starting below
    row ``row``), so every spreadsheet program sizes it the same; rows of the default 15 points."""
    from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor

    rows = max(int(round(height_cm / 0.529)), 1)
    return TwoCellAnchor(_from=AnchorMarker(col=first_col, row=row), to=AnchorMarker(col=end_col, row=row + rows))


def _catalogue_text() -> dict[str, str]:
    """rule id -> what the rule checks, from the rule catalogue ``docs/rules.md`` (its "fires when"
    column) where the package sits in the project's source tree; empty where it does not."""
    import dpaudit

    path = Path(dpaudit.__file__).resolve().parents[2] / "docs" / "rules.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    out = {}
    for m in re.finditer(r"^\|\s*((?:DQ|EV|SP|AC|PY|RV|CO)-[A-Z0-9-]+)\s*\|[^|]*\|(.*)\|[^|]*\|\s*$", text, re.M):
        out[m.group(1)] = re.sub(r"`([^`]*)`", r"\1", m.group(2).strip()).replace("\\|", "|")
    return out


HOW_TO_USE = [
    ("What this workbook is", "dpaudit checked every direct payment account for the period against the child's "
     "support plan, the receipts, invoices and payslips sent in, and the council's Personal Budget Policy (PBP). "
     "Nothing here is decided yet: each finding and recommendation waits for an officer's decision."),
    ("Summary", "The period's figures at a glance, and two charts: findings by rule and money at stake by recipient."),
    ("Exceptions", "One row per finding, grouped by recipient (a line marks each new recipient). Read the Message: it "
     "says what was seen and what evidence would clear it. Source (file, row) says which statement file and row the "
     "payment is on. Colours: red high, amber medium, blue low, grey information."),
    ("Recommendations", "One row per recipient: STOP, REPAY, REVIEW or NONE, with the reasons and the respond-by "
     "date. An accepted STOP or REPAY gives a letter to the family when the reports are written again."),
    ("Risk rating", "Red, amber or green per recipient (the Risk columns of Recommendations and Exceptions), from a "
     "score over recent months: findings by severity, payments without evidence, funds held back, missing "
     "statements and findings an officer upheld. Risk reasons gives the three largest parts of the score with their "
     "points. Red asks for a review now, amber for reviews more often than green; the Summary sheet gives each "
     "rating's interval and Next review the date."),
    ("Reconciliation", "Per recipient: opening balance + council credits + other credits - debits = closing balance; "
     "evidenced and unevidenced debits; budget and spend to date; the contingency held (PBP 5.3)."),
    ("Data quality", "Files and rows that could not be read, with the reason; ask the family for a readable copy."),
    ("How to record a decision", "In the yellow 'decision' column choose accept (the finding stands), dismiss (it "
     "does not) or query (ask the family), and add a note saying why. Leave a row blank to decide later. You may "
     "sort, filter, hide rows and add your own columns; do not change the hidden exception_id column."),
    ("Handing it back", "Save the workbook and give it to the person who runs dpaudit: 'dpaudit decisions import' "
     "records every decision (who, when, note) in the decision log, and later months keep them."),
    ("Printing", "Each sheet prints on A4 landscape, one page wide, with the header row on every page."),
    ("Money at stake", "The amount a finding is about: the payment, or the difference for a mismatch, or the excess "
     "over a limit. Dismissed findings are not counted."),
]


GLOSSARY_COLUMNS = [Column("Rule id", 22), Column("In plain English, and what dpaudit checks", 90, wrap=True),
                    Column("Severity", 9), Column("Policy clause", 16, wrap=True)]


def _how_to_use_sheet(wb: Workbook, *, period: str, policy: Any = None) -> None:
    """What each sheet is for, how to decide, and a glossary of every rule (title from the rule
    catalogue, what it checks from docs/rules.md, severity and clause from the policy)."""
    from dpaudit.core.policy import load_policy
    from dpaudit.decide.recommend import RULE_TEXT

    ws = wb.create_sheet("How to use")
    for i, col in enumerate(GLOSSARY_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    _page_setup(ws, period, title_rows=None)
    # the catalogue grows with every rule: printed, the sheet is scaled to stay within a few pages
    ws.page_setup.fitToHeight = HOW_TO_USE_MAX_PAGES
    c = _Cells(ws)
    rows: list[tuple[list[Any], float | None]] = [([c.text("How to use this workbook", font=_TITLE_FONT)], None),
                                                   ([], None)]
    wide = GLOSSARY_COLUMNS[1]
    for topic, text in HOW_TO_USE:
        k = int(_line_counts([text], wide.width).iloc[0])
        rows.append(([c.text(topic, font=_BOLD, alignment=_WRAP), c.text(text, alignment=_WRAP)],
                     k * LINE_HEIGHT if k > 1 else None))
    rows.append(([], None))
    rows.append(([c.text("What each rule means", font=_SECTION_FONT)], None))
    rows.append(([c.header(col.header) for col in GLOSSARY_COLUMNS], None))
    policy = policy if policy is not None else load_policy()
    checks = _catalogue_text()
    configured = policy.raw.get("rules", {})
    for rid in sorted(set(RULE_TEXT) | set(configured)):
        cfg = configured.get(rid, {})
        title = RULE_TEXT.get(rid, rid)
        text = f"{title}.\nChecks: {checks[rid]}" if checks.get(rid) else f"{title}."
        k = int(_line_counts([text], wide.width).iloc[0])
        rows.append(([c.text(rid, alignment=_TOP), c.text(text, alignment=_WRAP),
                      c.text(cfg.get("severity", ""), alignment=_TOP), c.text(cfg.get("clause", ""), alignment=_WRAP)],
                     k * LINE_HEIGHT if k > 1 else None))
    _set_heights(ws, [h for _, h in rows], first_row=1)
    for cells, _ in rows:
        ws.append(cells)


EXCEL_MAX_ROWS = 1_048_576  # rows a worksheet can hold (the format's limit, not a policy)


def _fit_sheet(frame: pd.DataFrame, sheet: str, where: str, trailer: int = 0) -> tuple[pd.DataFrame, str | None]:
    """The rows that fit one sheet (with its header and ``trailer`` rows below), and what to tell the
    reader when some do not."""
    room = EXCEL_MAX_ROWS - 1 - trailer
    if len(frame) <= room:
        return frame, None
    return frame.iloc[:room], (f"The {sheet} sheet shows the first {room:,} of {len(frame):,} rows (a sheet holds "
                               f"{EXCEL_MAX_ROWS:,}); every row is in {where}.")


def workbook_lookups(con: Any, period: str) -> dict[str, pd.DataFrame]:
    """What the workbook shows beside the findings, read from the store: each recipient's name and
    support officer (``recipients``), and where each transaction of the period came from (file and
    row of its statement: ``transactions``, ``files``), as keyword arguments of :func:`write_workbook`."""
    people = con.execute("SELECT recipient_id, child_name, support_officer FROM recipients").df()
    # a finding about no one family (recipient COUNCIL) is named for what it is about
    people = pd.concat([people, pd.DataFrame([{"recipient_id": COUNCIL, "child_name": COUNCIL_NAME}])],
                       ignore_index=True)
    src = con.execute(
        "SELECT t.txn_id AS txn_ref, f.path, lower(coalesce(f.format, '')) AS format, t.position, t.fitid "
        "FROM transactions t JOIN files f ON f.sha256 = t.file_sha256 "
        "WHERE t.txn_id IN (SELECT txn_ref FROM findings WHERE period = ? AND txn_ref IS NOT NULL)", [period]).df()
    if len(src):
        ofx = src["format"].str.startswith(("ofx", "qfx"))
        where = pd.Series(
            ["transaction " if o else "row " for o in ofx], index=src.index) + src["position"].astype("Int64").astype("string")
        where = where.fillna("")
        src["source"] = [mask_text(str(p)) + (f", {w}" if w else "") for p, w in zip(src["path"], where)]
    else:
        src["source"] = pd.Series(dtype=object)
    return {"people": people, "sources": src[["txn_ref", "source"]]}


def write_workbook(path: Path | str, *, period: str, run_time: datetime, policy_version: str, findings: pd.DataFrame,
                   recommendations: pd.DataFrame, reconciliation: pd.DataFrame, quarantine: pd.DataFrame,
                   decisions: pd.DataFrame | None = None, fast_rows: bool = True, people: pd.DataFrame | None = None,
                   sources: pd.DataFrame | None = None, policy: Any = None) -> Path:
    """Write ``exceptions.xlsx``.

    ``findings`` has the columns of ``findings.FINDING_COLUMNS`` plus ``status``; ``decisions``
    (optional, as ``decisions.current_status``) pre-fills each row's previous decision and note;
    ``people`` (``recipient_id, child_name, support_officer``) and ``sources`` (``txn_ref, source``)
    come from :func:`workbook_lookups`; ``policy`` gives the glossary's severities and clauses
    (default: the built-in policy).
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
                                        "exceptions.csv", TOTALS_ROWS)
    q_sorted = quarantine
    sort_cols = [k for k in ("path", "row_no", "column_name") if k in quarantine.columns]
    if len(quarantine) and sort_cols:
        q_sorted = quarantine.sort_values(sort_cols, kind="mergesort").reset_index(drop=True)
    shown_q, over_q = _fit_sheet(q_sorted, "Data quality", "exceptions.csv (rule DQ-ROW-REJECTED)")
    review_months = policy.raw.get("risk", {}).get("review_months") if policy is not None else None
    _summary_sheet(wb, period=period, run_time=run_time, policy_version=policy_version, findings=findings,
                   recommendations=recommendations, quarantine=quarantine,
                   overflow=[n for n in (over_f, over_q) if n], people=people, review_months=review_months)
    stake = summary_figures(findings, recommendations, quarantine).money_at_stake_pence
    ratings = (dict(zip(recommendations["recipient_id"].astype(str), recommendations["risk_rating"]))
               if "risk_rating" in recommendations.columns else None)
    ex_ws, fast = _exceptions_sheet(wb, shown_findings, decisions, fast_rows, period=period,
                                    money_at_stake_pence=stake, people=people, sources=sources, ratings=ratings)
    _recommendations_sheet(wb, recommendations, decisions, period=period, people=people)
    _reconciliation_sheet(wb, reconciliation, period=period, people=people)
    _quarantine_sheet(wb, shown_q, period=period)
    _how_to_use_sheet(wb, period=period, policy=policy)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        wb.save(tmp)
        if fast is not None and fast.n:
            _splice_rows(tmp, ex_ws.path.lstrip("/"), fast.xml(), fast.n)
        tmp.replace(p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


# ---------------------------------------------------------------- the year-end workbook
YEAR_END_SHEET = "Year end"
YEAR_END_COLUMNS = [
    Column("Recipient", 10), Column("Name", 15, wrap=True), Column("Annual DP value", 12, "money"),
    Column("Balance 31 March", 12, "money"), Column("Committed", 11, "money"), Column("Surplus", 11, "money"),
    Column("Surplus in weeks", 9), Column("Carry forward", 11, "money"), Column("Repayment", 11, "money"),
    Column("Contributions in", 12, "money"), Column("Family share", 11, "money"), Column("Reasons", 70, wrap=True),
    Column("Support officer", 12, wrap=True), Column("decision", 10), Column("note", 22, wrap=True),
    Column("exception_id", 24, "id", hidden=True),
]
YEAR_END_FREEZE = "C2"  # Recipient, Name


def write_year_end_workbook(path: Path | str, year_end: pd.DataFrame, *, fy: int, decisions: pd.DataFrame | None = None,
                            people: pd.DataFrame | None = None) -> Path:
    """``year_end.xlsx``: one row per recipient (annual value, balance, committed, surplus, carry
    forward, repayment, reasons) with a decision drop-down, for officers to accept a repayment
    before a letter is written (PBP 5.3, 5.4); totals below; prints like the monthly sheets."""
    from dpaudit.decide.decisions import year_end_id

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(YEAR_END_SHEET)
    r = year_end.sort_values(["repayment_pence", "recipient_id"], ascending=[False, True], kind="mergesort") \
        .reset_index(drop=True) if len(year_end) else year_end
    n = len(r)
    _setup_table(ws, YEAR_END_COLUMNS, n, period=f"FY{fy}", freeze=YEAR_END_FREEZE)
    c = _Cells(ws)
    ids = [year_end_id(fy, str(x)) for x in _col(r, "recipient_id")]
    dec, notes = _prefill(ids, [None] * n, decisions)
    names, officers = _people(r, people)
    from dpaudit.report.csvs import surplus_weeks_series

    weeks = surplus_weeks_series(r["surplus_pence"], r["annual_dp_value_pence"]).tolist() if n else []
    values = {"Recipient": _col(r, "recipient_id"), "Name": names, "Reasons": _col(r, "reasons"),
              "Surplus in weeks": weeks, "Support officer": officers, "decision": dec, "note": notes, "exception_id": ids}
    # Repayment is the council's share of what was held back; the family's share is not recovered (decision 49)
    money_of = {"Annual DP value": "annual_dp_value_pence", "Balance 31 March": "closing_balance_pence",
                "Committed": "committed_pence", "Surplus": "surplus_pence", "Carry forward": "carry_forward_pence",
                "Repayment": "repayment_pence", "Contributions in": "contributions_in_pence",
                "Family share": "family_share_pence"}
    data = []
    for col in YEAR_END_COLUMNS:
        if col.header in money_of:
            data.append([c.money(v or 0, alignment=col.align) for v in _col(r, money_of[col.header])])
        else:
            fill = _INPUT_FILL if col.header in ("decision", "note") else None
            data.append(c.text_column(values[col.header], fill=fill, alignment=col.align))
    _set_heights(ws, row_heights(YEAR_END_COLUMNS, values, n))
    _decision_validation(ws, _letter(YEAR_END_COLUMNS, "decision"), n)
    _write_columns(ws, YEAR_END_COLUMNS, data)
    totals = {h: int(pd.array(r[k], dtype="Int64").fillna(0).sum()) if n and k in r.columns else 0
              for h, k in money_of.items() if h not in ("Surplus",)}
    ws.append([])
    ws.append(_totals_row(c, YEAR_END_COLUMNS, {"Recipient": "Total", "Name": f"{n:,} recipients", **totals,
                                                "Reasons": "accept a row's repayment to have its letter written"}))
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        wb.save(tmp)
        tmp.replace(p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
