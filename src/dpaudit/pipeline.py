"""The stage order of a monthly run and a year end: the one place flows and the CLI call.

``run_period``: reference → statements → evidence → statement checks → categorise → match →
rules → reconcile → store findings → recommend → reports.  Every stage is a library function;
this module only sequences them, records the run, and turns results into report files.
"""
from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Callable

import pandas as pd

from dpaudit import __version__
from dpaudit.core import checkpoint
from dpaudit.audit.data import AuditData, load_audit_data
from dpaudit.core.dates import financial_year_bounds, parse_period
from dpaudit.core.mask import mask_text
from dpaudit.audit.findings import FINDING_COLUMNS, sort_findings
from dpaudit.ingest.inbox import known_recipients, record_not_read, scan_inbox
from dpaudit.ingest import remote
from dpaudit.ingest.reference import load_reference
from dpaudit.audit.match import MATCH_COLUMNS
from dpaudit.core.policy import Policy, load_policy
from dpaudit.audit.rules import run_cohort_rules, run_rules
from dpaudit.store import insert_df, now_utc, open_store, set_holder, transaction

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


def store_path(data_dir: Path | str, db_path: Path | str | None) -> Path:
    """The store a command uses: ``--db`` when given, else ``<data>/dpaudit.duckdb``."""
    return Path(db_path) if db_path else default_db(Path(data_dir))


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


def ingest_period(con, data_dir: Path, period: str, policy: Policy, pool: Any = None) -> dict:
    """Reference, statements and evidence of ``period`` into the store; returns the counts.

    ``pool`` reads the files (``submit(fn, chunks, *args)``): worker processes by default."""
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
    # the statements are loaded (duplicates are judged within one recipient and one kind of file)
    box = scan_inbox(data_dir, period, known_recipients(con))
    counts["inbox_not_read"] = record_not_read(con, period, box)
    st_plan = st.plan_statement_files(con, data_dir, period, box)
    ev_plan = ev.plan_evidence(con, data_dir, period, policy, box)
    with contextlib.ExitStack() as stack:
        pool = pool or stack.enter_context(Workers())
        source = remote.source_for(data_dir, int(policy.threshold("max_file_bytes")))  # None: a local folder
        batches = st.submit_statement_files(pool, data_dir, period, st_plan, policy, source)
        reads = ev.submit_evidence_reads(pool, ev_plan, policy, period, source)
        counts.update(st.load_statement_batches(con, batches))
        counts.update(ev.load_evidence(con, ev_plan, reads, period))
    return counts


def audit_findings(con, period: str, policy: Policy, only: list[str] | None = None) -> tuple[AuditData, pd.DataFrame]:
    """The period's data and the findings of every enabled rule (or only those named), sorted: the
    recipient stage, then the cohort stage on the same (whole month's) data."""
    data = load_audit_data(con, period, policy)
    both = pd.concat([run_rules(data, only=only), run_cohort_rules(data, only=only)], ignore_index=True)
    return data, sort_findings(both.drop_duplicates("exception_id"))


