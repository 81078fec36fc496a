"""``dpaudit bench``: a monthly run and a year end on synthetic councils, against a DuckDB floor.

For each council size (default 1,000 and 5,000 recipients) the benchmark

1. generates the council under ``bench_data/council_<N>/`` with :func:`dpaudit.synth.council.generate`
   (reused when it is already there: same seed, same files);
2. runs one month end to end (``pipeline.run_period``: ingest, audit, recommend, report) on a
   fresh store, then the year end of that financial year (``pipeline.run_year_end``);
3. times the *floor*: the same month's CSV bank statements read with DuckDB ``read_csv`` and
   joined to the receipts in one SQL query (OFX statements cannot be read by ``read_csv``; the floor
   is also reported scaled to all the month's transactions so the ratio compares like with like).

Each step runs in its own child process so that its peak RSS (``resource.getrusage``) is its own.
With ``--profile`` each step also runs under cProfile and the top hotspots are reported.
Results are printed and written to ``docs/benchmarks.md`` with the targets of issue 8.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SEED = 1
PERIOD = "2026-03"      # the last month of FY2025, so the year end follows the month
FY = 2025
ANOMALY_RATE = 0.05
TARGETS = {
    "month_5000_s": 60.0, "rss_5000_mb": 2048.0, "year_end_5000_s": 30.0, "floor_ratio": 1.5, "scale_20000_5000": 4.4,
    "rss_of_hledger": 0.5,
}
HLEDGER_SIZES = (2000, 5000)   # dpaudit against hledger's bare `print` of the same statement rows (issue 17)
DASK_SIZES = (5000, 20000)     # the month again on a LocalCluster of 2 worker processes
FLOOR_GROUP = 4000             # recipients whose files the floor reads in one query (open-file limit)


# ------------------------------------------------------------------------------------- child steps
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _worker_rss_mb() -> float:
    """Peak RSS of the largest child process this step waited for (hledger).  Not for worker
    processes started by spawn: Linux carries the forking parent's peak over the exec, so a worker
    would show the main process's size (:class:`ChildPeak` samples them instead)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


class ChildPeak:
    """The largest peak RSS (``VmHWM``, which an exec resets) of any descendant process while the
    ``with`` block runs, sampled every ``interval`` seconds from /proc: the worker processes."""

    def __init__(self, interval: float = 0.2) -> None:
        import threading

        self.interval, self.peak_kb, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[int]:
        kids, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    found = [int(c) for c in task.read_text().split()]
                except OSError:
                    continue
                kids += found
                todo += found
        return kids

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in self._children():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass

    def __enter__(self) -> "ChildPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return self.peak_kb / 1024.0


