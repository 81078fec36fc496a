"""The risk rating's ground truth (docs/risk.md) for a realistic council, and its comparison with
an engine run.

    python -m dpaudit.synth.realistic.risk_truth COUNCIL REPORTS [--json OUT] [--show N]

Written from docs/risk.md, the policy's ``[risk]`` section and the rule severities of its
``[rules.*]`` tables only; it imports nothing of dpaudit outside ``dpaudit.synth.realistic``.

Each recipient-month the truth gets a recommendation for (a DP recipient from the month their
payment started) gets five parts over the window (the month and the 5 before it):

- findings: each rule-month of a standing finding x its severity's points (one finding of a rule a
  month), leaving out EV-NO-EVIDENCE, AC-SURPLUS, DQ-STATEMENT-MISSING/GAP (measured by their own
  parts), RV-REVIEW-DUE and RULE-ERROR;
- evidence: 30 x unevidenced / (evidenced + unevidenced) over the window, half-up, where the money
  paid out is every debit of the DP account's statements (the generated model) and unevidenced is
  the debits the truth raises EV-NO-EVIDENCE for;
- surplus: 5 per month with AC-SURPLUS, + 10 when the month-end balance rose in each of the last 3
  months (closing above opening, each month with a statement) and ends above 10% of the annual
  DP value in force on the month's last day;
- statements: 10 per month with DQ-STATEMENT-MISSING, 5 per other month with DQ-STATEMENT-GAP;
- upheld: 0 (no officer decisions in these councils; the arithmetic supports accepted findings).

Where ``truth/ambiguous.csv`` allows two readings of a finding, the truth takes the engine's
reading (an engine finding matching the ambiguous key counts, a truth finding matching it counts
only when the engine raised it): either reading is right, so the rating follows the one the
engine made.  The money paid out and the balances come from the generated model, rebuilt from
the seed, size and year named in ``truth/README.md`` and checked against ``truth/findings.csv``.

The comparison also *replays* the arithmetic on the engine's own inputs (its exceptions.csv
findings with their severities and statuses, its reconciliation.csv money and balances): a
disagreement the replay shares comes from the audit's findings or money (inputs), one it does not
from the rating's arithmetic.
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from .model import add_months, half_up_div, month_end, month_of

# docs/risk.md defaults (policy.default.toml [risk]); tests/test_risk_truth.py checks them against
# the policy file.
RISK = dict(window_periods=6, amber_score=20, red_score=50, max_per_rule_month=1, dismissed_pct=0,
            evidence_points=30, surplus_month_points=5, rising_months=3, rising_points=10,
            contingency_max_pct=10, missing_statement_points=10, statement_gap_points=5,
            review_first_months=3, payment_window_days=5)
FINDING_POINTS = {"high": 20, "medium": 5, "low": 1, "info": 0}
UPHELD_POINTS = {"high": 10, "medium": 3, "low": 1, "info": 0}
REVIEW_MONTHS = {"red": 1, "amber": 3, "green": 6}
IGNORE_RULES = {"RV-REVIEW-DUE", "RULE-ERROR"}
EVIDENCE_RULES = {"EV-NO-EVIDENCE"}
SURPLUS_RULES = {"AC-SURPLUS"}
MISSING_RULES = {"DQ-STATEMENT-MISSING"}
GAP_RULES = {"DQ-STATEMENT-GAP"}
# the parts of the reasons, in the order docs/risk.md breaks a tie
PARTS = ["high", "medium", "low", "evidence", "surplus", "rising", "missing", "gap", "upheld"]
SEVERITIES = ["high", "medium", "low", "info"]
RATINGS = ["red", "amber", "green"]
# issue 18's cohort rules: their truth exists only in councils generated with --features cohort
COHORT_RULES = {"CO-SHARED-PAYEE", "CO-DUPLICATE-INVOICE", "CO-PROVIDER-PATTERN"}


# ---------------------------------------------------------------------------- arithmetic
@dataclass
class Finding:
    period: str
    rule_id: str
    severity: str
    status: str = "open"  # open / queried / accepted / dismissed


@dataclass
class Balance:
    opening: int
    closing: int
    above_cmax: bool  # the closing balance is above contingency_max_pct of the annual value


@dataclass
class Inputs:
    """one recipient's inputs: findings, money paid out per month (evidenced, unevidenced) and
    month balances (only for months with a statement)"""
    findings: list = field(default_factory=list)
    money: dict = field(default_factory=dict)  # period -> (evidenced, unevidenced) pence
    balance: dict = field(default_factory=dict)  # period -> Balance


@dataclass
class Rating:
    period: str
    parts: dict  # PARTS key -> points
    score: int
    rating: str
    reasons: list  # [(key, points, sentence)], largest first, at most 3
    detail: dict
    alt_score: int | None = None  # the score under the other reading of a rising balance


def window(period: str, n: int | None = None) -> list:
    """the n periods ending with ``period``, oldest first"""
    n = RISK["window_periods"] if n is None else n
    y, m = map(int, period.split("-"))
    d = date(y, m, 1)
    return [month_of(add_months(d, -k)) for k in range(n - 1, -1, -1)]


def month_name(p: str) -> str:
    y, m = map(int, p.split("-"))
    return date(y, m, 1).strftime("%B %Y")


def rate_of(score: int) -> str:
    return "red" if score >= RISK["red_score"] else "amber" if score >= RISK["amber_score"] \
        else "green"


def rate(inp: Inputs, period: str) -> Rating:
    """docs/risk.md's score of one recipient for one month"""
    win = window(period)
    wset = set(win)
    fs = [f for f in inp.findings if f.period in wset and f.rule_id not in IGNORE_RULES]
    standing = [f for f in fs if f.status != "dismissed"]
    parts = dict.fromkeys(PARTS, 0)
    detail = {}
    # findings, one of a rule a month (the best ones when a rule-month has several)
    cap = RISK["max_per_rule_month"]
    own = EVIDENCE_RULES | SURPLUS_RULES | MISSING_RULES | GAP_RULES
    by_rm = collections.defaultdict(list)
    for f in fs:
        if f.rule_id in own:
            continue
        pts = FINDING_POINTS.get(f.severity, 0)
        if f.status == "dismissed":
            pts = half_up_div(pts * RISK["dismissed_pct"], 100)
            if pts == 0:
                continue
        by_rm[(f.rule_id, f.period)].append((pts, f))
    for sev in ("high", "medium", "low"):
        counted = found = 0
        rules, rms = set(), []
        for (rule, p), lst in sorted(by_rm.items()):
            lst = [x for x in lst if x[1].severity == sev]
            if not lst:
                continue
            lst.sort(key=lambda x: -x[0])
            found += len(lst)
            take = lst[:cap]
            counted += len(take)
            parts[sev] += sum(x[0] for x in take)
            rules.add(rule)
            rms.append((rule, p))
        detail[sev] = dict(counted=counted, found=found, rules=sorted(rules), rule_months=rms)
    # evidence
    ev = sum(inp.money.get(p, (0, 0))[0] for p in win)
    un = sum(inp.money.get(p, (0, 0))[1] for p in win)
    if ev + un > 0:
        parts["evidence"] = half_up_div(RISK["evidence_points"] * un, ev + un)
    detail["evidence"] = dict(unevidenced=un, paid_out=ev + un)
    # surplus months and a rising balance
    sm = sorted({f.period for f in standing if f.rule_id in SURPLUS_RULES})
    parts["surplus"] = RISK["surplus_month_points"] * len(sm)
    detail["surplus"] = dict(months=sm)
    rising, alt = rising_balance(inp, period)
    parts["rising"] = RISK["rising_points"] if rising else 0
    last = inp.balance.get(period)
    detail["rising"] = dict(closing=last.closing if last else None,
                            above=last.above_cmax if last else None, other_reading=alt)
    # statements
    miss = sorted({f.period for f in standing if f.rule_id in MISSING_RULES})
    gap = sorted({f.period for f in standing if f.rule_id in GAP_RULES} - set(miss))
    parts["missing"] = RISK["missing_statement_points"] * len(miss)
    parts["gap"] = RISK["statement_gap_points"] * len(gap)
    detail["missing"], detail["gap"] = dict(months=miss), dict(months=gap)
    # findings an officer accepted, one of a rule a month
    acc = {}
    for f in fs:
        if f.status == "accepted":
            k = (f.rule_id, f.period)
            acc[k] = max(acc.get(k, 0), UPHELD_POINTS.get(f.severity, 0))
    parts["upheld"] = sum(acc.values())
    detail["upheld"] = dict(rule_months=sorted(acc))
    score = sum(parts.values())
    alt_score = None
    if alt != rising:
        alt_score = score + (RISK["rising_points"] if alt else -RISK["rising_points"])
    return Rating(period, parts, score, rate_of(score), reasons(parts, detail), detail, alt_score)


