"""Statement ingest: counted once, idempotent, crash-safe, quarantined with reasons; statement checks."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpaudit import store
from dpaudit.audit.findings import finalise
from dpaudit.audit.data import load_audit_data
from dpaudit.audit.rules import RULES
from dpaudit.ingest.schemas import quarantine_id
from dpaudit.ingest.statements import ingest_statements, statement_files
from dpaudit.core.policy import load_policy
from killpoints import kill_at

FIX = Path(__file__).parent / "fixtures" / "statements"
CORPUS = Path(os.environ.get("DPAUDIT_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
POLICY = load_policy()
PERIOD = "2025-05"
HEADER = "date,description,amount,balance,type,reference,sort_code,account_number"


def _pounds(p: int) -> str:
    return f"{'-' if p < 0 else ''}{abs(p) // 100}.{abs(p) % 100:02d}"


def canonical(rows: list[tuple[date, str, int]], opening: int = 0, account: str = "11223344",
              sort_code: str = "40-47-84") -> str:
    """A canonical CSV with a consistent running balance."""
    bal, lines = opening, [HEADER]
    for d, desc, pence in rows:
        bal += pence
        lines.append(f"{d.isoformat()},{desc},{_pounds(pence)},{_pounds(bal)},DEBIT,,{sort_code},{account}")
    return "\n".join(lines) + "\n"


def put(data: Path, rid: str, name: str, text: str | bytes, period: str = PERIOD) -> Path:
    p = data / "inbox" / period / rid / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def raw_findings(con, period: str, rule_ids: list[str]) -> pd.DataFrame:
    """The raw findings (with their keys) of some registered rules for ``period``."""
    data = load_audit_data(con, period, POLICY)
    frames = [RULES[r](data).assign(rule_id=r, period=period) for r in rule_ids]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["rule_id", "key", "message"])


def run(data: Path, period: str = PERIOD):
    """Ingest the period's statements; the counts and the rejected-row and duplicate-file findings."""
    with store.open_store(data / "dp.duckdb") as con:
        counts = ingest_statements(con, data, period, POLICY)
        return counts, raw_findings(con, period, ["DQ-ROW-REJECTED", "DQ-DUPLICATE-FILE"])


