"""The OFX fast path reads exactly what ofxparse reads, or hands the file to ofxparse.

``read_ofx`` first tries ``_fast_parse`` (the plain shape of a bank statement, without
BeautifulSoup) and falls back to ofxparse for anything else.  These tests read every OFX/QFX file
we have both ways (``fast=False`` sends the file to ofxparse) and demand identical statements, and
generate statements with hypothesis (dates with time zones, amounts, payees with XML entities) to
do the same.
"""
from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpaudit.synth import formats as sf
from dpaudit.ingest.readers.ofx import _fast_parse, read_ofx
from dpaudit.ingest.readers.statement import conform_transactions, transactions_from_rows
from dpaudit.ingest.readers.tabular import UnreadableFile

HERE = Path(__file__).parent
ROOT = HERE.parent
CORPUS = Path(os.environ.get("DPAUDIT_CORPUS") or ROOT.parent / "shared" / "corpus")
MAX = 10 * 1024 * 1024


def _both_ways(path: Path):
    out = []
    for fast in (True, False):
        try:
            out.append(read_ofx(path, MAX, fast=fast))
        except UnreadableFile as exc:
            out.append(("unreadable", str(exc)))
    return out


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b, where
        return
    assert len(a) == len(b), where
    for x, y in zip(a, b):
        for k, v in vars(x).items():
            if k == "transactions":
                pd.testing.assert_frame_equal(v, y.transactions, obj=f"{where} transactions")
            else:
                assert v == getattr(y, k), f"{where}: {k} {v!r} != {getattr(y, k)!r}"


def _ofx_files() -> list[Path]:
    roots = [HERE / "fixtures", ROOT / "sample_data"] + ([CORPUS] if CORPUS.is_dir() else [])
    return sorted(p for r in roots for p in r.rglob("*") if p.suffix.lower() in (".ofx", ".qfx"))


def test_every_ofx_file_we_have_reads_the_same_both_ways():
    files = _ofx_files()
    fast_taken = 0
    for f in files:
        fast_taken += _fast_parse(f.read_bytes().decode("latin-1")) is not None
        a, b = _both_ways(f)
        _assert_same(a, b, str(f))
    assert len(files) >= 10
    assert fast_taken >= 5  # the plain files do take the fast path
    if CORPUS.is_dir():
        assert len(files) >= 50


def _acct():
    return sf.Account(sort_code="309634", account_number="01234567", holder="A PARENT")


def _txns(draw_amounts, names, start: date) -> list[sf.Txn]:
    return [sf.Txn(start + timedelta(days=i % 28), amt, name, "card" if amt < 0 else "credit", ref=f"REF {i}",
                   mcc="5411" if i % 3 == 0 else "")
            for i, (amt, name) in enumerate(zip(draw_amounts, names))]


NAMES = st.text(alphabet=st.sampled_from(list("ABCXYZ &<>'\"-./0123")), min_size=1, max_size=20).filter(str.strip)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(-500_000, 500_000), min_size=0, max_size=12),
       names=st.lists(NAMES, min_size=12, max_size=12), xml=st.booleans())
def test_generated_statements_read_the_same_both_ways(tmp_path, amounts, names, xml):
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    data = (sf.ofx2 if xml else sf.ofx1)(_acct(), _txns(amounts, names, start), start, end, opening=10_000)
    path = tmp_path / "s.ofx"
    path.write_bytes(data)
    assert _fast_parse(data.decode("latin-1")) is not None  # generated statements are plain
    a, b = _both_ways(path)
    _assert_same(a, b, data.decode()[:2000])
    assert sum(a[0].transactions["amount_pence"]) == sum(amounts)


@pytest.mark.parametrize("stamp", ["20260305", "20260305120000", "20260305000000[-5:EST]", "20260305233000[+1:BST]",
                                   "20260305233000.123[0:GMT]", "20260305T1200"])
def test_dates_with_time_zones_follow_ofxparse(tmp_path, stamp):
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    text = sf.ofx1(_acct(), _txns([-1000], ["SHOP"], start), start, end, opening=5000).decode()
    text = text.replace("<DTPOSTED>20260301", f"<DTPOSTED>{stamp}")
    path = tmp_path / "tz.ofx"
    path.write_text(text)
    a, b = _both_ways(path)
    _assert_same(a, b, stamp)


DECLINED = {
    "non-ASCII payee": ("<NAME>SHOP", "<NAME>CAFÉ"),
    "an HTML entity": ("<NAME>SHOP", "<NAME>SHOP&nbsp;ONE"),
    "a second statement": ("</STMTRS>", "</STMTRS><STMTRS><CURDEF>GBP<BANKACCTFROM><ACCTID>9</BANKACCTFROM></STMTRS>"),
    "euros": ("<CURDEF>GBP", "<CURDEF>EUR"),
    "a status error": ("<CODE>0", "<CODE>2000"),
    "an unknown element in a transaction": ("<TRNAMT>", "<CURRENCY><CURRATE>1</CURRENCY><TRNAMT>"),
    "no FITID": ("<FITID>", "<XFITID>"),
    "a comment": ("<BANKTRANLIST>", "<!-- hi --><BANKTRANLIST>"),
    "a bad amount": ("<TRNAMT>-10.00", "<TRNAMT>-10,00"),
}


@pytest.mark.parametrize("why", sorted(DECLINED))
def test_anything_unusual_goes_to_ofxparse(tmp_path, why):
    old, new = DECLINED[why]
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    text = sf.ofx1(_acct(), _txns([-1000, 2500], ["SHOP", "COUNCIL"], start), start, end, opening=5000).decode()
    assert _fast_parse(text) is not None and old in text
    changed = text.replace(old, new, 1)
    assert _fast_parse(changed) is None, why
    path = tmp_path / "u.ofx"
    path.write_bytes(changed.encode("utf-8"))
    a, b = _both_ways(path)
    _assert_same(a, b, why)


def test_rows_builder_gives_the_reader_dtypes():
    rows = [(date(2026, 3, 1), -1250, "SHOP REF", "SHOP", "POS", "5411", None, "F1", 1),
            (date(2026, 3, 2), 90000, None, None, None, None, 12345, None, 2)]
    built = transactions_from_rows(rows)
    cols = ["posted_date", "amount_pence", "description", "payee", "txn_type", "mcc", "balance_pence", "fitid",
            "position"]
    expected = conform_transactions(pd.DataFrame([dict(zip(cols, r)) for r in rows]))
    pd.testing.assert_frame_equal(built, expected)
    assert transactions_from_rows([]).dtypes.equals(expected.dtypes)
