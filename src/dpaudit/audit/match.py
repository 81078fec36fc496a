"""Match evidence to debits: payslips and HMRC records to payroll payments, receipts and invoices
to everything else.

Matching is one-to-one first (exact amount, date window, fuzzy supplier), then one payment
covering several receipts, then an invoice paid in parts, then same-supplier pairs whose amounts
differ (``EV-AMOUNT-MISMATCH``).  Candidate pairs come from joins on recipient and amount/date;
fuzzy scores are computed per candidate pair in C.  Every debit ends ``evidenced``,
``partly evidenced`` or ``unevidenced`` with ``evidenced_pence + unevidenced_pence = -amount``.
"""
from __future__ import annotations

import pandas as pd

from dpaudit.audit.data import AuditData, cached_view, wage_payslip_pairs
from dpaudit.core.distinct import per_distinct
from dpaudit.audit.categorise import canonical_names, categorise, name_rules
from dpaudit.core.names import normalise_name, pair_scores, pairs_scoring
from dpaudit.store import compute_connection

MATCH_COLUMNS = ["period", "txn_id", "evidence_kind", "evidence_id", "matched_pence", "method"]


def greedy_one_to_one(cands: pd.DataFrame, left: str, right: str, order: list[str], ascending: list[bool]) -> pd.DataFrame:
    """Pick pairs so that each left and each right is used once: best-ranked first (deterministic),
    then as many more as an exchange allows (:func:`_augment`): two taxi rides of one price a few days
    apart, each receipt within the window of both payments, are both evidenced."""
    cands = cands.sort_values(order + [left, right], ascending=ascending + [True, True])
    all_cands = cands
    chosen = []
    while not cands.empty:
        pick = cands.drop_duplicates(left).drop_duplicates(right)
        chosen.append(pick)
        cands = cands[~cands[left].isin(pick[left]) & ~cands[right].isin(pick[right])]
    picked = pd.concat(chosen) if chosen else cands
    return _augment(all_cands, picked, left, right)


def _augment(cands: pd.DataFrame, picked: pd.DataFrame, left: str, right: str) -> pd.DataFrame:
    """Grow a one-to-one choice to a largest one: for each left with candidates but no pair, look
    for a path that moves already-paired lefts to other candidates of theirs and frees one for it
    (Kuhn's augmenting paths, candidates tried in ``cands``' rank order).  Only the few lefts the
    ranked choice left out are searched from."""
    if cands.empty:
        return picked
    open_left = set(cands[left]) - set(picked[left])
    if not open_left:
        return picked
    rights_of_open = set(cands.loc[cands[left].isin(open_left), right])
    # the part of the graph an augmenting path can reach: pairs sharing a right with an open left, and so on
    reach_r, reach_l = set(rights_of_open), set(open_left)
    while True:
        more_l = set(cands.loc[cands[right].isin(reach_r), left]) - reach_l
        more_r = set(cands.loc[cands[left].isin(more_l), right]) - reach_r
        if not more_l and not more_r:
            break
        reach_l |= more_l
        reach_r |= more_r
    sub = cands[cands[left].isin(reach_l)]
    adj: dict = {}
    for lv, rv in zip(sub[left], sub[right]):
        adj.setdefault(lv, []).append(rv)
    mate_l = dict(zip(picked[left], picked[right]))
    mate_r = dict(zip(picked[right], picked[left]))

    def free_a_right(u, seen: set) -> bool:
        for v in adj.get(u, ()):
            if v in seen:
                continue
            seen.add(v)
            if v not in mate_r or free_a_right(mate_r[v], seen):
                mate_l[u], mate_r[v] = v, u
                return True
        return False

    grown = False
    for u in sorted(open_left, key=str):
        grown |= free_a_right(u, set())
    if not grown:
        return picked
    pairs = pd.DataFrame({left: list(mate_l), right: list(mate_l.values())})
    return cands.merge(pairs, on=[left, right]).drop_duplicates([left, right])