def rising_balance(inp: Inputs, period: str) -> tuple:
    """(reading A, reading B) of "the month-end balance rose in each of the last 3 months and
    ends above contingency_max_pct of the annual value".  A: each of the 3 months closed above
    the balance it opened with (the month-end before it, as its own statement shows it).  B: each
    month-end is above the one before it as the month before's own statement closes it, so a
    month before with no statement (before the first one, or missing) does not show a rise."""
    n = RISK["rising_months"]
    last = window(period, n + 1)
    bs = [inp.balance.get(p) for p in last]
    above = bs[-1] is not None and bs[-1].above_cmax
    a = above and all(b is not None and b.closing > b.opening for b in bs[1:])
    b = above and all(x is not None for x in bs) and \
        all(bs[i].closing > bs[i - 1].closing for i in range(1, n + 1))
    return a, b


def reasons(parts: dict, detail: dict) -> list:
    """the three largest contributions, largest first; a tie in PARTS order"""
    order = sorted((k for k in PARTS if parts[k] > 0), key=lambda k: (-parts[k], PARTS.index(k)))
    return [(k, parts[k], sentence(k, parts[k], detail)) for k in order[:3]]


def sentence(k: str, pts: int, d: dict) -> str:
    n = RISK["window_periods"]
    if k in ("high", "medium", "low"):
        x = d[k]
        extra = f"; {x['found']} found, at most {RISK['max_per_rule_month']} of one rule a month " \
                f"counted" if x["found"] > x["counted"] else ""
        s = "s" if x["counted"] != 1 else ""
        return f"{x['counted']} {k} finding{s} in the last {n} months " \
               f"({', '.join(x['rules'])}{extra}): +{pts}"
    if k == "evidence":
        x = d[k]
        return f"money paid out with no evidence in the last {n} months " \
               f"({money_gbp(x['unevidenced'])} of {money_gbp(x['paid_out'])}): +{pts}"
    if k == "surplus":
        m = d[k]["months"]
        return f"Funds above the surplus limit (AC-SURPLUS) in {len(m)} of the last {n} months " \
               f"({', '.join(map(month_name, m))}): +{pts}"
    if k == "rising":
        return f"The balance rose in each of the last {RISK['rising_months']} months, to " \
               f"{money_gbp(d[k]['closing'])}: +{pts}"
    if k == "missing":
        m = d[k]["months"]
        return f"No bank statement for {len(m)} of the last {n} months " \
               f"({', '.join(map(month_name, m))}): +{pts}"
    if k == "gap":
        m = d[k]["months"]
        return f"Days no bank statement covers in {len(m)} of the last {n} months " \
               f"({', '.join(map(month_name, m))}): +{pts}"
    return f"{len(d['upheld']['rule_months'])} finding(s) upheld by an officer: +{pts}"


