"""The officers' workbook: sheets, formats, safety, sorting, charts, and a golden text dump."""
from __future__ import annotations

import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from dpaudit.report.workbook import (
    DATE_FORMAT, EXCEPTION_COLUMNS, GBP_FORMAT, QUARANTINE_COLUMNS, RECOMMENDATION_COLUMNS, RECONCILIATION_COLUMNS,
    SHEETS, write_workbook,
)

GOLDEN = Path(__file__).parent / "golden" / "workbook_small.txt"
HYPERLINK = '=HYPERLINK("http://x","y")'
RUN_TIME = datetime(2025, 6, 2, 9, 30, 0)


def small_fixture() -> dict[str, pd.DataFrame]:
    """A fixed month: 7 findings over 3 recipients, 3 recommendations, reconciliation, 2 quarantined rows."""
    f = pd.DataFrame([
        # exception_id, recipient, rule, severity, date, pence, counterparty, txn_ref, line, message, clause, status
        ("e1", "R001", "EV-NO-EVIDENCE", "medium", date(2025, 5, 3), 4500, "TESCO STORES", "t1", None,
         "Debit of £45.00 on 03/05/2025 to TESCO STORES has no receipt.", "PBP 5.2", "open"),
        ("e2", "R001", "SP-PROHIBITED", "high", date(2025, 5, 9), 12000, "BET365", "t2", None,
         HYPERLINK, "PBP 4.3.2", "accepted"),
        ("e3", "R002", "SP-CASH", "medium", date(2025, 5, 12), 20000, "+44 CASH MACHINE", "t3", None,
         "Cash withdrawal of £200.00 needs receipts.", "PBP 5.2", "dismissed"),
        ("e4", "R002", "SP-PROHIBITED", "high", date(2025, 5, 20), 3000, "-MAJESTIC WINE", "t4", None,
         "@SUM(1,2) spend at an off licence", "PBP 4.3.2", "queried"),
        ("e5", "R003", "RV-REVIEW-DUE", "info", None, None, None, None, None,
         "A review is due on 15/05/2025 (3 months after the start).", "PBP 5.1", "open"),
        ("e6", "R003", "AC-LOW-CONTINGENCY", "low", date(2025, 5, 31), 1999, None, None, "L1",
         "Month-end balance is below 5% of the annual value.", "PBP 5.3", "open"),
        ("e7", "R001", "SP-PROHIBITED", "high", date(2025, 5, 2), 99999, "\tTAB PUB", "t7", None,
         "Spend at a pub\x07 with a bell character.", "PBP 4.3.2", "open"),
    ], columns=["exception_id", "recipient_id", "rule_id", "severity", "txn_date", "amount_pence", "counterparty",
                "txn_ref", "line_id", "message", "clause", "status"])
    f.insert(1, "period", "2025-05")
    f["amount_pence"] = f["amount_pence"].astype("Int64")
    recs = pd.DataFrame([
        ("R001", "2025-05", "REPAY", 116499, "SP-PROHIBITED;EV-NO-EVIDENCE", "PBP 4.3.2;PBP 5.2",
         "Spend at BET365 is not allowed (PBP 4.3.2).", date(2025, 6, 30), "auditor.a"),
        ("R002", "2025-05", "STOP", 0, "STOP-MISUSE", "PBP 5.5", "=the payment was not used as agreed (PBP 5.5).",
         date(2025, 6, 30), "auditor.a"),
        ("R003", "2025-05", "NONE", 0, "", "", "", None, "auditor.a"),
    ], columns=["recipient_id", "period", "action", "amount_pence", "grounds", "clauses", "reasons", "respond_by",
                "prepared_by"])
    rec = pd.DataFrame({
        "recipient_id": ["R002", "R001", "R003"], "period": "2025-05",
        "opening_balance_pence": [100000, 250000, 0], "council_credits_pence": [50000, 60000, 40000],
        "other_credits_pence": [0, 0, 0], "debits_pence": [40000, 125000, 1000],
        "closing_balance_pence": [110000, 185000, 39000], "evidenced_pence": [20000, 0, 1000],
        "unevidenced_pence": [20000, 125000, 0], "plan_budget_to_date_pence": [200000, 300000, 50000],
        "spend_to_date_pence": [150000, 320000, 1000], "contingency_held_pence": [110000, 185000, 39000],
        "contingency_pct": [Decimal("9.17"), Decimal("15.42"), Decimal("-0.50")],
    })
    q = pd.DataFrame([
        ("inbox/2025-05/R002/receipts.csv", "receipts", "R002", "2025-05", 4, "amount", "=1+1", "amount is not money"),
        ("inbox/2025-05/R001/statement.csv", "statement", "R001", "2025-05", None, None, None,
         "unknown bank layout with header Foo,Bar"),
    ], columns=["path", "kind", "recipient_id", "period", "row_no", "column_name", "value_masked", "reason"])
    return {"findings": f, "recommendations": recs, "reconciliation": rec, "quarantine": q}


