"""Cohort rules (CO-*, clause "audit practice"): checks that compare accounts with each other.

Every other rule judges one recipient at a time.  These run once a month on the whole month's
:class:`~dpaudit.audit.data.AuditData`, after every recipient has been audited (in one process or
in shards: ``audit.shard.audit_month``), so they see every account (docs/rules.md "Cohort checks").
What they need from the per-recipient audit, the debits it attributed to employees and to
providers, comes through two *shard views* computed on each shard and combined; so a shard never
runs these rules and the main process never categorises the month again.

- CO-SHARED-PAYEE: one person (employees.csv NI number, else the name) paid from more than
  ``co_max_accounts`` accounts in the month, or whose payslips from two or more accounts add up
  to more than ``co_max_weekly_hours`` in a Monday-Sunday week.
- CO-DUPLICATE-INVOICE: the same supplier invoice number in two recipients' evidence (or in one
  recipient's evidence in two files or months).
- CO-PROVIDER-PATTERN: a provider's payments from all accounts, financial year to date, whose
  first digits do not follow Benford's law, or that are mostly round sums.
"""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from dpaudit.audit.categorise import _fuzzy_pairs, listed_provider_names, name_rules
from dpaudit.audit.data import AuditData
from dpaudit.audit.findings import COUNCIL
from dpaudit.audit.rules.common import fy_txns, period_txns
from dpaudit.audit.rules.registry import rule, shard_view, shard_view_of
from dpaudit.core.dates import financial_year_bounds, financial_year_of
from dpaudit.core.distinct import per_distinct
from dpaudit.core.money import format_gbp, gbp_series
from dpaudit.core.names import merchant_name, normalise_name

EMPLOYEE_DEBITS = "co_employee_debits"
PROVIDER_SAMPLES = "co_provider_samples"
# a week's hours are sums of fractions (hours x days in the week / days of the payslip): compared
# with this margin so that two payslips of exactly 39 hours a week are 78 hours, not 78.0000000001
HOURS_EPSILON = 1e-9
BENFORD_DIGITS = np.arange(1, 10)


# ---------------------------------------------------------------------------------------------
# What each shard hands to the cohort stage
# ---------------------------------------------------------------------------------------------
@shard_view(EMPLOYEE_DEBITS, order=["recipient_id", "txn_id"])
def employee_debits(data: AuditData) -> pd.DataFrame:
    """Debits of the period that the audit attributes to a registered employee (categorise: the
    payee is the employee's name or one of their ``payee_names``): ``recipient_id, employee_id,
    txn_id, posted_date, amount_pence`` (positive)."""
    p = period_txns(data)
    w = p[(p["direction"] == "debit") & p["employee_id"].notna()]
    return pd.DataFrame({
        "recipient_id": w["recipient_id"].astype(str).to_numpy(dtype=object),
        "employee_id": w["employee_id"].astype(str).to_numpy(dtype=object),
        "txn_id": w["txn_id"].astype(str).to_numpy(dtype=object),
        "posted_date": pd.to_datetime(w["posted_date"]).to_numpy(dtype="datetime64[ns]"),
        "amount_pence": (-w["amount_pence"].astype("int64")).to_numpy(dtype="int64"),
    })


def provider_names(data: AuditData) -> dict[str, str]:
    """Canonical merchant form of each providers.csv name -> the name (categorise's ``cp_canon`` of
    a debit to any of its names or aliases is that form)."""
    rules = name_rules(data)
    names = sorted(set(data.providers["name"].dropna().astype(str))) if len(data.providers) else []
    out: dict[str, str] = {}
    for n in names:
        out.setdefault(merchant_name(normalise_name(n, rules), rules), n)
    return out


