"""Year end (PBP 5.3, 5.4): annual DP value, balance at 31 March, committed, carry-forward, repayment.

Grain of the output (store table ``year_end``): one row per recipient x financial year, for every
``direct_payment``/``combination`` recipient with a plan line in force on any day of the year or a
bank transaction dated in it.  All money is integer pence.

* ``annual_dp_value`` = sum over the recipient's plan lines with ``management_type =
  direct_payment``, a valid ``valid_from`` (and ``valid_to`` empty or not before it), a funding
  stream the policy does not restrict to ``notional``, and no open ``DQ-PLAN-INVALID`` finding
  naming the line, of ``annual_amount`` pro rata by day for the days of the FY the line is in force
  and the recipient's direct payment runs (``dp_start_date``..``dp_end_date``, so a recipient who
  started or stopped during the year is a part-year recipient even on whole-year lines), as
  ``money.pro_rata(amount, days, fy_days)``, each line rounded half-up; fy_days is 365 or 366.
* ``closing_balance`` at 31 March, first that applies: the ``reconciliation`` closing balance
  for period ``<fy+1>-03``; else the end-of-day bank balance of the last day with transactions on
  or before 31 March when every transaction that day carries a balance (the day's last one is
  found by chaining balance - amount, so newest-first exports work); else the closing balance of
  the latest reconciliation period before it plus the transactions after that period up to 31
  March; else the sum of all transactions up to 31 March (an account opened at nil); else 0,
  said in the reasons.
* ``committed`` = for each invoice dated in the FY, what is still owed on 31 March: ``max(0,
  amount - matched_pence)`` over its ``matches`` rows (``evidence_kind`` starting ``invoice``,
  ``evidence_id`` = ``invoice:<invoice_id>`` as ``match`` writes it, or the bare invoice_id) whose
  transaction is the same recipient's and dated on or before 31 March (an invoice with no such
  row is owed in full; one paid in parts is owed the rest); plus, per ``hmrc_payments`` row for a
  tax month of the FY, ``max(0, amount_due - amount_paid)`` where a payment dated after 31 March
  counts as unpaid.
* ``surplus = closing - committed``; ``carry_forward = max(0, min(surplus, carry_forward_pct %
  of annual_dp_value))``; the amount held back is ``max(0, surplus - carry_forward)``.  An overdrawn
  account or committed spending above the balance gives a negative surplus: nothing carried or repaid.
* The council recovers only its own funds (contract section 1 ``contributions.csv``; decision 49):
  ``repayment = half_up(held back x council_in / (council_in + contributions_in))``, where
  ``council_in`` is the council payments credited in the year and ``contributions_in`` the family's
  client contributions credited in it (both summed over the year's ``reconciliation`` rows, as the
  monthly audits identified them); ``family_share = held back - repayment`` is not recovered.  With no
  contributions paid in, the repayment is all that was held back.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pandas as pd

from dpaudit.core import dates
from dpaudit.core import money
from dpaudit import store
from dpaudit.audit.data import DP_LINE_TYPE, DP_TYPES, day_end_balances
from dpaudit.core.policy import Policy
from dpaudit.decide.recommend import long_date as _long, month_name as _month

YEAR_END_COLUMNS = [
    "fy", "recipient_id", "annual_dp_value_pence", "closing_balance_pence", "committed_pence",
    "surplus_pence", "carry_forward_pence", "repayment_pence", "reasons", "run_id",
]
DETAIL_COLUMNS = ["committed_invoices_pence", "committed_hmrc_pence", "committed_wages_pence", "balance_source"]
# what the council and the family paid in over the year, and the family's share of what was held back
SPLIT_COLUMNS = ["council_in_pence", "contributions_in_pence", "family_share_pence"]
PLAN_INVALID_RULE = "DQ-PLAN-INVALID"
_CENT = Decimal("0.01")

_LATEST_DECISION = """
    SELECT exception_id, lower(trim(decision)) AS decision FROM decisions
    QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY seq DESC) = 1"""


def year_end_recipients(con: duckdb.DuckDBPyConnection, fy: int) -> list[str]:
    start, end = dates.financial_year_bounds(fy)
    rows = con.execute("""
        SELECT recipient_id FROM recipients r
        WHERE list_contains(?::VARCHAR[], lower(trim(management_type)))
          AND (EXISTS (SELECT 1 FROM plan_lines p WHERE p.recipient_id = r.recipient_id
                         AND (p.valid_from IS NULL OR p.valid_from <= ?) AND (p.valid_to IS NULL OR p.valid_to >= ?))
               OR EXISTS (SELECT 1 FROM transactions t WHERE t.recipient_id = r.recipient_id
                         AND t.posted_date BETWEEN ? AND ?))
        ORDER BY recipient_id""", [list(DP_TYPES), end, start, start, end]).fetchall()
    return [r[0] for r in rows]


def annual_dp_values(con: duckdb.DuckDBPyConnection, fy: int, policy: Policy) -> pd.DataFrame:
    """Per plan line that counts: ``recipient_id, line_id, annual_amount_pence, days, value_pence``."""
    start, end = dates.financial_year_bounds(fy)
    fy_days = (end - start).days + 1
    lines = store.query_df(con, f"""
        WITH latest AS ({_LATEST_DECISION}),
        invalid AS (
            SELECT DISTINCT f.recipient_id, f.line_id FROM findings f LEFT JOIN latest l USING (exception_id)
            WHERE f.rule_id = ? AND f.line_id IS NOT NULL AND coalesce(l.decision, '') NOT IN ('dismiss', 'dismissed'))
        , spans AS (
            SELECT p.recipient_id, p.line_id, coalesce(p.annual_amount_pence, 0) AS annual_amount_pence,
                   p.funding_stream,
                   greatest(p.valid_from, ?::DATE, coalesce(r.dp_start_date, ?::DATE)) AS span_from,
                   least(coalesce(p.valid_to, ?::DATE), ?::DATE, coalesce(r.dp_end_date, ?::DATE)) AS span_to
            FROM plan_lines p LEFT JOIN recipients r USING (recipient_id)
            WHERE lower(trim(p.management_type)) = ?
              AND p.valid_from IS NOT NULL AND (p.valid_to IS NULL OR p.valid_to >= p.valid_from)
              AND NOT EXISTS (SELECT 1 FROM invalid i WHERE i.recipient_id = p.recipient_id AND i.line_id = p.line_id))
        SELECT recipient_id, line_id, annual_amount_pence, funding_stream, (span_to - span_from) + 1 AS days
        FROM spans WHERE span_to >= span_from
        ORDER BY recipient_id, line_id""", [PLAN_INVALID_RULE, start, start, end, end, end, DP_LINE_TYPE])
    stream = lines["funding_stream"].astype("string").str.strip().str.lower()
    notional = stream.map(lambda s: policy.funding_restriction(s) == "notional" if isinstance(s, str) else False)
    lines = lines[~notional.astype(bool)].copy()
    lines["days"] = lines["days"].astype("int64")
    lines["value_pence"] = [money.pro_rata(int(a), int(d), fy_days)
                            for a, d in zip(lines["annual_amount_pence"], lines["days"])]
    lines["fy_days"] = fy_days
    return lines[["recipient_id", "line_id", "annual_amount_pence", "days", "fy_days", "value_pence"]].reset_index(drop=True)


def closing_balances(con: duckdb.DuckDBPyConnection, fy: int, recipient_ids: list[str]) -> pd.DataFrame:
    """``recipient_id, closing_balance_pence, balance_source`` at 31 March of ``fy`` (see module doc)."""
    _, end = dates.financial_year_bounds(fy)
    march = f"{fy + 1:04d}-03"
    out = pd.DataFrame({"recipient_id": recipient_ids})
    recon = store.query_df(con, """
        SELECT recipient_id, period, closing_balance_pence FROM reconciliation
        WHERE period <= ? AND closing_balance_pence IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY recipient_id ORDER BY period DESC) = 1""", [march])
    txns = store.query_df(con, """
        SELECT recipient_id, txn_id, posted_date, coalesce(amount_pence, 0) AS amount_pence, balance_pence,
               coalesce(file_sha256, '') AS file_sha256, coalesce(stmt_index, 0) AS stmt_index,
               coalesce(position, 0) AS position
        FROM transactions WHERE posted_date <= ? AND recipient_id IS NOT NULL""", [end])
    txns["posted_date"] = pd.to_datetime(txns["posted_date"]).dt.date

    result: dict[str, tuple[int, str]] = {}
    for r in recon[recon["period"] == march].itertuples(index=False):
        result[r.recipient_id] = (int(r.closing_balance_pence), f"from the reconciliation for {_month(march)}")
    if len(txns):
        last_date = txns.groupby("recipient_id")["posted_date"].transform("max")
        day = txns[txns["posted_date"] == last_date]
        complete = day["balance_pence"].notna().groupby(day["recipient_id"]).all()
        day = day[day["recipient_id"].map(complete).astype(bool)]
        day_of = day.drop_duplicates("recipient_id").set_index("recipient_id")["posted_date"]
        for r in day_end_balances(day).itertuples(index=False):
            result.setdefault(r.recipient_id, (int(r.balance_pence), f"the bank balance at the end of {_long(day_of[r.recipient_id])}"))
    anchors = recon[recon["period"] < march].copy()
    anchors["anchor_end"] = [dates.parse_period(str(p))[1] for p in anchors["period"]]
    after = txns.merge(anchors[["recipient_id", "anchor_end"]], on="recipient_id")
    after_sum = after[after["posted_date"] > after["anchor_end"]].groupby("recipient_id")["amount_pence"].sum().to_dict()
    all_sum = txns.groupby("recipient_id")["amount_pence"].sum().to_dict()
    anchor_of = {str(a.recipient_id): a for a in anchors.itertuples(index=False)}
    for rid in recipient_ids:
        if rid in result:
            continue
        if rid in anchor_of:
            a = anchor_of[rid]
            result[rid] = (int(a.closing_balance_pence) + int(after_sum.get(rid, 0)),
                           f"the reconciliation for {_month(str(a.period))} plus later transactions")
        elif rid in all_sum:
            result[rid] = (int(all_sum[rid]), "all transactions added up from a nil opening balance")
        else:
            result[rid] = (0, "no statement or reconciliation was found, so it is taken as nil")
    out["closing_balance_pence"] = [result[r][0] for r in recipient_ids]
    out["balance_source"] = [result[r][1] for r in recipient_ids]
    return out


def committed(con: duckdb.DuckDBPyConnection, fy: int, payslip_window_days: int = 7) -> pd.DataFrame:
    """``recipient_id, committed_invoices_pence, committed_hmrc_pence, committed_wages_pence`` at 31
    March of ``fy`` (with ``n_invoices``, ``n_payslips``)."""
    start, end = dates.financial_year_bounds(fy)
    inv = store.query_df(con, """
        WITH paid AS (
            SELECT i.recipient_id, i.invoice_id, sum(coalesce(m.matched_pence, 0)) AS paid_pence
            FROM invoices i
            JOIN matches m ON lower(trim(m.evidence_kind)) LIKE 'invoice%'
                          AND m.evidence_id IN (i.invoice_id, 'invoice:' || i.invoice_id)
            LEFT JOIN transactions t ON t.txn_id = m.txn_id
            WHERE t.txn_id IS NULL OR (t.recipient_id = i.recipient_id AND t.posted_date <= ?)
            GROUP BY i.recipient_id, i.invoice_id),
        owed AS (
            SELECT i.recipient_id, greatest(0, coalesce(i.amount_pence, 0) - coalesce(p.paid_pence, 0)) AS owed_pence
            FROM invoices i LEFT JOIN paid p USING (recipient_id, invoice_id)
            WHERE i.invoice_date BETWEEN ? AND ?)
        SELECT recipient_id, sum(owed_pence) AS committed_invoices_pence,
               count(*) FILTER (WHERE owed_pence > 0) AS n_invoices
        FROM owed GROUP BY recipient_id""", [end, start, end])
    months = dates.fy_periods(fy)
    hmrc = store.query_df(con, f"""
        SELECT recipient_id,
               sum(greatest(0, coalesce(amount_due_pence, 0)
                   - CASE WHEN paid_date IS NULL OR paid_date <= ? THEN coalesce(amount_paid_pence, 0) ELSE 0 END))
                   AS committed_hmrc_pence
        FROM hmrc_payments WHERE tax_month IN ({', '.join('?' for _ in months)})
        GROUP BY recipient_id""", [end, *months])
    # the year's last tax month with no HMRC record: its PAYE/NI (on the payslips) falls due on the
    # 22nd of April, so it is owed at 31 March
    last = months[-1]
    hmrc_ps = store.query_df(con, """
        SELECT p.recipient_id,
               sum(coalesce(p.tax_pence, 0) + coalesce(p.employee_ni_pence, 0) + coalesce(p.employer_ni_pence, 0))
                   AS committed_hmrc_pence
        FROM payslips p
        WHERE strftime(p.pay_date, '%Y-%m') = ?
          AND NOT EXISTS (SELECT 1 FROM hmrc_payments h WHERE h.recipient_id = p.recipient_id AND h.tax_month = ?)
        GROUP BY p.recipient_id""", [last, last])
    hmrc = pd.concat([hmrc, hmrc_ps]).groupby("recipient_id", as_index=False)["committed_hmrc_pence"].sum()
    # wages for work done in the year not paid by 31 March (March's payslip paid in April): the
    # payslip's period ends in the year, it is dated no earlier than a pay window before 31 March,
    # and no bank payment on or before 31 March was matched to it
    window = int(payslip_window_days)
    wages = store.query_df(con, """
        SELECT p.recipient_id, sum(coalesce(p.net_pence, 0)) AS committed_wages_pence, count(*) AS n_payslips
        FROM payslips p
        WHERE coalesce(p.period_end, p.pay_date) BETWEEN ? AND ?
          AND p.pay_date > ?::DATE - ?::INTEGER
          AND NOT EXISTS (
              SELECT 1 FROM matches m JOIN transactions t ON t.txn_id = m.txn_id
              WHERE m.evidence_kind = 'payslip'
                AND m.evidence_id = 'payslip:' || p.employee_id || ':' || strftime(p.pay_date, '%Y-%m-%d')
                AND t.recipient_id = p.recipient_id AND t.posted_date <= ?)
        GROUP BY p.recipient_id""", [start, end, end, window, end])
    out = inv.merge(hmrc, on="recipient_id", how="outer").merge(wages, on="recipient_id", how="outer")
    for c in ("committed_invoices_pence", "committed_hmrc_pence", "n_invoices", "committed_wages_pence", "n_payslips"):
        out[c] = out[c].fillna(0).astype("int64")
    return out


def split_surplus(surplus_pence: int, annual_dp_value_pence: int, carry_forward_pct: Decimal | str) -> tuple[int, int, int]:
    """``(cap, carry_forward, repayment)``: cap = pct of the annual value (half-up to 1p);
    carry_forward = max(0, min(surplus, cap)); repayment = max(0, surplus - carry_forward) (PBP 5.3, 5.4)."""
    cap = money.pct_of(annual_dp_value_pence, carry_forward_pct)
    carry = max(0, min(surplus_pence, cap))
    return cap, carry, max(0, surplus_pence - carry)


def paid_in(con: duckdb.DuckDBPyConnection, fy: int) -> pd.DataFrame:
    """``recipient_id, council_in_pence, contributions_in_pence``: council payments and client
    contributions credited in the year, summed over its months' ``reconciliation`` rows."""
    months = dates.fy_periods(fy)
    return store.query_df(con, f"""
        SELECT recipient_id, sum(coalesce(council_credits_pence, 0)) AS council_in_pence,
               sum(coalesce(contribution_credits_pence, 0)) AS contributions_in_pence
        FROM reconciliation WHERE period IN ({', '.join('?' for _ in months)})
        GROUP BY recipient_id ORDER BY recipient_id""", months)