def audited(data: AuditData, pool: Any = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Findings (sorted), matches, reconciliation and the number of period transactions of a month.

    With ``pool`` (``submit(fn, chunks)``: worker processes, or the flow's task runner on a Dask
    cluster) and enough recipients, the month is audited in shards of recipients on the pool and
    the shards merged (``audit.shard``): the result is the same as in one process."""
    from dpaudit.audit import shard

    n_workers = int(getattr(pool, "n", 1) or 1) if pool is not None else 1
    n = shard.shard_count(len(data.recipients), n_workers)
    if n <= 1:
        return shard.audit_month(data, [shard.audit_shard(data)])
    parts = shard.split(data, n)
    return shard.audit_month(data, [r for chunk in pool.submit(shard.audit_chunk, [[p] for p in parts]) for r in chunk])


def audit_period(con, period: str, policy: Policy, run_id: str, pool: Any = None) -> dict:
    """Categorise, match, run every rule and reconcile (on ``pool`` in shards of recipients, see
    :func:`audited`); store findings, matches, reconciliation."""
    data = load_audit_data(con, period, policy)
    findings, matches, rec, n_txns = audited(data, pool)
    with transaction(con):
        con.execute("DELETE FROM findings WHERE period = ?", [period])
        con.execute("DELETE FROM matches WHERE period = ?", [period])
        con.execute("DELETE FROM reconciliation WHERE period = ?", [period])
        insert_df(con, "findings", findings.assign(run_id=run_id))
        insert_df(con, "matches", matches[MATCH_COLUMNS], on_conflict="APPEND")
        insert_df(con, "reconciliation", rec)
    return {"findings": int(len(findings)), "transactions_audited": n_txns, "recipients_reconciled": int(len(rec))}


def recommend_and_rate(con, period: str, policy: Policy, *, prepared_by: str,
                       run_id: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The period's recommendations, then its risk ratings (``decide.risk``: findings and
    reconciliation of the recent periods, with the officers' decisions as they are now), both
    stored; the recommend stage of a run and of ``report``."""
    from dpaudit.decide.recommend import recommend_period
    from dpaudit.decide.risk import rate_period

    recs = recommend_period(con, period, policy, prepared_by=prepared_by, run_id=run_id)
    return recs, rate_period(con, period, policy, run_id=run_id)


def period_recommendations(con, period: str) -> pd.DataFrame:
    """The period's recommendations with each recipient's risk rating (``risk_rating, risk_score,
    risk_reasons, next_review``; blank where the period was not rated)."""
    return con.execute("""
        SELECT r.*, k.rating AS risk_rating, k.score AS risk_score, k.reasons AS risk_reasons, k.next_review
        FROM recommendations r LEFT JOIN risk_ratings k USING (period, recipient_id)
        WHERE r.period = ? ORDER BY r.recipient_id""", [period]).df()


def period_findings(con, period: str, policy: Policy | None = None) -> pd.DataFrame:
    """The period's findings, sorted, with each one's decision status (with ``policy``, a decision
    carried from the previous period's same state counts: ``decisions.carried_decisions``)."""
    from dpaudit.decide.decisions import current_status

    f = con.execute(f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings WHERE period = ?", [period]).df()
    f["amount_pence"] = f["amount_pence"].astype("Int64")
    f["txn_date"] = pd.to_datetime(f["txn_date"]).dt.date
    status = current_status(con, list(f["exception_id"]), **(policy.carry() if policy is not None else {}))
    f["status"] = status["status"].values if len(status) else []
    return sort_findings(f) if not f.empty else f


def write_period_reports(con, period: str, reports_dir: Path, policy: Policy, run_id: str, run_time: datetime,
                         manifest_extra: dict) -> tuple[list[Path], str]:
    """Write the period's reports as one set: into ``.<period>.writing`` beside the period's folder,
    which then takes the folder's place, so a reader (or a run killed half-way) never sees new CSVs
    beside an old workbook.  Files in the folder that dpaudit did not write (an officer's returned
    workbook) are carried over."""
    final = Path(reports_dir) / period
    stage = Path(reports_dir) / f".{period}.writing"
    previous = Path(reports_dir) / f".{period}.previous"
    if not final.exists() and previous.exists():  # killed between the two renames below
        previous.rename(final)
    shutil.rmtree(stage, ignore_errors=True)
    shutil.rmtree(previous, ignore_errors=True)
    stage.mkdir(parents=True)
    files, md = _write_period_files(con, period, stage, policy, run_id, run_time, manifest_extra)
    if final.exists():
        for old in sorted(final.rglob("*")):
            keep = stage / old.relative_to(final)
            if old.is_file() and not old.name.endswith(".tmp") and not keep.exists():
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(old, keep)
        final.rename(previous)
    stage.rename(final)
    shutil.rmtree(previous, ignore_errors=True)
    return [final / f.relative_to(stage) for f in files], md


def _write_period_files(con, period: str, out: Path, policy: Policy, run_id: str, run_time: datetime,
                        manifest_extra: dict) -> tuple[list[Path], str]:
    from dpaudit.decide.decisions import current_status
    from dpaudit.report import csvs
    from dpaudit.report import letters as letters_mod
    from dpaudit.report.manifest import write_manifest
    from dpaudit.report.summary_md import summary_markdown
    from dpaudit.report.workbook import workbook_lookups, write_workbook

    f = period_findings(con, period, policy)
    recs = period_recommendations(con, period)
    rec = con.execute("SELECT * FROM reconciliation WHERE period = ? ORDER BY recipient_id", [period]).df()
    q = con.execute("SELECT path, kind, recipient_id, period, row_no, column_name, value_masked, reason FROM quarantine "
                    "WHERE period = ? OR period IS NULL ORDER BY path, row_no, column_name", [period]).df()
    decided = current_status(con, **policy.carry())
    # a recommendation decided in an earlier month (an accepted STOP) is shown, not pre-filled: a
    # decision typed here would be a new one and write the letter again
    carried_rec = decided["carried_from"].notna() & decided["exception_id"].str.startswith("REC-")
    if carried_rec.any():
        decided = decided.copy()
        decided.loc[carried_rec, "note"] = ("Already " + decided.loc[carried_rec, "status"].astype(str) + " for "
                                            + decided.loc[carried_rec, "carried_from"].str[4:11] + " by "
                                            + decided.loc[carried_rec, "officer"].astype(str) + "; no new decision needed.")
        decided.loc[carried_rec, "status"] = None
    files = [
        csvs.write_exceptions_csv(out / "exceptions.csv", f),
        csvs.write_recommendations_csv(out / "recommendations.csv", recs),
        csvs.write_reconciliation_csv(out / "reconciliation.csv", rec),
        write_workbook(out / "exceptions.xlsx", period=period, run_time=run_time, policy_version=policy.version,
                       findings=f, recommendations=recs, reconciliation=rec, quarantine=q, decisions=decided,
                       policy=policy, **workbook_lookups(con, period)),
    ]
    md = summary_markdown(period=period, run_time=run_time, policy_version=policy.version, findings=f,
                          recommendations=recs, quarantine=q, review_months=policy.raw["risk"]["review_months"])
    (out / "summary.md").write_text(md, encoding="utf-8")
    files.append(out / "summary.md")
    files += letters_mod.write_accepted_letters(con, out / "letters", period, policy=policy)
    from dpaudit.decide.decisions import chain_head

    seq, head = chain_head(con)
    manifest = {"period": period, "run_id": run_id, "policy_version": policy.version, "policy_digest": policy.digest,
                "decision_log_head": {"seq": seq, "hash": head},
                "code_version": __version__, "run_time": run_time.isoformat(),
                "counts": {"findings": int(len(f)), "by_rule": f["rule_id"].value_counts().sort_index().to_dict() if len(f) else {},
                           **_card_rows_not_counted(con, period)},
                "inputs": [{**row, "path": mask_text(row["path"])} for row in con.execute(
                    "SELECT path, sha256, kind, status FROM files WHERE period = ? ORDER BY path", [period]).df()
                    .to_dict(orient="records")], **manifest_extra}
    files.append(write_manifest(out / "manifest.json", manifest))
    return files, md


def _card_rows_not_counted(con, period: str) -> dict:
    """Rows of the period's prepaid-card exports that are valid but moved no money (declined,
    reversed, an authorisation settled in the same file): never transactions, so said here."""
    (n,) = con.execute("""SELECT coalesce(sum(t.n_not_counted), 0) FROM statement_totals t
                          JOIN statements s USING (file_sha256, stmt_index) WHERE s.period = ?""", [period]).fetchone()
    return {"card_rows_not_counted": int(n)}


STAGES = ("ingest", "audit", "recommend", "report")
StageRunner = Callable[..., Any]  # (stage name, fn, *args) -> fn(*args); the flows run each stage as a task


def _run_inline(_stage: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return fn(*args, **kw)


def require_data_dir(data_dir: Path | str) -> Path:
    """The data folder as an absolute Path (file-reading workers may run elsewhere: they get
    absolute paths); a plain error naming the fix when it does not exist."""
    d = Path(data_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"the data folder {d} does not exist; run 'dpaudit init {d}' to create one")
    return d.resolve()


def open_data_store(data_dir: Path | str, db_path: Path | str | None = None, *, wait_seconds: float = 0.0,
                    read_only: bool = False):
    """The store of a data folder (``--db`` or ``<data>/dpaudit.duckdb``), after checking the folder exists."""
    d = require_data_dir(data_dir)
    return open_store(store_path(d, db_path), wait_seconds=wait_seconds, read_only=read_only)


class RunRecord:
    """One row of ``runs``: written 'running' when the run may write (after the store lock), then
    'ok' or '<stage>_failed' with its counts.  Every entry point (CLI, flows) records through it.
    A row still 'running' when a run starts belongs to a run that was killed (the lock says no other
    run is writing): it is marked 'killed' and named in this run's counts."""

    def __init__(self, con, kind: str, key: str, policy: Policy, *, progress: Progress | None = None,
                 stage_runner: StageRunner | None = None) -> None:
        self.con, self.kind, self.key = con, kind, key
        self.run_id = run_id_for(kind, key, policy)
        self.started = now_utc()
        self.counts: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.current: str | None = None
        self._say = progress or (lambda _m: None)
        self._runner = stage_runner or _run_inline
        # this process holds the single-writer lock, so a run still 'running' was killed: say so
        killed = [r[0] for r in con.execute(
            "UPDATE runs SET status = 'killed', finished_at = ? WHERE status = 'running' RETURNING run_id",
            [self.started]).fetchall()]
        con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, NULL, 'running', ?, ?, ?, NULL)",
                    [self.run_id, kind, key, self.started, policy.version, policy.digest, __version__])
        if killed:
            self.counts["runs_found_killed"] = sorted(killed)
        set_holder(con, f"dpaudit {kind} run {key} ({self.run_id})")

    def stage(self, name: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run one stage (through the stage runner), timing it."""
        self.current = name
        self._say(name)
        checkpoint.reached("run.stage_starts")
        t0 = time.perf_counter()
        out = self._runner(name, fn, *args, **kw)
        self.timings[name] = time.perf_counter() - t0
        return out

    def close(self, status: str) -> None:
        self.con.execute("UPDATE runs SET finished_at = ?, status = ?, counts_json = ? WHERE run_id = ?",
                         [now_utc(), status, json.dumps(self.counts, sort_keys=True, default=str), self.run_id])


@contextlib.contextmanager
def recorded_run(con, kind: str, key: str, policy: Policy, **kw: Any) -> Iterator[RunRecord]:
    """Record a run around the block: 'ok' when it ends, '<stage>_failed' (kept, then re-raised) when
    it raises.  The exception carries the record as ``run_record`` (what was done, for an artifact)."""
    rec = RunRecord(con, kind, key, policy, **kw)
    try:
        yield rec
    except BaseException as exc:
        with contextlib.suppress(Exception):  # the store itself may be what failed
            rec.close(f"{rec.current or kind}_failed")
        with contextlib.suppress(AttributeError, TypeError):
            exc.run_record = rec  # type: ignore[attr-defined]
        raise
    from dpaudit.decide.decisions import chain_head

    head = chain_head(con)
    rec.counts["decision_log_head"] = list(head)  # an anchor for `dpaudit decisions verify`
    checkpoint.reached("run.before_record_ok")
    rec.close("ok")
    _anchor_outside(con, head, f"{kind} {key} {rec.run_id}")
    con.execute("CHECKPOINT")


def run_period(data_dir: Path | str, period: str, *, reports_dir: Path | str | None = None, db_path: Path | str | None = None,
               policy_path: Path | str | None = None, officer: str | None = None, wait_seconds: float = 0.0,
               progress: Progress | None = None, stages: tuple[str, ...] = STAGES,
               stage_runner: StageRunner | None = None, pool: Any = None) -> RunResult:
    """One month: ingest, audit, recommend and report (``stages``, in that order), recorded as one run.

    ``stage_runner`` runs each stage (the Prefect flow makes each a task); ``pool`` reads the
    month's files (worker processes by default; the flow passes its task runner)."""
    from dpaudit.decide.risk import rating_counts
    from dpaudit.ingest.workers import Workers

    parse_period(period)
    data_dir = require_data_dir(remote.local_data(data_dir, [period], policy_path=policy_path)
                                if "ingest" in stages else data_dir)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; the stages are {', '.join(STAGES)}")
    reports_dir = Path(reports_dir) if reports_dir else Path("reports")
    policy = resolve_policy(data_dir, policy_path)
    files: list[Path] = []
    md = ""
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds) as con, \
            recorded_run(con, "month" if "report" in stages else "/".join(stages), period, policy,
                         progress=progress, stage_runner=stage_runner) as run:
        if "ingest" in stages:
            run.counts.update(run.stage("ingest", ingest_period, con, data_dir, period, policy, pool))
        if "audit" in stages:
            with contextlib.ExitStack() as stack:
                audit_pool = pool or stack.enter_context(Workers())
                run.counts.update(run.stage("audit", audit_period, con, period, policy, run.run_id, audit_pool))
        if "recommend" in stages:
            recs, ratings = run.stage("recommend", recommend_and_rate, con, period, policy,
                                      prepared_by=officer_name(officer), run_id=run.run_id)
            run.counts["recommendations"] = (recs["action"].value_counts().sort_index().to_dict() if len(recs) else {})
            run.counts["risk"] = rating_counts(ratings["rating"])
        if "report" in stages:
            files, md = run.stage("report", write_period_reports, con, period, reports_dir, policy, run.run_id,
                                  run.started, {"stage_seconds": dict(run.timings)})
    return RunResult(run.run_id, period, reports_dir / period, store_path(data_dir, db_path),
                     run.counts, run.timings, md, files)


def report_period(data_dir: Path | str, period: str, *, reports_dir: Path | str | None = None,
                  db_path: Path | str | None = None, policy_path: Path | str | None = None,
                  wait_seconds: float = 0.0) -> RunResult:
    """Recommend and rate again and write a month's reports from the store (after officers' decisions, say)."""
    from dpaudit.decide.risk import rating_counts

    parse_period(period)
    data_dir = require_data_dir(data_dir)
    reports_dir = Path(reports_dir) if reports_dir else Path("reports")
    policy = resolve_policy(data_dir, policy_path)
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds) as con:
        if not con.execute("SELECT count(*) FROM recommendations WHERE period = ?", [period]).fetchall()[0][0]:
            raise FileNotFoundError(f"the store has no audit of {period} yet; run 'dpaudit audit --data {data_dir} "
                                    f"--period {period}' (or 'dpaudit run') first")
        with recorded_run(con, "report", period, policy) as run:
            # recommendations again from the findings and the decision log as they are now: a finding
            # dismissed since the run no longer counts toward a repayment or a letter
            preparer = con.execute("SELECT min(prepared_by) FROM recommendations WHERE period = ?", [period]).fetchone()[0]
            _, ratings = run.stage("recommend", recommend_and_rate, con, period, policy,
                                   prepared_by=preparer or "dpaudit", run_id=run.run_id)
            run.counts["risk"] = rating_counts(ratings["rating"])
            files, md = run.stage("report", write_period_reports, con, period, reports_dir, policy, run.run_id,
                                  run.started, {})
    return RunResult(run.run_id, period, reports_dir / period, store_path(data_dir, db_path),
                     run.counts, run.timings, md, files)


