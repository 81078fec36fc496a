"""Benchmark statement ingest on a generated inbox (default >= 300,000 transactions).

Writes an inbox of canonical CSV exports and OFX 1.x statements into a temporary directory,
runs ``ingest_statements`` once (cold store) and once more (re-run, nothing new), and prints
files, transactions and transactions per second.

    .venv/bin/python scripts/bench_ingest.py [--txns 300000] [--per-file 2000] [--ofx-share 0.1]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from dpaudit import store
from dpaudit.ingest.statements import ingest_statements
from dpaudit.core.policy import load_policy
from dpaudit.ingest.readers.bank_csv import load_profiles, read_bank_table
from dpaudit.ingest.readers.ofx import read_ofx

PERIOD = "2025-05"
PAYEES = ["TESCO STORES", "SWIM SCHOOL", "A JONES PA WAGES", "HOMECARE NORTH LTD", "TRAFFORD LEISURE", "TAXI CABS",
          "MOBILITY AIDS LTD", "PENINSULA PAYROLL", "HMRC PAYE", "STOCKPORT MBC DP"]
OFX_HEAD = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20250601<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>GBP
<BANKACCTFROM><BANKID>{sort}<ACCTID>{acct}<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20250501<DTEND>20250531
"""
OFX_TAIL = """</BANKTRANLIST><LEDGERBAL><BALAMT>{bal}<DTASOF>20250531</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def _pounds(p: int) -> str:
    return f"{'-' if p < 0 else ''}{abs(p) // 100}.{abs(p) % 100:02d}"


def _rows(rng: random.Random, n: int) -> list[tuple[date, str, int]]:
    out = []
    for _ in range(n):
        d = date(2025, 5, 1) + timedelta(days=rng.randrange(31))
        out.append((d, rng.choice(PAYEES), -rng.randrange(100, 50_000) if rng.random() < 0.9 else rng.randrange(10_000, 200_000)))
    return sorted(out)


def write_inbox(root: Path, txns: int, per_file: int, ofx_share: float, seed: int = 7) -> tuple[int, int]:
    rng = random.Random(seed)
    files = max(1, txns // per_file)
    n_ofx = int(files * ofx_share)
    for i in range(files):
        rid = f"R{i:05d}"
        folder = root / "inbox" / PERIOD / rid
        folder.mkdir(parents=True, exist_ok=True)
        sort, acct = f"{400000 + i % 1000:06d}", f"{10_000_000 + i:08d}"
        rows = _rows(rng, per_file)
        if i < n_ofx:
            bal, body = 0, []
            for k, (d, payee, pence) in enumerate(rows):
                bal += pence
                body.append(f"<STMTTRN><TRNTYPE>{'CREDIT' if pence > 0 else 'DEBIT'}<DTPOSTED>{d:%Y%m%d}"
                            f"<TRNAMT>{_pounds(pence)}<FITID>{d:%Y%m%d}{k:06d}<NAME>{payee}</STMTTRN>\n")
            (folder / "statement.ofx").write_text(OFX_HEAD.format(sort=sort, acct=acct) + "".join(body)
                                                  + OFX_TAIL.format(bal=_pounds(bal)))
        else:
            bal, lines = 0, ["date,description,amount,balance,type,reference,sort_code,account_number"]
            for d, payee, pence in rows:
                bal += pence
                lines.append(f"{d.isoformat()},{payee},{_pounds(pence)},{_pounds(bal)},"
                             f"{'CREDIT' if pence > 0 else 'DEBIT'},,{sort},{acct}")
            (folder / "statement.csv").write_text("\n".join(lines) + "\n")
    return files, n_ofx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txns", type=int, default=300_000)
    ap.add_argument("--per-file", type=int, default=2_000)
    ap.add_argument("--ofx-share", type=float, default=0.1, help="share of files written as OFX")
    args = ap.parse_args()
    policy = load_policy()
    with tempfile.TemporaryDirectory(prefix="dpaudit-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        files, n_ofx = write_inbox(root, args.txns, args.per_file, args.ofx_share)
        print(f"generated {files} files ({n_ofx} OFX, {files - n_ofx} CSV) in {time.perf_counter() - t0:.1f}s")
        with store.open_store(root / "bench.duckdb") as con:
            t1 = time.perf_counter()
            counts = ingest_statements(con, root, PERIOD, policy)
            dt = time.perf_counter() - t1
            print(f"ingest: files {counts['files_ingested']}/{counts['files_seen']}, transactions read "
                  f"{counts['txns_read']:,}, new {counts['txns_new']:,}, rejected rows {counts['rows_rejected']}")
            print(f"ingest: {dt:.1f}s, {counts['txns_read'] / dt:,.0f} transactions/second")
            t2 = time.perf_counter()
            again = ingest_statements(con, root, PERIOD, policy)
            print(f"re-run: {time.perf_counter() - t2:.1f}s, new transactions {again['txns_new']} (idempotent)")
        # per format: the readers alone on one file of each kind
        profiles = load_profiles(None)
        for pattern in ("statement.csv", "statement.ofx"):
            f = next(root.rglob(pattern), None)
            if f is None:
                continue
            t3 = time.perf_counter()
            n = sum(len(s.transactions) for s in (read_ofx(f, 10**9) if f.suffix == ".ofx"
                                                  else [read_bank_table(f, profiles, max_bytes=10**9)]))
            print(f"reader {f.suffix}: {n / (time.perf_counter() - t3):,.0f} transactions/second")


if __name__ == "__main__":
    main()