def _hotspots(prof: cProfile.Profile, n: int = 15) -> dict[str, list[tuple[str, float, float]]]:
    """Top functions by own time and top dpaudit functions by cumulative time: (file:function, s, s)."""
    st = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (file, line, fn), (_cc, _nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        short = file.split("site-packages/")[-1].split("/src/")[-1]
        rows.append((f"{short}:{line}:{fn}", tt, ct))
    own = sorted(rows, key=lambda r: -r[1])[:n]
    ours = sorted((r for r in rows if r[0].startswith("dpaudit/")), key=lambda r: -r[2])[:n]
    return {"own_time": [(a, round(b, 3), round(c, 3)) for a, b, c in own],
            "dpaudit_cumulative": [(a, round(b, 3), round(c, 3)) for a, b, c in ours]}


def _profiled(fn, profile: bool) -> tuple[Any, float, dict | None]:
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    try:
        out = fn()
    finally:
        if prof:
            prof.disable()
    wall = time.perf_counter() - t0
    return out, wall, (_hotspots(prof) if prof else None)


def step_generate(council: Path, n: int) -> dict:
    from dpaudit.synth.council import generate

    s, wall, _ = _profiled(lambda: generate(council, recipients=n, months=1, seed=SEED, start_period=PERIOD,
                                            anomaly_rate=ANOMALY_RATE), False)
    return {"wall_s": wall, "transactions": s["transactions"], "rss_mb": _peak_rss_mb()}


def step_month(council: Path, db: Path, reports: Path, profile: bool) -> dict:
    from dpaudit.ingest.workers import workers
    from dpaudit.pipeline import run_period

    with ChildPeak() as kids:
        r, wall, hot = _profiled(lambda: run_period(council, PERIOD, reports_dir=reports, db_path=db, officer="bench"),
                                 profile)
    return {"wall_s": wall, "stages": r.timings, "transactions": int(r.counts.get("txns_read", 0)),
            "audited": int(r.counts.get("transactions_audited", 0)), "findings": int(r.counts.get("findings", 0)),
            "rss_mb": _peak_rss_mb(), "worker_rss_mb": kids.mb, "workers": workers(), "hotspots": hot}


def step_month_dask(council: Path, db: Path, reports: Path, profile: bool) -> dict:
    """The month on a local Dask cluster of 2 worker processes (files read and shards audited there)."""
    from dpaudit.ingest.workers import DaskPool
    from dpaudit.pipeline import run_period

    with DaskPool("local", n_workers=2) as pool:
        r, wall, hot = _profiled(lambda: run_period(council, PERIOD, reports_dir=reports, db_path=db, officer="bench",
                                                    pool=pool), profile)
    return {"wall_s": wall, "stages": r.timings, "transactions": int(r.counts.get("txns_read", 0)),
            "findings": int(r.counts.get("findings", 0)), "rss_mb": _peak_rss_mb(), "workers": 2, "hotspots": hot}


HLEDGER_RULES = """skip 1
fields date, description, amount
date-format %Y-%m-%d
currency £
account1 assets:dp account
account2 expenses:unknown
"""


def _hledger() -> str | None:
    """The hledger command, installed from the OS packages when missing and possible; None if not."""
    import shutil

    found = shutil.which("hledger")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "hledger"], capture_output=True)
    return shutil.which("hledger")


