"""The store's single-writer lock seen from the CLI: a second run on the same database either
refuses at once with a clear message (exit 1) or, with --wait, waits and then runs; two runs never
interleave."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dpaudit.core.checkpoint import ENV as CHECKPOINTS, PREFIX as CHECKPOINT
from dpaudit.store import open_store
from dpaudit.synth.council import generate



def dpaudit(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", "DPAUDIT_OFFICER": "lock-test", **(env or {})}
    code = "from dpaudit.cli import app; app(prog_name='dpaudit')"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


@pytest.fixture(scope="module")
def council(tmp_path_factory):
    d = tmp_path_factory.mktemp("lock") / "council"
    generate(d, recipients=3, months=2, seed=11, start_period="2026-01", anomaly_rate=0.3)
    return d


def test_a_second_run_refuses_with_a_clear_message(council, tmp_path):
    db = tmp_path / "store.duckdb"
    with open_store(db):  # another writer holds the database
        p = dpaudit("run", "--data", str(council), "--period", "2026-01", "--db", str(db), "-q")
        out, err = p.communicate(timeout=300)
    assert p.returncode == 1, out + err
    text = " ".join((out + err).split())
    assert "is in use by another dpaudit run" in text and "--wait" in text
    assert "Traceback" not in err
    with open_store(db, read_only=True) as con:  # the refused run wrote nothing
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(0,)]


def test_a_waiting_run_starts_when_the_lock_is_released(council, tmp_path):
    db = tmp_path / "store.duckdb"
    with open_store(db):
        p = dpaudit("run", "--data", str(council), "--period", "2026-01", "--db", str(db), "--wait", "300", "-q",
                    env={CHECKPOINTS: "store.waiting_for_lock"}, stdin=subprocess.PIPE)
        # the run announces that it found the lock taken and is waiting (it stands there until answered)
        assert p.stdout.readline().split() == [CHECKPOINT, "store.waiting_for_lock", "1"]
        assert p.poll() is None
        p.stdin.write("\n")
        p.stdin.flush()
    out, err = p.communicate(timeout=600)  # the lock is released: the waiting run goes on and finishes
    assert p.returncode == 0, out + err
    assert "waiting up to 300 s" in err
    with open_store(db, read_only=True) as con:
        assert con.execute("SELECT period, status FROM runs").fetchall() == [("2026-01", "ok")]


def test_two_concurrent_runs_never_interleave(council, tmp_path):
    db = tmp_path / "store.duckdb"
    reports = tmp_path / "reports"
    a = dpaudit("run", "--data", str(council), "--period", "2026-01", "--db", str(db), "--reports", str(reports),
                "--wait", "600", "-q")
    b = dpaudit("run", "--data", str(council), "--period", "2026-02", "--db", str(db), "--reports", str(reports),
                "--wait", "600", "-q")
    outs = [p.communicate(timeout=900) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    with open_store(db, read_only=True) as con:
        runs = con.execute("SELECT period, status, finished_at FROM runs ORDER BY finished_at").fetchall()
        loads = dict(con.execute("SELECT period, [min(ingested_at), max(ingested_at)] FROM files "
                                 "GROUP BY period").fetchall())
    assert sorted(r[0] for r in runs) == ["2026-01", "2026-02"] and {r[1] for r in runs} == {"ok"}
    # run_period stamps started_at before it waits for the lock, so judge by what each run wrote:
    # every file of the second run was loaded after the first run had finished
    (first, _, first_done), (second, _, _) = runs
    assert loads[first][1] <= first_done <= loads[second][0], f"runs interleaved: {runs} {loads}"
    assert (reports / "2026-01" / "exceptions.csv").is_file() and (reports / "2026-02" / "exceptions.csv").is_file()
