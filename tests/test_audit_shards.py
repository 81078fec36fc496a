"""The audit in shards of recipients (worker processes, or a Dask cluster's workers) stores exactly
what the one-process audit stores (issue 17): findings, matches and reconciliation to the byte,
the cohort findings (CO-*, run once on the whole month after the shards, issue 18) included."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from dpaudit import pipeline
from dpaudit.audit import shard
from dpaudit.audit.data import load_audit_data
from dpaudit.core.policy import load_policy
from dpaudit.ingest.workers import Workers
from dpaudit.store import open_store
from dpaudit.synth.realistic.__main__ import generate

POLICY = load_policy()
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
COHORT_RULES = {"CO-SHARED-PAYEE", "CO-DUPLICATE-INVOICE", "CO-PROVIDER-PATTERN"}


@pytest.fixture(scope="module")
def council(tmp_path_factory):
    """A realistic council (siblings sharing files, a wrong-account statement, stopped recipients)
    ingested for two months."""
    root = tmp_path_factory.mktemp("shards")
    generate(str(root / "c"), n=40, seed=7)
    for p in ("2025-10", "2025-11"):
        pipeline.run_period(root / "c", p, reports_dir=root / "r", db_path=root / "db.duckdb", officer="Prep",
                            stages=("ingest",))
    return root


@pytest.fixture(scope="module")
def sample_council(tmp_path_factory):
    """The bundled sample council ingested for its three months: its cohort cases span accounts
    that fall in different shards (the shared assistant's four payers, the two accounts of the
    long week, the duplicate invoice's two, the round-sum provider's six)."""
    root = tmp_path_factory.mktemp("shards-sample")
    shutil.copytree(SAMPLE, root / "c")
    for p in ("2026-01", "2026-02", "2026-03"):
        pipeline.run_period(root / "c", p, reports_dir=root / "r", db_path=root / "db.duckdb", officer="Prep",
                            stages=("ingest",))
    return root


def stored(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as the store keeps it: every missing value one NULL, whatever pandas called it."""
    f = frame.reset_index(drop=True).astype(object)
    return f.where(f.notna(), None)


