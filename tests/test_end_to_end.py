"""The whole month on sample_data/: every planted case is found, clean months stay clean,
and a re-run gives byte-identical CSVs."""
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from dpaudit.pipeline import run_period

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
PERIODS = ["2026-01", "2026-02", "2026-03"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    data = out / "data"
    shutil.copytree(SAMPLE, data)
    for p in PERIODS:
        run_period(data, p, reports_dir=out / "reports", db_path=out / "db.duckdb", officer="Preparer")
    return out


def _exceptions(demo):
    return pd.concat([pd.read_csv(demo / "reports" / p / "exceptions.csv", dtype=str, keep_default_na=False) for p in PERIODS])


def test_every_planted_case_is_found_with_its_amount(demo):
    expected = pd.read_csv(SAMPLE / "expected_findings.csv", dtype=str, keep_default_na=False)
    got = _exceptions(demo)
    want = Counter(zip(expected.period, expected.recipient_id, expected.rule_id, expected.amount))
    have = Counter(zip(got.period, got.recipient_id, got.rule_id, got.amount))
    # amounts are compared where the ground truth gives one
    have_any = Counter(zip(got.period, got.recipient_id, got.rule_id))
    missing = []
    for (period, rid, rule, amount), n in want.items():
        if amount:
            if have[(period, rid, rule, amount)] < n:
                missing.append((period, rid, rule, amount))
        elif have_any[(period, rid, rule)] < n:
            missing.append((period, rid, rule, ""))
    assert not missing, missing


def test_no_finding_beyond_the_planted_ones(demo):
    expected = pd.read_csv(SAMPLE / "expected_findings.csv", dtype=str, keep_default_na=False)
    got = _exceptions(demo)
    extra = Counter(zip(got.period, got.recipient_id, got.rule_id)) - Counter(zip(expected.period, expected.recipient_id, expected.rule_id))
    assert not extra, extra


def test_clean_recipient_months_have_no_finding(demo):
    got = _exceptions(demo)
    for rid, period in [("R00001", "2026-01"), ("R00001", "2026-02"), ("R00001", "2026-03"), ("R00002", "2026-01"),
                        ("R00003", "2026-03")]:
        assert got[(got.recipient_id == rid) & (got.period == period)].empty, (rid, period)


def test_every_rule_of_the_catalogue_fires_on_the_sample(demo):
    from dpaudit.core.policy import load_policy

    rules = set(load_policy().raw["rules"]) - {"RULE-ERROR"}
    assert rules - set(_exceptions(demo).rule_id) == set()


def test_reconciliation_balances_to_the_penny(demo):
    from dpaudit.core.money import parse_pence

    for p in PERIODS:
        rec = pd.read_csv(demo / "reports" / p / "reconciliation.csv", dtype=str, keep_default_na=False)
        for r in rec.itertuples():
            assert parse_pence(r.opening_balance) + parse_pence(r.council_credits) + parse_pence(r.other_credits) \
                - parse_pence(r.debits) == parse_pence(r.closing_balance)
            assert parse_pence(r.evidenced) + parse_pence(r.unevidenced) == parse_pence(r.debits)


def test_rerun_gives_byte_identical_csvs(demo):
    before = {p: {n: (demo / "reports" / p / n).read_bytes() for n in ("exceptions.csv", "recommendations.csv", "reconciliation.csv")}
              for p in PERIODS}
    run_period(demo / "data", "2026-02", reports_dir=demo / "reports", db_path=demo / "db.duckdb", officer="Preparer")
    for n, b in before["2026-02"].items():
        assert (demo / "reports" / "2026-02" / n).read_bytes() == b, n


def test_demo_gives_repay_and_stop(demo):
    recs = pd.concat([pd.read_csv(demo / "reports" / p / "recommendations.csv", dtype=str) for p in PERIODS])
    assert {"REPAY", "STOP", "REVIEW", "NONE"} <= set(recs.action)


def _summary_dump(path: Path) -> str:
    """The Summary sheet as text, one 'cell | cell' line per row (the run time left out)."""
    import openpyxl

    ws = openpyxl.load_workbook(path, read_only=True)["Summary"]
    lines = []
    for row in ws.iter_rows(values_only=True):
        cells = ["" if v is None else str(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        if cells and cells[0] != "Run time":
            lines.append(" | ".join(cells))
    return "\n".join(lines) + "\n"


def test_summary_figures_golden(demo, golden):
    """Golden file of the February Summary sheet on sample_data (UPDATE_GOLDEN=1 rewrites it)."""
    golden(Path(__file__).parent / "golden" / "sample_data_2026-02_summary.txt",
           _summary_dump(demo / "reports" / "2026-02" / "exceptions.xlsx"))
