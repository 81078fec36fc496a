"""A month of hostile inputs (tests/hostile_corpus.py) runs to the end: no traceback, every inbox
entry read or reported, bounded findings, no formula and no full account number in any output."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from hostile_corpus import PERIOD, build

from dpaudit.pipeline import run_period
from dpaudit.store import open_store


def test_a_hostile_month_is_audited_and_every_input_accounted_for(tmp_path):
    data = tmp_path / "council"
    planted = build(data)
    db, reports = tmp_path / "db.duckdb", tmp_path / "reports"
    r = run_period(data, PERIOD, reports_dir=reports, db_path=db, officer="P")  # no exception is the first check
    with open_store(db, read_only=True) as con:
        read = {p for (p,) in con.execute("SELECT path FROM file_paths").fetchall()}
        reported = {p for (p,) in con.execute("SELECT path FROM quarantine").fetchall()}
        n_rejected = con.execute("SELECT count(*) FROM findings WHERE rule_id = 'DQ-ROW-REJECTED'").fetchall()[0][0]
        secret = con.execute("SELECT count(*) FROM transactions WHERE description LIKE '%root:x%'").fetchall()[0][0]
    # every entry of the month's inbox was read or reported (system files aside); none is silent
    root = data / "inbox" / PERIOD
    entries = set()
    for top, dirs, names in os.walk(root, followlinks=False):
        for n in dirs + names:
            p = Path(top) / n
            if n.startswith((".", "~$")) and not p.is_dir():
                continue
            entries.add(p.relative_to(data).as_posix())
    def accounted(e: str) -> bool:  # read, reported, or inside a reported folder
        return e in read or e in reported or any(e.startswith(x + "/") for x in reported)

    folders = {e for e in entries if (data / e).is_dir() and not (data / e).is_symlink()}
    assert {e for e in entries - folders if not accounted(e)} == set()
    assert {e for e in set(planted) - folders if not accounted(e)} == set()
    assert secret == 0 and r.counts["inbox_not_read"] == 7  # 2 links, 3 odd folders, a loose file, a .docx
    assert n_rejected < 100  # 100,000 garbage rows are one finding, not 100,000
    outputs = [p for p in reports.rglob("*") if p.suffix in (".csv", ".json", ".md")]
    text = "\n".join(p.read_text(encoding="utf-8") for p in outputs)
    assert "03914726" not in text and "18273645" not in text
    risky = []
    for p in reports.rglob("*.csv"):
        with open(p, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            for col in ("recipient_id", "counterparty", "txn_ref", "line_id", "message", "reasons"):
                v = row.get(col) or ""
                if v[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    risky.append((p.name, col, v[:30]))
    assert not risky, risky
