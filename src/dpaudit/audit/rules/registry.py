"""Rule registration and the runner.

A rule is ``fn(data: AuditData) -> DataFrame`` of raw findings (``recipient_id, key, message``
and optional ``txn_date, amount_pence, counterparty, txn_ref, line_id``), registered with
``@rule("RULE-ID")``.  Adding a rule is adding one function; the runner never changes.  A rule
that crashes becomes a ``RULE-ERROR`` finding and the other rules still run.

Two stages.  A rule of the ``recipient`` stage (the default) judges each recipient on its own, so
it runs on any shard of recipients (:func:`run_rules`).  A rule registered with
``@rule("CO-...", stage="cohort")`` compares accounts with each other and runs once on the whole
month after the shards are merged (:func:`run_cohort_rules`).  What a cohort rule needs from
every shard (the debits each shard attributed to employees or providers) is a *shard view*:
``@shard_view("key", order=[...])`` computes it on a shard, :func:`combine_shard_views` puts the
shards' parts together (the same way for one part as for many, so the result does not depend on
the split) and :func:`seed_shard_views` hands them to the whole month's data.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from dpaudit.audit.data import AuditData
from dpaudit.audit.findings import finalise

RuleFn = Callable[[AuditData], pd.DataFrame]
RULES: dict[str, RuleFn] = {}  # every rule of every stage, by id
STAGES = ("recipient", "cohort")
STAGE: dict[str, str] = {}  # rule id -> the stage it runs in


@dataclass(frozen=True)
class ShardView:
    fn: Callable[[AuditData], pd.DataFrame]
    order: tuple[str, ...]      # the combined frame is sorted by these columns
    sum_by: tuple[str, ...]     # when given: rows of equal keys are added up (numeric columns; min_*/max_* by min/max)


SHARD_VIEWS: dict[str, ShardView] = {}


def rule(rule_id: str, stage: str = "recipient") -> Callable[[RuleFn], RuleFn]:
    if stage not in STAGES:
        raise ValueError(f"rule {rule_id}: stage {stage!r} is not one of {', '.join(STAGES)}")

    def register(fn: RuleFn) -> RuleFn:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = fn
        STAGE[rule_id] = stage
        fn.rule_id = rule_id  # type: ignore[attr-defined]
        fn.stage = stage  # type: ignore[attr-defined]
        return fn
    return register


def shard_view(key: str, *, order: list[str], sum_by: list[str] | None = None):
    """Register ``fn(shard) -> DataFrame``, computed on every shard and combined for the cohort stage
    (``data.cache[key]`` of the whole month).  ``fn`` must judge each recipient on its own rows (as
    a recipient-stage rule does); the combined frame is sorted by ``order`` (or summed by
    ``sum_by``), so one shard and many give the same frame."""
    def register(fn: Callable[[AuditData], pd.DataFrame]):
        if key in SHARD_VIEWS:
            raise ValueError(f"shard view {key} is registered twice")
        SHARD_VIEWS[key] = ShardView(fn, tuple(order), tuple(sum_by or ()))
        return fn
    return register


def shard_views(data: AuditData) -> dict[str, pd.DataFrame]:
    """Every registered shard view of one shard (or of a whole month)."""
    return {key: view.fn(data) for key, view in sorted(SHARD_VIEWS.items())}


def combine_shard_views(parts: list[dict[str, pd.DataFrame]], only: str | None = None) -> dict[str, pd.DataFrame]:
    """The shards' views as the whole month's: concatenated, summed by ``sum_by``, sorted."""
    out = {}
    for key, view in sorted(SHARD_VIEWS.items()):
        if only is not None and key != only:
            continue
        frames = [p[key] for p in parts if key in p]
        f = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if view.sum_by and len(f):  # counts add up; ``min_*`` / ``max_*`` columns keep the least / greatest
            how = {c: ("min" if c.startswith("min_") else "max" if c.startswith("max_") else "sum")
                   for c in f.columns if c not in view.sum_by and pd.api.types.is_numeric_dtype(f[c])}
            f = f.groupby(list(view.sum_by), as_index=False, sort=True).agg(how)
        if len(f):
            f = f.sort_values(list(view.order), kind="mergesort")
        out[key] = f.reset_index(drop=True)
    return out


def shard_view_of(data: AuditData, key: str) -> pd.DataFrame:
    """A shard view of the whole month as the cohort rules read it: the combined shards' parts
    (:func:`seed_shard_views`), else computed here on ``data`` and combined the same way."""
    if key not in data.cache:
        data.cache[key] = combine_shard_views([{key: SHARD_VIEWS[key].fn(data)}], only=key)[key]
    return data.cache[key]


def seed_shard_views(data: AuditData, views: dict[str, pd.DataFrame]) -> AuditData:
    """Put the combined shard views into the whole month's cache (where the cohort rules read them)."""
    for key, frame in views.items():
        data.cache[key] = frame
    return data


def run_cohort_rules(data: AuditData, only: list[str] | None = None) -> pd.DataFrame:
    """Run every enabled cohort rule on the whole month (after :func:`seed_shard_views`)."""
    return run_rules(data, only=only, stage="cohort")


def run_rules(data: AuditData, only: list[str] | None = None, stage: str = "recipient") -> pd.DataFrame:
    """Run every enabled rule of ``stage``; return finalised findings (severity, clause, exception_id).

    The default stage, ``recipient``, is what a shard runs: a cohort rule never runs here, even
    when named in ``only``."""
    frames = []
    for rule_id in sorted(RULES):
        if STAGE[rule_id] != stage:
            continue
        if only is not None and rule_id not in only:
            continue
        if not data.policy.rule(rule_id).enabled:
            continue
        try:
            raw = RULES[rule_id](data)
        except Exception as exc:  # a broken rule is a finding, not a crashed run
            raw = pd.DataFrame([{"recipient_id": "COUNCIL", "key": f"{data.period}|{rule_id}",
                                 "message": f"Rule {rule_id} could not run: {exc!r}. The other rules ran. "
                                            f"Details: {traceback.format_exc(limit=2)}"}])
            raw["rule_id"] = "RULE-ERROR"
        if raw is None or raw.empty:
            continue
        raw = raw.copy()
        if "rule_id" not in raw.columns:
            raw["rule_id"] = rule_id
        raw["period"] = data.period
        frames.append(raw)
    if not frames:
        return finalise(pd.DataFrame(), data.policy)
    return finalise(pd.concat(frames, ignore_index=True), data.policy)


def txn_findings(rows: pd.DataFrame, message: pd.Series | str, amount: pd.Series | None = None,
                 key_suffix: str = "") -> pd.DataFrame:
    """Raw findings about transactions: key = txn_id, money at stake = the debit/credit."""
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "recipient_id": rows["recipient_id"].values,
        "key": (rows["txn_id"].astype(str) + key_suffix).values,
        "txn_date": rows["posted_date"].values,
        "amount_pence": (rows["amount_pence"].abs() if amount is None else amount).values,
        "counterparty": rows["counterparty"].values,
        "txn_ref": rows["txn_id"].values,
        "line_id": rows["line_id"].values if "line_id" in rows.columns else None,
        "message": message.values if isinstance(message, pd.Series) else message,
    })
