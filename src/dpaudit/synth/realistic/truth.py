"""The truth: findings, recommendations and year end, computed from what was simulated by the
arithmetic of shared/spec/rules.md (defaults) and the documented choices of docs/decisions.md.
Nothing here reads the engine."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from datetime import date, timedelta

from .model import add_months, half_up_div, month_end, month_of, money

SEV = {"DQ-STATEMENT-MISSING": "high", "DQ-STATEMENT-GAP": "medium", "DQ-BALANCE-BREAK": "high",
       "DQ-WRONG-ACCOUNT": "high", "DQ-ROW-REJECTED": "medium", "DQ-DUPLICATE-FILE": "info",
       "DQ-PLAN-INVALID": "medium", "EV-NO-EVIDENCE": "medium", "EV-AMOUNT-MISMATCH": "medium",
       "EV-ORPHAN-RECEIPT": "low", "SP-PROHIBITED": "high", "SP-HOUSEHOLD": "high",
       "SP-NOT-IN-PLAN": "medium", "SP-OVER-BUDGET": "medium", "SP-SCHOOL-CONSENT": "high",
       "SP-CASH": "medium", "SP-TRANSFER-OUT": "high", "SP-DUPLICATE-PAYMENT": "medium",
       "SP-AFTER-END": "high", "AC-NON-COUNCIL-CREDIT": "medium", "AC-PAYMENT-MISSING": "medium",
       "AC-OVERDRAWN": "medium", "AC-LOW-CONTINGENCY": "low", "AC-SURPLUS": "medium",
       "PY-NO-PAYSLIP": "high", "PY-NET-MISMATCH": "medium", "PY-HMRC-UNPAID": "high",
       "PY-NO-INSURANCE": "high", "PY-DBS-MISSING": "high", "PY-BELOW-MIN-WAGE": "high",
       "PY-UNKNOWN-PAYEE": "medium", "RV-REVIEW-DUE": "info",
       # issue 18 (extended councils only)
       "AC-CONTRIBUTION-SHORT": "medium", "CO-SHARED-PAYEE": "medium",
       "CO-DUPLICATE-INVOICE": "medium", "CO-PROVIDER-PATTERN": "low"}
REPAY_RULES = {"SP-PROHIBITED", "SP-HOUSEHOLD", "SP-TRANSFER-OUT", "SP-AFTER-END", "SP-NOT-IN-PLAN"}
MISUSE_HIGH = {"SP-PROHIBITED", "SP-HOUSEHOLD", "SP-TRANSFER-OUT", "SP-AFTER-END"}
MIN_WAGE = [(date(2024, 4, 1), (1144, 860, 640)), (date(2025, 4, 1), (1221, 1000, 755)),
            (date(2026, 4, 1), (1271, 1085, 800))]
T = dict(match_window_days=7, overspend_pct=10, cmin=5, cmax=10, surplus_weeks=8, grace=28,
         stop_after=2, stop_amount=100000, dbs_years=3, hmrc_day=22, pay_window=5)


def age_on(dob: date, d: date) -> int:
    return d.year - dob.year - ((d.month, d.day) < (dob.month, dob.day))


def min_wage(dob, d):
    rates = None
    for since, r in MIN_WAGE:
        if d >= since:
            rates = r
    a = age_on(dob, d)
    return rates[0] if a >= 21 else rates[1] if a >= 18 else rates[2]


class Truth:
    def __init__(self, gen, recips):
        self.g = gen
        self.recips = recips
        self.findings = []  # dicts
        self.ambiguous = []  # dicts (blank = any)
        self.recs = []
        self.year_end = []

    # ------------------------------------------------------------------ helpers
    def f(self, period, r, rule, d=None, amount=None, cp="", line="", note=""):
        self.findings.append(dict(period=period, recipient_id=r.rid, rule_id=rule,
                                  txn_date=d.isoformat() if d else "",
                                  amount=money(amount) if amount is not None else "",
                                  counterparty=cp, line_id=line, note=note, _amt=amount))

    def amb(self, period, r, rule, d=None, amount=None, line="", note=""):
        self.ambiguous.append(dict(period=period or "", recipient_id=r.rid, rule_id=rule,
                                   txn_date=d.isoformat() if d else "",
                                   amount=money(amount) if amount is not None else "",
                                   line_id=line, note=note))

    def active(self, r, p) -> bool:
        ps = date(int(p[:4]), int(p[5:]), 1)
        pe = month_end(ps)
        if not r.is_dp:
            return False
        if r.start and r.start > pe:
            return False
        if r.status == "stopped" and r.end is None:
            return False
        if r.end and r.end < ps:
            return False
        return True

    def in_scope(self, r, p) -> bool:
        """recipient-periods that get a recommendation row in the truth"""
        ps = date(int(p[:4]), int(p[5:]), 1)
        return r.is_dp and not (r.start and r.start > month_end(ps))

    def lines_in_force(self, r, cat, d):
        return [l for l in r.lines if l.category == cat and l.mgmt != "notional" and
                not l.invalid and l.vfrom <= d <= l.vto]

    def after_end(self, r, x):
        if x.kind == "fee":
            return False
        if r.status == "stopped" and r.end is None:
            return True
        return r.end is not None and x.d > r.end

    def observed(self, r, x):
        return x.observed and month_of(x.d) not in r.missing_months

    # ------------------------------------------------------------------ transactions
    def spend_rule(self, r, x):
        if self.after_end(r, x):
            return "SP-AFTER-END"
        k = {"prohibited": "SP-PROHIBITED", "transfer": "SP-TRANSFER-OUT",
             "household": "SP-HOUSEHOLD", "cash": "SP-CASH"}.get(x.kind)
        if k:
            return k
        if x.cat and x.cat != "bank_charges":
            lines = self.lines_in_force(r, x.cat, x.d)
            if lines:
                if any(l.school and (l.consent is None or l.consent > x.d) for l in lines):
                    return "SP-SCHOOL-CONSENT"
                return None
            return "SP-NOT-IN-PLAN"
        return None

    def has_cover(self, r, d):
        return any(s <= d <= e and el == "yes" for (_, _, s, e, el) in r.insurance)

    def txn_findings(self, r):
        emps = {e.eid: e for e in r.employees}
        slips = {(s["employee_id"], s["pay_date"]): s for s in r.payslips}
        for x in r.txns:
            if not self.observed(r, x):
                continue
            p = month_of(x.d)
            amt = -x.amt
            if x.amt < 0:
                rule = self.spend_rule(r, x)
                x.rule = rule
                if rule:
                    self.f(p, r, rule, x.d, amt, x.desc, note=x.note)
                if x.dup:
                    self.f(p, r, "SP-DUPLICATE-PAYMENT", x.d, amt, x.desc, note=x.note)
                if x.kind == "fee":
                    continue
                if x.kind == "wage":
                    e = emps[x.emp]
                    slip = slips.get((x.emp, x.d))
                    if x.payslip_missing or slip is None:
                        self.f(p, r, "PY-NO-PAYSLIP", x.d, amt, x.desc, note=x.note)
                        self.f(p, r, "EV-NO-EVIDENCE", x.d, amt, x.desc, note=x.note)
                    elif x.net_diff:
                        self.f(p, r, "PY-NET-MISMATCH", x.d, abs(x.net_diff), x.desc, note=x.note)
                    if e.dbs_issue is None or add_months(e.dbs_issue, 12 * T["dbs_years"]) < x.d:
                        self.f(p, r, "PY-DBS-MISSING", x.d, amt, x.desc,
                               note=f"{e.name} DBS {e.dbs_issue}")
                    if not self.has_cover(r, x.d):
                        self.f(p, r, "PY-NO-INSURANCE", x.d, amt, x.desc,
                               note=f"{e.name} paid with no EL cover")
                    if slip is not None and not x.payslip_missing:
                        if slip["gross"] * 100 < min_wage(e.dob, x.d) * slip["hours"] * 100:
                            # money at stake: the shortfall the assistant is owed (docs/decisions.md 46)
                            owed = (Decimal(min_wage(e.dob, x.d)) * Decimal(str(slip["hours"])) - slip["gross"])
                            short = int(owed.quantize(Decimal(1), rounding=ROUND_HALF_UP))
                            self.f(p, r, "PY-BELOW-MIN-WAGE", x.d, short, x.desc,
                                   note=f"{e.name} {slip['gross'] / slip['hours'] / 100:.2f}/h, "
                                        f"age {age_on(e.dob, x.d)}, minimum "
                                        f"{min_wage(e.dob, x.d) / 100:.2f}")
                    continue
                if x.kind == "unknown_wage":
                    self.f(p, r, "PY-UNKNOWN-PAYEE", x.d, amt, x.desc, note=x.note)
                    self.f(p, r, "EV-NO-EVIDENCE", x.d, amt, x.desc, note=x.note)
                    continue
                if x.evid is None:
                    self.f(p, r, "EV-NO-EVIDENCE", x.d, amt, x.desc, note=x.note)
                elif x.mismatch:
                    self.f(p, r, "EV-AMOUNT-MISMATCH", x.d, abs(x.mismatch), x.desc, note=x.note)
            else:
                if x.kind == "council" and x.sched.arrived != x.sched.amount:
                    short = x.sched.amount - x.sched.arrived
                    self.f(month_of(x.sched.due), r, "AC-PAYMENT-MISSING", x.sched.due, short,
                           x.desc, note=f"scheduled {money(x.sched.amount)} arrived "
                                        f"{money(x.sched.arrived)}")
                elif x.kind == "other_credit":
                    self.f(p, r, "AC-NON-COUNCIL-CREDIT", x.d, amt if amt > 0 else x.amt, x.desc,
                           note=x.note)
                if x.kind == "loan_back":
                    self.amb(p, r, "AC-NON-COUNCIL-CREDIT", x.d, x.amt,
                             note="money paid back by a person the account paid (refund from a payee?)")
        for s in r.schedule:
            if s.arrived is None and month_of(s.due) not in r.missing_months:
                self.f(month_of(s.due), r, "AC-PAYMENT-MISSING", s.due, s.amount, "",
                       note=f"scheduled council payment {s.ref} never arrived")
        # the loan: unsure whether a one-off faster payment to a person is a transfer out
        for x in r.txns:
            if x.kind == "transfer" and x.desc.startswith("D KOWALSKI"):
                self.amb(month_of(x.d), r, "SP-TRANSFER-OUT", x.d, -x.amt,
                         note="one-off faster payment to a private person, paid back later")
                self.amb(month_of(x.d), r, "EV-NO-EVIDENCE", x.d, -x.amt, note="loan")
        # documents
        for d in r.docs:
            if d.folder in r.missing_months:
                continue
            if d.bad_amount:
                self.f(d.folder, r, "DQ-ROW-REJECTED", note=f"{d.kind} {d.doc_id} amount "
                                                            f"'{d.bad_amount}' (decimal comma)")
            elif d.orphan:
                self.f(d.folder, r, "EV-ORPHAN-RECEIPT", d.d, d.amount, d.supplier,
                       note=f"{d.kind} {d.doc_id} {d.description}: no debit within 7 days")
        # payroll: HMRC
        for h in r.hmrc:
            y, m = map(int, h["tax_month"].split("-"))
            due = add_months(date(y, m, 1), 1).replace(day=T["hmrc_day"])
            if not (self.g.fy_start <= due <= self.g.fy_end):
                continue
            paid = h["amount_paid"] if h["paid_date"] and h["paid_date"] <= due else 0
            if paid < h["amount_due"]:
                self.f(month_of(due), r, "PY-HMRC-UNPAID", None, h["amount_due"] - paid, "HMRC",
                       note=f"tax month {h['tax_month']} due {money(h['amount_due'])}, paid "
                            f"{money(h['amount_paid'])} on {h['paid_date']}")

    # ------------------------------------------------------------------ state
    def state_findings(self, r):
        g = self.g
        if not r.is_dp:
            return
        eod = g.balances(r, r.opening)
        for p in g.periods:
            if not self.active(r, p):
                # not an active DP recipient this month: unsure whether monthly checks apply
                for rule in ("AC-SURPLUS", "AC-LOW-CONTINGENCY", "SP-OVER-BUDGET",
                             "DQ-STATEMENT-MISSING", "DQ-STATEMENT-GAP", "RV-REVIEW-DUE",
                             "AC-OVERDRAWN"):
                    self.amb(p, r, rule, note="recipient not active this month")
            if p in r.missing_months:
                if self.active(r, p):
                    self.f(p, r, "DQ-STATEMENT-MISSING", note="no statement for the month")
                self.amb(p, r, "DQ-STATEMENT-GAP", note="month with no statement at all")
                nxt = g.periods[g.periods.index(p) + 1]
                self.amb(nxt, r, "DQ-STATEMENT-GAP", note="previous month had no statement")
                self.amb(p, r, "AC-PAYMENT-MISSING", note="month with no statement")
                self.amb(nxt, r, "AC-PAYMENT-MISSING", note="month after one with no statement")
                continue
            if p in r.ofx_cut:
                self.f(p, r, "DQ-STATEMENT-GAP", note=f"statement ends {r.ofx_cut[p]}")
            if r.break_month == p:
                self.f(p, r, "DQ-BALANCE-BREAK", note="a row was removed from the export")
            if r.wrong_account == p:
                self.f(p, r, "DQ-WRONG-ACCOUNT", note="family's personal account statement")
            if r.dup_statement and r.dup_statement[1] == p:
                self.f(p, r, "DQ-DUPLICATE-FILE", note="September statement sent again")
            if r.dup_receipts and r.dup_receipts[1] == p and any(
                    d.folder == r.dup_receipts[0] and d.kind == "receipt" for d in r.docs):
                # the writer resends September's receipts.csv only when September had one
                self.f(p, r, "DQ-DUPLICATE-FILE", note="September receipts.csv sent again")
            self.budget(r, p)
            self.contingency(r, p, eod)
        # overdrawn episodes
        ep = None
        for d in sorted(eod):
            p = month_of(d)
            if p in r.missing_months:
                ep = None
                continue
            if eod[d] < 0:
                if ep is None:
                    ep = [d, eod[d]]
                    self.overdrawn_eps = getattr(self, "overdrawn_eps", [])
                    self.overdrawn_eps.append((r, ep))
                ep[1] = min(ep[1], eod[d])
            else:
                ep = None
        for rr, (d0, low) in getattr(self, "overdrawn_eps", []):
            if rr is r:
                self.f(month_of(d0), r, "AC-OVERDRAWN", d0, -low,
                       note=f"balance negative from {d0}, lowest {money(low)}")
        # DQ-PLAN-INVALID in the first period the line is in force
        for ln in r.lines:
            if ln.invalid:
                for p in g.periods:
                    pe = month_end(date(int(p[:4]), int(p[5:]), 1))
                    if ln.vfrom <= pe and ln.vto >= date(int(p[:4]), int(p[5:]), 1):
                        self.f(p, r, "DQ-PLAN-INVALID", line=ln.line_id,
                               note=f"{ln.stream} is notional-only")
                        break
        # reviews: 3 months after dp_start_date, then every 6 months
        if r.start:
            due = add_months(r.start, 3)
            k = 0
            while due <= g.fy_end:
                if due >= g.fy_start:
                    p = month_of(due)
                    if self.active(r, p) and not (r.end and due > r.end):
                        self.f(p, r, "RV-REVIEW-DUE", note=f"review due {due}")
                    else:
                        self.amb(p, r, "RV-REVIEW-DUE", note=f"review due {due} after the DP ended")
                k += 1
                due = add_months(r.start, 3 + 6 * k)

    def spend_for_line(self, r, ln, pe):
        core = alt = 0
        for x in r.txns:
            if not self.observed(r, x) or x.d > pe or x.d < self.g.fy_start:
                continue
            if x.amt < 0 and x.cat == ln.category and x.kind in ("spend", "wage", "hmrc", "fee"):
                rule = self.spend_rule(r, x)
                if rule in (None, "SP-SCHOOL-CONSENT"):
                    core += -x.amt
                    alt += -x.amt
                elif rule == "SP-AFTER-END":
                    alt += -x.amt
            elif x.amt < 0 and x.amb_line and ln.category == "personal_assistant":
                alt += -x.amt
            elif x.kind == "refund" and x.payee and x.amt > 0:
                cats = {y.cat for y in r.txns if y.payee == x.payee and y.amt < 0}
                if ln.category in cats:
                    alt -= x.amt
        return core, alt

    def budget(self, r, p):
        g = self.g
        pe = month_end(date(int(p[:4]), int(p[5:]), 1))
        for ln in r.lines:
            if ln.mgmt == "notional" or ln.invalid:
                continue
            b = g.budget_to_date(ln, pe)
            thr = min(half_up_div(b * (100 + T["overspend_pct"]), 100), ln.annual)
            core, alt = self.spend_for_line(r, ln, pe)
            oc, oa = core > thr, alt > thr
            if core == 0 and alt <= 0:
                continue
            if oc != oa or abs(core - thr) < 100:
                self.amb(p, r, "SP-OVER-BUDGET", line=ln.line_id,
                         note=f"spend {money(core)} (alt {money(alt)}) vs threshold {money(thr)}")
            elif oc:
                self.f(p, r, "SP-OVER-BUDGET", None, core - thr, "", ln.line_id,
                       note=f"spend to date {money(core)} > {money(thr)} (budget to date "
                            f"{money(b)} +10%, annual {money(ln.annual)})")

    def contingency(self, r, p, eod):
        g = self.g
        pe = month_end(date(int(p[:4]), int(p[5:]), 1))
        bal = eod[pe]
        dpv = g.annual_dp_on(r, pe)
        # the other reading: the year's pro-rated DP value
        dpv2 = sum(half_up_div(l.annual * max(0, (min(l.vto, g.fy_end) - max(l.vfrom, g.fy_start)).days + 1), g.ndays)
                   for l in r.lines if l.mgmt == "direct_payment" and not l.invalid)
        if dpv <= 0:
            self.amb(p, r, "AC-SURPLUS", note="no DP line in force at month end")
            self.amb(p, r, "AC-LOW-CONTINGENCY", note="no DP line in force at month end")
            return

        def low(v):
            return 0 <= bal and bal * 100 < v * T["cmin"]


        lo = [low(dpv)]
        thr_a = half_up_div(dpv * T["cmax"], 100) + half_up_div(dpv * T["surplus_weeks"], 52)
        thr_b = half_up_div(dpv * T["cmax"], 100) + half_up_div(dpv * T["surplus_weeks"] * 7, 365)
        thr_c = half_up_div(dpv2 * T["cmax"], 100) + half_up_div(dpv2 * T["surplus_weeks"], 52)
        su = [bal > thr_a, bal > thr_b]
        if len(set(lo)) > 1 or (lo[0] and abs(bal * 100 - dpv * 5) < 100 * 100):
            self.amb(p, r, "AC-LOW-CONTINGENCY", note=f"balance {money(bal)}, 5% of {money(dpv)} "
                                                      f"or {money(dpv2)}")
        elif lo[0]:
            self.f(p, r, "AC-LOW-CONTINGENCY", None, half_up_div(dpv * 5, 100) - bal,
                   note=f"month-end balance {money(bal)} < 5% of DP value {money(dpv)}")
        if len(set(su)) > 1 or abs(bal - thr_a) < 100:
            self.amb(p, r, "AC-SURPLUS", note=f"balance {money(bal)} vs {money(thr_a)} / "
                                              f"{money(thr_b)} / {money(thr_c)}")
            r.surplus_amb = getattr(r, "surplus_amb", set()) | {p}
        elif su[0]:
            self.f(p, r, "AC-SURPLUS", None, bal - thr_a,
                   note=f"month-end balance {money(bal)} > 10% + 8 weeks of {money(dpv)} = "
                        f"{money(thr_a)}")

    # ------------------------------------------------------------------ recommendations
    def recommendations(self, r):
        g = self.g
        mine = [f for f in self.findings if f["recipient_id"] == r.rid]
        byp = {}
        for f in mine:
            byp.setdefault(f["period"], []).append(f)
        misuse_periods = {p for p, fs in byp.items() if any(f["rule_id"] in MISUSE_HIGH for f in fs)}
        misuse_tx = set()
        for f in mine:
            if f["rule_id"] in REPAY_RULES:
                misuse_tx.add((f["txn_date"], f["_amt"], f["counterparty"]))
        for i, p in enumerate(g.periods):
            if not self.in_scope(r, p):
                continue
            fs = byp.get(p, [])
            pe = month_end(date(int(p[:4]), int(p[5:]), 1))
            grounds, reasons = [], []
            stop = False
            if r.stop_req:
                stop = True
                grounds.append("stop_requested")
            if (r.end and r.end < pe) or (r.status == "stopped" and r.end is None):
                stop = True
                grounds.append("dp_end_date/status")
            last3 = g.periods[max(0, i - 2): i + 1]
            if sum(1 for q in last3 if q in misuse_periods) >= T["stop_after"]:
                stop = True
                grounds.append("misuse in 2 of last 3 periods")
            seen = set()
            misuse_amt = 0
            repay = 0
            for f in fs:
                key = (f["txn_date"], f["_amt"], f["counterparty"])
                if f["rule_id"] in REPAY_RULES and key not in seen:
                    seen.add(key)
                    repay += f["_amt"]
                    if f["rule_id"] in MISUSE_HIGH:
                        misuse_amt += f["_amt"]
                if f["rule_id"] == "AC-SURPLUS":
                    repay += f["_amt"]
            if misuse_amt > T["stop_amount"]:
                stop = True
                grounds.append("misuse above stop_amount")
            # unevidenced debits whose grace period ended in this period
            repay_alt = repay
            for f in mine:
                if f["rule_id"] != "EV-NO-EVIDENCE":
                    continue
                key = (f["txn_date"], f["_amt"], f["counterparty"])
                if key in misuse_tx:
                    continue
                d = date.fromisoformat(f["txn_date"])
                if month_of(d + timedelta(days=T["grace"])) == p:
                    repay += f["_amt"]
                if month_of(d + timedelta(days=T["grace"] + 1)) == p:
                    repay_alt += f["_amt"]
            review = any(SEV[f["rule_id"]] in ("medium", "high") and f["rule_id"] not in
                         REPAY_RULES | {"AC-SURPLUS"} for f in fs)
            action = "STOP" if stop else "REPAY" if repay > 0 else "REVIEW" if review else "NONE"
            alt_action = "STOP" if stop else "REPAY" if repay_alt > 0 else "REVIEW" if review else "NONE"
            note = ";".join(grounds)
            amb = alt_action != action or p in getattr(r, "surplus_amb", set())
            if r.end and month_of(r.end) == p:
                amb = True  # is dp_end_date "passed" in the month it falls on its last day?
            optional = not self.active(r, p)  # contract: one row per active recipient
            self.recs.append(dict(recipient_id=r.rid, period=p, action=action,
                                  amount=money(repay if action == "REPAY" else 0),
                                  ambiguous="yes" if amb else "",
                                  optional="yes" if optional else "",
                                  note=note + (f" (alt grace reading: {alt_action} {money(repay_alt)})"
                                               if repay_alt != repay else "")))

    # ------------------------------------------------------------------ year end
    def year_end_row(self, r):
        g = self.g
        if not r.is_dp:
            return
        dpv = 0
        for l in r.lines:
            if l.mgmt != "direct_payment" or l.invalid:
                continue
            a, b = max(l.vfrom, g.fy_start), min(l.vto, g.fy_end)
            if b < a:
                continue
            dpv += half_up_div(l.annual * ((b - a).days + 1), g.ndays)
        eod = g.balances(r, r.opening)
        closing = eod[g.fy_end]
        committed = sum(d.amount for d in r.docs if d.kind == "invoice" and d.orphan is False
                        and getattr(d, "unpaid", False))
        committed += sum(d.amount for d in r.docs if d.kind == "invoice" and d.orphan
                         and g.fy_start <= d.d <= g.fy_end)
        committed += sum(h["amount_due"] - h["amount_paid"] for h in r.hmrc
                         if g.fy_start <= date(int(h["tax_month"][:4]), int(h["tax_month"][5:]), 1) <= g.fy_end)
        surplus = closing - committed
        cf = max(0, min(surplus, half_up_div(dpv * 10, 100)))
        rep = max(0, surplus - cf)
        self.year_end.append(dict(recipient_id=r.rid, annual_dp_value=money(dpv),
                                  closing_balance=money(closing), committed=money(committed),
                                  surplus=money(surplus), carry_forward=money(cf),
                                  repayment=money(rep)))

    def run(self):
        for r in self.recips:
            if not r.is_dp:
                self.amb(None, r, "RV-REVIEW-DUE", note="notional recipient: no DP to review")
                continue
            self.txn_findings(r)
            self.state_findings(r)
            for a in r.ambiguous:
                self.amb(a[0], r, a[1], note=a[5])
        self.more_findings()
        for r in self.recips:
            self.recommendations(r)
            self.year_end_row(r)
        return self

    def more_findings(self):
        """Findings judged after every recipient's own (a subclass's: ExtTruth), before the
        recommendations that read them."""
