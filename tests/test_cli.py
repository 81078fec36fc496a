"""The dpaudit CLI: help text, init, period parsing, error messages and exit codes, and a whole
run → decisions → verify → year end cycle on a tiny synthetic council."""
from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dpaudit.cli import app, expand_periods, parse_fy
from dpaudit.core.dates import next_period
from dpaudit.core.policy import load_policy
from dpaudit.ingest.schemas import SPECS
from dpaudit.store import open_store
from dpaudit.synth.council import generate

runner = CliRunner()


def flat(text: str) -> str:
    """Output without rich's box drawing and line wrapping, for substring checks."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─┃━┏┓┗┛┡┩╇┳┻╋┼├┤┬┴]", " ", text)).strip()


def all_commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():
        if getattr(cmd, "commands", None):
            out += [[name, sub] for sub in cmd.commands]
        else:
            out.append([name])
    return out


def test_every_command_has_help_with_an_example():
    cmds = all_commands()
    assert {"init", "ingest", "audit", "report", "run", "year-end", "synth", "bench"} <= {c[0] for c in cmds}
    assert ["decisions", "import"] in cmds and ["decisions", "verify"] in cmds
    group = typer.main.get_command(app)
    for path in cmds:
        cmd = group
        for part in path:
            cmd = cmd.commands[part]
        assert cmd.help and len(cmd.help.strip()) > 20, f"{' '.join(path)} has no help text"
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, res.output
        assert "Example" in res.output, f"{' '.join(path)} --help shows no example"


def test_init_creates_the_skeleton_and_never_overwrites(tmp_path):
    d = tmp_path / "council"
    res = runner.invoke(app, ["init", str(d)])
    assert res.exit_code == 0, res.output
    for sub in ("reference", "inbox", "profiles"):
        assert (d / sub).is_dir()
    for name in ("recipients", "support_plan_lines", "payment_schedule", "employees", "insurance", "providers"):
        with open(d / "reference" / f"{name}.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows == [[c.name for c in SPECS[name].columns]]
    assert load_policy(d / "policy.toml").version == load_policy().version
    (d / "policy.toml").write_text("# edited by the council\n" + (d / "policy.toml").read_text())
    res = runner.invoke(app, ["init", str(d)])
    assert res.exit_code == 0
    assert (d / "policy.toml").read_text().startswith("# edited by the council")


def test_expand_periods_merges_repeats_and_ranges_in_order():
    assert expand_periods(["2026-02", "2025-12"], "2026-01..2026-03") == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert expand_periods(None, "2025-11..2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(typer.BadParameter):
        expand_periods(None, "2026-03..2026-01")
    with pytest.raises(typer.BadParameter):
        expand_periods(None, None)


@settings(max_examples=50, deadline=None)
@given(st.integers(2000, 2090), st.integers(1, 12), st.integers(0, 30))
def test_period_ranges_are_contiguous(year, month, length):
    first = f"{year:04d}-{month:02d}"
    last = first
    for _ in range(length):
        last = next_period(last)
    got = expand_periods(None, f"{first}..{last}")
    assert len(got) == length + 1 and got[0] == first and got[-1] == last
    assert all(next_period(a) == b for a, b in zip(got, got[1:]))


def test_parse_fy():
    assert parse_fy("2025") == 2025 and parse_fy("fy2024") == 2024
    with pytest.raises(typer.BadParameter):
        parse_fy("25/26")


@pytest.mark.parametrize("args, code, needle", [
    (["run", "--data", "{tmp}/nowhere", "--period", "2026-01"], 1, "does not exist"),
    (["run", "--data", "{tmp}", "--period", "2026-13"], 1, "is not a period"),
    (["run", "--data", "{tmp}"], 2, "--period"),
    (["run", "--data", "{tmp}", "--periods", "2026-03..2026-01"], 2, "ends before it starts"),
    (["year-end", "--data", "{tmp}", "--fy", "twenty"], 2, "financial year"),
    (["decisions", "import", "{tmp}/none.xlsx", "--data", "{tmp}"], 1, "does not exist"),
    (["decisions", "verify", "--data", "{tmp}"], 1, "no store"),
])
def test_errors_are_one_message_with_the_right_exit_code(tmp_path, args, code, needle):
    res = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert res.exit_code == code, res.output
    assert needle in flat(res.output)
    assert "Traceback" not in res.output


def test_a_bad_policy_stops_with_the_key_named(tmp_path):
    runner.invoke(app, ["init", str(tmp_path)])
    (tmp_path / "policy.toml").write_text('policy_version = "x"\n[thresholds]\nmatch_window_dayz = 7\n')
    res = runner.invoke(app, ["run", "--data", str(tmp_path), "--period", "2026-01"])
    assert res.exit_code == 1
    assert "match_window_dayz" in flat(res.output) and "Traceback" not in res.output


@pytest.fixture(scope="module")
def council(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "council"
    generate(d, recipients=4, months=2, seed=3, start_period="2025-04", anomaly_rate=0.5)
    return d


def test_run_decide_verify_and_year_end(council, tmp_path):
    reports = tmp_path / "reports"
    res = runner.invoke(app, ["run", "--data", str(council), "--periods", "2025-04..2025-05", "--reports", str(reports),
                              "--officer", "A. Preparer"])
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert "dpaudit run summary" in out and "findings: high" in out and "recommendations: STOP" in out
    for p in ("2025-04", "2025-05"):
        for name in ("exceptions.xlsx", "exceptions.csv", "recommendations.csv", "reconciliation.csv",
                     "manifest.json", "summary.md"):
            assert (reports / p / name).is_file()
    with open_store(council / "dpaudit.duckdb", read_only=True) as con:
        runs = con.execute("SELECT period, status FROM runs ORDER BY started_at").fetchall()
        eids = [r[0] for r in con.execute("SELECT exception_id FROM findings ORDER BY exception_id").fetchall()]
    assert runs == [("2025-04", "ok"), ("2025-05", "ok")]
    assert eids, "the planted anomalies raise findings"

    # a decision CSV with an unknown id writes nothing and says why
    bad = tmp_path / "bad.csv"
    bad.write_text(f"exception_id,decision,officer\n{eids[0]},accept,B. Checker\nNOPE-1,accept,B. Checker\n")
    res = runner.invoke(app, ["decisions", "import", str(bad), "--data", str(council)])
    assert res.exit_code == 1 and "Nothing was imported" in flat(res.output) and "NOPE-1" in flat(res.output)

    good = tmp_path / "decisions.csv"
    good.write_text(f"exception_id,decision,officer,note\n{eids[0]},dismiss,B. Checker,explained by family\n")
    res = runner.invoke(app, ["decisions", "import", str(good), "--data", str(council)])
    assert res.exit_code == 0, res.output
    assert "1 decision(s) recorded" in flat(res.output)
    res = runner.invoke(app, ["decisions", "verify", "--data", str(council)])
    assert res.exit_code == 0 and "intact" in res.output

    # tampering is caught
    with open_store(council / "dpaudit.duckdb") as con:
        con.execute("UPDATE decisions SET note = 'changed later' WHERE seq = 1")
    res = runner.invoke(app, ["decisions", "verify", "--data", str(council)])
    assert res.exit_code == 1 and "was edited" in flat(res.output)

    res = runner.invoke(app, ["year-end", "--data", str(council), "--fy", "FY2025", "--reports", str(reports)])
    assert res.exit_code == 0, res.output
    assert (reports / "FY2025" / "year_end.csv").is_file()
    assert "year end FY2025" in flat(res.output)

    # report alone rewrites a month from the store
    shutil.rmtree(reports / "2025-04")
    res = runner.invoke(app, ["report", "--data", str(council), "--period", "2025-04", "--reports", str(reports)])
    assert res.exit_code == 0, res.output
    assert (reports / "2025-04" / "exceptions.xlsx").is_file()


def test_ingest_audit_report_in_steps(council, tmp_path):
    db = tmp_path / "steps.duckdb"
    reports = tmp_path / "r"
    res = runner.invoke(app, ["report", "--data", str(council), "--period", "2025-04", "--db", str(db)])
    assert res.exit_code == 1 and "no audit of 2025-04" in flat(res.output)
    res = runner.invoke(app, ["ingest", "--data", str(council), "--period", "2025-04", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "txns_new" in res.output
    res = runner.invoke(app, ["audit", "--data", str(council), "--period", "2025-04", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "2025-04 audited" in flat(res.output)
    res = runner.invoke(app, ["report", "--data", str(council), "--period", "2025-04", "--db", str(db),
                              "--reports", str(reports)])
    assert res.exit_code == 0, res.output
    assert (reports / "2025-04" / "exceptions.csv").is_file()


def test_synth_command_writes_a_council_with_ground_truth(tmp_path):
    out = tmp_path / "s"
    res = runner.invoke(app, ["synth", "--recipients", "3", "--months", "1", "--seed", "5", "--out", str(out),
                              "--start", "2026-01", "--anomaly-rate", "1"])
    assert res.exit_code == 0, res.output
    assert (out / "ground_truth.csv").is_file() and (out / "reference" / "recipients.csv").is_file()
    assert sorted(p.name for p in (out / "inbox" / "2026-01").iterdir()) == ["R00001", "R00002", "R00003"]
    res = runner.invoke(app, ["synth", "--recipients", "0", "--out", str(out)])
    assert res.exit_code == 2


def test_verify_catches_a_log_cut_short_after_a_run(tmp_path):
    """A run records the decision log's head; deleting the newest decisions is then detected."""
    import shutil

    from typer.testing import CliRunner

    from dpaudit.cli import app
    from dpaudit.store import open_store

    data = tmp_path / "data"
    shutil.copytree(Path(__file__).resolve().parents[1] / "sample_data", data)
    db, rep = tmp_path / "s.duckdb", tmp_path / "r"
    runner = CliRunner()
    common = ["--data", str(data), "--db", str(db)]
    assert runner.invoke(app, ["run", "--period", "2026-02", "--reports", str(rep), "-q", "--officer", "Prep", *common]).exit_code == 0
    assert runner.invoke(app, ["decisions", "import", str(data / "officer_decisions.csv"), *common]).exit_code == 0
    assert runner.invoke(app, ["run", "--period", "2026-02", "--reports", str(rep), "-q", "--officer", "Prep", *common]).exit_code == 0
    assert runner.invoke(app, ["decisions", "verify", *common]).exit_code == 0
    with open_store(db) as con:
        con.execute("DELETE FROM decisions WHERE seq = (SELECT max(seq) FROM decisions)")
    res = runner.invoke(app, ["decisions", "verify", *common])
    assert res.exit_code == 1 and "tampered" in res.output
