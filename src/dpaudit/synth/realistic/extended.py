"""Extended councils (issue 18): prepaid-card recipients, client contributions and cohort
patterns (personal assistants shared between families, supplier invoice numbers seen twice,
providers' amounts).  Written from /work/briefs/defs.md and the spec, not from the engine.

The extended recipients come AFTER the default ones and draw from their own random streams, so
the first ``n`` recipients of an extended council are the default council's (and a council
generated without features is byte-identical to one generated before this module existed).
Like generate.py this is semantics only (what a row IS); truth_ext.py turns it into findings."""
from __future__ import annotations

import random
from datetime import date, timedelta

from . import catalogue as C
from .generate import FORMATS
from .model import (CardRow, Contribution, Doc, Employee, Txn, add_months, month_end, month_of)

FEATURES = ("cards", "contributions", "cohort")

# (feature the recipient exists for, tags).  A tag of a disabled feature is dropped; a recipient
# whose own feature is disabled is not generated.
EXT_ROLES = [
    # prepaid cards
    ("cards", ["card", "canon", "card_mcc_prohibited"]),
    ("cards", ["card", "vendor", "card_mcc_household"]),
    ("cards", ["card", "canon", "card_cash", "card_noise"]),
    ("cards", ["card", "vendor", "card_pending"]),
    ("cards", ["card", "canon", "card_wrong", "contrib_card"]),
    ("cards", ["card", "vendor", "low_contingency", "payment_short", "card_declines"]),
    ("cards", ["card", "canon", "stopped_end"]),
    ("cards", ["card", "vendor", "card_noise", "card_refund", "surplus"]),
    # client contributions (with some of the cohort plants)
    ("contributions", ["contrib_weekly_good", "dup_inv_a", "dup_resubmit"]),
    ("contributions", ["contrib_weekly_short", "surplus", "dup_inv_b"]),
    ("contributions", ["contrib_4weekly_stops", "dup_tutor_a"]),
    ("contributions", ["contrib_monthly_31", "contrib_other_credits", "dup_tutor_b"]),
    ("contributions", ["contrib_monthly_payer", "surplus", "prov_round"]),
    ("contributions", ["contrib_arrears", "employer", "prov_round"]),
    # cohort: personal assistants working for several families, providers' amounts
    ("cohort", ["employer", "pa_joanne", "pa_chloe", "pa_megan"]),
    ("cohort", ["employer", "pa_joanne", "pa_chloe", "pa_megan"]),
    ("cohort", ["employer", "pa_joanne", "pa_chloe", "pa_megan", "prov_benford"]),
    ("cohort", ["employer", "pa_joanne_late", "pa_megan", "prov_benford"]),
    ("cohort", ["employer", "pa_kelly_a", "prov_round"]),
    ("cohort", ["employer", "pa_kelly_b", "prov_round_small"]),
    ("cohort", ["employer", "pa_nadia_monthly", "prov_benford"]),
    ("cohort", ["employer", "pa_nadia_weekly", "pa_namesake"]),
]


def tag_feature(tag: str) -> str | None:
    if tag.startswith("card") or tag in ("canon", "vendor"):
        return "cards"
    if tag.startswith("contrib"):
        return "contributions"
    if tag.startswith(("dup_", "prov_", "pa_")):
        return "cohort"
    return None  # plain behaviour (surplus, employer, stopped_end, ...)


# ---------------------------------------------------------------------- cohort people
# A person is one NI number (or, with no NI number, one name).  Each family writes the person in
# its own employees.csv row: (name, ni as written, bank descriptor, payee_names, freq, payday,
# hours: number or callable(period_start, period_end), employment start)
def _people(fy):
    def kelly_b(ps, pe):  # two weeks in October at 40 h: 42 + 40 = 82 > 78
        return 40 if ps in (date(fy, 10, 6), date(fy, 10, 13)) else 36

    def nadia_m(ps, pe):  # September at 168 h = 39.2 h a week, + 40 at the other family
        return 168 if ps.month == 9 else 150

    return {
        "pa_joanne": ("joanne", [
            ("Joanne Smith", "JT482107B", "J SMITH", ["J SMITH", "SMITH J"], "weekly", 4, 10, None),
            ("Jo Smith", "jt 48 21 07 b", "JO SMITH", ["JO SMITH"], "weekly", 4, 9, None),
            ("Joanne Smith", "JT 48 21 07 B", "SMITH J", ["J SMITH", "SMITH J"], "monthly", 28, 40,
             None)]),
        "pa_joanne_late": ("joanne", [
            ("JOANNE SMITH", "JT482107B", "JOANNE SMITH", [], "monthly", 28, 43, date(fy, 10, 1))]),
        "pa_chloe": ("chloe", [
            ("Chloe Barlow", "NP317742C", "C BARLOW", ["C BARLOW", "BARLOW C"], "weekly", 4, 12, None),
            ("Chloe Barlow", "NP 31 77 42 C", "BARLOW C", ["C BARLOW", "BARLOW C"], "weekly", 4, 8,
             None),
            ("Chloe Barlow", "np317742c", "CHLOE BARLOW", [], "monthly", 25, 30, None)]),
        "pa_megan": ("megan", [
            ("Megan Lowe", "", "M LOWE", ["M LOWE", "LOWE M"], "weekly", 4, 8, None),
            ("MEGAN LOWE", "", "LOWE M", ["M LOWE", "LOWE M"], "weekly", 4, 6, None),
            ("Megan  Lowe", "", "MEGAN LOWE", ["MEGAN LOWE"], "weekly", 4, 7, None),
            ("megan lowe", "", "M LOWE WAGES", ["M LOWE", "LOWE M"], "monthly", 28, 30, None)]),
        "pa_kelly_a": ("kelly", [
            ("Kelly Riley", "KR205591A", "K RILEY", ["K RILEY", "RILEY K"], "weekly", 4, 42, None)]),
        "pa_kelly_b": ("kelly", [
            ("Kelly Riley", "KR 20 55 91 A", "KELLY RILEY", [], "weekly", 4, kelly_b, None)]),
        "pa_nadia_monthly": ("nadia", [
            ("Nadia Kerr", "WN630814D", "N KERR", ["N KERR", "KERR N"], "monthly", 28, nadia_m, None)]),
        "pa_nadia_weekly": ("nadia", [
            ("Nadia Kerr", "WN 63 08 14 D", "NADIA KERR", [], "weekly", 4, 40, None)]),
        "pa_namesake": ("jane", [
            ("Jane Smith", "SH901266A", "J SMITH", ["J SMITH"], "weekly", 4, 12, None)]),
    }


