"""Score the audit on independently written councils and write docs/accuracy.md (``make accuracy``).

Each council comes from ``dpaudit.synth.realistic`` (its truth imports nothing of the engine); the
whole financial year runs through the pipeline in this process, then the oracle's scorer compares.
Usage: python scripts/accuracy.py [--out docs/accuracy.md] [--work DIR] [--extended]
(--extended also scores the extended councils of issue 18: prepaid cards, contributions, cohort)
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dpaudit import pipeline
from dpaudit.synth.realistic.__main__ import generate
from dpaudit.synth.realistic.score import main as score

COUNCILS = [(3, 40), (5, 40), (7, 40), (11, 40), (99, 80), (21, 40), (42, 40), (1234, 60)]
PERIODS = [f"2025-{m:02d}" for m in range(4, 13)] + [f"2026-{m:02d}" for m in range(1, 4)]
FAMILIES = ["DQ", "EV", "SP", "AC", "PY", "RV", "CO"]
EXTENDED_COUNCILS = [(7, 40), (3, 40), (11, 40)]
NEW_RULES = ["AC-CONTRIBUTION-SHORT", "CO-SHARED-PAYEE", "CO-DUPLICATE-INVOICE", "CO-PROVIDER-PATTERN"]
CARD_SP = ["SP-PROHIBITED", "SP-HOUSEHOLD", "SP-CASH"]
ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "docs" / "accuracy-baseline-285058d.json"
EXTENDED_METHOD = (
    "Extended councils (issue 18): `python -m dpaudit.synth.realistic OUT --extended` adds 22 "
    "recipients after the default ones, from the agreed definitions of prepaid cards, client "
    "contributions and the cohort checks: 8 prepaid-card recipients (canonical and vendor card "
    "exports with authorised-then-settled pairs, authorisations never settled, declined and "
    "reversed rows, an MCC on every spend row, merchant names cut at 22 characters with town "
    "tails, council and family loads, another card's export), 7 families paying client "
    "contributions (`reference/contributions.csv`; short, stopping, in arrears, paying monthly "
    "for weekly dues, due on the 31st) and 8 employers whose personal assistants work for several "
    "families (one NI number written four ways, a name with no NI number, exactly 3 accounts, 78 "
    "hours exactly and 82, a monthly payslip spread over the weeks), with supplier invoice "
    "numbers seen twice and providers paid round sums or fabricated-looking amounts. Its truth "
    "adds AC-CONTRIBUTION-SHORT, CO-SHARED-PAYEE, CO-DUPLICATE-INVOICE, CO-PROVIDER-PATTERN (for "
    "every provider, from every debit) and the year end's council share, each with a trace file "
    "in `truth/`; the scorer reports the card recipients and the council share on their own. "
    "Without `--extended` a council's files are byte-identical to before; its truth has the "
    "CO-* findings the defs' arithmetic gives on what was generated (random invoice numbers of "
    "two families collide now and then), and they are scored like any rule.")


def run_one(work: Path, seed: int, n: int, extended: bool = False) -> dict:
    tag = f"x{seed}" if extended else f"{seed}"
    council, reports, db = work / f"c{tag}", work / f"r{tag}", work / f"s{tag}.duckdb"
    for p in (council, reports):
        shutil.rmtree(p, ignore_errors=True)
    db.unlink(missing_ok=True)
    generate(str(council), n=n, seed=seed,
             features={"cards", "contributions", "cohort"} if extended else None)
    t0 = time.perf_counter()
    for period in PERIODS:
        pipeline.run_period(council, period, reports_dir=reports, db_path=db, officer="Accuracy run")
    pipeline.run_year_end(council, 2025, reports_dir=reports, db_path=db)
    seconds = time.perf_counter() - t0
    out = work / f"score{tag}.json"
    score([str(council), str(reports), "--json", str(out)])
    return {"seed": seed, "recipients": n, "seconds": seconds, "extended": extended,
            **json.loads(out.read_text())}


def _f(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _rp(v: dict | None) -> str:
    return "-" if not v else f"{v['truth']} / {v['found']} / {v['both']} ({_f(v['recall'])} / {_f(v['precision'])})"


def extended_markdown(results: list[dict]) -> list[str]:
    """the extended councils (issue 18): the new rules, the card recipients' MCC rules, the year
    end's council share"""
    lines = ["", "## Extended councils (issue 18)", "",
             "`--extended`: the default recipients plus 22 extended ones. Cells: truth / found / both "
             "(recall / precision).", "",
             "| seed | recipients | " + " | ".join(NEW_RULES) + " | all | year end exact | council share exact "
             "| recommendations agree | run |",
             "|---:|---:|" + "---|" * len(NEW_RULES) + "---|---|---|---|---:|"]
    for r in results:
        ye, rec, sp = r["year_end"], r["recommendations"], r.get("year_end_split", {})
        lines.append(f"| {r['seed']} | {r['recipients']} + 22 | " + " | ".join(_rp(r["rules"].get(k)) for k in NEW_RULES)
                     + f" | {_f(r['total']['recall'])} / {_f(r['total']['precision'])} | {ye['exact']} / {ye['total']} | "
                     f"{sp.get('exact', '-')} / {sp.get('total', '-')} | {rec['agree']} / {rec['total']} | "
                     f"{r['seconds']:.1f} s |")
    lines += ["", "Prepaid-card recipients on their own, the rules the merchant category code decides:", "",
              "| seed | " + " | ".join(CARD_SP) + " |", "|---:|" + "---|" * len(CARD_SP)]
    for r in results:
        c = r.get("card_recipients", {})
        lines.append(f"| {r['seed']} | " + " | ".join(_rp(c.get(k)) for k in CARD_SP) + " |")
    return lines


