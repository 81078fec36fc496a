"""Bank CSV/XLSX exports through data-file profiles: each bank, the corpus, detection, limits."""
from __future__ import annotations

import os
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpaudit.ingest.readers.bank_csv import ProfileError, load_profiles, read_bank_table, read_bank_tables
from dpaudit.ingest.readers.tabular import UnreadableFile

FIX = Path(__file__).parent / "fixtures" / "statements"
CORPUS = Path(os.environ.get("DPAUDIT_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
PROFILES = load_profiles(None)

# file, profile, sort code, account, amounts (pence, source order), opening, closing
CASES = [
    ("barclays.csv", "barclays", "203206", "53124567", [120000, -4850, -32000, -125075], None, None),
    ("hsbc.csv", "hsbc", "", "", [145000, -1240, -64000, -500], None, None),
    ("lloyds.csv", "lloyds", "309626", "07654321", [-1800, -41000, 150000], 64150, 171350),
    ("natwest.csv", "natwest", "600123", "23456789", [98000, -4500, -2319], 20000, 111181),
    ("santander.csv", "santander", "090128", "44556677", [100000, -8999, -3210], 25000, 112791),
    ("nationwide_cp1252.csv", "nationwide", "", "****34567", [60000, -1270, -17500], 10000, 51230),
    ("monzo.csv", "monzo", "", "", [80000, -435, -1200], None, None),
    ("starling.csv", "starling", "", "", [110000, -6000, -1425], 25000, 127575),
    ("canonical.csv", "canonical", "404784", "11223344", [100000, -2500, -2500, -40000], 0, 55000),
]


@pytest.mark.parametrize("name,profile,sort_code,account,amounts,opening,closing", CASES, ids=[c[1] for c in CASES])
def test_each_bank_profile(name, profile, sort_code, account, amounts, opening, closing):
    st_ = read_bank_table(FIX / name, PROFILES)
    assert st_.profile == profile and st_.source_format == "csv" and st_.currency == "GBP"
    assert (st_.sort_code, st_.account_number) == (sort_code, account)
    assert st_.transactions["amount_pence"].tolist() == amounts
    assert (st_.opening_balance_pence, st_.closing_balance_pence) == (opening, closing)
    assert st_.rejects == []
    t = st_.transactions
    assert str(t["amount_pence"].dtype) == "Int64" and str(t["posted_date"].dtype).startswith("datetime64")
    assert t["posted_date"].dt.month.eq(5).all()  # every fixture is May 2025: day-first, never US order
    assert st_.start_date == t["posted_date"].min().date() and st_.end_date == t["posted_date"].max().date()
    if opening is not None:
        assert opening + sum(amounts) == closing


def test_profile_details():
    nw = read_bank_table(FIX / "nationwide_cp1252.csv", PROFILES)
    assert nw.transactions["description"].tolist()[1] == "CAFÉ ROUGE"  # cp1252 0xC9
    assert nw.transactions["txn_type"].tolist()[0] == "BANK CREDIT"
    nat = read_bank_table(FIX / "natwest.csv", PROFILES)
    assert nat.transactions["description"].iloc[0] == "STOCKPORT MBC , DP MAY"  # Excel apostrophe removed
    monzo = read_bank_table(FIX / "monzo.csv", PROFILES)
    assert monzo.transactions["payee"].tolist() == ["Stockport MBC", "Café Nero", "Decathlon"]
    assert monzo.transactions["amount_pence"].iloc[2] == -1200  # account currency, not the EUR local amount
    star = read_bank_table(FIX / "starling.csv", PROFILES)
    assert star.transactions["description"].iloc[1] == "Kids Activity Club INV 0042"
    lloyds = read_bank_table(FIX / "lloyds.csv", PROFILES)
    assert lloyds.transactions["position"].tolist() == [2, 3, 4]


# ---- the real corpus (third-party files) ------------------------------------------------------

def _corpus(name: str) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (set DPAUDIT_CORPUS)")
    return CORPUS / "csv" / name


def test_corpus_lloyds():
    s = read_bank_table(_corpus("lloyds_sample-statement.csv"), PROFILES)
    assert (s.profile, s.sort_code, s.account_number) == ("lloyds", "998874", "1515152252")
    assert len(s.transactions) == 12 and s.rejects == []
    assert s.transactions["amount_pence"].iloc[0] == -899 and s.transactions["amount_pence"].iloc[3] == 200000
    # newest first: the earliest row is last; opening = its balance less its amount
    assert s.opening_balance_pence == 642670 - 50000 and s.closing_balance_pence == 204059
    assert (s.start_date, s.end_date) == (date(2023, 12, 1), date(2024, 1, 15))


def test_corpus_nationwide_statement_and_midata():
    s = read_bank_table(_corpus("nationwide_test-statement.csv"), PROFILES)
    assert s.profile == "nationwide" and s.account_number == "****12345"
    assert s.transactions["amount_pence"].tolist()[:4] == [-3000, -5000, -3000, 1000]
    m = read_bank_table(_corpus("nationwide_test-midata.csv"), PROFILES)
    assert m.profile == "nationwide_midata" and len(m.transactions) == 8
    assert m.transactions["amount_pence"].tolist()[:2] == [-5200, -1500]
    assert m.closing_balance_pence == -200  # newest first; the footer after the blank line is not data


@pytest.mark.parametrize("name,row,fragment", [
    ("nationwide_bad-statement-1.csv", 6, "7 fields but the header has 6"),
    ("nationwide_bad-statement-2.csv", 6, "5 fields but the header has 6"),
    ("nationwide_bad-statement-4.csv", 6, "not a date"),
    ("nationwide_bad-midata-1.csv", 4, "6 fields but the header has 5"),
])
def test_corpus_bad_rows_are_rejected_not_shifted(name, row, fragment):
    s = read_bank_table(_corpus(name), PROFILES)
    assert [r[0] for r in s.rejects] == [row] and fragment in s.rejects[0][3]
    assert row not in s.transactions["position"].tolist()


def test_corpus_card_credit_marked_plus_and_cr():
    s = read_bank_table(_corpus("jl-partnership_sample-statement.csv"), PROFILES)
    amounts = s.transactions["amount_pence"].tolist()
    assert amounts[0] == -9999 and 123456 in amounts  # "+ £1,234.56",CR is a credit
    ms = read_bank_table(_corpus("bank2ynab_MS_JANE_SMITH_01-12-2019_14-12-2019.csv"), PROFILES)
    assert [r[2] for r in ms.rejects] == ["Pending"] * 3 and -118323 in ms.transactions["amount_pence"].tolist()


@pytest.mark.parametrize("name,reason", [
    ("revolut_2021-october.csv", "in EUR; DP accounts are in GBP"),
    ("bank2ynab_test_BOI_TransactionExport.csv", "in EUR; DP accounts are in GBP"),
    ("hledger_sample.fr.cp1252.csv", r"header seen was \[Date, Remarque, Montant\]"),
    ("bank2ynab_TransactionHistory_20180418043121.csv", r"Withdrawals \(SGD\)"),
    ("bank2ynab_statement_1.csv", "no bank profile matches"),
])
def test_corpus_refusals(name, reason):
    with pytest.raises(UnreadableFile, match=reason):
        read_bank_table(_corpus(name), PROFILES)


# ---- detection and user profiles --------------------------------------------------------------

def test_unknown_layout_names_the_header_and_masks_numbers(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("Account 12345678,\nWhen,What,How much\n01/05/2025,Shop,-1.00\n")
    with pytest.raises(UnreadableFile) as e:
        read_bank_table(p, PROFILES)
    assert "[When, What, How much]" in str(e.value) and "12345678" not in str(e.value)


def _write_profile(data_dir: Path, name: str, header: str, extra: str = "") -> None:
    (data_dir / "profiles").mkdir(parents=True, exist_ok=True)
    (data_dir / "profiles" / f"{name}.toml").write_text(
        f'name = "{name}"\nbank = "Test bank"\n{extra}\n[header]\ncolumns = [{header}]\n'
        f'[columns]\ndate = "When"\ndescription = "What"\namount = "How much"\n')


def test_council_adds_a_profile_without_code(tmp_path):
    _write_profile(tmp_path, "coop", '"When", "What", "How much"')
    p = tmp_path / "x.csv"
    p.write_text("When,What,How much\n01/05/2025,Shop,-1.00\n02/05/2025,Council,\"£1,000.00\"\n")
    s = read_bank_table(p, load_profiles(tmp_path))
    assert s.profile == "coop" and s.transactions["amount_pence"].tolist() == [-100, 100000]


def test_two_profiles_claiming_a_file_is_an_error_naming_both(tmp_path):
    _write_profile(tmp_path, "aaa", '"When", "What", "How much"')
    _write_profile(tmp_path, "bbb", '"When", "What", "How much"')
    p = tmp_path / "x.csv"
    p.write_text("When,What,How much\n01/05/2025,Shop,-1.00\n")
    with pytest.raises(UnreadableFile, match="'aaa'.*'bbb'"):
        read_bank_table(p, load_profiles(tmp_path))


def test_same_name_replaces_the_builtin(tmp_path):
    _write_profile(tmp_path, "canonical", '"When", "What", "How much"')
    names = [p.name for p in load_profiles(tmp_path)]
    assert names.count("canonical") == 1


@pytest.mark.parametrize("extra,match", [
    ('[dates]\nformats = ["%m/%d/%Y"]', "month before the day"),
    ('colour = "red"', "unknown key"),
])
def test_bad_profile_is_refused_with_file_and_key(tmp_path, extra, match):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bad.toml").write_text(
        f'name = "bad"\n{extra if not extra.startswith("[") else ""}\n[header]\ncolumns = ["a", "b"]\n'
        f'[columns]\ndate = "a"\namount = "b"\n{extra if extra.startswith("[") else ""}\n')
    with pytest.raises(ProfileError, match=match):
        load_profiles(tmp_path)


def test_every_builtin_profile_loads_and_is_unique():
    names = [p.name for p in PROFILES]
    assert len(names) == len(set(names))
    assert {"barclays", "hsbc", "lloyds", "natwest", "santander", "nationwide", "monzo", "starling",
            "canonical"} <= set(names)


# ---- XLSX ------------------------------------------------------------------------------------

def test_xlsx_canonical_with_a_formula_cell_rejected(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["date", "description", "amount", "balance"])
    ws.append([date(2025, 5, 1), "STOCKPORT MBC", 1000, 1000])
    ws.append(["02/05/2025", "SHOP", "-12.34", "987.66"])
    ws.append(["03/05/2025", "=HYPERLINK(\"http://x\")", "-1.00", "986.66"])
    p = tmp_path / "statement.xlsx"
    wb.save(p)
    s = read_bank_table(p, PROFILES)
    assert s.source_format == "xlsx" and s.transactions["amount_pence"].tolist() == [100000, -1234]
    assert s.rejects[0][0] == 4 and "formula" in s.rejects[0][3]


def test_xlsx_zip_bomb_is_refused_before_loading(tmp_path):
    p = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as w:
            block = b"\0" * (1 << 20)
            for _ in range(200):  # 200 MB of zeros, ~200 KB compressed
                w.write(block)
    assert p.stat().st_size < 1_000_000
    with pytest.raises(UnreadableFile, match="zip bomb"):
        read_bank_table(p, PROFILES)


# ---- invariants ------------------------------------------------------------------------------

def _pounds(pence: int) -> str:
    return f"{'-' if pence < 0 else ''}{abs(pence) // 100}.{abs(pence) % 100:02d}"


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 28), st.integers(-500_000, 500_000)), min_size=1, max_size=15),
       start=st.integers(-100_000, 100_000))
