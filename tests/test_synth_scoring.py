"""Score the pipeline's findings against the synthetic council's ground truth.

A finding and a truth row agree on (period, recipient_id, rule_id).  Recall per rule = truth keys
the pipeline found / truth keys; precision per rule = pipeline keys in the truth / pipeline keys.
Every rule counts for precision (a normal recipient-month is built to raise nothing, so any
finding the generator did not plant or derive is a false positive).

The generator writes down every finding it plants or derives and builds the rest to raise none, so
the expected result is exact, not a floor: recall 1.0 and precision 1.0 for every rule over the
keys of 40 recipients x 3 months (seed 7, a planted anomaly in 20% of recipient-months).  Measured
on 2026-11-30: 53 truth keys over 17 rules, 53 findings, recall 1.00 and precision 1.00 for every
rule.  When it fails, the message lists the keys missed and the keys found that the truth does
not hold; fix the engine or the generator.
"""
from __future__ import annotations

import pandas as pd
import pytest

from dpaudit.pipeline import run_period
from dpaudit.store import open_store
from dpaudit.synth.council import generate

KEY = ["period", "recipient_id", "rule_id"]


def score(truth: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """Per rule: truth keys, found keys, both, recall, precision (plus an ``ALL`` row)."""
    t = set(map(tuple, truth[KEY].drop_duplicates().values))
    f = set(map(tuple, found[KEY].drop_duplicates().values))
    rows = []
    for rule in sorted({k[2] for k in t | f}):
        tr = {k for k in t if k[2] == rule}
        fr = {k for k in f if k[2] == rule}
        rows.append((rule, len(tr), len(fr), len(tr & fr)))
    rows.append(("ALL", len(t), len(f), len(t & f)))
    s = pd.DataFrame(rows, columns=["rule_id", "truth", "found", "both"])
    s["recall"] = (s["both"] / s["truth"]).where(s["truth"] > 0)
    s["precision"] = (s["both"] / s["found"]).where(s["found"] > 0)
    return s


def test_score_counts_agreement_by_key():
    truth = pd.DataFrame([("2025-04", "R1", "A"), ("2025-04", "R2", "A"), ("2025-05", "R1", "B")], columns=KEY)
    found = pd.DataFrame([("2025-04", "R1", "A"), ("2025-04", "R1", "A"), ("2025-05", "R1", "C")], columns=KEY)
    s = score(truth, found).set_index("rule_id")
    assert s.loc["A", ["truth", "found", "both"]].tolist() == [2, 1, 1]
    assert s.loc["A", "recall"] == 0.5 and s.loc["A", "precision"] == 1.0
    assert pd.isna(s.loc["B", "precision"]) and s.loc["B", "recall"] == 0.0
    assert pd.isna(s.loc["C", "recall"]) and s.loc["C", "precision"] == 0.0
    assert s.loc["ALL", ["truth", "found", "both"]].tolist() == [3, 2, 1]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The score table plus the keys the pipeline missed and the keys it found beyond the truth."""
    d = tmp_path_factory.mktemp("score") / "council"
    summary = generate(d, recipients=40, months=3, seed=7, start_period="2025-04", anomaly_rate=0.2)
    for p in ("2025-04", "2025-05", "2025-06"):
        run_period(d, p, reports_dir=d.parent / "reports", officer="scorer")
    truth = pd.read_csv(d / "ground_truth.csv", dtype=str)
    with open_store(d / "dpaudit.duckdb", read_only=True) as con:
        found = con.execute("SELECT period, recipient_id, rule_id FROM findings").df()
    s = score(truth, found)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(f"\nsynth 40 recipients x 3 months, seed 7: {summary['transactions']} transactions, "
              f"{len(truth)} truth rows, {len(found)} findings\n{s.to_string(index=False, float_format='%.2f')}")
    t = set(map(tuple, truth[KEY].values))
    f = set(map(tuple, found[KEY].values))
    return {"score": s, "missed": sorted(t - f), "extra": sorted(f - t)}


def test_recall_and_precision_are_exact(scored):
    s = scored["score"].set_index("rule_id")
    detail = (f"\nmissed (period, recipient, rule): {scored['missed']}"
              f"\nfound but not in the truth: {scored['extra']}"
              f"\n{scored['score'].to_string(index=False, float_format='%.2f')}")
    assert s.loc["ALL", "truth"] >= 30, "too few planted findings to score" + detail
    assert scored["missed"] == [] and scored["extra"] == [], detail
    assert (s["recall"] == 1.0).all() and (s["precision"] == 1.0).all(), detail
