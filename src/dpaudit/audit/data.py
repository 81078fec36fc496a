"""The month's tables, read from the store once and handed to every stage of the audit.

:class:`AuditData` is the only input of categorise, match, rules and reconcile: they never
open the store or read files, so they are pure functions of these frames and the policy.
Dates are ``datetime64`` columns; money is ``int64`` pence.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from dpaudit.core.dates import financial_year_bounds, financial_year_of, parse_period
from dpaudit.core.policy import Policy

DP_TYPES = ("direct_payment", "combination")  # recipients (and plan lines) managed wholly or partly by DP
DP_LINE_TYPE = "direct_payment"  # the plan lines whose money is paid into the DP account


def cached_view(key: str):
    """Compute a view of the month once per audit and keep it in ``data.cache[key]``."""
    def wrap(fn):
        @functools.wraps(fn)
        def view(data: "AuditData"):
            if key not in data.cache:
                data.cache[key] = fn(data)
            return data.cache[key]
        return view
    return wrap


@dataclass
class AuditData:
    period: str
    start: date
    end: date
    policy: Policy
    recipients: pd.DataFrame
    plan_lines: pd.DataFrame
    schedule: pd.DataFrame
    employees: pd.DataFrame
    insurance: pd.DataFrame
    providers: pd.DataFrame
    txns: pd.DataFrame          # financial year to date (and a window past the period end)
    statements: pd.DataFrame
    receipts: pd.DataFrame
    invoices: pd.DataFrame
    payslips: pd.DataFrame
    hmrc: pd.DataFrame
    prior_matches: pd.DataFrame  # evidence already matched in other periods
    prior_findings: pd.DataFrame  # findings of earlier periods (exception_id, period, rule_id, recipient_id)
    # one row per quarantined row or file of the period's inbox, and per quarantined reference row
    # (period NULL): q_id, path, kind, recipient_id, period, row_no, column_name, value_masked, reason
    quarantine: pd.DataFrame
    # one row per path of the period's inbox whose content was already read from another path:
    # path, recipient_id, first_path, sha256, first_recipient (whose folder the first path is in)
    duplicate_files: pd.DataFrame
    # one row per recipient whose CSV/XLSX statements have a transaction dated in the period (such
    # an export covers its whole calendar month): recipient_id
    csv_covered: pd.DataFrame
    # recipients whose previous month was audited (a reconciliation row): an overdraft running on
    # from it was reported then
    audited_before: frozenset = frozenset()
    # one row per contributions.csv row (none when the file is absent): recipient_id, amount_pence,
    # frequency, start_date, end_date (audit.contributions)
    contributions: pd.DataFrame = field(default_factory=lambda: empty_contributions())
    # one row per recipient rated in an earlier period: its latest such rating (recipient_id,
    # period, rating), for RV-REVIEW-DUE's schedule (``[risk] schedule_reviews``); this period's
    # rating is made after the audit
    prior_ratings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["recipient_id", "period", "rating"]))
    # one row per invoice read from an inbox month up to the period (every recipient, every earlier
    # month): recipient_id, invoice_id, supplier, invoice_date, amount_pence, period, file_sha256,
    # row_no.  Read by the cohort stage on the whole month only (CO-DUPLICATE-INVOICE); a shard gets it empty
    invoices_to_date: pd.DataFrame = field(default_factory=pd.DataFrame)
    cache: dict = field(default_factory=dict)  # memo of the derived views (``cached_view``), nothing else


CONTRIBUTION_COLUMNS = ["recipient_id", "amount_pence", "frequency", "start_date", "end_date"]


def empty_contributions() -> pd.DataFrame:
    """A contributions frame with no rows (no contributions.csv), typed as the loaded one."""
    return pd.DataFrame({"recipient_id": pd.Series(dtype=object), "amount_pence": pd.Series(dtype="Int64"),
                         "frequency": pd.Series(dtype=object), "start_date": pd.Series(dtype="datetime64[ns]"),
                         "end_date": pd.Series(dtype="datetime64[ns]")})


def _dates(f: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for c in cols:
        if c in f.columns:
            f[c] = pd.to_datetime(f[c])
    return f


def _pence(f: pd.DataFrame) -> pd.DataFrame:
    for c in f.columns:
        if c.endswith("_pence"):
            f[c] = f[c].astype("Int64")
    return f


def load_audit_data(con, period: str, policy: Policy) -> AuditData:
    start, end = parse_period(period)
    fy_start = financial_year_bounds(financial_year_of(start))[0]
    window = max(policy.days("match_window_days"), policy.days("payment_window_days"), policy.days("payslip_window_days"))
    lookback = min(fy_start, start - timedelta(days=policy.days("wage_lookback_days")))
    hi = end + timedelta(days=window)
    lo = start - timedelta(days=window)

    def q(sql: str, params: list | None = None) -> pd.DataFrame:
        return con.execute(sql, params or []).df()

    recipients = _dates(q("SELECT * FROM recipients ORDER BY recipient_id"), ["date_of_birth", "dp_start_date", "dp_end_date"])
    plan_lines = _pence(_dates(q("SELECT * FROM plan_lines ORDER BY recipient_id, line_id"), ["valid_from", "valid_to", "setting_consent_date"]))
    schedule = _pence(_dates(q("SELECT * FROM payment_schedule ORDER BY recipient_id, due_date"), ["due_date"]))
    employees = _pence(_dates(q("SELECT * FROM employees ORDER BY recipient_id, employee_id"), ["date_of_birth", "start_date", "end_date", "dbs_issue_date"]))
    insurance = _dates(q("SELECT * FROM insurance ORDER BY recipient_id, policy_number"), ["cover_start", "cover_end"])
    providers = q("SELECT * FROM providers ORDER BY name")
    txns = _pence(_dates(q(
        "SELECT * FROM transactions WHERE posted_date BETWEEN ? AND ? ORDER BY recipient_id, posted_date, txn_id",
        [lookback, hi]), ["posted_date"]))
    # every statement ever loaded, with its file's path and the sum of its transactions
    statements = _pence(_dates(q("""SELECT s.*, t.sum_amount_pence, f.path FROM statements s
                                    LEFT JOIN statement_totals t USING (file_sha256, stmt_index)
                                    LEFT JOIN files f ON f.sha256 = s.file_sha256
                                    ORDER BY s.recipient_id, s.start_date, s.file_sha256, s.stmt_index"""),
                               ["start_date", "end_date"]))
    receipts = _pence(_dates(q("SELECT * FROM receipts WHERE date BETWEEN ? AND ? ORDER BY recipient_id, receipt_id", [lo - timedelta(days=window), hi]), ["date"]))
    invoices = _pence(_dates(q("SELECT * FROM invoices WHERE invoice_date BETWEEN ? AND ? ORDER BY recipient_id, invoice_id",
                                [lo - timedelta(days=window), hi]), ["invoice_date", "period_start", "period_end"]))
    payslips = _pence(_dates(q("SELECT * FROM payslips WHERE pay_date BETWEEN ? AND ? ORDER BY recipient_id, employee_id, pay_date",
                                [fy_start - timedelta(days=62), hi]), ["pay_date", "period_start", "period_end"]))
    hmrc = _pence(_dates(q("SELECT * FROM hmrc_payments ORDER BY recipient_id, tax_month, reference"), ["paid_date"]))
    txns = own_account_only(txns, recipients)
    # with the family each matched transaction is of (evidence ids are numbered per family)
    prior_matches = q("""SELECT m.*, t.recipient_id FROM matches m LEFT JOIN transactions t USING (txn_id)
                         WHERE m.period <> ?""", [period])
    prior_findings = q("SELECT exception_id, period, rule_id, recipient_id, line_id FROM findings WHERE period < ?", [period])
    quarantine = q("""SELECT q_id, path, kind, recipient_id, period, row_no, column_name, value_masked, reason
                      FROM quarantine WHERE period = ? OR period IS NULL ORDER BY q_id""", [period])
    duplicate_files = q("""SELECT p.path, p.recipient_id, p.dup_of AS first_path, p.sha256,
                                  (SELECT any_value(f.recipient_id) FROM file_paths f WHERE f.path = p.dup_of) AS first_recipient
                           FROM file_paths p WHERE p.period = ? AND p.dup_of IS NOT NULL ORDER BY p.path""", [period])
    # (a statement's first or last day is a row's date: a prepaid-card export whose rows in the
    # period all moved no money - declined, reversed - still covers it)
    csv_covered = q("""SELECT DISTINCT recipient_id FROM (
                         SELECT t.recipient_id FROM transactions t JOIN statements s
                           ON s.file_sha256 = t.file_sha256 AND s.stmt_index = t.stmt_index
                         WHERE s.source_format IN ('csv', 'xlsx') AND t.posted_date BETWEEN ? AND ?
                         UNION ALL
                         SELECT recipient_id FROM statements WHERE source_format IN ('csv', 'xlsx')
                           AND (start_date BETWEEN ? AND ? OR end_date BETWEEN ? AND ?))
                       ORDER BY recipient_id""", [start, end, start, end, start, end])
    previous = f"{start - timedelta(days=1):%Y-%m}"
    audited_before = frozenset(r[0] for r in con.execute(
        "SELECT DISTINCT recipient_id FROM reconciliation WHERE period = ?", [previous]).fetchall())
    contributions = _pence(_dates(q(f"SELECT {', '.join(CONTRIBUTION_COLUMNS)} FROM contributions "
                                    "ORDER BY recipient_id, start_date"), ["start_date", "end_date"]))
    prior_ratings = q("""SELECT recipient_id, period, rating FROM risk_ratings WHERE period < ?
                         QUALIFY row_number() OVER (PARTITION BY recipient_id ORDER BY period DESC) = 1
                         ORDER BY recipient_id""", [period])
    invoices_to_date = _pence(_dates(q("""SELECT recipient_id, invoice_id, supplier, invoice_date, amount_pence, period,
                                                 file_sha256, row_no FROM invoices WHERE period <= ?
                                          ORDER BY recipient_id, invoice_id""", [period]), ["invoice_date"]))
    return AuditData(period, start, end, policy, recipients, plan_lines, schedule, employees, insurance, providers,
                     txns, statements, receipts, invoices, payslips, hmrc, prior_matches, prior_findings,
                     quarantine, duplicate_files, csv_covered, audited_before, contributions, prior_ratings,
                     invoices_to_date)


def own_account_only(txns: pd.DataFrame, recipients: pd.DataFrame) -> pd.DataFrame:
    """Drop transactions of accounts that are not the recipient's registered DP account.

    A statement of another account (DQ-WRONG-ACCOUNT) is not the DP account's activity: auditing
    its salary credits and shopping would only produce false findings.  Recipients with no
    registered account keep all their transactions.
    """
    if txns.empty or recipients.empty:
        return txns
    reg = recipients.set_index("recipient_id")["account_number"].dropna().astype(str).str.replace(r"\D", "", regex=True)
    reg = reg[reg != ""]
    raw = txns["account_number"].fillna("").astype(str)
    acct = raw.str.replace(r"\D", "", regex=True)
    expected = txns["recipient_id"].map(reg)
    # exports such as Nationwide's show only the last digits ("****6914"): compare those
    masked = raw.str.contains("*", regex=False)
    # a prepaid card is "****1234"; an export holding several cards ("****1234|****5678") is none's
    several = raw.str.contains("|", regex=False)
    same = (acct == expected) | (masked & ~several & (acct != "") & (expected.fillna("").str[-4:] == acct.str[-4:]))
    keep = expected.isna() | (acct == "") | same
    return txns[keep]


def dp_recipients(data: AuditData) -> pd.DataFrame:
    """Direct-payment recipients whose DP dates overlap the period (any status)."""
    r = data.recipients
    if r.empty:
        return r
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    m = r["management_type"].isin(DP_TYPES) & (r["dp_start_date"] <= e) & (r["dp_end_date"].isna() | (r["dp_end_date"] >= s - pd.Timedelta(days=366)))
    return r[m]


def statement_recipients(data: AuditData) -> pd.DataFrame:
    """DP recipients whose statements must cover the period: :func:`dp_recipients` that are active
    and whose DP dates overlap the period itself."""
    r = dp_recipients(data)
    if r.empty:
        return r
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    status = r["status"].fillna("").astype(str).str.strip().str.lower()
    m = (status == "active") & (r["dp_end_date"].isna() | (r["dp_end_date"] >= s)) & (r["dp_start_date"].isna() | (r["dp_start_date"] <= e))
    return r[m]


def valid_plan_lines(data: AuditData) -> pd.DataFrame:
    """Direct-payment plan lines that are valid (not restricted to notional, dates present and ordered)."""
    pl = data.plan_lines
    if pl.empty:
        return pl
    restricted = pl["funding_stream"].map(lambda s: data.policy.funding_restriction(str(s)) == "notional")
    dates_ok = pl["valid_from"].notna() & pl["valid_to"].notna() & (pl["valid_from"] <= pl["valid_to"])
    return pl[pl["management_type"].isin(DP_TYPES) & ~restricted & dates_ok]


def wage_payslip_pairs(debits: pd.DataFrame, payslips: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """(wage payment, payslip) pairs of one recipient and employee that agree: the pay date within
    ``payslip_window_days`` of the payment (``gap``) and the net pay the amount paid, within
    ``amount_tolerance``.  ``debits`` has recipient_id, employee_id, posted_date, amount_pence."""
    m = debits.merge(payslips, on=["recipient_id", "employee_id"])
    if m.empty:
        return m.assign(gap=pd.Series(dtype="timedelta64[ns]"))
    m["gap"] = (m["posted_date"] - m["pay_date"]).abs()
    return m[(m["gap"] <= pd.Timedelta(days=policy.days("payslip_window_days")))
             & ((m["net_pence"].astype("int64") + m["amount_pence"].astype("int64")).abs()
                <= policy.pence("amount_tolerance"))]


def annual_dp_value(data: AuditData, on: date) -> pd.Series:
    """Sum of the annual amounts of valid plan lines paid as a direct payment (``management_type =
    direct_payment``: only those are paid into the account, contract.md) in force on a date, per
    recipient (pence).  The year end (``decide.year_end.annual_dp_values``) counts the same lines."""
    pl = valid_plan_lines(data)
    pl = pl[pl["management_type"] == DP_LINE_TYPE]
    t = pd.Timestamp(on)
    pl = pl[(pl["valid_from"] <= t) & (pl["valid_to"] >= t)]
    return pl.groupby("recipient_id")["annual_amount_pence"].sum().astype("int64")


def budget_to_date(data: AuditData) -> pd.DataFrame:
    """Per valid plan line in force by the period end: budget to date (pence), pro rata by day
    from the later of 1 April and valid_from to the earlier of the period's last day and valid_to,
    over the days of the financial year (rules.md "Precedence ..."), capped at the annual amount."""
    from dpaudit.core.dates import financial_year_bounds, financial_year_of
    from dpaudit.core.money import pro_rata

    lines = valid_plan_lines(data)
    fy_start, fy_end = financial_year_bounds(financial_year_of(data.start))
    fy_days = (fy_end - fy_start).days + 1
    s, e = pd.Timestamp(fy_start), pd.Timestamp(data.end)
    lines = lines[(lines["valid_from"] <= e) & (lines["valid_to"] >= s)].copy()
    if lines.empty:
        return lines.assign(budget_pence=pd.Series(dtype="int64"))
    start = lines["valid_from"].where(lines["valid_from"] > s, s)
    stop = lines["valid_to"].where(lines["valid_to"] < e, e)
    days = ((stop - start).dt.days + 1).clip(lower=0)
    lines["budget_pence"] = [min(pro_rata(int(a), int(d), fy_days), int(a)) for a, d in zip(lines["annual_amount_pence"], days)]
    lines["budget_pence"] = lines["budget_pence"].astype("int64")
    return lines


def day_end_balances(day: pd.DataFrame) -> pd.DataFrame:
    """End-of-day balance per recipient from one day's transactions with running balances
    (``recipient_id, txn_id, amount_pence, balance_pence, file_sha256, stmt_index, position``),
    whatever the file's row order.  The one definition, used by the audit and the year end.

    The last transaction is the one whose balance is nobody's balance-before (``balance -
    amount``); if that does not single one out, the highest (file, statement, position) wins.
    """
    d = day.assign(before=day["balance_pence"] - day["amount_pence"])
    pairs = d[["recipient_id", "txn_id", "balance_pence"]].merge(
        d[["recipient_id", "txn_id", "before"]].rename(columns={"txn_id": "other"}),
        left_on=["recipient_id", "balance_pence"], right_on=["recipient_id", "before"])
    followed = set(pairs.loc[pairs["txn_id"] != pairs["other"], "txn_id"])
    ends = d[~d["txn_id"].isin(followed)]
    unique_end = ends.groupby("recipient_id")["balance_pence"].nunique() == 1
    chosen = ends[ends["recipient_id"].map(unique_end).fillna(False).astype(bool)].drop_duplicates("recipient_id")
    rest = d[~d["recipient_id"].isin(chosen["recipient_id"])]
    rest = rest.sort_values(["recipient_id", "file_sha256", "stmt_index", "position"]).drop_duplicates("recipient_id", keep="last")
    return pd.concat([chosen, rest])[["recipient_id", "balance_pence"]]