def write_small(path: Path, **over) -> Path:
    data = small_fixture()
    data.update(over)
    return write_workbook(path, period="2025-05", run_time=RUN_TIME, policy_version="2025.1", **data)


def headers(ws) -> list[str]:
    return [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]


def body(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows(min_row=2)]


@pytest.fixture()
def wb_path(tmp_path: Path) -> Path:
    return write_small(tmp_path / "exceptions.xlsx")


def test_sheets_headers_and_table_setup(wb_path: Path) -> None:
    wb = load_workbook(wb_path)
    assert wb.sheetnames == list(SHEETS)
    for name, cols, freeze in (("Exceptions", EXCEPTION_COLUMNS, "D2"), ("Recommendations", RECOMMENDATION_COLUMNS, "D2"),
                               ("Reconciliation", RECONCILIATION_COLUMNS, "C2"), ("Data quality", QUARANTINE_COLUMNS, "B2")):
        ws = wb[name]
        assert headers(ws)[: len(cols)] == [c.header for c in cols]
        assert ws.freeze_panes == freeze  # the header row and the key columns stay in view
        assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:")
        assert ws.column_dimensions["A"].width > 5
    ex = wb["Exceptions"]
    assert ex.auto_filter.ref == "A1:R8"
    assert ex.column_dimensions["O"].hidden is True and headers(ex)[14] == "exception_id"
    assert ex.column_dimensions["R"].hidden is True and headers(ex)[17] == "Transaction ref"
    assert headers(ex)[:3] == ["Recipient", "Name", "Rule"]
    assert wb["Recommendations"].column_dimensions["L"].hidden is True
    assert headers(ex)[12:14] == ["decision", "note"]


def test_money_dates_and_percent_formats(wb_path: Path) -> None:
    wb = load_workbook(wb_path)
    ex = wb["Exceptions"]
    amount = [r[5] for r in ex.iter_rows(min_row=2, max_row=8)]
    dates = [r[4] for r in ex.iter_rows(min_row=2, max_row=8)]
    assert all(c.number_format == GBP_FORMAT for c in amount if c.value is not None)
    assert sum(c.value is None for c in amount) == 1  # the review finding has no money at stake
    assert amount[0].value == pytest.approx(999.99)
    assert all(isinstance(c.value, datetime) and c.number_format == DATE_FORMAT for c in dates if c.value is not None)
    rc = wb["Reconciliation"]
    row = next(rc.iter_rows(min_row=2, max_row=2))
    assert row[0].value == "R001" and row[2].value == pytest.approx(2500.0) and row[2].number_format == GBP_FORMAT
    assert row[12].value == pytest.approx(15.42) and row[12].number_format == '0.00"%"'
    rs = wb["Recommendations"]
    assert next(rs.iter_rows(min_row=2, max_row=2))[7].number_format == DATE_FORMAT


