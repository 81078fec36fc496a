"""The ``dpaudit`` command line: a thin layer over :mod:`dpaudit.pipeline` and friends.

The library does the work; this module parses options, shows progress, prints a summary table
and turns the errors a user can act on (a wrong policy, a locked database, a missing file, a
rejected decisions workbook, a bad date) into one red paragraph and exit code 1, with no
traceback.  Usage errors (a missing or malformed option) exit 2.  Anything else is a bug: its
traceback is printed and the exit code is 1.
"""
from __future__ import annotations

import contextlib
import importlib.resources
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dpaudit.core.dates import DateError, next_period, parse_period
from dpaudit.decide.decisions import DecisionImportError
from dpaudit.core.money import format_gbp
from dpaudit.core.policy import PolicyError
from dpaudit.ingest.readers.tabular import UnreadableFile
from dpaudit.ingest.workers import InputNotVisible
from dpaudit.ingest.remote import RemoteDataError
from dpaudit.store import StoreLocked

DOMAIN_ERRORS: tuple[type[BaseException], ...] = (
    PolicyError, StoreLocked, FileNotFoundError, DecisionImportError, DateError, UnreadableFile, InputNotVisible,
    RemoteDataError)
SEVERITIES = ("high", "medium", "low", "info")
ACTIONS = ("STOP", "REPAY", "REVIEW", "NONE")
RATINGS = ("red", "amber", "green")
REFERENCE_FILES = ("recipients", "support_plan_lines", "payment_schedule", "employees", "insurance", "providers")

console = Console()
err_console = Console(stderr=True)


class _PlainHelp:
    """Help that names what to type (FOLDER, YYYY-MM), never a Python type such as ``<list[str]>``:
    every option has a metavar, flags (and --help) show none."""

    def get_help_option(self, ctx):  # type: ignore[no-untyped-def]
        opt = super().get_help_option(ctx)  # type: ignore[misc]
        if opt is not None:
            opt.metavar = ""
        return opt


class PlainCommand(_PlainHelp, typer.core.TyperCommand):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for param in self.params:  # an argument shows its metavar (FOLDER), not also its type (<path>)
            if isinstance(param, typer.core.TyperArgument):
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]


class PlainGroup(_PlainHelp, typer.core.TyperGroup):
    pass


app = typer.Typer(
    name="dpaudit",
    help="Audit council direct-payment bank accounts against children's EHC and support plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    cls=PlainGroup,
)
decisions_app = typer.Typer(help="Import officers' decisions and verify the decision log.", no_args_is_help=True,
                            rich_markup_mode="markdown", cls=PlainGroup)
app.add_typer(decisions_app, name="decisions")

DataOpt = Annotated[str, typer.Option("--data", "-d", metavar="FOLDER|URL",
                                      help="The council's data folder (reference/ and inbox/): a local folder, or "
                                           "an fsspec URL such as s3://bucket/council (mirrored locally first).")]
ReportsOpt = Annotated[Optional[Path], typer.Option("--reports", "-r", metavar="FOLDER",
                                                    help="Where reports go (default ./reports).")]
DbOpt = Annotated[Optional[Path], typer.Option("--db", metavar="FILE", help="The DuckDB store (default "
                                                                          "DATA/dpaudit.duckdb).")]
PolicyOpt = Annotated[Optional[Path], typer.Option("--policy", metavar="FILE", help="Policy file (default "
                                                   "DATA/policy.toml, else the built-in policy).")]
WaitOpt = Annotated[float, typer.Option("--wait", min=0, metavar="SECONDS", help="Seconds to wait for another run "
                                        "holding the database before giving up (default 0: stop at once).")]
OfficerOpt = Annotated[Optional[str], typer.Option("--officer", metavar="NAME", help="Who prepares the run (default "
                                                   "$DPAUDIT_OFFICER or the login name).")]
PeriodOpt = Annotated[str, typer.Option("--period", "-p", metavar="YYYY-MM", help="Month YYYY-MM.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Print no progress and no summary, only "
                                                                            "the result (errors still show).")]


