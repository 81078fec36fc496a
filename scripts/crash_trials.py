"""kill -9 trials: ``make crash-trials N=50`` (not in CI).

Runs the bundled sample council's three months (and its year end) in a child process, kills it
with SIGKILL at a randomly chosen named checkpoint (``dpaudit.core.checkpoint``: inside or after a
statement batch, a reference table, before a stage, before the run is recorded), then runs the
whole sequence again normally and compares the store with an uninterrupted run: the same
transactions, findings (exception ids), recommendations, reconciliation and year end, and no run
left 'running'.  Prints one line per trial and "survived K/N".
"""
from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
CHILD = """
from dpaudit.pipeline import run_period, run_year_end
for p in ("2026-01", "2026-02", "2026-03"):
    run_period({data!r}, p, reports_dir={reports!r}, db_path={db!r}, officer="Trial")
run_year_end({data!r}, 2025, reports_dir={reports!r}, db_path={db!r})
"""
TABLES = {
    "transactions": "SELECT txn_id, amount_pence FROM transactions ORDER BY 1",
    "findings": "SELECT exception_id, period, rule_id, amount_pence FROM findings ORDER BY 1",
    "recommendations": "SELECT period, recipient_id, action, amount_pence FROM recommendations ORDER BY 1, 2",
    "reconciliation": "SELECT * EXCLUDE (contingency_pct) FROM reconciliation ORDER BY period, recipient_id",
    "year_end": "SELECT recipient_id, carry_forward_pence, repayment_pence FROM year_end ORDER BY 1",
}


def _run(work: Path, checkpoints: str = "", kill_at: tuple[str, int] | None = None) -> Counter:
    """Run the child; answer checkpoints; kill it at ``kill_at``. Returns the checkpoints passed."""
    data, db, reports = work / "data", work / "db.duckdb", work / "reports"
    env = {"DPAUDIT_CHECKPOINTS": checkpoints, "DPAUDIT_WORKERS": "1", "PATH": "/usr/bin:/bin"}
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(data=str(data), reports=str(reports), db=str(db))],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    seen: Counter = Counter()
    for line in child.stdout:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "checkpoint":
            seen[parts[1]] += 1
            if kill_at and (parts[1], int(parts[2])) == kill_at:
                child.send_signal(signal.SIGKILL)
                break
            child.stdin.write("\n")
            child.stdin.flush()
    child.wait(timeout=600)
    if not kill_at and child.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed (exit {child.returncode})")
    return seen


def _snapshot(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        snap = {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}
        snap["running"] = con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchall()[0][0]
        return snap
    finally:
        con.close()


def _fresh(root: Path, name: str) -> Path:
    work = root / name
    shutil.copytree(SAMPLE, work / "data", ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    return work


def main(n: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="dpaudit-crash-") as tmp:
        root = Path(tmp)
        ref = _fresh(root, "reference")
        counts = _run(ref, checkpoints="*")  # every checkpoint answered: how often each is reached
        want = _snapshot(ref / "db.duckdb")
        points = [(name, k) for name, c in sorted(counts.items()) for k in range(1, c + 1)]
        print(f"{len(points)} kill points over {len(counts)} checkpoints: {dict(counts)}")
        survived = 0
        for i in range(n):
            point = rng.choice(points)
            work = _fresh(root, f"trial{i}")
            _run(work, checkpoints=point[0], kill_at=point)
            _run(work)  # the same sequence again, as an officer would after a crash
            got = _snapshot(work / "db.duckdb")
            bad = [k for k in want if k != "running" and got[k] != want[k]] + (["running"] if got["running"] else [])
            ok = not bad
            survived += ok
            print(f"trial {i + 1:3d}: killed at {point[0]} #{point[1]:<3d} -> {'ok' if ok else 'DIFFERS: ' + ', '.join(bad)}")
            shutil.rmtree(work)
        print(f"survived {survived}/{n}")
        return 0 if survived == n else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
