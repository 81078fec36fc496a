"""Build the simulated council: recipients, plans, a year of bank transactions and the
families' paperwork, with planted anomalies.  Everything here is semantics (what a debit IS);
truth.py turns it into findings by the arithmetic of rules.md; writers.py renders files."""
from __future__ import annotations

import random
from datetime import date, timedelta

from . import catalogue as C
from .model import (Doc, Employee, Line, Recipient, Sched, Txn, add_months, half_up_div,
                    month_end, month_of, periods)

ROLES = [
    ["clean"],
    ["prohibited_gambling", "transfer_own"],
    ["household_utils", "council_tax"],
    ["cash", "unrelated_lines"],
    ["stopped_end"],
    ["stopped_blank"],
    ["pa", "py_dbs", "py_hmrc_partial"],
    ["pa", "py_min_wage_21", "py_no_payslip"],
    ["pa", "py_insurance_gap", "py_net_mismatch", "py_hmrc_late"],
    ["pa", "py_unknown_payee", "py_min_wage_young"],
    ["twin_a"],
    ["twin_b"],
    ["overbudget"],
    ["not_in_plan"],
    ["school_consent"],
    ["duplicate", "mismatch"],
    ["orphan", "row_rejected"],
    ["noncouncil", "refund"],
    ["payment_short", "payment_missing"],
    ["overdrawn"],
    ["surplus"],
    ["low_contingency"],
    ["gap"],
    ["missing_april"],
    ["wrong_account"],
    ["dup_files"],
    ["balance_break"],
    ["plan_invalid", "combination"],
    ["new_starter"],
    ["stop_requested"],
    ["prohibited_stop"],
    ["transfer_big", "pa"],
    ["loan_back", "family_transfer"],
    ["pa", "yearend_invoice", "march_wages_april"],
    ["pa", "clean"],
    ["household_grocery", "household_telecom"],
    ["part_year_lines"],
    ["notional_recipient"],
    ["agreed_person"],
    ["prohibited_alcohol", "unknown_noevid", "cash"],
]

FORMATS = ["ofx1", "ofx2", "canonical", "lloyds", "nationwide", "starling"]
FORCED_FMT = {"gap": "ofx1", "balance_break": "lloyds", "wrong_account": "lloyds",
              "stopped_blank": "ofx2", "overdrawn": "canonical", "dup_files": "ofx2",
              "twin_a": "lloyds", "twin_b": "nationwide", "cash": "lloyds",
              "low_contingency": "starling", "stopped_end": "canonical"}
WORDY_HOLDER = {"transfer_own": ("Coral", "Park"), "transfer_big": ("Sandra", "Cash"),
                "family_transfer": ("Karen", "Baker"), "cash": ("Mark", "Taylor"),
                "unknown_noevid": ("Julie", "Bird"), "prohibited_stop": ("Gary", "Hill"),
                "household_utils": ("Helen", "Cook"), "noncouncil": ("Emma", "Bell")}