# --------------------------------------------------------------------------------------- errors
def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr as one line ("dpaudit stopped: ..."; a list of problems follows on
    lines of its own) and return the Exit to raise."""
    first, *rest = str(message).splitlines() or [""]
    if len(rest) == 1 and rest[0].startswith("- "):  # one problem: said on the one line
        first, rest = f"{first} {rest[0][2:]}", []
    err_console.print(f"[bold red]dpaudit stopped:[/bold red] {escape(first)}", soft_wrap=True, highlight=False)
    for line in rest:
        err_console.print(f"  {escape(line)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def version_callback(value: bool) -> None:
    if value:
        from dpaudit import __version__

        console.print(f"dpaudit {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(version: Annotated[bool, typer.Option("--version", metavar="", callback=version_callback,
                                                       is_eager=True, help="Print the version and exit.")] = False
                 ) -> None:
    """Audit council direct-payment bank accounts against children's EHC and support plans."""


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """Domain errors become a red message and exit 1; bugs keep their traceback (exit 1)."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except DOMAIN_ERRORS as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("Interrupted. Work committed before the interruption is kept; run the command again to finish.",
                   130) from None
    except Exception:
        err_console.print_exception(max_frames=8)
        raise fail("dpaudit hit an internal error (traceback above) and the run did not complete. "
                   "Please report it with the command you ran.") from None


# --------------------------------------------------------------------------------------- helpers
def data_folder(data: str, periods: list[str] = (), policy: Path | None = None) -> Path:
    """The folder a command reads: ``--data`` itself, or for a URL its local mirror brought up to date
    with ``reference/``, ``profiles/``, ``policy.toml`` and the inbox of ``periods``
    (:mod:`dpaudit.ingest.remote`)."""
    from dpaudit.ingest.remote import is_url, stage

    if not is_url(data):
        return Path(data)
    rep = stage(data, periods, policy_path=policy)
    err_console.print(f"{data}: mirrored to {rep.local} ({rep.fetched} file(s) fetched, {rep.unchanged} unchanged, "
                      f"{rep.removed} removed)", highlight=False)
    for name in rep.skipped:
        err_console.print(f"{name} was not read: no file of a folder can have that name (an empty, '.' or '..' "
                          f"part). Rename it at the data folder.", highlight=False)
    return rep.local


def expand_periods(period: list[str] | None, periods: str | None) -> list[str]:
    """``--period`` values plus a ``--periods A..B`` range, in calendar order, each once."""
    out: list[str] = []
    for p in period or []:
        parse_period(p)
        out.append(p)
    if periods:
        m = re.fullmatch(r"\s*(\d{4}-\d{2})\s*\.\.\s*(\d{4}-\d{2})\s*", periods)
        if not m:
            raise typer.BadParameter(f"'{periods}' is not a range like 2026-01..2026-03", param_hint="--periods")
        first, last = m.group(1), m.group(2)
        parse_period(first)
        parse_period(last)
        if last < first:
            raise typer.BadParameter(f"the range {periods} ends before it starts", param_hint="--periods")
        p = first
        while p <= last:
            out.append(p)
            p = next_period(p)
    if not out:
        raise typer.BadParameter("give a month to run, e.g. --period 2026-01 or --periods 2026-01..2026-03",
                                 param_hint="--period")
    return sorted(dict.fromkeys(out))


def require_inbox(data: Path, periods: list[str], policy: Path | None = None) -> None:
    """A month to ingest needs its inbox folder: a missing one is most often a mistyped month or data
    folder, so it stops with the folder named rather than auditing a month of nothing (after the
    policy is checked, whose mistakes come first)."""
    from dpaudit.pipeline import resolve_policy

    if Path(data).is_dir():
        resolve_policy(Path(data), policy)
    for p in periods:
        box = Path(data) / "inbox" / p
        if Path(data).is_dir() and not box.is_dir():
            raise FileNotFoundError(
                f"there is no inbox folder for {p} ({box}); put the month's statements and evidence in "
                f"{box}/RECIPIENT_ID/, or create the empty folder if nothing was received that month")


def parse_fy(text: str) -> int:
    """``2025`` or ``FY2025`` -> 2025 (the year the financial year starts, 1 April)."""
    m = re.fullmatch(r"\s*(?:FY)?(\d{4})\s*", str(text), flags=re.IGNORECASE)
    if not m:
        raise typer.BadParameter(f"'{text}' is not a financial year such as 2025 (FY2025 = April 2025 to March 2026)",
                                 param_hint="--fy")
    return int(m.group(1))


def stage_progress(quiet: bool = False) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err_console, transient=True, disable=quiet)


def summary_table(results: list, overview: dict) -> Table:
    periods = [r.period for r in results]
    span = (f"{periods[0]}" if len(periods) == 1 else
            f"{len(periods)} months, {periods[0]} to {periods[-1]}, added together" if periods else "no period")
    t = Table(title=f"dpaudit run summary ({span})", show_lines=False,
              caption="Money at stake counts each payment once, however many rules flag it.")
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_column("money", justify="right")
    sev = overview["severity"]
    for s in SEVERITIES + tuple(k for k in sev if k not in SEVERITIES):
        n, p = sev.get(s, (0, 0))
        t.add_row(f"findings: {s}", str(n), format_gbp(p))
    t.add_row("[bold]findings: total (money at stake)", str(sum(n for n, _ in sev.values())),
              format_gbp(sum(p for _, p in sev.values())), end_section=True)
    act = overview["action"]
    for a in ACTIONS + tuple(k for k in act if k not in ACTIONS):
        n, p = act.get(a, (0, 0))
        t.add_row(f"recommendations: {a}", str(n), format_gbp(p) if a == "REPAY" else "")
    risk = overview.get("risk", {})
    if risk:
        t.add_section()
        for k in RATINGS + tuple(k for k in risk if k not in RATINGS):
            t.add_row(f"risk rating: {k}", str(risk.get(k, 0)), "")
    t.add_section()
    for r in results:
        secs = sum(r.timings.values()) if r.timings else 0.0
        t.add_row(f"reports {r.period}", f"{len(r.files)} files", f"{r.reports_dir} ({secs:.1f} s)")
    return t


# --------------------------------------------------------------------------------------- commands
@app.command(cls=PlainCommand, epilog="Example:  dpaudit init ./council  (then put reference CSVs in ./council/reference and each "
                    "month's files in ./council/inbox/YYYY-MM/RECIPIENT_ID/)")
def init(directory: Annotated[Path, typer.Argument(metavar="FOLDER", help="The data folder to create (may exist; nothing is "
                                                         "overwritten).")]) -> None:
    """Create a data folder: reference/ with header-only CSVs, inbox/, profiles/ and policy.toml."""
    from dpaudit.ingest.schemas import SPECS

    with domain_errors():
        made: list[str] = []
        for sub in ("reference", "inbox", "profiles"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        for name in REFERENCE_FILES:
            target = directory / "reference" / f"{name}.csv"
            if not target.exists():
                target.write_text(",".join(c.name for c in SPECS[name].columns) + "\n", encoding="utf-8")
                made.append(str(target))
        policy = directory / "policy.toml"
        if not policy.exists():
            src = importlib.resources.files("dpaudit.resources") / "policy.default.toml"
            policy.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
            made.append(str(policy))
        console.print(f"[green]Data folder ready:[/green] {directory}")
        for m in made:
            console.print(f"  created {m}")
        console.print("Next: fill reference/*.csv, put statements and evidence in inbox/YYYY-MM/RECIPIENT_ID/, then "
                      f"[bold]dpaudit run --data {directory} --period YYYY-MM[/bold]")


@app.command(cls=PlainCommand, epilog="Example:  dpaudit ingest --data ./council --period 2026-01")
def ingest(data: DataOpt, period: PeriodOpt, db: DbOpt = None, policy: PolicyOpt = None, wait: WaitOpt = 0.0,
           quiet: QuietOpt = False) -> None:
    """Load reference data, statements and evidence of one month into the store (no audit)."""
    from dpaudit.pipeline import run_period

    with domain_errors():
        parse_period(period)
        data = data_folder(data, [period], policy)
        require_inbox(data, [period], policy)
        with stage_progress(quiet) as prog:
            prog.add_task(f"ingest {period}", total=None)
            r = run_period(data, period, db_path=db, policy_path=policy, wait_seconds=wait, stages=("ingest",))
        if quiet:
            console.print(f"{period} ingested: " + ", ".join(f"{k} {v}" for k, v in r.counts.items()), highlight=False)
            return
        t = Table(title=f"ingest {period}")
        t.add_column("count")
        t.add_column("value", justify="right")
        for k, v in r.counts.items():
            t.add_row(k, str(v))
        console.print(t)


@app.command(cls=PlainCommand, epilog="Example:  dpaudit audit --data ./council --period 2026-01   (then: dpaudit report ...)")
def audit(data: DataOpt, period: PeriodOpt, db: DbOpt = None, policy: PolicyOpt = None, officer: OfficerOpt = None,
          wait: WaitOpt = 0.0, quiet: QuietOpt = False) -> None:
    """Ingest, audit and recommend one month, storing findings but writing no reports."""
    from dpaudit.pipeline import run_period

    stages = ("ingest", "audit", "recommend")
    with domain_errors():
        parse_period(period)
        data = data_folder(data, [period], policy)
        require_inbox(data, [period], policy)
        with stage_progress(quiet) as prog:
            task = prog.add_task(f"{period}: ingest", total=len(stages))

            def say(stage: str) -> None:
                prog.update(task, completed=stages.index(stage), description=f"{period}: {stage}")

            r = run_period(data, period, db_path=db, policy_path=policy, officer=officer, wait_seconds=wait,
                           stages=stages, progress=say)
        by_action = r.counts.get("recommendations", {})
        console.print(f"[green]{period} audited:[/green] {r.counts.get('findings', 0)} findings over "
                      f"{r.counts.get('transactions_audited', 0)} transactions; recommendations "
                      + (", ".join(f"{a} {by_action[a]}" for a in ACTIONS if a in by_action) or "none")
                      + "; risk ratings " + (", ".join(f"{k} {n}" for k, n in r.counts.get("risk", {}).items()) or "none")
                      + f". Write the reports with: dpaudit report --data {data} --period {period}")


@app.command(cls=PlainCommand, epilog="Example:  dpaudit report --data ./council --period 2026-01 --reports ./reports")
def report(data: DataOpt, period: PeriodOpt, reports: ReportsOpt = None, db: DbOpt = None, policy: PolicyOpt = None,
           wait: WaitOpt = 0.0, quiet: QuietOpt = False) -> None:
    """Write the month's reports (workbook, CSVs, summary, manifest, letters) from the store."""
    from dpaudit.pipeline import report_period

    with domain_errors():
        data = data_folder(data)
        with stage_progress(quiet) as prog:
            prog.add_task(f"report {period}", total=None)
            r = report_period(data, period, reports_dir=reports, db_path=db, policy_path=policy, wait_seconds=wait)
        if not quiet:
            console.print(Markdown(r.summary_md))
        console.print(f"[green]{len(r.files)} report files written to[/green] {r.reports_dir}")


