"""Truth for extended councils (issue 18), by the arithmetic of /work/briefs/defs.md:
AC-CONTRIBUTION-SHORT, the year end's council share, CO-SHARED-PAYEE, CO-DUPLICATE-INVOICE and
CO-PROVIDER-PATTERN.  Card recipients need no rule of their own here: generate/extended.py gives
each money-moving card row the kind its MCC decides (prohibited / household / cash) and the
per-recipient truth of truth.py does the rest.  Nothing here reads the engine.

Every computation leaves a trace (``self.trace``) that __main__ writes to truth/, so a reader can
check each number by hand."""
from __future__ import annotations

import math
import re
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

from . import catalogue as C
from .model import half_up_div, money, month_end, month_of
from .truth import T, Truth

COUNCIL = SimpleNamespace(rid="COUNCIL")
NEW_RULES = ("AC-CONTRIBUTION-SHORT", "CO-SHARED-PAYEE", "CO-DUPLICATE-INVOICE",
             "CO-PROVIDER-PATTERN")
CO = C.COHORT


# ---------------------------------------------------------------------- contributions
def _matches(text: str, word: str):
    """(substring, whole-word) reading of 'text contains word'"""
    text, word = text.upper(), word.upper()
    return word in text, re.search(r"(?<![A-Z0-9])" + re.escape(word) + r"(?![A-Z0-9])",
                                   text) is not None


def in_force(r, d: date) -> bool:
    return any(row.start - timedelta(days=7) <= d and
               (row.end is None or d <= row.end + timedelta(days=31)) for row in r.contributions)


def contribution_credit(r, x) -> bool:
    """defs: a credit that is not a scheduled council payment, whose text contains a policy
    contribution keyword or the holder's / child's surname, made while a contributions row is in
    force (start_date - 7 days .. end_date + 31 days).  Raises when the substring and whole-word
    readings of 'contains' disagree (the generator must not plant such text)."""
    if x.amt <= 0 or x.kind == "council" or not r.contributions:
        return False
    words = list(C.CONTRIBUTION_KEYWORDS) + [r.surname, r.holder.split()[-1]]
    sub = any(_matches(x.desc, w)[0] for w in words)
    whole = any(_matches(x.desc, w)[1] for w in words)
    if sub != whole and in_force(r, x.d):
        raise RuntimeError(f"{r.rid}: {x.desc!r} contains a contribution word only inside a word")
    return whole and in_force(r, x.d)


def weeks_of_funding(surplus: int, annual: int) -> str:
    """defs: surplus / (annual_dp_value / 52), 1 decimal place, half-up"""
    if annual <= 0:
        return ""
    tenths = half_up_div(surplus * 520, annual)
    sign = "-" if tenths < 0 else ""
    tenths = abs(tenths)
    return f"{sign}{tenths // 10}.{tenths % 10}"


def council_share(repayment: int, council_in: int, contributions_in: int) -> int:
    """defs year end: half_up(repayment x council_in / (council_in + contributions_in))"""
    if contributions_in <= 0 or council_in + contributions_in <= 0:
        return repayment
    return half_up_div(repayment * council_in, council_in + contributions_in)


# ---------------------------------------------------------------------- cohort helpers
def norm_ni(s: str) -> str:
    return re.sub(r"\s+", "", s or "").upper()


def norm_name(s: str) -> str:
    return " ".join(re.sub(r"[^A-Z ]", "", (s or "").upper()).split())


def person_of(e) -> str:
    ni = norm_ni(e.ni)
    return f"NI {ni}" if ni else f"NAME {norm_name(e.name)}"


def week_hours(slips):
    """{monday: {account: Fraction hours}}: each payslip's hours spread evenly over the days of
    its period_start..period_end (defs)"""
    out = {}
    for acct, ps, pe, hours in slips:
        n = (pe - ps).days + 1
        per_day = Fraction(str(hours)) / n
        d = ps
        while d <= pe:
            w = d - timedelta(days=d.weekday())
            out.setdefault(w, {}).setdefault(acct, Fraction(0))
            out[w][acct] += per_day
            d += timedelta(days=1)
    return out


