"""Monthly recommendations: STOP, REPAY, REVIEW or NONE per direct-payment recipient (PBP 5.4, 5.5).

Grain of the output (store table ``recommendations``): one row per recipient x period, for every
``direct_payment``/``combination`` recipient whose payment has started by the period end and who
is ``active`` (any other status counts as active), or ``stopped``/``suspended`` while the period
still falls inside the payment's dates (no ``dp_end_date`` or one on/after the period start); and
for any direct-payment recipient with an open finding of the period or an unevidenced debit due
in it (so spending after a payment was stopped is still recommended for recovery).

Inputs are the store tables ``recipients``, ``findings``, ``matches`` and ``decisions``.  The
latest decision by ``seq`` per ``exception_id`` wins; a finding whose latest decision is
``dismiss`` never counts toward anything here (repayment, stop, review).

Precedence ``STOP > REPAY > REVIEW > NONE``:

* ``STOP`` (PBP 5.5), ground ids (not rule ids, these grounds have none):
  ``STOP-REQUESTED`` - ``stop_requested = yes``;
  ``STOP-NOT-ENTITLED`` - ``dp_end_date`` on or before the period's last day, or status ``stopped``
  with no ``dp_end_date`` (a stopped recipient with a later end date was entitled in this period);
  ``STOP-MISUSE`` (payment not used as agreed) - high-severity findings of ``[recommend] misuse_rules`` in at least
  ``stop_after_months`` of the last ``stop_lookback_months`` periods (this one included), or their
  total this period (each transaction once) above ``stop_amount``;
  ``STOP-YOUNG-PERSON`` - aged ``young_person_age`` or over on the period's last day and
  ``young_person_declines = yes``.
  The misuse rule ids behind ``STOP-MISUSE`` are listed among the grounds too.
* ``REPAY`` (PBP 5.4): amount = misused spend (``repay_rules`` findings of this period, each
  transaction once, attributed to the first rule in ``repay_rules`` order) + unevidenced debits
  (``EV-NO-EVIDENCE``, any period) whose grace period ends in this period (``txn_date +
  evidence_grace_days`` between the period's first and last day) + ``AC-SURPLUS`` excess raised
  this period.  An unevidenced debit that has any (not dismissed) repay-rule finding in any period
  is not counted again, nor one that has since been matched to evidence (a row in ``matches``).
* ``REVIEW``: any not-dismissed high/medium finding of this period whose rule is not a repayment
  ground (``repay_rules``, ``EV-NO-EVIDENCE``, ``AC-SURPLUS``).  The cohort findings (CO-*) are such
  grounds (medium) or none at all (low); a finding about no one family (recipient ``COUNCIL``: a
  provider's pattern across all accounts) gives no recommendation row.
* ``NONE`` otherwise.

Decision recorded here: when a STOP recipient also has money to recover, the row keeps the REPAY
amount in ``amount_pence`` (the contract's "0 unless REPAY" is widened to "0 unless REPAY or STOP
with money to recover") and the reasons say that repayment is asked for as well.  ``respond_by`` is
the period's last day + ``repay_days`` for REPAY and STOP, otherwise empty.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from dpaudit.core import dates
from dpaudit.core import money
from dpaudit import store
from dpaudit.audit.data import DP_TYPES
from dpaudit.audit.findings import COUNCIL
from dpaudit.core.policy import Policy, PolicyError

ACTIONS = ("STOP", "REPAY", "REVIEW", "NONE")
GROUND_STOP_REQUESTED = "STOP-REQUESTED"
GROUND_NOT_ENTITLED = "STOP-NOT-ENTITLED"
GROUND_NOT_USED = "STOP-MISUSE"
GROUND_YOUNG_PERSON = "STOP-YOUNG-PERSON"
UNEVIDENCED_RULE = "EV-NO-EVIDENCE"
SURPLUS_RULE = "AC-SURPLUS"
STOP_CLAUSE = "PBP 5.5"
REPAY_CLAUSE = "PBP 5.4"

RECOMMENDATION_COLUMNS = [
    "recipient_id", "period", "action", "amount_pence", "grounds", "clauses", "reasons",
    "respond_by", "prepared_by", "run_id",
]

# What each rule means, in words fit for a letter (used to start a sentence).
RULE_TEXT = {
    "DQ-STATEMENT-MISSING": "No bank statement was received for the month",
    "DQ-STATEMENT-GAP": "Some days are not covered by any bank statement",
    "DQ-BALANCE-BREAK": "The statement balances do not add up",
    "DQ-WRONG-ACCOUNT": "A statement is for an account other than the registered direct payment account",
    "DQ-ROW-REJECTED": "Some information sent could not be read",
    "DQ-DUPLICATE-FILE": "A file was sent twice",
    "DQ-PLAN-INVALID": "A support plan line cannot be paid as a direct payment",
    "EV-NO-EVIDENCE": "Payments without a receipt, invoice or other evidence",
    "EV-AMOUNT-MISMATCH": "Receipts or invoices for a different amount than was paid",
    "EV-ORPHAN-RECEIPT": "Receipts or invoices that match no payment from the account",
    "SP-PROHIBITED": "Spending on things a direct payment may never be used for, such as alcohol or gambling",
    "SP-HOUSEHOLD": "Household bills or items the support plan does not agree",
    "SP-NOT-IN-PLAN": "Spending on support that is not in the support plan",
    "SP-OVER-BUDGET": "Spending above the support plan budget to date",
    "SP-SCHOOL-CONSENT": "Spending on a school setting without the setting's consent",
    "SP-CASH": "Cash withdrawals that need receipts",
    "SP-TRANSFER-OUT": "Transfers to other accounts that are not agreed payees",
    "SP-DUPLICATE-PAYMENT": "Payments that look like the same supply paid twice",
    "SP-AFTER-END": "Spending after the direct payment ended or was stopped",
    "AC-NON-COUNCIL-CREDIT": "Money paid into the account that is not the personal budget",
    "AC-PAYMENT-MISSING": "Council payments that did not arrive as scheduled",
    "AC-OVERDRAWN": "The account went overdrawn",
    "AC-LOW-CONTINGENCY": "The contingency held is below the recommended level",
    "AC-SURPLUS": "Funds held back above the contingency the policy allows",
    "AC-CONTRIBUTION-SHORT": "Client contributions paid into the account short of the amount assessed",
    "PY-NO-PAYSLIP": "Wages paid without a matching payslip",
    "PY-NET-MISMATCH": "Payslips that do not agree with the wages paid",
    "PY-HMRC-UNPAID": "PAYE and National Insurance not paid to HMRC in full and on time",
    "PY-NO-INSURANCE": "Employees paid without employer's liability insurance",
    "PY-DBS-MISSING": "Employees without a current DBS check",
    "PY-BELOW-MIN-WAGE": "Wages below the National Minimum or Living Wage",
    "PY-UNKNOWN-PAYEE": "Payments that look like wages to someone not registered as an employee",
    "RV-REVIEW-DUE": "A review of the direct payment is due",
    "CO-SHARED-PAYEE": "A personal assistant paid by too many families, or for more hours a week than one person can work",
    "CO-DUPLICATE-INVOICE": "An invoice number already seen in another account's or month's evidence",
    "CO-PROVIDER-PATTERN": "A provider's payments from all accounts follow an unusual pattern",
    "RULE-ERROR": "An audit check could not be completed",
}

_FINDINGS_SQL = """
WITH latest AS (
    SELECT exception_id, lower(trim(decision)) AS decision FROM decisions
    QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY seq DESC) = 1)
