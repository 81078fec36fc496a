"""OFX/QFX reader: UK statements, pre-cleaning, refusals, and entity attacks."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from dpaudit.ingest.readers.ofx import PRECLEAN_STEPS, preclean, read_ofx
from dpaudit.ingest.readers.tabular import UnreadableFile

FIX = Path(__file__).parent / "fixtures" / "statements"
CORPUS = Path(os.environ.get("DPAUDIT_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
MAX = 10 * 1024 * 1024


def test_uk_sgml_statement_read_exactly():
    (st,) = read_ofx(FIX / "uk_current.ofx", MAX)
    assert st.source_format == "ofx1" and st.currency == "GBP"
    # ACCTID holds sort code + account; BANKID is the sort code
    assert (st.bank_id, st.sort_code, st.account_number) == ("309634", "309634", "12345678")
    assert (st.start_date, st.end_date) == (date(2025, 5, 1), date(2025, 5, 31))
    t = st.transactions
    assert t["amount_pence"].tolist() == [150000, -2345, -1425, -5000, -41000]
    assert t["txn_type"].tolist() == ["CREDIT", "POS", "DIRECTDEBIT", "ATM", "XFER"]
    assert t["mcc"].tolist()[1] == "5411" and t["mcc"].isna().sum() == 4
    assert t["fitid"].tolist()[0] == "202505010001"
    assert t["position"].tolist() == [1, 2, 3, 4, 5]
    assert t["posted_date"].dt.date.tolist()[1] == date(2025, 5, 3)
    assert st.closing_balance_pence == 120230
    assert st.opening_balance_pence == 120230 - sum(t["amount_pence"].tolist())
    assert str(t["amount_pence"].dtype) == "Int64"


def test_ofx2_utf8_with_pound_sign_and_accents():
    (st,) = read_ofx(FIX / "uk_v2.ofx", MAX)
    assert st.source_format == "ofx2"
    assert st.transactions["payee"].tolist() == ["STOCKPORT MBC", "CAFÉ ROUGE"]
    assert "£1,500" in st.transactions["description"].iloc[0]
    assert st.closing_balance_pence == 269340


def test_qfx_run_together_header_needs_preclean():
    with pytest.raises(UnreadableFile, match="not a readable OFX"):
        read_ofx(FIX / "oneline.qfx", MAX, clean=False)
    (st,) = read_ofx(FIX / "oneline.qfx", MAX)
    assert st.source_format == "qfx" and st.transactions["amount_pence"].tolist() == [-1234]


def test_empty_name_is_kept_after_preclean_and_reported_without_it():
    (raw,) = read_ofx(FIX / "empty_name.ofx", MAX, clean=False)
    assert len(raw.transactions) == 1 and raw.rejects and "Empty transaction name" in raw.rejects[0][3]
    (st,) = read_ofx(FIX / "empty_name.ofx", MAX)
    assert st.transactions["amount_pence"].tolist() == [90000, -3000] and st.rejects == []
    assert st.transactions["description"].iloc[0] == "STOCKPORT MBC DP"


def test_preclean_steps_are_named_and_only_fire_on_their_pattern():
    text = (FIX / "uk_current.ofx").read_text()
    assert preclean(text) == (text, [])
    _, used = preclean((FIX / "oneline.qfx").read_text())
    assert used == [PRECLEAN_STEPS[0][0]]


@pytest.mark.parametrize("name", ["xxe.ofx", "billion_laughs.ofx"])
def test_entity_attacks_are_refused_before_parsing(name):
    with pytest.raises(UnreadableFile, match="DOCTYPE or ENTITY"):
        read_ofx(FIX / name, MAX)


def test_sgml_doctype_is_refused_too(tmp_path):
    body = (FIX / "uk_current.ofx").read_text().replace("<OFX>", '<!DOCTYPE ofx [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<OFX>', 1)
    p = tmp_path / "s.ofx"
    p.write_text(body)
    with pytest.raises(UnreadableFile, match="DOCTYPE or ENTITY"):
        read_ofx(p, MAX)


def test_utf16_file_is_refused(tmp_path):
    p = tmp_path / "s.ofx"
    p.write_bytes((FIX / "uk_v2.ofx").read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16"):
        read_ofx(p, MAX)


def test_size_limit(tmp_path):
    with pytest.raises(UnreadableFile, match="limit"):
        read_ofx(FIX / "uk_current.ofx", 100)


def test_non_gbp_statement_refused_with_reason(tmp_path):
    p = tmp_path / "usd.ofx"
    p.write_text((FIX / "uk_current.ofx").read_text().replace("<CURDEF>GBP", "<CURDEF>USD"))
    with pytest.raises(UnreadableFile, match="currency is USD; DP accounts are in GBP"):
        read_ofx(p, MAX)


def test_mixed_file_keeps_gbp_statement_and_lists_the_refused_one(tmp_path):
    text = (FIX / "uk_current.ofx").read_text()
    start, end = text.index("<STMTTRNRS>"), text.index("</STMTTRNRS>") + len("</STMTTRNRS>")
    usd = text[start:end].replace("<CURDEF>GBP", "<CURDEF>EUR").replace("30963412345678", "99999988887777")
    p = tmp_path / "two.ofx"
    p.write_text(text[:end] + usd + text[end:])
    sts = read_ofx(p, MAX)
    assert len(sts) == 1 and sts[0].account_number == "12345678"
    (row, col, raw, reason) = sts[0].rejects[0]
    assert row is None and col == "STMTRS#2" and "EUR" in reason and "99999988887777" not in raw + reason


def test_sub_penny_amount_is_a_rejected_row(tmp_path):
    p = tmp_path / "s.ofx"
    p.write_text((FIX / "uk_current.ofx").read_text().replace("<TRNAMT>-23.45", "<TRNAMT>-23.4512"))
    (st,) = read_ofx(p, MAX)
    assert len(st.transactions) == 4
    assert st.rejects == [(2, "TRNAMT", "-23.4512", "the amount is not a whole number of pence")]
    assert st.opening_balance_pence is None  # not derivable when a row is missing


def test_not_ofx_and_empty(tmp_path):
    p = tmp_path / "x.ofx"
    p.write_text("hello, world\n")
    with pytest.raises(UnreadableFile, match="no <OFX> element"):
        read_ofx(p, MAX)
    p.write_text("  \n")
    with pytest.raises(UnreadableFile, match="empty"):
        read_ofx(p, MAX)


# ---- the real corpus --------------------------------------------------------------------------

def _corpus(name: str) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (set DPAUDIT_CORPUS)")
    return CORPUS / "ofx" / name


def test_corpus_gbp_credit_card_is_ingested():
    (st,) = read_ofx(_corpus("asgrim-ofxparser_ofxdata-credit-card.ofx"), MAX)
    assert st.currency == "GBP" and st.transactions["amount_pence"].tolist() == [-10000]
    assert st.closing_balance_pence == -50000 and st.transactions["txn_type"].iloc[0] == "POS"


@pytest.mark.parametrize("name,reason", [
    ("ofxparse_fidelity.ofx", "investment statement"),
    ("ofxparse_signon_fail.ofx", "failed bank sign-on"),
    ("ofxparse_signon_success.ofx", "sign-on or status response only"),
    ("ofxparse_error_message.ofx", "code 2000: General Server Error"),
    ("ofxparse_account_listing_aggregation.ofx", "account-list"),
    ("ofxtools_stmtrs_euro.ofx", "currency is USD"),
    ("ofxparse_ofx-v102-empty-tags.ofx", "no currency"),
    ("libofx_use-after-free.ofx", "no <OFX> element"),
    ("ofxgo_busted_wellsfargo.qfx", "currency is USD"),  # readable only after pre-cleaning
])
def test_corpus_refusals_name_the_reason(name, reason):
    with pytest.raises(UnreadableFile, match=reason.replace("(", r"\(")):
        read_ofx(_corpus(name), MAX)