@app.command(cls=PlainCommand, epilog="Examples:\n\n  dpaudit run --data ./council --period 2026-01\n\n"
                    "  dpaudit run --data ./council --periods 2026-01..2026-03 --reports ./reports\n\n"
                    "  dpaudit run --data ./council --period 2026-01 --period 2026-02 --wait 600")
def run(data: DataOpt,
        period: Annotated[Optional[list[str]], typer.Option("--period", "-p", metavar="YYYY-MM",
                                                            help="Month YYYY-MM (repeatable).")] = None,
        periods: Annotated[Optional[str], typer.Option("--periods", metavar="YYYY-MM..YYYY-MM",
                                                       help="A range of months, e.g. 2026-01..2026-03.")] = None,
        reports: ReportsOpt = None, db: DbOpt = None, policy: PolicyOpt = None, officer: OfficerOpt = None,
        wait: WaitOpt = 0.0, quiet: QuietOpt = False,
        dask: Annotated[Optional[str], typer.Option("--dask", metavar="ADDRESS",
                                                    help="Read the files and audit shards of recipients on a Dask "
                                                         "cluster: a scheduler address (tcp://host:8786), or 'local' "
                                                         "for worker processes on this machine. Its workers must see "
                                                         "a local data folder at the same path, or fetch a URL one.")] = None) -> None:
    """Run whole months: ingest, validate, audit, recommend and write the reports, in month order."""
    from dpaudit.ingest.workers import DaskPool
    from dpaudit.pipeline import STAGES, period_overview, run_period, store_path

    results = []
    with domain_errors(), contextlib.ExitStack() as stack:
        todo = expand_periods(period, periods)
        data = data_folder(data, todo, policy)
        require_inbox(data, todo, policy)
        pool = stack.enter_context(DaskPool(dask)) if dask is not None else None
        with stage_progress(quiet) as prog:
            task = prog.add_task("starting", total=len(todo) * len(STAGES))
            for p in todo:
                def say(stage: str, p: str = p) -> None:
                    prog.update(task, description=f"{p}: {stage}",
                                completed=todo.index(p) * len(STAGES) + STAGES.index(stage)
                                if stage in STAGES else None)
                results.append(run_period(data, p, reports_dir=reports, db_path=db, policy_path=policy,
                                          officer=officer, wait_seconds=wait, progress=say, pool=pool))
                prog.update(task, completed=(todo.index(p) + 1) * len(STAGES))
        if not quiet:
            for r in results:
                console.print(Markdown(r.summary_md))
        console.print(summary_table(results, period_overview(store_path(data, db), todo, wait_seconds=wait)))