def council_share(held_back_pence: int, council_in_pence: int, contributions_in_pence: int) -> tuple[int, int]:
    """``(council's share, family's share)`` of the money held back at year end (decision 49): the
    council recovers only its own funds, in proportion to what each paid in over the year,
    ``half_up(held_back x council_in / (council_in + contributions_in))``; the family's share is the
    rest.  With no contributions paid in, all of it is the council's."""
    held = max(0, int(held_back_pence))
    council_in, contrib_in = max(0, int(council_in_pence)), max(0, int(contributions_in_pence))
    if held == 0 or contrib_in == 0:
        return held, 0
    council = money.pro_rata(held, council_in, council_in + contrib_in)
    return council, held - council


def _surplus_words(row: dict) -> str:
    """"£2,338.12 (6.3 weeks of funding)": the surplus and, with an annual value, it in weeks."""
    weeks = money.format_weeks(money.weeks_of_funding(row["surplus_pence"], row["annual_dp_value_pence"]))
    return money.format_gbp(row["surplus_pence"]) + (f" ({weeks})" if weeks else "")


def _split_words(row: dict) -> str:
    """The sentence that explains the council's and the family's shares of what was held back."""
    gbp = money.format_gbp
    return (f"The council recovers only its own funds, in proportion to what was paid into the account in the year "
            f"(PBP 5.4): the council paid in {gbp(row['council_in_pence'])} and your client contributions came to "
            f"{gbp(row['contributions_in_pence'])}, so the council's share of the {gbp(row['held_back_pence'])} is "
            f"{gbp(row['repayment_pence'])} and the other {gbp(row['family_share_pence'])}, the share of your "
            f"contributions, is not recovered.")


