"""The run's summary figures, and the markdown summary the flows publish and the CLI prints.

:func:`summary_figures` is the one place the figures are computed; the workbook's Summary sheet
shows the same numbers.  "Money at stake" is the money the period's findings are about, each
payment counted once however many rules flag it (a household bill with no receipt is one payment,
not two), leaving out findings an officer dismissed (a dismissed finding never counts toward a
repayment).  Per rule, a payment counts under every rule that flags it, so the rules' figures may
add up to more than the total.  A finding about no one family (recipient ``COUNCIL``: a provider's
payments across all accounts, CO-PROVIDER-PATTERN) puts no money at stake (its amount is the year's
sample the test ran on, payments each family's own audit already covers) and is no recipient.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from dpaudit.audit.findings import COUNCIL, SEVERITY_ORDER
from dpaudit.core.money import format_gbp

SEVERITIES = list(SEVERITY_ORDER)
# why the money to recover is less than the money at stake (shown wherever both appear)
AT_STAKE_VS_RECOVER = ("Money at stake is every payment an open finding is about; the money to recover counts only "
                       "misused spend, payments still without evidence once their grace period has ended, and "
                       "funds held above the limit, so it is usually smaller.")
ACTIONS = ["STOP", "REPAY", "REVIEW", "NONE"]


@dataclass(frozen=True)
class SummaryFigures:
    """Figures of one run.  Frames hold integer pence."""

    n_findings: int
    n_open: int
    n_recipients_with_findings: int
    money_at_stake_pence: int
    by_status: pd.DataFrame        # status, findings
    by_rule: pd.DataFrame          # rule_id, high, medium, low, info, total, money_at_stake_pence
    by_recipient: pd.DataFrame     # recipient_id, findings, money_at_stake_pence (largest first)
    by_action: pd.DataFrame        # action, recipients, amount_pence
    n_quarantined: int
    # rating, recipients, review (what the rating asks for); None when the recommendations carry no rating
    by_rating: pd.DataFrame | None = None


RATINGS = ["red", "amber", "green"]


def review_text(rating: str, review_months: dict | None) -> str:
    """What a rating asks for, from the policy's ``[risk.review_months]`` ("" without them)."""
    if not review_months or rating not in review_months:
        return ""
    n = int(review_months[rating])
    every = "monthly" if n == 1 else f"every {n} months"
    return f"review now, then {every}" if rating == "red" else f"review {every}"


def rating_table(recommendations: pd.DataFrame | None, review_months: dict | None = None) -> pd.DataFrame | None:
    """Recipients per risk rating (red, amber, green; zero when none) with what each asks for, or
    None when the recommendations carry no ``risk_rating`` column."""
    if recommendations is None or "risk_rating" not in recommendations.columns:
        return None
    s = recommendations["risk_rating"].astype("string").str.strip().str.lower()
    return pd.DataFrame({"rating": RATINGS, "recipients": [int((s == k).sum()) for k in RATINGS],
                         "review": [review_text(k, review_months) for k in RATINGS]})


def red_recipients(recommendations: pd.DataFrame | None) -> pd.DataFrame:
    """The recipients rated red, highest score first: recipient_id, risk_score, risk_reasons."""
    cols = ["recipient_id", "risk_score", "risk_reasons"]
    if recommendations is None or "risk_rating" not in recommendations.columns:
        return pd.DataFrame(columns=cols)
    r = recommendations[recommendations["risk_rating"].astype("string").str.lower() == "red"]
    r = r.assign(_s=pd.array(r["risk_score"], dtype="Int64").fillna(0), _r=r["recipient_id"].astype(str))
    return r.sort_values(["_s", "_r"], ascending=[False, True], kind="mergesort")[cols].reset_index(drop=True)


def _status(findings: pd.DataFrame) -> pd.Series:
    if "status" not in findings.columns:
        return pd.Series("open", index=findings.index, dtype="string")
    return findings["status"].astype("string").fillna("open").str.strip().str.lower().replace("", "open")


