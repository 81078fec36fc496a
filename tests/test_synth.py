"""Tests of the synthetic council generator and the committed sample council."""
from __future__ import annotations

import csv
import filecmp
import hashlib
import re
import time
from datetime import date
from pathlib import Path

import ofxparse
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decimal import Decimal

from dpaudit.core.money import parse_pence as money_parse_pence
from dpaudit.synth.council import (EVIDENCE_COLUMNS, GROUND_TRUTH_COLUMNS, REFERENCE_COLUMNS, generate, main,
                           periods_from)
from dpaudit.synth.formats import CANONICAL_HEADER, LLOYDS_HEADER
from dpaudit.synth.sample import EXPECTED_COLUMNS, build_sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
RULES_MD = Path("/work/shared/spec/rules.md")
ALL_RULES = [
    "DQ-STATEMENT-MISSING", "DQ-STATEMENT-GAP", "DQ-BALANCE-BREAK", "DQ-WRONG-ACCOUNT", "DQ-ROW-REJECTED",
    "DQ-DUPLICATE-FILE", "DQ-PLAN-INVALID", "EV-NO-EVIDENCE", "EV-AMOUNT-MISMATCH", "EV-ORPHAN-RECEIPT",
    "SP-PROHIBITED", "SP-HOUSEHOLD", "SP-NOT-IN-PLAN", "SP-OVER-BUDGET", "SP-SCHOOL-CONSENT", "SP-CASH",
    "SP-TRANSFER-OUT", "SP-DUPLICATE-PAYMENT", "SP-AFTER-END", "AC-NON-COUNCIL-CREDIT", "AC-PAYMENT-MISSING",
    "AC-OVERDRAWN", "AC-LOW-CONTINGENCY", "AC-SURPLUS", "PY-NO-PAYSLIP", "PY-NET-MISMATCH", "PY-HMRC-UNPAID",
    "PY-NO-INSURANCE", "PY-DBS-MISSING", "PY-BELOW-MIN-WAGE", "PY-UNKNOWN-PAYEE", "RV-REVIEW-DUE",
]
_MON = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                     "Dec"], start=1)}


# ---------------------------------------------------------------------------------------------
# A tiny independent statement reader (opening, closing, transactions) for the invariants
# ---------------------------------------------------------------------------------------------
def parse_pence(text: str) -> int:
    """Fast local money parser for the invariants (``£1,234.56`` -> 123456)."""
    d = Decimal(text.replace("£", "").replace(",", ""))
    assert d == d.quantize(Decimal("0.01")), text
    return int(d * 100)


def test_local_money_parser_agrees_with_dpaudit_money():
    for text in ("0.01", "-12.50", "£1,234.56", "-£7.05", "1804.71"):
        assert parse_pence(text) == money_parse_pence(text)


