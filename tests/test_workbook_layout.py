"""The workbook reads and prints without training (issue 14, item 4): page setup on every sheet,
wrapped long text in rows tall enough for it, frozen key columns, names and support officers, the
source file and row with the hash hidden, totals rows, rule titles on the charts, and a glossary of
every rule in the catalogue."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from dpaudit.decide.recommend import RULE_TEXT
from dpaudit.report.workbook import EXCEPTION_COLUMNS, HOW_TO_USE_MAX_PAGES, SHEETS, row_heights, rule_title, write_workbook
from test_workbook import RUN_TIME, small_fixture

PEOPLE = pd.DataFrame({"recipient_id": ["R001", "R002", "R003"], "child_name": ["Amy Smith", "Ben Lee", "Cara Diaz"],
                       "support_officer": ["S. Patel", "K. Roe", "S. Patel"]})
SOURCES = pd.DataFrame({"txn_ref": ["t1", "t2"], "source": ["inbox/2025-05/R001/statement.ofx, transaction 3",
                                                           "inbox/2025-05/R001/statement.ofx, transaction 9"]})


@pytest.fixture()
def wb(tmp_path: Path):
    p = write_workbook(tmp_path / "x.xlsx", period="2025-05", run_time=RUN_TIME, policy_version="2025.1",
                       people=PEOPLE, sources=SOURCES, **small_fixture())
    return p, load_workbook(p)


def table(ws) -> tuple[dict[str, int], list[list]]:
    hdr = {c.value: i for i, c in enumerate(ws[1]) if c.value}
    return hdr, [[c.value for c in r] for r in ws.iter_rows(min_row=2)]


def test_every_sheet_prints_landscape_one_page_wide(wb):
    path, book = wb
    assert book.sheetnames == list(SHEETS)
    for ws in book.worksheets:
        ps = ws.page_setup
        assert ps.orientation == "landscape" and int(ps.paperSize) == 9, ws.title  # A4
        # as many pages tall as the rows need; the How to use sheet (the catalogue) scaled to fit a few
        tall = HOW_TO_USE_MAX_PAGES if ws.title == "How to use" else 0
        assert ps.fitToWidth == 1 and ps.fitToHeight == tall and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert "&A" in str(ws.oddHeader.left.text) and "&P" in str(ws.oddFooter.center.text)
    for name in ("Exceptions", "Recommendations", "Reconciliation", "Data quality"):
        assert book[name].print_title_rows == "$1:$1", name  # the header row on every printed page
    with zipfile.ZipFile(path) as z:
        summary = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<rowBreaks" in summary  # the charts start on a page of their own


def test_exceptions_key_columns_names_sources_and_hidden_hash(wb):
    _, book = wb
    ws = book["Exceptions"]
    hdr, rows = table(ws)
    assert ws.freeze_panes == "D2" and [c.value for c in ws[1]][:3] == ["Recipient", "Name", "Rule"]
    hash_col = ws.column_dimensions[chr(ord("A") + hdr["Transaction ref"])]
    assert hash_col.hidden is True
    data = [r for r in rows if r[hdr["exception_id"]]]
    by_id = {r[hdr["exception_id"]]: r for r in data}
    assert by_id["e1"][hdr["Name"]] == "Amy Smith" and by_id["e1"][hdr["Support officer"]] == "S. Patel"
    assert by_id["e2"][hdr["Source (file, row)"]] == "inbox/2025-05/R001/statement.ofx, transaction 9"
    assert by_id["e5"][hdr["Source (file, row)"]] is None  # no transaction, no source
    # grouped by recipient: each recipient's rows are together
    recipients = [r[hdr["Recipient"]] for r in data]
    assert recipients == sorted(recipients)
    # long text wraps, and rows are tall enough for it
    msg = ws.cell(row=2, column=hdr["Message"] + 1)
    assert msg.alignment.wrap_text and msg.alignment.vertical == "top"


def test_rows_grow_with_their_wrapped_text():
    cols = [c for c in EXCEPTION_COLUMNS if c.header in ("Recipient", "Message")]
    h = row_heights(cols, {"Recipient": ["R1", "R2", "R3"], "Message": ["short", "x " * 100, "a\nb\nc"]}, 3)
    assert h[0] is None and h[1] >= 4 * 15 and h[2] == 3 * 15


def test_totals_rows(wb):
    _, book = wb
    ex_hdr, ex = table(book["Exceptions"])
    total = [r for r in ex if r[0] == "Total"]
    assert len(total) == 1 and total[0][ex_hdr["Amount"]] == pytest.approx(1214.98)  # as the Summary, dismissed left out
    assert ex[-2] == [None] * len(ex[-2]) or all(v is None for v in ex[-2])  # a blank row keeps it out of the filter
    assert book["Exceptions"].auto_filter.ref == "A1:R8"
    rc_hdr, rc = table(book["Recommendations"])
    assert [r for r in rc if r[0] == "Total"][0][rc_hdr["Amount"]] == pytest.approx(1164.99)
    rn_hdr, rn = table(book["Reconciliation"])
    t = [r for r in rn if r[0] == "Total"][0]
    assert t[rn_hdr["Opening balance"]] == pytest.approx(3500) and t[rn_hdr["Closing balance"]] == pytest.approx(3340)
    assert not [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_charts_are_labelled_with_rule_titles(wb):
    path, book = wb
    ws = book["Summary"]
    labels = {r[0].value: r[1].value for r in ws.iter_rows() if r[1].value in RULE_TEXT}
    assert labels and all(not re.fullmatch(r"[A-Z]{2}-[A-Z-]+", str(k)) for k in labels)
    assert labels[rule_title("SP-PROHIBITED")[:59].rsplit(" ", 1)[0].rstrip(",") + "…"] == "SP-PROHIBITED"
    with zipfile.ZipFile(path) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "'Summary'!$A$" in chart  # categories: the titles' column, not the ids'


def test_glossary_has_every_rule_of_the_catalogue(wb):
    _, book = wb
    ws = book["How to use"]
    ids = {r[0].value for r in ws.iter_rows() if r[0].value in RULE_TEXT or re.fullmatch(r"[A-Z]{2}-[A-Z0-9-]+",
                                                                                         str(r[0].value))}
    catalogue = set(re.findall(r"^\|\s*((?:DQ|EV|SP|AC|PY|RV)-[A-Z0-9-]+)\s*\|",
                               (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text(), re.M))
    assert catalogue <= ids
    rows = {r[0].value: r[1].value for r in ws.iter_rows() if r[0].value in catalogue}
    assert rows["EV-NO-EVIDENCE"].startswith(RULE_TEXT["EV-NO-EVIDENCE"])
    assert "Checks: a debit has no matching receipt" in rows["EV-NO-EVIDENCE"]