def candidate_pairs(debits: pd.DataFrame, docs: pd.DataFrame, days: int, threshold: float,
                    same_amount_tolerance: int | None = None) -> pd.DataFrame:
    """Every (debit, document) of one recipient dated within ``days`` of each other whose payee and
    supplier names score at least ``threshold``, with ``gap`` and ``score``, ordered by txn_id, ev_id.
    With ``same_amount_tolerance`` (pence), also every pair in the window whose amounts agree
    within it, whatever the names (their ``score`` may be below ``threshold``).

    Two DuckDB joins: the first finds the distinct name pairs of each recipient's payees and
    suppliers (scored once each, in C), the second returns the (debit, document) pairs in a date
    window whose names scored.  Neither the recipient-wise cross product nor the window pairs
    (millions of rows for a large council) are built.
    """
    cols = list(debits.columns) + [c for c in docs.columns if c != "recipient_id"] + ["gap", "score"]
    if debits.empty or docs.empty:
        return pd.DataFrame(columns=cols)
    # DuckDB returns row numbers, not text: the text columns are taken back by position (a large
    # council has a million candidate pairs; converting their strings would cost more than the join)
    # _tr/_dr: rank of txn_id/ev_id, so ordering the pairs by them orders them by txn_id, ev_id
    keys_t = debits[["recipient_id", "posted_date", "cp_norm", "need"]].assign(
        _t=range(len(debits)), _tr=debits["txn_id"].rank(method="first").astype("int64").to_numpy())
    keys_d = docs[["recipient_id", "doc_date", "sup_norm", "doc_pence"]].assign(
        _d=range(len(docs)), _dr=docs["ev_id"].rank(method="first").astype("int64").to_numpy())
    con = compute_connection()
    try:
        con.register("debits", keys_t)
        con.register("docs", keys_d)
        # every name pair that meets within a recipient (no date window: far fewer rows than the
        # window pairs, and a pair outside every window only costs one more score)
        names = con.execute("""
            SELECT DISTINCT t.cp_norm, d.sup_norm
            FROM (SELECT DISTINCT recipient_id, cp_norm FROM debits) t
            JOIN (SELECT DISTINCT recipient_id, sup_norm FROM docs) d USING (recipient_id)""").df()
        con.register("names", pairs_scoring(names, "cp_norm", "sup_norm", threshold))
        pairs = con.execute(f"""
            SELECT t._t, d._d, abs(date_diff('day', d.doc_date, t.posted_date)) AS gap_days, n.score
            FROM debits t JOIN names n ON n.cp_norm = t.cp_norm
            JOIN docs d ON d.recipient_id = t.recipient_id AND d.sup_norm = n.sup_norm
             AND d.doc_date BETWEEN t.posted_date - INTERVAL {int(days)} DAY AND t.posted_date + INTERVAL {int(days)} DAY
            ORDER BY t._tr, d._dr""").df()
        if same_amount_tolerance is not None:
            # amount and date decide; the names only rank the candidates (scored below)
            by_amount = con.execute(f"""
                SELECT t._t, d._d, abs(date_diff('day', d.doc_date, t.posted_date)) AS gap_days, n.score,
                       t._tr, d._dr, t.cp_norm, d.sup_norm
                FROM debits t JOIN docs d ON d.recipient_id = t.recipient_id
                 AND abs(d.doc_pence - t.need) <= {int(same_amount_tolerance)}
                 AND d.doc_date BETWEEN t.posted_date - INTERVAL {int(days)} DAY AND t.posted_date + INTERVAL {int(days)} DAY
                LEFT JOIN names n ON n.cp_norm = t.cp_norm AND n.sup_norm = d.sup_norm
                WHERE n.score IS NULL
                ORDER BY t._tr, d._dr""").df()
            if not by_amount.empty:
                by_amount["score"] = pair_scores(by_amount["cp_norm"], by_amount["sup_norm"]).to_numpy()
                pairs = pd.concat([pairs.assign(_tr=keys_t["_tr"].to_numpy()[pairs["_t"].to_numpy()],
                                                _dr=keys_d["_dr"].to_numpy()[pairs["_d"].to_numpy()]),
                                   by_amount.drop(columns=["cp_norm", "sup_norm"])], ignore_index=True)
                pairs = pairs.sort_values(["_tr", "_dr"], kind="stable").reset_index(drop=True)
    finally:
        con.close()
    ti, di = pairs["_t"].to_numpy(), pairs["_d"].to_numpy()
    out = pd.DataFrame({c: debits[c].array.take(ti) for c in debits.columns})
    for c in docs.columns:
        if c != "recipient_id":
            out[c] = docs[c].array.take(di)
    out["gap"] = pd.to_timedelta(pairs["gap_days"].to_numpy(), unit="D")
    out["score"] = pairs["score"].to_numpy()
    out["need"] = out["need"].astype("int64")
    out["doc_pence"] = out["doc_pence"].astype("int64")
    return out[cols]


