"""Safe reading of untrusted CSV and XLSX files into frames of text.

Every cell is read as a string (identifiers keep their leading zeros; money and dates are
parsed later by the schemas).  Files larger than the policy limit are refused; an XLSX is
checked as a zip before openpyxl sees it (member sizes and compression ratio), because
openpyxl has no decompression limit; formula cells in an input are reported, never read as 0.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ENCODINGS = ("utf-8-sig", "cp1252")
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DEFAULT_MAX_RATIO = 100


class UnreadableFile(ValueError):
    """The whole file cannot be read; the message is the quarantine reason."""


@dataclass
class Table:
    """Rows of text with their 1-based source row numbers (header is row 1 for a plain CSV)."""

    frame: pd.DataFrame
    row_numbers: list[int]
    encoding: str = "utf-8"
    sheet: str | None = None
    formula_cells: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, formula)
    ragged_rows: list[tuple[int, str]] = field(default_factory=list)  # (row, reason): not read, to quarantine


def check_size(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFile(f"{path.name} is {size:,} bytes, over the {max_bytes:,}-byte limit for one file")
    return size


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode as UTF-8 (BOM accepted), falling back to cp1252 (older UK bank exports).  UTF-16
    text (Excel's "Unicode Text") and other binary data are refused with a reason that says so."""
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 4 and head.count(b"\x00") * 3 >= len(head)):
        raise UnreadableFile("the file is UTF-16 text (Excel's \"Unicode Text\"), not a CSV export; save it as "
                             "\"CSV UTF-8 (comma delimited)\" or send the bank's own CSV or OFX download")
    if b"\x00" in head:
        raise UnreadableFile("the file holds binary data (NUL bytes), not text; send the bank's CSV export or OFX "
                             "download")
    for enc in ENCODINGS:
        try:
            return data.decode(enc), ("utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("the file is neither UTF-8 nor Windows-1252 text")  # pragma: no cover - cp1252 decodes most bytes


def check_xlsx_zip(path: Path, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED, max_ratio: int = DEFAULT_MAX_RATIO) -> None:
    """Refuse a zip bomb or a non-XLSX zip before any XML is parsed."""
    try:
        with zipfile.ZipFile(path) as zf:
            total = 0
            for info in zf.infolist():
                total += info.file_size
                if info.compress_size and info.file_size / max(info.compress_size, 1) > max_ratio and info.file_size > 1024 * 1024:
                    raise UnreadableFile(
                        f"{path.name}: member {info.filename} expands {info.file_size // max(info.compress_size, 1)}:1 "
                        f"(limit {max_ratio}:1); refusing a possible zip bomb")
                if total > max_uncompressed:
                    raise UnreadableFile(f"{path.name} expands to more than {max_uncompressed:,} bytes; refusing a possible zip bomb")
            names = set(zf.namelist())
            if "xl/workbook.xml" not in names:
                raise UnreadableFile(f"{path.name} is a zip file but not an Excel workbook (no xl/workbook.xml)")
            if any(n.startswith("xl/externalLinks/") for n in names):
                raise UnreadableFile(f"{path.name} contains external links; save it without links and send it again")
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(f"{path.name} is not a valid .xlsx file (bad zip: {exc})") from exc


def read_csv_text(text: str) -> list[list[str]]:
    """All rows of a CSV text (sniffing nothing: comma separated, quotes honoured); a text the csv
    module cannot split into rows (a NUL, a stray carriage return in an odd place) is unreadable."""
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise UnreadableFile(f"the file is not well-formed CSV ({exc}); export it again from the bank or "
                             f"the spreadsheet") from None


@dataclass
class RawTable:
    """A file's rows as lists of text, before any frame is built (many files are framed together)."""

    header: list[str]
    body: list[list[str]]
    row_numbers: list[int]
    encoding: str = "utf-8"
    sheet: str | None = None
    formula_cells: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, formula)
    ragged_rows: list[tuple[int, str]] = field(default_factory=list)  # (row, reason): not read, to quarantine

    def table(self) -> Table:
        cols = self.header
        frame = (pd.DataFrame(self.body, columns=cols, dtype="string") if self.body
                 else pd.DataFrame(columns=cols, dtype="string"))
        return Table(frame=frame, row_numbers=self.row_numbers, encoding=self.encoding, sheet=self.sheet,
                     formula_cells=self.formula_cells, ragged_rows=self.ragged_rows)