def read_statement(path: Path) -> dict:
    """(account, opening, closing, [(date, pence)]) from any of the five synthetic formats."""
    data = path.read_bytes()
    if path.suffix == ".ofx":
        text = data.decode("utf-8")

        def tags(tag: str) -> list[str]:
            return re.findall(rf"<{tag}>([^<\n]*)", text)

        def ymd(s: str) -> date:
            return date(int(s[:4]), int(s[4:6]), int(s[6:8]))

        tx = [(ymd(d), parse_pence(a)) for d, a in zip(tags("DTPOSTED"), tags("TRNAMT"))]
        closing = parse_pence(tags("BALAMT")[0])
        return {"account": tags("ACCTID")[0], "sort_code": tags("BANKID")[0], "closing": closing,
                "opening": closing - sum(a for _, a in tx), "txns": tx, "start": ymd(tags("DTSTART")[0]),
                "end": ymd(tags("DTEND")[0])}
    text = data.decode("utf-8")
    rows = list(csv.reader(text.splitlines()))
    if text.startswith("date,description"):
        body = rows[1:]
        tx = [(date.fromisoformat(r[0]), parse_pence(r[2])) for r in body]
        bals = [parse_pence(r[3]) for r in body]
        return {"account": body[0][7], "sort_code": body[0][6], "txns": tx, "closing": bals[-1],
                "opening": bals[0] - tx[0][1], "running": list(zip(tx, bals))}
    if text.startswith(("date,merchant", "Transaction Date,Merchant Name")):  # prepaid-card exports
        portal = text.startswith("Transaction Date")
        body = list(reversed(rows[1:])) if portal else rows[1:]
        status = {"Settled": "settled", "Pending": "authorised", "Declined": "declined", "Reversed": "reversed"}
        st_ = [status.get(r[4], r[4]) for r in body]
        settled = {r[7] for r, s_ in zip(body, st_) if s_ == "settled"}
        # money moved (defs): settled rows, and authorised rows whose reference no settled row has
        moved = [r for r, s_ in zip(body, st_) if s_ == "settled" or (s_ == "authorised" and r[7] not in settled)]
        day = (lambda v: date(int(v[6:]), int(v[3:5]), int(v[:2]))) if portal else date.fromisoformat
        tx = [(day(r[0]), parse_pence(r[3])) for r in moved]
        bals = [parse_pence(r[6]) for r in moved]
        return {"account": body[0][5][-4:], "txns": tx, "closing": bals[-1], "opening": bals[0] - tx[0][1],
                "running": list(zip(tx, bals)), "rows": len(body)}
    if text.startswith("Transaction Date"):
        body = list(reversed(rows[1:]))
        tx = []
        for r in body:
            d = date(int(r[0][6:]), int(r[0][3:5]), int(r[0][:2]))
            tx.append((d, parse_pence(r[6]) if r[6] else -parse_pence(r[5])))
        bals = [parse_pence(r[7]) for r in body]
        return {"account": body[0][3], "sort_code": body[0][2].lstrip("'").replace("-", ""), "txns": tx,
                "closing": bals[-1], "opening": bals[0] - tx[0][1], "running": list(zip(tx, bals))}
    assert rows[0][0] == "Account Name:", path
    body = rows[5:]
    assert rows[4] == ["Date", "Transaction type", "Description", "Paid out", "Paid in", "Balance"]
    tx = []
    for r in body:
        dd, mm, yy = r[0].split()
        d = date(int(yy), _MON[mm], int(dd))
        tx.append((d, parse_pence(r[4]) if r[4] else -parse_pence(r[3])))
    bals = [parse_pence(r[5]) for r in body]
    assert parse_pence(rows[1][1]) == bals[-1]
    return {"account": rows[0][1][-4:], "txns": tx, "closing": bals[-1], "opening": bals[0] - tx[0][1],
            "running": list(zip(tx, bals))}


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def council(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("council")
    generate(out, recipients=40, months=4, seed=7, start_period="2025-12", anomaly_rate=0.3)
    return out


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, recipients=15, months=3, seed=11, anomaly_rate=0.3)
    generate(b, recipients=15, months=3, seed=11, anomaly_rate=0.3)
    generate(c, recipients=15, months=3, seed=12, anomaly_rate=0.3)
    da, db, dc = tree_digest(a), tree_digest(b), tree_digest(c)
    assert da == db
    assert da != dc
    assert da["reference/recipients.csv"] != dc["reference/recipients.csv"]