def first_digit(pence: int) -> int:
    return int(str(pence // 100)[0])


def benford_chi2(amounts) -> float:
    """defs: chi2 = sum over d=1..9 of (obs_d - exp_d)^2 / exp_d, exp_d = n log10(1 + 1/d)"""
    n = len(amounts)
    obs = [0] * 10
    for a in amounts:
        obs[first_digit(a)] += 1
    chi2 = 0.0
    for d in range(1, 10):
        exp = n * math.log10(1 + 1 / d)
        chi2 += (obs[d] - exp) ** 2 / exp
    return chi2


def canon_supplier(name: str) -> str:
    u = " ".join(name.upper().split())
    for pname, aliases, _, _ in C.PROVIDERS + C.EXT_PROVIDERS:
        if u == pname.upper() or u in (a.upper() for a in aliases):
            return pname
    return u


def norm_invoice(s: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (s or "").upper())


class ExtTruth(Truth):
    def __init__(self, gen, recips, feats):
        super().__init__(gen, recips)
        self.feats = frozenset(feats)
        self.maybe = []  # (recipient, period) of ambiguous CO findings on a named recipient
        self.trace = {k: [] for k in ("contributions", "cohort_accounts", "cohort_weeks",
                                      "cohort_people", "duplicate_invoices", "provider_stats")}

    # ------------------------------------------------------------------ run
    def more_findings(self):
        for r in self.recips:  # a council without contributions.csv has no contributions rows
            self.contribution_short(r)
        # the cohort checks judge every council (defs): their truth is computed for all
        self.shared_payee()
        self.duplicate_invoices()
        self.provider_pattern()

    # ------------------------------------------------------------------ AC-CONTRIBUTION-SHORT
    def contribution_short(self, r):
        if not (r.is_dp and r.contributions):
            return
        from .extended import due_dates
        g = self.g
        credits = [x for x in r.txns if self.observed(r, x) and contribution_credit(r, x)]
        for p in g.periods:
            pe = month_end(date(int(p[:4]), int(p[5:]), 1))
            cutoff = pe - timedelta(days=T["pay_window"])
            dues = [(row.amount, d) for row in r.contributions for d in due_dates(row, cutoff)
                    if d >= g.fy_start]
            due = sum(a for a, _ in dues)
            paid = sum(x.amt for x in credits if g.fy_start <= x.d <= pe)
            short = due - paid
            self.trace["contributions"].append(dict(
                recipient_id=r.rid, period=p, due_dates_counted=len(dues),
                last_due_counted=max((d for _, d in dues), default=""), due_to_date=money(due),
                paid_to_date=money(paid), shortfall=money(max(0, short)),
                finding="yes" if short > 0 else ""))
            if short <= 0:
                continue
            if not self.active(r, p):
                self.amb(p, r, "AC-CONTRIBUTION-SHORT", note="recipient not active this month")
                continue
            self.f(p, r, "AC-CONTRIBUTION-SHORT", None, short, "",
                   note=f"{len(dues)} contribution(s) due {g.fy_start}..{cutoff} = {money(due)}, "
                        f"contribution credits {g.fy_start}..{pe} = {money(paid)}")

    # ------------------------------------------------------------------ CO-SHARED-PAYEE
    def shared_payee(self):
        g = self.g
        emps = {}  # person -> [(r, e)]
        for r in self.recips:
            if not r.is_dp:
                continue
            for e in r.employees:
                emps.setdefault(person_of(e), []).append((r, e))
        plist = sorted(emps)
        for pid in plist:
            for r, e in emps[pid]:
                self.trace["cohort_people"].append(dict(
                    person=pid, recipient_id=r.rid, employee_id=e.eid, name=e.name,
                    ni_number=e.ni, accounts=len({rr.rid for rr, _ in emps[pid]})))
        keys = {}  # (pid, rid, period) -> reasons
        amb_keys = {}
        for pid in plist:
            rows = emps[pid]
            if pid.startswith("NAME ") and any(re.search(r"[^A-Za-z ]", e.name) for _, e in rows):
                raise RuntimeError(f"{pid}: a name without NI with punctuation (two readings)")
            eids = {(r.rid, e.eid) for r, e in rows}
            recs = {r.rid: r for r, _ in rows}
            debits = {}
            for r in recs.values():
                for x in r.txns:
                    if x.amt < 0 and x.kind == "wage" and (r.rid, x.emp) in eids and \
                            self.observed(r, x):
                        k = (r.rid, x.period)
                        debits[k] = debits.get(k, 0) - x.amt
            self._debits = getattr(self, "_debits", {})
            for (rid, p), v in debits.items():
                self._debits[(pid, rid, p)] = v
            # (a) paid from more than co_max_accounts accounts in the period
            for p in g.periods:
                accts = sorted(rid for (rid, q), v in debits.items() if q == p and v > 0)
                if len(recs) > 1:
                    self.trace["cohort_accounts"].append(dict(
                        person=pid, period=p, accounts_paid=len(accts), recipients=";".join(accts),
                        over=("yes" if len(accts) > CO["co_max_accounts"] else "")))
                if len(accts) > CO["co_max_accounts"]:
                    for rid in accts:
                        keys.setdefault((pid, rid, p), []).append(
                            f"paid from {len(accts)} accounts in {p}")
            # (b) more than co_max_weekly_hours in a week across two or more accounts
            slips_all = []
            for r, e in rows:
                for s in r.payslips:
                    if s["employee_id"] == e.eid and month_of(s["pay_date"]) not in r.missing_months:
                        slips_all.append((r.rid, s))
            if len({rid for rid, _ in slips_all}) < 2:
                continue

            def over_keys(upto):
                wk = week_hours([(rid, s["period_start"], s["period_end"], s["hours"])
                                 for rid, s in slips_all if upto is None or s["pay_date"] <= upto])
                out = {}
                for w in sorted(wk):
                    hrs = {a: h for a, h in wk[w].items() if h > 0}
                    tot = sum(hrs.values())
                    if len(hrs) >= 2 and tot > CO["co_max_weekly_hours"]:
                        for p in {month_of(w), month_of(w + timedelta(days=6))}:
                            for a in hrs:
                                out.setdefault((pid, a, p), []).append(
                                    f"week of {w} {float(tot):.2f} h across {len(hrs)} accounts")
                return wk, out

            wk, over = over_keys(None)
            for w in sorted(wk):
                hrs = wk[w]
                if len([h for h in hrs.values() if h > 0]) < 2:
                    continue
                tot = sum(hrs.values())
                self.trace["cohort_weeks"].append(dict(
                    person=pid, week_monday=w.isoformat(),
                    hours=";".join(f"{a}={float(h):.4f}" for a, h in sorted(hrs.items())),
                    total=f"{float(tot):.4f}", exact_total=str(tot),
                    over=("yes" if tot > CO["co_max_weekly_hours"] else "")))
            for k, why in over.items():
                if k[2] not in g.periods:
                    continue
                pe = month_end(date(int(k[2][:4]), int(k[2][5:]), 1))
                _, seen_then = over_keys(pe)
                if k in seen_then or k in keys:
                    keys.setdefault(k, []).extend(why)
                else:  # over only with payslips paid after the period's end
                    amb_keys[k] = why
        for (pid, rid, p), why in sorted(keys.items()):
            r = next(x for x in self.recips if x.rid == rid)
            amt = self._debits.get((pid, rid, p), 0)
            self.f(p, r, "CO-SHARED-PAYEE", None, amt, pid,
                   note=f"{pid}: " + "; ".join(sorted(set(why))))
        for (pid, rid, p), why in sorted(amb_keys.items()):
            r = next(x for x in self.recips if x.rid == rid)
            self.amb(p, r, "CO-SHARED-PAYEE", note=f"{pid}: over 78 h only with payslips paid "
                                                   f"after {p}: " + "; ".join(why))
            self.maybe.append((rid, p))

    # ------------------------------------------------------------------ CO-DUPLICATE-INVOICE
    def duplicate_invoices(self):
        """defs: invoices.csv rows with equal (canonical supplier, normalised invoice_id) in two
        recipients' evidence or in one recipient's evidence in two files/months; the finding is
        on each row after the first, in the month of the inbox folder it arrived in.  Rows are
        ordered by folder month, then invoice date (within one month the folder says nothing
        more); rows of different files tied on both are ambiguous (either may be the first).
        The rows of one file are one sighting."""
        groups = {}
        for r in self.recips:
            if not r.is_dp:
                continue
            for d in r.docs:
                if d.kind != "invoice" or d.folder in r.missing_months:
                    continue
                if d.bad_amount:
                    continue  # DQ-ROW-REJECTED: not evidence
                idn = norm_invoice(d.doc_id)
                if not idn:  # defs REVISED: a blank invoice_id is a rejected row
                    raise RuntimeError(f"{r.rid}: an invoice with a blank invoice_id is planted")
                groups.setdefault((canon_supplier(d.supplier), idn), []).append(
                    (d.folder, d.d, r.rid, r, d))
        for k in sorted(groups):
            rows = sorted(groups[k], key=lambda x: (x[0], x[1], x[2]))
            if len({(x[2], x[0]) for x in rows}) < 2:
                continue  # one file only
            for i, (folder, dd, rid, r, d) in enumerate(rows):
                other = [e for e in rows if (e[2], e[0]) != (rid, folder)]
                before = [e for e in other if (e[0], e[1]) < (folder, dd)]
                tied = [e for e in other if (e[0], e[1]) == (folder, dd)]
                flag = "yes" if before else "tie" if tied else ""
                self.trace["duplicate_invoices"].append(dict(
                    supplier=k[0], invoice_key=k[1], recipient_id=rid, folder=folder,
                    invoice_id=d.doc_id, supplier_written=d.supplier, invoice_date=dd.isoformat(),
                    amount=money(d.amount), flagged=flag))
                if before:
                    first = before[0]
                    self.f(folder, r, "CO-DUPLICATE-INVOICE", None, d.amount, k[0],
                           note=f"invoice {d.doc_id!r} of {k[0]} {dd} {money(d.amount)} already "
                                f"in {first[2]}'s evidence ({first[0]}, {first[4].doc_id!r})")
                elif tied:
                    self.amb(folder, r, "CO-DUPLICATE-INVOICE", amount=d.amount,
                             note=f"{d.doc_id!r}: the same invoice in another file of the same "
                                  f"month and date ({', '.join(e[2] for e in tied)}): which is "
                                  "the first is not fixed")
                    self.maybe.append((rid, folder))

    # ------------------------------------------------------------------ CO-PROVIDER-PATTERN
    def provider_pattern(self):
        """defs REVISED: sample(M) = debits >= 10.00 to the provider from every account, FY start
        .. M end; Benford applies when n >= 60 and greatest >= 100 x least, fails when chi2 >
        20.09; round sums fail when n >= 20 and half or more are whole multiples of 50.00.  Raised
        once a financial year, in the first period whose sample fails."""
        g = self.g
        provs = [p[0] for p in C.PROVIDERS + C.EXT_PROVIDERS]
        debits = {p: [] for p in provs}
        for r in self.recips:
            if not r.is_dp:
                continue
            for x in r.txns:
                if x.amt <= -CO["co_min_amount"] and x.payee in debits and \
                        self.observed(r, x) and g.fy_start <= x.d <= g.fy_end:
                    debits[x.payee].append((x.d, -x.amt))
        chi_thr = float(CO["co_benford_chi2"])
        for prov in provs:
            raised = False
            unsure = None  # first period whose failing is a question of rounding
            for p in g.periods:
                pe = month_end(date(int(p[:4]), int(p[5:]), 1))
                amts = [a for d, a in debits[prov] if d <= pe]
                n = len(amts)
                if n == 0:
                    continue
                chi2 = benford_chi2(amts)
                n_round = sum(1 for a in amts if a % CO["co_round_unit"] == 0)
                spread = max(amts) >= CO["co_benford_min_span"] * min(amts)
                applies = n >= CO["co_benford_min_sample"] and spread
                b_fail = applies and chi2 > chi_thr
                r_fail = n >= CO["co_round_min_sample"] and \
                    Fraction(n_round, n) >= Fraction(CO["co_round_share"])
                total = sum(amts)
                near = applies and abs(chi2 - chi_thr) < 0.01 and not r_fail
                self.trace["provider_stats"].append(dict(
                    provider=prov, period=p, n=n, total=money(total), least=money(min(amts)),
                    greatest=money(max(amts)), benford_applies="yes" if applies else "",
                    chi2=f"{chi2:.4f}", benford_fails="yes" if b_fail else "", round_n=n_round,
                    round_share=f"{n_round / n:.4f}", round_fails="yes" if r_fail else "",
                    fails="yes" if b_fail or r_fail else "",
                    finding="" if raised else "yes" if (b_fail or r_fail) and not near and
                    unsure is None else "ambiguous" if near or (unsure and (b_fail or r_fail))
                    else ""))
                if raised:
                    continue
                if near:
                    unsure = unsure or p
                    self.ambiguous.append(dict(period=p, recipient_id="COUNCIL",
                                               rule_id="CO-PROVIDER-PATTERN", txn_date="",
                                               amount="", line_id="",
                                               note=f"{prov}: chi2 {chi2:.4f} at the threshold"))
                    continue
                if not (b_fail or r_fail):
                    continue
                raised = True
                if unsure:  # whether an earlier month already failed is a question of rounding
                    self.ambiguous.append(dict(period=p, recipient_id="COUNCIL",
                                               rule_id="CO-PROVIDER-PATTERN", txn_date="",
                                               amount=money(total), line_id="",
                                               note=f"{prov}: chi2 at the threshold in {unsure}"))
                    continue
                why = []
                if b_fail:
                    why.append(f"Benford chi2 {chi2:.2f} > {CO['co_benford_chi2']} (n={n}, "
                               f"{money(min(amts))}..{money(max(amts))})")
                if r_fail:
                    why.append(f"{n_round} of {n} are whole multiples of "
                               f"{money(CO['co_round_unit'])}")
                self.f(p, COUNCIL, "CO-PROVIDER-PATTERN", None, total, prov,
                       note=f"{prov}: " + "; ".join(why) + " (first failing month of the year)")

    # ------------------------------------------------------------------ recommendations
    def recommendations(self, r):
        """defs: CO-SHARED-PAYEE and CO-DUPLICATE-INVOICE are REVIEW grounds on the recipient
        they name (they are medium findings like any other; the base arithmetic counts them);
        CO-PROVIDER-PATTERN is on COUNCIL and makes no row.  Where a medium or high finding
        that is no repayment ground is itself ambiguous (which of two tied invoice rows is the
        first, spend a few pence from the over-budget threshold, ...) and NONE would become
        REVIEW with it, the recommendation is ambiguous."""
        from .truth import REPAY_RULES, SEV
        n0 = len(self.recs)
        super().recommendations(r)
        maybe = {p for rid, p in self.maybe if rid == r.rid}
        maybe |= {a["period"] for a in self.ambiguous if a["recipient_id"] == r.rid and
                  a["period"] and SEV.get(a["rule_id"]) in ("medium", "high") and
                  a["rule_id"] not in REPAY_RULES | {"AC-SURPLUS"}}
        for b in self.recs[n0:]:
            if b["period"] in maybe and b["action"] == "NONE":
                b["ambiguous"] = "yes"
                b["note"] += " (REVIEW if an ambiguous finding is raised here)"

    # ------------------------------------------------------------------ year end
    def year_end_row(self, r):
        n0 = len(self.year_end)
        super().year_end_row(r)
        if len(self.year_end) == n0:
            return
        y = self.year_end[-1]
        g = self.g

        def pence(s):
            return int(Decimal(s) * 100)

        council_in = sum(x.amt for x in r.txns if x.kind == "council" and self.observed(r, x)
                         and g.fy_start <= x.d <= g.fy_end)
        contrib_in = sum(x.amt for x in r.txns if self.observed(r, x) and
                         g.fy_start <= x.d <= g.fy_end and contribution_credit(r, x)) \
            if "contributions" in self.feats else 0
        rep = pence(y["repayment"])
        y["repayment"] = money(council_share(rep, council_in, contrib_in))
        y["repayment_before_split"] = money(rep)
        y["council_in"] = money(council_in)
        y["contributions_in"] = money(contrib_in)
        y["surplus_weeks"] = weeks_of_funding(pence(y["surplus"]), pence(y["annual_dp_value"]))


# ---------------------------------------------------------------------- truth files
CO_INTERPRETATIONS = [
    "(cohort, every council) CO-SHARED-PAYEE amount = the recipient's wage debits to the person "
    "in the period (0.00 if none). A week over 78 hours that only payslips paid after the "
    "period end reveal is ambiguous for that period.",
    "(cohort, every council) CO-DUPLICATE-INVOICE: rows of a (canonical supplier, normalised "
    "invoice_id) are ordered by the month folder they arrived in, then invoice_date; each row "
    "in another file after the first is flagged in its folder's month (txn_date blank). Rows "
    "of two files tied on folder and date are ambiguous (which is the first is not fixed). "
    "The default councils' random invoice numbers collide now and then: those are real "
    "duplicates by the defs.",
    "(cohort, every council) CO-PROVIDER-PATTERN: 'debits to the provider' = debits the "
    "generator made to it (any name the statement shows), observed, >= 10.00, dated in the "
    "year, from every DP account including card rows that moved money; recipient COUNCIL; "
    "amount = the sample's total; raised once a year, in the first month whose sample fails "
    "(Benford only when n >= 60 and greatest >= 100 x least).",
    "(cohort, every council) CO-SHARED-PAYEE and CO-DUPLICATE-INVOICE are REVIEW grounds like "
    "any medium finding. A NONE that an ambiguous medium or high finding (no repayment ground) "
    "would make REVIEW is ambiguous.",
]

EXT_INTERPRETATIONS = [
    "(extended) Prepaid cards: a money-moving row is a `settled` row, or an `authorised` row "
    "whose reference has no `settled` row in the same file; its date is that row's date (the "
    "settlement's). An authorisation and its settlement are always in one calendar month here, "
    "and reversed rows carry their own reference (an authorised row reversed under the same "
    "reference would count as money moved by the defs' letter, so none is generated).",
    "(extended) A card row's MCC decides before any keyword: BOTTLE BAR AND SHOP with MCC 5411 "
    "is SP-HOUSEHOLD, not SP-PROHIBITED. Card rows with MCCs in no list get no SP finding from "
    "the MCC (their merchant names carry no policy keyword). Loads naming the council are "
    "council payments; the family's loads are contributions.",
    "(extended) AC-CONTRIBUTION-SHORT is judged for every period of the year in which a "
    "contributions row's due dates fall; due dates before 1 April do not count, a payment "
    "dated in the year does (the defs' cumulative financial-year sums).",
    "(extended) Year end: council_in = council payments credited in the year (card loads "
    "included), contributions_in = contribution credits in the year; repayment (the contract "
    "column) is the council's share; repayment_before_split, council_in, contributions_in and "
    "surplus_weeks follow at the end.",
]

CO_README = [
    "## Cohort checks (every council)",
    "",
    "- `cohort_people.csv`: every employees.csv row and the person it is (NI number, else name).",
    "- `cohort_accounts.csv`: per person paid from two or more accounts and period, the accounts.",
    "- `cohort_weeks.csv`: per shared person and Monday-Sunday week, the hours each account's",
    "  payslips spread into it (exact fraction and decimal) and the total.",
    "- `duplicate_invoices.csv`: every invoice row whose (canonical supplier, normalised invoice",
    "  id) is in two or more files, in order; `flagged` yes = CO-DUPLICATE-INVOICE, tie =",
    "  ambiguous.",
    "- `provider_stats.csv`: per provider and period, the sample size, total, least, greatest,",
    "  whether Benford applies, chi2, round-sum share, which test fails, and `finding` (the",
    "  first failing month of the year: CO-PROVIDER-PATTERN on COUNCIL).",
]

EXT_README = [
    "## Extended council (issue 18)",
    "",
    "Recipients after the first `n` are the extended ones (see `extended.json`). Files that",
    "explain the new truth, one row per computed number:",
    "- `extended.json`: features, card / contribution / extended recipients, policy defaults used.",
    "- `contributions_trace.csv`: per recipient and period, due to date (due dates up to period",
    "  end - 5 days), contribution credits to date, shortfall = AC-CONTRIBUTION-SHORT amount.",
    "- `year_end.csv` extra columns: repayment before the split, council_in, contributions_in,",
    "  surplus in weeks of funding.",
]


def write_traces(tdir, truth):
    """the trace files of every council (the cohort checks judge every council)"""
    import os

    from .writers import csv_text, write
    for name, rows in truth.trace.items():
        if not rows:
            continue
        cols = list(rows[0])
        write(os.path.join(tdir, f"{name}_trace.csv" if name == "contributions" else f"{name}.csv"),
              csv_text(cols, [[x[c] for c in cols] for x in rows]))


def write_extended_truth(tdir, gen, recips, truth, feats, n):
    import json
    import os

    from .writers import csv_text, write
    ext = recips[n:]
    cards = [r.rid for r in recips if r.is_card]
    contrib = [r.rid for r in recips if r.contributions]
    info = {
        "features": sorted(feats),
        "new_rules": list(NEW_RULES),
        "default_recipients": n,
        "extended_recipients": [dict(recipient_id=r.rid, tags=sorted(r.tags),
                                     format=r.fmt) for r in ext],
        "card_recipients": cards,
        "contribution_recipients": contrib,
        "policy_defaults": {**{k: (v if not isinstance(v, int) or k.endswith(("sample", "accounts",
                                                                               "hours", "span"))
                                   else money(v)) for k, v in C.COHORT.items()},
                            "contribution_keywords": C.CONTRIBUTION_KEYWORDS,
                            "payment_window_days": T["pay_window"],
                            "prohibited_mcc": C.PROHIBITED_MCC, "household_mcc": C.HOUSEHOLD_MCC,
                            "cash_mcc": C.CASH_MCC},
        "keys": "AC-CONTRIBUTION-SHORT, CO-*: (rule, period, recipient_id, amount); card "
                "findings like any transaction finding (rule, recipient_id, txn_date, amount)",
    }
    write(os.path.join(tdir, "extended.json"), json.dumps(info, indent=1) + "\n")