def rows_to_raw(rows: list[list[str]], header_row: int, first_row_number: int = 1) -> RawTable:
    """Split raw rows into a (unique) header and data rows given the 0-based index of the header row."""
    header = [h.strip() for h in rows[header_row]]
    while header and not header[-1]:
        header.pop()  # a trailing comma after the last column name
    body, numbers, ragged = [], [], []
    for i, row in enumerate(rows[header_row + 1:], start=header_row + 1):
        if not any(cell.strip() for cell in row):
            continue
        number = i + first_row_number
        extra = [c for c in row[len(header):] if c.strip()]
        if extra or len(row) < len(header):
            # never shift values into the wrong column or guess the missing ones
            ragged.append((number, f"the row has {len(row) - len(row[len(header):]) + len(extra)} fields but the "
                                   f"header has {len(header)}; check for a stray comma or a missing value"))
            continue
        body.append(row[: len(header)])
        numbers.append(number)
    return RawTable(header=_unique(header), body=body, row_numbers=numbers, ragged_rows=ragged)


def _unique(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in header:
        name = h or "unnamed"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def xlsx_rows(path: Path, sheet_hint: str | None = None, *, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
              max_ratio: int = DEFAULT_MAX_RATIO) -> tuple[list[list[str]], str, list[tuple[int, int, str]]]:
    """Rows of the first sheet (or the one named like ``sheet_hint``) as text, and formula cells."""
    check_xlsx_zip(path, max_uncompressed, max_ratio)
    import openpyxl  # uses defusedxml when installed

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise UnreadableFile(f"{path.name} could not be opened as a workbook: {exc}") from exc
    try:
        name = wb.sheetnames[0]
        if sheet_hint:
            for n in wb.sheetnames:
                if n.strip().lower() == sheet_hint.lower():
                    name = n
        ws = wb[name]
        rows: list[list[str]] = []
        formulas: list[tuple[int, int, str]] = []
        for r_idx, row in enumerate(ws.iter_rows(values_only=True), start=1):
            out = []
            for c_idx, v in enumerate(row):
                if isinstance(v, str) and v.startswith("="):
                    formulas.append((r_idx, c_idx, v))
                    out.append("")
                else:
                    out.append(_cell_text(v))
            rows.append(out)
        return rows, name, formulas
    finally:
        wb.close()


def _cell_text(v: object) -> str:
    import datetime as _dt

    if v is None:
        return ""
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat(sep=" ")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, float):
        # Excel stores numbers as binary floats; repr gives the shortest exact decimal text.
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return str(v)


def read_raw_table(path: Path, *, sheet_hint: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                   max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED, max_ratio: int = DEFAULT_MAX_RATIO) -> RawTable:
    """Read a CSV or XLSX with its header in the first row into rows of text."""
    path = Path(path)
    check_size(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows, sheet, formulas = xlsx_rows(path, sheet_hint, max_uncompressed=max_uncompressed, max_ratio=max_ratio)
        if not rows:
            raise UnreadableFile(f"{path.name} has no rows")
        raw = rows_to_raw(rows, 0)
        raw.sheet = sheet
        raw.formula_cells = [(r, raw.header[c] if c < len(raw.header) else str(c), f) for r, c, f in formulas]
        return raw
    if suffix in (".csv", ".txt"):
        text, enc = decode_bytes(path.read_bytes())
        rows = read_csv_text(text)
        if not rows:
            raise UnreadableFile(f"{path.name} is empty")
        raw = rows_to_raw(rows, 0)
        raw.encoding = enc
        return raw
    raise UnreadableFile(f"{path.name}: files of type '{suffix}' are not read; send CSV or XLSX")


def read_table(path: Path, *, sheet_hint: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
               max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED, max_ratio: int = DEFAULT_MAX_RATIO) -> Table:
    """Read a CSV or XLSX with its header in the first row into a Table of text."""
    return read_raw_table(path, sheet_hint=sheet_hint, max_bytes=max_bytes, max_uncompressed=max_uncompressed,
                          max_ratio=max_ratio).table()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (the identity of an ingested file)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
