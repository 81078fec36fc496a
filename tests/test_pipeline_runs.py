"""The pipeline as the one place of stage order and run records; real reconciliation invariants."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dpaudit import pipeline
from dpaudit.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    data = out / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    results = [pipeline.run_period(data, p, reports_dir=out / "reports", db_path=out / "db.duckdb", officer="P")
               for p in ("2026-01", "2026-02")]
    return out, results


def _runs(db: Path) -> list[tuple]:
    with open_store(db, read_only=True) as con:
        return con.execute("SELECT kind, period, status, finished_at IS NOT NULL FROM runs ORDER BY started_at, run_id").fetchall()


def test_every_run_is_recorded_once_and_ends_ok(sample_run):
    out, results = sample_run
    assert _runs(out / "db.duckdb") == [("month", "2026-01", "ok", True), ("month", "2026-02", "ok", True)]
    assert [r.period for r in results] == ["2026-01", "2026-02"]
    assert all(set(r.timings) == set(pipeline.STAGES) for r in results)


def test_a_failing_stage_marks_the_run_failed_and_keeps_what_was_committed(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    db = tmp_path / "db.duckdb"

    def broken(*_a, **_k):
        raise OSError("the reports disk is full")

    monkeypatch.setattr(pipeline, "write_period_reports", broken)
    with pytest.raises(OSError, match="disk is full") as info:
        pipeline.run_period(data, "2026-01", reports_dir=tmp_path / "r", db_path=db, officer="P")
    assert info.value.run_record.current == "report"  # what the flows put in their artifact
    assert _runs(db) == [("month", "2026-01", "report_failed", True)]
    with open_store(db, read_only=True) as con:  # the audit before the failure is kept
        assert con.execute("SELECT count(*) FROM recommendations WHERE period = '2026-01'").fetchall()[0][0] > 0


def test_partial_stages_record_their_own_kind(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    db = tmp_path / "db.duckdb"
    r = pipeline.run_period(data, "2026-01", db_path=db, stages=("ingest",))
    assert set(r.timings) == {"ingest"} and r.files == []
    with pytest.raises(FileNotFoundError, match="no audit of 2026-01"):
        pipeline.report_period(data, "2026-01", reports_dir=tmp_path / "r", db_path=db)
    pipeline.run_period(data, "2026-01", db_path=db, stages=("ingest", "audit", "recommend"))
    rep = pipeline.report_period(data, "2026-01", reports_dir=tmp_path / "r", db_path=db)
    assert (rep.reports_dir / "exceptions.xlsx").is_file()
    assert [k for k, *_ in _runs(db)] == ["ingest", "ingest/audit/recommend", "report"]
    assert {s for _, _, s, _ in _runs(db)} == {"ok"}
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline.run_period(data, "2026-01", db_path=db, stages=("audit", "publish"))


def test_the_data_folder_check_is_written_once(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; run 'dpaudit init"):
        pipeline.run_period(tmp_path / "nowhere", "2026-01")
    sources = [p.read_text() for p in list((ROOT / "src").rglob("*.py")) + list((ROOT / "flows").glob("*.py"))]
    assert len(sources) > 60
    assert sum(s.count("does not exist; run 'dpaudit init") for s in sources) == 1


def test_flows_and_cli_hold_no_sql_and_no_stage_order():
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b|\.execute\(")
    flows = sorted((ROOT / "flows").glob("*.py")) + sorted((ROOT / "src" / "dpaudit" / "flows").glob("*.py"))
    assert len(flows) >= 9
    for path in [ROOT / "src" / "dpaudit" / "cli.py", *flows]:
        text = path.read_text()
        assert not sql.search(text), f"{path.name} holds SQL"
        for stage_fn in ("ingest_period(", "audit_period(", "recommend_period(", "write_period_reports("):
            assert stage_fn not in text, f"{path.name} calls {stage_fn} itself: the stage order lives in pipeline"


def test_reconciliation_invariants(sample_run):
    """Evidenced + unevidenced = debits; a computed closing balance differs from the bank's own
    closing balance only where the statements do not add up (DQ-BALANCE-BREAK) or leave a gap."""
    out, _ = sample_run
    with open_store(out / "db.duckdb", read_only=True) as con:
        rec = con.execute("SELECT * FROM reconciliation").df()
        bank = con.execute("""SELECT s.recipient_id, r.period, s.closing_balance_pence FROM statements s
                              JOIN reconciliation r ON r.recipient_id = s.recipient_id
                              WHERE s.closing_balance_pence IS NOT NULL
                                AND strftime(s.end_date, '%Y-%m') = r.period
                                AND s.end_date = last_day(s.end_date)""").df()
        broken = con.execute("""SELECT DISTINCT recipient_id, period FROM findings WHERE rule_id IN
                                ('DQ-BALANCE-BREAK', 'DQ-STATEMENT-GAP', 'DQ-STATEMENT-MISSING', 'DQ-WRONG-ACCOUNT',
                                 'DQ-ROW-REJECTED')""").df()
    assert len(rec) > 0
    assert (rec["evidenced_pence"] + rec["unevidenced_pence"] == rec["debits_pence"]).all()
    assert (rec["opening_balance_pence"] + rec["council_credits_pence"] + rec["other_credits_pence"]
            - rec["debits_pence"] == rec["closing_balance_pence"]).all()
    m = bank.merge(rec, on=["recipient_id", "period"])
    m = m.merge(broken.assign(flagged=True), on=["recipient_id", "period"], how="left")
    m["flagged"] = m["flagged"].astype("boolean").fillna(False)
    clean = m[~m["flagged"]]
    assert len(clean) > 0
    bad = clean[clean["closing_balance_pence_x"] != clean["closing_balance_pence_y"]]
    assert bad.empty, bad[["recipient_id", "period", "closing_balance_pence_x", "closing_balance_pence_y"]]
    assert pd.api.types.is_integer_dtype(rec["closing_balance_pence"])


def test_a_run_left_running_by_a_killed_process_is_marked_killed_by_the_next(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    db = tmp_path / "db.duckdb"
    with open_store(db) as con:  # what a kill -9 mid-run leaves behind
        con.execute("INSERT INTO runs (run_id, kind, period, started_at, status) VALUES ('dead', 'month', '2026-01', "
                    "now()::TIMESTAMP, 'running')")
    r = pipeline.run_period(data, "2026-01", db_path=db, stages=("ingest",))
    assert r.counts["runs_found_killed"] == ["dead"]
    with open_store(db, read_only=True) as con:
        assert dict(con.execute("SELECT run_id, status FROM runs").fetchall()) == {"dead": "killed", r.run_id: "ok"}


def test_a_refused_run_is_told_who_holds_the_store(tmp_path):
    from dpaudit.store import holder_path, set_holder

    db = tmp_path / "db.duckdb"
    probe = ("import sys\nfrom dpaudit.store import StoreLocked, open_store\ntry:\n"
             f"    with open_store({str(db)!r}):\n        pass\nexcept StoreLocked as e:\n    print(e)\n    sys.exit(3)\n")
    with open_store(db) as con:
        set_holder(con, "dpaudit month run 2026-01 (month-2026-01-x)")
        assert holder_path(db).is_file()
        p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stdout + p.stderr
    text = " ".join(p.stdout.split())
    assert "dpaudit month run 2026-01" in text and f"pid {os.getpid()}" in text and "--wait" in text
    assert not holder_path(db).exists()  # let go with the lock


def test_files_a_worker_cannot_see_stop_the_read_instead_of_being_quarantined(tmp_path):
    from dpaudit.core.policy import load_policy
    from dpaudit.ingest.statements import plan_statement_files, prepare_statement_files
    from dpaudit.ingest.workers import InputNotVisible
    from dpaudit.store import now_utc

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    with open_store(tmp_path / "db.duckdb") as con:
        plan = plan_statement_files(con, data, "2026-01")
    moved = tmp_path / "elsewhere"
    data.rename(moved)  # the reader does not see the folder the writer planned from
    with pytest.raises(InputNotVisible, match="same absolute path wherever files are read"):
        prepare_statement_files(data, "2026-01", plan, load_policy(), now_utc())


def test_deployments_store_absolute_folders_and_need_them(tmp_path, monkeypatch):
    from dpaudit.flows.deploy import DeployError, build_deployments

    monkeypatch.delenv("DPAUDIT_DATA", raising=False)
    monkeypatch.delenv("DPAUDIT_REPORTS", raising=False)
    with pytest.raises(DeployError, match="DPAUDIT_DATA"):
        build_deployments()
    monkeypatch.chdir(tmp_path)
    deps = {d.name: d for d in build_deployments("council", "out")}
    assert deps["monthly"].parameters["data_dir"] == str(tmp_path / "council")
    assert deps["monthly"].parameters["reports_dir"] == str(tmp_path / "out")


def test_year_end_of_a_year_with_no_audited_month_says_what_to_do(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    with pytest.raises(FileNotFoundError, match=r"no audited month of FY2023 .* --periods 2023-04\.\.2024-03"):
        pipeline.run_year_end(data, 2023, reports_dir=tmp_path / "r", db_path=tmp_path / "db.duckdb")


def test_a_returned_workbook_imports_without_an_officer_option(tmp_path, monkeypatch):
    """The workbook has no officer column: the importing officer defaults as for a run
    ($DPAUDIT_OFFICER, else the login name), and the four-eyes rule still applies."""
    import openpyxl

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    db = tmp_path / "db.duckdb"
    pipeline.run_period(data, "2026-01", reports_dir=tmp_path / "r", db_path=db, officer="Preparer")
    wb = openpyxl.load_workbook(tmp_path / "r" / "2026-01" / "exceptions.xlsx")
    ws = wb["Exceptions"]
    cols = {str(c.value).strip().lower(): c.column for c in ws[1] if c.value}
    assert "officer" not in cols
    ws.cell(row=2, column=cols["decision"]).value = "accept"
    wb.save(tmp_path / "returned.xlsx")
    monkeypatch.setenv("DPAUDIT_OFFICER", "B. Reviewer")
    res, check = pipeline.import_decision_file(tmp_path / "returned.xlsx", data, db_path=db)
    assert res.appended == 1 and check.ok
    with open_store(db, read_only=True) as con:
        assert con.execute("SELECT officer, decision FROM decisions").fetchall() == [("B. Reviewer", "accept")]


def test_temporary_files_left_by_a_killed_report_are_removed_by_the_next(sample_run):
    out, _ = sample_run
    folder = out / "reports" / "2026-02"
    (folder / ".exceptions.xlsx.tmp").write_bytes(b"half a workbook")
    (folder / ".exceptions.csv.abc123.tmp").write_bytes(b"half a csv")
    pipeline.report_period(out / "data", "2026-02", reports_dir=out / "reports", db_path=out / "db.duckdb")
    assert not list(folder.glob(".*.tmp")) and (folder / "exceptions.xlsx").is_file()


def test_purge_removes_what_is_older_than_the_date_and_keeps_the_decision_log(tmp_path):
    from datetime import date

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    db = tmp_path / "db.duckdb"
    for p in ("2026-01", "2026-02"):
        pipeline.run_period(data, p, reports_dir=tmp_path / "r", db_path=db, officer="Preparer")
    pipeline.import_decision_file(data / "officer_decisions.csv", data, db_path=db, officer="B. Reviewer")
    preview = pipeline.purge_preview(data, date(2026, 2, 1), db_path=db)
    with open_store(db, read_only=True) as con:
        jan_txns = con.execute("SELECT count(*) FROM transactions WHERE posted_date < '2026-02-01'").fetchall()[0][0]
        jan_findings = con.execute("SELECT count(*) FROM findings WHERE period = '2026-01'").fetchall()[0][0]
        decisions = con.execute("SELECT count(*) FROM decisions").fetchall()[0][0]
    assert preview["transactions"] == jan_txns > 0 and preview["findings"] == jan_findings > 0
    removed = pipeline.purge_before(data, date(2026, 2, 1), db_path=db)
    assert removed == preview
    with open_store(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transactions WHERE posted_date < '2026-02-01'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM findings WHERE period < '2026-02'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM findings WHERE period = '2026-02'").fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM decisions").fetchall()[0][0] == decisions  # the audit trail stays
        assert con.execute("SELECT count(*) FROM recipients").fetchall()[0][0] > 0
        (counts,) = con.execute("SELECT counts_json FROM runs WHERE kind = 'purge'").fetchone()
    assert '"transactions": %d' % jan_txns in counts
    assert pipeline.verify_decision_log(data, db_path=db).ok


def test_a_period_s_reports_are_replaced_as_one_set(sample_run):
    """Reports are written beside the folder and swapped in: an officer's own file in the folder is
    kept, and a run killed between the two renames is mended by the next."""
    out, _ = sample_run
    reports = out / "reports"
    folder = reports / "2026-02"
    (folder / "returned by A. Finance.xlsx").write_bytes(b"officer's file")
    before = (folder / "exceptions.csv").read_bytes()
    pipeline.report_period(out / "data", "2026-02", reports_dir=reports, db_path=out / "db.duckdb")
    assert (folder / "returned by A. Finance.xlsx").read_bytes() == b"officer's file"
    assert (folder / "exceptions.csv").read_bytes() == before
    assert not list(reports.glob(".2026-02.*"))
    folder.rename(reports / ".2026-02.previous")  # what a kill between the renames leaves
    r = pipeline.report_period(out / "data", "2026-02", reports_dir=reports, db_path=out / "db.duckdb")
    assert (folder / "returned by A. Finance.xlsx").is_file() and (folder / "exceptions.xlsx").is_file()
    assert all(f.is_file() and f.parent.name in ("2026-02", "letters") for f in r.files)
    assert not list(reports.glob(".2026-02.*"))
