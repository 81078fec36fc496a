"""Risk rating per recipient and period: green, amber or red from an explainable score (issue 18).

Grain of the output (store table ``risk_ratings``): one row per recipient x period, for the
recipients that have a recommendation in the period.  Key ``(period, recipient_id)``.

The score is the sum of five parts, each counted over the *window*: the period rated and the
``[risk] window_periods - 1`` periods before it (a finding of an earlier period never counts).
Every weight is in the policy's ``[risk]`` section (docs/risk.md has a worked example):

* ``findings``: per finding, the points of its severity (``[risk.finding_points]``), at most
  ``max_per_rule_month`` findings of one rule in one period; a finding an officer dismissed keeps
  ``dismissed_pct`` % of its points (0 by default: it does not stand).  Rules another part measures
  (``evidence_rules``, ``surplus_rules``, the statement rules) and ``ignore_rules`` are left out, so
  nothing counts twice.  Any rule id counts through its severity: rules added later need nothing here.
* ``evidence``: ``evidence_points`` x the share of the window's debits (reconciliation
  ``unevidenced / (evidenced + unevidenced)``) that has no evidence, rounded half-up.
* ``surplus``: ``surplus_month_points`` per period of the window with a surplus finding, plus
  ``rising_points`` when each of the last ``rising_months`` periods (all audited) closed above its own
  opening balance and the last ends above ``contingency_max_pct`` of the annual value.
* ``statements``: ``missing_statement_points`` per period with a missing statement, plus
  ``statement_gap_points`` per other period with a gap in the statements.  When dpaudit read a file
  is not when the family sent it (a backfill reads a year at once), so ingest times are not used.
* ``upheld``: per finding an officer accepted, ``[risk.upheld_points]`` of its severity (same cap).

Rating: red from ``red_score`` points, amber from ``amber_score``, green below.  The reasons are the
three largest contributions as sentences with their points; the next review follows the rating's
schedule (``core.schedule.review_schedule``): red now, amber and green ``[risk.review_months]``.

:func:`rate_recipients` is pure (frames in, frame out, vectorised); :func:`rate_period` is the store
edge that reads its inputs and replaces the period's rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from dpaudit.core import dates
from dpaudit.core.money import gbp_series
from dpaudit.core.policy import SEVERITIES, Policy
from dpaudit.core.schedule import next_due_after, review_schedule

RATINGS = ("red", "amber", "green")
PARTS = ("findings", "evidence", "surplus", "statements", "upheld")
RISK_COLUMNS = ["recipient_id", "period", "rating", "score", *(f"{p}_points" for p in PARTS), "reasons", "next_review"]
TOP_REASONS = 3
NO_REASON = "Nothing in the last {w} months adds to the score."


@dataclass(frozen=True)
class RiskPolicy:
    """The ``[risk]`` section, typed (validated when the policy is loaded)."""

    window: int
    amber: int
    red: int
    cap: int
    dismissed_pct: int
    ignore: frozenset[str]
    evidence_points: int
    evidence_rules: frozenset[str]
    surplus_month_points: int
    surplus_rules: frozenset[str]
    rising_months: int
    rising_points: int
    contingency_max_pct: Decimal
    missing_points: int
    missing_rules: frozenset[str]
    gap_points: int
    gap_rules: frozenset[str]
    finding_points: dict[str, int]
    upheld_points: dict[str, int]
    review_months: dict[str, int]
    review_first_months: int
    schedule_reviews: bool

    @classmethod
    def of(cls, policy: Policy) -> "RiskPolicy":
        r = policy.raw["risk"]
        return cls(
            window=int(r["window_periods"]), amber=int(r["amber_score"]), red=int(r["red_score"]),
            cap=int(r["max_per_rule_month"]), dismissed_pct=int(r["dismissed_pct"]),
            ignore=frozenset(map(str, r["ignore_rules"])), evidence_points=int(r["evidence_points"]),
            evidence_rules=frozenset(map(str, r["evidence_rules"])),
            surplus_month_points=int(r["surplus_month_points"]), surplus_rules=frozenset(map(str, r["surplus_rules"])),
            rising_months=int(r["rising_months"]), rising_points=int(r["rising_points"]),
            contingency_max_pct=policy.pct("contingency_max_pct"),
            missing_points=int(r["missing_statement_points"]),
            missing_rules=frozenset(map(str, r["missing_statement_rules"])),
            gap_points=int(r["statement_gap_points"]), gap_rules=frozenset(map(str, r["statement_gap_rules"])),
            finding_points={s: int(r["finding_points"][s]) for s in SEVERITIES},
            upheld_points={s: int(r["upheld_points"][s]) for s in SEVERITIES},
            review_months={k: int(v) for k, v in r["review_months"].items()},
            review_first_months=policy.days("review_first_months"),
            schedule_reviews=bool(r["schedule_reviews"]))

    @property
    def elsewhere(self) -> frozenset[str]:
        """Rules a part of the score other than ``findings`` measures."""
        return self.evidence_rules | self.surplus_rules | self.missing_rules | self.gap_rules


def window_periods(period: str, n: int) -> list[str]:
    """``period`` and the ``n - 1`` periods before it, oldest first."""
    out = [period]
    for _ in range(n - 1):
        out.append(dates.previous_period(out[-1]))
    return out[::-1]


def _half_up_div(num: pd.Series, den: pd.Series | int) -> pd.Series:
    """``num / den`` rounded half-up to a whole number (non-negative integers; den > 0)."""
    return ((2 * num + den) // (2 * den)).astype("int64")


def _plural(n: pd.Series, word: str) -> pd.Series:
    return n.astype("string") + " " + word + pd.Series(np.where(n == 1, "", "s"), index=n.index, dtype="string")


def _month_names(periods: pd.Series) -> pd.Series:
    """``2026-01`` -> ``January 2026``."""
    return pd.to_datetime(periods.astype(str) + "-01").dt.strftime("%B %Y").astype("string")


def _join(s: pd.Series, by: list[pd.Series] | pd.Series, sep: str = ", ") -> pd.Series:
    """Sorted distinct values of ``s`` per group, joined."""
    return s.groupby(by).agg(lambda v: sep.join(sorted(set(map(str, v)))))


def _contribution(rid: pd.Series, part: str, order: int | pd.Series, points: pd.Series, text: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"recipient_id": rid.astype(str).to_numpy(), "part": part,
                         "order": np.asarray(order) if not np.isscalar(order) else order,
                         "points": points.astype("int64").to_numpy(),
                         "text": (text.astype("string") + ": +" + points.astype("int64").astype("string")).to_numpy()})


def _counted(f: pd.DataFrame, cap: int) -> pd.Series:
    """Per finding: among the first ``cap`` of its rule in its period for its recipient (accepted
    findings first, then the others that stand, then dismissed ones; by exception id for a stable
    choice), so an officer's acceptance is never the one left out."""
    if f.empty:
        return pd.Series(dtype=bool)
    rank = np.where(f["status"].eq("accepted"), 0, np.where(f["dismissed"], 2, 1))
    order = f.assign(_d=rank).sort_values(
        ["recipient_id", "rule_id", "period", "_d", "exception_id"], kind="mergesort")
    rank = order.groupby(["recipient_id", "rule_id", "period"], sort=False).cumcount()
    return (rank < cap).reindex(f.index)


