"""Reading files on worker processes stores exactly what reading them in one process stores."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import dpaudit.ingest.evidence as ie
import dpaudit.ingest.statements as ist
import dpaudit.ingest.workers as par
from dpaudit.pipeline import run_period
from dpaudit.store import open_store

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TABLES = {
    "findings": "SELECT exception_id, rule_id, recipient_id, amount_pence, message FROM findings ORDER BY exception_id",
    "transactions": "SELECT * EXCLUDE (ingested_at) FROM transactions ORDER BY txn_id",
    "quarantine": "SELECT q_id, path, row_no, column_name, reason FROM quarantine ORDER BY q_id",
    "files": "SELECT sha256, path, status, reason, rows_read, rows_rejected FROM files ORDER BY sha256",
    "receipts": "SELECT * EXCLUDE (ingested_at) FROM receipts ORDER BY recipient_id, receipt_id",
    "payslips": "SELECT * EXCLUDE (ingested_at) FROM payslips ORDER BY recipient_id, employee_id, pay_date",
}


def _stored(db: Path) -> dict:
    with open_store(db, read_only=True) as con:
        cols = {t: {c for (c,) in con.execute(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{t}'").fetchall()}
                for t in ("transactions", "receipts", "payslips")}
        out = {}
        for name, sql in TABLES.items():
            if name in cols and "ingested_at" not in cols[name]:
                sql = sql.replace(" EXCLUDE (ingested_at)", "")
            out[name] = con.execute(sql).fetchall()
        return out


def test_workers_read_the_same_as_one_process(tmp_path, monkeypatch):
    pools = []

    class CountingPool(par.ProcessPoolExecutor):
        def __init__(self, *a, **kw):
            pools.append(kw.get("max_workers"))
            super().__init__(*a, **kw)

    monkeypatch.setattr(par, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(ist, "WRITE_BATCH_FILES", 4)   # many small batches from the sample inbox
    monkeypatch.setattr(ie, "READ_CHUNK_FILES", 5)
    stored = {}
    for n in ("1", "2"):
        data = tmp_path / f"w{n}"
        shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
        monkeypatch.setenv("DPAUDIT_WORKERS", n)
        before = len(pools)
        for period in ("2026-01", "2026-02", "2026-03"):
            run_period(data, period, reports_dir=tmp_path / f"r{n}", officer="A. Preparer")
        assert (len(pools) > before) == (n == "2")  # the two-worker run did use worker processes
        stored[n] = _stored(data / "dpaudit.duckdb")
    assert stored["1"]["transactions"] and stored["1"]["findings"] and stored["1"]["quarantine"]
    for name in TABLES:
        assert stored["1"][name] == stored["2"][name], name


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DPAUDIT_WORKERS", "3")
    assert par.workers() == 3
    monkeypatch.setenv("DPAUDIT_WORKERS", "0")
    assert par.workers() == 1
    monkeypatch.setenv("DPAUDIT_WORKERS", "two")
    with pytest.raises(ValueError, match="DPAUDIT_WORKERS"):
        par.workers()
    monkeypatch.delenv("DPAUDIT_WORKERS")
    assert 1 <= par.workers() <= par.MAX_DEFAULT_WORKERS
    with par.Workers(1) as one:
        assert list(one.submit(sorted, [[3, 1], [2, 0], [9, 8]])) == [[1, 3], [0, 2], [8, 9]]


def test_a_script_without_a_main_guard_still_reads_on_workers(tmp_path):
    """Spawned workers must not re-run the caller's script (no ``if __name__ == "__main__":``)."""
    import subprocess
    import sys

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    marker = tmp_path / "runs.txt"
    script = tmp_path / "audit_month.py"
    script.write_text(
        "import dpaudit.ingest.statements as ist, dpaudit.ingest.workers as par\n"
        "from pathlib import Path\n"
        "from dpaudit.pipeline import run_period\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        "ist.WRITE_BATCH_FILES = 4\n"
        "started = []\n"
        "class Pool(par.ProcessPoolExecutor):\n"
        "    def __init__(self, *a, **kw):\n"
        "        started.append(1)\n"
        "        super().__init__(*a, **kw)\n"
        "par.ProcessPoolExecutor = Pool\n"
        f"r = run_period(Path({str(data)!r}), '2026-02', reports_dir=Path({str(tmp_path / 'rep')!r}), officer='A')\n"
        "print('POOLS', len(started), 'TXNS', r.counts['txns_read'])\n")
    env = {**__import__("os").environ, "DPAUDIT_WORKERS": "2"}
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "POOLS 1 " in p.stdout and int(p.stdout.split("TXNS")[1]) > 0
    assert marker.read_text() == "run\n"  # the script ran once: the workers did not run it again


def test_worker_processes_end_with_a_killed_run(tmp_path):
    """kill -9 of the run ends its file-reading workers at once (they never outlive it)."""
    import select
    import signal
    import subprocess

    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    script = (
        "import sys\n"
        "from dpaudit.ingest.workers import Workers\n"
        "w = Workers(2)\n"
        f"it = w.submit(open, [{str(fifo)!r}, {str(fifo)!r}])  # each worker blocks opening the FIFO\n"
        "print(' '.join(str(p) for p in w._pool._processes), flush=True)\n"
        "next(it)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in child.stdout.readline().split()]
    assert len(workers) == 2
    fds = [os.pidfd_open(p) for p in workers]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    try:
        for fd in fds:  # a pidfd becomes readable when its process ends
            ready, _, _ = select.select([fd], [], [], 30)
            assert ready, "a worker outlived the killed run by 30 s"
    finally:
        for fd in fds:
            os.close(fd)