def step_hledger(council: Path, db: Path) -> dict:
    """hledger's bare ``print`` of the month's statement rows: the rows dpaudit stored, one CSV per
    recipient (written before the clock starts) read with one rules file."""
    import duckdb

    exe = _hledger()
    if exe is None:
        return {"skipped": "hledger is not installed and could not be installed from the OS packages"}
    out = db.parent / f"hledger_{council.name}"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT recipient_id, posted_date, replace(coalesce(description, payee, ''), ',', ' '), "
                           "amount_pence FROM transactions WHERE strftime(posted_date, '%Y-%m') = ? "
                           "ORDER BY recipient_id, posted_date, txn_id", [PERIOD]).fetchall()
    finally:
        con.close()
    files: dict[str, list[str]] = {}
    for rid, d, desc, pence in rows:
        files.setdefault(rid, []).append(f"{d:%Y-%m-%d},{desc},{pence / 100:.2f}")
    paths = []
    for rid, lines in files.items():
        f = out / f"{rid}.csv"
        f.write_text("date,description,amount\n" + "\n".join(lines) + "\n", encoding="utf-8")
        paths.append(f)
    rules = out / "statements.rules"
    rules.write_text(HLEDGER_RULES, encoding="utf-8")
    args = [exe, "--rules-file", str(rules)]
    for f in paths:
        args += ["-f", str(f)]
    t0 = time.perf_counter()
    p = subprocess.run(args + ["print"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"skipped": f"hledger failed: {p.stderr.strip()[:300]}"}
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return {"wall_s": wall, "rows": len(rows), "files": len(paths), "rss_mb": _worker_rss_mb(), "version": version}


def step_year_end(council: Path, db: Path, reports: Path, profile: bool) -> dict:
    from dpaudit.pipeline import run_year_end

    r, wall, hot = _profiled(lambda: run_year_end(council, FY, reports_dir=reports, db_path=db), profile)
    return {"wall_s": wall, "recipients": int(r.counts.get("recipients", 0)), "rss_mb": _peak_rss_mb(),
            "hotspots": hot}


def _statement_layouts(inbox: Path) -> dict[str, list[str]]:
    """CSV statement files by layout, told apart by their first bytes (part of the floor's work)."""
    out: dict[str, list[str]] = {"canonical": [], "lloyds": [], "nationwide": []}
    for f in sorted(inbox.glob("*/statement_*.csv")):
        with open(f, "rb") as fh:
            head = fh.read(64)
        if head.startswith(b"date,description,amount"):
            out["canonical"].append(str(f))
        elif head.startswith(b"Transaction Date,"):
            out["lloyds"].append(str(f))
        elif head.startswith(b'"Account Name:"'):
            out["nationwide"].append(str(f))
    return out


FLOOR_SQL = """
WITH canon AS (
    SELECT regexp_extract(filename, '/(R[0-9]+)/', 1) AS rid, TRY_CAST(amount AS DECIMAL(18, 2)) AS amt
    FROM read_csv({canonical}, filename = true, all_varchar = true, header = true)),
lloyds AS (
    SELECT regexp_extract(filename, '/(R[0-9]+)/', 1) AS rid,
           coalesce(-TRY_CAST(NULLIF("Debit Amount", '') AS DECIMAL(18, 2)),
                    TRY_CAST(NULLIF("Credit Amount", '') AS DECIMAL(18, 2))) AS amt
    FROM read_csv({lloyds}, filename = true, all_varchar = true, header = true, null_padding = true)),
nationwide AS (
    SELECT regexp_extract(filename, '/(R[0-9]+)/', 1) AS rid,
           coalesce(-TRY_CAST(NULLIF(replace(replace("Paid out", '£', ''), ',', ''), '') AS DECIMAL(18, 2)),
                    TRY_CAST(NULLIF(replace(replace("Paid in", '£', ''), ',', ''), '') AS DECIMAL(18, 2))) AS amt
    FROM read_csv({nationwide}, filename = true, all_varchar = true, header = true, skip = 4)),
txns AS (SELECT * FROM canon UNION ALL SELECT * FROM lloyds UNION ALL SELECT * FROM nationwide),
receipts AS (
    SELECT regexp_extract(filename, '/(R[0-9]+)/', 1) AS rid,
           TRY_CAST(replace(replace(amount, '£', ''), ',', '') AS DECIMAL(18, 2)) AS amt
    FROM read_csv({receipts}, filename = true, all_varchar = true, header = true, union_by_name = true))
SELECT count(*) AS txns, count(r.rid) AS matched
FROM txns t LEFT JOIN (SELECT DISTINCT rid, amt FROM receipts) r ON r.rid = t.rid AND r.amt = -t.amt
"""


def step_floor(council: Path) -> dict:
    import duckdb

    inbox = council / "inbox" / PERIOD
    # DuckDB holds every file of a read_csv open: a council of 20,000 recipients is read in groups of
    # recipients (a recipient's statements and receipts in one group, so the join is the same)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t0 = time.perf_counter()
    layouts = _statement_layouts(inbox)
    receipts = sorted(str(f) for f in inbox.glob("*/receipts.csv"))
    folders = sorted({Path(f).parent.name for v in layouts.values() for f in v} | {Path(f).parent.name for f in receipts})
    txns = matched = 0
    con = duckdb.connect()
    try:
        for i in range(0, len(folders), FLOOR_GROUP):
            group = set(folders[i:i + FLOOR_GROUP])
            part = {k: [f for f in v if Path(f).parent.name in group] for k, v in layouts.items()}
            rec = [f for f in receipts if Path(f).parent.name in group]
            if not rec or not all(part.values()):
                continue  # every group of a generated council has all three layouts and receipts
            t, m = con.execute(FLOOR_SQL.format(**{k: repr(v) for k, v in part.items()}, receipts=repr(rec))).fetchall()[0]
            txns, matched = txns + t, matched + m
    finally:
        con.close()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "csv_txns": int(txns), "matched": int(matched), "rss_mb": _peak_rss_mb(),
            "files": {k: len(v) for k, v in layouts.items()}}


