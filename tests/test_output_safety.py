"""What reaches the reports from untrusted input: account and NI numbers masked in every shape,
identifiers never a formula, report files with ordinary modes, no temporary files left."""
from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from dpaudit.core.mask import mask_text
from dpaudit.report import atomic_write_bytes
from dpaudit.report.csvs import write_exceptions_csv, write_recommendations_csv

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.mark.parametrize("text,hidden,shown", [
    ("TFR ACC03914726 REF", "03914726", "****4726"),
    ("to GB29 NWBK 6016 1331 9268 19 today", "60161331926819", "****6819"),
    ("IBAN GB29NWBK60161331926819", "NWBK60161331926819", "****6819"),
    ("account 0391 4726", "0391 4726", "****4726"),
    ("account 0391-4726", "0391-4726", "****4726"),
    ("statement_12345678.csv", "12345678", "****5678"),
    ("NI QQ 12 34 56 C", "QQ 12 34 56", "****56C"),
    ("NI AB123456D", "AB123456", "****56D"),
    ("TFR TO A/C 1234567", "1234567", "****4567"),
    ("card 4921123412341234", "4921123412341234", "****1234"),
])
def test_account_and_ni_numbers_are_masked_in_every_shape(text, hidden, shown):
    out = mask_text(text)
    assert hidden not in out and shown in out, out


@pytest.mark.parametrize("text", ["FY 2025-2026", "on 2026-01-05", "£1,234.56", "sort code 40-47-84", "R00012",
                                  "employee E000091", "recipient 001234", "inbox/2026-01/0012345/receipts.csv",
                                  "Paid 123456 on 05/01/2026"])
def test_dates_years_money_and_short_ids_are_left_alone(text):
    assert mask_text(text) == text


def _finding(rid: str) -> dict:
    return {"exception_id": "abc", "period": "2026-01", "recipient_id": rid, "rule_id": "EV-NO-EVIDENCE",
            "severity": "high", "txn_date": None, "amount_pence": 500, "counterparty": "=HYPERLINK(1)",
            "txn_ref": "@SUM(1)", "line_id": "+L1", "message": "-x", "clause": "PBP 5.2", "status": "open"}


def test_identifiers_from_the_public_never_become_formulas(tmp_path):
    f = pd.DataFrame([_finding("@SUM(1)"), _finding("=1+1")])
    text = write_exceptions_csv(tmp_path / "e.csv", f).read_text()
    for payload in ("@SUM(1)", "=1+1", "=HYPERLINK(1)", "+L1"):
        assert f",'{payload}" in text or f"\"'{payload}" in text, (payload, text)
    assert not re.search(r",[=+@]", text)
    recs = pd.DataFrame([{"recipient_id": "=cmd|' /C calc'!A0", "period": "2026-01", "action": "REVIEW", "amount_pence": 0,
                          "grounds": "", "clauses": "", "reasons": "x", "respond_by": None}])
    assert "'=cmd" in write_recommendations_csv(tmp_path / "r.csv", recs).read_text()


def test_report_files_have_ordinary_modes_and_no_temporary_file_is_left(tmp_path):
    old = os.umask(0o022)
    try:
        p = atomic_write_bytes(tmp_path / "a.csv", b"x\n")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(p.stat().st_mode)
    import dpaudit.report as rep

    assert mode == 0o666 & ~rep._UMASK
    assert [x.name for x in tmp_path.iterdir()] == ["a.csv"]


def test_no_full_account_number_reaches_any_report_of_the_sample(tmp_path):
    """Every account number of the sample's recipients, in any output file, shows only its last 4 digits."""
    from dpaudit.pipeline import run_period

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    box = data / "inbox" / "2026-01" / "R00001"
    accounts = pd.read_csv(data / "reference" / "recipients.csv", dtype=str)["account_number"].dropna().tolist()
    # statement files named after the account, as banks name downloads (one a copy: a duplicate-file
    # finding quotes both names), and a statement that cannot be read, whose reason quotes its name
    (box / "statement_2026-01.ofx").rename(box / f"Statement_{accounts[0]}_Jan.ofx")
    shutil.copy(box / f"Statement_{accounts[0]}_Jan.ofx", box / f"copy of {accounts[0]}.ofx")
    (box / f"{accounts[0]} broken.ofx").write_text("OFXHEADER:100\nnot a statement\n")
    run_period(data, "2026-01", reports_dir=tmp_path / "reports", db_path=tmp_path / "db.duckdb", officer="P")
    outputs = [p for p in (tmp_path / "reports").rglob("*") if p.is_file() and p.suffix in (".csv", ".json", ".md")]
    assert len(outputs) >= 5
    every = " ".join(p.read_text(encoding="utf-8") for p in outputs)
    tail = accounts[0][-4:]
    assert f"Statement_****{tail}_Jan.ofx" in every and f"copy of ****{tail}.ofx" in every  # the files are named
    for p in outputs:
        text = p.read_text(encoding="utf-8")
        for acct in accounts:
            assert acct not in text, f"{acct} in {p.name}"


def test_a_sheet_never_exceeds_excels_rows_and_the_summary_says_so(tmp_path, monkeypatch):
    """Sheets are cut at Excel's row limit (here shrunk to 4 rows) keeping the most important rows,
    and the Summary says how many are shown and where the rest are."""
    import openpyxl

    import dpaudit.report.workbook as wbmod
    from test_workbook import small_fixture, write_small

    monkeypatch.setattr(wbmod, "EXCEL_MAX_ROWS", 4)
    fx = small_fixture()
    p = write_small(tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(p)
    ex = wb["Exceptions"]
    assert ex.max_row == 4  # header + 1 of the 7 findings + a blank row and the totals row
    assert ex.cell(row=2, column=4).value == "high" and ex.cell(row=4, column=1).value == "Total"
    summary = " ".join(str(c.value) for row in wb["Summary"].iter_rows() for c in row if c.value is not None)
    assert f"shows the first 1 of {len(fx['findings'])} rows" in summary and "every row is in exceptions.csv" in summary
    assert wb["Data quality"].max_row <= 4


def test_account_digits_and_same_account_take_missing_values_of_every_kind():
    from dpaudit.core.mask import account_digits, same_account

    for missing in (None, float("nan"), pd.NA):
        assert account_digits(missing) == ""
        assert same_account(missing, missing, "40-47-84", "11223344") is None
    assert account_digits("40-47-84") == "404784" and account_digits(11223344) == "11223344"
    assert same_account("", "****3344", "404784", "11223344") is True