def period_debits(data: AuditData) -> pd.DataFrame:
    t = categorise(data)
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    return t[(t["direction"] == "debit") & (t["posted_date"] >= s) & (t["posted_date"] <= e)]


def evidence_key(frame: pd.DataFrame, column: str = "ev_id") -> pd.Series:
    """A piece of evidence's key: the family and its id.  Families number their receipts and their
    PAs' employee ids on their own ("R-1", "E1"): one family's receipt never evidences another's payment."""
    return frame["recipient_id"].astype(str) + "|" + frame[column].astype(str)


def payslip_evidence_id(payslips: pd.DataFrame) -> pd.Series:
    """A payslip's evidence id: ``payslip:<employee_id>:<pay date>`` (within its family, :func:`evidence_key`)."""
    return "payslip:" + payslips["employee_id"].astype(str) + ":" + payslips["pay_date"].dt.strftime("%Y-%m-%d")


def used_evidence(data: AuditData) -> set:
    """Keys of evidence already matched in other periods."""
    pm = data.prior_matches
    return set(evidence_key(pm, "evidence_id")) if not pm.empty else set()


def documents(data: AuditData) -> pd.DataFrame:
    """Receipts and invoices as one frame: ev_id, ev_key, kind, recipient_id, doc_date, supplier, doc_pence."""
    used = used_evidence(data)
    r = data.receipts.rename(columns={"date": "doc_date"}).assign(kind="receipt")
    r["ev_id"] = "receipt:" + r["receipt_id"].astype(str)
    i = data.invoices.rename(columns={"invoice_date": "doc_date"}).assign(kind="invoice")
    i["ev_id"] = "invoice:" + i["invoice_id"].astype(str)
    cols = ["ev_id", "kind", "recipient_id", "doc_date", "supplier", "amount_pence"]
    docs = pd.concat([r.reindex(columns=cols + ["category"]), i.reindex(columns=cols)], ignore_index=True)
    docs["ev_key"] = evidence_key(docs)
    docs = docs[~docs["ev_key"].isin(used)].copy()
    rules = name_rules(data)
    norm = per_distinct(docs["supplier"], lambda v: v.map(lambda x: normalise_name(x, rules)))
    # the supplier's canonical name, as categorise gives each payee (providers.csv, plan payees)
    docs["sup_norm"] = canonical_names(docs.assign(cp_norm=norm)[["recipient_id", "cp_norm"]], data)
    docs["doc_pence"] = docs["amount_pence"].astype("int64")
    return docs.drop(columns=["amount_pence"])