def money_gbp(p: int) -> str:
    s = "-" if p < 0 else ""
    p = abs(p)
    return f"{s}£{p // 100:,}.{p % 100:02d}"


def next_review(rating: str, period: str, start: date | None, end: date | None,
                stopped: bool) -> date | None:
    """docs/risk.md "Reviews": the next review shown for a rating of ``period``"""
    pe = month_end(date(int(period[:4]), int(period[5:]), 1))
    if rating == "red":
        nr = pe + timedelta(days=1)
    else:
        if start is None:
            return None
        every = REVIEW_MONTHS[rating]
        k = 0
        while True:
            nr = add_months(start, RISK["review_first_months"] + every * k)
            if nr > pe:
                break
            k += 1
    if stopped and end is None:
        return None
    if end is not None and end < nr:
        return None
    return nr


# ---------------------------------------------------------------------------- the truth
def pence(s) -> int | None:
    s = (s or "").replace("£", "").replace(",", "").strip()
    if not s:
        return None
    try:
        return int((Decimal(s) * 100).quantize(Decimal(1)))
    except InvalidOperation:
        return None


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(fh)]


def amb_match(a: dict, row: dict) -> bool:
    """an ambiguous key (blank column = any value) matches a finding row"""
    for c in ("period", "recipient_id", "rule_id", "line_id"):
        if a.get(c) and a[c] != row.get(c, ""):
            return False
    if a.get("txn_date") and a["txn_date"] != (row.get("txn_date") or "")[:10]:
        return False
    if a.get("amount") and pence(a["amount"]) != pence(row.get("amount")):
        return False
    return True


