"""Tamper evidence an attacker cannot simply recompute: the decision log is checked against anchors
outside the store (the anchor file, the manifests), and with a key the anchors carry an HMAC
(issue 15, item 4)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dpaudit import pipeline
from dpaudit.decide.anchors import KEY_ENV, anchor_file
from dpaudit.decide.decisions import GENESIS_HASH, row_hash
from dpaudit.store import open_store

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _council(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    db, reports = tmp_path / "db.duckdb", tmp_path / "reports"
    for period in ("2026-01", "2026-02"):
        pipeline.run_period(data, period, reports_dir=reports, db_path=db, officer="Preparer")
    pipeline.import_decision_file(data / "officer_decisions.csv", data, db_path=db, officer="B. Reviewer")
    pipeline.report_period(data, "2026-02", reports_dir=reports, db_path=db)
    return data, db, reports


def _rewrite(db: Path, *, drop_last: bool = False, edit_first: bool = False) -> None:
    """What an attacker with write access to the store does: change the log, recompute every hash,
    and remove the anchors the store itself holds."""
    with open_store(db) as con:
        if drop_last:
            con.execute("DELETE FROM decisions WHERE seq = (SELECT max(seq) FROM decisions)")
        if edit_first:
            con.execute("UPDATE decisions SET decision = 'dismiss' WHERE seq = 1")
        keys = ("seq", "exception_id", "decision", "officer", "decided_at", "note", "source")
        rows = con.execute(f"SELECT {', '.join(keys)} FROM decisions ORDER BY seq").fetchall()
        prev = GENESIS_HASH
        for r in rows:
            h = row_hash(prev, dict(zip(keys, r)))
            con.execute("UPDATE decisions SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, h, r[0]])
            prev = h
        con.execute("UPDATE runs SET counts_json = NULL")


def test_an_untouched_log_verifies_against_every_anchor(tmp_path):
    data, db, reports = _council(tmp_path)
    res = pipeline.verify_decision_log(data, db_path=db, reports_dir=reports)
    assert res.ok, res.problems
    lines = anchor_file(db).read_text().splitlines()
    assert len(lines) >= 2 and any("decisions import" in ln for ln in lines) and any("report 2026-02" in ln for ln in lines)
    assert res.checked_anchors >= len(lines)


@pytest.mark.parametrize("change", [{"drop_last": True}, {"edit_first": True}], ids=["row cut off the end", "row edited"])
def test_a_rewritten_store_is_caught_by_the_anchor_file(tmp_path, change):
    data, db, reports = _council(tmp_path)
    _rewrite(db, **change)
    with open_store(db, read_only=True) as con:  # the store alone no longer shows anything
        from dpaudit.decide.decisions import verify_chain

        assert verify_chain(con).ok
    res = pipeline.verify_decision_log(data, db_path=db)
    assert not res.ok and any("recorded earlier" in p for p in res.problems), res.problems
    assert not pipeline.verify_decision_log(data, db_path=db, reports_dir=reports).ok


def test_with_a_key_a_forged_anchor_file_is_caught(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "council-secret")
    data, db, reports = _council(tmp_path)
    assert pipeline.verify_decision_log(data, db_path=db).ok
    _rewrite(db, edit_first=True)
    # the attacker also rewrites the anchor file to match the new head, without the key
    with open_store(db, read_only=True) as con:
        seq, head = con.execute("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchall()[0]
    anchor_file(db).write_text(json.dumps({"seq": seq, "hash": head, "source": "forged", "at": "x",
                                           "mac": "0" * 64}) + "\n")
    res = pipeline.verify_decision_log(data, db_path=db)
    assert not res.ok and any("MAC that does not match" in p for p in res.problems), res.problems
    # the manifests written before the rewrite still hold the true head
    monkeypatch.delenv(KEY_ENV)
    anchor_file(db).unlink()
    assert not pipeline.verify_decision_log(data, db_path=db, reports_dir=reports).ok
