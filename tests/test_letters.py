"""Decision letters: every element PBP 5.4/5.5 and the MDR review route require, in text, HTML and DOCX."""
from __future__ import annotations

import re
import shutil
from datetime import date
from html import unescape
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from docx import Document

from dpaudit.report.letters import (LetterError, build_letters, family_text, write_accepted_letters, write_letters,
                                    year_end_letters)

CODE = re.compile(r"\b(?:DQ|EV|SP|AC|PY|RV|STOP|YEAR-END)-[A-Z0-9-]+|\brecipient R\d")

LETTER_DATE = date(2025, 6, 5)


def repay_letter(**over) -> dict:
    d = dict(recipient_id="R001", child_name="Amy Smith", account_holder="Ms Jo Smith", support_officer="Sam Patel",
             action="REPAY", amount_pence=123456,
             reasons=["Spend of £50.00 at BET365 on 03/05/2025 is not allowed (PBP 4.3.2).",
                      "Debits of £1,184.56 have had no receipts for more than 28 days (PBP 5.2)."],
             grounds=[("SP-PROHIBITED", "PBP 4.3.2"), ("EV-NO-EVIDENCE", "PBP 5.2")], clauses="PBP 4.3.2; PBP 5.2",
             respond_by=date(2025, 7, 3),
             period="2025-05", letter_date=LETTER_DATE)
    d.update(over)
    return d


def stop_letter(**over) -> dict:
    d = dict(recipient_id="R002", child_name="Ben Lee", account_holder="Mr Al Lee", support_officer="Kim Roe",
             action="STOP", amount_pence=0,
             reasons=["The payment has not been used as agreed: high-severity misuse in 2 of the last 3 months (PBP 5.5)."],
             grounds=["STOP-MISUSE"], clauses=["PBP 5.5"], respond_by=date(2025, 7, 3), period="2025-05",
             letter_date=LETTER_DATE)
    d.update(over)
    return d


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def html_text(html: str) -> str:
    return flat(unescape(re.sub(r"<[^>]+>", " ", html)))


def docx_text(path: Path) -> str:
    return flat(" ".join(p.text for p in Document(str(path)).paragraphs))


def assert_required_elements(text: str, letter: dict) -> None:
    if letter["action"] == "REPAY":
        assert "we are asking you to repay £1,234.56" in text
        assert "The amount to repay is £1,234.56" in text
        assert "repay it by 3 July 2025" in text and "28 days" in text
        assert "instalments" in text
    else:
        assert "we have decided to stop the direct payment" in text
        assert "stop the direct payment from 3 July 2025" in text
    for reason in letter["reasons"]:
        assert flat(family_text(reason)) in text
        assert text.count(flat(family_text(reason))) == 1  # each reason once
    assert not CODE.search(text), CODE.search(text)  # no rule id, ground code or recipient id for the family
    assert "Personal Budget Policy 5.4" in text or "Personal Budget Policy 5.5" in text
    assert "right to ask us to reconsider" in text and "we will reconsider it if you ask (Personal Budget Policy 5.5)" in text
    assert "First, tell your social worker" in text
    assert "the team manager will review the decision" in text
    assert "service manager" in text and "confirm the outcome to you in writing" in text
    assert "supported at any stage by anyone or any organisation you choose" in text
    assert "complaints procedure at any time" in text
    assert letter["account_holder"] in text and letter["child_name"] in text and "5 June 2025" in text


@pytest.mark.parametrize("letter", [repay_letter(), stop_letter()], ids=["repay", "stop"])
def test_every_required_element_in_text_html_and_docx(tmp_path: Path, letter: dict) -> None:
    paths = write_letters(tmp_path, [letter])
    by_ext = {p.suffix: p for p in paths}
    assert set(by_ext) == {".docx", ".txt", ".html"}
    assert by_ext[".txt"].name == f"2025-05_{letter['recipient_id']}_{letter['action'].lower()}.txt"
    assert_required_elements(flat(by_ext[".txt"].read_text(encoding="utf-8")), letter)
    assert_required_elements(html_text(by_ext[".html"].read_text(encoding="utf-8")), letter)
    assert_required_elements(docx_text(by_ext[".docx"]), letter)


def test_docx_structure(tmp_path: Path) -> None:
    docx = [p for p in write_letters(tmp_path, [repay_letter()]) if p.suffix == ".docx"][0]
    paras = Document(str(docx)).paragraphs
    headings = [p.text for p in paras if p.style.name.startswith("Heading")]
    assert headings[0] == "Our decision: we are asking you to repay £1,234.56"
    assert "Your right to ask us to reconsider" in headings and "How a disagreement is reviewed" in headings
    bullets = [p.text for p in paras if p.style.name == "List Bullet"]
    assert bullets[0].startswith("Spend of £50.00 at BET365") and any(b.startswith("First, tell your social worker") for b in bullets)