README_HEAD = re.compile(r"# Realistic council FY(\d{4}) \(seed (\d+), (\d+)(?: \+ \d+ extended)? "
                         r"recipients(?:: ([a-z, ]+))?\)")


def rebuild(council: str):
    """the generated model of COUNCIL, rebuilt from the seed, size, year and features its
    truth/README.md names, checked against its truth/findings.csv"""
    from .generate import Gen
    with open(os.path.join(council, "truth", "README.md"), encoding="utf-8") as fh:
        head = fh.readline().strip()
    m = README_HEAD.match(head)
    if not m:
        raise SystemExit(f"{council}/truth/README.md: first line {head!r} names no seed and size")
    fy, seed, n = int(m.group(1)), int(m.group(2)), int(m.group(3))
    feats = frozenset(x.strip() for x in (m.group(4) or "").split(",") if x.strip())
    gen = Gen(n, seed, fy)
    recips = gen.build()
    if feats:
        from .extended import build_extended
        recips = recips + build_extended(gen, recips, feats)
    from .truth_ext import ExtTruth  # every council's truth includes the cohort checks (as __main__ writes it)
    truth = ExtTruth(gen, recips, feats).run()
    mine = collections.Counter((f["period"], f["recipient_id"], f["rule_id"], f["txn_date"],
                                f["amount"]) for f in truth.findings)
    file = collections.Counter((f["period"], f["recipient_id"], f["rule_id"], f["txn_date"],
                                f["amount"]) for f in read_csv(os.path.join(council, "truth",
                                                                            "findings.csv")))
    if mine != file:
        raise SystemExit(f"{council}: truth/findings.csv is not what this generator writes for "
                         f"{head[2:]} ({sum((mine - file).values())} / "
                         f"{sum((file - mine).values())} rows differ): regenerate the council")
    return gen, recips, feats


def in_scope(r, p) -> bool:
    """recipient-months the truth gives a recommendation (truth.Truth.in_scope)"""
    return r.is_dp and not (r.start and r.start > month_end(date(int(p[:4]), int(p[5:]), 1)))


class RiskTruth:
    """the truth's inputs per recipient and its ratings per recipient-month"""

    def __init__(self, council: str, engine_findings: list | None = None):
        self.council = council
        self.gen, self.recips, self.features = rebuild(council)
        self.by_rid = {r.rid: r for r in self.recips}
        tdir = os.path.join(council, "truth")
        truth = read_csv(os.path.join(tdir, "findings.csv"))
        amb = read_csv(os.path.join(tdir, "ambiguous.csv")) or []
        amb_by = collections.defaultdict(list)
        for a in amb:
            amb_by[(a["recipient_id"], a["rule_id"])].append(a)

        def is_amb(row):
            return any(amb_match(a, row) for a in amb_by.get((row["recipient_id"],
                                                                row["rule_id"]), []))
        sev = severities()
        # findings that count: the truth's unambiguous ones and the engine's reading of the
        # ambiguous ones
        rows = [dict(f, source="truth") for f in truth if not is_amb(f)]
        self.resolved = collections.Counter()
        self.unscored = collections.Counter()
        for e in engine_findings or []:
            if is_amb(e):
                rows.append(dict(e, source="engine (ambiguous key)"))
                self.resolved[e["rule_id"]] += 1
            # every council's truth has the cohort rules (__main__ writes them for all): no engine
            # finding is taken in place of a truth any more; ``unscored`` stays for the report
        self.dropped = collections.Counter(f["rule_id"] for f in truth if is_amb(f))
        self.rows = rows
        self.inputs = {}
        pw = timedelta(days=RISK["payment_window_days"])
        for r in self.recips:
            self.inputs[r.rid] = Inputs()
        for f in rows:
            if f["recipient_id"] not in self.inputs:
                continue
            p = f["period"]
            if f["rule_id"] == "AC-PAYMENT-MISSING" and f["source"] == "truth" and \
                    "never arrived" in f.get("note", "") and f.get("txn_date"):
                # decisions.md 43: a payment that never came is raised in the month its
                # payment_window_days window ends in
                p = month_of(date.fromisoformat(f["txn_date"]) + pw)
            self.inputs[f["recipient_id"]].findings.append(
                Finding(p, f["rule_id"], sev.get(f["rule_id"], f.get("severity", "info"))))
        g = self.gen
        for r in self.recips:
            if not r.is_dp:
                continue
            inp = self.inputs[r.rid]
            eod = g.balances(r, r.opening)
            unev = collections.Counter()
            for f in rows:
                if f["recipient_id"] == r.rid and f["rule_id"] in EVIDENCE_RULES:
                    unev[f["period"]] += abs(pence(f["amount"]) or 0)
            for x in r.txns:
                if x.amt >= 0 or not x.observed or x.kind in ("fee", "unknown_wage"):
                    continue
                # a payment its document covers only in part: the part it does not cover has
                # no evidence (a receipt for less, a payslip net below the payment)
                if x.kind == "wage":
                    if not x.payslip_missing and x.net_diff > 0:
                        unev[month_of(x.d)] += x.net_diff
                elif x.evid is not None and x.mismatch < 0:
                    unev[month_of(x.d)] += -x.mismatch
            for p in g.periods:
                if p in r.missing_months:
                    continue
                ps = date(int(p[:4]), int(p[5:]), 1)
                pe = month_end(ps)
                if r.start and r.start > pe:
                    continue  # no statement before the payment starts
                out = sum(-x.amt for x in r.txns if x.amt < 0 and x.observed and
                          month_of(x.d) == p)
                inp.money[p] = (out - unev[p], unev[p])
                opening = r.opening if ps == g.fy_start else eod[ps - timedelta(days=1)]
                closing = eod[pe]
                dpv = g.annual_dp_on(r, pe)
                above = dpv > 0 and closing * 100 > dpv * RISK["contingency_max_pct"]
                inp.balance[p] = Balance(opening, closing, above)

    def rating(self, rid: str, period: str) -> Rating | None:
        r = self.by_rid.get(rid)
        if r is None or not in_scope(r, period):
            return None
        return rate(self.inputs[rid], period)

    def next_review(self, rid: str, rt: Rating):
        r = self.by_rid[rid]
        return next_review(rt.rating, rt.period, r.start, r.end, r.status == "stopped")