def _findings_part(f: pd.DataFrame, rp: RiskPolicy, w: int) -> pd.DataFrame:
    f = f[~f["rule_id"].isin(rp.elsewhere)]
    keep = ~f["dismissed"] if rp.dismissed_pct == 0 else pd.Series(True, index=f.index)
    f = f[keep]
    if f.empty:
        return pd.DataFrame()
    f = f.assign(points=f["severity"].map(rp.finding_points).fillna(0).astype("int64"))
    f = f[f["points"] > 0]
    if f.empty:
        return pd.DataFrame()
    counted = f[f["counted"]]
    key = [counted["recipient_id"], counted["severity"]]
    g = pd.DataFrame({
        "n": counted.groupby(key).size(),
        "n_dismissed": counted["dismissed"].groupby(key).sum(),
        "weight": counted["points"].groupby(key).first(),
        "rules": _join(counted["rule_id"], key),
    })
    g["found"] = f.groupby([f["recipient_id"], f["severity"]]).size().reindex(g.index).astype("int64")
    g = g.reset_index()
    n_standing = g["n"] - g["n_dismissed"]
    # whole points: (standing x 100 + dismissed x pct) % of the weight, half-up
    pts = _half_up_div(g["weight"] * (n_standing * 100 + g["n_dismissed"] * rp.dismissed_pct), 100)
    word = pd.Series(np.where(g["n"] == 1, " finding", " findings"), index=g.index, dtype="string")
    text = (g["n"].astype("string") + " " + g["severity"].astype("string") + word
            + f" in the last {w} months (" + g["rules"].astype("string"))
    capped = g["found"] > g["n"]
    text = text.mask(capped, text + "; " + g["found"].astype("string")
                     + f" found, at most {rp.cap} of one rule a month counted")
    dism = g["n_dismissed"] > 0
    text = text.mask(dism, text + "; " + g["n_dismissed"].astype("string") + f" dismissed, counted at {rp.dismissed_pct}%")
    text = text + ")"
    order = g["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).astype("int64")
    return _contribution(g["recipient_id"], "findings", order, pts, text)


def _upheld_part(f: pd.DataFrame, rp: RiskPolicy) -> pd.DataFrame:
    f = f[f["counted"] & (f["status"] == "accepted")]
    f = f.assign(points=f["severity"].map(rp.upheld_points).fillna(0).astype("int64"))
    f = f[f["points"] > 0]
    if f.empty:
        return pd.DataFrame()
    by = f["recipient_id"]
    g = pd.DataFrame({"n": f.groupby(by).size(), "points": f["points"].groupby(by).sum(),
                      "rules": _join(f["rule_id"], by)}).reset_index()
    text = _plural(g["n"], "finding") + " upheld by an officer (" + g["rules"].astype("string") + ")"
    return _contribution(g["recipient_id"], "upheld", 9, g["points"], text)


def _period_count_part(f: pd.DataFrame, rules: frozenset[str], exclude: pd.DataFrame | None, points: int,
                       part: str, order: int, sentence, w: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distinct periods per recipient with a standing finding of ``rules`` (less ``exclude``'s
    recipient-periods), ``points`` each.  Returns the contributions and the recipient-periods."""
    hit = f.loc[f["rule_id"].isin(rules) & ~f["dismissed"], ["recipient_id", "period", "rule_id"]]
    months = hit.drop_duplicates(["recipient_id", "period"])
    if exclude is not None and len(exclude) and len(months):
        m = months.merge(exclude[["recipient_id", "period"]], how="left", indicator=True)
        months = months[(m["_merge"] == "left_only").to_numpy()]
    if months.empty or points <= 0:
        return pd.DataFrame(), months
    by = months["recipient_id"]
    g = pd.DataFrame({"k": months.groupby(by).size(),
                      "months": _join(months["period"], by),
                      "rules": _join(hit["rule_id"], hit["recipient_id"]).reindex(by.unique())}).reset_index()
    names = g["months"].str.split(", ").map(lambda ps: ", ".join(_month_names(pd.Series(ps)).tolist()))
    text = sentence(g["k"], names.astype("string"), g["rules"].astype("string"), w)
    return _contribution(g["recipient_id"], part, order, g["k"] * points, text), months


def _evidence_part(rec: pd.DataFrame, rp: RiskPolicy, w: int) -> pd.DataFrame:
    if rec.empty or rp.evidence_points <= 0:
        return pd.DataFrame()
    g = rec.groupby("recipient_id")[["evidenced_pence", "unevidenced_pence"]].sum().astype("int64")
    g["total"] = g["evidenced_pence"] + g["unevidenced_pence"]
    g = g[(g["total"] > 0) & (g["unevidenced_pence"] > 0)].reset_index()
    if g.empty:
        return pd.DataFrame()
    pts = _half_up_div(g["unevidenced_pence"] * rp.evidence_points, g["total"])
    pct = _half_up_div(g["unevidenced_pence"] * 100, g["total"])
    text = (pct.astype("string") + f"% of the money paid out in the last {w} months had no receipt, invoice or payslip ("
            + gbp_series(g["unevidenced_pence"]).astype("string") + " of " + gbp_series(g["total"]).astype("string") + ")")
    return _contribution(g["recipient_id"], "evidence", 4, pts, text)


def _rising_part(rec: pd.DataFrame, period: str, rp: RiskPolicy) -> pd.DataFrame:
    if rec.empty or rp.rising_points <= 0:
        return pd.DataFrame()
    # each of the last ``rising_months`` months (all audited) closed above its own opening balance: the
    # month is judged on its own statement, so the first audited month counts, and a break between
    # months (its own finding) does not make a rise
    last = window_periods(period, rp.rising_months)
    rows = rec[rec["period"].isin(last)].dropna(subset=["opening_balance_pence", "closing_balance_pence"])
    up = (rows["closing_balance_pence"].astype("int64") > rows["opening_balance_pence"].astype("int64"))
    wide = rows.assign(up=up).pivot_table(index="recipient_id", columns="period", values="up", aggfunc="first")
    closings = rows.pivot_table(index="recipient_id", columns="period", values="closing_balance_pence", aggfunc="first")
    if wide.empty or any(p not in wide.columns for p in last):
        return pd.DataFrame()
    wide = wide[last].dropna()
    rising = wide.astype(bool).all(axis=1)
    wide = closings.loc[wide.index, last]
    now = rec[rec["period"] == period].set_index("recipient_id")
    pct = now["contingency_pct"].reindex(wide.index)
    above = pct.map(lambda v: v is not None and not pd.isna(v) and Decimal(str(v)) > rp.contingency_max_pct)
    ok = rising & above.astype(bool)
    g = wide[ok]
    if g.empty:
        return pd.DataFrame()
    rid = pd.Series(g.index, index=g.index)
    closing = g[period].astype("int64")
    shown = pct[ok].map(lambda v: str(Decimal(str(v)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)))
    text = (f"The balance rose in each of the last {rp.rising_months} months, to " + gbp_series(closing).astype("string")
            + " (" + shown.astype("string") + f"% of the annual value, above the {rp.contingency_max_pct}% contingency)")
    return _contribution(rid, "surplus", 6, pd.Series(rp.rising_points, index=g.index), text)


def _next_review(recipients: pd.DataFrame, ratings: pd.Series, period: str, rp: RiskPolicy) -> pd.Series:
    """The first review date after the period on the rating's schedule; blank when the payment has
    ended by then (or was stopped with no end date) or, for amber and green, has no start date."""
    _, p_end = dates.parse_period(period)
    anchor, first, every = review_schedule(ratings, pd.Series(period, index=ratings.index),
                                           recipients["dp_start_date"], first_months=rp.review_first_months,
                                           months=rp.review_months)
    due = next_due_after(anchor, first, every, p_end)
    end = pd.to_datetime(recipients["dp_end_date"])
    status = recipients["status"].astype("string").fillna("").str.strip().str.lower() if "status" in recipients \
        else pd.Series("", index=recipients.index, dtype="string")
    over = (end.notna() & (end < due)) | (status.eq("stopped") & end.isna()).to_numpy()
    return due.mask(over.to_numpy(), pd.NaT).dt.date.astype(object).where(lambda s: s.notna(), None)


def rate_recipients(period: str, recipients: pd.DataFrame, findings: pd.DataFrame, reconciliation: pd.DataFrame,
                    policy: Policy) -> pd.DataFrame:
    """One row per recipient of ``recipients`` (columns :data:`RISK_COLUMNS`, sorted by recipient).

    ``recipients``: ``recipient_id, dp_start_date, dp_end_date, status``.  ``findings``: ``period,
    recipient_id, rule_id, severity, exception_id, status`` (open/accepted/dismissed/queried) of any
    periods: those outside the window are left out here.  ``reconciliation``: ``period,
    recipient_id, opening_balance_pence, closing_balance_pence, evidenced_pence, unevidenced_pence, contingency_pct``.
    """
    rp = RiskPolicy.of(policy)
    w = rp.window
    window = window_periods(period, w)
    r = recipients.drop_duplicates("recipient_id").copy()
    r["recipient_id"] = r["recipient_id"].astype(str)
    r = r.sort_values("recipient_id", kind="mergesort").reset_index(drop=True)
    ids = set(r["recipient_id"])

    f = findings.copy()
    if len(f):
        f["recipient_id"] = f["recipient_id"].astype(str)
        f = f[f["period"].astype(str).isin(window) & f["recipient_id"].isin(ids)
              & ~f["rule_id"].astype(str).isin(rp.ignore)].copy()
    if len(f):
        f["rule_id"] = f["rule_id"].astype(str)
        f["severity"] = f["severity"].astype(str).str.strip().str.lower()
        f["status"] = f["status"].astype("string").fillna("open").str.strip().str.lower()
        f["dismissed"] = f["status"].eq("dismissed").astype(bool)
        f["counted"] = _counted(f, rp.cap)
    else:
        f = pd.DataFrame(columns=["period", "recipient_id", "rule_id", "severity", "exception_id", "status",
                                  "dismissed", "counted"])
    rec = reconciliation.copy()
    if len(rec):
        rec["recipient_id"] = rec["recipient_id"].astype(str)
        rec = rec[rec["period"].astype(str).isin(window) & rec["recipient_id"].isin(ids)]

    parts = [_findings_part(f, rp, w), _evidence_part(rec, rp, w)]
    surplus, _ = _period_count_part(
        f, rp.surplus_rules, None, rp.surplus_month_points, "surplus", 5,
        lambda k, names, rules, w: f"Funds above the surplus limit (" + rules + ") in " + k.astype("string")
        + f" of the last {w} months (" + names + ")", w)
    parts += [surplus, _rising_part(rec, period, rp)]
    missing, missing_months = _period_count_part(
        f, rp.missing_rules, None, rp.missing_points, "statements", 7,
        lambda k, names, rules, w: "No bank statement for " + k.astype("string") + f" of the last {w} months ("
        + names + ")", w)
    gaps, _ = _period_count_part(
        f, rp.gap_rules, missing_months, rp.gap_points, "statements", 8,
        lambda k, names, rules, w: "Days no bank statement covers in " + k.astype("string")
        + f" of the last {w} months (" + names + ")", w)
    parts += [missing, gaps, _upheld_part(f, rp)]
    c = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame({"recipient_id": pd.Series(dtype=str), "part": pd.Series(dtype=str),
                      "order": pd.Series(dtype="int64"), "points": pd.Series(dtype="int64"), "text": pd.Series(dtype=str)})
    c = c[c["points"] > 0]

    out = pd.DataFrame({"recipient_id": r["recipient_id"], "period": period})
    by_part = c.pivot_table(index="recipient_id", columns="part", values="points", aggfunc="sum") if len(c) else pd.DataFrame()
    for p in PARTS:
        col = by_part[p] if p in by_part.columns else pd.Series(dtype="int64")
        out[f"{p}_points"] = out["recipient_id"].map(col).fillna(0).astype("int64")
    out["score"] = out[[f"{p}_points" for p in PARTS]].sum(axis=1).astype("int64")
    out["rating"] = np.select([out["score"] >= rp.red, out["score"] >= rp.amber], ["red", "amber"], "green")
    top = (c.sort_values(["recipient_id", "points", "order"], ascending=[True, False, True], kind="mergesort")
           .groupby("recipient_id", sort=False).head(TOP_REASONS))
    reasons = top.groupby("recipient_id", sort=False)["text"].agg("; ".join) if len(top) else pd.Series(dtype=str)
    out["reasons"] = out["recipient_id"].map(reasons).astype(object)
    out["reasons"] = out["reasons"].where(out["reasons"].notna(), NO_REASON.format(w=w))
    out["next_review"] = _next_review(r, out["rating"], period, rp).to_numpy()
    return out[RISK_COLUMNS]


# ------------------------------------------------------------------------------ the store edge
def rate_period(con, period: str, policy: Policy, *, run_id: str | None = None, write: bool = True) -> pd.DataFrame:
    """Rate the recipients of the period's recommendations from the store (findings and
    reconciliation of the window, each finding's decision status as the reports show it) and replace
    the period's rows of ``risk_ratings`` in one transaction; idempotent."""
    from dpaudit import store
    from dpaudit.decide.decisions import current_status

    rp = RiskPolicy.of(policy)
    window = window_periods(period, rp.window)
    recipients = con.execute("""
        SELECT r.recipient_id, p.dp_start_date, p.dp_end_date, p.status
        FROM recommendations r LEFT JOIN recipients p USING (recipient_id)
        WHERE r.period = ? ORDER BY r.recipient_id""", [period]).df()
    findings = con.execute("""
        SELECT exception_id, period, recipient_id, rule_id, severity FROM findings
        WHERE list_contains(?::VARCHAR[], period) ORDER BY exception_id""", [window]).df()
    status = current_status(con, list(findings["exception_id"]), **policy.carry())
    findings["status"] = status["status"].to_numpy() if len(status) else []
    rec = con.execute("""
        SELECT period, recipient_id, opening_balance_pence, closing_balance_pence, evidenced_pence, unevidenced_pence,
               CAST(contingency_pct AS VARCHAR) AS contingency_pct
        FROM reconciliation WHERE list_contains(?::VARCHAR[], period)""", [window]).df()
    out = rate_recipients(period, recipients, findings, rec, policy)
    if write:
        with store.transaction(con):
            con.execute("DELETE FROM risk_ratings WHERE period = ?", [period])
            store.insert_df(con, "risk_ratings", out.assign(run_id=run_id, policy_digest=policy.digest))
    return out


def rating_counts(ratings: pd.Series) -> dict[str, int]:
    """``{'red': n, 'amber': n, 'green': n}`` (every rating, zero when none)."""
    s = pd.Series(ratings, dtype="string").str.lower()
    return {k: int((s == k).sum()) for k in RATINGS}