def period_overview(db_path: Path | str, periods: list[str], wait_seconds: float = 0.0) -> dict:
    """Findings by severity and recommendations by action (counts and pence) and recipients by risk
    rating of some periods; the money of each severity counts each payment once, under the highest
    severity that flags it."""
    marks = ", ".join("?" for _ in periods)
    # another run may have taken the store as soon as this one let it go: wait for it as the run did
    with open_store(db_path, read_only=True, wait_seconds=wait_seconds) as con:
        # money: each payment once (its largest amount), under the highest severity that flags it
        sev = con.execute(f"""
            WITH f AS (
                SELECT period, recipient_id, severity, coalesce(amount_pence, 0) AS amount_pence,
                       coalesce(nullif(trim(txn_ref), ''), 'finding:' || exception_id) AS payment,
                       CASE lower(severity) WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END AS rank
                FROM findings WHERE period IN ({marks})),
            pay AS (
                SELECT arg_min(severity, rank) AS severity, max(amount_pence) AS amount_pence
                FROM f GROUP BY period, recipient_id, payment),
            n AS (SELECT severity, count(*) AS n FROM f GROUP BY severity),
            m AS (SELECT severity, sum(amount_pence) AS money FROM pay GROUP BY severity)
            SELECT n.severity, n.n, coalesce(m.money, 0) FROM n LEFT JOIN m USING (severity)""", periods).fetchall()
        act = con.execute(f"SELECT action, count(*), coalesce(sum(amount_pence), 0) FROM recommendations "
                          f"WHERE period IN ({marks}) GROUP BY action", periods).fetchall()
        risk = con.execute(f"SELECT rating, count(*) FROM risk_ratings WHERE period IN ({marks}) GROUP BY rating",
                           periods).fetchall()
    return {"severity": {s: (int(n), int(p)) for s, n, p in sev}, "action": {a: (int(n), int(p)) for a, n, p in act},
            "risk": {r: int(n) for r, n in risk}}