def severities() -> dict:
    """the oracle's own table of rule severities (the policy's [rules.*])"""
    from .truth import SEV
    return dict(SEV)


# ---------------------------------------------------------------------------- the engine
REASON = re.compile(r"(.*?): \+(\d+)(?:; |$)")
FIND_RE = re.compile(r"^(\d+) (high|medium|low) findings? in the last \d+ months \((.*)\)$")
EV_RE = re.compile(r"\(£([\d,.]+) of £([\d,.]+)\)$")


def parse_reasons(text: str) -> list:
    """[(key, points, detail)] from the engine's risk_reasons"""
    out = []
    if not text or text.startswith("Nothing in the last"):
        return out
    for body, pts in REASON.findall(text):
        pts = int(pts)
        m = FIND_RE.match(body)
        if m:
            inner = m.group(3)
            found = re.search(r"(\d+) found", inner)
            rules = inner.split(";")[0]
            out.append((m.group(2), pts, dict(counted=int(m.group(1)),
                                              found=int(found.group(1)) if found else
                                              int(m.group(1)),
                                              rules=sorted(x.strip() for x in rules.split(",")))))
        elif "money paid out" in body:
            m = EV_RE.search(body)
            out.append(("evidence", pts, dict(unevidenced=pence(m.group(1)) if m else None,
                                              paid_out=pence(m.group(2)) if m else None)))
        elif body.startswith("Funds above the surplus limit"):
            out.append(("surplus", pts, {}))
        elif body.startswith("The balance rose"):
            out.append(("rising", pts, {}))
        elif body.startswith("No bank statement"):
            out.append(("missing", pts, {}))
        elif "statement covers" in body or "gap" in body.lower():
            out.append(("gap", pts, {}))
        elif "upheld" in body:
            out.append(("upheld", pts, {}))
        else:
            out.append(("?", pts, dict(text=body)))
    return out


def engine_parts(score: int, reasons: list) -> dict:
    """each part's points as far as the reasons show them: an int, or ("<=", n) when a part
    may hide below the third reason"""
    shown = {k: p for k, p, _ in reasons}
    out = {}
    for k in PARTS:
        if k in shown:
            out[k] = shown[k]
        elif len(reasons) < 3:
            out[k] = 0
        else:
            out[k] = ("<=", min(shown.values()))
    return out