def test_stop_with_no_money_says_so(tmp_path: Path) -> None:
    txt = [p for p in write_letters(tmp_path, [stop_letter()]) if p.suffix == ".txt"][0].read_text(encoding="utf-8")
    assert "This letter does not ask you to repay any money." in txt and "instalments" not in txt


def test_html_is_escaped(tmp_path: Path) -> None:
    letter = repay_letter(child_name="<script>alert(1)</script>", reasons=["Spend at <b>PUB</b> & bar (PBP 4.3.2)."])
    html = [p for p in write_letters(tmp_path, [letter]) if p.suffix == ".html"][0].read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;PUB&lt;/b&gt; &amp; bar" in html


def test_bad_letters_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(LetterError, match="REVIEW"):
        write_letters(tmp_path / "a", [repay_letter(), repay_letter(action="REVIEW")])
    assert not (tmp_path / "a").exists()
    with pytest.raises(LetterError, match="amount above"):
        write_letters(tmp_path / "b", [repay_letter(amount_pence=0)])
    with pytest.raises(LetterError, match="no reasons"):
        write_letters(tmp_path / "c", [repay_letter(reasons=[])])
    with pytest.raises(LetterError, match="missing support_officer"):
        write_letters(tmp_path / "d", [repay_letter(support_officer="")])
    with pytest.raises(LetterError, match="not after the letter date"):
        write_letters(tmp_path / "e", [repay_letter(respond_by=LETTER_DATE)])


def test_council_can_edit_templates(tmp_path: Path) -> None:
    tdir = tmp_path / "tpl"
    shutil.copytree(str(resources.files("dpaudit.resources").joinpath("templates")), tdir)
    t = tdir / "letter.txt.j2"
    t.write_text(t.read_text(encoding="utf-8").replace("Yours sincerely,", "With kind regards,"), encoding="utf-8")
    paths = write_letters(tmp_path / "out", [repay_letter(council_name="Trafford Council")], template_dir=tdir)
    txt = [p for p in paths if p.suffix == ".txt"][0].read_text(encoding="utf-8")
    assert "With kind regards," in txt and txt.startswith("Trafford Council")
    assert "With kind regards," in docx_text([p for p in paths if p.suffix == ".docx"][0])


def test_build_letters_only_for_accepted_repay_and_stop() -> None:
    recs = pd.DataFrame([
        ("R001", "2025-05", "REPAY", 123456, "SP-PROHIBITED;EV-NO-EVIDENCE", "PBP 4.3.2;PBP 5.2",
         "Spend at BET365 is not allowed (PBP 4.3.2). Debits have no receipts (PBP 5.2).", date(2025, 7, 3)),
        ("R002", "2025-05", "STOP", 0, "STOP-MISUSE", "PBP 5.5", "Not used as agreed (PBP 5.5).", None),
        ("R003", "2025-05", "REPAY", 500, "SP-CASH", "PBP 5.2", "Cash (PBP 5.2).", date(2025, 7, 3)),
        ("R004", "2025-05", "REVIEW", 0, "EV-NO-EVIDENCE", "PBP 5.2", "Receipts missing.", None),
    ], columns=["recipient_id", "period", "action", "amount_pence", "grounds", "clauses", "reasons", "respond_by"])
    statuses = pd.DataFrame({"exception_id": ["REC-2025-05-R001", "REC-2025-05-R002", "REC-2025-05-R003",
                                              "REC-2025-05-R004"],
                             "status": ["accepted", "accepted", "dismissed", "accepted"]})
    people = pd.DataFrame({"recipient_id": ["R001", "R002", "R003", "R004"], "child_name": list("ABCD"),
                           "account_holder": ["Ma", "Mb", "Mc", "Md"], "support_officer": ["S1", "S2", None, "S4"]})
    letters = build_letters(recs, statuses, people, letter_date=LETTER_DATE)
    assert [(x["recipient_id"], x["action"]) for x in letters] == [("R001", "REPAY"), ("R002", "STOP")]
    assert [r["text"] for r in letters[0]["reasons"]] == ["Spend at BET365 is not allowed (PBP 4.3.2).",
                                                          "Debits have no receipts (PBP 5.2)."]
    assert letters[1]["respond_by"] == date(2025, 7, 3)  # letter date + 28 days when none was set
    assert letters[0]["grounds"] == [("SP-PROHIBITED", None), ("EV-NO-EVIDENCE", None)]
    assert letters[1]["grounds"] == [("STOP-MISUSE", "PBP 5.5")]


