"""Prefect flows end to end on sample_data/ in ephemeral mode, and the deployment definitions.

Prefect runs against a temporary server in its own PREFECT_HOME (no PREFECT_API_URL), set up in
conftest.py; the first flow in a session starts it (~10-30 s on this machine), later flows reuse
it.  Kept to a few tests.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dpaudit.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture()
def council(tmp_path):
    d = tmp_path / "council"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    return d


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert arts, f"no artifact {key}"
    return max(arts, key=lambda a: a.created).data  # the latest version of the key


def test_deployments_load_with_schedule_and_concurrency_limit():
    from flows.deploy import MONTHLY_CRON, YEAR_END_CRON, build_deployments

    deps = {d.name: d for d in build_deployments("/srv/council", "/srv/reports")}
    assert set(deps) == {"monthly", "year-end", "decisions"}
    crons = {n: [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] for n, d in deps.items()}
    assert crons == {"monthly": [("0 6 6 * *", "Europe/London")], "year-end": [("0 6 10 4 *", "Europe/London")],
                     "decisions": []}
    assert (MONTHLY_CRON, YEAR_END_CRON) == ("0 6 6 * *", "0 6 10 4 *")
    for d in deps.values():
        limit = d.concurrency_limit
        assert getattr(limit, "limit", limit) == 1
    # loaded by module path from the installed package (a worker needs no checkout)
    assert deps["monthly"].entrypoint == "dpaudit.flows.monthly.monthly_reconciliation"
    assert deps["decisions"].entrypoint == "dpaudit.flows.decisions.decisions_import"
    assert deps["monthly"].parameters["data_dir"] == "/srv/council"
    assert "period" not in deps["monthly"].parameters  # the flow audits the previous month by default

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert by_name["monthly"]["schedules"][0]["cron"] == MONTHLY_CRON
    assert by_name["year-end"]["schedules"][0]["cron"] == YEAR_END_CRON
    assert all(d["concurrency_limit"]["limit"] == 1 for d in spec["deployments"])
    import importlib

    from prefect import Flow

    for d in spec["deployments"]:  # every entrypoint names a flow that exists (re-exported by flows/*.py)
        path, fn = d["entrypoint"].split(":")
        assert (ROOT / path).is_file()
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, fn), Flow), d["entrypoint"]
        assert d["parameters"]["data_dir"] == "{{ $DPAUDIT_DATA }}"  # no relative default


def test_default_periods():
    from datetime import date

    from flows.monthly import default_period
    from flows.year_end import default_fy

    assert default_period(date(2026, 5, 6)) == "2026-04"
    assert default_period(date(2026, 1, 6)) == "2025-12"
    assert default_fy(date(2027, 4, 10)) == 2026


def test_monthly_decisions_and_year_end_flows_on_sample_data(council, tmp_path):
    from flows.decisions import decisions_import
    from flows.monthly import monthly_reconciliation
    from flows.year_end import year_end

    reports = tmp_path / "reports"
    res = monthly_reconciliation(str(council), "2026-01", reports_dir=str(reports), officer="A. Preparer",
                                 batch_size=5)
    assert res["counts"]["files_ingested"] >= 11 and res["counts"]["txns_new"] > 0
    assert res["counts"]["findings"] > 0
    names = {Path(f).name for f in res["files"]}
    assert {"exceptions.xlsx", "exceptions.csv", "recommendations.csv", "summary.md", "manifest.json"} <= names
    md = _artifact("dpaudit-month-2026-01")
    assert "# dpaudit run 2026-01" in md and (reports / "2026-01" / "exceptions.xlsx").resolve().as_uri() in md

    # the flow's findings are exactly those the sample council expects for January (by recipient, rule)
    with open_store(council / "dpaudit.duckdb", read_only=True) as con:
        got = con.execute("SELECT exception_id, period, recipient_id, rule_id FROM findings").df()
        runs = con.execute("SELECT status FROM runs").fetchall()
    assert runs == [("ok",)]
    expected = pd.read_csv(council / "expected_findings.csv", dtype=str)
    want = set(map(tuple, expected[expected["period"] == "2026-01"][["recipient_id", "rule_id"]].values))
    found = set(map(tuple, got[["recipient_id", "rule_id"]].values))
    assert found == want, f"missed: {sorted(want - found)}; not expected: {sorted(found - want)}"

    # a decision on one finding goes through the decisions flow
    dec = tmp_path / "decisions.csv"
    dec.write_text(f"exception_id,decision,officer,note\n{got['exception_id'].iloc[0]},query,B. Checker,ask family\n")
    out = decisions_import(str(dec), str(council))
    assert out["appended"] == 1 and out["head_seq"] == 1
    assert "appended: 1" in _artifact("dpaudit-decisions")

    ye = year_end(str(council), 2025, reports_dir=str(reports))
    assert ye["counts"]["recipients"] >= 1 and (reports / "FY2025" / "year_end.csv").is_file()
    assert "year end FY2025" in _artifact("dpaudit-year-end-fy2025")


def test_a_report_failure_keeps_the_findings(council, tmp_path, monkeypatch):
    import flows.monthly as monthly
    from dpaudit import pipeline

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "write_period_reports", broken)
    with pytest.raises(RuntimeError, match="report stage failed"):
        monthly.monthly_reconciliation(str(council), "2026-01", reports_dir=str(tmp_path / "r"))
    with open_store(council / "dpaudit.duckdb", read_only=True) as con:
        n_findings = con.execute("SELECT count(*) FROM findings WHERE period = '2026-01'").fetchall()[0][0]
        n_recs = con.execute("SELECT count(*) FROM recommendations WHERE period = '2026-01'").fetchall()[0][0]
        status = con.execute("SELECT status FROM runs").fetchall()
    assert n_findings > 0 and n_recs == 14  # one per recipient of the sample council
    assert status == [("report_failed",)]
    assert "Reports were not written" in _artifact("dpaudit-month-2026-01")