def engine_inputs(reports: str, periods: list) -> dict:
    """the engine's own inputs per recipient (for the replay): findings of exceptions.csv with
    their severity and status, reconciliation.csv money and balances"""
    inputs = collections.defaultdict(Inputs)
    for p in periods:
        for f in read_csv(os.path.join(reports, p, "exceptions.csv")) or []:
            st = (f.get("status") or "open").lower()
            if st.startswith("accept"):
                st = "accepted"
            elif st.startswith("dismiss"):
                st = "dismissed"
            inputs[f["recipient_id"]].findings.append(
                Finding(f["period"] or p, f["rule_id"], (f.get("severity") or "info").lower(), st))
        for r in read_csv(os.path.join(reports, p, "reconciliation.csv")) or []:
            i = inputs[r["recipient_id"]]
            per = r["period"] or p
            i.money[per] = (pence(r["evidenced"]) or 0, pence(r["unevidenced"]) or 0)
            try:
                pct = Decimal(r.get("contingency_pct") or "")
            except InvalidOperation:
                pct = None
            op, cl = pence(r["opening_balance"]), pence(r["closing_balance"])
            if op is not None and cl is not None:
                i.balance[per] = Balance(op, cl, pct is not None and
                                         pct > RISK["contingency_max_pct"])
    return inputs


# ---------------------------------------------------------------------------- comparison
def fmt_part(v) -> str:
    return f"<={v[1]}" if isinstance(v, tuple) else str(v)


def part_differs(t: int, e) -> bool:
    if isinstance(e, tuple):
        return t > e[1]
    return t != e


def compare(council: str, reports: str) -> dict:
    tdir = os.path.join(council, "truth")
    trecs = read_csv(os.path.join(tdir, "recommendations.csv"))
    periods = sorted({r["period"] for r in trecs})
    optional = {(r["recipient_id"], r["period"]) for r in trecs if r.get("optional") == "yes"}
    eng_findings = []
    for p in periods:
        eng_findings += read_csv(os.path.join(reports, p, "exceptions.csv")) or []
    rt = RiskTruth(council, eng_findings)
    replay_in = engine_inputs(reports, periods)
    months = []
    rows = []
    conf = collections.Counter()
    for p in periods:
        eng = read_csv(os.path.join(reports, p, "recommendations.csv"))
        m = dict(period=p, rows=0, rating_n=0, rating_agree=0, score_n=0, score_exact=0,
                 ambiguous=0, engine_reading=collections.Counter(), replay_exact=0,
                 review_agree=0, reasons_agree=0, confusion=collections.Counter(), missing=[],
                 extra=[], no_report=eng is None)
        seen = set()
        for e in eng or []:
            rid = e["recipient_id"]
            seen.add(rid)
            t = rt.rating(rid, p)
            if t is None:
                m["extra"].append(rid)
                continue
            es = int(e.get("risk_score") or 0)
            er = (e.get("risk_rating") or "").lower()
            reas = parse_reasons(e.get("risk_reasons", ""))
            rp = rate(replay_in.get(rid, Inputs()), p)
            nr = rt.next_review(rid, t)
            enr = e.get("next_review", "")
            m["rows"] += 1
            amb_score = t.alt_score is not None
            amb_rating = amb_score and rate_of(t.alt_score) != t.rating
            if amb_score:
                m["ambiguous"] += 1
                m["engine_reading"]["A" if es == t.score else "B" if es == t.alt_score
                                    else "neither"] += 1
            if not amb_rating:
                m["rating_n"] += 1
                m["rating_agree"] += t.rating == er
                m["confusion"][(t.rating, er)] += 1
                conf[(t.rating, er)] += 1
            if not amb_score:
                m["score_n"] += 1
                m["score_exact"] += t.score == es
            m["replay_exact"] += rp.score == es
            m["review_agree"] += (nr.isoformat() if nr else "") == enr
            ep = engine_parts(es, reas)
            tr = [k for k, _, _ in t.reasons]
            if not amb_score:
                m["reasons_agree"] += tr == [k for k, _, _ in reas] and \
                    not reason_detail_diff(t, reas)
            row = dict(recipient_id=rid, period=p, truth_rating=t.rating, truth_score=t.score,
                       truth_alt_score=t.alt_score, engine_rating=er, engine_score=es,
                       replay_score=rp.score, truth_parts=t.parts,
                       engine_parts={k: fmt_part(v) for k, v in ep.items()},
                       replay_parts=rp.parts, truth_reasons=tr,
                       engine_reasons=[k for k, _, _ in reas],
                       truth_reason_text=[x for _, _, x in t.reasons],
                       engine_reason_text=e.get("risk_reasons", ""),
                       reason_detail_diff=reason_detail_diff(t, reas),
                       truth_next_review=nr.isoformat() if nr else "", engine_next_review=enr,
                       differing_parts=[k for k in PARTS if part_differs(t.parts[k], ep[k])],
                       ambiguous="rating" if amb_rating else "score" if amb_score else "",
                       cause=("" if t.score == es else "other reading" if es == t.alt_score
                              else "arithmetic" if rp.score != es else "inputs"),
                       input_diff=input_diff(t, rp) if t.score != es else {})
            rows.append(row)
        for r in rt.recips:
            if in_scope(r, p) and r.rid not in seen and not m["no_report"] and \
                    (r.rid, p) not in optional:
                m["missing"].append(r.rid)
        months.append(m)
    tot = {k: sum(m[k] for m in months) for k in ("rows", "rating_n", "rating_agree", "score_n",
                                                   "score_exact", "ambiguous", "replay_exact",
                                                   "review_agree", "reasons_agree")}
    tot["engine_reading"] = dict(sum((m["engine_reading"] for m in months), collections.Counter()))
    tot["missing"] = sum(len(m["missing"]) for m in months)
    tot["extra"] = sum(len(m["extra"]) for m in months)
    for m in months:
        m["confusion"] = {f"{a}->{b}": v for (a, b), v in sorted(m["confusion"].items())}
        m["engine_reading"] = dict(m["engine_reading"])
    return dict(council=council, reports=reports, months=months, total=tot,
                confusion={f"{a}->{b}": v for (a, b), v in sorted(conf.items())},
                ambiguous_resolved_by_engine=dict(rt.resolved),
                ambiguous_truth_findings_dropped=dict(rt.dropped),
                engine_rules_without_truth=dict(rt.unscored), rows=rows)