def test_recommendation_framing_left_out_and_clauses_paired(tmp_path: Path) -> None:
    recs = pd.DataFrame([("R001", "2025-05", "STOP", 25000, "SP-PROHIBITED;STOP-MISUSE", "PBP 4.3.2; PBP 5.5",
                          "We recommend that the direct payment stops. The payment has not been used as agreed: "
                          "£250.00 of misuse this month (PBP 5.5). In addition, £250.00 should be repaid (PBP 5.4). "
                          "Spend of £250.00 at BET365 on 03/05/2025 is not allowed (PBP 4.3.2). "
                          "Please respond by 28 June 2025. 1 finding an officer dismissed is not counted.",
                          date(2025, 6, 28))],
                        columns=["recipient_id", "period", "action", "amount_pence", "grounds", "clauses", "reasons",
                                 "respond_by"])
    statuses = pd.DataFrame({"exception_id": ["REC-2025-05-R001"], "status": ["accepted"]})
    people = pd.DataFrame({"recipient_id": ["R001"], "child_name": ["Amy"], "account_holder": ["Jo"],
                           "support_officer": ["Sam"]})
    [letter] = build_letters(recs, statuses, people, letter_date=LETTER_DATE, clause_of={"SP-PROHIBITED": "PBP 4.3.2"})
    assert [r["text"] for r in letter["reasons"]] == [
        "The payment has not been used as agreed: £250.00 of misuse this month (PBP 5.5).",
        "Spend of £250.00 at BET365 on 03/05/2025 is not allowed (PBP 4.3.2)."]
    txt = flat([p for p in write_letters(tmp_path, [letter]) if p.suffix == ".txt"][0].read_text(encoding="utf-8"))
    assert "is not allowed (Personal Budget Policy 4.3.2)" in txt and "this month (Personal Budget Policy 5.5)" in txt
    assert not CODE.search(txt)
    assert "we have decided to stop the direct payment" in txt
    assert "We are also asking you to repay £250.00" in txt and "The amount to repay is £250.00" in txt
    assert "instalments" in txt and "28 June 2025" in txt


def test_write_accepted_letters_from_the_store(tmp_path: Path) -> None:
    from dpaudit.decide.decisions import import_decisions
    from dpaudit.store import insert_df, open_store

    with open_store(tmp_path / "s.duckdb") as con:
        insert_df(con, "recipients", pd.DataFrame({"recipient_id": ["R001", "R002"], "child_name": ["Amy", "Ben"],
                                                   "account_holder": ["Jo", "Al"], "support_officer": ["Sam", "Kim"]}))
        insert_df(con, "findings", pd.DataFrame({"exception_id": ["e1"], "rule_id": ["SP-PROHIBITED"],
                                                 "clause": ["PBP 4.3.2"], "period": ["2025-05"]}))
        insert_df(con, "recommendations", pd.DataFrame({
            "period": "2025-05", "recipient_id": ["R001", "R002"], "action": ["REPAY", "STOP"],
            "amount_pence": [5000, 0], "grounds": ["SP-PROHIBITED", "STOP-REQUESTED"], "clauses": ["PBP 4.3.2", "PBP 5.5"],
            "reasons": ["Spend of £50.00 at BET365 is not allowed (PBP 4.3.2).", "The family asked us to stop (PBP 5.5)."],
            "respond_by": [date(2025, 6, 28)] * 2, "prepared_by": "auditor.a"}))
        assert write_accepted_letters(con, tmp_path / "none", "2025-05", letter_date=LETTER_DATE) == []
        import_decisions(con, pd.DataFrame({"exception_id": ["REC-2025-05-R001"], "decision": ["accept"]}),
                         known_ids={"REC-2025-05-R001", "REC-2025-05-R002"}, officer_default="officer.b", source="t")
        paths = write_accepted_letters(con, tmp_path / "letters", "2025-05", letter_date=LETTER_DATE)
    assert sorted(p.name for p in paths) == ["2025-05_R001_repay.docx", "2025-05_R001_repay.html", "2025-05_R001_repay.txt"]
    txt = flat((tmp_path / "letters" / "2025-05_R001_repay.txt").read_text(encoding="utf-8"))
    assert "repay £50.00" in txt and "is not allowed (Personal Budget Policy 4.3.2)" in txt and not CODE.search(txt)


def test_year_end_letters(tmp_path: Path) -> None:
    ye = pd.DataFrame({"recipient_id": ["R001", "R002"], "repayment_pence": [20000, 0],
                       "reasons": ["Surplus of £1,400.00 is above the 10% carry-forward of £1,200.00 (PBP 5.3, 5.4).", ""]})
    people = pd.DataFrame({"recipient_id": ["R001", "R002"], "child_name": ["Amy", "Ben"], "account_holder": ["Jo", "Al"],
                           "support_officer": ["Sam", "Kim"]})
    letters = year_end_letters(ye, people, fy=2025, letter_date=date(2026, 4, 20))
    assert [x["recipient_id"] for x in letters] == ["R001"]
    txt = flat([p for p in write_letters(tmp_path, letters) if p.suffix == ".txt"][0].read_text(encoding="utf-8"))
    assert "repay £200.00" in txt and "the financial year April 2025 to March 2026" in txt
    assert "18 May 2026" in txt and "complaints procedure at any time" in txt