def _prefer_groups(one: pd.DataFrame, exact: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """A payment that several receipts of its supplier add up to exactly (a £16.40 taxi ride on
    receipts of £7.83 and £8.57) gives up the single receipt it was paired with when another payment,
    left without evidence, could take that receipt; the receipts that add up then evidence it (step 4)."""
    if one.empty or cand.empty:
        return one
    taken_t, taken_e = set(one["txn_id"]), set(one["ev_key"])
    small = cand[(cand["doc_pence"] < cand["need"]) & ~cand["ev_key"].isin(taken_e)]
    waiting = exact[~exact["txn_id"].isin(taken_t)]
    if small.empty or waiting.empty:
        return one
    sums = small.groupby("txn_id").agg(total=("doc_pence", "sum"), n=("ev_key", "size"), need=("need", "first"))
    groupable = set(sums[(sums["n"] >= 2) & (sums["total"] == sums["need"])].index)
    for txn_id in sorted(groupable & taken_t):
        held = one.loc[one["txn_id"] == txn_id, "ev_key"].iloc[0]
        takers = waiting[(waiting["ev_key"] == held) & ~waiting["txn_id"].isin(taken_t)]
        if takers.empty:
            continue
        taker = takers.sort_values(["named", "score", "gap", "txn_id"], ascending=[False, False, True, True]).head(1)
        one = pd.concat([one[one["txn_id"] != txn_id], taker])
        taken_t.discard(txn_id)
        taken_t.add(taker["txn_id"].iloc[0])
    return one


@cached_view("matches")
def match_evidence(data: AuditData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (matches, mismatches, debit_status).

    ``mismatches``: txn_id, ev_id, debit_pence, doc_pence (EV-AMOUNT-MISMATCH pairs).
    ``debit_status``: txn_id, evidenced_pence, unevidenced_pence, evidence_status.
    """
    pol = data.policy
    window = pd.Timedelta(days=pol.days("match_window_days"))
    tol = pol.pence("amount_tolerance")
    threshold = float(pol.threshold("fuzzy_payee_threshold"))
    used = used_evidence(data)
    deb = period_debits(data)[["txn_id", "recipient_id", "posted_date", "amount_pence", "cp_canon", "employee_id",
                               "f_hmrc", "f_bank_charge"]].rename(columns={"cp_canon": "cp_norm"})
    deb["need"] = -deb["amount_pence"].astype("int64")
    out: list[pd.DataFrame] = []

    # 1. wages <-> payslips (employee, net pay, pay date)
    ps = data.payslips.copy()
    ps["ev_id"] = payslip_evidence_id(ps)
    ps["ev_key"] = evidence_key(ps)
    ps = ps[~ps["ev_key"].isin(used)]
    w = wage_payslip_pairs(deb[deb["employee_id"].notna()],
                           ps[["recipient_id", "employee_id", "pay_date", "net_pence", "ev_id", "ev_key"]], pol)
    if not w.empty:
        w = greedy_one_to_one(w, "txn_id", "ev_key", ["gap"], [True])
        out.append(w.assign(evidence_kind="payslip", matched_pence=w["need"], method="payslip net and pay date"))

    # 2. HMRC payments
    hm = data.hmrc.copy()
    hm["ev_id"] = "hmrc:" + hm["tax_month"].astype(str) + ":" + hm["reference"].fillna("").astype(str)
    hm["ev_key"] = evidence_key(hm)
    hm = hm[~hm["ev_key"].isin(used) & hm["paid_date"].notna() & hm["amount_paid_pence"].notna()]
    h = deb[deb["f_hmrc"]].merge(hm[["recipient_id", "paid_date", "amount_paid_pence", "ev_id", "ev_key"]], on="recipient_id")
    if not h.empty:
        h["gap"] = (h["posted_date"] - h["paid_date"]).abs()
        h = h[(h["gap"] <= window) & ((h["amount_paid_pence"].astype("int64") - h["need"]).abs() <= tol)]
        h = greedy_one_to_one(h, "txn_id", "ev_key", ["gap"], [True])
        out.append(h.assign(evidence_kind="hmrc", matched_pence=h["need"], method="HMRC payment record"))

    done = set(pd.concat(out)["txn_id"]) if out else set()
    docs = documents(data)
    rest = deb[~deb["txn_id"].isin(done)]

    # 3. receipts/invoices one-to-one: amount to the penny and date window decide; where several
    # candidates remain, the supplier's name (canonical: trading name and bank descriptor of one
    # provider agree) ranks them, then the gap in days
    c = candidate_pairs(rest[["txn_id", "recipient_id", "posted_date", "need", "cp_norm"]],
                        docs[["ev_id", "ev_key", "kind", "recipient_id", "doc_date", "doc_pence", "sup_norm", "supplier"]],
                        pol.days("match_window_days"), threshold, same_amount_tolerance=tol)
    if c.empty:
        c = pd.DataFrame(columns=list(rest.columns) + list(docs.columns) + ["gap", "score"])
    exact = c[(c["doc_pence"] - c["need"]).abs() <= tol].assign(named=lambda f: f["score"] >= threshold)
    cand = c[c["score"] >= threshold]  # the pairs whose names agree: several receipts, parts, mismatches
    one = greedy_one_to_one(exact, "txn_id", "ev_key", ["named", "score", "gap"], [False, False, True]) \
        if not exact.empty else exact
    one = _prefer_groups(one, exact, cand)
    if not one.empty:
        out.append(one.assign(evidence_kind=one["kind"], matched_pence=one["need"], method="amount, date and supplier"))
    taken_t, taken_e = set(one["txn_id"]) if not one.empty else set(), set(one["ev_key"]) if not one.empty else set()

    # 4. one payment covering several receipts of the same supplier
    if not cand.empty:
        multi = cand[cand["doc_pence"] < cand["need"]]  # the cheap test first: cand is large
        multi = multi[~multi["txn_id"].isin(taken_t) & ~multi["ev_key"].isin(taken_e)]
        # candidate_pairs returns the pairs ordered by txn_id, ev_id
        for txn_id, g in multi.groupby("txn_id", sort=True):
            g = g[~g["ev_key"].isin(taken_e)]
            if len(g) >= 2 and int(g["doc_pence"].sum()) == int(g["need"].iloc[0]):
                out.append(g.assign(evidence_kind=g["kind"], matched_pence=g["doc_pence"],
                                    method="one payment for several receipts"))
                taken_t.add(txn_id)
                taken_e.update(g["ev_key"])

    # 5. an invoice paid in parts: several debits to the supplier add up to it
    inv = docs[(docs["kind"] == "invoice") & ~docs["ev_key"].isin(taken_e)]
    if not inv.empty:
        d2 = rest[~rest["txn_id"].isin(taken_t)]
        p = inv.merge(d2, on="recipient_id")
        if not p.empty:
            p = p[(p["posted_date"] >= p["doc_date"] - window) & (p["posted_date"] <= p["doc_date"] + pd.Timedelta(days=31))].copy()
            p["score"] = pair_scores(p["cp_norm"], p["sup_norm"])
            p = p[(p["score"] >= threshold) & (p["need"] < p["doc_pence"])]
            for ev_key, g in p.sort_values(["ev_key", "posted_date", "txn_id"]).groupby("ev_key", sort=True):
                g = g[~g["txn_id"].isin(taken_t)]
                if len(g) >= 2 and int(g["need"].sum()) == int(g["doc_pence"].iloc[0]):
                    out.append(g.assign(evidence_kind="invoice", matched_pence=g["need"], method="invoice paid in parts"))
                    taken_t.update(g["txn_id"])
                    taken_e.add(ev_key)

    # 6. same supplier and date, different amount: partly evidenced, EV-AMOUNT-MISMATCH
    mism = pd.DataFrame(columns=["txn_id", "ev_id", "ev_key", "debit_pence", "doc_pence", "kind", "doc_date", "supplier"])
    if not cand.empty:
        mm = cand[(cand["doc_pence"] - cand["need"]).abs() > tol]
        mm = mm[~mm["txn_id"].isin(taken_t) & ~mm["ev_key"].isin(taken_e)].copy()
        if not mm.empty:
            mm["diff"] = (mm["doc_pence"] - mm["need"]).abs()
            mm = greedy_one_to_one(mm, "txn_id", "ev_key", ["diff", "gap"], [True, True])
            out.append(mm.assign(evidence_kind=mm["kind"], matched_pence=mm[["need", "doc_pence"]].min(axis=1).astype("int64"),
                                 method="supplier and date; amount differs"))
            mism = mm.rename(columns={"need": "debit_pence"})[
                ["txn_id", "ev_id", "ev_key", "debit_pence", "doc_pence", "kind", "doc_date", "supplier"]]

    # a bank charge is evidenced by the statement itself
    charges = deb[deb["f_bank_charge"] & ~deb["txn_id"].isin(set().union(*[set(o["txn_id"]) for o in out]) if out else set())]
    if not charges.empty:
        out.append(charges.assign(ev_id="statement:" + charges["txn_id"], evidence_kind="statement",
                                  matched_pence=charges["need"], method="bank charge shown on the statement"))
    matches = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["txn_id", "ev_id", "evidence_kind", "matched_pence", "method"])
    matches = matches.rename(columns={"ev_id": "evidence_id"}).assign(period=data.period)
    matches = matches[MATCH_COLUMNS].sort_values(["txn_id", "evidence_id"]).reset_index(drop=True)
    matches["matched_pence"] = matches["matched_pence"].astype("int64")

    got = matches.groupby("txn_id")["matched_pence"].sum()
    status = deb[["txn_id", "need"]].copy()
    status["evidenced_pence"] = status["txn_id"].map(got).fillna(0).astype("int64").clip(upper=status["need"])
    status["unevidenced_pence"] = status["need"] - status["evidenced_pence"]
    status["evidence_status"] = "unevidenced"
    status.loc[status["evidenced_pence"] > 0, "evidence_status"] = "partly evidenced"
    status.loc[status["unevidenced_pence"] == 0, "evidence_status"] = "evidenced"
    status = status.drop(columns=["need"]).reset_index(drop=True)
    return matches, mism.reset_index(drop=True), status


def unmatched_documents(data: AuditData) -> pd.DataFrame:
    """Receipts/invoices dated in the period that matched no debit (candidates for EV-ORPHAN-RECEIPT)."""
    matches, mism, _ = match_evidence(data)
    docs = documents(data)
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    docs = docs[(docs["doc_date"] >= s) & (docs["doc_date"] <= e)]
    m = matches.merge(period_debits(data)[["txn_id", "recipient_id"]], on="txn_id")
    taken = set(evidence_key(m, "evidence_id"))
    return docs[~docs["ev_key"].isin(taken)]