class Gen:
    def __init__(self, n: int, seed: int, fy: int):
        self.n, self.seed, self.fy = n, seed, fy
        self.fy_start, self.fy_end = date(fy, 4, 1), date(fy + 1, 3, 31)
        self.ndays = (self.fy_end - self.fy_start).days + 1
        self.periods = periods(fy)
        self.rng = random.Random(f"council-{seed}")
        self.used_ids, self.used_acc, self.used_names = set(), set(), set()
        self.emp_no = 100

    # ------------------------------------------------------------------ helpers
    def new_rid(self, i: int, rng) -> str:
        while True:
            k = i % 3
            if k == 0:
                rid = f"00{rng.randint(1000, 9999)}"
            elif k == 1:
                rid = f"SK{rng.randint(1000, 9999)}"
            else:
                rid = f"0{rng.randint(100000, 999999)}"
            if rid not in self.used_ids:
                self.used_ids.add(rid)
                return rid

    def new_account(self, rng):
        while True:
            acc = f"{rng.randint(0, 99999999):08d}"
            if rng.random() < 0.25:
                acc = "0" + acc[1:]
            if acc not in self.used_acc:
                self.used_acc.add(acc)
                sc = rng.choice(["30-96-26", "20-32-06", "09-01-28", "07-00-93", "40-47-84",
                                 "60-83-71", "11-08-21"])
                return sc, acc

    # ------------------------------------------------------------------ build
    def build(self):
        roles = [ROLES[i % len(ROLES)] for i in range(self.n)]
        recips = []
        twin_a = None
        for i, role in enumerate(roles):
            rng = random.Random(f"recipient-{self.seed}-{i}")
            if "twin_b" in role and twin_a is not None:
                r = self.make_twin(twin_a, i, rng)
            else:
                r = self.make_recipient(i, role, rng)
                if "twin_a" in role:
                    twin_a = (r, rng)
            recips.append(r)
        return recips

    def make_recipient(self, i, role, rng) -> Recipient:
        tags = set(role)
        rid = self.new_rid(i, rng)
        if tags & set(WORDY_HOLDER):
            key = sorted(tags & set(WORDY_HOLDER))[0]
            hf, sn = WORDY_HOLDER[key]
        else:
            hf = rng.choice(C.FIRST_F + C.FIRST_M)
            sn = rng.choice(C.SURNAMES + C.SURNAMES_WORDY)
        child = rng.choice(C.CHILD)
        dob = date(rng.randint(2011, 2020), rng.randint(1, 12), rng.randint(1, 28))
        sc, acc = self.new_account(rng)
        fmt = rng.choice(FORMATS)
        for t in sorted(tags):
            if t in FORCED_FMT:
                fmt = FORCED_FMT[t]
        start = date(rng.randint(2019, 2024), rng.randint(1, 12), rng.randint(1, 28))
        r = Recipient(rid=rid, child_first=child, surname=sn, dob=dob, mgmt="direct_payment",
                      sort_code=sc, account=acc, holder=f"{hf} {sn}", holder_first=hf,
                      start=start, end=None, status="active", stop_req=False,
                      officer=rng.choice(C.OFFICERS), fmt=fmt, tags=tags)
        if "notional_recipient" in tags:
            r.mgmt, r.sort_code, r.account, r.fmt = "notional", "", "", "none"
            r.lines.append(Line(f"{rid}-L1", "therapy", "Speech and language therapy in school",
                                420000, "hnb_topup_other", "notional", self.fy_start,
                                self.fy_end, school=True, consent=date(2024, 9, 2),
                                fixed=True))
            r.plants.append("notional recipient: no DP account, no statements, no findings")
            return r
        if "combination" in tags:
            r.mgmt = "combination"
        if "new_starter" in tags:
            r.start = date(self.fy, 9, 1)
        if "stopped_end" in tags:
            r.status, r.end = "stopped", date(self.fy, 8, 31)
            r.plants.append(f"stopped: dp_end_date {r.end}; spend after it is SP-AFTER-END")
        if "stopped_blank" in tags:
            r.status = "stopped"
            r.plants.append("stopped with blank dp_end_date: every debit but bank charges is SP-AFTER-END")
        if "stop_requested" in tags:
            r.stop_req = True
            r.plants.append("stop_requested=yes: STOP every period")
        self.base_spending(r, rng)
        if "pa" in tags:
            self.employer(r, rng)
        self.plants(r, rng)
        self.finish(r, rng)
        return r

    def make_twin(self, a_pair, i, rng) -> Recipient:
        a, _ = a_pair
        rid = self.new_rid(i, rng)
        sc, acc = self.new_account(rng)
        child = rng.choice([c for c in C.CHILD if c != a.child_first])
        b = Recipient(rid=rid, child_first=child, surname=a.surname, dob=a.dob, mgmt=a.mgmt,
                      sort_code=sc, account=acc, holder=a.holder, holder_first=a.holder_first,
                      start=a.start, end=None, status="active", stop_req=False,
                      officer=a.officer, fmt="nationwide", tags={"twin_b"}, twin_of=a.rid)
        for ln in a.lines:
            b.lines.append(Line(ln.line_id.replace(a.rid, rid), ln.category, ln.description,
                                ln.annual, ln.stream, ln.mgmt, ln.vfrom, ln.vto, ln.school,
                                ln.consent, list(ln.providers), ln.invalid, ln.part_year,
                                ln.fixed))
        for t in a.txns:
            if t.kind in ("spend",):
                b.txns.append(Txn(t.d, t.amt, t.desc, t.typ, t.kind, cat=t.cat, evid=t.evid,
                                  note=t.note, payee=t.payee, doc_ids=list(t.doc_ids)))
        b.docs = [Doc(**{**d.__dict__}) for d in a.docs]
        b.plants.append(f"twin of {a.rid}: same sessions, receipts.csv byte-identical in both "
                        "folders every month; each child's evidence counts for that child")
        a.plants.append(f"twin of {rid}: receipts.csv byte-identical to the sibling's")
        b.opening = 0
        self.finish(b, rng, size_lines=False)
        return b

    # ------------------------------------------------------------------ spending
    def occurrences(self, pattern, a: date, b: date, rng):
        out = []
        kind = pattern[0]
        if kind in ("weekly", "twice"):
            wds = [pattern[1]] if kind == "weekly" else [pattern[1], pattern[2]]
            skip = pattern[-1]
            d = a
            while d <= b:
                if d.weekday() in wds and rng.random() >= skip:
                    out.append(d)
                d += timedelta(days=1)
        elif kind == "fortnightly":
            d = a
            while d.weekday() != pattern[1]:
                d += timedelta(days=1)
            d += timedelta(days=7 * rng.randint(0, 1))
            while d <= b:
                out.append(d)
                d += timedelta(days=14)
        elif kind == "monthly":
            d = date(a.year, a.month, 1)
            while d <= b:
                x = date(d.year, d.month, pattern[1])
                if a <= x <= b:
                    out.append(x)
                d = add_months(d, 1)
        elif kind == "every":
            d = a + timedelta(days=rng.randint(3, 20))
            while d <= b:
                out.append(d)
                d += timedelta(days=pattern[1] + rng.randint(-5, 5))
        return out

    def card_desc(self, alias, rng, d: date):
        town = rng.choice(C.TOWNS)
        style = rng.randint(0, 5)
        card = rng.choice(["4921", "1417", "8830", "5512"])
        if style == 0:
            return f"CRD {card} {alias} {town} GB"
        if style == 1:
            return f"{alias} ON {d.day:02d} {d.strftime('%b').upper()} BCC"
        if style == 2:
            return f"VIS {alias} {town}"
        if style == 3:
            return f"CONTACTLESS {alias} {town} GB"
        if style == 4:
            return f"{alias} CD {card}"
        return f"{alias} {town}"

    def add_line(self, r, category, desc, providers=None, stream=None, vfrom=None, vto=None,
                 school=False, consent=None, mgmt="direct_payment", annual=0, fixed=False,
                 invalid=False):
        for ln in r.lines:
            if ln.category == category and ln.mgmt == mgmt and not ln.invalid and not invalid:
                for p in providers or []:
                    if p not in ln.providers:  # a line with no named payee gets this one named
                        ln.providers.append(p)
                return ln
        n = len(r.lines) + 1
        if vfrom is None and r.start and r.start > self.fy_start:
            vfrom = r.start
        if r.end and mgmt == "direct_payment" and (vto is None or vto > r.end):
            vto = r.end  # the council ends the DP lines with the DP
        stream = stream or ("social_care_respite" if category in
                            ("short_breaks", "personal_assistant", "agency_care")
                            else random.Random(f"{r.rid}{category}").choice(
                                ["social_care_respite", "chc_joint", "hnb_topup_maintained"]))
        ln = Line(f"{r.rid}-L{n}", category, desc, annual, stream, mgmt,
                  vfrom or self.fy_start, vto or self.fy_end, school, consent,
                  list(providers or []), invalid, part_year=bool(vfrom or vto), fixed=fixed)
        r.lines.append(ln)
        return ln

    def active_window(self, r):
        a = max(self.fy_start, r.start or self.fy_start)
        b = self.fy_end if r.end is None else min(self.fy_end, r.end)
        return a, b

    def activity(self, r, key, rng, a=None, b=None, line=None, lump=False, note=""):
        prov, pattern, price, method, ev = C.ACTIVITIES[key]
        name, aliases, cat, _ = C.PROV[prov]
        wa, wb = self.active_window(r)
        if "stopped_blank" in r.tags:
            wb = date(self.fy, 6, 30)
        a, b = a or wa, b or wb
        if line is None:
            listed = [name] if rng.random() < 0.6 else []
            line = self.add_line(r, cat, self.line_desc(cat), providers=listed)
            if listed and name not in line.providers:
                line.providers.append(name)
        alias = aliases[0] if rng.random() < 0.7 else aliases[-1]
        occ = self.occurrences(pattern, a, b, rng)
        out = []
        if ev == "monthly_invoice":
            # sessions invoiced monthly in arrears, paid a few days after the invoice
            pre = self.occurrences(pattern, add_months(a, -1), a - timedelta(days=1), rng) \
                if a == self.fy_start else []
            sess = pre + occ
            months = sorted({month_of(d) for d in sess})
            for m in months:
                ss = [d for d in sess if month_of(d) == m]
                y, mo = map(int, m.split("-"))
                inv_d = add_months(date(y, mo, 1), 1) + timedelta(days=rng.randint(0, 2))
                pay_d = inv_d + timedelta(days=rng.randint(2, 5))
                if pay_d > self.fy_end or inv_d < self.fy_start:
                    continue
                if r.end and pay_d > r.end and "after" not in note:
                    continue
                amt = price * len(ss)
                unit = price // 100
                hours = len(ss) * (6 if key == "bluebird" else 4 if key == "helping" else 1)
                doc = Doc("invoice", f"INV-{rng.randint(10000, 99999)}", inv_d, name, amt,
                          f"{C.ACTIVITIES[key][0]} services {m}", cat, month_of(pay_d),
                          period_start=date(y, mo, 1), period_end=month_end(date(y, mo, 1)),
                          hours=hours)
                ids = {x.doc_id for x in r.docs}
                while doc.doc_id in ids:
                    doc.doc_id += "A"
                r.docs.append(doc)
                desc = alias if method == "DD" else f"{alias} {doc.doc_id}"
                if method == "FPO" and rng.random() < 0.3:
                    desc = f"TRANSFER TO {alias} {doc.doc_id}"
                t = Txn(pay_d, -amt, desc, "DD" if method == "DD" else "FPO", "spend", cat=cat,
                        evid="doc", payee=name, note=note or f"{name} invoice {doc.doc_id}",
                        doc_ids=[doc.doc_id])
                r.txns.append(t)
                out.append(t)
            return out
        for d in occ:
            amt = price if isinstance(price, int) else rng.choice(price)
            if method == "CARD":
                lag = rng.choice([0, 0, 1, 1, 2, 3])
                pay_d = d + timedelta(days=lag)
                desc = self.card_desc(alias, rng, d)
            else:
                pay_d = d
                desc = alias if method in ("DD", "SO") else f"{alias} {rng.randint(1000, 9999)}"
                if method == "FPO" and rng.random() < 0.25:
                    desc = f"TRANSFER TO {alias}"
            if pay_d > self.fy_end:
                continue
            kind = "receipt" if ev == "receipt" else "invoice"
            doc = Doc(kind, f"{'R' if kind == 'receipt' else 'INV'}-{rng.randint(10000, 99999)}",
                      d, name, amt, self.doc_desc(cat, key), cat, month_of(pay_d),
                      date_fmt=rng.choice(["iso", "iso", "uk"]))
            if kind == "invoice":
                doc.period_start = doc.period_end = d
            ids = {x.doc_id for x in r.docs}
            while doc.doc_id in ids:
                doc.doc_id += "A"
            r.docs.append(doc)
            t = Txn(pay_d, -amt, desc, method, "spend", cat=cat, evid="doc", payee=name,
                    note=note or f"{name} session {d}", doc_ids=[doc.doc_id])
            r.txns.append(t)
            out.append(t)
        return out

    @staticmethod
    def line_desc(cat):
        return {"therapy": "Therapy sessions", "day_activities": "Leisure and day activities",
                "agency_care": "Agency home care", "short_breaks": "Short breaks / respite",
                "transport": "Transport to activities", "community_access": "Community access",
                "education_support": "Tuition and education support",
                "small_aids": "Sensory equipment and small aids",
                "personal_care": "Personal care", "counselling": "Counselling",
                "personal_assistant": "Personal assistant hours", "insurance":
                "Employer's liability insurance", "payroll_services": "Payroll service",
                "bank_charges": "Bank account charges", "training": "PA training"}[cat]

    @staticmethod
    def doc_desc(cat, key):
        return {"hydro": "Hydrotherapy session", "speech": "SALT session", "vue": "Cinema tickets",
                "jump": "Trampoline session", "swim": "Monthly lessons", "leisure":
                "Membership", "kidz": "Club day", "taxi": "Taxi fare", "a1cabs": "Taxi fare",
                "youth": "Youth club", "scouts": "Subs", "sensory": "Sensory toys",
                "hair": "Haircut", "together": "Overnight short break", "explore":
                "Monthly membership", "counsel": "Counselling session"}.get(key, cat)

    def base_spending(self, r, rng):
        t = r.tags
        pool = ["hydro", "speech", "vue", "jump", "swim", "leisure", "together", "taxi",
                "a1cabs", "youth", "scouts", "tutor", "explore", "sensory", "hair", "kidz"]
        n = rng.randint(2, 4)
        if "pa" not in t and rng.random() < 0.4:
            pool += ["bluebird", "helping"]
        keys = rng.sample(pool, n)
        big = ["hydro", "speech", "together", "tutor", "bluebird", "helping", "explore"]
        if "pa" not in t and not set(keys) & set(big):
            keys[0] = rng.choice(big)
        if "twin_a" in t:
            keys = ["hydro", "vue"]
        if "unrelated_lines" in t and "taxi" not in keys and "a1cabs" not in keys:
            keys.append("taxi")
        if "overbudget" in t:
            keys = [k for k in keys if k not in ("kidz", "together")] + ["kidz"]
        if "not_in_plan" in t:
            keys = [k for k in keys if k not in ("counsel",)]
        if "part_year_lines" in t:
            keys = [k for k in keys if k not in ("together", "speech", "hydro", "kidz")]
        if "stopped_blank" in t:
            keys = keys[:2]
        for k in keys:
            self.activity(r, k, rng)
        if rng.random() < 0.45 or "unrelated_lines" in t or "cash" in t:
            fee = rng.choice([500, 650, 300])
            ln = self.add_line(r, "bank_charges", self.line_desc("bank_charges"))
            d = self.fy_start
            wa, wb = self.active_window(r)
            while d <= self.fy_end:
                fd = date(d.year, d.month, 28 if rng.random() < 0.8 else 27)
                if "stopped_blank" in t or wa <= fd:
                    r.txns.append(Txn(fd, -fee, rng.choice(["ACCOUNT FEE", "MONTHLY ACCOUNT FEE",
                                                            "SERVICE CHARGE"]),
                                      "FEE", "fee", cat="bank_charges", evid="bank",
                                      note="monthly account fee"))
                d = add_months(d, 1)
        # ordinary realistic noise that must raise nothing
        if rng.random() < 0.35 and any(x.kind == "spend" and x.typ == "CARD" for x in r.txns):
            self.two_receipts_one_payment(r, rng)

    def two_receipts_one_payment(self, r, rng):
        cands = [x for x in r.txns if x.kind == "spend" and x.typ == "CARD"
                 and x.d.month not in (3, 4) and x.d.day < 24]
        if not cands:
            return
        x = rng.choice(cands)
        doc = next((d for d in r.docs if d.kind == "receipt" and d.amount == -x.amt
                    and d.supplier == x.payee and d.folder == month_of(x.d)
                    and abs((d.d - x.d).days) <= 3), None)
        if doc is None or doc.amount < 400:
            return
        part = doc.amount // 2 + 37
        doc.amount -= part
        doc.description += " (1 of 2)"
        r.docs.append(Doc("receipt", doc.doc_id + "B", doc.d, doc.supplier, part,
                          doc.description.replace("1 of 2", "2 of 2"), doc.category, doc.folder))
        r.plants.append(f"noise: one card payment {x.d} £{-x.amt / 100:.2f} {x.payee} covered by two receipts")

    # ------------------------------------------------------------------ payroll
    def employer(self, r, rng):
        t = r.tags
        emps = []
        n = 1 if rng.random() < 0.6 else 2
        for k in range(n):
            self.emp_no += rng.randint(1, 40)
            first = rng.choice(C.PA_FIRST)
            sur = rng.choice(C.PA_SURNAMES)
            if "py_no_payslip" in t and k == 0:
                first, sur = "Coral", "Hughes"
            age = rng.randint(23, 58)
            dob = date(self.fy - age, rng.randint(1, 12), rng.randint(1, 28))
            rate = rng.choice([1260, 1280, 1300, 1340, 1380, 1420])
            freq = "weekly" if rng.random() < 0.5 else "monthly"
            issue = self.fy_start - timedelta(days=rng.randint(30, 700))
            style = rng.randint(0, 3)
            fi = first[0].upper()
            su = sur.upper()
            payees = [f"{fi} {su}", f"{su} {fi}"] if style < 3 else []
            bank = [f"{fi} {su}", f"{su} {fi}", f"{fi} {su} WAGES", f"{first.upper()} {su}"][style]
            if first == "Coral":
                payees, bank = [f"{first.upper()} {su}", f"{fi} {su}"], f"{first.upper()} {su}"
            e = Employee(f"E{self.emp_no:06d}", f"{first} {sur}", self.ni(rng), dob, rate,
                         date(rng.randint(2019, 2024), rng.randint(1, 12), rng.randint(1, 28)),
                         None, f"{rng.randint(0, 999999999999):012d}", issue, payees, bank,
                         rng.choice([8, 10, 12, 15, 16.5]), freq,
                         4 if freq == "weekly" else rng.choice([28, 25]))
            emps.append(e)
        e0 = emps[0]
        if "py_insurance_gap" in t or "py_net_mismatch" in t:
            e0.freq, e0.payday = "weekly", 4
        if "py_dbs" in t:
            e0.freq, e0.payday = "monthly", 28
            e0.dbs_issue = date(self.fy - 3, 8, 20)
            r.plants.append(f"PY-DBS-MISSING: {e0.name} DBS issued {e0.dbs_issue}: pay after "
                            f"{date(self.fy, 8, 20)} has no valid DBS")
        if "py_min_wage_21" in t:
            e0.freq, e0.payday = "monthly", 28
            e0.dob = date(self.fy - 21, 10, 15)
            e0.rate = 1100
            r.plants.append(f"PY-BELOW-MIN-WAGE: {e0.name} paid £11.00/h, turns 21 on "
                            f"{date(self.fy, 10, 15)} (21+ rate 12.21)")
        if "py_min_wage_young" in t:
            e0.freq, e0.payday = "monthly", 25
            e0.dob = date(self.fy - 19, 6, 3)
            e0.rate = 950
            r.plants.append(f"PY-BELOW-MIN-WAGE: {e0.name} aged 19 paid £9.50/h (18-20 rate 10.00)")
        if "march_wages_april" in t:
            e0.freq, e0.payday = "monthly_arrears", 2
            r.plants.append(f"{e0.name}'s wages are paid on the 2nd of the next month: March "
                            "2026's pay falls in April (not committed: rules.md committed = "
                            "unpaid invoices + unpaid PAYE/NI only)")
        r.employees = emps
        ins_start = date(self.fy - 1, rng.randint(4, 12), 1)
        if "py_insurance_gap" in t:
            ins_start = date(self.fy - 1, 11, 1)
            r.insurance = [("MB" + str(rng.randint(100000, 999999)), "Mark Bates Ltd",
                            ins_start, date(self.fy, 10, 31), "yes"),
                           ("MB" + str(rng.randint(100000, 999999)), "Mark Bates Ltd",
                            date(self.fy, 11, 15), date(self.fy + 1, 11, 14), "yes")]
            r.plants.append(f"PY-NO-INSURANCE: cover lapsed {date(self.fy, 11, 1)}.."
                            f"{date(self.fy, 11, 14)}")
        else:
            r.insurance = [("MB" + str(rng.randint(100000, 999999)), "Mark Bates Ltd", ins_start,
                            add_months(ins_start, 12) - timedelta(days=1), "yes"),
                           ("MB" + str(rng.randint(100000, 999999)), "Mark Bates Ltd",
                            add_months(ins_start, 12), add_months(ins_start, 24) -
                            timedelta(days=1), "yes")]
        pa_line = self.add_line(r, "personal_assistant", "Personal assistant hours")
        # insurance premium monthly, payroll bureau monthly
        ins_line = self.add_line(r, "insurance", self.line_desc("insurance"),
                                 providers=["Mark Bates Ltd"] if rng.random() < 0.5 else [])
        pr_line = self.add_line(r, "payroll_services", self.line_desc("payroll_services"))
        prem = rng.choice([985, 1050, 1125])
        fee = rng.choice([1450, 1600])
        for p in self.periods:
            y, m = map(int, p.split("-"))
            d1 = date(y, m, 3)
            r.txns.append(Txn(d1, -prem, "MARK BATES LTD" if rng.random() < 0.5 else
                              "MARK BATES INS DD", "DD", "spend", cat="insurance", evid="doc",
                              payee="Mark Bates Ltd", note="EL insurance premium"))
            r.docs.append(Doc("receipt", f"MBP-{y}{m:02d}", d1, "Mark Bates Ltd", prem,
                              "Monthly premium", "insurance", p))
            d2 = date(y, m, 9)
            inv = Doc("invoice", f"DPS{y % 100}{m:02d}{rng.randint(100, 999)}", d2 -
                      timedelta(days=4), "Direct Payroll Services", fee, "Payroll service",
                      "payroll_services", p, period_start=date(y, m, 1), period_end=month_end(d2))
            r.docs.append(inv)
            r.txns.append(Txn(d2, -fee, f"DPS PAYROLL {inv.doc_id}", "FPO", "spend",
                              cat="payroll_services", evid="doc",
                              payee="Direct Payroll Services", note="payroll bureau fee"))
        self.wages(r, rng)

    @staticmethod
    def ni(rng):
        return "".join(rng.choice("ABCEGHJKLMNPRSTWXYZ") for _ in range(2)) + \
            f"{rng.randint(0, 999999):06d}" + rng.choice("ABCD")

    def pay_dates(self, e: Employee):
        out = []
        if e.freq == "weekly":
            d = self.fy_start
            while d.weekday() != e.payday:
                d += timedelta(days=1)
            while d <= self.fy_end:
                out.append((d, d - timedelta(days=11), d - timedelta(days=5)))
                d += timedelta(days=7)
        elif e.freq == "monthly":
            for p in self.periods:
                y, m = map(int, p.split("-"))
                d = date(y, m, e.payday)
                out.append((d, date(y, m, 1), month_end(d)))
        else:  # monthly in arrears on the 2nd of the next month
            for p in self.periods:
                y, m = map(int, p.split("-"))
                d = date(y, m, e.payday)
                ps = add_months(date(y, m, 1), -1)
                out.append((d, ps, month_end(ps)))
        return out

    def payslip(self, e, pay_d, ps, pe, hours):
        gross = int(round(e.rate * hours))
        weekly = e.freq == "weekly"
        pt, st = (24200, 9600) if weekly else (104800, 41700)
        tax = max(0, (gross - pt) * 20 // 100)
        eni = max(0, (gross - pt) * 8 // 100)
        erni = max(0, (gross - st) * 15 // 100)
        return dict(employee_id=e.eid, pay_date=pay_d, period_start=ps, period_end=pe,
                    hours=hours, gross=gross, tax=tax, employee_ni=eni, employer_ni=erni,
                    pension_employee=0, pension_employer=0, net=gross - tax - eni)

    def wages(self, r, rng):
        t = r.tags
        wa, wb = self.active_window(r)
        hmrc_by_month = {}
        for k, e in enumerate(r.employees):
            for pay_d, ps, pe in self.pay_dates(e):
                if pay_d < wa or pay_d > wb:
                    continue
                base = e.hours * (1 if e.freq == "weekly" else 4.33)
                hours = round((base + rng.choice([-1, 0, 0, 0.5, 1])) * 2) / 2
                slip = self.payslip(e, pay_d, ps, pe, hours)
                r.payslips.append(slip)
                hmrc_by_month.setdefault(month_of(pay_d), 0)
                hmrc_by_month[month_of(pay_d)] += slip["tax"] + slip["employee_ni"] + slip["employer_ni"]
                typ = "SO" if rng.random() < 0.2 else "FPO"
                tx = Txn(pay_d, -slip["net"], e.bank_name, typ, "wage", cat="personal_assistant",
                         emp=e.eid, evid="payslip", payee=e.name, note=f"wages {e.name}")
                r.txns.append(tx)
        # special PY plants
        e0 = r.employees[0]
        w0 = [x for x in r.txns if x.kind == "wage" and x.emp == e0.eid]
        if "py_no_payslip" in t:
            d = date(self.fy, 7, 18)
            r.txns.append(Txn(d, -4500, f"{e0.bank_name} OVERTIME", "FPO", "wage",
                              cat="personal_assistant", emp=e0.eid, evid=None,
                              payee=e0.name, payslip_missing=True,
                              note="extra wage payment with no payslip"))
            r.plants.append(f"PY-NO-PAYSLIP + EV-NO-EVIDENCE: {d} '{e0.bank_name} OVERTIME' £45.00")
        if "py_net_mismatch" in t:
            x = [w for w in w0 if w.d.month == 9][1]
            x.amt -= 1200
            x.net_diff = 1200
            x.note += " (paid £12.00 more than the payslip net)"
            r.plants.append(f"PY-NET-MISMATCH: {x.d} paid £12.00 over payslip net")
        if "py_unknown_payee" in t:
            d = date(self.fy, 6, 6)
            for k in range(4):
                dd = d + timedelta(days=7 * k)
                r.txns.append(Txn(dd, -6000, "T HOLLAND", "FPO", "unknown_wage",
                                  evid=None, payee="T HOLLAND", amb_line=True,
                                  note="regular round payment to an unregistered person"))
            r.plants.append("PY-UNKNOWN-PAYEE x4 (+EV-NO-EVIDENCE): T HOLLAND £60.00 weekly in June")
        # HMRC: pay each tax month around the 15th-19th of the next month
        ref = f"120PA{rng.randint(10000000, 99999999)}"
        prev = date(self.fy, 3, 1)
        hmrc_by_month.setdefault(month_of(prev), sum(v for v in hmrc_by_month.values()) // 12)
        for m in sorted(hmrc_by_month):
            due = hmrc_by_month[m]
            if due <= 0:
                continue
            y, mo = map(int, m.split("-"))
            pd = add_months(date(y, mo, 1), 1) + timedelta(days=rng.randint(14, 18))
            paid = due
            note = f"PAYE/NI tax month {m}"
            if "py_hmrc_partial" in t and m == f"{self.fy}-07":
                paid = due - 8040
                note += " (part paid; £80.40 still owed)"
                r.plants.append(f"PY-HMRC-UNPAID: tax month {m} paid £80.40 short (still owed at year end)")
            if "py_hmrc_late" in t and m == f"{self.fy}-10":
                pd = date(self.fy, 11, 27)
                note += " (paid late, after the 22nd)"
                r.plants.append(f"PY-HMRC-UNPAID: tax month {m} paid late on {pd}")
            if pd > self.fy_end or (r.end and pd > r.end + timedelta(days=40)):
                r.hmrc.append(dict(tax_month=m, amount_due=due, amount_paid=0, paid_date=None,
                                   reference=ref, folder=self.periods[-1]))
                continue
            r.hmrc.append(dict(tax_month=m, amount_due=due, amount_paid=paid, paid_date=pd,
                               reference=ref, folder=month_of(pd)))
            r.txns.append(Txn(pd, -paid, rng.choice([f"HMRC PAYE {ref}", "HMRC CUMBERNAULD",
                                                     f"HMRC - TAXES {ref}"]), "FPO", "hmrc",
                              cat="personal_assistant", evid="hmrc", payee="HMRC", note=note))

    # ------------------------------------------------------------------ plants
    def debit(self, r, d, amt, desc, typ, kind, cat=None, evid=None, note="", **kw):
        t = Txn(d, -amt, desc, typ, kind, cat=cat, evid=evid, note=note, **kw)
        r.txns.append(t)
        return t

    def credit(self, r, d, amt, desc, typ, kind, note="", **kw):
        t = Txn(d, amt, desc, typ, kind, note=note, **kw)
        r.txns.append(t)
        return t

    def rday(self, rng, period, lo=3, hi=24):
        y, m = map(int, period.split("-"))
        return date(y, m, rng.randint(lo, hi))

    def plants(self, r, rng):
        t = r.tags
        fy = self.fy
        P = self.periods
        sn = r.surname.upper()
        hf = r.holder_first.upper()
        if "prohibited_gambling" in t:
            p = rng.choice(P[2:10])
            for k in range(2):
                name, town = rng.choice(C.GAMBLING)
                d = self.rday(rng, p)
                amt = rng.choice([1000, 2000, 2500, 5000])
                desc = self.card_desc(name, rng, d).replace(name, name) if k else f"{name} {town}"
                self.debit(r, d, amt, desc, "CARD", "prohibited", note=f"gambling: {name}")
                r.plants.append(f"SP-PROHIBITED: {d} '{desc}' £{amt / 100:.2f} (no receipt)")
        if "prohibited_stop" in t:
            for p in (P[3], P[4]):
                name, town = rng.choice(C.GAMBLING)
                d = self.rday(rng, p)
                amt = rng.choice([2000, 3000, 4000])
                desc = f"{name} {town}"
                self.debit(r, d, amt, desc, "CARD", "prohibited", note=f"gambling: {name}")
                r.plants.append(f"SP-PROHIBITED: {d} '{desc}' £{amt / 100:.2f} (2 months running -> STOP)")
        if "prohibited_alcohol" in t:
            p = rng.choice(P[1:11])
            name, town = C.ALCOHOL[0]
            d = self.rday(rng, p)
            self.debit(r, d, 6400, f"CRD 4921 {name} {town} GB", "CARD", "prohibited",
                       evid="doc", payee="Majestic Wine", note="alcohol with a receipt")
            r.docs.append(Doc("receipt", f"R-{rng.randint(10000, 99999)}", d, "Majestic Wine",
                              6400, "Wine", "", month_of(d)))
            name, town = C.ALCOHOL[1]
            d2 = self.rday(rng, rng.choice(P[1:11]))
            self.debit(r, d2, 1847, f"{name} {town}", "CARD", "prohibited", note="off-licence")
            r.plants.append(f"SP-PROHIBITED: {d} Majestic Wine £64.00 (receipt) and {d2} "
                            f"Bargain Booze £18.47")
        if "transfer_own" in t:
            p = rng.choice(P[1:11])
            d = self.rday(rng, p)
            self.debit(r, d, 15000, f"{hf} {sn}", "FPO", "transfer",
                       note="faster payment to the holder's own name")
            d2 = self.rday(rng, rng.choice(P[1:11]))
            self.debit(r, d2, 8000, f"TRANSFER TO {hf[0]} {sn} SAVINGS", "TFR", "transfer",
                       note="to holder's savings")
            r.plants.append(f"SP-TRANSFER-OUT: {d} '{hf} {sn}' £150.00 (holder's own name; "
                            f"first name Coral is not Coral Racing) and {d2} to {sn} SAVINGS £80.00")
        if "transfer_big" in t:
            d = date(fy, 11, 12)
            self.debit(r, d, 150000, "TFR TO A/C 41872261 SAVINGS", "TFR", "transfer",
                       note="£1,500 to another account (> stop_amount -> STOP)")
            d2 = date(fy, 6, 19)
            self.debit(r, d2, 20000, f"{hf[0]} {sn} SAVINGS", "TFR", "transfer",
                       note="to the holder's savings (surname Cash is not a cash withdrawal)")
            r.plants.append(f"SP-TRANSFER-OUT: {d} TFR TO A/C 41872261 £1,500.00 (STOP) and {d2} "
                            f"'{hf[0]} {sn} SAVINGS' £200.00")
        if "family_transfer" in t:
            d = self.rday(rng, rng.choice(P[2:10]))
            self.debit(r, d, 8550, f"J {sn}", "FPO", "transfer",
                       note="faster payment to a family member (holder's surname)")
            r.plants.append(f"SP-TRANSFER-OUT: {d} 'J {sn}' £85.50 family member")
        if "loan_back" in t:
            d = date(fy, 7, 8)
            self.debit(r, d, 60000, "D KOWALSKI LOAN", "FPO", "transfer",
                       note="large faster payment to a private person, repaid 12 days later")
            self.credit(r, d + timedelta(days=12), 60000, "D KOWALSKI", "FPI", "loan_back",
                        note="the same person paying the money back")
            r.plants.append(f"SP-TRANSFER-OUT: {d} 'D KOWALSKI LOAN' £600.00, credit back on "
                            f"{d + timedelta(days=12)} (a refund from a payee: no AC-NON-COUNCIL-CREDIT) [interpretation]")
        if "household_utils" in t:
            p = rng.choice(P[2:8])
            for k, nm in enumerate(rng.sample(C.UTILITIES, 2)):
                d = self.rday(rng, P[P.index(p) + k])
                amt = rng.choice([4800, 6200, 7350, 8900])
                self.debit(r, d, amt, nm, "DD", "household", note=f"utility {nm}")
                r.plants.append(f"SP-HOUSEHOLD: {d} '{nm}' £{amt / 100:.2f}")
        if "council_tax" in t:
            d = date(fy, rng.choice([5, 9, 1]) if False else 9, 1)
            d = date(fy, 9, 1)
            self.debit(r, d, 14633, "STOCKPORT MBC COUNCIL TAX", "DD", "household",
                       note="debit TO the council: council tax")
            d2 = date(fy, 12, 4)
            self.debit(r, d2, 52000, "SMBC RENT 4417", "DD", "household", note="rent to the council")
            r.plants.append(f"SP-HOUSEHOLD: {d} STOCKPORT MBC COUNCIL TAX £146.33; {d2} SMBC RENT £520.00")
        if "household_grocery" in t:
            for k in range(2):
                name, town = C.GROCERS[k]
                d = self.rday(rng, rng.choice(P[1:11]))
                amt = rng.choice([4623, 6110, 3899])
                self.debit(r, d, amt, self.card_desc(name, rng, d), "CARD", "household",
                           evid="doc", payee=name, note="general groceries")
                r.docs.append(Doc("receipt", f"R-{rng.randint(10000, 99999)}", d,
                                  "Tesco" if k == 0 else "Asda", amt, "Shopping", "",
                                  month_of(d)))
                r.plants.append(f"SP-HOUSEHOLD: {d} {name} £{amt / 100:.2f} (groceries, with receipt)")
        if "household_telecom" in t:
            for nm in rng.sample(C.TELECOMS, 3):
                d = self.rday(rng, rng.choice(P[1:11]))
                amt = rng.choice([1450, 2999, 4400, 1325])
                self.debit(r, d, amt, nm, "DD", "household", note=f"telecoms/TV {nm}")
                r.plants.append(f"SP-HOUSEHOLD: {d} '{nm}' £{amt / 100:.2f}")
        if "cash" in t:
            descs = ["CASH WITHDRAWAL LLOYDS BANK STOCKPORT", "LNK ATM MARPLE", "CASH NOTEMACHINE HAZEL GRV"]
            for k in range(2):
                d = self.rday(rng, P[0] if k == 0 else rng.choice(P[1:11]))
                amt = rng.choice([5000, 10000, 15000])
                self.debit(r, d, amt, descs[k], "ATM", "cash", note="cash withdrawal")
                r.plants.append(f"SP-CASH: {d} '{descs[k]}' £{amt / 100:.2f}")
        if "unrelated_lines" in t:
            d = date(fy, 4, 16)
            self.debit(r, d, 20000, "TFR TO A/C 12345678", "TFR", "transfer",
                       note="transfer in April; must not count against bank_charges/transport")
            d2 = date(fy, 4, 22)
            self.debit(r, d2, 4000, "AMAZON.CO.UK*2K3JD9", "CARD", "unknown",
                       note="uncategorised, no receipt")
            d3 = date(fy, 5, 9)
            self.debit(r, d3, 3599, "PAYPAL *EBAY", "CARD", "unknown", note="uncategorised, no receipt")
            r.plants.append(f"unrelated lines (bank_charges, transport) + April transfer £200, "
                            f"cash, Amazon £40.00, PayPal £35.99: no SP-OVER-BUDGET")
        if "unknown_noevid" in t:
            d = self.rday(rng, rng.choice(P[1:11]))
            self.debit(r, d, 2399, "AMAZON.CO.UK*ZX41K", "CARD", "unknown", note="no receipt")
            d2 = self.rday(rng, rng.choice(P[1:11]))
            self.debit(r, d2, 1899, "AMAZON MKTPLACE*RT5", "CARD", "unknown", evid="doc",
                       payee="Amazon", note="uncategorised, with receipt")
            r.docs.append(Doc("receipt", f"R-{rng.randint(10000, 99999)}", d2, "Amazon", 1899,
                              "Weighted blanket", "small_aids", month_of(d2)))
            r.plants.append(f"EV-NO-EVIDENCE: {d} AMAZON £23.99; {d2} Amazon £18.99 has a receipt")
        if "stopped_end" in t:
            for k in range(3):
                x = self.activity(r, rng.choice([a for a in ("vue", "taxi", "jump")]), rng,
                                  a=r.end + timedelta(days=3 + 9 * k),
                                  b=r.end + timedelta(days=3 + 9 * k + 6),
                                  line=None, note="after dp_end_date")
        if "not_in_plan" in t:
            for k, d in enumerate([date(fy, 10, 8), date(fy, 10, 22), date(fy, 11, 5)]):
                amt = 4500
                name = "Stockport Counselling Service"
                doc = Doc("invoice", f"SCS-{rng.randint(1000, 9999)}", d, name, amt,
                          "Counselling session", "counselling", month_of(d),
                          period_start=d, period_end=d)
                r.docs.append(doc)
                self.debit(r, d + timedelta(days=1), amt, f"STOCKPORT COUNSELLING {doc.doc_id}",
                           "FPO", "spend", cat="counselling", evid="doc", payee=name,
                           note="counselling: no counselling line in the plan")
            r.plants.append("SP-NOT-IN-PLAN x3: Stockport Counselling Service Oct-Nov (evidenced)")
        if "part_year_lines" in t:
            a, b = date(fy, 4, 1), date(fy, 12, 31)
            ln = self.add_line(r, "short_breaks", "Short breaks (ends December)",
                               providers=["Together Trust"], vfrom=a, vto=b)
            self.activity(r, "together", rng, a=a, b=b - timedelta(days=20), line=ln)
            a2 = date(fy, 10, 1)
            ln2 = self.add_line(r, "therapy", "Speech therapy (from October)",
                                providers=["Speech Therapy North West"], vfrom=a2)
            self.activity(r, "speech", rng, a=a2 + timedelta(days=6), line=ln2)
            d = date(fy, 7, 16)
            self.activity(r, "speech", rng, a=d, b=d + timedelta(days=13), line=ln2,
                          note="therapy before its line starts")
            ln3 = self.add_line(r, "therapy", "Therapy delivered by school (notional)",
                                mgmt="notional", annual=250000, fixed=True)
            r.plants.append(f"part-year lines {ln.line_id} (to {b}) and {ln2.line_id} (from {a2}); "
                            f"a speech session in July before {ln2.line_id} starts: SP-NOT-IN-PLAN; "
                            f"notional line {ln3.line_id} not in DP value")
        if "school_consent" in t:
            ln = self.add_line(r, "education_support", "Support in school setting",
                               providers=["St Thomas Primary School"], school=True,
                               consent=date(fy, 10, 1), stream="hnb_topup_maintained")
            for m in (9, 10, 11):
                d = date(fy, m, 10)
                inv = Doc("invoice", f"STP-{m:02d}{rng.randint(10, 99)}", d - timedelta(days=3),
                          "St Thomas Primary School", 15000, "1:1 support in school",
                          "education_support", month_of(d), period_start=date(fy, m, 1),
                          period_end=month_end(d))
                r.docs.append(inv)
                self.debit(r, d, 15000, f"ST THOMAS PRIMARY {inv.doc_id}", "FPO", "spend",
                           cat="education_support", evid="doc", payee="St Thomas Primary School",
                           note="school setting line")
            r.plants.append(f"SP-SCHOOL-CONSENT: {date(fy, 9, 10)} £150.00 before consent {date(fy, 10, 1)}")
            ln2 = self.add_line(r, "small_aids", "Specialist seating for school",
                                school=True, consent=None, providers=["Complete Care Shop"],
                                stream="hnb_topup_maintained")
            d = date(fy, 6, 12)
            r.docs.append(Doc("receipt", f"CCS-{rng.randint(1000, 9999)}", d, "Complete Care Shop",
                              8900, "Seat insert", "small_aids", month_of(d)))
            self.debit(r, d, 8900, self.card_desc("CCS MOBILITY", rng, d), "CARD", "spend",
                       cat="small_aids", evid="doc", payee="Complete Care Shop",
                       note="school setting line with no consent date")
            r.plants.append(f"SP-SCHOOL-CONSENT: {d} Complete Care Shop £89.00 (line has no consent)")
        if "overbudget" in t:
            r.tags.add("lump_pending")
        if "new_starter" in t:
            r.plants.append(f"new DP from {r.start}: not active before; RV-REVIEW-DUE 3 months later")
        if "agreed_person" in t:
            ln = self.add_line(r, "education_support", "Tuition", providers=["Priya Kaur"])
            d = date(fy, 4, 1)
            while d.weekday() != 2:
                d += timedelta(days=1)
            while d <= self.fy_end:
                if d.month != 8:
                    r.docs.append(Doc("receipt", f"PK{d:%m%d}", d, "Priya Kaur", 3000,
                                      "Tuition 1 hour", "education_support", month_of(d)))
                    self.debit(r, d, 3000, "P KAUR TUITION", "FPO", "spend",
                               cat="education_support", evid="doc", payee="Priya Kaur",
                               note="self-employed tutor named on the plan line")
                d += timedelta(days=7)
            r.plants.append("agreed self-employed tutor 'P KAUR TUITION' £30 weekly with receipts, "
                            "named in the plan line's providers (ambiguous: PY-UNKNOWN-PAYEE?)")
            r.ambiguous.append((None, "PY-UNKNOWN-PAYEE", None, None, "",
                                "self-employed tutor named on plan line paid weekly £30"))
            r.ambiguous.append((None, "SP-TRANSFER-OUT", None, None, "",
                                "self-employed tutor named on plan line paid weekly £30"))
        # evidence-side plants: only debits whose receipt is unmistakable (no look-alike nearby)
        def lonely(x):
            near = [y for y in r.txns if y is not x and y.payee == x.payee and
                    abs((y.d - x.d).days) <= 10]
            docs = [dd for dd in r.docs if dd.doc_id in x.doc_ids]
            return not near and len(docs) == 1 and docs[0].folder == month_of(x.d)
        spends = [x for x in r.txns if x.kind == "spend" and x.evid == "doc" and x.typ == "CARD"
                  and lonely(x) and 5 < x.d.day < 24]
        if "duplicate" in t and spends:
            x = rng.choice(spends)
            spends.remove(x)
            dup = self.debit(r, x.d, -x.amt, x.desc, x.typ, "spend", cat=x.cat, evid=None,
                             payee=x.payee, dup=True, note="charged twice, one receipt")
            r.plants.append(f"SP-DUPLICATE-PAYMENT + EV-NO-EVIDENCE: {x.d} '{x.desc}' "
                            f"£{-x.amt / 100:.2f} twice the same day, one receipt")
            # a genuine pair: two taxi rides on one day, two receipts (no finding)
            name, aliases, cat, _ = C.PROV["Stockport Taxis"]
            d = date(self.fy, 6, 14)
            self.add_line(r, "transport", self.line_desc("transport"))
            for k in range(2):
                self.debit(r, d, 1280, "STOCKPORT TAXIS STOCKPORT GB", "CARD", "spend",
                           cat="transport", evid="doc", payee=name, note="two rides same day")
                r.docs.append(Doc("receipt", f"T-{rng.randint(1000, 9999)}{k}", d, name, 1280,
                                  "Taxi fare", "transport", month_of(d)))
            r.plants.append(f"noise: two taxi rides {d} £12.80 each with two receipts (no duplicate)")
        if "mismatch" in t and spends:
            x = rng.choice(spends)
            spends.remove(x)
            doc = next(dd for dd in r.docs if dd.doc_id in x.doc_ids)
            doc.amount -= 300
            x.mismatch = -300
            x.note += " (receipt £3.00 less)"
            r.plants.append(f"EV-AMOUNT-MISMATCH: {x.d} {x.payee} debit £{-x.amt / 100:.2f}, "
                            f"receipt £{doc.amount / 100:.2f}")
        if "orphan" in t:
            for k, (sup, amt, cat, desc) in enumerate([("Argos", 2499, "small_aids", "Ear defenders"),
                                                       ("Vue Entertainment", 1787, "day_activities",
                                                        "Tickets (paid on own card)")]):
                d = self.rday(rng, rng.choice(self.periods[1:11]))
                r.docs.append(Doc("receipt", f"R-{rng.randint(10000, 99999)}", d, sup, amt, desc,
                                  cat, month_of(d), orphan=True))
                r.plants.append(f"EV-ORPHAN-RECEIPT: {d} {sup} £{amt / 100:.2f} paid from another account")
        if "row_rejected" in t and spends:
            x = rng.choice(spends)
            spends.remove(x)
            doc = next(dd for dd in r.docs if dd.doc_id in x.doc_ids)
            doc.bad_amount = f"{doc.amount // 100},{doc.amount % 100:02d}"
            x.evid = None
            x.note += " (its receipt row has a decimal comma and is rejected)"
            r.plants.append(f"DQ-ROW-REJECTED: receipt {doc.doc_id} amount '{doc.bad_amount}'; "
                            f"so {x.d} {x.payee} £{-x.amt / 100:.2f} is EV-NO-EVIDENCE")
        cands = [s for s in r.txns if s.kind == "spend" and s.amt < 0 and s.typ == "CARD"
                 and 3 < s.d.day < 20 and s.d.month != 3]
        if "refund" in t and cands:
            x = rng.choice(cands)
            self.credit(r, x.d + timedelta(days=4), -x.amt, f"{x.desc.split(' GB')[0]} REFUND",
                        "FPI", "refund", payee=x.payee, note="refund from a provider the family pays")
            r.plants.append(f"noise: refund {x.d + timedelta(days=4)} from {x.payee} £{-x.amt / 100:.2f}")
        if "noncouncil" in t:
            d = self.rday(rng, rng.choice(P[1:6]))
            self.credit(r, d, 7265, "DWP DLA", "BGC", "other_credit", note="benefit paid into DP account")
            d2 = self.rday(rng, rng.choice(P[6:11]))
            self.credit(r, d2, 20000, f"{hf[0]} {sn} TOP UP", "FPI", "other_credit",
                        note="family top-up")
            d3 = self.rday(rng, rng.choice(P[2:11]))
            self.credit(r, d3, 4000, "CASH DEPOSIT STOCKPORT", "DEP", "other_credit",
                        note="cash paid in")
            r.plants.append(f"AC-NON-COUNCIL-CREDIT: {d} DWP DLA £72.65, {d2} top-up £200.00, "
                            f"{d3} cash deposit £40.00")
        if "yearend_invoice" in t:
            d = date(fy + 1, 3, 18)
            r.docs.append(Doc("invoice", f"INV-{rng.randint(10000, 99999)}", d,
                              "Together Trust", 37000, "Two overnight short breaks (March)",
                              "short_breaks", self.periods[-1], period_start=date(fy + 1, 3, 1),
                              period_end=date(fy + 1, 3, 15), orphan=True))
            self.add_line(r, "short_breaks", self.line_desc("short_breaks"))
            r.plants.append(f"year end: invoice {d} Together Trust £370.00 unpaid at 31 March "
                            "(committed; EV-ORPHAN-RECEIPT as no debit within 7 days)")

    # ------------------------------------------------------------------ finishing
    def budget_to_date(self, ln: Line, upto: date, annual=None) -> int:
        annual = ln.annual if annual is None else annual
        a = max(self.fy_start, ln.vfrom)
        b = min(upto, ln.vto)
        if b < a:
            return 0
        n = (b - a).days + 1
        return min(annual, half_up_div(annual * n, self.ndays))

    def size_lines(self, r):
        """annual amounts so that ordinary spend stays within ~95% of the pro-rata budget"""
        for ln in r.lines:
            if ln.fixed or ln.mgmt == "notional":
                continue
            ev = [x for x in r.txns if x.amt < 0 and x.cat == ln.category and x.kind in
                  ("spend", "wage", "hmrc", "fee") and ln.vfrom <= x.d <= ln.vto
                  and self.fy_start <= x.d]
            ev += [x for x in r.txns if x.amt < 0 and x.amb_line and ln.category ==
                   "personal_assistant"]
            total = -sum(x.amt for x in ev)
            need = total * 100 // 93
            for p in self.periods:
                me = month_end(date(int(p[:4]), int(p[5:]), 1))
                s = -sum(x.amt for x in ev if x.d <= me)
                a = max(self.fy_start, ln.vfrom)
                b = min(me, ln.vto)
                if b < a or s == 0:
                    continue
                n = (b - a).days + 1
                need = max(need, s * self.ndays * 100 // (n * 103) + 1)
            if ln.category == "bank_charges":
                need = max(need, 6000)
            need = max(need, 10000)
            if ln.part_year:
                unit = 36500
                ln.annual = -(-need // unit) * unit
            else:
                ln.annual = -(-need // 100) * 100

    def plant_lump(self, r, rng):
        ln = next(l for l in r.lines if l.category == "short_breaks")
        fy = self.fy
        me = date(fy, 8, 31)
        core = -sum(x.amt for x in r.txns if x.cat == "short_breaks" and x.amt < 0 and x.d <= me
                    and x.kind == "spend")
        bud = self.budget_to_date(ln, me)
        need = bud * 110 // 100 - core + bud * 25 // 100
        weeks = 4
        per = -(-need // weeks // 100) * 100
        for k in range(weeks):
            d = date(fy, 7, 28) + timedelta(days=7 * k)
            inv = Doc("receipt", f"KZ-{d:%m%d}", d, "Kidz Holiday Club", per,
                      "Summer holiday scheme week", "short_breaks", month_of(d))
            r.docs.append(inv)
            self.debit(r, d, per, "KIDZ HOLIDAY CLUB", "DD", "spend", cat="short_breaks",
                       evid="doc", payee="Kidz Holiday Club", note="summer scheme (over budget)")
        r.plants.append(f"SP-OVER-BUDGET: summer scheme 4 x £{per / 100:.2f} on line {ln.line_id} "
                        f"(annual £{ln.annual / 100:.2f})")

    def annual_dp_on(self, r, d: date) -> int:
        return sum(l.annual for l in r.lines if l.mgmt == "direct_payment" and not l.invalid
                   and l.vfrom <= d <= l.vto)

    def finish(self, r, rng, size_lines=True):
        t = r.tags
        fy = self.fy
        if size_lines:
            self.size_lines(r)
        if "lump_pending" in t:
            self.plant_lump(r, rng)
        if "plan_invalid" in t:
            self.add_line(r, "education_support", "Specialist tuition (HNB support)",
                          stream="hnb_support", annual=300000, fixed=True, invalid=True)
            ln = r.lines[-1]
            r.plants.append(f"DQ-PLAN-INVALID: {ln.line_id} funding hnb_support paid as DP (not counted)")
            ln2 = self.add_line(r, "therapy", "OT delivered in school (notional)", mgmt="notional",
                                annual=180000, fixed=True)
        # council payments: 4-weekly or monthly, pro-rata to the DP lines in force
        wa, wb = self.active_window(r)
        if r.status == "stopped" and r.end is None:
            wb = wa - timedelta(days=1)
        four = rng.random() < 0.6
        d = wa + timedelta(days=rng.randint(1, 6)) if wa == self.fy_start else wa
        n = 0
        ref_style = rng.randint(0, 2)
        dues = []
        while d <= wb:
            dues.append((d, self.annual_dp_on(r, d)))
            d = d + timedelta(days=28) if four else add_months(d, 1)
        # the council pays what the plan costs the family: the agreed spend of the year plus a
        # little, spread over the payments in proportion to the DP lines in force
        legit = -sum(x.amt for x in r.txns if x.kind not in ("council",)
                     and wa <= x.d <= max(wb, wa))
        tot_w = sum(v for _, v in dues) or 1
        for d, v in dues:
            n += 1
            amt = legit * 103 // 100 * v // tot_w
            if amt > 0:
                r.schedule.append(Sched(d, amt, f"DP{r.rid}-{n:02d}"))
        desc = ["SMBC DIRECT PAYMENT 4WK" if four else "SMBC DIRECT PAYMENT",
                "STOCKPORT MBC DP {ref}", "STOCKPORT COUNCIL DIRECT PAYMT {ref}"][ref_style]
        short_i = missing_i = None
        if "payment_short" in t:
            short_i = 3
        if "payment_missing" in t:
            missing_i = 7
        for k, s in enumerate(r.schedule):
            if k == missing_i:
                r.plants.append(f"AC-PAYMENT-MISSING: council payment due {s.due} £{s.amount / 100:.2f} never arrived")
                continue
            amt = s.amount - (10000 if k == short_i else 0)
            if k == short_i:
                r.plants.append(f"AC-PAYMENT-MISSING: payment due {s.due} arrived £100.00 short")
            arr = s.due + timedelta(days=rng.choice([0, 0, 0, 1]))
            s.arrived, s.arrived_on = amt, arr
            r.txns.append(Txn(arr, amt, desc.format(ref=s.ref), "BGC", "council", sched=s,
                              note=f"council payment {s.ref}"))
        if "gap" in t:
            cut = date(fy, 10, 20)
            gone = [x for x in r.txns if cut < x.d <= date(fy, 10, 31)]
            ids = {i for x in gone for i in x.doc_ids}
            r.txns = [x for x in r.txns if x not in gone]
            r.docs = [x for x in r.docs if x.doc_id not in ids]
            r.schedule = [s for s in r.schedule if not (cut < s.due <= date(fy, 10, 31))]
            r.ofx_cut[f"{fy}-10"] = cut
            r.plants.append(f"DQ-STATEMENT-GAP: October OFX ends {cut} (21-31 Oct uncovered, no "
                            "transactions then)")
        # a CSV export covers only months with a row: keep a fee in otherwise empty months
        if r.fmt not in ("ofx1", "ofx2"):
            for p in self.periods:
                y, m = map(int, p.split("-"))
                if r.start and r.start > month_end(date(y, m, 1)):
                    continue
                if not any(month_of(x.d) == p for x in r.txns):
                    r.txns.append(Txn(date(y, m, 28), -300, "MONTHLY ACCOUNT FEE", "FEE", "fee",
                                      cat="bank_charges", evid="bank", note="account fee"))
        # ordering and observation
        r.txns.sort(key=lambda x: (x.d, 0 if x.amt > 0 else 1, x.desc))
        for k, x in enumerate(r.txns):
            x.seq = k
            x.fitid = f"{x.d:%Y%m%d}{k:05d}"
        if "missing_april" in t:
            r.missing_months.add(self.periods[0])
            for x in r.txns:
                if month_of(x.d) == self.periods[0]:
                    x.observed = False
            r.docs = [x for x in r.docs if x.folder != self.periods[0]]
            r.payslips = [x for x in r.payslips if month_of(x["pay_date"]) != self.periods[0]]
            r.hmrc = [x for x in r.hmrc if x["folder"] != self.periods[0]]
            r.plants.append("DQ-STATEMENT-MISSING: no statement and no paperwork for April")
        if "balance_break" in t:
            p = f"{fy}-10"
            cands = [x for x in r.txns if month_of(x.d) == p and x.amt < 0 and x.kind == "spend"
                     and 5 < x.d.day < 26]
            x = cands[len(cands) // 2]
            # the family edited a gambling debit out of the export
            x2 = Txn(x.d, -3000, "PADDY POWER LONDON GB", "CARD", "prohibited", observed=False,
                     note="deleted from the export by the family")
            r.txns.insert(r.txns.index(x) + 1, x2)
            r.break_month = p
            r.plants.append(f"DQ-BALANCE-BREAK: {p} export has a row deleted ({x2.d} PADDY POWER "
                            "£30.00): running balance jumps")
            for k, y in enumerate(r.txns):
                y.seq = k
        if "wrong_account" in t:
            r.wrong_account = f"{fy}-11"
            r.plants.append(f"DQ-WRONG-ACCOUNT: family's personal Lloyds account statement in "
                            f"{fy}-11 folder (its Tesco/Sky/cash rows must not be audited)")
        if "dup_files" in t:
            r.dup_statement = (f"{fy}-09", f"{fy}-10")
            r.dup_receipts = (f"{fy}-09", f"{fy}-10")
            r.plants.append(f"DQ-DUPLICATE-FILE x2: September statement and receipts.csv resent "
                            f"in the {fy}-10 folder")
        # a family's own receipt/invoice numbers are unique within the family (other families'
        # numbers may well be the same)
        linked = {i for x in r.txns for i in x.doc_ids}
        seen = {d.doc_id for d in r.docs if d.doc_id in linked}
        for d in r.docs:
            if d.doc_id in linked:
                continue
            while d.doc_id in seen:
                d.doc_id += "B"
            seen.add(d.doc_id)
        self.choose_opening(r, rng)

    def balances(self, r, opening):
        """end-of-day balances (true, all transactions) as {date: balance}"""
        bal = opening
        eod = {}
        byday = {}
        for x in r.txns:
            byday.setdefault(x.d, []).append(x)
        d = self.fy_start
        while d <= self.fy_end:
            for x in byday.get(d, []):
                bal += x.amt
            eod[d] = bal
            d += timedelta(days=1)
        return eod

    def choose_opening(self, r, rng):
        t = r.tags
        eod = self.balances(r, 0)
        wa, wb = self.active_window(r)
        mes = [month_end(date(int(p[:4]), int(p[5:]), 1)) for p in self.periods]
        dpv_me = [self.annual_dp_on(r, d) for d in mes]
        lo_need = max([(v * 5 + 99) // 100 * 115 // 100 - eod[d] for d, v in zip(mes, dpv_me)]
                      + [-min(eod.values()) + 5000])
        hi_allow = min([v * 10 // 100 + v * 8 // 52 - eod[d] for d, v in zip(mes, dpv_me)
                        if v > 0] + [10 ** 9]) * 95 // 100
        if "surplus" in t:
            op = hi_allow + max(dpv_me) * 12 // 100
            r.plants.append("AC-SURPLUS: the family holds far more than contingency + 8 weeks")
        elif "low_contingency" in t:
            op = max(-min(eod.values()) + 2500, lo_need - max(dpv_me) * 3 // 100)
            r.plants.append("AC-LOW-CONTINGENCY: balance kept near zero")
        elif "overdrawn" in t:
            op = -min(eod.values()) - 4321
            r.plants.append("AC-OVERDRAWN: balance dips below zero before a council payment")
        elif lo_need <= hi_allow:
            op = lo_need + (hi_allow - lo_need) * rng.randint(25, 60) // 100
        else:
            op = lo_need
            r.plants.append("(balance band too narrow: contingency findings follow from the arithmetic)")
        r.opening = op