def q(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    with store.open_store(data / "dp.duckdb") as con:
        return con.execute(sql, params or []).fetchall()


# ---- corpus: every file ingested or quarantined, nothing escapes --------------------------------

def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted([*(CORPUS / "ofx").glob("*"), *(CORPUS / "csv").glob("*")])


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (set DPAUDIT_CORPUS)")
    data = tmp_path_factory.mktemp("corpus")
    for f in _corpus_files():
        put(data, "C001", f.name, f.read_bytes())
    counts, findings = run(data)
    return data, counts, findings


@pytest.mark.parametrize("path", _corpus_files() or [pytest.param(None, marks=pytest.mark.skip(reason="no corpus"))],
                         ids=lambda p: p.name if p else "none")
def test_corpus_file_is_ingested_or_quarantined_with_reason(corpus_store, path):
    data, _counts, findings = corpus_store
    rel = f"inbox/{PERIOD}/C001/{path.name}"
    (sha,) = q(data, "SELECT sha256 FROM file_paths WHERE path = ?", [rel])[0]
    status, reason = q(data, "SELECT status, reason FROM files WHERE sha256 = ?", [sha])[0]
    assert status in ("ingested", "quarantined")
    if status == "quarantined":
        assert reason and len(reason) > 20 and "maintainers" not in reason  # a reason, not a reader crash
        qrows = q(data, "SELECT reason FROM quarantine WHERE file_sha256 = ? AND row_no IS NULL AND column_name = ''", [sha])
        assert qrows, "a quarantined file has a quarantine row"
        fpath = q(data, "SELECT path FROM files WHERE sha256 = ?", [sha])[0][0]
        assert (findings["key"] == quarantine_id(fpath, None, "")).any()
        assert findings["message"].str.contains(f"Statement file {fpath} was not read", regex=False).any()
    else:
        n = q(data, "SELECT sum(n_txns) FROM statements WHERE file_sha256 = ?", [sha])[0][0]
        assert n is not None and n > 0


def test_corpus_counts_add_up(corpus_store):
    _data, counts, findings = corpus_store
    assert counts["files_seen"] == len(_corpus_files())
    assert counts["files_ingested"] + counts["files_quarantined"] + counts["files_duplicate"] == counts["files_seen"]
    assert counts["files_ingested"] >= 15 and counts["files_duplicate"] == 1
    assert counts["txns_new"] <= counts["txns_read"]
    f = finalise(findings, POLICY)
    assert len(f) == len(findings) and f["exception_id"].is_unique


# ---- counted once --------------------------------------------------------------------------------

def _may(day: int) -> date:
    return date(2025, 5, day)


def test_overlapping_statements_count_once_and_identical_payments_are_kept(tmp_path):
    rows = [(_may(1), "STOCKPORT MBC DP", 100000), (_may(2), "SWIM SCHOOL", -2500), (_may(2), "SWIM SCHOOL", -2500),
            (_may(12), "A PA WAGES", -40000), (_may(20), "TESCO", -1234), (_may(28), "TESCO", -1234)]
    full = canonical(rows)
    put(tmp_path, "R1", "first_half.csv", canonical(rows[:4]))
    put(tmp_path, "R1", "overlap.csv", canonical(rows[1:], opening=100000))
    counts, _ = run(tmp_path)
    assert counts["txns_read"] == 4 + 5 and counts["txns_new"] == 6
    amounts = [r[0] for r in q(tmp_path, "SELECT amount_pence FROM transactions ORDER BY posted_date, amount_pence")]
    assert amounts == [100000, -2500, -2500, -40000, -1234, -1234]
    put(tmp_path, "R1", "full.csv", full)
    counts2, _ = run(tmp_path)
    assert counts2["files_ingested"] == 1 and counts2["txns_new"] == 0


def test_two_recipients_without_account_numbers_never_merge(tmp_path):
    text = "date,description,amount\n2025-05-01,STOCKPORT MBC DP,1000.00\n"
    put(tmp_path, "R1", "s.csv", text)
    put(tmp_path, "R2", "s.csv", text.replace("1000.00", "1000.00\n"))  # different bytes, same transaction
    run(tmp_path)
    assert q(tmp_path, "SELECT recipient_id, count(*) FROM transactions GROUP BY 1 ORDER BY 1") == [("R1", 1), ("R2", 1)]


def test_ofx_keyed_by_fitid(tmp_path):
    text = (FIX / "uk_current.ofx").read_text()
    put(tmp_path, "R1", "may.ofx", text)
    put(tmp_path, "R1", "may_again.ofx", text.replace("<DTSERVER>20250601120000", "<DTSERVER>20250602090000"))
    counts, _ = run(tmp_path)
    assert counts["files_ingested"] == 2 and counts["txns_read"] == 10 and counts["txns_new"] == 5
    assert q(tmp_path, "SELECT count(DISTINCT fitid) FROM transactions")[0][0] == 5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_overlapping_slices_count_once_and_rerun_adds_nothing(data):
    days = list(range(1, 32))
    n = data.draw(st.integers(5, 30))
    base = sorted((_may(data.draw(st.sampled_from(days))),
                   data.draw(st.sampled_from(["TESCO", "SWIM", "PA WAGES"])),
                   data.draw(st.sampled_from([-1234, -2500, -40000, 100000]))) for _ in range(n))
    slices = data.draw(st.lists(st.tuples(st.integers(1, 31), st.integers(0, 30)), min_size=1, max_size=5))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        covered: set[int] = set()
        for i, (a, length) in enumerate(slices):
            b = min(31, a + length)
            covered |= set(range(a, b + 1))
            put(d, "R1", f"slice{i}.csv", canonical([r for r in base if a <= r[0].day <= b]) if any(
                a <= r[0].day <= b for r in base) else "date,description,amount\n")
        counts, _ = run(d)
        expected = sum(1 for r in base if r[0].day in covered)
        stored = q(d, "SELECT count(*), coalesce(sum(amount_pence), 0) FROM transactions")[0]
        assert stored == (expected, sum(r[2] for r in base if r[0].day in covered))
        again, f2 = run(d)
        assert again["txns_new"] == 0 and again["files_ingested"] == 0 and again["files_quarantined"] == 0
        assert q(d, "SELECT count(*) FROM transactions")[0][0] == expected


def test_duplicate_file_and_rerun_give_the_same_findings(tmp_path):
    text = (FIX / "canonical.csv").read_text()
    put(tmp_path, "R1", "may.csv", text)
    put(tmp_path, "R1", "may_copy.csv", text)
    counts, f1 = run(tmp_path)
    assert counts["files_ingested"] == 1 and counts["files_duplicate"] == 1 and counts["txns_new"] == 4
    dup = f1[f1["rule_id"] == "DQ-DUPLICATE-FILE"]
    assert dup["key"].tolist() == [f"inbox/{PERIOD}/R1/may_copy.csv"]
    assert "inbox/2025-05/R1/may.csv" in dup["message"].iloc[0]
    counts2, f2 = run(tmp_path)
    assert counts2 == {**counts2, "files_seen": 2, "files_ingested": 0, "files_duplicate": 0, "txns_new": 0}
    assert finalise(f1, POLICY)["exception_id"].tolist() == finalise(f2, POLICY)["exception_id"].tolist()


def test_evidence_files_and_scans_are_not_statements(tmp_path):
    put(tmp_path, "R1", "receipts.csv", "receipt_id,date,supplier,amount\n1,2025-05-01,X,1.00\n")
    put(tmp_path, "R1", "Payslips.xlsx", b"PK")
    put(tmp_path, "R1", "scan.pdf", b"%PDF")
    put(tmp_path, "R1", "photo.JPG", b"\xff\xd8")
    put(tmp_path, "R1", "~$bank.xlsx", b"lock")
    put(tmp_path, "R1", "bank.csv", (FIX / "canonical.csv").read_text())
    put(tmp_path, "R1", "bank.QFX", (FIX / "oneline.qfx").read_text())
    assert [p.name for _, p in statement_files(tmp_path, PERIOD)] == ["bank.QFX", "bank.csv"]


def test_rejected_rows_and_files_are_quarantined_masked(tmp_path):
    text = canonical([(_may(1), "DP", 1000), (_may(2), "SHOP", -100)])
    text += "2025-05-03,SHOP,12.345,,DEBIT,,40-47-84,11223344\n2025-05-04,EXTRA,1.00,1.00,DEBIT,,40-47-84,11223344,99887766\n"
    put(tmp_path, "R1", "bank.csv", text)
    put(tmp_path, "R1", "foreign.csv", "When,What,How much\nAccount 55667788,x,1\n")
    counts, findings = run(tmp_path)
    assert counts["files_ingested"] == 1 and counts["files_quarantined"] == 1 and counts["rows_rejected"] == 3
    rej = findings[findings["rule_id"] == "DQ-ROW-REJECTED"]
    where = {(f"inbox/{PERIOD}/R1/bank.csv", 4, "amount"), (f"inbox/{PERIOD}/R1/bank.csv", 5, "(row)"),
             (f"inbox/{PERIOD}/R1/foreign.csv", None, "")}
    assert set(q(tmp_path, "SELECT path, row_no, column_name FROM quarantine")) == where
    assert set(rej["key"]) == {quarantine_id(*w) for w in where}
    assert all(len(k) == 16 for k in rej["key"])
    assert rej["message"].str.contains("row 4, column amount").any()
    quarantine = q(tmp_path, "SELECT value_masked, reason FROM quarantine")
    blob = " ".join(str(x) for row in quarantine for x in row) + " ".join(findings["message"])
    for full in ("11223344", "99887766", "55667788"):
        assert full not in blob
    assert "****3344" in blob


def test_a_quarantined_file_is_read_once_its_profile_is_added(tmp_path):
    put(tmp_path, "R1", "coop.csv", "When,What,How much\n01/05/2025,Shop,-1.00\n02/05/2025,Council,10.00\n")
    counts, f1 = run(tmp_path)
    assert counts["files_quarantined"] == 1 and (f1["rule_id"] == "DQ-ROW-REJECTED").sum() == 1
    again, _ = run(tmp_path)  # still unknown: nothing changes
    assert again["files_quarantined"] == again["files_ingested"] == 0
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "coop.toml").write_text(
        'name = "coop"\n[header]\ncolumns = ["When", "What", "How much"]\n'
        '[columns]\ndate = "When"\ndescription = "What"\namount = "How much"\n')
    counts3, f3 = run(tmp_path)
    assert counts3["files_ingested"] == 1 and counts3["txns_new"] == 2 and f3.empty
    assert q(tmp_path, "SELECT status, profile FROM files") == [("ingested", "coop")]
    assert q(tmp_path, "SELECT count(*) FROM quarantine")[0][0] == 0