def test_paid_in_out_and_signed_layouts_agree(tmp_path_factory, rows, start):
    """The same transactions as canonical (signed) and Lloyds (debit/credit, newest first) read equal."""
    d = tmp_path_factory.mktemp("eq")
    bal, canon, lloyds = start, ["date,description,amount,balance"], []
    for day, pence in rows:
        bal += pence
        pounds, b = _pounds(pence), _pounds(bal)
        canon.append(f"{day:02d}/05/2025,ITEM,{pounds},{b}")
        debit, credit = (pounds.lstrip("-"), "") if pence < 0 else ("", pounds)
        lloyds.append(f"{day:02d}/05/2025,DEB,'11-22-33,12345678,ITEM,{debit},{credit},{b},")
    (d / "c.csv").write_text("\n".join(canon) + "\n")
    (d / "l.csv").write_text("Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,"
                             "Debit Amount,Credit Amount,Balance,\n" + "\n".join(reversed(lloyds)) + "\n")
    c = read_bank_table(d / "c.csv", PROFILES)
    l_ = read_bank_table(d / "l.csv", PROFILES)
    assert c.transactions["amount_pence"].tolist() == [p for _, p in rows]
    assert l_.transactions["amount_pence"].tolist()[::-1] == [p for _, p in rows]
    assert c.closing_balance_pence == bal
    assert c.opening_balance_pence == start
    if len({p for _, p in rows}) == len(rows) and all(p != 0 for _, p in rows):
        # with distinct non-zero amounts the newest-first order is recognised from the balances
        assert (l_.opening_balance_pence, l_.closing_balance_pence) == (start, bal)
    assert isinstance(c.transactions, pd.DataFrame)