def _reasons(row: dict, fy: int, part_year: list[str], pct: str) -> str:
    start, end = dates.financial_year_bounds(fy)
    gbp = money.format_gbp
    value = f"The annual direct payment value for {start.year}/{str(end.year)[2:]} is {gbp(row['annual_dp_value_pence'])}"
    if part_year:
        value += f" (pro rata: {', '.join(part_year)})"
    s = [value + "."]
    s.append(f"The balance on {_long(end)} was {gbp(row['closing_balance_pence'])} ({row['balance_source']}).")
    if row["committed_pence"]:
        bits = []
        if row["committed_invoices_pence"]:
            bits.append(f"{row['n_invoices']} invoice{'s' if row['n_invoices'] != 1 else ''} dated in the year "
                        f"still to be paid {gbp(row['committed_invoices_pence'])}")
        if row["committed_hmrc_pence"]:
            bits.append(f"PAYE and National Insurance still owed to HMRC {gbp(row['committed_hmrc_pence'])}")
        if row["committed_wages_pence"]:
            bits.append(f"{row['n_payslips']} payslip{'s' if row['n_payslips'] != 1 else ''} for work in the year "
                        f"paid after {_long(end)} {gbp(row['committed_wages_pence'])}")
        s.append(f"Already committed: {gbp(row['committed_pence'])} ({'; '.join(bits)}).")
    surplus = row["surplus_pence"]
    if row["closing_balance_pence"] < 0:
        s.append("The account was overdrawn at year end, so nothing is carried forward or repaid (PBP 5.3).")
    elif surplus <= 0:
        s.append(f"There is no surplus ({gbp(surplus)} after commitments), so nothing is carried forward or "
                 f"repaid (PBP 5.3).")
    elif row.get("ended"):
        s.append(f"The surplus is {_surplus_words(row)}. The direct payment has ended, so there is no new financial "
                 f"year to carry money into; the {pct}% of the annual value a continuing direct payment may keep "
                 f"({gbp(row['carry_forward_pence'])}) is shown separately and the council will agree with you "
                 f"what happens to it (PBP 5.3, 5.5).")
        if row["held_back_pence"] and row["contributions_in_pence"] > 0:
            s.append(f"Of the {gbp(row['held_back_pence'])} above it, the council recovers only its own share. "
                     + _split_words(row))
    else:
        s.append(f"The surplus is {_surplus_words(row)}. Up to {pct}% of the annual value "
                 f"({gbp(row['cap_pence'])}) may be carried forward into the new financial year with the "
                 f"council's agreement (PBP 5.3): {gbp(row['carry_forward_pence'])}.")
        if row["held_back_pence"] and row["contributions_in_pence"] > 0:
            s.append(f"The remaining {gbp(row['held_back_pence'])} was held back. " + _split_words(row)
                     + (f" The council's share, {gbp(row['repayment_pence'])}, should be repaid."
                        if row["repayment_pence"] else " Nothing needs to be repaid."))
        elif row["held_back_pence"]:
            s.append(f"The remaining {gbp(row['held_back_pence'])} was held back and should be repaid (PBP 5.4).")
        else:
            s.append("Nothing needs to be repaid (PBP 5.4).")
    return " ".join(s)