def test_grouped_by_recipient_then_severity_then_money(wb_path: Path) -> None:
    rows = body(load_workbook(wb_path)["Exceptions"])[:7]
    assert [r[14] for r in rows] == ["e7", "e2", "e1", "e4", "e3", "e6", "e5"]
    order = {"high": 0, "medium": 1, "low": 2, "info": 3}
    keys = [(r[0], order[r[3]], -(r[5] or 0)) for r in rows]
    assert keys == sorted(keys)
    recs = body(load_workbook(wb_path)["Recommendations"])[:3]
    assert [r[2] for r in recs] == ["STOP", "REPAY", "NONE"]
    assert [r[11] for r in recs] == ["REC-2025-05-R002", "REC-2025-05-R001", "REC-2025-05-R003"]


def test_previous_decisions_prefilled(wb_path: Path) -> None:
    rows = {r[14]: r for r in body(load_workbook(wb_path)["Exceptions"])}
    assert rows["e2"][12] == "accept" and rows["e3"][12] == "dismiss" and rows["e4"][12] == "query"
    assert rows["e1"][12] is None and rows["e1"][11] == "open"


def test_prefill_from_decision_log_with_notes(tmp_path: Path) -> None:
    decided = pd.DataFrame({"exception_id": ["e1", "REC-2025-05-R001"], "status": ["dismissed", "accepted"],
                            "officer": ["o", "o"], "decided_at": [RUN_TIME, RUN_TIME], "note": ["receipt seen", None]})
    data = small_fixture()
    p = write_workbook(tmp_path / "x.xlsx", period="2025-05", run_time=RUN_TIME, policy_version="2025.1",
                       decisions=decided, **data)
    wb = load_workbook(p)
    ex = {r[14]: r for r in body(wb["Exceptions"])}
    assert ex["e1"][12] == "dismiss" and ex["e1"][13] == "receipt seen"
    rc = {r[11]: r for r in body(wb["Recommendations"])}
    assert rc["REC-2025-05-R001"][9] == "accept"


def test_decision_drop_down(wb_path: Path) -> None:
    wb = load_workbook(wb_path)
    for sheet, col, last in (("Exceptions", "M", 8), ("Recommendations", "J", 4)):
        dvs = wb[sheet].data_validations.dataValidation
        assert len(dvs) == 1
        dv = dvs[0]
        assert dv.type == "list" and dv.formula1 == '"accept,dismiss,query"'
        assert str(dv.sqref) == f"{col}2:{col}{last}"
        assert dv.showErrorMessage is True


def test_severity_colours(wb_path: Path) -> None:
    ws = load_workbook(wb_path)["Exceptions"]
    ranges = {str(cf.sqref): cf.rules for cf in ws.conditional_formatting}
    assert "D2:D8" in ranges
    formulas = sorted(r.formula[0] for r in ranges["D2:D8"])
    assert formulas == sorted(f'$D2="{s}"' for s in ("high", "medium", "low", "info"))


def test_charts_present(wb_path: Path) -> None:
    with zipfile.ZipFile(wb_path) as z:
        names = z.namelist()
        assert "xl/charts/chart1.xml" in names and "xl/charts/chart2.xml" in names
        assert not any(n.startswith("xl/externalLinks") for n in names)
        assert not any("vbaProject" in n for n in names)
        chart1 = z.read("xl/charts/chart1.xml").decode()
        assert "barChart" in chart1 and "'Summary'!" in chart1
    ws = load_workbook(wb_path)["Summary"]
    assert len(ws._charts) == 2


def test_summary_figures(wb_path: Path) -> None:
    ws = load_workbook(wb_path)["Summary"]
    cells = {r[0]: r[1] for r in body(ws) if r and r[0]}
    assert cells["Period"] == "2025-05" and cells["Policy version"] == "2025.1"
    assert cells["Run time"] == RUN_TIME
    assert cells["Findings"] == 7 and cells["Open findings (no decision yet)"] == 4
    # dismissed e3 (£200) is left out: 45 + 120 + 30 + 19.99 + 999.99
    assert cells["Money at stake (not dismissed)"] == pytest.approx(1214.98)


