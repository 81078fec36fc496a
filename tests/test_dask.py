"""The monthly flow with its per-recipient statement parsing on a local Dask cluster
(prefect-dask ``DaskTaskRunner``) stores exactly the findings, recommendations and reconciliation
of the plain in-process ``run_period``.  The Prefect environment is set up in conftest.py."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from dpaudit.pipeline import run_period
from dpaudit.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
FINDING_COLS = "exception_id, period, recipient_id, rule_id, severity, txn_date, amount_pence, txn_ref, message"


def _stored(db: Path, period: str) -> dict[str, pd.DataFrame]:
    with open_store(db, read_only=True) as con:
        return {
            "findings": con.execute(f"SELECT {FINDING_COLS} FROM findings WHERE period = ? ORDER BY exception_id",
                                    [period]).df(),
            "recommendations": con.execute("SELECT recipient_id, action, amount_pence, grounds FROM recommendations "
                                           "WHERE period = ? ORDER BY recipient_id", [period]).df(),
            "reconciliation": con.execute("SELECT * FROM reconciliation WHERE period = ? ORDER BY recipient_id",
                                          [period]).df(),
            "transactions": con.execute("SELECT txn_id, recipient_id, amount_pence FROM transactions ORDER BY txn_id").df(),
            "quarantine": con.execute("SELECT q_id, reason FROM quarantine ORDER BY q_id").df(),
        }


def test_dask_findings_equal_in_process(tmp_path):
    from flows.monthly import dask_runner, monthly_reconciliation

    plain, dask = tmp_path / "plain", tmp_path / "dask"
    for d in (plain, dask):
        shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    # R00006's hostile XXE file and R00004's missing statement are in March: use it
    period = "2026-03"
    run_period(plain, period, reports_dir=tmp_path / "r1", officer="A. Preparer")
    flow = monthly_reconciliation.with_options(task_runner=dask_runner(n_workers=2, processes=False))
    res = flow(str(dask), period, reports_dir=str(tmp_path / "r2"), officer="A. Preparer", batch_size=3)
    assert res["counts"]["files_ingested"] >= 10 and res["counts"]["files_quarantined"] >= 1

    a, b = _stored(plain / "dpaudit.duckdb", period), _stored(dask / "dpaudit.duckdb", period)
    assert len(a["findings"]) > 0 and len(a["quarantine"]) > 0
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False, obj=name)
    csv_a = (tmp_path / "r1" / period / "exceptions.csv").read_text()
    csv_b = (tmp_path / "r2" / period / "exceptions.csv").read_text()
    assert csv_a == csv_b
