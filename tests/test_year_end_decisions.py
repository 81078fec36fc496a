"""Year end with decisions (issue 14, item 2): a workbook with a decision per recipient, and a
letter only for a repayment an officer accepted."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from dpaudit import pipeline

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def council(tmp_path_factory):
    root = tmp_path_factory.mktemp("ye")
    data = root / "data"
    shutil.copytree(SAMPLE, data)
    for p in ("2026-01", "2026-02", "2026-03"):
        pipeline.run_period(data, p, reports_dir=root / "r", db_path=root / "db.duckdb", officer="Prep A")
    return data, root / "r", root / "db.duckdb"


def year_end(council):
    data, reports, db = council
    pipeline.run_year_end(data, 2025, reports_dir=reports, db_path=db)
    return reports / "FY2025"


def officer_decides(book: Path, decisions: dict[str, str], out: Path) -> Path:
    wb = load_workbook(book)
    ws = wb["Year end"]
    head = {c.value: c.column - 1 for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        eid = row[head["exception_id"]].value
        if eid in decisions:
            row[head["decision"]].value = decisions[eid]
    wb.save(out)
    return out


def test_letters_follow_accepted_repayments_only(council, tmp_path):
    data, reports, db = council
    out = year_end(council)
    ye = pd.read_csv(out / "year_end.csv", dtype={"recipient_id": str})
    owing = ye.loc[ye["repayment"] > 0, "recipient_id"].tolist()
    assert len(owing) >= 2  # the sample council has families who must repay
    assert not list((out / "letters").glob("*")), "no letter before an officer decides"

    wb = load_workbook(out / "year_end.xlsx")
    ws = wb["Year end"]
    head = [c.value for c in ws[1]]
    assert {"Recipient", "Repayment", "decision", "note", "exception_id"} <= set(head)
    ids = [r[head.index("exception_id")] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] not in (None, "Total")]
    assert sorted(ids) == sorted(f"YE-FY2025-{rid}" for rid in ye["recipient_id"])
    assert any(dv.sqref and "accept" in (dv.formula1 or "") for dv in ws.data_validations.dataValidation)
    assert ws.page_setup.orientation == "landscape"

    yes, no = owing[0], owing[1]
    returned = officer_decides(out / "year_end.xlsx", {f"YE-FY2025-{yes}": "accept", f"YE-FY2025-{no}": "dismiss"},
                               tmp_path / "returned.xlsx")
    res, check = pipeline.import_decision_file(returned, data, officer="Officer B", db_path=db)
    assert res.appended == 2 and check.ok
    out = year_end(council)
    letters = sorted(p.name for p in (out / "letters").glob("*.txt"))
    assert letters == [f"FY2025_{yes}_repay.txt"]
    text = (out / "letters" / letters[0]).read_text()
    amount = ye.loc[ye["recipient_id"] == yes, "repayment"].iloc[0]
    assert f"£{amount:,.2f}" in text
    # dated the day the officer accepted it, not 31 March nor the machine's clock at the re-run
    from dpaudit.store import open_store
    with open_store(db, read_only=True) as con:
        when = con.execute("SELECT max(decided_at) FROM decisions WHERE exception_id = ?", [f"YE-FY2025-{yes}"]).fetchone()[0]
    assert f"Date: {when.day} {when:%B %Y}" in text

    # the officer changes their mind: the letter goes
    again = tmp_path / "again.csv"
    again.write_text(f"exception_id,decision,officer\nYE-FY2025-{yes},dismiss,Officer B\n")
    pipeline.import_decision_file(again, data, officer="Officer B", db_path=db)
    out = year_end(council)
    assert not list((out / "letters").glob("*"))