@shard_view(PROVIDER_SAMPLES, order=["provider", "recipient_id", "month"], sum_by=["provider", "recipient_id", "month"])
def provider_samples(data: AuditData) -> pd.DataFrame:
    """Per (providers.csv provider, recipient, month of the financial year to date): its debits of at
    least ``co_sample_min_amount`` to the provider, counted: ``provider, recipient_id, month, n,
    total_pence, round_n`` (whole multiples of ``co_round_unit``), ``min_pence``, ``max_pence`` and
    ``d1``..``d9`` (first significant digits).  Counts (and least/greatest), so the shards' parts
    combine exactly and a worker sends a row per provider, account and month."""
    t = fy_txns(data)
    names = provider_names(data)
    pol = data.policy
    d = t[(t["direction"] == "debit") & (-t["amount_pence"] >= pol.cohort("co_sample_min_amount"))]
    prov = d["cp_canon"].map(names)
    d = d[prov.notna()]
    amount = -d["amount_pence"].astype("int64")
    f = pd.DataFrame({"provider": prov[prov.notna()].astype(str).to_numpy(dtype=object),
                      "recipient_id": d["recipient_id"].astype(str).to_numpy(dtype=object),
                      "month": pd.to_datetime(d["posted_date"]).dt.strftime("%Y-%m").to_numpy(dtype=object),
                      "n": np.ones(len(d), dtype="int64"), "total_pence": amount.to_numpy(dtype="int64"),
                      "round_n": (amount % pol.cohort("co_round_unit") == 0).to_numpy(dtype="int64"),
                      "min_pence": amount.to_numpy(dtype="int64"), "max_pence": amount.to_numpy(dtype="int64")})
    digit = first_digit(amount).to_numpy()
    for k in BENFORD_DIGITS:
        f[f"d{k}"] = (digit == k).astype("int64")
    how = {c: ("min" if c == "min_pence" else "max" if c == "max_pence" else "sum")
           for c in f.columns if c not in ("provider", "recipient_id", "month")}
    return f.groupby(["provider", "recipient_id", "month"], as_index=False, sort=True).agg(how)


# ---------------------------------------------------------------------------------------------
# CO-SHARED-PAYEE
# ---------------------------------------------------------------------------------------------
def person_of(employees: pd.DataFrame) -> pd.Series:
    """Who an employee row is across accounts: the NI number (upper case, spaces removed), else the
    name (upper case, only letters and single spaces); "" when the row has neither."""
    ni = employees["ni_number"].fillna("").astype(str).str.upper().str.replace(r"\s+", "", regex=True)
    name = (employees["name"].fillna("").astype(str).str.upper()
            .str.replace(r"[\W\d_]+", " ", regex=True).str.strip())
    return ni.where(ni != "", name)


def _others(rids: list[str], own: str) -> str:
    others = [r for r in rids if r != own]
    return ", ".join(others) if others else "no other"


def week_hours(data: AuditData, people: pd.DataFrame) -> pd.DataFrame:
    """Payslip hours per (person, recipient, Monday-Sunday week with a day in the period): each
    payslip's hours spread evenly over the days of its period_start..period_end.  Only people with
    payslips from two or more recipients.  ``person, recipient_id, monday, hours``."""
    cols = ["person", "recipient_id", "monday", "hours"]
    ps = data.payslips
    if ps.empty or people.empty:
        return pd.DataFrame(columns=cols)
    ps = ps[ps["hours"].notna() & ps["period_start"].notna() & ps["period_end"].notna()
            & (ps["period_end"] >= ps["period_start"])]
    ps = ps.merge(people[["recipient_id", "employee_id", "person"]], on=["recipient_id", "employee_id"])
    ps = ps[ps.groupby("person")["recipient_id"].transform("nunique") >= 2]
    if ps.empty:
        return pd.DataFrame(columns=cols)
    start, end = pd.Timestamp(data.start), pd.Timestamp(data.end)
    mondays = pd.date_range(start - pd.Timedelta(days=start.weekday()), end, freq="7D")
    m = ps[["person", "recipient_id", "period_start", "period_end", "hours"]].merge(
        pd.DataFrame({"monday": mondays}), how="cross")
    first = m[["period_start", "monday"]].max(axis=1)
    last = pd.concat([m["period_end"], m["monday"] + pd.Timedelta(days=6)], axis=1).min(axis=1)
    overlap = (last - first).dt.days + 1
    days = (m["period_end"] - m["period_start"]).dt.days + 1
    m = m.assign(hours=m["hours"].astype("float64") * overlap / days)[overlap > 0]
    return m.groupby(["person", "recipient_id", "monday"], as_index=False)["hours"].sum()[cols]