def import_decision_file(path: Path | str, data_dir: Path | str, *, officer: str | None = None,
                         db_path: Path | str | None = None, wait_seconds: float = 0.0):
    """Import a returned exceptions.xlsx (or a decisions CSV) into the decision log; returns the import
    result and the verification of the whole chain after it (the caller reports a broken chain)."""
    from dpaudit.decide.decisions import (import_decisions, known_ids, prepared_by_map, read_csv_decisions,
                                          read_workbook_decisions, verify_chain)

    path = Path(path)
    data_dir = require_data_dir(data_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; give the exceptions.xlsx the officers returned")
    frame = read_workbook_decisions(path) if path.suffix.lower() == ".xlsx" else read_csv_decisions(path)
    four_eyes = bool(resolve_policy(data_dir, None).raw["recommend"]["four_eyes"])
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds) as con:
        # who decides: --officer, else $DPAUDIT_OFFICER, else the login name (as for a run); the
        # four-eyes check below still refuses a decision by the officer who prepared the run
        res = import_decisions(con, frame, known_ids=known_ids(con), officer_default=officer_name(officer), source=path.name,
                               prepared_by=prepared_by_map(con), four_eyes=four_eyes)
        check = verify_chain(con, anchors=recorded_log_heads(con))
        _anchor_outside(con, (check.head_seq, check.head_hash), f"decisions import {path.name}")
    return res, check