@app.command("year-end", cls=PlainCommand, epilog="Example:  dpaudit year-end --data ./council --fy 2025   (April 2025 to March 2026)")
def year_end(data: DataOpt, fy: Annotated[str, typer.Option("--fy", metavar="YEAR", help="Financial year by its "
                                                            "starting year: 2025 or FY2025 = 1 April 2025 to 31 March 2026.")],
             reports: ReportsOpt = None, db: DbOpt = None, policy: PolicyOpt = None, wait: WaitOpt = 0.0,
             quiet: QuietOpt = False) -> None:
    """Year end: annual DP value, closing balance, committed spend, carry-forward and repayment."""
    from dpaudit.pipeline import run_year_end

    year = parse_fy(fy)
    with domain_errors():
        data = data_folder(data)
        with stage_progress(quiet) as prog:
            prog.add_task(f"year end FY{year}", total=None)
            r = run_year_end(data, year, reports_dir=reports, db_path=db, policy_path=policy, wait_seconds=wait)
        t = Table(title=f"year end FY{year}")
        t.add_column("what")
        t.add_column("value", justify="right")
        t.add_row("recipients", str(r.counts.get("recipients", 0)))
        t.add_row("carry forward", format_gbp(r.counts.get("carry_forward_pence", 0)))
        t.add_row("to repay (the council's share)", format_gbp(r.counts.get("repayment_pence", 0)))
        if r.counts.get("family_share_pence"):
            t.add_row("families' share from contributions (not recovered)", format_gbp(r.counts["family_share_pence"]))
        t.add_row("reports", str(r.reports_dir))
        console.print(t)


