"""Time writing the officers' workbook (and the exceptions CSV) for a big month.

    .venv/bin/python scripts/bench_workbook.py [--findings 30000] [--recipients 600] [--out /tmp/bench.xlsx]

Builds synthetic findings (vectorised, fixed seed), writes ``exceptions.xlsx`` and
``exceptions.csv``, reads the decisions back, and prints the times and file sizes.
"""
from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from dpaudit.decide.decisions import read_workbook_decisions
from dpaudit.report.csvs import write_exceptions_csv
from dpaudit.report.workbook import write_workbook

RULES = [("EV-NO-EVIDENCE", "medium", "PBP 5.2"), ("SP-PROHIBITED", "high", "PBP 4.3.2"),
         ("SP-HOUSEHOLD", "high", "PBP 4.3.2"), ("SP-CASH", "medium", "PBP 5.2"),
         ("EV-ORPHAN-RECEIPT", "low", "PBP 5.2"), ("RV-REVIEW-DUE", "info", "PBP 5.1"),
         ("PY-NO-PAYSLIP", "high", "PBP 5.2 wage slips"), ("AC-OVERDRAWN", "medium", "PBP 5.3")]


def synthetic(n: int, n_recipients: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rids = np.array([f"R{i:05d}" for i in range(n_recipients)])
    rule_idx = rng.integers(0, len(RULES), n)
    rid = rids[rng.integers(0, n_recipients, n)]
    days = rng.integers(0, 31, n)
    amount = rng.integers(1, 250_000, n)
    findings = pd.DataFrame({
        "exception_id": [f"{i:016x}" for i in range(n)],
        "period": "2025-05",
        "recipient_id": rid,
        "rule_id": np.array([r[0] for r in RULES])[rule_idx],
        "severity": np.array([r[1] for r in RULES])[rule_idx],
        "txn_date": [date(2025, 5, 1) + timedelta(days=int(d)) for d in days],
        "amount_pence": pd.array(amount, dtype="Int64"),
        "counterparty": np.where(rng.random(n) < 0.01, '=HYPERLINK("http://x","y")', "TESCO STORES 1234"),
        "txn_ref": [f"t{i:015x}" for i in range(n)],
        "line_id": "L1",
        "message": "Debit of £12.34 on 05/05/2025 to TESCO STORES has no receipt, invoice or payslip; send the receipt.",
        "clause": np.array([r[2] for r in RULES])[rule_idx],
        "status": np.where(rng.random(n) < 0.1, "accepted", "open"),
    })
    recs = pd.DataFrame({
        "recipient_id": rids, "period": "2025-05", "action": np.array(["NONE", "REVIEW", "REPAY", "STOP"])[rng.integers(0, 4, n_recipients)],
        "amount_pence": rng.integers(0, 500_000, n_recipients), "grounds": "SP-PROHIBITED;EV-NO-EVIDENCE",
        "clauses": "PBP 4.3.2;PBP 5.2", "reasons": "Spend on gambling (PBP 4.3.2).", "respond_by": date(2025, 7, 3),
        "prepared_by": "auditor"})
    money = {f"{k}_pence": rng.integers(0, 1_000_000, n_recipients) for k in (
        "opening_balance", "council_credits", "other_credits", "debits", "closing_balance", "evidenced", "unevidenced",
        "plan_budget_to_date", "spend_to_date", "contingency_held")}
    rec = pd.DataFrame({"recipient_id": rids, "period": "2025-05", **money,
                        "contingency_pct": [Decimal("7.25")] * n_recipients})
    quarantine = pd.DataFrame({"path": "inbox/2025-05/R00001/receipts.csv", "kind": "receipts", "recipient_id": "R00001",
                               "period": "2025-05", "row_no": np.arange(2, 202), "column_name": "amount",
                               "value_masked": "12.3.4", "reason": "amount is not money"})
    return {"findings": findings, "recommendations": recs, "reconciliation": rec, "quarantine": quarantine}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--findings", type=int, default=30_000)
    ap.add_argument("--recipients", type=int, default=600)
    ap.add_argument("--out", type=Path, default=Path("/tmp/dpaudit_bench/exceptions.xlsx"))
    a = ap.parse_args()
    data = synthetic(a.findings, a.recipients)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    c0 = time.process_time()
    t0 = time.perf_counter()
    write_workbook(a.out, period="2025-05", run_time=datetime(2025, 6, 2, 9, 0), policy_version="2025.1", **data)
    t1 = time.perf_counter()
    c1 = time.process_time()
    write_exceptions_csv(a.out.with_suffix(".csv"), data["findings"])
    t2 = time.perf_counter()
    c2 = time.process_time()
    back = read_workbook_decisions(a.out)
    t3 = time.perf_counter()
    c3 = time.process_time()
    print(f"findings={a.findings} recipients={a.recipients}")
    print(f"workbook write: {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU ({a.out.stat().st_size / 1e6:.1f} MB)")
    print(f"exceptions.csv write: {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU ({a.out.with_suffix('.csv').stat().st_size / 1e6:.1f} MB)")
    print(f"decisions read back: {t3 - t2:.2f} s wall, {c3 - c2:.2f} s CPU ({len(back)} decided rows)")


if __name__ == "__main__":
    main()