def distinct_stake(findings: pd.DataFrame, stake: pd.Series) -> pd.Series:
    """Each finding's share of the money at stake with every payment counted once: the findings
    about one transaction (same recipient and ``txn_ref``) share the largest of their amounts (the
    payment; a mismatch's difference is part of it), held by the first of them; a finding about no
    transaction (a surplus, an over-budget line) keeps its own amount."""
    ref = findings["txn_ref"].astype("string").fillna("").str.strip() if "txn_ref" in findings.columns else \
        pd.Series("", index=findings.index, dtype="string")
    key = findings["recipient_id"].astype(str) + "|" + ref.where(ref != "", "finding:" + pd.Series(
        range(len(findings)), index=findings.index).astype(str))
    biggest = stake.groupby(key).transform("max")
    first = ~key.duplicated()
    return biggest.where(first, 0).astype("int64")


def summary_figures(findings: pd.DataFrame, recommendations: pd.DataFrame | None = None,
                    quarantine: pd.DataFrame | None = None, review_months: dict | None = None) -> SummaryFigures:
    f = findings
    status = _status(f)
    amount = pd.array(f["amount_pence"], dtype="Int64").fillna(0).astype("int64") if len(f) else pd.Series([], dtype="int64")
    stake = pd.Series(amount, index=f.index).where((status != "dismissed") & (f["recipient_id"].astype(str) != COUNCIL), 0) \
        if len(f) else pd.Series([], dtype="int64")
    once = distinct_stake(f, stake) if len(f) else pd.Series([], dtype="int64")

    if len(f):
        tmp = pd.DataFrame({"rule_id": f["rule_id"].astype(str), "severity": f["severity"].astype(str),
                            "recipient_id": f["recipient_id"].astype(str), "stake": stake.astype("int64")})
        counts = tmp.pivot_table(index="rule_id", columns="severity", values="stake", aggfunc="size", fill_value=0)
        for s in SEVERITIES:
            if s not in counts.columns:
                counts[s] = 0
        by_rule = counts[SEVERITIES].astype("int64").reset_index()
        by_rule["total"] = by_rule[SEVERITIES].sum(axis=1).astype("int64")
        money = tmp.groupby("rule_id")["stake"].sum()
        by_rule["money_at_stake_pence"] = by_rule["rule_id"].map(money).astype("int64")
        by_rule = by_rule.sort_values(["total", "rule_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
        by_recipient = tmp.groupby("recipient_id").agg(findings=("rule_id", "size")).reset_index()
        by_recipient["money_at_stake_pence"] = by_recipient["recipient_id"].map(
            once.groupby(tmp["recipient_id"]).sum()).fillna(0).astype("int64")
        by_recipient = by_recipient.sort_values(["money_at_stake_pence", "findings", "recipient_id"],
                                                ascending=[False, False, True], kind="mergesort").reset_index(drop=True)
        by_status = (status.value_counts().rename_axis("status").reset_index(name="findings"))
    else:
        by_rule = pd.DataFrame(columns=["rule_id", *SEVERITIES, "total", "money_at_stake_pence"])
        by_recipient = pd.DataFrame(columns=["recipient_id", "findings", "money_at_stake_pence"])
        by_status = pd.DataFrame(columns=["status", "findings"])
    order = {"open": 0, "queried": 1, "accepted": 2, "dismissed": 3}
    by_status = by_status.assign(_o=by_status["status"].map(order).fillna(9)).sort_values(["_o", "status"]).drop(columns="_o")
    by_status = by_status.reset_index(drop=True)

    if recommendations is not None and len(recommendations):
        r = recommendations
        g = pd.DataFrame({"action": r["action"].astype(str).str.upper(),
                          "amount": pd.array(r["amount_pence"], dtype="Int64").fillna(0).astype("int64")})
        agg = g.groupby("action").agg(recipients=("action", "size"), amount_pence=("amount", "sum"))
        actions = ACTIONS + sorted(set(agg.index) - set(ACTIONS))
        by_action = pd.DataFrame({"action": actions})
        by_action["recipients"] = by_action["action"].map(agg["recipients"]).fillna(0).astype("int64")
        by_action["amount_pence"] = by_action["action"].map(agg["amount_pence"]).fillna(0).astype("int64")
    else:
        by_action = pd.DataFrame({"action": ACTIONS, "recipients": [0] * 4, "amount_pence": [0] * 4})

    return SummaryFigures(
        n_findings=int(len(f)),
        n_open=int((status == "open").sum()) if len(f) else 0,
        n_recipients_with_findings=int(f.loc[f["recipient_id"].astype(str) != COUNCIL, "recipient_id"].nunique()) if len(f) else 0,
        money_at_stake_pence=int(once.sum()) if len(f) else 0,
        by_status=by_status,
        by_rule=by_rule,
        by_recipient=by_recipient,
        by_action=by_action,
        n_quarantined=0 if quarantine is None else int(len(quarantine)),
        by_rating=rating_table(recommendations, review_months),
    )


def _md(text: object) -> str:
    """Table-cell safe text: no pipes or line breaks break the table."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def summary_markdown(*, period: str, run_time: datetime, policy_version: str, findings: pd.DataFrame,
                     recommendations: pd.DataFrame | None = None, quarantine: pd.DataFrame | None = None,
                     top_n: int = 10, review_months: dict | None = None) -> str:
    """A markdown summary: counts, money at stake, findings by rule, top recipients, recipients by
    action and, when the recommendations carry risk ratings, recipients by rating and the red ones
    with their reasons (``review_months``: the policy's ``[risk.review_months]``)."""
    fig = summary_figures(findings, recommendations, quarantine, review_months)
    lines = [
        f"# dpaudit run {_md(period)}",
        "",
        f"- Run time: {run_time.isoformat(sep=' ', timespec='seconds')}",
        f"- Policy version: {_md(policy_version)}",
        f"- Findings: {fig.n_findings} ({fig.n_open} open) about {fig.n_recipients_with_findings} recipient(s)",
        f"- Money at stake (not dismissed; each payment once, however many rules flag it): "
        f"{format_gbp(fig.money_at_stake_pence)}",
        f"- Money to recover (recommended repayments): {format_gbp(int(fig.by_action['amount_pence'].sum()))}. "
        f"{AT_STAKE_VS_RECOVER}",
        f"- Quarantined rows or files: {fig.n_quarantined}",
        "",
        "## Findings by rule",
        "",
        "A payment flagged by two rules counts under each of them here.",
        "",
        "| rule | high | medium | low | info | total | money at stake |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in fig.by_rule.itertuples(index=False):
        lines.append(f"| {_md(row.rule_id)} | {row.high} | {row.medium} | {row.low} | {row.info} | {row.total} | "
                     f"{format_gbp(row.money_at_stake_pence)} |")
    if fig.by_rule.empty:
        lines.append("| (none) | 0 | 0 | 0 | 0 | 0 | £0.00 |")
    lines += ["", f"## Top {top_n} recipients by money at stake", "", "| recipient | findings | money at stake |",
              "|---|---:|---:|"]
    for row in fig.by_recipient.head(top_n).itertuples(index=False):
        lines.append(f"| {_md(row.recipient_id)} | {row.findings} | {format_gbp(row.money_at_stake_pence)} |")
    if fig.by_recipient.empty:
        lines.append("| (none) | 0 | £0.00 |")
    lines += ["", "## Recipients by recommended action", "", "| action | recipients | amount to recover |", "|---|---:|---:|"]
    for row in fig.by_action.itertuples(index=False):
        lines.append(f"| {_md(row.action)} | {row.recipients} | {format_gbp(row.amount_pence)} |")
    if fig.by_rating is not None:
        lines += ["", "## Recipients by risk rating", "", "Score and reasons per recipient: recommendations.csv "
                  "(risk_rating, risk_score, risk_reasons, next_review); docs/risk.md explains the score.", "",
                  "| rating | recipients | review |", "|---|---:|---|"]
        for row in fig.by_rating.itertuples(index=False):
            lines.append(f"| {row.rating} | {row.recipients} | {row.review} |")
        red = red_recipients(recommendations)
        lines += ["", f"## Red recipients (top {top_n} by score)" if len(red) > top_n else "## Red recipients", ""]
        if len(red):
            lines += ["| recipient | score | reasons |", "|---|---:|---|"]
            for row in red.head(top_n).itertuples(index=False):
                lines.append(f"| {_md(row.recipient_id)} | {row.risk_score} | {_md(row.risk_reasons)} |")
            if len(red) > top_n:
                lines += ["", f"{len(red) - top_n} more red recipient(s) in recommendations.csv."]
        else:
            lines.append("No recipient is rated red.")
    lines.append("")
    return "\n".join(lines)
