"""The stage order of a monthly run and a year end: the one place flows and the CLI call.

``run_period``: reference → statements → evidence → statement checks → categorise → match →
rules → reconcile → store findings → recommend → reports.  Every stage is a library function;
this module only sequences them, records the run, and turns results into report files.
"""
from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable

import pandas as pd

from dpaudit import __version__
from dpaudit.audit.data import load_audit_data
from dpaudit.core.dates import financial_year_bounds, parse_period
from dpaudit.audit.findings import FINDING_COLUMNS, finalise, sort_findings
from dpaudit.ingest.reference import load_reference, reference_findings
from dpaudit.audit.match import MATCH_COLUMNS, match_evidence
from dpaudit.core.policy import Policy, load_policy
from dpaudit.audit.reconcile import reconcile
from dpaudit.audit.rules import run_rules
from dpaudit.audit.rules.common import period_txns
from dpaudit.store import insert_df, now_utc, open_store, transaction

Progress = Callable[[str], None]


@dataclass
class RunResult:
    run_id: str
    period: str
    reports_dir: Path
    db_path: Path
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    summary_md: str = ""
    files: list[Path] = field(default_factory=list)


def default_db(data_dir: Path) -> Path:
    return Path(data_dir) / "dpaudit.duckdb"


def resolve_policy(data_dir: Path, policy_path: Path | str | None) -> Policy:
    """The policy file given, else ``<data>/policy.toml`` when present, else the default."""
    if policy_path is None and (Path(data_dir) / "policy.toml").exists():
        policy_path = Path(data_dir) / "policy.toml"
    return load_policy(policy_path)


def run_id_for(kind: str, key: str, policy: Policy) -> str:
    return f"{kind}-{key}-{policy.digest}-{int(time.time() * 1000) % 10**10:010d}"


def officer_name(officer: str | None) -> str:
    """Who prepares a run: the given name, else $DPAUDIT_OFFICER, else the login name."""
    if officer:
        return officer
    try:
        return os.environ.get("DPAUDIT_OFFICER") or getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        return "dpaudit"


def ingest_period(con, data_dir: Path, period: str, policy: Policy) -> tuple[dict, pd.DataFrame]:
    """Reference, statements and evidence into the store; returns counts and statement-check findings."""
    from dpaudit.ingest import evidence as ev
    from dpaudit.ingest import statements as st
    from dpaudit.ingest.workers import Workers

    counts: dict = {}
    ref = load_reference(con, data_dir, policy)
    if ref.missing:
        raise FileNotFoundError(
            f"{Path(data_dir) / 'reference'} lacks {', '.join(f + '.csv' for f in ref.missing)}; "
            "every run needs the recipients, plan lines and payment schedule (see docs/contract.md).")
    counts["reference_rows"] = sum(ref.loaded.values())
    counts["reference_rejected"] = ref.rejected_rows
    # plan both kinds of file first, then read them on shared workers: the evidence is read while
    # the statements are loaded (a copy of a statement file among the evidence is still a duplicate)
    st_plan = st.plan_statement_files(con, data_dir, period)
    ev_plan = ev.plan_evidence(con, data_dir, period, policy,
                               also_known={f.sha256 for f in st_plan if f.action == "read"})
    with Workers() as pool:
        batches = st.submit_statement_files(pool, data_dir, period, st_plan, policy)
        reads = ev.submit_evidence_reads(pool, ev_plan, policy, period)
        counts.update(st.load_statement_batches(con, batches))
        counts.update(ev.load_evidence(con, ev_plan, reads, period))
    checks = st.statement_checks(con, period, policy)
    return counts, checks


def _store_views(con, data, period: str) -> None:
    """Quarantine and duplicate-file views of the period, derived from stored state (re-run safe)."""
    q = con.execute("SELECT q_id, recipient_id, reason FROM quarantine WHERE period = ? ORDER BY q_id", [period]).df()
    q["key"] = q["q_id"]
    ref = reference_findings(con, period)
    if not ref.empty:
        q = pd.concat([q, ref.rename(columns={"message": "reason"})[["recipient_id", "key", "reason"]]], ignore_index=True)
    data.cache["quarantine_period"] = q
    data.cache["duplicate_files"] = con.execute("""
        SELECT fp.path, fp.recipient_id, f.path AS first_path FROM file_paths fp JOIN files f ON f.sha256 = fp.sha256
        WHERE fp.period = ? AND f.path <> fp.path ORDER BY fp.path""", [period]).df()