def markdown(results: list[dict], baseline: dict | None, extended: list[dict] | None = None) -> str:
    seven = next(r for r in results if r["seed"] == 7)
    lines = ["# Accuracy on independently written councils", "",
             "Produced by `make accuracy` (`scripts/accuracy.py`). Each council is written by "
             "`dpaudit.synth.realistic`, whose generator and truth import nothing of the engine: trading names "
             "against bank descriptors with town, country and card-scheme tails and `providers.csv` aliases, family "
             "transfers and loans, council debits, betting and off-licence chains with shop numbers, holders whose "
             "names are also merchant words (Coral, Hill, Cook, Baker, Park), stopped recipients with history, "
             "identical files in two siblings' folders, recipient ids with leading zeros, part-year and notional "
             "lines, unpaid March invoices and PAYE, payments posting days after the receipt, six statement "
             "layouts. Keys the spec allows two readings of are listed in the council's `truth/ambiguous.csv` "
             "and left out of both sides. The twelve months of FY2025 and the year end run through the pipeline "
             "as `dpaudit run` and `dpaudit year-end` would.", "", EXTENDED_METHOD, "",
             "## Every council, every rule family (recall / precision)", "",
             "| seed | recipients | " + " | ".join(FAMILIES) + " | all | year end exact | recommendations agree | run |",
             "|---:|---:|" + "---|" * len(FAMILIES) + "---|---|---|---:|"]
    for r in results:
        fam = [f"{_f(r['families'][f]['recall'])} / {_f(r['families'][f]['precision'])}" if f in r["families"] else "-"
               for f in FAMILIES]
        ye, rec = r["year_end"], r["recommendations"]
        lines.append(f"| {r['seed']} | {r['recipients']} | " + " | ".join(fam)
                     + f" | {_f(r['total']['recall'])} / {_f(r['total']['precision'])} | {ye['exact']} / {ye['total']} | "
                     f"{rec['agree']} / {rec['total']} | {r['seconds']:.1f} s |")
    lines += ["", "Seeds 3, 5, 7, 11 and 99 were used to find and fix the engine's errors. Seeds 21, 42 and 1234 were run "
              "only afterwards, as held-out councils: their first run had 2 false positives among 1,325 findings (HMRC "
              "paying back PAYE read as other income; a council payment due on the last day a statement covered called "
              "missing), both since fixed. Per rule the counts are small (a council of 40 plants most rules 1 to 30 "
              "times), so a 1.00 here says every planted case and every decoy was judged right, not that no other "
              "shape of statement can fool a rule.",
              "", "## Per rule on seed 7, before issue 13 and now", "",
              "Before: the engine at commit 285058d (the start of the issue-13 work) on the same council.", "",
              "| rule | truth | before: found | before: recall / precision | now: found | now: recall / precision |",
              "|---|---:|---:|---|---:|---|"]
    for rule in sorted(seven["rules"]):
        now = seven["rules"][rule]
        old = (baseline or {}).get("rules", {}).get(rule)
        b = f"{old['found']} | {_f(old['recall'])} / {_f(old['precision'])}" if old else "- | -"
        lines.append(f"| {rule} | {now['truth']} | {b} | {now['found']} | {_f(now['recall'])} / {_f(now['precision'])} |")
    if baseline:
        bt, by, br = baseline["total"], baseline["year_end"], baseline["recommendations"]
        lines += ["", f"Before, in all: recall {_f(bt['recall'])}, precision {_f(bt['precision'])} ({bt['found']} findings "
                  f"for {bt['truth']} real ones); year end exact for {by['exact']} of {by['total']}; recommendations "
                  f"agreed for {br['agree']} of {br['total']}. Now: recall {_f(seven['total']['recall'])}, precision "
                  f"{_f(seven['total']['precision'])}; year end {seven['year_end']['exact']} of {seven['year_end']['total']}; "
                  f"recommendations {seven['recommendations']['agree']} of {seven['recommendations']['total']}."]
    if extended:
        lines += extended_markdown(extended)
    lines += ["", "`tests/test_realistic_accuracy.py` runs seed 7 in CI and fails when any rule family drops below "
              "0.97 recall or precision, a year end differs or a recommendation disagrees.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "accuracy.md"))
    ap.add_argument("--work", default=None, help="folder for the councils (default: a temporary one)")
    ap.add_argument("--extended", action="store_true",
                    help="also score the extended councils (issue 18) of seeds "
                         + ", ".join(str(s) for s, _ in EXTENDED_COUNCILS))
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dpaudit-accuracy-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for seed, n in COUNCILS:
        r = run_one(work, seed, n)
        print(f"seed {seed} ({n} recipients): recall {_f(r['total']['recall'])}, precision {_f(r['total']['precision'])}, "
              f"year end {r['year_end']['exact']}/{r['year_end']['total']}, recommendations "
              f"{r['recommendations']['agree']}/{r['recommendations']['total']} ({r['seconds']:.1f} s)", flush=True)
        results.append(r)
    extended = []
    for seed, n in EXTENDED_COUNCILS if args.extended else []:
        r = run_one(work, seed, n, extended=True)
        print(f"seed {seed} extended ({n} + 22 recipients): recall {_f(r['total']['recall'])}, precision "
              f"{_f(r['total']['precision'])}, year end {r['year_end']['exact']}/{r['year_end']['total']}, "
              f"recommendations {r['recommendations']['agree']}/{r['recommendations']['total']} "
              f"({r['seconds']:.1f} s)", flush=True)
        extended.append(r)
    baseline = json.loads(BASELINE.read_text()) if BASELINE.is_file() else None
    Path(args.out).write_text(markdown(results, baseline, extended), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