def _all_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def test_formula_like_text_stays_text_after_save_and_reload(wb_path: Path, tmp_path: Path) -> None:
    wb = load_workbook(wb_path)
    assert not [c.coordinate for c in _all_cells(wb) if c.data_type == "f"]
    rows = {r[14].value: r for r in wb["Exceptions"].iter_rows(min_row=2)}
    msg = rows["e2"][7]
    assert msg.value == HYPERLINK and msg.data_type == "s" and msg.quotePrefix
    assert rows["e4"][6].value == "-MAJESTIC WINE" and rows["e4"][6].quotePrefix
    assert rows["e4"][7].value.startswith("@") and rows["e4"][7].data_type == "s"
    assert rows["e7"][6].value == "\tTAB PUB" and rows["e7"][6].quotePrefix
    assert rows["e7"][7].value == "Spend at a pub\ufffd with a bell character."
    # an officer opens and saves it again: still text
    again = tmp_path / "saved_again.xlsx"
    wb.save(again)
    wb2 = load_workbook(again)
    assert not [c.coordinate for c in _all_cells(wb2) if c.data_type == "f"]
    rows2 = {r[14].value: r for r in wb2["Exceptions"].iter_rows(min_row=2)}
    assert rows2["e2"][7].value == HYPERLINK and rows2["e2"][7].data_type == "s"
    dq = body(wb2["Data quality"])
    assert ["=1+1"] == [r[6] for r in dq if r[6]]


def test_empty_month_writes(tmp_path: Path) -> None:
    data = small_fixture()
    empty = {k: v.iloc[0:0] for k, v in data.items()}
    p = write_workbook(tmp_path / "empty.xlsx", period="2025-05", run_time=RUN_TIME, policy_version="2025.1", **empty)
    wb = load_workbook(p)
    assert wb.sheetnames == list(SHEETS)
    assert [r for r in body(wb["Exceptions"]) if r[14]] == []
    assert len(wb["Summary"]._charts) == 0


# ---------------------------------------------------------------- golden text dump
def dump_workbook(path: Path) -> str:
    """Workbook content as text: per sheet its table setup, then every cell (value, type, format)."""
    wb = load_workbook(path)
    out = []
    for ws in wb.worksheets:
        out.append(f"== sheet {ws.title}")
        out.append(f"freeze={ws.freeze_panes} filter={ws.auto_filter.ref} charts={len(ws._charts)}")
        hidden = sorted(k for k, d in ws.column_dimensions.items() if d.hidden)
        out.append(f"hidden={hidden}")
        for dv in ws.data_validations.dataValidation:
            out.append(f"validation {dv.type} {dv.formula1} {dv.sqref}")
        for cf in ws.conditional_formatting:
            out.append(f"cond {cf.sqref} " + " ".join(sorted(r.formula[0] for r in cf.rules)))
        for row in ws.iter_rows():
            cells = []
            for c in row:
                if c.value is None:
                    continue
                v = c.value
                v = v.isoformat() if isinstance(v, (datetime, date)) else repr(v)
                fmt = "" if c.number_format == "General" else f" fmt={c.number_format}"
                q = " quoted" if c.quotePrefix else ""
                cells.append(f"{c.coordinate}={v} [{c.data_type}]{fmt}{q}")
            if cells:
                out.append(" | ".join(cells))
    return "\n".join(out) + "\n"


def test_golden_dump(wb_path: Path, golden) -> None:
    """The whole small workbook as text against its golden file (UPDATE_GOLDEN=1 rewrites it)."""
    golden(GOLDEN, dump_workbook(wb_path))


# ---------------------------------------------------------------- any outside text stays text
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dpaudit.report.workbook import clean_text  # noqa: E402