def audit_period(con, period: str, policy: Policy, run_id: str, extra_findings: pd.DataFrame | None = None) -> dict:
    """Categorise, match, run every rule and reconcile; store findings, matches, reconciliation."""
    data = load_audit_data(con, period, policy)
    _store_views(con, data, period)
    findings = run_rules(data)
    if extra_findings is not None and not extra_findings.empty:
        extra = extra_findings.copy()
        extra["period"] = period
        findings = pd.concat([findings, finalise(extra, policy)], ignore_index=True).drop_duplicates("exception_id")
    findings = sort_findings(findings)
    matches, _, _ = match_evidence(data)
    rec = reconcile(data)
    with transaction(con):
        con.execute("DELETE FROM findings WHERE period = ?", [period])
        con.execute("DELETE FROM matches WHERE period = ?", [period])
        con.execute("DELETE FROM reconciliation WHERE period = ?", [period])
        # an exception id already stored by another period belongs to that period: keep the first
        f = findings.assign(run_id=run_id)
        insert_df(con, "findings", f)
        insert_df(con, "matches", matches[MATCH_COLUMNS], on_conflict="APPEND")
        insert_df(con, "reconciliation", rec)
    return {"findings": int(len(findings)), "transactions_audited": int(len(period_txns(data))),
            "recipients_reconciled": int(len(rec))}


