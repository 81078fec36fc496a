"""Score an engine's reports against the truth of a realistic council.

    python -m dpaudit.synth.realistic.score OUT REPORTS [--json FILE] [--show N]

stdlib only; imports nothing from dpaudit.
Keys: transaction findings (recipient, rule, txn_date, amount); state findings (period,
recipient, rule[, line_id]); AC-PAYMENT-MISSING (recipient, rule, amount); the issue-18 rules
AC-CONTRIBUTION-SHORT and CO-* (rule, period, recipient, amount). Multisets: two
identical debits on one day are two keys. Keys listed in truth/ambiguous.csv are dropped from
both sides before counting (blank column = any value).

A council generated with --extended has truth/extended.json: its card recipients are also scored
on their own (the MCC-driven SP rules), and the year end's council share is checked for the
recipients who paid contributions.  The CO-* rules are scored on every council (their truth is
computed for the default councils too)."""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import re
import sys
from decimal import Decimal, InvalidOperation

STATE = {"SP-OVER-BUDGET", "AC-SURPLUS", "AC-LOW-CONTINGENCY", "DQ-STATEMENT-MISSING",
         "DQ-STATEMENT-GAP", "RV-REVIEW-DUE", "PY-HMRC-UNPAID", "AC-OVERDRAWN",
         # per-period data-quality findings whose date/amount the spec does not fix
         "DQ-BALANCE-BREAK", "DQ-WRONG-ACCOUNT", "DQ-DUPLICATE-FILE", "DQ-PLAN-INVALID",
         "DQ-ROW-REJECTED"}
LINE_KEYED = {"SP-OVER-BUDGET", "DQ-PLAN-INVALID"}
FAMILIES = ["DQ", "EV", "SP", "AC", "PY", "RV", "CO"]
# issue 18: keyed (rule, period, recipient, amount)
NEW_KEYED = {"AC-CONTRIBUTION-SHORT", "CO-SHARED-PAYEE", "CO-DUPLICATE-INVOICE",
             "CO-PROVIDER-PATTERN"}
CARD_SP = ("SP-PROHIBITED", "SP-HOUSEHOLD", "SP-CASH")


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(fh)]


def pence(s):
    s = (s or "").replace("£", "").replace(",", "").strip()
    if not s:
        return None
    try:
        return int((abs(Decimal(s)) * 100).quantize(Decimal(1)))
    except InvalidOperation:
        return None


def iso(s):
    s = (s or "").strip()[:10]
    m = re.match(r"(\d{2})/(\d{2})/(\d{4})", s)
    return f"{m.group(3)}-{m.group(2)}-{m.group(1)}" if m else s


def key(row):
    rule = row["rule_id"]
    rid = row["recipient_id"]
    if rule == "AC-PAYMENT-MISSING":
        return (rule, rid, pence(row.get("amount")))
    if rule in NEW_KEYED:
        return (rule, row["period"], rid, pence(row.get("amount")) or 0)
    if rule in STATE:
        k = (rule, row["period"], rid)
        return k + ((row.get("line_id", ""),) if rule in LINE_KEYED else ())
    return (rule, rid, iso(row.get("txn_date")), pence(row.get("amount")), "txn")


def amb_match(a, row):
    for c in ("period", "recipient_id", "rule_id", "line_id"):
        if a.get(c) and a[c] != row.get(c, ""):
            return False
    if a.get("txn_date") and a["txn_date"] != iso(row.get("txn_date")):
        return False
    if a.get("amount") and pence(a["amount"]) != pence(row.get("amount")):
        return False
    return True