def _child(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step")
    ap.add_argument("--council", type=Path, required=True)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--reports", type=Path)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args(argv)
    if a.step == "generate":
        out = step_generate(a.council, a.n)
    elif a.step == "month":
        out = step_month(a.council, a.db, a.reports, a.profile)
    elif a.step == "year_end":
        out = step_year_end(a.council, a.db, a.reports, a.profile)
    elif a.step == "month_dask":
        out = step_month_dask(a.council, a.db, a.reports, a.profile)
    elif a.step == "hledger":
        out = step_hledger(a.council, a.db)
    elif a.step == "floor":
        out = step_floor(a.council)
    else:
        raise SystemExit(f"unknown step {a.step}")
    print("BENCH-RESULT " + json.dumps(out, default=str))


def _run_child(step: str, **kw: Any) -> dict:
    args = [sys.executable, "-m", "dpaudit.synth.bench", step]
    for k, v in kw.items():
        if isinstance(v, bool):
            if v:
                args.append(f"--{k}")
        elif v is not None:
            args += [f"--{k}", str(v)]
    p = subprocess.run(args, capture_output=True, text=True)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("BENCH-RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError(f"benchmark step {step} failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(line[len("BENCH-RESULT "):])


# ------------------------------------------------------------------------------------- driver
def bench_size(n: int, root: Path, profile: bool, say=print) -> dict:
    council = root / f"council_{n}"
    db = root / f"council_{n}.duckdb"
    reports = root / f"reports_{n}"
    res: dict[str, Any] = {"recipients": n, "profiled": profile}
    if not (council / "ground_truth.csv").exists():
        say(f"generating {n} recipients ...")
        res["generate"] = _run_child("generate", council=council, n=n)
    for stale in (db, db.with_suffix(".duckdb.wal")):
        if stale.exists():
            stale.unlink()
    say(f"{n} recipients: monthly run ...")
    res["month"] = _run_child("month", council=council, db=db, reports=reports, profile=profile)
    say(f"{n} recipients: year end ...")
    res["year_end"] = _run_child("year_end", council=council, db=db, reports=reports, profile=profile)
    if n in HLEDGER_SIZES:
        say(f"{n} recipients: hledger print of the same rows ...")
        res["hledger"] = _run_child("hledger", council=council, db=db)
    say(f"{n} recipients: DuckDB floor ...")
    res["floor"] = _run_child("floor", council=council)
    if n in DASK_SIZES:
        dask_db = root / f"council_{n}_dask.duckdb"
        for stale in (dask_db, dask_db.with_suffix(".duckdb.wal")):
            if stale.exists():
                stale.unlink()
        say(f"{n} recipients: monthly run on a local Dask cluster (2 worker processes) ...")
        res["month_dask"] = _run_child("month_dask", council=council, db=dask_db, reports=root / f"reports_{n}_dask",
                                       profile=profile)
    m, f = res["month"], res["floor"]
    res["txn_per_s"] = m["transactions"] / m["wall_s"] if m["wall_s"] else 0.0
    res["floor_scaled_s"] = f["wall_s"] * (m["transactions"] / f["csv_txns"]) if f["csv_txns"] else f["wall_s"]
    res["ratio"] = m["wall_s"] / res["floor_scaled_s"] if res["floor_scaled_s"] else float("inf")
    res["ratio_raw"] = m["wall_s"] / f["wall_s"] if f["wall_s"] else float("inf")
    return res


def _verdicts(results: list[dict]) -> list[tuple[str, str, str, str]]:
    """The targets of issue 17, each met, MISSED, or not measured (with the reason)."""
    by_n = {r["recipients"]: r for r in results if not r.get("profiled")}
    out: list[tuple[str, str, str, str]] = []

    def row(name: str, bound: str, text: str | None, ok: bool | None) -> None:
        out.append((name, bound, "not measured" if text is None else text, "-" if ok is None else ("met" if ok else "MISSED")))

    for n in HLEDGER_SIZES:
        r = by_n.get(n)
        h = (r or {}).get("hledger") or {}
        if r is None or "wall_s" not in h:
            row(f"{n:,}-recipient month vs hledger `print`", "faster", h.get("skipped") if r else None, None)
            continue
        m = r["month"]
        row(f"{n:,}-recipient month vs hledger `print`", "faster",
            f"{m['wall_s']:.1f} s vs {h['wall_s']:.1f} s ({m['wall_s'] / h['wall_s']:.2f}×)", m["wall_s"] < h["wall_s"])
        peak = m["rss_mb"] + m.get("worker_rss_mb", 0.0) * max(1, m.get("workers", 1))
        row("  peak memory (main + workers) vs hledger's", "≤ ½", f"{peak:.0f} MB vs {h['rss_mb']:.0f} MB "
            f"({peak / h['rss_mb']:.2f}×)", peak <= TARGETS["rss_of_hledger"] * h["rss_mb"])
    for n in sorted(by_n):
        r = by_n[n]
        row(f"pipeline / DuckDB floor ({n:,})", "≤ 1.5×", f"{r['ratio']:.2f}×", r["ratio"] <= TARGETS["floor_ratio"])
    big = by_n.get(5000)
    row("5,000-recipient year end", "< 30 s", f"{big['year_end']['wall_s']:.1f} s" if big else None,
        big["year_end"]["wall_s"] < TARGETS["year_end_5000_s"] if big else None)
    huge = by_n.get(20000)
    v = huge["month"]["wall_s"] / big["month"]["wall_s"] if big and huge else None
    row("20,000 month / 5,000 month", "≤ 4.4×", f"{v:.2f}×" if v else None, v <= TARGETS["scale_20000_5000"] if v else None)
    for n in DASK_SIZES:
        r = by_n.get(n)
        d = (r or {}).get("month_dask")
        row(f"{n:,}-recipient month on a LocalCluster (2 worker processes)", "reported",
            f"{d['wall_s']:.1f} s ({d['wall_s'] / r['month']['wall_s']:.2f}× the one-machine run)" if d else None, None)
    return out


def render_markdown(results: list[dict], env: dict) -> str:
    n_r = sum(r["recipients"] for r in results)
    per_recipient = f"{sum(r['month']['transactions'] for r in results) / n_r:.0f}" if n_r else "n/a"
    lines = ["# Benchmarks", "",
             "Produced by `dpaudit bench` (`make bench`); rerun it to refresh this page.  Councils are generated by",
             f"`dpaudit synth` (seed {SEED}, one month {PERIOD}, anomaly rate {ANOMALY_RATE}); the synthetic",
             f"generator wrote {per_recipient} bank transactions per recipient-month (issue 8 asks for ~60).  The year end",
             f"is FY{FY} computed from what the monthly run stored (one month of transactions).  Each step runs in its",
             "own process; peak RSS is that process's `ru_maxrss`; the month also starts worker processes that read the files",
             "and audit shards of recipients (`dpaudit.ingest.workers`, one per CPU); the largest worker's peak RSS",
             "(`VmHWM`, sampled from /proc while the month runs) is given separately.  The DuckDB floor reads the month's CSV statements",
             "(canonical, Lloyds and Nationwide layouts; OFX files cannot be read by `read_csv`) and joins them to the",
             "receipts in one query; *scaled floor* = floor time × all transactions / CSV transactions.  Councils",
             "under `bench_data/` are reused as they are: delete the folder after changing the generator.", "",
             f"Machine: {env['machine']}; {env['cpus']} CPUs shared with other work (load average {env['load']} at "
             f"start); Python {env['python']}; run {env['when']}.", "",
             "## Results", "",
             "| recipients | transactions | month wall | ingest | audit | recommend | report | txn/s | month peak RSS "
             "| worker RSS | year end | year-end RSS | floor (CSV txns) | scaled floor | pipeline / floor |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        m, y, f, s = r["month"], r["year_end"], r["floor"], r["month"]["stages"]
        label = f"{r['recipients']:,}" + (" (under cProfile)" if r.get("profiled") else "")
        lines.append(
            f"| {label} | {m['transactions']:,} | {m['wall_s']:.1f} s | {s.get('ingest', 0):.1f} s | "
            f"{s.get('audit', 0):.1f} s | {s.get('recommend', 0):.1f} s | {s.get('report', 0):.1f} s | "
            f"{r['txn_per_s']:,.0f} | {m['rss_mb']:.0f} MB | {m.get('worker_rss_mb', 0):.0f} MB × {m.get('workers', 1)} | "
            f"{y['wall_s']:.1f} s | {y['rss_mb']:.0f} MB | "
            f"{f['wall_s']:.2f} s ({f['csv_txns']:,}) | {r['floor_scaled_s']:.2f} s | {r['ratio']:.1f}× |")
    lines += ["", "## hledger and Dask", "",
              "hledger: `hledger --rules-file statements.rules -f <recipient>.csv ... print` over the month's statement "
              "rows as dpaudit stored them, one CSV per recipient (written before the clock starts); its peak RSS is "
              "the child's `ru_maxrss`. Dask: the same month on a fresh store with `pool=DaskPool('local', 2)`: files "
              "read and the audit's shards of recipients run on 2 worker processes (`dpaudit run --dask local`).", "",
              "| recipients | dpaudit month | hledger print | hledger rows | hledger peak RSS | Dask month (2 workers) |",
              "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        h, d = r.get("hledger") or {}, r.get("month_dask") or {}
        hl = (f"{h['wall_s']:.1f} s | {h['rows']:,} | {h['rss_mb']:.0f} MB" if "wall_s" in h
              else f"{h.get('skipped', '-')} | - | -")
        lines.append(f"| {r['recipients']:,} | {r['month']['wall_s']:.1f} s | {hl} | "
                     f"{d['wall_s']:.1f} s |" if d else f"| {r['recipients']:,} | {r['month']['wall_s']:.1f} s | {hl} | - |")
    lines += ["", "## Against the targets (issue 17)", "", "| target | bound | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _verdicts(results)]
    hot = [(r["recipients"], k, r[k].get("hotspots")) for r in results for k in ("month", "year_end") if r[k].get("hotspots")]
    if hot:
        lines += ["", "## Hotspots (cProfile, `--profile`)", ""]
        for n, step, h in hot:
            lines += [f"### {step}, {n:,} recipients: dpaudit functions by cumulative time", "",
                      "| function | own s | cumulative s |", "|---|---:|---:|"]
            lines += [f"| `{f}` | {a:.2f} | {b:.2f} |" for f, a, b in h["dpaudit_cumulative"][:12]]
            lines += ["", f"### {step}, {n:,} recipients: all functions by own time", "",
                      "| function | own s | cumulative s |", "|---|---:|---:|"]
            lines += [f"| `{f}` | {a:.2f} | {b:.2f} |" for f, a, b in h["own_time"][:12]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def environment() -> dict:
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        load = "n/a"
    return {"machine": f"{platform.system()} {platform.machine()}", "cpus": os.cpu_count(), "load": load,
            "python": platform.python_version(), "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def run_bench(sizes: list[int], *, root: Path = Path("bench_data"), doc: Path | None = Path("docs/benchmarks.md"),
              profile: bool = False, console=None) -> list[dict]:
    """Benchmark each size; print a table; write ``doc``. Returns the raw results."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    env = environment()
    root.mkdir(parents=True, exist_ok=True)
    store = root / "results.json"
    kept: dict[int, dict] = {}
    if store.exists():  # sizes measured earlier stay on the page until they are measured again
        kept = {int(r["recipients"]): r for r in json.loads(store.read_text()).get("results", [])}
    results = []
    for n in sizes:
        results.append(bench_size(n, root, profile, say=lambda m: con.print(f"[dim]{m}[/dim]")))
        kept[n] = results[-1]
        store.write_text(json.dumps({"env": env, "results": [kept[k] for k in sorted(kept)]}, indent=1, default=str))
    page = [kept[k] for k in sorted(kept)]
    t = Table(title="dpaudit bench")
    for c in ("recipients", "txns", "month", "ingest", "audit", "recommend", "report", "txn/s", "RSS", "year end",
              "floor (scaled)", "ratio"):
        t.add_column(c, justify="right")
    for r in results:
        m, s = r["month"], r["month"]["stages"]
        t.add_row(f"{r['recipients']:,}", f"{m['transactions']:,}", f"{m['wall_s']:.1f}s", f"{s.get('ingest', 0):.1f}s",
                  f"{s.get('audit', 0):.1f}s", f"{s.get('recommend', 0):.1f}s", f"{s.get('report', 0):.1f}s",
                  f"{r['txn_per_s']:,.0f}", f"{m['rss_mb']:.0f}MB", f"{r['year_end']['wall_s']:.1f}s",
                  f"{r['floor']['wall_s']:.2f}s ({r['floor_scaled_s']:.2f}s)", f"{r['ratio']:.1f}×")
    con.print(t)
    v = Table(title="targets")
    for c in ("target", "bound", "measured", "verdict"):
        v.add_column(c)
    for row in _verdicts(page):
        v.add_row(*row)
    con.print(v)
    if doc is not None:
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(render_markdown(page, env), encoding="utf-8")
        con.print(f"written {doc}")
    return results


if __name__ == "__main__":
    _child(sys.argv[1:])