def period_findings(con, period: str) -> pd.DataFrame:
    from dpaudit.decide.decisions import current_status

    f = con.execute(f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings WHERE period = ?", [period]).df()
    f["amount_pence"] = f["amount_pence"].astype("Int64")
    f["txn_date"] = pd.to_datetime(f["txn_date"]).dt.date
    status = current_status(con, list(f["exception_id"]))
    f["status"] = status["status"].values if len(status) else []
    return sort_findings(f) if not f.empty else f


def write_period_reports(con, period: str, reports_dir: Path, policy: Policy, run_id: str, run_time: datetime,
                         manifest_extra: dict) -> tuple[list[Path], str]:
    from dpaudit.decide.decisions import current_status
    from dpaudit.report import csvs
    from dpaudit.report import letters as letters_mod
    from dpaudit.report.manifest import write_manifest
    from dpaudit.report.summary_md import summary_markdown
    from dpaudit.report.workbook import write_workbook

    out = Path(reports_dir) / period
    out.mkdir(parents=True, exist_ok=True)
    f = period_findings(con, period)
    recs = con.execute("SELECT * FROM recommendations WHERE period = ? ORDER BY recipient_id", [period]).df()
    rec = con.execute("SELECT * FROM reconciliation WHERE period = ? ORDER BY recipient_id", [period]).df()
    q = con.execute("SELECT path, kind, recipient_id, period, row_no, column_name, value_masked, reason FROM quarantine "
                    "WHERE period = ? OR period IS NULL ORDER BY path, row_no, column_name", [period]).df()
    decided = current_status(con)
    files = [
        csvs.write_exceptions_csv(out / "exceptions.csv", f),
        csvs.write_recommendations_csv(out / "recommendations.csv", recs),
        csvs.write_reconciliation_csv(out / "reconciliation.csv", rec),
        write_workbook(out / "exceptions.xlsx", period=period, run_time=run_time, policy_version=policy.version,
                       findings=f, recommendations=recs, reconciliation=rec, quarantine=q, decisions=decided),
    ]
    md = summary_markdown(period=period, run_time=run_time, policy_version=policy.version, findings=f,
                          recommendations=recs, quarantine=q)
    (out / "summary.md").write_text(md, encoding="utf-8")
    files.append(out / "summary.md")
    files += letters_mod.write_accepted_letters(con, out / "letters", period, repay_days=policy.days("repay_days"))
    from dpaudit.decide.decisions import chain_head

    seq, head = chain_head(con)
    manifest = {"period": period, "run_id": run_id, "policy_version": policy.version, "policy_digest": policy.digest,
                "decision_log_head": {"seq": seq, "hash": head},
                "code_version": __version__, "run_time": run_time.isoformat(),
                "counts": {"findings": int(len(f)), "by_rule": f["rule_id"].value_counts().sort_index().to_dict() if len(f) else {}},
                "inputs": con.execute("SELECT path, sha256, kind, status FROM files WHERE period = ? ORDER BY path", [period]).df()
                .to_dict(orient="records"), **manifest_extra}
    files.append(write_manifest(out / "manifest.json", manifest))
    return files, md


def run_period(data_dir: Path | str, period: str, *, reports_dir: Path | str | None = None, db_path: Path | str | None = None,
               policy_path: Path | str | None = None, officer: str | None = None, wait_seconds: float = 0.0,
               progress: Progress | None = None) -> RunResult:
    """The whole month: ingest, validate, audit, recommend and report for one period."""
    parse_period(period)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"the data folder {data_dir} does not exist; run 'dpaudit init {data_dir}' to create one")
    reports_dir = Path(reports_dir) if reports_dir else Path("reports")
    db = Path(db_path) if db_path else default_db(data_dir)
    policy = resolve_policy(data_dir, policy_path)
    say = progress or (lambda _m: None)
    run_id = run_id_for("month", period, policy)
    timings: dict[str, float] = {}
    with open_store(db, wait_seconds=wait_seconds) as con:
        started = now_utc()  # after the lock: the run starts when it may write
        con.execute("INSERT INTO runs VALUES (?, 'month', ?, ?, NULL, 'running', ?, ?, ?, NULL)",
                    [run_id, period, started, policy.version, policy.digest, __version__])
        t0 = time.perf_counter()
        say("ingest")
        counts, checks = ingest_period(con, data_dir, period, policy)
        timings["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("audit")
        counts.update(audit_period(con, period, policy, run_id, checks))
        timings["audit"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("recommend")
        from dpaudit.decide.recommend import recommend_period
        recs = recommend_period(con, period, policy, prepared_by=officer_name(officer), run_id=run_id)
        counts["recommendations"] = recs["action"].value_counts().sort_index().to_dict() if len(recs) else {}
        timings["recommend"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("report")
        try:
            files, md = write_period_reports(con, period, reports_dir, policy, run_id, started, {"stage_seconds": timings})
        except Exception:
            # findings and recommendations are committed; the run record says what is missing
            con.execute("UPDATE runs SET finished_at = ?, status = 'report_failed' WHERE run_id = ?", [now_utc(), run_id])
            raise
        timings["report"] = time.perf_counter() - t0
        from dpaudit.decide.decisions import chain_head

        counts["decision_log_head"] = list(chain_head(con))  # an anchor for `dpaudit decisions verify`
        con.execute("UPDATE runs SET finished_at = ?, status = 'ok', counts_json = ? WHERE run_id = ?",
                    [now_utc(), json.dumps(counts, sort_keys=True, default=str), run_id])
        con.execute("CHECKPOINT")
    return RunResult(run_id, period, reports_dir / period, db, counts, timings, md, files)


def recorded_log_heads(con) -> list[tuple[int, str]]:
    """The decision-log heads recorded by earlier runs (anchors that catch a log cut short)."""
    heads = []
    for (counts,) in con.execute("SELECT counts_json FROM runs WHERE counts_json IS NOT NULL ORDER BY started_at").fetchall():
        head = json.loads(counts).get("decision_log_head")
        if head and int(head[0]) > 0:
            heads.append((int(head[0]), str(head[1])))
    return heads


def run_year_end(data_dir: Path | str, fy: int, *, reports_dir: Path | str | None = None, db_path: Path | str | None = None,
                 policy_path: Path | str | None = None, wait_seconds: float = 0.0) -> RunResult:
    """Year end for FY ``fy`` (April to March) from what the monthly runs stored."""
    from dpaudit.report.csvs import write_year_end_csv
    from dpaudit.report.letters import write_letters, year_end_letters
    from dpaudit.decide.year_end import compute_year_end

    data_dir = Path(data_dir)
    reports_dir = Path(reports_dir) if reports_dir else Path("reports")
    db = Path(db_path) if db_path else default_db(data_dir)
    policy = resolve_policy(data_dir, policy_path)
    run_id = run_id_for("year", str(fy), policy)
    financial_year_bounds(fy)
    with open_store(db, wait_seconds=wait_seconds) as con:
        con.execute("INSERT INTO runs VALUES (?, 'year_end', ?, ?, NULL, 'running', ?, ?, ?, NULL)",
                    [run_id, f"FY{fy}", now_utc(), policy.version, policy.digest, __version__])
        ye = compute_year_end(con, fy, policy, run_id=run_id)
        out = reports_dir / f"FY{fy}"
        out.mkdir(parents=True, exist_ok=True)
        files = [write_year_end_csv(out / "year_end.csv", ye)]
        recipients = con.execute("SELECT * FROM recipients").df()
        files += write_letters(out / "letters", year_end_letters(ye, recipients, fy=fy, letter_date=date.today(),
                                                                  repay_days=policy.days("repay_days")))
        counts = {"recipients": int(len(ye)), "repayment_pence": int(ye["repayment_pence"].sum()) if len(ye) else 0,
                  "carry_forward_pence": int(ye["carry_forward_pence"].sum()) if len(ye) else 0}
        con.execute("UPDATE runs SET finished_at = ?, status = 'ok', counts_json = ? WHERE run_id = ?",
                    [now_utc(), json.dumps(counts, sort_keys=True), run_id])
    return RunResult(run_id, f"FY{fy}", out, db, counts, {}, "", files)