class InProcess:
    """A pool that runs each chunk here (what a Dask or process pool does, without the transport)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def submit(self, fn, chunks, *args, parallel=True):
        return (fn(c, *args) for c in chunks)


def whole_and_sharded(root: Path, period: str, pool, min_shard: int = 5) -> tuple:
    """The month audited in one piece (recipient stage, then the cohort stage on the same data)
    and through ``pipeline.audited`` in shards of at least ``min_shard`` recipients."""
    with open_store(root / "db.duckdb", read_only=True) as con:
        data = load_audit_data(con, period, POLICY)
    one = shard.audit_month(data, [shard.audit_shard(data)])
    with open_store(root / "db.duckdb", read_only=True) as con:
        data = load_audit_data(con, period, POLICY)
    shard.MIN_SHARD_RECIPIENTS, saved = min_shard, shard.MIN_SHARD_RECIPIENTS
    try:
        many = pipeline.audited(data, pool)
    finally:
        shard.MIN_SHARD_RECIPIENTS = saved
    return one, many


@pytest.mark.parametrize("period", ["2025-10", "2025-11"])
def test_shards_give_the_one_process_result(council, period):
    one, many = whole_and_sharded(council, period, InProcess(4))
    assert len(one[0]) > 20 and one[3] > 100
    for a, b, name in zip(one[:3], many[:3], ("findings", "matches", "reconciliation")):
        # the same values in the same order (pandas infers a text column's type from its values)
        pd.testing.assert_frame_equal(stored(a), stored(b), obj=name)
    assert one[3] == many[3]


@pytest.mark.parametrize("period", ["2026-01", "2026-02", "2026-03"])
def test_cohort_findings_across_shards_are_the_one_process_ones(sample_council, period):
    """Shards of 3 recipients (4 shards, round robin: R00003-R00006 each in another one): every
    cohort finding of the sample is found once, and the month is the same to the byte."""
    with open_store(sample_council / "db.duckdb", read_only=True) as con:
        parts = shard.split(load_audit_data(con, period, POLICY), 4)
    assert len(parts) == 4 and len({tuple(p.recipients["recipient_id"]) for p in parts}) == 4
    one, many = whole_and_sharded(sample_council, period, InProcess(4), min_shard=3)
    co = one[0][one[0]["rule_id"].str.startswith("CO-")]
    # March: the round-sum pattern shows again but was raised in February (once a financial year)
    want = {"2026-01": {"CO-SHARED-PAYEE"}, "2026-02": COHORT_RULES, "2026-03": set()}[period]
    assert set(co["rule_id"]) == want
    # a shard alone sees none of it: each cohort case needs accounts of two or more shards
    for p in parts:
        alone = shard.audit_shard(p)[0]
        assert not alone["rule_id"].str.startswith("CO-").any()
    for a, b, name in zip(one[:3], many[:3], ("findings", "matches", "reconciliation")):
        pd.testing.assert_frame_equal(stored(a), stored(b), obj=name)
    assert one[3] == many[3]


def test_recipients_sharing_a_file_are_in_one_shard(council):
    with open_store(council / "db.duckdb", read_only=True) as con:
        data = load_audit_data(con, "2025-11", POLICY)
    where = shard.shard_of(data, 4)
    d = data.duplicate_files.dropna(subset=["first_recipient"])
    assert all(where[r] == where[f] for r, f in zip(d["recipient_id"], d["first_recipient"]))
    parts = shard.split(data, 4)
    assert sum(len(p.recipients) for p in parts) == len(data.recipients)
    assert sum(len(p.txns) for p in parts) == len(data.txns)


def test_worker_processes_give_the_one_process_result(council):
    with Workers(2) as pool:
        one, many = whole_and_sharded(council, "2025-11", pool)
    pd.testing.assert_frame_equal(stored(one[0]), stored(many[0]), obj="findings")
    pd.testing.assert_frame_equal(stored(one[1]), stored(many[1]), obj="matches")


def test_a_month_on_a_local_dask_cluster_of_worker_processes_stores_the_same(tmp_path, monkeypatch):
    """The whole month (files read, shards audited) on a ``LocalCluster`` with 2 worker processes
    writes the same findings (cohort findings included), matches, reconciliation, recommendations and
    exceptions.csv as the plain run."""
    import shutil

    from dpaudit.ingest.workers import DaskPool

    monkeypatch.setattr(shard, "MIN_SHARD_RECIPIENTS", 5)  # 40 recipients: shards of 20
    generate(str(tmp_path / "plain"), n=40, seed=11)
    shutil.copytree(tmp_path / "plain", tmp_path / "dask")
    tables = {"findings": "SELECT * EXCLUDE (run_id) FROM findings ORDER BY exception_id",
              "matches": "SELECT * FROM matches ORDER BY txn_id, evidence_id",
              "reconciliation": "SELECT * FROM reconciliation ORDER BY period, recipient_id",
              "recommendations": "SELECT * EXCLUDE (run_id) FROM recommendations ORDER BY period, recipient_id"}
    # and the sample council (12 recipients: 2 shards, odd and even), where every cohort rule fires
    # on accounts of both shards
    shutil.copytree(SAMPLE, tmp_path / "sample-plain")
    shutil.copytree(SAMPLE, tmp_path / "sample-dask")
    months = {"": ("2025-04", "2025-05"), "sample-": ("2026-01", "2026-02", "2026-03")}
    out = {}
    with DaskPool("local", n_workers=2) as pool:
        assert pool.n == 2
        for council in months:
            for name, p in (("plain", Workers(1)), ("dask", pool)):  # Workers(1): all in this process
                for period in months[council]:
                    pipeline.run_period(tmp_path / f"{council}{name}", period, reports_dir=tmp_path / f"r-{council}{name}",
                                        db_path=tmp_path / f"{council}{name}.duckdb", officer="Prep", pool=p)
                with open_store(tmp_path / f"{council}{name}.duckdb", read_only=True) as con:
                    out[council + name] = {t: con.execute(q).df() for t, q in tables.items()}
    assert COHORT_RULES <= set(out["sample-plain"]["findings"]["rule_id"])
    for council in months:
        for t in tables:
            assert len(out[f"{council}plain"][t]) > 0, t
            pd.testing.assert_frame_equal(stored(out[f"{council}plain"][t]), stored(out[f"{council}dask"][t]), obj=t)
        for period in months[council]:
            a = (tmp_path / f"r-{council}plain" / period / "exceptions.csv").read_bytes()
            assert a == (tmp_path / f"r-{council}dask" / period / "exceptions.csv").read_bytes()


@pytest.mark.parametrize("recipients,workers,shards", [
    (300, 2, 1), (400, 2, 2), (1000, 2, 2), (2000, 2, 4), (5000, 2, 10), (20000, 2, 40), (20000, 8, 40), (3000, 8, 8), (5000, 1, 1)])
def test_shards_are_one_per_worker_and_never_too_big(recipients, workers, shards):
    assert shard.shard_count(recipients, workers) == shards