def compute_year_end(con: duckdb.DuckDBPyConnection, fy: int, policy: Policy, *,
                     run_id: str | None = None, write: bool = True) -> pd.DataFrame:
    """Year-end figures per recipient for financial year ``fy`` (FY2025 = 2025-04-01..2026-03-31).

    Returns :data:`YEAR_END_COLUMNS` plus :data:`DETAIL_COLUMNS` and :data:`SPLIT_COLUMNS`, sorted by
    recipient (``repayment_pence`` is the council's share of what was held back), and
    (unless ``write`` is False) replaces the year's rows of ``year_end`` in one transaction.
    """
    fy = int(fy)
    pct = str(policy.pct("carry_forward_pct"))
    rids = year_end_recipients(con, fy)
    lines = annual_dp_values(con, fy, policy)
    frame = pd.DataFrame({"recipient_id": pd.Series(rids, dtype=object)})
    value = lines.groupby("recipient_id")["value_pence"].sum()
    frame["annual_dp_value_pence"] = frame["recipient_id"].map(value).fillna(0).astype("int64")
    frame = frame.merge(closing_balances(con, fy, rids).astype({"recipient_id": object}), on="recipient_id", how="left")
    frame = frame.merge(committed(con, fy, policy.days("payslip_window_days")).astype({"recipient_id": object}),
                        on="recipient_id", how="left")
    for c in ("committed_invoices_pence", "committed_hmrc_pence", "n_invoices", "committed_wages_pence", "n_payslips"):
        frame[c] = frame[c].fillna(0).astype("int64")
    frame["committed_pence"] = frame["committed_invoices_pence"] + frame["committed_hmrc_pence"] + frame["committed_wages_pence"]
    frame["surplus_pence"] = frame["closing_balance_pence"] - frame["committed_pence"]
    split = [split_surplus(int(s), int(v), pct) for s, v in zip(frame["surplus_pence"], frame["annual_dp_value_pence"])]
    frame["cap_pence"] = [x[0] for x in split]
    frame["carry_forward_pence"] = [x[1] for x in split]
    frame["held_back_pence"] = [x[2] for x in split]
    frame = frame.merge(paid_in(con, fy).astype({"recipient_id": object}), on="recipient_id", how="left")
    for c in ("council_in_pence", "contributions_in_pence"):
        frame[c] = frame[c].fillna(0).astype("int64")
    shares = [council_share(h, ci, fi) for h, ci, fi in
              zip(frame["held_back_pence"], frame["council_in_pence"], frame["contributions_in_pence"])]
    frame["repayment_pence"] = [x[0] for x in shares]
    frame["family_share_pence"] = [x[1] for x in shares]
    for c in ("closing_balance_pence", "surplus_pence", "carry_forward_pence", "held_back_pence", "repayment_pence",
              "family_share_pence"):
        frame[c] = frame[c].astype("int64")
    ended = store.query_df(con, """SELECT recipient_id FROM recipients
        WHERE dp_end_date <= ? OR (lower(trim(coalesce(status, ''))) = 'stopped' AND dp_end_date IS NULL)""",
                           [dates.financial_year_bounds(fy)[1]])
    frame["ended"] = frame["recipient_id"].isin(set(ended["recipient_id"]))
    part_year: dict[str, list[str]] = {}
    for r in lines[lines["days"] < lines["fy_days"]].itertuples(index=False):
        part_year.setdefault(str(r.recipient_id), []).append(f"line {r.line_id} for {r.days} of {r.fy_days} days")
    frame["reasons"] = [_reasons(row, fy, part_year.get(row["recipient_id"], []), pct)
                        for row in frame.to_dict("records")]
    frame["fy"] = fy
    frame["run_id"] = run_id
    out = frame[YEAR_END_COLUMNS + DETAIL_COLUMNS + SPLIT_COLUMNS].sort_values("recipient_id", kind="stable") \
        .reset_index(drop=True)
    if write:
        with store.transaction(con):
            con.execute("DELETE FROM year_end WHERE fy = ?", [fy])
            store.insert_df(con, "year_end", out, on_conflict="REPLACE")
    return out