@decisions_app.command("import", cls=PlainCommand, epilog="Examples:\n\n  dpaudit decisions import reports/2026-01/exceptions.xlsx "
                                        "--data ./council --officer 'A. Turner'\n\n"
                                        "  dpaudit decisions import decisions.csv --data ./council")
def decisions_import(path: Annotated[Path, typer.Argument(metavar="FILE", help="The returned exceptions.xlsx, or a CSV with "
                                                               "exception_id, decision, officer, decided_at, note.")],
                     data: DataOpt, officer: OfficerOpt = None, db: DbOpt = None, wait: WaitOpt = 0.0) -> None:
    """Record officers' decisions (accept / dismiss / query) in the append-only decision log."""
    from dpaudit.pipeline import import_decision_file

    with domain_errors():
        data = data_folder(data)
        res, check = import_decision_file(path, data, officer=officer, db_path=db, wait_seconds=wait)
        console.print(f"[green]{res.appended} decision(s) recorded[/green], {res.unchanged} unchanged, "
                      f"{res.ignored_blank} blank; log head {res.head_hash[:12]}")
        if not check.ok:
            raise fail("The decisions were recorded, but the decision log fails verification:\n"
                       + "\n".join(f"- {p}" for p in check.problems))


@decisions_app.command("verify", cls=PlainCommand, epilog="Example:  dpaudit decisions verify --data ./council --reports ./reports")
def decisions_verify(data: DataOpt, db: DbOpt = None, reports: ReportsOpt = None, wait: WaitOpt = 0.0) -> None:
    """Check the decision log's hash chain against every anchor (the store's, the anchor file beside
    it, and with --reports the manifests); exit 1 naming every edited, removed or moved row."""
    from dpaudit.pipeline import verify_decision_log

    with domain_errors():
        data = data_folder(data)
        res = verify_decision_log(data, db_path=db, reports_dir=reports, wait_seconds=wait)
        if not res.ok:
            raise fail("The decision log has been tampered with:\n" + "\n".join(f"- {p}" for p in res.problems))
        console.print(f"[green]Decision log intact:[/green] {res.n_rows} decisions, head seq {res.head_seq} "
                      f"({res.head_hash[:12]})")


