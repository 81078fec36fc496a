"""Letters a family can act on (issue 14, item 5), on the sample council's February with the
officer's decisions: no internal codes, each payment behind a reason listed, the repayment equal
to the payments and funds it is made of, the council's contact details and how to pay from the
policy's [council] table, what follows a STOP, and dates that agree with the workbook."""
from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from dpaudit import pipeline
from dpaudit.core.money import parse_pence

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
CODE = re.compile(r"\b(?:DQ|EV|SP|AC|PY|RV|STOP|YEAR-END|RULE)-[A-Z0-9-]+|\brecipient R\d")
OVERRIDE = """
[council]
name = "Trafford Council"
phone = "0161 496 0999"
[council.payment]
sort_code = "99-88-77"
account_number = "87654321"
reference = "TDP{recipient_id}"
"""


@pytest.fixture(scope="module")
def february(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("letters")
    data = root / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    (data / "policy.toml").write_text(OVERRIDE, encoding="utf-8")
    db, rep = root / "s.duckdb", root / "r"
    for p in ("2026-01", "2026-02"):
        pipeline.run_period(data, p, reports_dir=rep, db_path=db, officer="Preparer")
    pipeline.import_decision_file(data / "officer_decisions.csv", data, db_path=db)
    pipeline.report_period(data, "2026-02", reports_dir=rep, db_path=db)
    return rep / "2026-02"


def letters(folder: Path) -> dict[str, str]:
    out = {p.name: p.read_text(encoding="utf-8") for p in sorted((folder / "letters").glob("*.txt"))}
    assert any(n.endswith("_stop.txt") for n in out) and any(n.endswith("_repay.txt") for n in out), sorted(out)
    return out


def test_no_internal_codes_in_any_letter(february):
    for name, text in letters(february).items():
        html = (february / "letters" / name.replace(".txt", ".html")).read_text(encoding="utf-8")
        assert not CODE.search(text), (name, CODE.search(text))
        assert not CODE.search(html), (name, CODE.search(html))
        assert "PBP" not in text and "Personal Budget Policy" in text


def test_each_reason_once_with_its_payments_and_the_amount_adds_up(february):
    recs = pd.read_csv(february / "recommendations.csv", dtype=str).set_index("recipient_id")
    for name, text in letters(february).items():
        rid = name.split("_")[1]
        reasons = text.split("The reasons for our decision")[1].split("\n\n", 1)[1].split("\n\n")[0]
        items = [ln[2:] for ln in reasons.splitlines() if ln.startswith("- ")]
        assert len(items) == len(set(items)) and items, name  # each reason once
        payments = re.findall(r"^  - (\d{1,2} \w+ \d{4}): (£[\d,]+\.\d\d) paid to (.+)$", reasons, re.M)
        assert payments, f"{name} lists no payment"
        # the payments of each repayment ground (the STOP "not used as agreed" reason lists earlier months')
        blocks = re.split(r"^- ", reasons, flags=re.M)[1:]
        to_repay = [p for b in blocks if "not been used as agreed" not in b.splitlines()[0]
                    for p in re.findall(r"^  - \d{1,2} \w+ \d{4}: £([\d,]+\.\d\d) paid to", b, re.M)]
        amount = parse_pence(recs.loc[rid, "amount"])
        if amount:
            listed = sum(parse_pence(a.replace(",", "")) for a in to_repay)
            held_back = sum(parse_pence(m.replace(",", "")) for m in
                            re.findall(r"Funds held back above the contingency[^:]*: £([\d,]+\.\d\d)", reasons))
            assert listed + held_back == amount, (name, listed, held_back, amount)
            assert f"The amount to repay is £{amount // 100:,}.{amount % 100:02d}" in text


def test_contact_and_how_to_pay_come_from_the_policy(february):
    for name, text in letters(february).items():
        assert text.startswith("Trafford Council") and "0161 496 0999" in text
        rid = name.split("_")[1]
        if "The amount to repay is" in text:
            assert "sort code 99-88-77, account number 87654321" in text and f"reference TDP{rid}" in text
        assert "complaints procedure at any time" in text and "team manager" in text and "service manager" in text
        assert "anyone or any organisation you choose" in text and "reconsider" in text


def test_stop_letter_says_what_support_follows(february):
    stops = {n: t for n, t in letters(february).items() if n.endswith("_stop.txt")}
    for name, text in stops.items():
        assert "does not stop" in text and "review meeting" in text and "third party" in text, name


def test_dates_agree_with_the_workbook_and_never_the_clock(february):
    recs = pd.read_csv(february / "recommendations.csv", dtype=str).set_index("recipient_id")
    for name, text in letters(february).items():
        rid = name.split("_")[1]
        respond_by = date.fromisoformat(recs.loc[rid, "respond_by"])
        letter_date = respond_by - timedelta(days=28)
        assert f"Date: {letter_date.day} {letter_date:%B %Y}" in text
        assert f"{respond_by.day} {respond_by:%B %Y}" in text
        assert date.today().strftime("%B %Y") not in text or date.today().strftime("%B %Y") in (
            f"{respond_by:%B %Y}", f"{letter_date:%B %Y}")