class Ext:
    def __init__(self, gen, feats):
        self.g = gen
        self.feats = frozenset(feats)
        self.rng = random.Random(f"extended-{gen.seed}")
        self.people = _people(gen.fy)
        self.person_dob = {}
        self.person_dbs = {}
        self.used_last4 = set()
        self.used_refs = set()
        self.used_surnames = set()
        self.counters = {}
        self.shared = {}  # cross-recipient plants (invoice 0042 ...)
        self.seen_tag = {}

    # ------------------------------------------------------------------ helpers
    def seq(self, key, start=1):
        self.counters[key] = self.counters.get(key, start - 1) + 1
        return self.counters[key]

    def ref(self, rng):
        while True:
            x = f"{rng.randint(10 ** 9, 10 ** 10 - 1)}"
            if x not in self.used_refs:
                self.used_refs.add(x)
                return x

    def build(self, start_index):
        out = []
        for j, (feat, role) in enumerate(EXT_ROLES):
            if feat not in self.feats:
                continue
            tags = [t for t in role if tag_feature(t) in (None,) or tag_feature(t) in self.feats]
            rng = random.Random(f"ext-recipient-{self.g.seed}-{j}")
            out.append(self.make(start_index + j, set(tags), rng))
        return out

    # ------------------------------------------------------------------ recipients
    def make(self, i, tags, rng):
        from .model import Recipient
        g = self.g
        rid = g.new_rid(i, rng)
        hf = rng.choice(C.FIRST_F + C.FIRST_M)
        pool = [s for s in C.SURNAMES if s not in self.used_surnames] or C.SURNAMES
        sn = rng.choice(pool)
        self.used_surnames.add(sn)
        child = rng.choice(C.CHILD)
        dob = date(rng.randint(2011, 2020), rng.randint(1, 12), rng.randint(1, 28))
        if "card" in tags:
            while True:
                last4 = f"{rng.randint(0, 9999):04d}"
                if last4 not in self.used_last4:
                    self.used_last4.add(last4)
                    break
            sc, acc = "", last4
            fmt = "card_canon" if "canon" in tags else "card_vendor"
        else:
            sc, acc = g.new_account(rng)
            last4 = ""
            fmt = rng.choice(FORMATS)
        start = date(rng.randint(2019, 2024), rng.randint(1, 12), rng.randint(1, 28))
        r = Recipient(rid=rid, child_first=child, surname=sn, dob=dob, mgmt="direct_payment",
                      sort_code=sc, account=acc, holder=f"{hf} {sn}", holder_first=hf,
                      start=start, end=None, status="active", stop_req=False,
                      officer=rng.choice(C.OFFICERS), fmt=fmt, tags=tags, card_last4=last4)
        if "stopped_end" in tags:
            r.status, r.end = "stopped", date(g.fy, 8, 31)
            r.plants.append(f"stopped: dp_end_date {r.end}; card spend after it is SP-AFTER-END")
        if r.is_card:
            self.card_spending(r, rng)
            r.plants.append(f"prepaid card ending {last4} ({'canonical' if 'canon' in tags else 'vendor'}"
                            " card layout): recipients.csv sort_code blank, account_number = last 4")
        else:
            g.base_spending(r, rng)
        if "employer" in tags:
            self.employer(r, rng)
        self.contributions(r, rng)
        self.cohort_plants(r, rng)
        if r.is_card:
            self.card_plants(r, rng)
        g.plants(r, rng)  # base plants of plain tags (stopped_end)
        g.finish(r, rng)
        if r.is_card:
            self.to_card(r, rng)
            self.card_ghosts(r, rng)
        self.check(r)
        return r

    # ------------------------------------------------------------------ card spending
    CARD_POOL = ["hydro", "vue", "jump", "swim", "leisure", "taxi", "a1cabs", "youth", "scouts",
                 "sensory", "hair", "kidz", "tutor", "explore"]

    def card_spending(self, r, rng):
        keys = rng.sample(self.CARD_POOL, 3)
        if "stopped_end" in r.tags:
            keys = keys[:2]
        for k in keys:
            self.g.activity(r, k, rng)
        if rng.random() < 0.5:
            self.g.add_line(r, "bank_charges", self.g.line_desc("bank_charges"))
            for p in self.g.periods:
                y, m = map(int, p.split("-"))
                d = date(y, m, 28)
                wa, wb = self.g.active_window(r)
                if wa <= d:
                    r.txns.append(Txn(d, -150, "MONTHLY ACCOUNT FEE", "FEE", "fee",
                                      cat="bank_charges", evid="bank", note="card account fee"))

    def portal_merchant(self, base, rng):
        """a merchant as card portals print it: upper case, the name field cut at 22
        characters, then the terminal's town and country"""
        base = base.upper()[:22].rstrip()
        town = rng.choice(C.TOWNS)
        style = rng.randint(0, 3)
        if style == 0:
            return f"{base:<23}{town[:13]:<14}GB"
        if style == 1:
            return f"{base} {town} GB"
        if style == 2:
            return f"{base} {town[:10]}"
        return base

    def provider_merchant(self, payee, rng):
        name, aliases, _, _ = C.PROV.get(payee) or C.EXT_PROV[payee]
        x = rng.random()
        base = aliases[0] if x < 0.45 else aliases[-1] if x < 0.7 else name
        return self.portal_merchant(base, rng)

    def card_txn(self, r, d, amt, merchant, mcc, kind, rng, status="settled", auth_lag=None,
                 evid=None, payee="", note="", doc=None):
        t = Txn(d, -amt, merchant, "CARD", kind, evid=evid, payee=payee, note=note, mcc=mcc,
                card_status=status, card_ref=self.ref(rng))
        if auth_lag and (d - timedelta(days=auth_lag)).month == d.month:
            t.auth_d = d - timedelta(days=auth_lag)
        if doc is not None:
            r.docs.append(doc)
            t.doc_ids = [doc.doc_id]
        r.txns.append(t)
        return t

    def card_plants(self, r, rng):
        t, P = r.tags, self.g.periods

        def day(p, lo=4, hi=24):
            y, m = map(int, p.split("-"))
            return date(y, m, rng.randint(lo, hi))

        if "card_mcc_prohibited" in t:
            d = day(P[3])
            self.card_txn(r, d, 2500, self.portal_merchant("QUINNBET", rng), "7995", "prohibited",
                          rng, auth_lag=1, note="online betting: MCC 7995 (name in no keyword list)")
            d2 = day(P[5])
            self.card_txn(r, d2, 1840, "THE ARDEN ARMS STOCKPORT", "5813", "prohibited", rng,
                          note="pub: MCC 5813")
            d3 = day(P[8])
            doc = Doc("receipt", f"R-{rng.randint(10000, 99999)}", d3, "Bottle Stop", 2399,
                      "Drinks", "", month_of(d3))
            self.card_txn(r, d3, 2399, "BOTTLE STOP MARPLE GB", "5921", "prohibited", rng,
                          evid="doc", payee="Bottle Stop", note="off-licence with a receipt: MCC 5921",
                          doc=doc)
            r.plants.append(f"SP-PROHIBITED by MCC: {d} QUINNBET 7995 £25.00 (authorised then "
                            f"settled: one finding), {d2} THE ARDEN ARMS 5813 £18.40, {d3} BOTTLE "
                            "STOP 5921 £23.99 (receipt); a declined BET365 attempt raises nothing")
        if "card_mcc_household" in t:
            d = day(P[2])
            self.card_txn(r, d, 4500, self.portal_merchant("UTILITA ENERGY", rng), "4900",
                          "household", rng, note="energy top-up: MCC 4900")
            d2 = day(P[4])
            self.card_txn(r, d2, 1000, "SMARTY MOBILE", "4814", "household", rng,
                          note="mobile phone: MCC 4814")
            d3 = day(P[6])
            doc = Doc("receipt", f"R-{rng.randint(10000, 99999)}", d3, "Bargain Foods", 3762,
                      "Groceries", "", month_of(d3))
            self.card_txn(r, d3, 3762, self.portal_merchant("BARGAIN FOODS LTD", rng), "5411",
                          "household", rng, evid="doc", payee="Bargain Foods",
                          note="groceries with a receipt: MCC 5411", doc=doc, auth_lag=2)
            d4 = day(P[9])
            self.card_txn(r, d4, 2840, "BOTTLE BAR AND SHOP MANCHESTER", "5411", "household", rng,
                          note="the name has the prohibited words 'bar'/'bottle bar' but the MCC is "
                               "5411 (grocery): the MCC decides before any keyword -> SP-HOUSEHOLD")
            r.plants.append(f"SP-HOUSEHOLD by MCC: {d} UTILITA ENERGY 4900 £45.00, {d2} SMARTY "
                            f"MOBILE 4814 £10.00, {d3} BARGAIN FOODS 5411 £37.62 (receipt), {d4} "
                            "BOTTLE BAR AND SHOP 5411 £28.40 (MCC beats the keyword 'bar'); a "
                            "reversed TESCO row raises nothing")
        if "card_cash" in t:
            d = day(P[1])
            self.card_txn(r, d, 4000, "NOTEMACHINE HAZEL GRV", "6011", "cash", rng,
                          note="ATM: MCC 6011 (no cash word in the name)")
            d2 = day(P[6])
            self.card_txn(r, d2, 6000, "POST OFFICE COUNTER STOCKPORT", "6010", "cash", rng,
                          note="cash over a counter: MCC 6010")
            d3 = day(P[9])
            self.card_txn(r, d3, 2000, "LINK ATM STOCKPORT GB", "6011", "cash", rng,
                          note="ATM: MCC 6011")
            r.plants.append(f"SP-CASH by MCC: {d} NOTEMACHINE 6011 £40.00, {d2} POST OFFICE "
                            f"COUNTER 6010 £60.00, {d3} LINK ATM 6011 £20.00; a declined ATM "
                            "withdrawal raises nothing")
        if "card_noise" in t:
            picks = rng.sample(C.CARD_NOISE, 5)
            for k, (m, mcc) in enumerate(picks):
                d = day(rng.choice(P[1:11]), 3, 22)
                amt = rng.randint(350, 4200)
                sup = {"MCDONALDS": "McDonalds", "GREGGS": "Greggs", "COSTA": "Costa Coffee",
                       "FRANKIE": "Frankie and Bennys", "BOOTS": "Boots", "SUPERDRUG": "Superdrug",
                       "PRIMARK": "Primark", "WHSMITH": "WHSmith"}[m.split()[0]]
                doc = None
                if k < 4:
                    doc = Doc("receipt", f"R-{rng.randint(10000, 99999)}", d, sup, amt,
                              "Purchase on a day out", "", month_of(d))
                self.card_txn(r, d, amt, self.portal_merchant(m, rng), mcc, "unknown", rng,
                              evid="doc" if doc else None, payee=sup if doc else "",
                              note=f"ordinary purchase MCC {mcc}" + ("" if doc else ", no receipt"),
                              doc=doc, auth_lag=rng.choice([0, 1, 2]))
            r.plants.append("noise: 4 ordinary purchases with receipts (restaurants, pharmacy, "
                            "clothing: MCCs in no list) and 1 without (EV-NO-EVIDENCE)")
        if "card_pending" in t:
            spends = [x for x in r.txns if x.kind == "spend" and x.evid == "doc" and x.amt < 0]
            x = spends[len(spends) // 2]
            x.card_status = "authorised"
            x.note += " (authorised, never settled: money moved)"
            d = day(P[4])
            self.card_txn(r, d, 100, "SHELL HAZEL GROVE", "5542", "unknown", rng,
                          status="authorised", note="fuel pump pre-authorisation never settled "
                                                     "(counts, no receipt)")
            d2 = day(P[7])
            self.card_txn(r, d2, 2000, "PLAYOJO", "7995", "prohibited", rng, status="authorised",
                          note="online casino, authorised and never settled: money moved")
            r.plants.append(f"authorised never settled (money moved): {x.d} {x.payee} "
                            f"£{-x.amt / 100:.2f} (receipt, no finding); {d} SHELL pre-auth £1.00 "
                            f"(EV-NO-EVIDENCE); {d2} PLAYOJO 7995 £20.00 (SP-PROHIBITED)")
        if "card_refund" in t:
            cands = [x for x in r.txns if x.kind == "spend" and x.amt < 0 and 3 < x.d.day < 20
                     and x.d.month != 3]
            if cands:
                x = rng.choice(cands)
                c = Txn(x.d + timedelta(days=5), -x.amt, "", "CARD", "refund", payee=x.payee,
                        note="refund to the card from a provider the family pays")
                r.txns.append(c)
                r.plants.append(f"noise: refund {c.d} from {x.payee} £{c.amt / 100:.2f} "
                                "(positive settled row: no AC-NON-COUNCIL-CREDIT)")
        if "card_wrong" in t:
            p = P[9]
            other = f"{(int(r.card_last4) + 4817) % 10000:04d}"
            while other in self.used_last4:
                other = f"{(int(other) + 1) % 10000:04d}"
            r.wrong_card = (p, other)
            r.wrong_account = p
            r.plants.append(f"DQ-WRONG-ACCOUNT: {p} folder also holds the export of card ending "
                            f"{other} (the family's own card: its TESCO/ATM/PLAYOJO rows are not "
                            "audited)")

    def to_card(self, r, rng):
        """after finish(): every money-moving row gets its portal form (rows planted in portal
        form already carry their MCC)"""
        load = rng.choice(["STOCKPORT MBC DP LOAD", "LOAD FROM STOCKPORT COUNCIL",
                           "STOCKPORT COUNCIL DP TOP UP"])
        for x in r.txns:
            if x.mcc:
                continue
            x.card_status = x.card_status or "settled"
            x.card_ref = x.card_ref or self.ref(rng)
            if x.kind == "council":
                x.desc = load
                x.card_ref = x.sched.ref  # the portal shows the council's payment reference
            elif x.kind in ("fee", "contribution"):
                pass
            elif x.kind == "refund":
                x.desc = self.provider_merchant(x.payee, rng)
                x.mcc = C.PROVIDER_MCC[x.payee]
            elif x.amt < 0 and x.payee in C.PROVIDER_MCC:
                x.desc = self.provider_merchant(x.payee, rng)
                x.mcc = C.PROVIDER_MCC[x.payee]
                x.typ = "CARD"
                if x.card_status != "settled":
                    continue  # authorised and never settled: a single row
                docs = [d for d in r.docs if d.doc_id in x.doc_ids]
                if docs and docs[0].d < x.d and docs[0].d.month == x.d.month:
                    x.auth_d = docs[0].d  # authorised at the till, settled days later
                elif rng.random() < 0.3 and x.d.day > 3:
                    x.auth_d = x.d - timedelta(days=rng.randint(1, 3))
            else:
                raise RuntimeError(f"{r.rid}: no card form for {x.kind} {x.desc}")

    def card_ghosts(self, r, rng):
        """rows that move no money: declined and reversed"""
        g, t, P = self.g, r.tags, self.g.periods
        eod = g.balances(r, r.opening)
        wa, wb = g.active_window(r)

        def add(d, amt, merchant, mcc, status, note):
            r.card_ghosts.append(CardRow(d, -amt, merchant, mcc, status, self.ref(rng), note))

        payees = sorted({x.payee for x in r.txns if x.payee in C.PROVIDER_MCC and x.amt < 0})
        for k in range(2):
            if not payees:
                break
            p = rng.choice(payees)
            d = date(*map(int, rng.choice(P[:11]).split("-")), rng.randint(2, 26))
            add(d, rng.randint(800, 6000), self.provider_merchant(p, rng), C.PROVIDER_MCC[p],
                "declined", "declined (card blocked / wrong PIN): no finding")
        if "card_mcc_prohibited" in t:
            d = date(g.fy, 9, rng.randint(2, 26))
            add(d, 5000, "BET365 STOKE ON TRENT GB", "7995", "declined",
                "declined betting attempt: no finding")
        if "card_mcc_household" in t:
            d = date(g.fy, 11, rng.randint(2, 26))
            add(d, 5642, "TESCO STORES 2975 STOCKPORT", "5411", "reversed",
                "reversed grocery payment: no finding")
        if "card_cash" in t:
            d = date(g.fy + 1, 1, rng.randint(2, 26))
            add(d, 10000, "NOTEMACHINE HAZEL GRV", "6011", "declined",
                "declined ATM withdrawal: no finding")
        if "card_noise" in t:
            d = date(g.fy, 12, rng.randint(2, 26))
            add(d, 2400, "PRIMARK STOCKPORT", "5651", "reversed", "reversed purchase: no finding")
        if "card_declines" in t:
            # insufficient funds: attempts larger than the balance on the lowest days
            lows = sorted((bal, d) for d, bal in eod.items() if wa <= d <= wb)[:40]
            used = set()
            for bal, d in lows:
                if len(used) >= 4 or month_of(d) in used or d.day > 27:
                    continue
                used.add(month_of(d))
                p = rng.choice(payees) if payees else "Vue Entertainment"
                add(d, max(bal, 0) + rng.randint(500, 3000), self.provider_merchant(p, rng),
                    C.PROVIDER_MCC.get(p, "7832"), "declined",
                    f"declined: insufficient funds (balance {bal / 100:.2f})")
            r.plants.append(f"{len(used)} payments declined for insufficient funds on low days")
        r.card_ghosts.sort(key=lambda c: (c.d, c.ref))

    # ------------------------------------------------------------------ contributions
    def credit(self, r, d, amt, desc, note, typ="FPI"):
        if r.is_card:
            typ = "CARD"
        t = Txn(d, amt, desc, typ, "contribution", note=note)
        r.txns.append(t)
        return t

    def contributions(self, r, rng):
        g, t, fy = self.g, r.tags, self.g.fy
        SN, H = r.surname.upper(), r.holder_first[0].upper()
        if not any(x.startswith("contrib_") for x in t):
            return

        def pay_dues(row, desc, until=None, lag=(0, 1), amount=None, skip=lambda d: False):
            for d in due_dates(row, g.fy_end):
                pd = d + timedelta(days=rng.choice(range(lag[0], lag[1] + 1)))
                if until and d > until:
                    break
                if skip(d) or pd < g.fy_start or pd > g.fy_end:
                    continue
                self.credit(r, pd, amount or row.amount, desc, f"contribution due {d}",
                            typ=rng.choice(["FPI", "SO"]))

        if "contrib_weekly_good" in t:
            row = Contribution(1420, "weekly", date(fy - 1, 11, 4))
            r.contributions.append(row)
            pay_dues(row, f"{H} {SN} CONTRIBUTION")
            r.plants.append(f"contributions: £14.20 weekly from {row.start} paid on time "
                            f"('{H} {SN} CONTRIBUTION'): no AC-CONTRIBUTION-SHORT")
        if "contrib_weekly_short" in t:
            row = Contribution(2250, "weekly", date(fy, 4, 7))
            r.contributions.append(row)
            pay_dues(row, f"{SN} {H} CLIENT CONT", lag=(0, 2), amount=1700)
            r.plants.append("AC-CONTRIBUTION-SHORT: £22.50 weekly assessed, family pays £17.00 "
                            "('... CLIENT CONT'): the shortfall grows every month")
        if "contrib_4weekly_stops" in t:
            row = Contribution(6160, "4-weekly", date(fy, 2, 17))
            r.contributions.append(row)
            pay_dues(row, f"FROM {H} {SN}", until=date(fy, 10, 31), lag=(0, 0))
            r.plants.append(f"AC-CONTRIBUTION-SHORT: £61.60 4-weekly from {row.start} (before the "
                            "year: due dates run from start_date), 'FROM <initial> <surname>' (the "
                            "surname identifies it); payments stop after October")
        if "contrib_monthly_31" in t:
            row = Contribution(4500, "monthly", date(fy, 5, 31), date(fy + 1, 1, 31))
            row2 = Contribution(3000, "monthly", date(fy + 1, 2, 28))
            r.contributions += [row, row2]
            pay_dues(row, f"{H} {SN} CONTRIB", lag=(0, 0))
            pay_dues(row2, f"{H} {SN} CONTRIB", lag=(0, 0))
            r.plants.append("contributions: £45.00 monthly from 31 May to 31 Jan (due on the last "
                            "day of shorter months), then £30.00 monthly from 28 Feb; paid on the "
                            "due dates (a due date in a month's last 5 days is judged next month)")
        if "contrib_other_credits" in t:
            d = date(fy, 4, 10)
            g.credit(r, d, 5000, f"FROM {H} {SN}", "FPI", "other_credit",
                     note="family money before any contribution is in force (starts 31 May - 7 "
                          "days): not a contribution")
            d2 = date(fy, 9, rng.randint(3, 20))
            g.credit(r, d2, 7265, "DWP DLA", "BGC", "other_credit", note="benefit paid in")
            r.plants.append(f"AC-NON-COUNCIL-CREDIT: {d} 'FROM {H} {SN}' £50.00 (surname, but no "
                            f"contribution in force yet) and {d2} DWP DLA £72.65")
        if "contrib_monthly_payer" in t:
            row = Contribution(2000, "weekly", date(fy, 4, 2))
            r.contributions.append(row)
            self.credit(r, date(fy, 4, 15), 4000, f"{SN} CONTRIBUTION", "two weeks in April")
            d = date(fy, 5, 1)
            while d <= g.fy_end:
                self.credit(r, d, 8000, f"{SN} CONTRIBUTION", "4 x £20.00 on the 1st",
                            typ="SO")
                d = add_months(d, 1)
            r.plants.append("AC-CONTRIBUTION-SHORT (some months): £20.00 weekly assessed, the "
                            "family pays £80.00 on the 1st of each month (4 weeks, not 4.35)")
        if "contrib_arrears" in t:
            row = Contribution(1875, "weekly", date(fy, 6, 2), date(fy + 1, 2, 27))
            r.contributions.append(row)
            missed = [d for d in due_dates(row, g.fy_end) if date(fy, 8, 4) <= d <= date(fy, 9, 29)]
            pay_dues(row, f"{H} {SN} CONTRIBUTION", skip=lambda d: d in missed
                     or d == date(fy + 1, 2, 23))
            self.credit(r, date(fy, 10, 3), 1875 * len(missed), f"{H} {SN} CLIENT CONT ARREARS",
                        f"arrears for {len(missed)} weeks")
            self.credit(r, date(fy + 1, 3, 6), 1875, f"{H} {SN} CONTRIBUTION",
                        "last week paid after end_date (within 31 days)")
            r.plants.append(f"AC-CONTRIBUTION-SHORT: £18.75 weekly {row.start}..{row.end}; "
                            f"{len(missed)} weeks missed in Aug-Sep and paid in one sum on "
                            f"{date(fy, 10, 3)}; the last week paid on {date(fy + 1, 3, 6)} (after "
                            "end_date, still a contribution)")
        if "contrib_card" in t:
            row = Contribution(4000, "4-weekly", date(fy, 4, 14))
            r.contributions.append(row)
            dues = due_dates(row, g.fy_end)
            dec = next(d for d in dues if d.month == 12)
            for d in dues:
                if d == dec:
                    continue
                amt = 8000 if d == dec + timedelta(days=28) else 4000
                self.credit(r, d + timedelta(days=1), amt, f"TOP UP FROM {SN} {H}",
                            "family's contribution loaded onto the card")
            r.plants.append(f"AC-CONTRIBUTION-SHORT: £40.00 4-weekly loaded onto the card by the "
                            f"family ('TOP UP FROM {SN} {H}'); the {dec} load missed and paid "
                            "double 4 weeks later")

    # ------------------------------------------------------------------ cohort
    def employer(self, r, rng):
        g, fy = self.g, self.g.fy
        emps = []
        for tag in sorted(t for t in r.tags if t in self.people):
            person, variants = self.people[tag]
            k = self.seen_tag.get(tag, 0)
            self.seen_tag[tag] = k + 1
            name, ni, bank, payees, freq, payday, hours, start = variants[k % len(variants)]
            prng = random.Random(f"person-{g.seed}-{person}")
            dob = date(fy - prng.randint(24, 55), prng.randint(1, 12), prng.randint(1, 28))
            dbs = (f"{prng.randint(0, 999999999999):012d}",
                   g.fy_start - timedelta(days=prng.randint(30, 600)))
            g.emp_no += rng.randint(1, 40)
            e = Employee(f"E{g.emp_no:06d}", name, ni, dob, rng.choice([1260, 1300, 1340, 1380]),
                         start or date(rng.randint(2021, 2024), rng.randint(1, 12), 1), None,
                         dbs[0], dbs[1], payees, bank,
                         hours if not callable(hours) else 0, freq, payday,
                         plan=hours if callable(hours) else (lambda ps, pe, h=hours: h))
            e.person = person
            emps.append(e)
        if not emps:  # an ordinary assistant of this family alone
            g.emp_no += rng.randint(1, 40)
            first = rng.choice(C.PA_FIRST)
            sur = rng.choice([s for s in C.PA_SURNAMES[:-4] if s != r.surname])
            e = Employee(f"E{g.emp_no:06d}", f"{first} {sur}", g.ni(rng),
                         date(fy - rng.randint(23, 58), rng.randint(1, 12), rng.randint(1, 28)),
                         rng.choice([1260, 1300, 1340]),
                         date(rng.randint(2019, 2024), rng.randint(1, 12), rng.randint(1, 28)),
                         None, f"{rng.randint(0, 999999999999):012d}",
                         g.fy_start - timedelta(days=rng.randint(30, 700)),
                         [f"{first[0]} {sur.upper()}"], f"{first[0]} {sur.upper()}", 12, "weekly", 4)
            e.person = None
            emps.append(e)
        r.employees = emps
        ins_start = date(fy - 1, rng.randint(4, 12), 1)
        r.insurance = [("MB" + str(rng.randint(100000, 999999)), "Mark Bates Ltd", ins_start,
                        add_months(ins_start, 12) - timedelta(days=1), "yes"),
                       ("MB" + str(rng.randint(100000, 999999)), "Mark Bates Ltd",
                        add_months(ins_start, 12), add_months(ins_start, 24) - timedelta(days=1),
                        "yes")]
        g.add_line(r, "personal_assistant", "Personal assistant hours")
        g.add_line(r, "insurance", g.line_desc("insurance"), providers=["Mark Bates Ltd"])
        g.add_line(r, "payroll_services", g.line_desc("payroll_services"))
        prem = rng.choice([985, 1050, 1125])
        fee = rng.choice([1450, 1600])
        for p in g.periods:
            y, m = map(int, p.split("-"))
            d1 = date(y, m, 3)
            r.txns.append(Txn(d1, -prem, "MARK BATES LTD", "DD", "spend", cat="insurance",
                              evid="doc", payee="Mark Bates Ltd", note="EL insurance premium"))
            r.docs.append(Doc("receipt", f"MBP-{y}{m:02d}", d1, "Mark Bates Ltd", prem,
                              "Monthly premium", "insurance", p))
            d2 = date(y, m, 9)
            inv = Doc("invoice", f"DPS{y % 100}{m:02d}-{self.seq('dps', 501):04d}",
                      d2 - timedelta(days=4), "Direct Payroll Services", fee, "Payroll service",
                      "payroll_services", p, period_start=date(y, m, 1), period_end=month_end(d2))
            r.docs.append(inv)
            r.txns.append(Txn(d2, -fee, f"DPS PAYROLL {inv.doc_id}", "FPO", "spend",
                              cat="payroll_services", evid="doc", payee="Direct Payroll Services",
                              note="payroll bureau fee", doc_ids=[inv.doc_id]))
        self.wages(r, rng)
        names = ", ".join(f"{e.name} ({e.freq}{', NI ' + e.ni if e.ni else ', no NI'})"
                          for e in emps)
        r.plants.append(f"employs {names}")

    def wages(self, r, rng):
        g = self.g
        wa, wb = g.active_window(r)
        hmrc = {}
        for e in r.employees:
            for pay_d, ps, pe in g.pay_dates(e):
                if pay_d < wa or pay_d > wb or e.start > pe:
                    continue
                if e.plan is not None:
                    hours = e.plan(ps, pe)
                else:
                    base = e.hours * (1 if e.freq == "weekly" else 4.33)
                    hours = round((base + rng.choice([-1, 0, 0, 0.5, 1])) * 2) / 2
                slip = g.payslip(e, pay_d, ps, pe, hours)
                r.payslips.append(slip)
                hmrc[month_of(pay_d)] = hmrc.get(month_of(pay_d), 0) + slip["tax"] + \
                    slip["employee_ni"] + slip["employer_ni"]
                r.txns.append(Txn(pay_d, -slip["net"], e.bank_name, rng.choice(["FPO", "FPO", "SO"]),
                                  "wage", cat="personal_assistant", emp=e.eid, evid="payslip",
                                  payee=e.name, note=f"wages {e.name}"))
        ref = f"120PA{rng.randint(10000000, 99999999)}"
        prev = f"{g.fy}-03"
        hmrc.setdefault(prev, sum(hmrc.values()) // 12)
        for m in sorted(hmrc):
            due = hmrc[m]
            if due <= 0:
                continue
            y, mo = map(int, m.split("-"))
            pd = add_months(date(y, mo, 1), 1) + timedelta(days=rng.randint(14, 18))
            if pd > g.fy_end:
                r.hmrc.append(dict(tax_month=m, amount_due=due, amount_paid=0, paid_date=None,
                                   reference=ref, folder=g.periods[-1]))
                continue
            r.hmrc.append(dict(tax_month=m, amount_due=due, amount_paid=due, paid_date=pd,
                               reference=ref, folder=month_of(pd)))
            r.txns.append(Txn(pd, -due, f"HMRC PAYE {ref}", "FPO", "hmrc", cat="personal_assistant",
                              evid="hmrc", payee="HMRC", note=f"PAYE/NI tax month {m}"))

    def invoice_payment(self, r, rng, supplier, written_supplier, inv_id, inv_d, pay_d, amount,
                        desc, cat, note, typ="FPO", folder=None, descr="Services"):
        doc = Doc("invoice", inv_id, inv_d, written_supplier, amount, descr, cat,
                  folder or month_of(pay_d), period_start=inv_d, period_end=inv_d)
        r.docs.append(doc)
        t = Txn(pay_d, -amount, desc, typ, "spend", cat=cat, evid="doc", payee=supplier,
                note=note, doc_ids=[inv_id])
        r.txns.append(t)
        return doc, t

    def cohort_plants(self, r, rng):
        g, t, fy = self.g, r.tags, self.g.fy
        if "dup_inv_a" in t or "dup_inv_b" in t:
            g.add_line(r, "short_breaks", g.line_desc("short_breaks"), providers=["Together Trust"])
        if "dup_inv_a" in t:
            self.invoice_payment(r, rng, "Together Trust", "Together Trust", "INV-0042",
                                 date(fy, 11, 3), date(fy, 11, 5), 37000, "TOGETHER TRUST INV-0042",
                                 "short_breaks", "overnight short break, invoice INV-0042",
                                 descr="Overnight short break")
            self.shared["inv42"] = r.rid
            r.plants.append(f"invoice INV-0042 Together Trust {date(fy, 11, 3)} £370.00 (first "
                            "of a pair: no finding here)")
        if "dup_inv_b" in t:
            self.invoice_payment(r, rng, "Together Trust", "TOGETHER TRUST CHEADLE", "inv 0042",
                                 date(fy, 11, 10), date(fy, 11, 12), 37000, "TOGETHER TRUST",
                                 "short_breaks", "overnight short break, invoice 'inv 0042'",
                                 descr="Overnight short break")
            r.plants.append(f"CO-DUPLICATE-INVOICE: 'inv 0042' from TOGETHER TRUST CHEADLE "
                            f"{date(fy, 11, 10)} £370.00 is INV-0042 of Together Trust already in "
                            f"{self.shared.get('inv42')}'s evidence (the later row is flagged)")
        if "dup_resubmit" in t:
            g.add_line(r, "therapy", g.line_desc("therapy"), providers=["Speech Therapy North West"])
            self.invoice_payment(r, rng, "Speech Therapy North West", "Speech Therapy North West",
                                 "STNW/118", date(fy, 9, 12), date(fy, 9, 15), 12000,
                                 "SPEECH THERAPY NW STNW/118", "therapy", "SALT assessment report",
                                 descr="SALT assessment report")
            self.invoice_payment(r, rng, "Speech Therapy North West", "Speech Therapy North West",
                                 "STNW-118", date(fy, 12, 1), date(fy, 12, 3), 12000,
                                 "SPEECH THERAPY NW", "therapy",
                                 "the same report invoiced again (reminder) and paid again",
                                 descr="SALT assessment report (reminder)")
            r.plants.append(f"CO-DUPLICATE-INVOICE: STNW/118 (Sept) sent again as STNW-118 dated "
                            f"{date(fy, 12, 1)} and paid again £120.00 (flagged in December)")
        # defs (REVISED): invoice_id is required, so the tutor's reused number is written out: the
        # same invoice number sent to two families a month apart (the later one is flagged)
        for tag, inv_id, inv_d in (("dup_tutor_a", "TD-0616", date(fy, 6, 16)),
                                   ("dup_tutor_b", "td 0616", date(fy, 7, 14))):
            if tag in t:
                g.add_line(r, "education_support", g.line_desc("education_support"),
                           providers=["Tutor Doctor Stockport"])
                self.invoice_payment(r, rng, "Tutor Doctor Stockport", "Tutor Doctor Stockport",
                                     inv_id, inv_d, inv_d + timedelta(days=2), 15200,
                                     "TUTOR DOCTOR", "education_support",
                                     f"tutor's invoice {inv_id}", descr="Tuition (4 x 1 h)")
                self.shared.setdefault("tutor", []).append(r.rid)
                if tag == "dup_tutor_a":
                    r.plants.append(f"invoice {inv_id} Tutor Doctor Stockport {inv_d} £152.00 "
                                    "(first of a pair: no finding here)")
                else:
                    r.plants.append(f"CO-DUPLICATE-INVOICE: '{inv_id}' from Tutor Doctor "
                                    f"Stockport {inv_d} £152.00 is TD-0616, already in "
                                    f"{self.shared['tutor'][0]}'s June evidence (flagged in "
                                    "July)")
        if "prov_round" in t:
            g.add_line(r, "short_breaks", g.line_desc("short_breaks"),
                       providers=["Sunshine Respite Ltd"])
            k = self.seen_tag.get("prov_round", 0)
            self.seen_tag["prov_round"] = k + 1
            if k == 0:  # fortnightly £150
                dates = []
                d = date(fy, 4, 9)
                while d <= g.fy_end:
                    dates.append((d, 15000))
                    d += timedelta(days=14)
            elif k == 1:
                dates = [(date(y, m, 20), 18500 if m in (7, 11, 2) else 20000)
                         for p in g.periods for y, m in [map(int, p.split("-"))]]
            else:
                dates = [(date(y, m, 12), 23750 if m == 10 else 25000)
                         for p in g.periods for y, m in [map(int, p.split("-"))]]
            for d, amt in dates:
                n = self.seq("sunshine", 1001)
                inv = f"SR-{n}"
                self.invoice_payment(r, rng, "Sunshine Respite Ltd", "Sunshine Respite Ltd", inv,
                                     d - timedelta(days=2), d, amt,
                                     rng.choice([f"SUNSHINE RESPITE {inv}", "SUNSHINE RESPITE LTD"]),
                                     "short_breaks", "respite session (round sum)",
                                     descr="Respite session")
            r.plants.append(f"pays Sunshine Respite Ltd {len(dates)} times, mostly round sums "
                            "(CO-PROVIDER-PATTERN on the COUNCIL once the sample reaches 20)")
        if "prov_round_small" in t:
            g.add_line(r, "day_activities", g.line_desc("day_activities"),
                       providers=["Little Stars Play Scheme"])
            n = 0
            for p in g.periods[:10]:
                y, m = map(int, p.split("-"))
                if m == 8:
                    continue
                d = date(y, m, 6)
                amt = 5000 if m == 12 else 10000
                doc = Doc("receipt", f"LS-{self.seq('littlestars', 301)}", d,
                          "Little Stars Play Scheme", amt, "Play scheme", "day_activities",
                          month_of(d))
                r.docs.append(doc)
                r.txns.append(Txn(d, -amt, g.card_desc("LITTLE STARS", rng, d), "CARD", "spend",
                                  cat="day_activities", evid="doc", payee="Little Stars Play Scheme",
                                  note="play scheme (round sum)", doc_ids=[doc.doc_id]))
                n += 1
            r.plants.append(f"pays Little Stars Play Scheme {n} round sums: below the minimum "
                            "sample of 20, no CO-PROVIDER-PATTERN")
        if "prov_benford" in t:
            g.add_line(r, "agency_care", g.line_desc("agency_care"),
                       providers=["Oakwood Home Support"])
            d = date(fy, 4, 7)
            n = 0
            while d <= g.fy_end:
                amt = rng.randint(70000, 98999)
                inv = f"OHS-{self.seq('oakwood', 20417):05d}"
                self.invoice_payment(r, rng, "Oakwood Home Support", "Oakwood Home Support", inv,
                                     d - timedelta(days=3), d, amt, "OAKWOOD HS LTD",
                                     "agency_care", "weekly home support invoice", typ="DD",
                                     descr="Home support last week")
                n += 1
                d += timedelta(days=7)
            # Benford applies only to amounts spread over two orders of magnitude (defs
            # REVISED: greatest >= 100 x least): a £14 sundry in May and a £1,450 respite
            # fortnight in June spread the provider's sample from June on
            k = self.seen_tag.get("prov_benford", 0)
            self.seen_tag["prov_benford"] = k + 1
            extra = {0: ("OHS-S0514", date(fy, 5, 14), 1400, "Care records folder"),
                     1: ("OHS-R0609", date(fy, 6, 9), 145000, "Respite cover, two weeks")}.get(k)
            if extra:
                inv, d0, amt, what = extra
                self.invoice_payment(r, rng, "Oakwood Home Support", "Oakwood Home Support", inv,
                                     d0 - timedelta(days=3), d0, amt, "OAKWOOD HS LTD",
                                     "agency_care", what, typ="FPO", descr=what)
                n += 1
            r.plants.append(f"pays Oakwood Home Support {n} invoices, weekly ones of £700-£990: "
                            "first digits 7-9 (CO-PROVIDER-PATTERN Benford once n >= 60 and the "
                            "sample spans 100 x, raised once, in its first failing month)")

    # ------------------------------------------------------------------ self-checks
    def check(self, r):
        """the generator's own reading must agree with the defs' text tests"""
        from .truth_ext import contribution_credit
        for x in r.txns:
            if x.amt > 0 and x.kind != "council":
                is_c = contribution_credit(r, x)
                if is_c != (x.kind == "contribution"):
                    raise RuntimeError(f"{r.rid}: credit {x.d} {x.desc!r} ({x.kind}) reads as "
                                       f"contribution={is_c}")
        # no accidental same-payee same-amount pair within 3 days without two documents
        deb = sorted((x for x in r.txns if x.amt < 0 and x.kind not in ("fee",)),
                     key=lambda x: x.d)
        for a_i, a in enumerate(deb):
            for b in deb[a_i + 1:]:
                if (b.d - a.d).days > 3:
                    break
                if a.amt == b.amt and (a.payee or a.desc) == (b.payee or b.desc) and not (
                        a.doc_ids and b.doc_ids and set(a.doc_ids) != set(b.doc_ids)) \
                        and a.kind not in ("wage",):
                    raise RuntimeError(f"{r.rid}: accidental duplicate {a.d} {b.d} {a.desc}")


def due_dates(row: Contribution, upto: date) -> list:
    """defs: start_date, then every 7 days (weekly) / 28 days (4-weekly) / the same day of each
    following month (29-31 clamp to the month's last day), up to end_date inclusive"""
    out = []
    last = min(upto, row.end) if row.end else upto
    k = 0
    while True:
        if row.freq == "weekly":
            d = row.start + timedelta(days=7 * k)
        elif row.freq == "4-weekly":
            d = row.start + timedelta(days=28 * k)
        elif row.freq == "monthly":
            d = add_months(row.start, k)
        else:
            raise ValueError(row.freq)
        if d > last:
            return out
        out.append(d)
        k += 1


def build_extended(gen, recips, feats):
    feats = frozenset(feats)
    bad = feats - set(FEATURES)
    if bad:
        raise ValueError(f"unknown features {sorted(bad)}; known: {', '.join(FEATURES)}")
    return Ext(gen, feats).build(len(recips))
