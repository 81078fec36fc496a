"""Mistakes a new council makes on day one, run through the CLI: each is a plain message naming the
problem (one line, "dpaudit stopped: ..."), exit code 1 (2 for a malformed option), never a
traceback; and --version, -q and help that names what to type rather than Python types."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dpaudit import __version__
from dpaudit.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
runner = CliRunner()


@pytest.fixture(scope="module")
def council(tmp_path_factory) -> dict[str, Path]:
    """The sample council with February audited (a store, reports), plus broken copies and bad files."""
    root = tmp_path_factory.mktemp("mistakes")
    data = root / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    noref = root / "noref"
    shutil.copytree(data, noref)
    shutil.rmtree(noref / "reference")
    db, reports = root / "s.duckdb", root / "r"
    res = runner.invoke(app, ["run", "--data", str(data), "--db", str(db), "--reports", str(reports),
                              "--period", "2026-02", "-q", "--officer", "Preparer"])
    assert res.exit_code == 0, res.output
    (root / "unknown.csv").write_text("exception_id,decision\nnot-an-id-0001,accept\n", encoding="utf-8")
    (root / "wrong_value.csv").write_text("exception_id,decision\nREC-2026-02-R00003,approve\n", encoding="utf-8")
    return {"root": root, "data": data, "noref": noref, "db": db, "reports": reports}


def fill(args: list[str], c: dict[str, Path]) -> list[str]:
    return [a.format(**{k: str(v) for k, v in c.items()}) for a in args]


MISTAKES = [
    # (what, args, exit code, words the message must hold)
    ("month 13", ["run", "--data", "{data}", "--db", "{db}", "--period", "2026-13"], 1, "'2026-13' is not a period"),
    ("two-digit year", ["run", "--data", "{data}", "--db", "{db}", "--period", "26-01"], 1, "'26-01' is not a period"),
    ("bad period on report", ["report", "--data", "{data}", "--db", "{db}", "--period", "2026-1"], 1, "is not a period"),
    ("bad range", ["run", "--data", "{data}", "--periods", "2026-01-2026-03"], 2, "is not a range"),
    ("missing data folder", ["run", "--data", "{root}/nowhere", "--period", "2026-02"], 1,
     "the data folder"),
    ("missing reference folder", ["run", "--data", "{noref}", "--db", "{root}/noref.duckdb", "--period", "2026-02"], 1,
     "lacks recipients.csv"),
    ("empty month: no inbox folder", ["run", "--data", "{data}", "--db", "{db}", "--period", "2027-05"], 1,
     "no inbox folder for 2027-05"),
    ("empty month on audit", ["audit", "--data", "{data}", "--db", "{db}", "--period", "2027-05"], 1,
     "no inbox folder for 2027-05"),
    ("year end of a year never audited", ["year-end", "--data", "{data}", "--db", "{db}", "--fy", "2019"], 1,
     "no audited month of FY2019"),
    ("year end in a fresh store", ["year-end", "--data", "{data}", "--db", "{root}/fresh.duckdb", "--fy", "2025"], 1,
     "no audited month of FY2025"),
    ("financial year in words", ["year-end", "--data", "{data}", "--fy", "twenty"], 2, "financial year"),
    ("unknown exception id", ["decisions", "import", "{root}/unknown.csv", "--data", "{data}", "--db", "{db}"], 1,
     "'not-an-id-0001' is not a finding or recommendation"),
    ("wrong decision value", ["decisions", "import", "{root}/wrong_value.csv", "--data", "{data}", "--db", "{db}",
                              "--officer", "A Checker"], 1, "'approve' is not one of accept, dismiss or query"),
    ("decisions file missing", ["decisions", "import", "{root}/none.xlsx", "--data", "{data}", "--db", "{db}"], 1,
     "does not exist"),
    ("report for a period never run", ["report", "--data", "{data}", "--db", "{db}", "--period", "2025-11"], 1,
     "no audit of 2025-11"),
    ("verify with no store", ["decisions", "verify", "--data", "{data}", "--db", "{root}/none.duckdb"], 1, "no store"),
    ("purge with a bad date", ["purge", "--data", "{data}", "--db", "{db}", "--before", "yesterday"], 1, "yesterday"),
]


@pytest.mark.parametrize("what, args, code, needle", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_one_plain_line_and_a_non_zero_exit(council, what, args, code, needle):
    res = runner.invoke(app, fill(args, council))
    out = res.output
    assert "Traceback" not in out and "internal error" not in out, out
    assert res.exit_code == code, out
    if code == 1:
        lines = out.splitlines()
        at = next((i for i, ln in enumerate(lines) if ln.startswith("dpaudit stopped: ")), None)
        assert at is not None, out  # one line saying what stopped, not a box or a stack
        listed = [ln for ln in lines[at + 1:] if ln.startswith("  - ")]  # several problems: one line each
        assert needle in lines[at] or any(needle in ln for ln in listed), out
    else:  # a malformed option: the usage error names it
        assert needle in re.sub(r"[\s│╭╮╰╯─]+", " ", out), out


def test_importing_the_returned_workbook_without_officer_works(council, monkeypatch):
    """The workbook has no officer column and --officer is not given: the importing officer defaults
    as for a run ($DPAUDIT_OFFICER), not an error."""
    import openpyxl

    wb = openpyxl.load_workbook(council["reports"] / "2026-02" / "exceptions.xlsx")
    ws = wb["Exceptions"]
    cols = {str(c.value): c.column for c in ws[1] if c.value}
    assert "officer" not in cols
    ws.cell(row=2, column=cols["decision"]).value = "query"
    wb.save(council["root"] / "returned.xlsx")
    monkeypatch.setenv("DPAUDIT_OFFICER", "B. Reviewer")
    res = runner.invoke(app, ["decisions", "import", str(council["root"] / "returned.xlsx"), "--data",
                              str(council["data"]), "--db", str(council["db"])])
    assert res.exit_code == 0 and "1 decision(s) recorded" in res.output, res.output


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"dpaudit {__version__}"


def test_quiet_is_the_same_option_on_every_command_that_prints_progress():
    group = typer.main.get_command(app)
    for name in ("ingest", "audit", "report", "run", "year-end"):
        opts = {o for p in group.commands[name].params for o in p.opts}
        assert {"-q", "--quiet"} <= opts, name


def test_report_quiet_prints_only_the_result(council):
    res = runner.invoke(app, ["report", "--data", str(council["data"]), "--db", str(council["db"]), "--reports",
                              str(council["reports"]), "--period", "2026-02", "-q"])
    assert res.exit_code == 0, res.output
    assert "report files written" in res.output and "Money at stake" not in res.output


def test_help_names_what_to_type_not_python_types():
    group = typer.main.get_command(app)
    paths = [[n] for n, c in group.commands.items() if not getattr(c, "commands", None)]
    paths += [["decisions", s] for s in group.commands["decisions"].commands]
    for path in [[], *paths]:
        res = runner.invoke(app, [*path, "--help"], terminal_width=160)
        assert res.exit_code == 0, res.output
        types = re.findall(r"<[a-z][a-z_\[\], ]*>", res.output)
        assert not types, f"dpaudit {' '.join(path)} --help shows {types}"
    run_help = runner.invoke(app, ["run", "--help"], terminal_width=160).output
    assert "YYYY-MM" in run_help and "FOLDER" in run_help


def test_a_month_whose_inbox_folder_is_empty_is_audited_without_a_traceback(council):
    (council["data"] / "inbox" / "2026-04").mkdir(exist_ok=True)
    res = runner.invoke(app, ["run", "--data", str(council["data"]), "--db", str(council["root"] / "april.duckdb"),
                              "--reports", str(council["root"] / "ra"), "--period", "2026-04", "-q"])
    assert "Traceback" not in res.output and res.exit_code == 0, res.output