def contingency_summary(con: duckdb.DuckDBPyConnection, fy: int, policy: Policy | None = None) -> pd.DataFrame:
    """Contingency held through the year per recipient, from the month-end ``reconciliation`` rows.

    Columns: ``recipient_id, months, min_contingency_held_pence, avg_contingency_held_pence``
    (half-up to 1p), ``min_contingency_pct, avg_contingency_pct`` (text, 2 places), and with a
    policy ``months_below_min`` / ``months_above_max`` (against contingency_min_pct/_max_pct, PBP 5.3).
    """
    months = dates.fy_periods(fy)
    rec = store.query_df(con, f"""
        SELECT recipient_id, period, contingency_held_pence, CAST(contingency_pct AS VARCHAR) AS pct
        FROM reconciliation WHERE period IN ({', '.join('?' for _ in months)})
        ORDER BY recipient_id, period""", months)
    rows = []
    for rid, g in rec.groupby("recipient_id", sort=True):
        held = [int(v) for v in g["contingency_held_pence"].dropna()]
        pcts = [Decimal(str(v)) for v in g["pct"].dropna()]
        row = {
            "recipient_id": rid, "months": len(g),
            "min_contingency_held_pence": min(held) if held else None,
            "avg_contingency_held_pence": money.round_half_up_pence(Decimal(sum(held)) / len(held)) if held else None,
            "min_contingency_pct": str(min(pcts).quantize(_CENT, ROUND_HALF_UP)) if pcts else "",
            "avg_contingency_pct": str((sum(pcts) / len(pcts)).quantize(_CENT, ROUND_HALF_UP)) if pcts else "",
        }
        if policy is not None:
            lo, hi = policy.pct("contingency_min_pct"), policy.pct("contingency_max_pct")
            row["months_below_min"] = sum(1 for p in pcts if p < lo)
            row["months_above_max"] = sum(1 for p in pcts if p > hi)
        rows.append(row)
    out = pd.DataFrame(rows, columns=["recipient_id", "months", "min_contingency_held_pence", "avg_contingency_held_pence",
                                      "min_contingency_pct", "avg_contingency_pct"]
                       + (["months_below_min", "months_above_max"] if policy is not None else []))
    for c in ("min_contingency_held_pence", "avg_contingency_held_pence"):
        out[c] = out[c].astype("Int64")
    return out


def to_contract_frame(ye: pd.DataFrame) -> pd.DataFrame:
    """The ``year_end.csv`` columns of contract section 3 (money in pounds)."""
    out = pd.DataFrame({"recipient_id": ye["recipient_id"]})
    for c in ("annual_dp_value", "closing_balance", "committed", "surplus", "carry_forward", "repayment"):
        out[c] = ye[f"{c}_pence"].map(money.format_pounds)
    out["reasons"] = ye["reasons"]
    return out