_lead = st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", "", "'", " "])
_body = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.tuples(_lead, _body).map("".join), min_size=1, max_size=6))
def test_any_outside_text_round_trips_as_text(tmp_path_factory, texts: list[str]) -> None:
    data = small_fixture()
    f = data["findings"].iloc[: len(texts)].copy() if len(texts) <= 7 else data["findings"]
    f["message"] = texts[: len(f)]
    f["counterparty"] = list(reversed(texts[: len(f)]))
    p = write_workbook(tmp_path_factory.mktemp("wb") / "x.xlsx", period="2025-05", run_time=RUN_TIME,
                       policy_version="2025.1", findings=f, recommendations=data["recommendations"],
                       reconciliation=data["reconciliation"], quarantine=data["quarantine"])
    wb = load_workbook(p)
    assert not [c.coordinate for c in _all_cells(wb) if c.data_type == "f"]
    got = {r[14].value: (r[7].value, r[6].value) for r in wb["Exceptions"].iter_rows(min_row=2) if r[14].value}
    for eid, msg, cp in zip(f["exception_id"], f["message"], f["counterparty"]):
        want_msg, want_cp = clean_text(msg), clean_text(cp)
        # XML keeps text exactly, except that a lone CR is read back as LF and an empty text is no value
        norm = lambda s: None if s in ("", None) else s.replace("\r\n", "\n").replace("\r", "\n")  # noqa: E731
        assert norm(got[eid][0]) == norm(want_msg) and norm(got[eid][1]) == norm(want_cp)


def _sheet_xml(path: Path, member: str = "xl/worksheets/sheet2.xml") -> str:
    """The sheet's canonical XML with each style index replaced by what the style is (format, font,
    fill, quote prefix): two writers may number the same styles differently."""
    import re
    from xml.etree.ElementTree import canonicalize, fromstring, tostring

    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with zipfile.ZipFile(path) as z:
        sheet = canonicalize(z.read(member).decode("utf-8"))
        styles = fromstring(z.read("xl/styles.xml"))
    fmts = {n.get("numFmtId"): n.get("formatCode") for n in styles.iter(f"{ns}numFmt")}
    fonts = [canonicalize(tostring(f).decode()) for f in styles.find(f"{ns}fonts")]
    fills = [canonicalize(tostring(f).decode()) for f in styles.find(f"{ns}fills")]
    xfs = [f"{fmts.get(x.get('numFmtId'), x.get('numFmtId'))}|{fonts[int(x.get('fontId', 0))]}|"
           f"{fills[int(x.get('fillId', 0))]}|{x.get('quotePrefix')}" for x in styles.find(f"{ns}cellXfs")]
    sheet = re.sub(r' s="(\d+)"', lambda m: f' s="{xfs[int(m.group(1))]}"', sheet)
    # openpyxl writes 78.54 via a float as 78.54000000000001; the fast writer writes the exact 78.54
    return re.sub(r"<v>([^<]+)</v>", lambda m: f"<v>{float(m.group(1)):.15g}</v>", sheet)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(texts=st.lists(st.tuples(_lead, _body).map("".join), min_size=7, max_size=7),
       amounts=st.lists(st.one_of(st.none(), st.integers(0, 10**10)), min_size=7, max_size=7))
def test_fast_rows_write_the_same_sheet_as_openpyxl(tmp_path_factory, texts: list[str], amounts: list) -> None:
    data = small_fixture()
    f = data["findings"].copy()
    f["message"], f["counterparty"] = texts, list(reversed(texts))
    f["amount_pence"] = pd.array(amounts, dtype="Int64")
    data["findings"] = f
    d = tmp_path_factory.mktemp("fast")
    kw = dict(period="2025-05", run_time=RUN_TIME, policy_version="2025.1", **data)
    fast = write_workbook(d / "fast.xlsx", **kw)
    slow = write_workbook(d / "slow.xlsx", fast_rows=False, **kw)
    assert _sheet_xml(fast) == _sheet_xml(slow)
    assert dump_workbook(fast) == dump_workbook(slow)