def reason_detail_diff(t: Rating, reas: list) -> list:
    """what an engine reason says that the truth's detail does not (counts, rules, money)"""
    out = []
    for k, pts, d in reas:
        if k in ("high", "medium", "low"):
            x = t.detail[k]
            mine = dict(counted=x["counted"], found=x["found"], rules=x["rules"])
            if mine != d:
                out.append(dict(part=k, truth=mine, engine=d))
        elif k == "evidence":
            x = t.detail[k]
            mine = dict(unevidenced=x["unevidenced"], paid_out=x["paid_out"])
            if mine != d:
                out.append(dict(part=k, truth=mine, engine=d))
    return out


def input_diff(t: Rating, e: Rating) -> dict:
    """where the truth's and the replay's inputs differ, part by part"""
    out = {}
    for sev in ("high", "medium", "low"):
        a, b = set(map(tuple, t.detail[sev]["rule_months"])), \
            set(map(tuple, e.detail[sev]["rule_months"]))
        if a != b:
            out[sev] = dict(truth_only=sorted(a - b), engine_only=sorted(b - a))
    if t.parts["evidence"] != e.parts["evidence"]:
        out["evidence"] = dict(truth=[t.detail["evidence"]["unevidenced"],
                                      t.detail["evidence"]["paid_out"]],
                               engine=[e.detail["evidence"]["unevidenced"],
                                       e.detail["evidence"]["paid_out"]])
    for k in ("surplus", "missing", "gap"):
        if t.detail[k]["months"] != e.detail[k]["months"]:
            out[k] = dict(truth=t.detail[k]["months"], engine=e.detail[k]["months"])
    if t.parts["rising"] != e.parts["rising"]:
        out["rising"] = dict(truth=t.detail["rising"], engine=e.detail["rising"])
    return out