def test_the_documented_example_reads_as_documented(tmp_path):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "profiles.md").read_text()
    blocks = doc.split("```")
    export = next(b for b in blocks if b.startswith("\nAccount:")).lstrip("\n")
    profile = next(b for b in blocks if b.startswith("toml\nname = \"my_building_society\""))[len("toml\n"):]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "my_building_society.toml").write_text(profile)
    (tmp_path / "export.csv").write_text(export)
    s = read_bank_table(tmp_path / "export.csv", load_profiles(tmp_path))
    assert s.profile == "my_building_society" and (s.sort_code, s.account_number) == ("070093", "33334444")
    assert s.transactions["amount_pence"].tolist() == [100000, -2500]
    assert (s.opening_balance_pence, s.closing_balance_pence) == (25000, 122500)


# ---- many exports read together give what each gives alone -------------------------------------

def _same(a, b, where: str) -> None:
    if isinstance(a, Exception) or isinstance(b, Exception):
        assert (type(a).__name__, str(a)) == (type(b).__name__, str(b)), where
        return
    for k, v in vars(a).items():
        if k == "transactions":
            pd.testing.assert_frame_equal(v, b.transactions, obj=where)
        else:
            assert v == getattr(b, k), f"{where}: {k}"


def _alone(path: Path, profiles):
    try:
        return read_bank_table(path, profiles)
    except Exception as exc:  # noqa: BLE001 - compared with the batch's result for the same file
        return exc