def _anchor_outside(con, head: tuple[int, str], source: str) -> None:
    """Append a non-empty log head to the store's anchor file (``decide.anchors``)."""
    from dpaudit.decide.anchors import append_anchor
    from dpaudit.store import db_path_of

    db = db_path_of(con)
    if db is not None and head[0] > 0:
        append_anchor(db, head[0], head[1], source)


def verify_decision_log(data_dir: Path | str, *, db_path: Path | str | None = None,
                        reports_dir: Path | str | None = None, wait_seconds: float = 0.0):
    """Check the decision log against every anchor: the store's runs, the anchor file beside the
    store and, given ``reports_dir``, the periods' manifests."""
    from dpaudit.decide.anchors import manifest_anchors, read_anchors
    from dpaudit.decide.decisions import verify_chain

    db = store_path(data_dir, db_path)
    if not db.exists():
        raise FileNotFoundError(f"no store at {db}; run a month first")
    file_anchors, file_problems = read_anchors(db)
    anchors = file_anchors + (manifest_anchors(reports_dir) if reports_dir else [])
    with open_store(db, read_only=True, wait_seconds=wait_seconds) as con:
        res = verify_chain(con, anchors=recorded_log_heads(con) + anchors)
    if file_problems:
        res = dataclasses.replace(res, ok=False, problems=file_problems + res.problems)
    return res


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
    """Year end for FY ``fy`` (April to March) from what the monthly runs stored: ``year_end.csv``,
    ``year_end.xlsx`` for officers' decisions, and a letter for each repayment an officer has
    accepted (run it again after importing the returned workbook)."""
    from dpaudit.decide.decisions import current_status, year_end_id
    from dpaudit.decide.year_end import compute_year_end
    from dpaudit.report.csvs import write_year_end_csv
    from dpaudit.report.letters import council_details, write_letters, year_end_letters
    from dpaudit.report.workbook import write_year_end_workbook

    financial_year_bounds(fy)
    data_dir = require_data_dir(data_dir)
    reports_dir = Path(reports_dir) if reports_dir else Path("reports")
    policy = resolve_policy(data_dir, policy_path)
    out = reports_dir / f"FY{fy}"
    first, last = f"{fy}-04", f"{fy + 1}-03"
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds) as con:
        audited = con.execute("SELECT count(*) FROM reconciliation WHERE period BETWEEN ? AND ?", [first, last]).fetchall()
        if not audited[0][0]:
            raise FileNotFoundError(
                f"the store has no audited month of FY{fy} (April {fy} to March {fy + 1}); audit the year's months "
                f"first, e.g. 'dpaudit run --data {data_dir} --periods {first}..{last}', then run the year end")
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds) as con, \
            recorded_run(con, "year_end", f"FY{fy}", policy) as run:
        ye = run.stage("year_end", compute_year_end, con, fy, policy, run_id=run.run_id)
        out.mkdir(parents=True, exist_ok=True)
        recipients = con.execute("SELECT * FROM recipients").df()
        ids = [year_end_id(fy, rid) for rid in ye["recipient_id"]]
        status = current_status(con, ids)  # an officer's own decisions only: a letter needs one
        files = [write_year_end_csv(out / "year_end.csv", ye),
                 write_year_end_workbook(out / "year_end.xlsx", ye, fy=fy, decisions=status, people=recipients)]
        accepted = ye[(status["status"] == "accepted").to_numpy()]
        for stale in (out / "letters").glob(f"FY{fy}_*"):  # a decision changed since: only accepted ones stay
            stale.unlink()
        decided_on = {rid: pd.Timestamp(when).date() for rid, when, ok in
                      zip(ye["recipient_id"], status["decided_at"], status["status"] == "accepted") if ok and pd.notna(when)}
        files += write_letters(out / "letters", year_end_letters(accepted, recipients, fy=fy, council=council_details(policy),
                                                                  repay_days=policy.days("repay_days"),
                                                                  decided_on=decided_on))
        run.counts["letters"] = int((accepted["repayment_pence"] > 0).sum()) if len(accepted) else 0
        run.counts.update({"recipients": int(len(ye)),
                           "repayment_pence": int(ye["repayment_pence"].sum()) if len(ye) else 0,
                           "carry_forward_pence": int(ye["carry_forward_pence"].sum()) if len(ye) else 0,
                           "family_share_pence": int(ye["family_share_pence"].sum()) if len(ye) else 0})
    return RunResult(run.run_id, f"FY{fy}", out, store_path(data_dir, db_path), run.counts,
                     run.timings, "", files)