@rule("CO-SHARED-PAYEE", stage="cohort")
def shared_payee(data: AuditData) -> pd.DataFrame:
    """A person paid from more than ``co_max_accounts`` accounts in the period, or whose payslips
    from two or more accounts add up to more than ``co_max_weekly_hours`` in a week: one finding
    per (person, recipient involved)."""
    pol = data.policy
    emp = data.employees
    if emp.empty:
        return pd.DataFrame()
    people = emp.assign(recipient_id=emp["recipient_id"].astype(str), employee_id=emp["employee_id"].astype(str),
                        person=person_of(emp))
    people = people[people["person"] != ""]
    paid = shard_view_of(data, EMPLOYEE_DEBITS).merge(people[["recipient_id", "employee_id", "person"]],
                                                      on=["recipient_id", "employee_id"])
    by_acct = paid.groupby(["person", "recipient_id"], as_index=False)["amount_pence"].sum()
    n_acct = by_acct.groupby("person")["recipient_id"].transform("nunique")
    many = by_acct[n_acct > pol.cohort("co_max_accounts")][["person", "recipient_id"]]

    limit = pol.cohort("co_max_weekly_hours")
    wh = week_hours(data, people)
    week = wh.groupby(["person", "monday"]).agg(total=("hours", "sum"), accounts=("recipient_id", "nunique"))
    over = week[(week["total"] > limit + HOURS_EPSILON) & (week["accounts"] >= 2)].reset_index()
    long_weeks = wh.merge(over, on=["person", "monday"])
    long_weeks = long_weeks[long_weeks["hours"] > 0]

    involved = pd.concat([many, long_weeks[["person", "recipient_id"]]]).drop_duplicates()
    if involved.empty:
        return pd.DataFrame()
    involved = involved.sort_values(["person", "recipient_id"]).reset_index(drop=True)
    month = f"{pd.Timestamp(data.start):%B %Y}"
    # what the messages say, for the people involved only (a handful of the council's employees)
    by_acct = by_acct[by_acct["person"].isin(involved["person"])]
    payers = by_acct.groupby("person")["recipient_id"].agg(lambda s: sorted(s)).to_dict()
    amount = by_acct.set_index(["person", "recipient_id"])["amount_pence"]
    named = (people[people["person"].isin(involved["person"])].sort_values(["recipient_id", "employee_id"])
             .groupby(["person", "recipient_id"]).agg(name=("name", "first"), ids=("employee_id", lambda s: ", ".join(s))))
    # the worst week of each (person, recipient) among the weeks over the limit, and how many there were
    worst = (long_weeks.sort_values(["person", "recipient_id", "total", "monday"], ascending=[True, True, False, True])
             .groupby(["person", "recipient_id"]))
    worst_week = worst.first()
    n_weeks = worst.size()
    week_accounts = long_weeks.groupby(["person", "monday"])["recipient_id"].agg(lambda s: sorted(s)).to_dict()

    rows = []
    for person, rid in zip(involved["person"], involved["recipient_id"]):
        name, ids = named.loc[(person, rid)] if (person, rid) in named.index else (person, "")
        who = f"{name} (employee {ids} of this account)" if ids else str(name)
        got = int(amount.get((person, rid), 0))
        said = []
        accounts = payers.get(person, [])
        if len(accounts) > pol.cohort("co_max_accounts") and rid in accounts:
            said.append(f"{who} was paid from {len(accounts)} direct payment accounts in {month}, more than "
                        f"{pol.cohort('co_max_accounts')}: this one ({format_gbp(got)}) and {_others(accounts, rid)}.")
        if (person, rid) in worst_week.index:
            w = worst_week.loc[(person, rid)]
            others = _others(week_accounts[(person, w["monday"])], rid)
            more = int(n_weeks.loc[(person, rid)]) - 1
            lead = "Their payslips" if said else f"The payslips of {who}"
            said.append(f"{lead} from this account and {others} add up to "
                        f"{w['total']:.1f} hours in the week of Monday {w['monday']:%d/%m/%Y} ({w['hours']:.1f} of them "
                        f"from this account), more than the {limit} hours a week one person can work (Working Time "
                        f"Regulations 1998 regs 10 and 11: daily and weekly rest)"
                        + (f"; {more} other week{'s' if more > 1 else ''} of the month too." if more > 0 else "."))
        said.append("Each family's contract of employment and timesheets for the assistant, showing the hours "
                    "worked for each account, would clear this.")
        rows.append({"recipient_id": rid, "key": f"{person}|{data.period}", "amount_pence": got,
                     "counterparty": name, "message": " ".join(said)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# CO-DUPLICATE-INVOICE
# ---------------------------------------------------------------------------------------------
def invoice_number(ids: pd.Series) -> pd.Series:
    """An invoice number as compared across accounts: upper case, only letters and digits
    ("INV-0042" and "inv 0042" are both "INV0042")."""
    return ids.fillna("").astype(str).str.upper().str.replace(r"[\W_]+", "", regex=True)


def supplier_names(inv: pd.DataFrame, data: AuditData) -> pd.Series:
    """The supplier as compared across accounts: the providers.csv name it is a name or alias of
    (compared as categorise compares payees), else its own merchant form."""
    rules = name_rules(data)
    norm = per_distinct(inv["supplier"].fillna("").astype(str), lambda v: v.map(lambda x: normalise_name(x, rules)))
    merchant = per_distinct(norm, lambda v: v.map(lambda x: merchant_name(x, rules)))
    pairs = pd.DataFrame({"recipient_id": "", "cp_norm": merchant, "cp_merchant": merchant}).drop_duplicates()
    pairs = pairs[pairs["cp_norm"] != ""]
    hit = _fuzzy_pairs(pairs, listed_provider_names(data), [], float(data.policy.threshold("fuzzy_payee_threshold")),
                       col="cp_merchant")
    listed = dict(zip(hit["cp_norm"], hit["list_name"]))
    canon = merchant.map(listed)
    return canon.where(canon.notna(), merchant).astype(object)


@rule("CO-DUPLICATE-INVOICE", stage="cohort")
def duplicate_invoice(data: AuditData) -> pd.DataFrame:
    """Each invoice of the period whose supplier and number (or, without a number, supplier, amount
    and date) were already seen: in another recipient's evidence, or in this recipient's in another
    file or month.  Rows are ordered by invoice date, then recipient; the first is not flagged."""
    inv = data.invoices_to_date
    if inv.empty or "invoice_id" not in inv.columns:
        return pd.DataFrame()
    inv = inv.assign(recipient_id=inv["recipient_id"].astype(str), number=invoice_number(inv["invoice_id"]),
                     canon=supplier_names(inv, data).to_numpy())
    blank = inv["number"] == ""
    by_sum = ("#" + inv["amount_pence"].astype("int64").astype(str) + "|" + inv["invoice_date"].dt.strftime("%Y-%m-%d"))
    inv["group"] = inv["canon"] + "\x1f" + inv["number"].where(~blank, by_sum)
    # only a group with a row sent this month can give a finding this month
    inv = inv[inv["group"].isin(inv.loc[inv["period"] == data.period, "group"])]
    inv = inv[inv.groupby("group")["group"].transform("size") > 1]
    if inv.empty:
        return pd.DataFrame()
    inv = inv.sort_values(["group", "invoice_date", "recipient_id", "period", "file_sha256", "row_no", "invoice_id"],
                          kind="mergesort").reset_index(drop=True)
    g = inv.groupby("group")
    firsts = g[["recipient_id", "period", "file_sha256", "invoice_id", "invoice_date", "amount_pence"]].transform("first")
    # a row is a repeat once any earlier row of its group is another recipient's, file's or month's
    differs = ((inv["recipient_id"] != firsts["recipient_id"]) | (inv["period"] != firsts["period"])
               | (inv["file_sha256"].fillna("") != firsts["file_sha256"].fillna("")))
    repeat = differs.astype(int).groupby(inv["group"]).cummax().astype(bool)
    mine = repeat & (inv["period"] == data.period)
    x, f = inv[mine], firsts[mine]
    if x.empty:
        return pd.DataFrame()
    where = pd.Series(np.where(f["recipient_id"] == x["recipient_id"], "this account's",
                               f["recipient_id"].astype(str) + "'s"), index=x.index)
    first = (where + " evidence for " + f["period"].astype(str) + " (invoice " + f["invoice_id"].astype(str)
             + ", dated " + f["invoice_date"].dt.strftime("%d/%m/%Y") + ", " + gbp_series(f["amount_pence"]) + ")")
    this = ("Invoice " + x["invoice_id"].astype(str) + " from " + x["supplier"].astype(str) + " ("
            + gbp_series(x["amount_pence"]) + ", dated " + x["invoice_date"].dt.strftime("%d/%m/%Y") + ")")
    nameless = ("An invoice from " + x["supplier"].astype(str) + " with no number (" + gbp_series(x["amount_pence"])
                + ", dated " + x["invoice_date"].dt.strftime("%d/%m/%Y") + ")")
    seen = pd.Series(np.where(x["number"] == "", nameless + " has the supplier, amount and date of one first seen in ",
                              this + " has the supplier's invoice number of one first seen in "), index=x.index)
    msg = (seen + first + ": the same invoice may have been paid twice. The supplier's statement showing which "
           "account the invoice was billed to and paid from, or a credit note, would clear this.")
    return pd.DataFrame({
        "recipient_id": x["recipient_id"].to_numpy(), "key": ("invoice|" + x["invoice_id"].astype(str)).to_numpy(),
        "txn_date": x["invoice_date"].to_numpy(), "amount_pence": x["amount_pence"].astype("int64").to_numpy(),
        "counterparty": x["supplier"].to_numpy(), "message": msg.to_numpy(),
    })


# ---------------------------------------------------------------------------------------------
# CO-PROVIDER-PATTERN
# ---------------------------------------------------------------------------------------------
def benford_chi2(counts: np.ndarray) -> float:
    """Chi-square of observed first-digit counts (digits 1..9) against Benford's law:
    sum of (obs_d - exp_d)^2 / exp_d with exp_d = n x log10(1 + 1/d)."""
    n = counts.sum()
    exp = n * np.log10(1 + 1 / BENFORD_DIGITS)
    return float(((counts - exp) ** 2 / exp).sum())


def first_digit(pence: pd.Series) -> pd.Series:
    """The first significant digit of an amount of at least one pound (that of its pence too)."""
    return pence.astype("int64").astype(str).str[0].astype("int64")


def provider_tests(sample: pd.Series, pol) -> tuple[float, bool, bool, bool]:
    """The two tests on one cumulative sample (``n, round_n, min_pence, max_pence, d1..d9``):
    ``chi2``, whether Benford's test applies (enough debits spanning ``co_benford_min_span`` times
    from least to greatest: first digits of amounts within one order of magnitude cannot follow
    Benford's law), whether it fails, and whether the round-sum test fails."""
    n, rnd = int(sample["n"]), int(sample["round_n"])
    counts = sample[[f"d{k}" for k in BENFORD_DIGITS]].to_numpy(dtype="float64")
    chi2 = benford_chi2(counts) if n else 0.0
    applies = n >= pol.cohort("co_benford_min_sample") and \
        int(sample["max_pence"]) >= pol.cohort("co_benford_min_span") * int(sample["min_pence"])
    benford = applies and Decimal(repr(chi2)) > pol.cohort("co_benford_chi2")
    rounds = n >= pol.cohort("co_round_min_sample") and Decimal(rnd) >= pol.cohort("co_round_share") * n
    return chi2, applies, benford, rounds


@rule("CO-PROVIDER-PATTERN", stage="cohort")
def provider_pattern(data: AuditData) -> pd.DataFrame:
    """Per providers.csv provider, its payments of at least ``co_sample_min_amount`` from every
    account, financial year to date: first digits against Benford's law (where the amounts span
    enough orders of magnitude for it to apply), and the share of round sums.  One finding per
    provider (recipient ``COUNCIL``) in the first month of the financial year whose sample to date
    fails either test: a pattern is raised once a year, not again every month it persists."""
    pol = data.policy
    s = shard_view_of(data, PROVIDER_SAMPLES)
    if s.empty:
        return pd.DataFrame()
    s = s[s["month"] <= data.period]
    if s.empty:
        return pd.DataFrame()
    unit = pol.cohort("co_round_unit")
    share = pol.cohort("co_round_share")
    min_b, span_b = pol.cohort("co_benford_min_sample"), pol.cohort("co_benford_min_span")
    limit = pol.cohort("co_benford_chi2")
    digit_cols = [f"d{k}" for k in BENFORD_DIGITS]
    monthly = s.groupby(["provider", "month"], sort=True).agg(
        {"n": "sum", "round_n": "sum", "total_pence": "sum", "min_pence": "min", "max_pence": "max",
         **{c: "sum" for c in digit_cols}})
    fy_start = financial_year_bounds(financial_year_of(data.start))[0]
    span = f"{fy_start.day} {fy_start:%B %Y} to {data.end.day} {data.end:%B %Y}"
    rows = []
    for provider, m in monthly.groupby(level="provider", sort=True):  # a few hundred providers, <= 12 months each
        m = m.droplevel("provider")
        cum = m[["n", "round_n", "total_pence", *digit_cols]].cumsum()
        cum["min_pence"], cum["max_pence"] = m["min_pence"].cummin(), m["max_pence"].cummax()
        failed = [any(provider_tests(cum.loc[month], pol)[2:]) for month in cum.index]
        if cum.index[-1] != data.period or not failed[-1] or any(failed[:-1]):
            continue  # no debit this month (the sample is last month's), passes, or raised earlier this year
        r = cum.loc[data.period]
        chi2, applies, benford, rounds = provider_tests(r, pol)
        n, rnd = int(r["n"]), int(r["round_n"])
        counts = r[digit_cols].to_numpy(dtype="float64")
        accounts = int(s.loc[s["provider"] == provider, "recipient_id"].nunique())
        said = [f"Payments of {format_gbp(pol.cohort('co_sample_min_amount'))} or more to {provider} from all direct "
                f"payment accounts, {span}: {n} payments from {accounts} accounts totalling "
                f"{format_gbp(int(r['total_pence']))}, from {format_gbp(int(r['min_pence']))} to "
                f"{format_gbp(int(r['max_pence']))}."]
        b_text = (f"Their first digits do not follow Benford's law: chi-square {chi2:.2f} with n = {n}, above {limit} "
                  f"(the policy's limit, for 8 degrees of freedom); {counts[0] / n:.1%} start with 1 where "
                  f"{math.log10(2):.1%} would.")
        if n < min_b:
            b_text = f"(Too few for the first-digit test: n = {n}, it needs {min_b}.)"
        elif not applies:
            b_text = (f"(The first-digit test does not apply: the largest payment is less than {span_b} times the "
                      f"smallest, and Benford's law describes amounts spread over orders of magnitude.)")
        elif not benford:
            b_text = f"Their first digits follow Benford's law closely enough: chi-square {chi2:.2f} with n = {n}."
        r_text = (f"{rnd} of {n} ({Decimal(rnd) / n:.1%}) are whole multiples of {format_gbp(unit)}"
                  + (f", at least {share:.0%} of the sample." if rounds else "."))
        said += ([b_text, r_text] if benford else [r_text, b_text])
        said.append("This is the first month of the financial year the pattern shows; it is not raised again "
                    "this year. The provider's invoices with the dates, hours and rates behind these payments, "
                    "checked against the support each family received, would clear this.")
        rows.append({"recipient_id": COUNCIL, "key": f"{provider}|{data.period}", "amount_pence": int(r["total_pence"]),
                     "counterparty": provider, "message": " ".join(said)})
    return pd.DataFrame(rows)