def test_reading_many_exports_together_gives_each_files_own_result(tmp_path):
    """Fixtures, the corpus and files made to differ only in what is decided per file (account,
    balance order, a foreign-currency export, an empty one, a bad row) read as one batch."""
    files = sorted(FIX.glob("*.csv"))
    if CORPUS.is_dir():
        files += sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".csv", ".xlsx"))
    head = "date,description,amount,balance,type,reference,sort_code,account_number\n"
    made = {
        "a.csv": head + "01/05/2025,PAY,1000.00,1000.00,CREDIT,,40-47-84,11111111\n"
                        "02/05/2025,SHOP,-10.00,990.00,POS,,40-47-84,11111111\n",
        "b.csv": head + "02/05/2025,SHOP,-10.00,990.00,POS,,40-47-84,22222222\n"
                        "01/05/2025,PAY,1000.00,1000.00,CREDIT,,40-47-84,22222222\n",  # newest first
        "c.csv": head + "03/05/2025,SHOP,-1O.00,980.00,POS,,40-47-84,33333333\n"
                        "04/05/2025,SHOP,-5.00,975.00,POS,,40-47-84,33333333\n"
                        "05/05/2025,OTHER,-5.00,970.00,POS,,40-47-84,99999999\n",  # a bad amount, another account
        "d.csv": head,  # a header only
    }
    for name, text in made.items():
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
    monzo = (FIX / "monzo.csv").read_text().splitlines()
    foreign = [monzo[0]] + [ln.replace(",GBP,", ",EUR,") for ln in monzo[1:]]
    (tmp_path / "monzo_eur.csv").write_text("\n".join(foreign) + "\n")
    files += [tmp_path / "monzo_eur.csv", FIX / "monzo.csv"]
    together = read_bank_tables(files, PROFILES)
    assert len(together) == len(files)
    for f, r in zip(files, together):
        _same(r, _alone(f, PROFILES), str(f))
    by_name = {f.name: r for f, r in zip(files, together)}
    assert by_name["b.csv"].opening_balance_pence == 0 and by_name["b.csv"].closing_balance_pence == 99000
    assert by_name["a.csv"].account_number == "11111111" and by_name["b.csv"].account_number == "22222222"
    assert [r[1] for r in by_name["c.csv"].rejects] == ["amount", "account_number"]
    assert isinstance(by_name["d.csv"], UnreadableFile)
    if ",GBP," in (FIX / "monzo.csv").read_text():
        assert isinstance(by_name["monzo_eur.csv"], UnreadableFile) and "EUR" in str(by_name["monzo_eur.csv"])