@app.command(cls=PlainCommand, epilog="Example:  dpaudit purge --data ./council --before 2020-04-01")
def purge(data: DataOpt, before: Annotated[str, typer.Option("--before", metavar="DATE", help="Delete what is dated before this "
                                                                            "day (YYYY-MM-DD or DD/MM/YYYY).")],
          db: DbOpt = None, wait: WaitOpt = 0.0,
          yes: Annotated[bool, typer.Option("--yes", metavar="", help="Do it (without --yes only the counts are shown).")] = False
          ) -> None:
    """Retention: delete transactions, evidence, findings and reports' data older than a date (reference
    data and the decision log are kept); the counts are recorded as a purge run."""
    from dpaudit.core.dates import parse_date
    from dpaudit.pipeline import purge_before, purge_preview

    with domain_errors():
        data = data_folder(data)
        day = parse_date(before)
        if not yes:
            t = Table(title=f"would delete (dated before {day.isoformat()}); run again with --yes")
            t.add_column("table")
            t.add_column("rows", justify="right")
            for table, n in purge_preview(data, day, db_path=db, wait_seconds=wait).items():
                t.add_row(table, str(n))
            console.print(t)
            return
        removed = purge_before(data, day, db_path=db, wait_seconds=wait)
        console.print(f"[green]Purged[/green] {sum(removed.values())} rows dated before {day.isoformat()}: "
                      + ", ".join(f"{k} {v}" for k, v in removed.items() if v))


@app.command(cls=PlainCommand, epilog="Example:  dpaudit synth --recipients 40 --months 3 --seed 7 --out ./synthetic --start 2025-04")
def synth(recipients: Annotated[int, typer.Option("--recipients", "-n", min=1, metavar="NUMBER", help="How many children.")] = 50,
          months: Annotated[int, typer.Option("--months", "-m", min=1, metavar="NUMBER", help="How many months.")] = 3,
          seed: Annotated[int, typer.Option("--seed", "-s", metavar="NUMBER", help="Random seed (same seed, same files).")] = 1,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="FOLDER", help="Folder to write the council to.")] = Path("synthetic"),
          start: Annotated[str, typer.Option("--start", metavar="YYYY-MM", help="First month YYYY-MM.")] = "2025-04",
          anomaly_rate: Annotated[float, typer.Option("--anomaly-rate", min=0.0, max=1.0, metavar="SHARE",
                                                      help="Share of recipient-months with a planted anomaly.")] = 0.05,
          ) -> None:
    """Generate a deterministic synthetic council with planted anomalies and a ground_truth.csv."""
    from dpaudit.synth.council import generate

    with domain_errors():
        parse_period(start)
        t0 = time.perf_counter()
        with stage_progress() as prog:
            prog.add_task(f"generating {recipients} recipients x {months} months", total=None)
            s = generate(out, recipients=recipients, months=months, seed=seed, start_period=start,
                         anomaly_rate=anomaly_rate)
        t = Table(title=f"synthetic council in {out} ({time.perf_counter() - t0:.1f} s)")
        t.add_column("planted rule")
        t.add_column("findings", justify="right")
        for rule, n in s.get("by_rule", {}).items():
            t.add_row(rule, str(n))
        console.print(t)
        console.print(f"{s['recipients']} recipients, {s.get('transactions', 0):,} transactions, "
                      f"periods {s['periods'][0]}..{s['periods'][-1]}; truth in {out / 'ground_truth.csv'}")


@app.command(cls=PlainCommand, epilog="Examples:\n\n  dpaudit bench            (2,000, 5,000 and 20,000 recipients: hledger at 2,000 and 5,000, Dask at 5,000 and 20,000)\n\n"
                    "  dpaudit bench --sizes 1000 --profile")
def bench(sizes: Annotated[str, typer.Option("--sizes", metavar="N,N", help="Comma-separated council sizes.")] = "2000,5000,20000",
          root: Annotated[Path, typer.Option("--root", metavar="FOLDER", help="Where councils are generated (reused when present).")]
          = Path("bench_data"),
          doc: Annotated[Optional[Path], typer.Option("--doc", metavar="FILE", help="Markdown file to write the results to.")]
          = Path("docs/benchmarks.md"),
          profile: Annotated[bool, typer.Option("--profile", metavar="", help="Also profile each run with cProfile and print "
                                                                  "the top hotspots.")] = False) -> None:
    """Benchmark a monthly run and a year end against a plain DuckDB floor; write docs/benchmarks.md."""
    from dpaudit.synth.bench import run_bench

    try:
        ns = [int(x) for x in sizes.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"'{sizes}' is not a list of numbers like 1000,5000", param_hint="--sizes") from None
    with domain_errors():
        run_bench(ns, root=root, doc=doc, profile=profile, console=console)


def main() -> None:  # pragma: no cover - console entry point
    app()


__all__ = ["app", "expand_periods", "parse_fy", "DOMAIN_ERRORS", "main"]