SELECT f.exception_id, f.period, f.recipient_id, f.rule_id, lower(trim(f.severity)) AS severity,
       f.txn_date, coalesce(f.amount_pence, 0) AS amount_pence, f.txn_ref, f.clause,
       coalesce(l.decision IN ('dismiss', 'dismissed'), false) AS dismissed
FROM findings f LEFT JOIN latest l USING (exception_id)
"""


def long_date(d: date) -> str:
    """``2025-06-28`` -> ``28 June 2025`` (letters)."""
    return f"{d.day} {d:%B %Y}"


def month_name(period: str) -> str:
    """``2025-06`` -> ``June 2025``."""
    start, _ = dates.parse_period(period)
    return f"{start:%B %Y}"


def _join_and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def load_findings(con: duckdb.DuckDBPyConnection, policy: Policy | None = None) -> pd.DataFrame:
    """All findings with a ``dismissed`` flag from the latest decision (with ``policy``, also a
    dismissal carried from the previous period's same state, ``decisions.carried_decisions``), and a
    ``txn_key`` for dedupe."""
    f = store.query_df(con, _FINDINGS_SQL)
    f["amount_pence"] = f["amount_pence"].astype("int64")
    f["dismissed"] = f["dismissed"].astype(bool)
    if policy is not None and len(f):
        from dpaudit.decide.decisions import current_status

        st = current_status(con, **policy.carry())
        carried = set(st.loc[st["carried_from"].notna() & (st["status"] == "dismissed"), "exception_id"])
        f["dismissed"] = f["dismissed"] | f["exception_id"].astype(str).isin(carried)
    ref = f["txn_ref"].astype("string").str.strip()
    f["txn_key"] = ref.where(ref.notna() & (ref != ""), "finding:" + f["exception_id"].astype("string"))
    f["txn_date"] = pd.to_datetime(f["txn_date"])
    return f


def eligible_recipients(con: duckdb.DuckDBPyConnection, period: str, also: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """The recipients that get a recommendation for ``period`` (see the module docstring).

    ``also``: recipient ids that have open findings for the period; a direct-payment recipient among
    them is included even when stopped before the period (spending after the end must be recovered).
    """
    start, end = dates.parse_period(period)
    return store.query_df(con, """
        SELECT recipient_id, date_of_birth, dp_start_date, dp_end_date,
               lower(trim(coalesce(status, ''))) AS status,
               lower(trim(coalesce(stop_requested, ''))) AS stop_requested,
               lower(trim(coalesce(young_person_declines, ''))) AS young_person_declines
        FROM recipients
        WHERE list_contains(?::VARCHAR[], lower(trim(management_type)))
          AND (((dp_start_date IS NULL OR dp_start_date <= ?)
                AND (lower(trim(coalesce(status, ''))) NOT IN ('stopped', 'suspended')
                     OR dp_end_date IS NULL OR dp_end_date >= ?))
               OR list_contains(?::VARCHAR[], recipient_id))
        ORDER BY recipient_id""", [list(DP_TYPES), end, start, sorted({str(a) for a in also})])


def _matched_txn_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT DISTINCT txn_id FROM matches WHERE txn_id IS NOT NULL").fetchall()}


def _first_per_txn(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per (recipient, transaction): the rule first in ``order`` wins (then the exception id)."""
    rank = {r: i for i, r in enumerate(order)}
    return (frame.assign(_rank=frame["rule_id"].map(rank).fillna(len(order)))
            .sort_values(["recipient_id", "txn_key", "_rank", "exception_id"])
            .drop_duplicates(["recipient_id", "txn_key"]).drop(columns="_rank"))


def _clause(row_clause: object, rule_id: str, policy: Policy) -> str:
    c = "" if row_clause is None or pd.isna(row_clause) else str(row_clause).strip()
    if not c:
        try:
            c = policy.rule(rule_id).clause
        except PolicyError:  # a rule id the policy does not know: no clause to cite
            c = ""
    return "" if c == "-" else c


Summary = list[tuple[str, int, int, str]]  # (rule_id, findings, total pence, clause) per rule


def _summaries(frame: pd.DataFrame, policy: Policy) -> dict[str, Summary]:
    """Per recipient, ``(rule_id, count, total pence, clause)`` per rule sorted by rule id (vectorised)."""
    if frame.empty:
        return {}
    g = (frame.groupby(["recipient_id", "rule_id"], sort=True)
         .agg(n=("exception_id", "size"), total=("amount_pence", "sum"), clause=("clause", "first")))
    out: dict[str, Summary] = {}
    for (rid, rule_id), n, total, clause in zip(g.index, g["n"], g["total"], g["clause"]):
        out.setdefault(str(rid), []).append((str(rule_id), int(n), int(total), _clause(clause, str(rule_id), policy)))
    return out


def _cite(clause: str) -> str:
    return f" ({clause})" if clause else ""


def _stop_grounds(r, p_end: date, policy: Policy) -> list[tuple[str, str]]:
    """The PBP 5.5 grounds that need no findings: asked to stop, not entitled, young person declines."""
    out = []
    if r.stop_requested == "yes":
        out.append((GROUND_STOP_REQUESTED, f"The parent, carer or young person has asked for the direct "
                                           f"payment to stop ({STOP_CLAUSE})."))
    end = None if pd.isna(r.dp_end_date) else pd.Timestamp(r.dp_end_date).date()
    if end is not None and end <= p_end:
        out.append((GROUND_NOT_ENTITLED, f"The direct payment ended on {long_date(end)}, so there is no "
                                         f"longer an entitlement to it ({STOP_CLAUSE})."))
    elif r.status == "stopped" and end is None:  # a later end date decides: recipients.csv is today's snapshot
        out.append((GROUND_NOT_ENTITLED, f"The direct payment has been stopped, so there is no longer "
                                         f"an entitlement to it ({STOP_CLAUSE})."))
    if r.young_person_declines == "yes" and not pd.isna(r.date_of_birth):
        age = dates.age_on(pd.Timestamp(r.date_of_birth).date(), p_end)
        if age >= int(policy.days("young_person_age")):
            out.append((GROUND_YOUNG_PERSON, f"The child is now a young person aged {age} who no longer wants "
                                             f"the direct payment made to a parent or carer ({STOP_CLAUSE})."))
    return out


def annual_values(con: duckdb.DuckDBPyConnection, on: date, policy: Policy) -> dict[str, int]:
    """Annual direct payment value per recipient on a date, as AC-SURPLUS measures it
    (``audit.data.annual_dp_value``: valid direct-payment plan lines in force, pence)."""
    lines = store.query_df(con, """
        SELECT recipient_id, funding_stream, coalesce(annual_amount_pence, 0) AS annual_pence FROM plan_lines
        WHERE management_type = 'direct_payment' AND valid_from IS NOT NULL AND valid_to IS NOT NULL
          AND valid_from <= valid_to AND valid_from <= ? AND valid_to >= ?""", [on, on])
    if lines.empty:
        return {}
    notional = lines["funding_stream"].map(lambda s: policy.funding_restriction(str(s)) == "notional")
    return {str(k): int(v) for k, v in lines[~notional.astype(bool)].groupby("recipient_id")["annual_pence"].sum().items()}


def _money_sentences(money_rows: Summary, policy: Policy, annual_pence: int | None = None) -> list[str]:
    out = []
    order = {UNEVIDENCED_RULE: 1, SURPLUS_RULE: 2}  # misused spend first, then unevidenced, then funds held back
    for rule_id, n, total, clause in sorted(money_rows, key=lambda x: (order.get(x[0], 0), x[0])):
        if rule_id == UNEVIDENCED_RULE:
            grace = policy.days("evidence_grace_days")
            out.append(f"Payments still without a receipt, invoice or other evidence {grace} days after they were "
                       f"made ({rule_id}): {_plural(n, 'payment')} totalling {money.format_gbp(total)}{_cite(clause)}.")
        elif rule_id == SURPLUS_RULE:
            weeks = money.format_weeks(money.weeks_of_funding(total, annual_pence))
            out.append(f"{RULE_TEXT[SURPLUS_RULE]} ({rule_id}): {money.format_gbp(total)}"
                       f"{', ' + weeks if weeks else ''}{_cite(clause)}.")
        else:
            out.append(f"{RULE_TEXT.get(rule_id, rule_id)} ({rule_id}): {_plural(n, 'payment')} totalling "
                       f"{money.format_gbp(total)}{_cite(clause)}.")
    return out


def _review_sentences(review: Summary) -> list[str]:
    out = []
    for rule_id, n, total, clause in review:
        at_stake = f", {money.format_gbp(total)} at stake" if total else ""
        out.append(f"{RULE_TEXT.get(rule_id, rule_id)} ({rule_id}): {_plural(n, 'finding')}{at_stake}{_cite(clause)}.")
    return out


def recommend_period(con: duckdb.DuckDBPyConnection, period: str, policy: Policy, *, prepared_by: str,
                     run_id: str | None = None, write: bool = True) -> pd.DataFrame:
    """Recommend STOP/REPAY/REVIEW/NONE for every eligible recipient in ``period``.

    Replaces the period's rows of ``recommendations`` in one transaction (unless ``write`` is
    False) and returns the frame (columns :data:`RECOMMENDATION_COLUMNS`, sorted by recipient).
    """
    if not str(prepared_by or "").strip():
        raise ValueError("prepared_by is empty: name the officer or process preparing the recommendations "
                         "(it is recorded so that a different officer decides them)")
    p_start, p_end = dates.parse_period(period)
    f_all = load_findings(con, policy)
    f = f_all[~f_all["dismissed"]]
    cur = f[f["period"] == period]

    repay_rules = [str(r) for r in policy.raw["recommend"]["repay_rules"]]
    misuse_rules = [str(r) for r in policy.raw["recommend"]["misuse_rules"]]
    repay_ground_rules = set(repay_rules) | {UNEVIDENCED_RULE, SURPLUS_RULE}
    grace = timedelta(days=policy.days("evidence_grace_days"))
    respond_by = p_end + timedelta(days=policy.days("repay_days"))

    # REPAY components
    misuse = _first_per_txn(cur[cur["rule_id"].isin(repay_rules)], repay_rules)
    misused_keys = set(zip(*[f.loc[f["rule_id"].isin(repay_rules), c] for c in ("recipient_id", "txn_key")]))
    ts_start, ts_end = pd.Timestamp(p_start), pd.Timestamp(p_end)
    grace_end = f["txn_date"] + grace
    unev = f[(f["rule_id"] == UNEVIDENCED_RULE) & f["txn_date"].notna()
             & (grace_end >= ts_start) & (grace_end <= ts_end)]
    if len(unev):
        keys = pd.Series(list(zip(unev["recipient_id"], unev["txn_key"])), index=unev.index)
        unev = unev[~keys.isin(misused_keys) & ~unev["txn_key"].isin(_matched_txn_ids(con))]
    unev = _first_per_txn(unev, [UNEVIDENCED_RULE])
    surplus = cur[cur["rule_id"] == SURPLUS_RULE]

    # STOP misuse
    lookback, p = [], period
    for _ in range(int(policy.days("stop_lookback_months"))):
        lookback.append(p)
        p = dates.previous_period(p)
    hm = f[f["rule_id"].isin(misuse_rules) & (f["severity"] == "high") & f["period"].isin(lookback)]
    hm_cur = _first_per_txn(hm[hm["period"] == period], misuse_rules)
    stop_after, stop_amount = int(policy.days("stop_after_months")), policy.pence("stop_amount")

    review = cur[cur["severity"].isin(["high", "medium"]) & ~cur["rule_id"].isin(repay_ground_rules)]
    # a payment still without evidence whose grace period runs past this month is no repayment ground
    # yet, but an open finding to review with the family (unless the payment is misused anyway)
    pending = cur[(cur["rule_id"] == UNEVIDENCED_RULE) & cur["severity"].isin(["high", "medium"])
                  & (cur["txn_date"] + grace > ts_end)]
    if len(pending):
        keys = pd.Series(list(zip(pending["recipient_id"], pending["txn_key"])), index=pending.index)
        pending = pending[~keys.isin(misused_keys)]
    review = pd.concat([review, pending])
    all_grace_end = f_all["txn_date"] + grace
    due_unev = (f_all["rule_id"] == UNEVIDENCED_RULE) & (all_grace_end >= ts_start) & (all_grace_end <= ts_end)
    raised_now = (f_all["period"] == period) & f_all["rule_id"].isin(repay_ground_rules - {UNEVIDENCED_RULE})
    dismissed = f_all[f_all["dismissed"] & (raised_now | due_unev.fillna(False).astype(bool))]

    # a finding about the council as a whole (recipient COUNCIL) is nobody's recommendation
    named = (set(cur["recipient_id"]) | set(unev["recipient_id"])) - {COUNCIL}
    rcp = eligible_recipients(con, period, also=sorted(named))

    # one summary per recipient for each part, built with groupby (no per-recipient frame filtering)
    hi_med = ["high", "medium"]
    money_all = pd.concat([misuse, unev, surplus])
    money_sum = _summaries(money_all, policy)
    zero_review_sum = _summaries(money_all[money_all["severity"].isin(hi_med)], policy)
    review_sum = _summaries(review, policy)
    hm_sum = _summaries(hm, policy)
    hm_months = hm.drop_duplicates(["recipient_id", "period"]).groupby("recipient_id")["period"].agg(sorted).to_dict()
    hm_cur_total = hm_cur.groupby("recipient_id")["amount_pence"].sum().to_dict()
    n_dismissed_of = dismissed.groupby("recipient_id").size().to_dict()
    annual = annual_values(con, p_end, policy) if len(surplus) else {}

    rows = []
    for r in rcp.itertuples(index=False):
        rid = r.recipient_id
        stop_grounds = _stop_grounds(r, p_end, policy)
        months = hm_months.get(rid, [])
        cur_total = int(hm_cur_total.get(rid, 0))
        misuse_stop: Summary = []
        if len(months) >= stop_after or cur_total > stop_amount:
            parts = []
            if len(months) >= stop_after:
                parts.append(f"spending it may not be used for was found in {len(months)} of the last "
                             f"{len(lookback)} months ({_join_and([month_name(m) for m in months])})")
            if cur_total > stop_amount:
                parts.append(f"such spending this month totalled {money.format_gbp(cur_total)}, above the "
                             f"{money.format_gbp(stop_amount)} limit")
            stop_grounds.append((GROUND_NOT_USED, f"The payment has not been used as agreed: {' and '.join(parts)} "
                                 f"({STOP_CLAUSE})."))
            misuse_stop = hm_sum.get(rid, [])

        money_rows = money_sum.get(rid, [])
        review_rows = review_sum.get(rid, [])
        amount = sum(total for _, _, total, _ in money_rows)
        if amount <= 0:
            # repayment grounds with no money at stake cannot be recovered: they are matters to review
            review_rows = sorted(review_rows + zero_review_sum.get(rid, []))
            money_rows, amount = [], 0

        if stop_grounds:
            action = "STOP"
            grounds = {g for g, _ in stop_grounds} | {x[0] for x in misuse_stop} | {x[0] for x in money_rows}
            clauses = {STOP_CLAUSE} | {x[3] for x in misuse_stop}
            reasons = ["We recommend that the direct payment stops."] + [s for _, s in stop_grounds]
            if amount:
                clauses |= {REPAY_CLAUSE} | {x[3] for x in money_rows}
                reasons.append(f"In addition, {money.format_gbp(amount)} should be repaid ({REPAY_CLAUSE}).")
                reasons += _money_sentences(money_rows, policy, annual.get(str(rid)))
            reasons.append(f"Please respond by {long_date(respond_by)}.")
        elif amount > 0:
            action = "REPAY"
            grounds = {x[0] for x in money_rows}
            clauses = {REPAY_CLAUSE} | {x[3] for x in money_rows}
            reasons = [f"We recommend that {money.format_gbp(amount)} is repaid ({REPAY_CLAUSE})."]
            reasons += _money_sentences(money_rows, policy, annual.get(str(rid)))
            reasons.append(f"Please respond by {long_date(respond_by)}.")
        elif review_rows:
            action = "REVIEW"
            grounds = {x[0] for x in review_rows}
            clauses = {x[3] for x in review_rows}
            reasons = ["We recommend a review of these findings with the family."] + _review_sentences(review_rows)
        else:
            action, grounds, clauses = "NONE", set(), set()
            reasons = ["No finding this month needs action."]
        n_dismissed = int(n_dismissed_of.get(rid, 0))
        if n_dismissed:
            reasons.append(f"{_plural(n_dismissed, 'finding')} an officer dismissed "
                           f"{'is' if n_dismissed == 1 else 'are'} not counted.")
        money_action = action in ("STOP", "REPAY")
        rows.append({
            "recipient_id": rid, "period": period, "action": action,
            "amount_pence": amount if money_action else 0,
            "grounds": ";".join(sorted(str(g) for g in grounds)),
            "clauses": "; ".join(sorted(c for c in clauses if c)),
            "reasons": " ".join(reasons),
            "respond_by": respond_by if money_action else None,
            "prepared_by": str(prepared_by).strip(), "run_id": run_id,
        })
    out = pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)
    out["amount_pence"] = out["amount_pence"].astype("int64")
    out = out.sort_values("recipient_id", kind="stable").reset_index(drop=True)
    if write:
        with store.transaction(con):
            con.execute("DELETE FROM recommendations WHERE period = ?", [period])
            store.insert_df(con, "recommendations", out, on_conflict="REPLACE")
    return out


def to_contract_frame(recs: pd.DataFrame) -> pd.DataFrame:
    """The ``recommendations.csv`` columns of contract section 3 (amount in pounds, dates ISO)."""
    out = recs[["recipient_id", "period", "action"]].copy()
    out["amount"] = recs["amount_pence"].map(money.format_pounds)
    out["grounds"], out["clauses"], out["reasons"] = recs["grounds"], recs["clauses"], recs["reasons"]
    out["respond_by"] = recs["respond_by"].map(lambda d: "" if d is None or pd.isna(d) else pd.Timestamp(d).date().isoformat())
    return out[["recipient_id", "period", "action", "amount", "grounds", "clauses", "reasons", "respond_by"]]