# store rows older than a retention date: table -> the SQL condition that makes a row old (? = the date)
PURGE_WHERE = {
    "transactions": "posted_date < ?",
    "statement_totals": "file_sha256 IN (SELECT file_sha256 FROM statements WHERE end_date < ?)",
    "statements": "end_date < ?",
    "receipts": "date < ?",
    "invoices": "invoice_date < ?",
    "payslips": "pay_date < ?",
    "hmrc_payments": "paid_date < ?",
    "matches": "period < strftime(?, '%Y-%m')",
    "findings": "period < strftime(?, '%Y-%m')",
    "reconciliation": "period < strftime(?, '%Y-%m')",
    "recommendations": "period < strftime(?, '%Y-%m')",
    "risk_ratings": "period < strftime(?, '%Y-%m')",
    "quarantine": "period < strftime(?, '%Y-%m')",
    "file_paths": "period < strftime(?, '%Y-%m')",
    "files": "period < strftime(?, '%Y-%m')",
    "scans": "period < strftime(?, '%Y-%m')",
    "year_end": "make_date(fy + 1, 3, 31) < ?",
}


def _old_rows(con, before: date) -> dict[str, int]:
    return {table: int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}",
                                    [before] * where.count("?")).fetchall()[0][0])
            for table, where in PURGE_WHERE.items()}