# ---- crash safety --------------------------------------------------------------------------------

_CHILD = """
from pathlib import Path
from dpaudit.ingest import statements as ist
from dpaudit import store
from dpaudit.core.policy import load_policy
ist.WRITE_BATCH_FILES = {batch}
data = Path({data!r})
with store.open_store(data / "dp.duckdb") as con:
    ist.ingest_statements(con, data, "2025-05", load_policy())
"""
KILL_FILES, KILL_ROWS, KILL_BATCH = 16, 300, 4  # four batches of four files


def _big_inbox(data: Path, files: int, rows: int) -> None:
    for i in range(files):
        lines = [HEADER]
        for k in range(rows):
            d = _may(1 + k % 28)
            lines.append(f"{d.isoformat()},PAYEE {i}-{k % 97},-{1 + k % 50}.{k % 100:02d},,DEBIT,,40-47-84,{10000000 + i}")
        put(data, f"R{i % 4}", f"s{i:03d}.csv", "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def loaded_reference(tmp_path_factory):
    """The inbox the kill test uses, loaded without interruption: what every killed run must end as."""
    ref = tmp_path_factory.mktemp("kill-ref")
    _big_inbox(ref, KILL_FILES, KILL_ROWS)
    run(ref)
    return ref


# (checkpoint, n, files committed when killed there)
KILL_POINTS = [
    ("statements.batch_written", 1, 0),     # inside the first transaction, before its commit
    ("statements.batch_committed", 1, 4),   # right after the first commit
    ("statements.batch_written", 3, 8),     # mid-way, the third batch written but not committed
    ("statements.batch_committed", 3, 12),
    ("statements.loaded", 1, 16),           # between the last batch and the final bookkeeping
]


@pytest.mark.parametrize("point,n,committed", KILL_POINTS, ids=[f"{p}-{n}" for p, n, _ in KILL_POINTS])
def test_kill_minus_9_mid_load_then_rerun_loses_and_duplicates_nothing(tmp_path, loaded_reference, point, n, committed):
    data = tmp_path / "killed"
    shutil.copytree(loaded_reference / "inbox", data / "inbox")
    passed = kill_at(_CHILD.format(data=str(data), batch=KILL_BATCH), point, n, DPAUDIT_WORKERS="1")
    assert passed[-1] == f"{point} {n}"
    assert q(data, "SELECT count(*) FROM files")[0][0] == committed
    # whatever was committed is whole: every file row has all its transactions
    assert q(data, "SELECT count(*) FROM transactions")[0][0] == committed * KILL_ROWS
    whole = q(data, """SELECT count(*) FROM statements s JOIN statement_totals t USING (file_sha256, stmt_index)
                       WHERE s.n_txns <> (SELECT count(*) FROM transactions x WHERE x.file_sha256 = s.file_sha256)""")
    assert whole[0][0] == 0
    counts, _ = run(data)
    assert counts["files_ingested"] == KILL_FILES - committed
    got = q(data, "SELECT txn_id, amount_pence, file_sha256 FROM transactions ORDER BY txn_id")
    want = q(loaded_reference, "SELECT txn_id, amount_pence, file_sha256 FROM transactions ORDER BY txn_id")
    assert got == want and len(got) == KILL_FILES * KILL_ROWS
    assert q(data, "SELECT count(*) FROM files")[0][0] == KILL_FILES


# ---- statement checks ----------------------------------------------------------------------------

def _recipients(data: Path, rows: list[dict]) -> None:
    base = dict(child_name="X", management_type="direct_payment", sort_code="40-47-84", account_number="11223344",
                dp_start_date=date(2024, 4, 1), dp_end_date=None, status="active")
    with store.open_store(data / "dp.duckdb") as con:
        store.insert_df(con, "recipients", pd.DataFrame([{**base, **r} for r in rows]))


STATEMENT_RULES = ["DQ-STATEMENT-MISSING", "DQ-STATEMENT-GAP", "DQ-BALANCE-BREAK", "DQ-WRONG-ACCOUNT"]


def _checks(data: Path, period: str = PERIOD) -> pd.DataFrame:
    with store.open_store(data / "dp.duckdb") as con:
        return raw_findings(con, period, STATEMENT_RULES)


def test_missing_and_gap_follow_coverage_rules(tmp_path):
    _recipients(tmp_path, [
        {"recipient_id": "R1"}, {"recipient_id": "R2"}, {"recipient_id": "R3"},
        {"recipient_id": "R4", "status": "stopped"}, {"recipient_id": "R5", "dp_start_date": date(2025, 5, 15)},
        {"recipient_id": "R6", "management_type": "notional"}, {"recipient_id": "R7", "dp_end_date": date(2025, 4, 30)},
        {"recipient_id": "R8", "sort_code": None, "account_number": "0042"},  # paid onto a prepaid card
    ])
    put(tmp_path, "R1", "may.csv", canonical([(_may(9), "DP", 1000)]))  # CSV: covers the whole month
    ofx = (FIX / "uk_current.ofx").read_text().replace("30963412345678", "40478411223344").replace("<BANKID>309634", "<BANKID>404784")
    put(tmp_path, "R3", "part.ofx", ofx.replace("<DTEND>20250531", "<DTEND>20250520").replace(
        "<DTSTART>20250501", "<DTSTART>20250503"))
    put(tmp_path, "R5", "half.ofx", ofx.replace("<DTSTART>20250501", "<DTSTART>20250515"))
    run(tmp_path)
    f = _checks(tmp_path)
    got = {(r.rule_id, r.recipient_id) for r in f.itertuples()}
    assert {("DQ-STATEMENT-MISSING", "R2"), ("DQ-STATEMENT-GAP", "R3"), ("DQ-STATEMENT-MISSING", "R8")} <= got
    assert not {r for r in got if r[1] in ("R1", "R4", "R5", "R6", "R7") and r[0].startswith("DQ-STATEMENT")}
    gap = f[(f.rule_id == "DQ-STATEMENT-GAP")]["message"].iloc[0]
    assert "2025-05-01 to 2025-05-02" in gap and "2025-05-21 to 2025-05-31" in gap and "13 day(s)" in gap
    missing = f[(f.rule_id == "DQ-STATEMENT-MISSING")]["message"].iloc[0]
    assert "****3344" in missing and "11223344" not in missing and "Send the statement" in missing
    card = f[(f.rule_id == "DQ-STATEMENT-MISSING") & (f.recipient_id == "R8")]["message"].iloc[0]
    assert "No card statement" in card and "****0042" in card and "card provider's portal" in card
    assert len(finalise(f, POLICY)) == len(f)


def test_balance_break_found_to_the_penny(tmp_path):
    _recipients(tmp_path, [{"recipient_id": "R1"}])
    may = canonical([(_may(1), "DP", 100000), (_may(5), "SHOP", -1234)])
    june = canonical([(date(2025, 6, 2), "DP", 100000)], opening=98766 + 1)  # opens 1p above May's close
    put(tmp_path, "R1", "may.csv", may)
    put(tmp_path, "R1", "june.csv", june, period="2025-06")
    run(tmp_path)
    run(tmp_path, "2025-06")
    assert not (_checks(tmp_path)["rule_id"] == "DQ-BALANCE-BREAK").any()
    jf = _checks(tmp_path, "2025-06")
    br = jf[jf.rule_id == "DQ-BALANCE-BREAK"]
    assert br["amount_pence"].tolist() == [1] and "£987.67" in br["message"].iloc[0] and "£987.66" in br["message"].iloc[0]
    # within one statement: the last balance is 1p out
    lines = canonical([(_may(1), "DP", 100000), (_may(5), "SHOP", -1234)], account="11223344").splitlines()
    lines[-1] = lines[-1].replace(",987.66,", ",987.65,")
    put(tmp_path, "R1", "may_v2.csv", "\n".join(lines) + "\n", period="2025-05")
    run(tmp_path)
    mf = _checks(tmp_path)
    within = mf[mf.rule_id == "DQ-BALANCE-BREAK"]
    assert within["amount_pence"].tolist() == [-1] and "does not add up" in within["message"].iloc[0]


def test_wrong_account_compares_digits_and_masks(tmp_path):
    _recipients(tmp_path, [{"recipient_id": "R1", "sort_code": "309634", "account_number": "12345678"},
                           {"recipient_id": "R2", "sort_code": "30-96-34", "account_number": "87654321"},
                           {"recipient_id": "R3", "account_number": "99934567"}])
    put(tmp_path, "R1", "ok.ofx", (FIX / "uk_current.ofx").read_text())       # 30-96-34 12345678 via ACCTID
    put(tmp_path, "R2", "wrong.ofx", (FIX / "uk_v2.ofx").read_bytes())         # 12345678, not 87654321
    put(tmp_path, "R3", "masked.csv", (FIX / "nationwide_cp1252.csv").read_bytes())  # ****34567 matches ...34567
    run(tmp_path)
    f = _checks(tmp_path)
    wrong = f[f.rule_id == "DQ-WRONG-ACCOUNT"]
    assert wrong["recipient_id"].tolist() == ["R2"]
    msg = wrong["message"].iloc[0]
    assert "****5678" in msg and "****4321" in msg and not re.search(r"\d{6,}", msg)