def family(rule):
    return rule.split("-")[0]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dpaudit.synth.realistic.score")
    ap.add_argument("out")
    ap.add_argument("reports")
    ap.add_argument("--json")
    ap.add_argument("--show", type=int, default=10)
    a = ap.parse_args(argv)
    tdir = os.path.join(a.out, "truth")
    truth = read_csv(os.path.join(tdir, "findings.csv"))
    amb = read_csv(os.path.join(tdir, "ambiguous.csv")) or []
    periods = sorted({r["period"] for r in read_csv(os.path.join(tdir, "recommendations.csv"))})
    eng = []
    missing_reports = []
    for p in periods:
        rows = read_csv(os.path.join(a.reports, p, "exceptions.csv"))
        if rows is None:
            missing_reports.append(p)
            continue
        eng += rows
    ext = None
    if os.path.exists(os.path.join(tdir, "extended.json")):
        with open(os.path.join(tdir, "extended.json"), encoding="utf-8") as fh:
            ext = json.load(fh)
    feats = set(ext["features"]) if ext else set()
    amb_by_rr = collections.defaultdict(list)
    for x in amb:
        amb_by_rr[(x["recipient_id"], x["rule_id"])].append(x)

    def is_amb(row):
        return any(amb_match(x, row) for x in amb_by_rr.get((row["recipient_id"], row["rule_id"]), []))

    t_rows = [r for r in truth if not is_amb(r)]
    e_rows = [r for r in eng if not is_amb(r)]
    dropped = (len(truth) - len(t_rows), len(eng) - len(e_rows))
    T = collections.Counter(key(r) for r in t_rows)
    E = collections.Counter(key(r) for r in e_rows)
    both = T & E
    t_note = {}
    for r in t_rows:
        t_note.setdefault(key(r), r.get("note", ""))
    e_msg = {}
    for r in e_rows:
        e_msg.setdefault(key(r), f"{r.get('counterparty', '')} | {r.get('message', '')}"[:160])
    def rule_of(k):
        return k[0]

    per = collections.defaultdict(lambda: [0, 0, 0])
    for k, n in T.items():
        per[rule_of(k)][0] += n
    for k, n in E.items():
        per[rule_of(k)][1] += n
    for k, n in both.items():
        per[rule_of(k)][2] += n
    out = {"dropped_ambiguous": {"truth": dropped[0], "engine": dropped[1]},
           "missing_reports": missing_reports, "rules": {}, "families": {}}

    def pr(t, f, b):
        rec = b / t if t else None
        prec = b / f if f else None
        return rec, prec

    def fmt(x):
        return "  -  " if x is None else f"{x:5.2f}"

    print(f"== findings (ambiguous keys dropped: truth {dropped[0]}, engine {dropped[1]})")
    if missing_reports:
        print(f"   reports missing for {missing_reports}")
    print(f"{'rule':24s} {'truth':>6s} {'found':>6s} {'both':>6s} {'recall':>6s} {'prec':>6s}")
    fam = collections.defaultdict(lambda: [0, 0, 0])
    for rule in sorted(per):
        t, f, b = per[rule]
        rec, prec = pr(t, f, b)
        out["rules"][rule] = dict(truth=t, found=f, both=b, recall=rec, precision=prec)
        print(f"{rule:24s} {t:6d} {f:6d} {b:6d} {fmt(rec):>6s} {fmt(prec):>6s}")
        for i, v in enumerate((t, f, b)):
            fam[family(rule)][i] += v
    print()
    tot = [0, 0, 0]
    for fm in FAMILIES:
        t, f, b = fam[fm]
        rec, prec = pr(t, f, b)
        out["families"][fm] = dict(truth=t, found=f, both=b, recall=rec, precision=prec)
        print(f"{fm:24s} {t:6d} {f:6d} {b:6d} {fmt(rec):>6s} {fmt(prec):>6s}")
        for i, v in enumerate((t, f, b)):
            tot[i] += v
    rec, prec = pr(*tot)
    out["total"] = dict(truth=tot[0], found=tot[1], both=tot[2], recall=rec, precision=prec)
    print(f"{'TOTAL':24s} {tot[0]:6d} {tot[1]:6d} {tot[2]:6d} {fmt(rec):>6s} {fmt(prec):>6s}")

    # misses and false positives per rule
    miss = T - E
    fp = E - T
    out["misses"], out["false_positives"] = {}, {}
    loose_e = collections.Counter(k[:3] for k in E if k[-1] == "txn")
    loose_t = collections.Counter(k[:3] for k in T if k[-1] == "txn")
    for rule in sorted(per):
        ms = [k for k in sorted(miss, key=str) if rule_of(k) == rule]
        fs = [k for k in sorted(fp, key=str) if rule_of(k) == rule]
        out["misses"][rule] = [dict(key=list(k), n=miss[k], note=t_note.get(k, "")) for k in ms]
        out["false_positives"][rule] = [dict(key=list(k), n=fp[k], message=e_msg.get(k, ""))
                                        for k in fs]
        if not ms and not fs:
            continue
        print(f"\n-- {rule}: {sum(miss[k] for k in ms)} missed, {sum(fp[k] for k in fs)} false positive")
        for k in ms[:a.show]:
            hint = " [engine has this date with another amount]" if k[-1] == "txn" and \
                loose_e.get(k[:3]) else ""
            print(f"   MISS {k} x{miss[k]}: {t_note.get(k, '')}{hint}")
        for k in fs[:a.show]:
            hint = " [truth has this date with another amount]" if k[-1] == "txn" and \
                loose_t.get(k[:3]) else ""
            print(f"   FP   {k} x{fp[k]}: {e_msg.get(k, '')}{hint}")

    # prepaid-card recipients on their own (issue 18)
    cards = set(ext.get("card_recipients", [])) if ext else set()
    if cards:
        TC = collections.Counter(key(r) for r in t_rows if r["recipient_id"] in cards)
        EC = collections.Counter(key(r) for r in e_rows if r["recipient_id"] in cards)
        BC = TC & EC
        cper = collections.defaultdict(lambda: [0, 0, 0])
        for i, C_ in enumerate((TC, EC, BC)):
            for k, n in C_.items():
                cper[rule_of(k)][i] += n
        print(f"\n== prepaid-card recipients ({len(cards)}); * = decided by the MCC")
        print(f"{'rule':24s} {'truth':>6s} {'found':>6s} {'both':>6s} {'recall':>6s} {'prec':>6s}")
        out["card_recipients"] = {}
        for rule in sorted(cper):
            t, f, b = cper[rule]
            rec, prec = pr(t, f, b)
            out["card_recipients"][rule] = dict(truth=t, found=f, both=b, recall=rec,
                                                precision=prec)
            mark = "*" if rule in CARD_SP else " "
            print(f"{rule + mark:24s} {t:6d} {f:6d} {b:6d} {fmt(rec):>6s} {fmt(prec):>6s}")

    # year end
    ty = read_csv(os.path.join(tdir, "year_end.csv")) or []
    fy = None
    for d in sorted(os.listdir(a.reports)) if os.path.isdir(a.reports) else []:
        if d.startswith("FY"):
            fy = d
    ey = read_csv(os.path.join(a.reports, fy, "year_end.csv")) if fy else None
    cols = ["annual_dp_value", "closing_balance", "committed", "surplus", "carry_forward",
            "repayment"]
    print("\n== year end")
    ye = dict(total=len(ty), exact=0, differing=[])
    if ey is None:
        print("   no year_end.csv in reports")
    else:
        em = {r["recipient_id"]: r for r in ey}
        for r in ty:
            e = em.get(r["recipient_id"])
            if e is None:
                ye["differing"].append(dict(recipient_id=r["recipient_id"], missing=True))
                continue
            diff = {c: (r[c], e.get(c, "")) for c in cols if pence(r[c]) != pence(e.get(c, ""))
                    or (r[c].startswith("-") != e.get(c, "").startswith("-") and pence(r[c]))}
            if diff:
                ye["differing"].append(dict(recipient_id=r["recipient_id"], diff=diff))
            else:
                ye["exact"] += 1
        extra = sorted(set(em) - {r["recipient_id"] for r in ty})
        ye["extra"] = extra
        print(f"   exact to the penny: {ye['exact']} / {ye['total']}" +
              (f"; engine rows not in truth: {extra}" if extra else ""))
        for d in ye["differing"]:
            if d.get("missing"):
                print(f"   {d['recipient_id']}: missing from engine")
            else:
                print(f"   {d['recipient_id']}: " + ", ".join(f"{c} truth {t} engine {e}"
                                                           for c, (t, e) in d["diff"].items()))
    out["year_end"] = ye
    # the council's share of a repayment when the family paid contributions (issue 18)
    if ext and "contributions" in feats:
        split = dict(total=0, exact=0, differing=[], weeks_total=0, weeks_exact=0,
                     weeks_column=None)
        em = {r["recipient_id"]: r for r in (ey or [])}
        wcol = next((c for c in (ey[0] if ey else {}) if "week" in c), None)
        split["weeks_column"] = wcol
        for r in ty:
            if pence(r.get("contributions_in")) in (None, 0):
                continue
            split["total"] += 1
            e = em.get(r["recipient_id"], {})
            if pence(e.get("repayment")) == pence(r["repayment"]):
                split["exact"] += 1
            else:
                split["differing"].append(dict(recipient_id=r["recipient_id"],
                                               truth=r["repayment"],
                                               engine=e.get("repayment", "(no row)"),
                                               before_split=r["repayment_before_split"],
                                               council_in=r["council_in"],
                                               contributions_in=r["contributions_in"]))
        for r in ty:
            if wcol and r.get("surplus_weeks"):
                split["weeks_total"] += 1
                ev_ = (em.get(r["recipient_id"], {}).get(wcol) or "").split(" ")[0]
                try:
                    if Decimal(ev_) == Decimal(r["surplus_weeks"]):
                        split["weeks_exact"] += 1
                except InvalidOperation:
                    pass
        print(f"\n== year end, council share with contributions: exact {split['exact']} / "
              f"{split['total']}" + (f"; surplus weeks ({wcol}) exact {split['weeks_exact']} / "
                                     f"{split['weeks_total']}" if wcol else
                                     "; no surplus-weeks column in the engine's year_end.csv"))
        for d in split["differing"]:
            print(f"   {d['recipient_id']}: truth {d['truth']} (of {d['before_split']}, council "
                  f"{d['council_in']}, contributions {d['contributions_in']}) engine {d['engine']}")
        out["year_end_split"] = split

    # recommendations
    tr = read_csv(os.path.join(tdir, "recommendations.csv")) or []
    er = {}
    for p in periods:
        for r in read_csv(os.path.join(a.reports, p, "recommendations.csv")) or []:
            er[(r["recipient_id"], r["period"] or p)] = r
    conf = collections.Counter()
    agree = total = amt_ok = amt_n = 0
    disagree = []
    missing_rec = []
    skipped = 0
    for r in tr:
        k = (r["recipient_id"], r["period"])
        if r.get("ambiguous") == "yes":
            skipped += 1
            continue
        e = er.get(k)
        if e is None:
            if r.get("optional") != "yes":
                missing_rec.append(k)
            continue
        total += 1
        ea = e.get("action", "").upper()
        conf[(r["action"], ea)] += 1
        if ea == r["action"]:
            agree += 1
            if ea == "REPAY":
                amt_n += 1
                if pence(e.get("amount")) == pence(r["amount"]):
                    amt_ok += 1
                else:
                    disagree.append((k, r["action"], r["amount"], ea, e.get("amount"), r.get("note", ""),
                                     e.get("grounds", "")))
        else:
            disagree.append((k, r["action"], r["amount"], ea, e.get("amount"), r.get("note", ""),
                             e.get("grounds", "")))
    extra_rec = sorted(set(er) - {(r["recipient_id"], r["period"]) for r in tr})
    print(f"\n== recommendations: action agreement {agree} / {total} "
          f"(ambiguous skipped {skipped}; truth rows with no engine row {len(missing_rec)}; "
          f"engine rows not in truth {len(extra_rec)}); REPAY amount exact {amt_ok} / {amt_n}")
    acts = ["NONE", "REVIEW", "REPAY", "STOP"]
    print("   truth \\ engine " + "".join(f"{x:>8s}" for x in acts + ["other"]))
    for ta in acts:
        row = [conf[(ta, ea)] for ea in acts]
        other = sum(v for (t_, e_), v in conf.items() if t_ == ta and e_ not in acts)
        print(f"   {ta:15s} " + "".join(f"{v:8d}" for v in row + [other]))
    for d in disagree[:a.show * 2]:
        print(f"   {d[0]}: truth {d[1]} {d[2]} engine {d[3]} {d[4]}  [{d[5]}] engine grounds: {d[6]}")
    if missing_rec[:5]:
        print(f"   missing e.g. {missing_rec[:5]}")
    if extra_rec[:5]:
        print(f"   extra e.g. {extra_rec[:5]}")
    out["recommendations"] = dict(agree=agree, total=total, skipped_ambiguous=skipped,
                                  repay_amount_exact=amt_ok, repay_n=amt_n,
                                  confusion={f"{t}->{e}": v for (t, e), v in conf.items()},
                                  disagreements=[dict(key=list(d[0]), truth=d[1], truth_amount=d[2],
                                                      engine=d[3], engine_amount=d[4], note=d[5],
                                                      engine_grounds=d[6]) for d in disagree],
                                  missing=[list(k) for k in missing_rec],
                                  extra=[list(k) for k in extra_rec])
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