def purge_preview(data_dir: Path | str, before: date, *, db_path: Path | str | None = None,
                  wait_seconds: float = 0.0) -> dict[str, int]:
    """How many rows of each table :func:`purge_before` would delete (nothing is changed)."""
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds, read_only=True) as con:
        return _old_rows(con, before)


def purge_before(data_dir: Path | str, before: date, *, db_path: Path | str | None = None,
                 wait_seconds: float = 0.0) -> dict[str, int]:
    """Delete the store's rows about money, evidence and audits dated before ``before`` (whole
    months: a period is removed when it starts before the date's month), in one transaction, and
    record the counts as a ``purge`` run.  Reference data (the current snapshot) and the decision
    log (append-only, hash-chained: the audit trail of officers' decisions) are kept."""
    data_dir = require_data_dir(data_dir)
    policy = resolve_policy(data_dir, None)
    with open_data_store(data_dir, db_path, wait_seconds=wait_seconds) as con, \
            recorded_run(con, "purge", before.isoformat(), policy) as run:
        with transaction(con):
            removed = _old_rows(con, before)
            for table, where in PURGE_WHERE.items():  # in order: totals before their statements
                con.execute(f"DELETE FROM {table} WHERE {where}", [before] * where.count("?"))
        run.counts["purged_before"] = before.isoformat()
        run.counts["rows_removed"] = removed
    return removed