def test_contract_layout_and_columns(council):
    for name, cols in REFERENCE_COLUMNS.items():
        with (council / "reference" / f"{name}.csv").open(encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == cols, name
    months = sorted(p.name for p in (council / "inbox").iterdir())
    assert months == periods_from("2025-12", 4)
    seen_kinds = set()
    for f in (council / "inbox").rglob("*.csv"):
        header = f.read_text(encoding="utf-8").splitlines()[0]
        if f.stem in EVIDENCE_COLUMNS:
            assert header == ",".join(EVIDENCE_COLUMNS[f.stem]), f
        elif f.name.startswith("statement"):
            assert header in (CANONICAL_HEADER, LLOYDS_HEADER) or header.startswith('"Account Name:"'), f
            seen_kinds.add(header[:12])
    assert len(seen_kinds) == 3  # canonical, Lloyds, Nationwide
    assert list(council.glob("inbox/*/*/*.ofx"))
    with (council / "ground_truth.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == GROUND_TRUTH_COLUMNS


def test_identifiers_keep_leading_zeros(council):
    rows = read_csv(council / "reference" / "recipients.csv")
    assert all(re.fullmatch(r"R\d{5}", r["recipient_id"]) for r in rows)
    assert all(re.fullmatch(r"\d{8}", r["account_number"]) for r in rows)
    assert all(re.fullmatch(r"\d{6}", r["sort_code"]) for r in rows)
    assert any(r["account_number"].startswith("0") for r in rows)
    assert len({r["account_number"] for r in rows}) == len(rows)


def test_balances_continuous_to_the_penny(council):
    recipients = {r["recipient_id"]: r for r in read_csv(council / "reference" / "recipients.csv")}
    breaks = {(r["period"], r["recipient_id"]) for r in read_csv(council / "ground_truth.csv")
              if r["rule_id"] == "DQ-BALANCE-BREAK"}
    checked = 0
    for rid, rec in recipients.items():
        prev_closing = None
        for period in periods_from("2025-12", 4):
            stmts = [p for p in (council / "inbox" / period / rid).glob("statement_*")
                     if "(1)" not in p.name]
            if not stmts:
                prev_closing = None
                continue
            (path,) = stmts
            s = read_statement(path)
            assert s["opening"] + sum(a for _, a in s["txns"]) == s["closing"], path
            if "running" in s:  # each row's balance = previous balance + amount
                bal = s["opening"]
                for (_, amt), shown in s["running"]:
                    bal += amt
                    assert bal == shown, path
            if "sort_code" in s:
                assert s["sort_code"] == rec["sort_code"]
                assert s["account"] == rec["account_number"]
            if prev_closing is not None:
                shift = s["opening"] - prev_closing
                assert (shift != 0) == ((period, rid) in breaks), (path, shift)
            prev_closing = s["closing"]
            checked += 1
    assert checked > 100


def test_ofx_files_parse_with_ofxparse(council):
    """The OFX we write is read by a real parser with the same figures as our own reader."""
    for path in sorted(council.glob("inbox/*/*/statement_*.ofx"))[:6]:
        with path.open("rb") as fh:
            ofx = ofxparse.OfxParser.parse(fh)
        ours = read_statement(path)
        stmt = ofx.account.statement
        assert ofx.account.account_id == ours["account"]
        assert parse_pence(str(stmt.balance)) == ours["closing"]
        assert [parse_pence(str(t.amount)) for t in stmt.transactions] == [a for _, a in ours["txns"]]


def test_statements_cover_one_calendar_month(council):
    for path in council.glob("inbox/*/*/statement_*.ofx"):
        s = read_statement(path)
        period = path.parent.parent.name
        assert s["start"].strftime("%Y-%m") == period
        assert all(d.strftime("%Y-%m") == period for d, _ in s["txns"])


def test_ground_truth_refers_to_existing_recipients_and_periods(council):
    rids = {r["recipient_id"] for r in read_csv(council / "reference" / "recipients.csv")}
    periods = set(periods_from("2025-12", 4))
    truth = read_csv(council / "ground_truth.csv")
    assert len(truth) > 40
    for r in truth:
        # a provider's pattern across all accounts is the council's, not one recipient's
        council_wide = r["rule_id"] == "CO-PROVIDER-PATTERN"
        assert r["recipient_id"] in rids or (council_wide and r["recipient_id"] == "COUNCIL"), r
        assert r["period"] in periods
        assert r["rule_id"] in ALL_RULES or council_wide
        if r["amount"]:
            assert re.fullmatch(r"\d+\.\d{2}", r["amount"]), r
            assert parse_pence(r["amount"]) > 0
    assert len({r["rule_id"] for r in truth}) >= 20


def test_high_anomaly_rate_plants_every_rule(tmp_path):
    summary = generate(tmp_path, recipients=200, months=6, seed=3, anomaly_rate=1.0)
    # the routine purchases are not Benford-distributed: the providers' pattern across accounts fires too
    assert set(summary["by_rule"]) == set(ALL_RULES) | {"CO-PROVIDER-PATTERN"}
    truth = read_csv(tmp_path / "ground_truth.csv")
    assert len(truth) == summary["findings"]
    # a misuse debit without a receipt is also EV-NO-EVIDENCE (rules.md precedence)
    cash = [(r["recipient_id"], r["txn_date"], r["amount"]) for r in truth if r["rule_id"] == "SP-CASH"]
    ev = {(r["recipient_id"], r["txn_date"], r["amount"]) for r in truth if r["rule_id"] == "EV-NO-EVIDENCE"}
    assert cash and all(c in ev for c in cash)


def test_clean_council_has_only_review_findings(tmp_path):
    generate(tmp_path, recipients=30, months=12, seed=3, anomaly_rate=0.0)
    truth = read_csv(tmp_path / "ground_truth.csv")
    assert {r["rule_id"] for r in truth if r["recipient_id"] != "COUNCIL"} == {"RV-REVIEW-DUE"}
    # no family's anomaly, but the generator's prices are not Benford-distributed (a council-wide pattern)
    assert {r["rule_id"] for r in truth if r["recipient_id"] == "COUNCIL"} <= {"CO-PROVIDER-PATTERN"}
    assert not list(tmp_path.glob("inbox/*/*/*(1)*"))


def test_evidence_matches_every_debit_in_a_clean_month(tmp_path):
    generate(tmp_path, recipients=5, months=2, seed=5, anomaly_rate=0.0)
    for folder in (tmp_path / "inbox").glob("*/*"):
        (stmt,) = folder.glob("statement_*")
        s = read_statement(stmt)
        docs = []
        for name, amount_col in (("receipts", "amount"), ("invoices", "amount"), ("payslips", "net"),
                                 ("hmrc", "amount_paid")):
            if (folder / f"{name}.csv").exists():
                docs += [parse_pence(r[amount_col]) for r in read_csv(folder / f"{name}.csv")]
        for d, amt in s["txns"]:
            if amt < 0 and -amt in docs:
                docs.remove(-amt)
            elif amt < 0:
                # only the monthly bank charge has no document
                assert -amt in (300, 500, 750), (stmt, d, amt)
        assert docs == [], folder


def test_payslips_add_up_and_hmrc_paid_by_22nd(council):
    for f in council.glob("inbox/*/*/payslips.csv"):
        for r in read_csv(f):
            assert parse_pence(r["gross"]) - parse_pence(r["tax"]) - parse_pence(r["employee_ni"]) - \
                parse_pence(r["pension_employee"]) == parse_pence(r["net"])
    for f in council.glob("inbox/*/*/hmrc.csv"):
        for r in read_csv(f):
            paid = date.fromisoformat(r["paid_date"])
            assert paid.day <= 22 and paid.strftime("%Y-%m") > r["tax_month"]


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([0.0, 0.5, 1.0]))
def test_every_statement_balances_for_any_seed(tmp_path_factory, seed, rate):
    out = tmp_path_factory.mktemp("h")
    generate(out, recipients=4, months=2, seed=seed, start_period="2026-02", anomaly_rate=rate)
    for path in out.glob("inbox/*/*/statement_*"):
        s = read_statement(path)
        assert s["opening"] + sum(a for _, a in s["txns"]) == s["closing"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, recipients=0, months=1, seed=1)
    with pytest.raises(ValueError):
        generate(tmp_path, recipients=1, months=1, seed=1, anomaly_rate=2)


def test_cli_writes_a_council(tmp_path, capsys):
    assert main(["--recipients", "3", "--months", "2", "--seed", "4", "--out", str(tmp_path / "c"),
                 "--start", "2025-06"]) == 0
    assert (tmp_path / "c" / "inbox" / "2025-07").is_dir()
    assert "3 recipients x 2 months" in capsys.readouterr().out


def test_timing_200_recipients_12_months(tmp_path):
    """Not a speed assertion: prints the time so regressions are visible in -s runs."""
    t0 = time.perf_counter()
    s = generate(tmp_path, recipients=200, months=12, seed=1)
    print(f"\nsynth 200 x 12: {time.perf_counter() - t0:.1f} s, {s['transactions']:,} transactions")
    assert s["transactions"] > 200 * 12 * 40


# ---------------------------------------------------------------------------------------------
# Sample council
# ---------------------------------------------------------------------------------------------
def test_sample_on_disk_equals_a_fresh_build(tmp_path):
    build_sample(tmp_path / "s")
    fresh, disk = tree_digest(tmp_path / "s"), tree_digest(SAMPLE)
    assert fresh == disk, sorted(set(fresh.items()) ^ set(disk.items()))[:5]


def test_every_rule_id_is_planted_in_the_sample():
    rows = read_csv(SAMPLE / "expected_findings.csv")
    assert list(rows[0].keys()) == EXPECTED_COLUMNS
    planted = {r["rule_id"] for r in rows}
    assert set(ALL_RULES) <= planted, set(ALL_RULES) - planted
    if RULES_MD.exists():
        catalogue = set(re.findall(r"^\| ((?:DQ|EV|SP|AC|PY|RV)-[A-Z-]+) \|", RULES_MD.read_text(), re.M))
        assert catalogue == set(ALL_RULES)


def test_sample_has_clean_recipient_months_and_stop_grounds():
    rows = read_csv(SAMPLE / "expected_findings.csv")
    flagged = {(r["recipient_id"], r["period"]) for r in rows}
    clean = {(rid, p) for rid in ("R00001", "R00002") for p in ("2026-01", "2026-03")}
    assert not clean & flagged
    recipients = {r["recipient_id"]: r for r in read_csv(SAMPLE / "reference" / "recipients.csv")}
    assert len(recipients) == 14
    cards = [r for r in recipients.values() if not r["sort_code"] and len(r["account_number"]) == 4]
    assert [r["recipient_id"] for r in cards] == ["R00013", "R00014"]
    assert any(r["stop_requested"] == "yes" for r in recipients.values())
    misuse = {r["period"] for r in rows if r["recipient_id"] == "R00003"
              and r["rule_id"] in ("SP-PROHIBITED", "SP-HOUSEHOLD")}
    assert len(misuse) == 2
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert "R00001 2026-01" in readme and "statement_xxe.ofx" in readme


def test_sample_formats_and_hostile_files():
    inbox = SAMPLE / "inbox"
    texts = {p: p.read_bytes() for p in inbox.rglob("statement*")}
    assert any(b"VERSION:102" in t for t in texts.values())
    assert any(b'OFXHEADER="200"' in t for t in texts.values())
    assert any(t.startswith(b"Transaction Date,") for t in texts.values())
    assert any(t.startswith(b'"Account Name:"') for t in texts.values())
    assert any(t.startswith(CANONICAL_HEADER.encode()) for t in texts.values())
    xxe = (inbox / "2026-03" / "R00006" / "statement_xxe.ofx").read_text()
    assert '<!ENTITY xxe SYSTEM "file:///etc/passwd">' in xxe and "&xxe;" in xxe
    dup = inbox / "2026-02" / "R00011"
    assert filecmp.cmp(dup / "statement_2026-02.ofx", dup / "statement_2026-02 (1).ofx", shallow=False)
    receipts = (inbox / "2026-01" / "R00006" / "receipts.csv").read_text(encoding="utf-8")
    assert "31/02/2026" in receipts and "£1,234.5O" in receipts and "=HYPERLINK(" in receipts
    gap = (inbox / "2026-01" / "R00010" / "statement_2026-01.ofx").read_text()
    assert "<DTEND>20260125" in gap
    assert not (inbox / "2026-03" / "R00004" / "statement_2026-03.ofx").exists()


def test_sample_balances_continuous():
    recipients = read_csv(SAMPLE / "reference" / "recipients.csv")
    for rec in recipients:
        prev = None
        for period in ("2026-01", "2026-02", "2026-03"):
            paths = sorted((SAMPLE / "inbox" / period / rec["recipient_id"]).glob("statement_????-??.*"))
            if not paths:
                prev = None
                continue
            s = read_statement(paths[0])
            assert s["opening"] + sum(a for _, a in s["txns"]) == s["closing"]
            if "running" in s:  # every running balance is the one before plus the row (money moved only)
                b = s["opening"]
                for (_, a), bal in s["running"]:
                    b += a
                    assert b == bal, (rec["recipient_id"], period)
            if prev is not None and not (rec["recipient_id"] in ("R00005", "R00014") and period == "2026-03"):
                assert s["opening"] == prev, (rec["recipient_id"], period)
            prev = s["closing"]