def print_report(res: dict, show: int = 15) -> None:
    print(f"== risk ratings: {res['council']} vs {res['reports']}")
    print(f"{'month':8s} {'rows':>4s} {'rating':>9s} {'score':>9s} {'amb':>3s} {'replay':>9s} "
          f"{'reasons':>9s} {'review':>9s}  truth->engine rr ra rg | ar aa ag | gr ga gg")

    def line(name, m, cm=""):
        n = m["rows"]
        return (f"{name:8s} {n:4d} {m['rating_agree']:4d}/{m['rating_n']:<4d} "
                f"{m['score_exact']:4d}/{m['score_n']:<4d} {m['ambiguous']:3d} "
                f"{m['replay_exact']:4d}/{n:<4d} {m['reasons_agree']:4d}/{m['score_n']:<4d} "
                f"{m['review_agree']:4d}/{n:<4d} {cm}")
    for m in res["months"]:
        c = collections.Counter({tuple(k.split("->")): v for k, v in m["confusion"].items()})
        cm = "              " + " | ".join(" ".join(f"{c[(a, b)]:2d}" for b in RATINGS)
                                          for a in RATINGS)
        note = " (no report)" if m["no_report"] else ""
        if m["missing"]:
            note += f" missing {','.join(m['missing'])}"
        if m["extra"]:
            note += f" extra {','.join(m['extra'])}"
        print(line(m["period"], m, cm + note))
    t = res["total"]
    print(line("TOTAL", t))
    if t["ambiguous"]:
        print(f"   amb: rows whose rising balance docs/risk.md allows two readings of (excluded "
              f"from score, and from rating when it changes it); the engine's reading "
              f"{t['engine_reading']} (A: each month closed above its opening; B: above the "
              f"month before's statement close)")
    print("\n   truth \\ engine " + "".join(f"{x:>7s}" for x in RATINGS))
    c = collections.Counter({tuple(k.split("->")): v for k, v in res["confusion"].items()})
    for a in RATINGS:
        print(f"   {a:15s} " + "".join(f"{c[(a, b)]:7d}" for b in RATINGS))
    if res["ambiguous_resolved_by_engine"] or res["ambiguous_truth_findings_dropped"]:
        print(f"\n   ambiguous finding keys read the engine's way: engine findings counted "
              f"{res['ambiguous_resolved_by_engine']}; truth findings left to the engine "
              f"{res['ambiguous_truth_findings_dropped']}")
    if res["engine_rules_without_truth"]:
        print(f"   engine findings of rules this council has no truth for, counted as the engine "
              f"found them: {res['engine_rules_without_truth']}")
    print("   score, reasons: over rows that are not amb; reasons = the same parts in the same "
          "order, saying the same counts, rules and money")
    print("   replay = docs/risk.md's arithmetic on the engine's own findings and reconciliation;"
          " cause 'inputs' = the replay agrees with the engine (its findings or money differ "
          "from the truth), 'arithmetic' = it does not, 'other reading' = the engine took the "
          "other reading of an amb row")
    dis = [r for r in res["rows"] if r["truth_score"] != r["engine_score"]]
    print(f"\n== score disagreements: {len(dis)} (rating "
          f"{sum(r['truth_rating'] != r['engine_rating'] for r in dis)}; ambiguous "
          f"{sum(bool(r['ambiguous']) for r in dis)}); causes "
          f"{dict(collections.Counter(r['cause'] for r in dis))}")
    for r in dis[:show]:
        parts = ", ".join(f"{k} {r['truth_parts'][k]}/{r['engine_parts'][k]}"
                          for k in r["differing_parts"])
        amb = f" [ambiguous {r['ambiguous']}: other reading {r['truth_alt_score']}]" \
            if r["ambiguous"] else ""
        print(f"   {r['period']} {r['recipient_id']}: truth {r['truth_rating']} {r['truth_score']}"
              f" engine {r['engine_rating']} {r['engine_score']} (replay {r['replay_score']}, "
              f"{r['cause']}){amb}; parts truth/engine: {parts}")
        for k, v in r["input_diff"].items():
            print(f"      {k}: {v}")
    rd = [r for r in res["rows"] if r["truth_reasons"] != r["engine_reasons"]
          or r["reason_detail_diff"]]
    if rd:
        print(f"\n== reasons differ (order or what they say): {len(rd)}")
        for r in rd[:show]:
            print(f"   {r['period']} {r['recipient_id']}: truth {r['truth_reasons']} engine "
                  f"{r['engine_reasons']} {r['reason_detail_diff'] or ''}")
    nd = [r for r in res["rows"] if r["truth_next_review"] != r["engine_next_review"]]
    if nd:
        print(f"\n== next review differs: {len(nd)}")
        for r in nd[:show]:
            print(f"   {r['period']} {r['recipient_id']} {r['truth_rating']}/{r['engine_rating']}"
                  f": truth {r['truth_next_review'] or '(blank)'} engine "
                  f"{r['engine_next_review'] or '(blank)'}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dpaudit.synth.realistic.risk_truth",
                                 description="risk ratings of a realistic council: truth "
                                             "(docs/risk.md) vs an engine run's "
                                             "recommendations.csv")
    ap.add_argument("council")
    ap.add_argument("reports")
    ap.add_argument("--json", help="write every row, part and figure to this file")
    ap.add_argument("--show", type=int, default=15, help="disagreements listed (default 15)")
    a = ap.parse_args(argv)
    res = compare(a.council, a.reports)
    print_report(res, a.show)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
