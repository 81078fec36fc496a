"""The audit of one month in shards of recipients, for worker processes or a Dask cluster.

Every rule is a pure function of :class:`~dpaudit.audit.data.AuditData` and judges one recipient
at a time, so a month can be split by recipient: each shard holds its recipients' rows of every
table (and the history each rule reads: the financial year's transactions, earlier matches and
findings, last month's reconciliation) plus what all share (the policy, providers.csv).  A shard is
audited wherever it is sent (:func:`audit_shard`); :func:`merge_shards` puts the results together
in the order the single-process audit gives, so the stored findings, matches and reconciliation
are the same to the byte.

Recipients whose folders share a file (a statement sent to two siblings) go to one shard: the
wrong-account check of the copy reads the first reader's statement.

The cohort rules (CO-*) compare accounts with each other, so they run once, on the whole month,
after the merge (:func:`audit_month`): each shard also returns its part of the registered shard
views (what it attributed to employees and providers), which are combined and handed to the
whole month's data.  The single-process audit goes through the same steps with one shard.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import pandas as pd

from dpaudit.audit.data import AuditData

# the AuditData frames that hold a recipient_id column (the rest are shared by all shards)
SHARED = {"providers"}
# frames only the cohort stage reads, on the whole month: a shard gets them empty
WHOLE_ONLY = {"invoices_to_date"}
MIN_SHARD_RECIPIENTS = 200  # fewer recipients per shard and moving the data costs more than it saves
MAX_SHARD_RECIPIENTS = 500  # more, and a worker holds a large part of the month at once: at 2,000 recipients
# shards of 500 instead of 1,000 cost 2% more time and cut each worker's peak from 377 MB to 264 MB (docs/benchmarks.md)


def shard_count(n_recipients: int, n_workers: int) -> int:
    """How many shards: one per worker when each gets at least MIN_SHARD_RECIPIENTS, and as many more
    as keep each within MAX_SHARD_RECIPIENTS (a worker then audits several, one after another)."""
    if n_workers <= 1 or n_recipients < 2 * MIN_SHARD_RECIPIENTS:
        return 1
    return max(min(n_workers, n_recipients // MIN_SHARD_RECIPIENTS), -(-n_recipients // MAX_SHARD_RECIPIENTS))


def shard_of(data: AuditData, n: int) -> dict[str, int]:
    """Recipient -> shard (0..n-1): round robin over the recipients in id order, a recipient whose
    folder holds a copy of another's file following that one's shard."""
    ids = sorted(set(data.recipients["recipient_id"].astype(str))
                 | set(data.txns["recipient_id"].dropna().astype(str)))
    out = {rid: i % n for i, rid in enumerate(ids)}
    d = data.duplicate_files
    if len(d):
        for rid, first in zip(d["recipient_id"].astype(str), d["first_recipient"]):
            if isinstance(first, str) and first in out:
                out[rid] = out[first]
    return out


def split(data: AuditData, n: int) -> list[AuditData]:
    """``data`` as ``n`` shards of recipients (fewer when there are too few recipients to share)."""
    where = shard_of(data, max(1, n))
    n = min(n, max(1, len(where)))
    if n <= 1:
        return [data]
    # each frame's rows -> their shard, worked out once per frame (not once per shard: at 20,000
    # recipients in 40 shards that alone cost 15 s); rows of no recipient (reference rows'
    # quarantine) go to the first shard only
    split_rows: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    for f in fields(AuditData):
        value = getattr(data, f.name)
        if f.name not in WHOLE_ONLY and isinstance(value, pd.DataFrame) and f.name not in SHARED \
                and "recipient_id" in value.columns:
            rid = value["recipient_id"].astype(object)
            k_of = rid.map(where).where(rid.map(lambda r: isinstance(r, str)), 0).fillna(0).astype("int64")
            split_rows[f.name] = (value, k_of.to_numpy())
    shards = []
    for k in range(n):
        parts: dict[str, Any] = {}
        for f in fields(AuditData):
            value = getattr(data, f.name)
            if f.name in WHOLE_ONLY:
                parts[f.name] = value.iloc[0:0]
            elif f.name in split_rows:
                frame, k_of = split_rows[f.name]
                parts[f.name] = frame[k_of == k].reset_index(drop=True)
            elif f.name == "audited_before":
                parts[f.name] = frozenset(r for r in value if where.get(r, 0) == k)
        shards.append(replace(data, **parts, cache={}))
    return shards


def audit_shard(data: AuditData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int, dict]:
    """Findings (finalised) of the recipient-stage rules, matches, reconciliation, the number of
    period transactions and the shard views (for the cohort stage) of one shard (or of a whole month)."""
    from dpaudit.audit.match import MATCH_COLUMNS, match_evidence
    from dpaudit.audit.reconcile import reconcile
    from dpaudit.audit.rules import run_rules, shard_views
    from dpaudit.audit.rules.common import period_txns

    findings = run_rules(data)
    matches, _, _ = match_evidence(data)
    return findings, matches[MATCH_COLUMNS], reconcile(data), int(len(period_txns(data))), shard_views(data)


def audit_chunk(chunk: list[AuditData]) -> list[tuple]:
    """:func:`audit_shard` of each shard of a chunk (the unit a worker pool is handed)."""
    return [audit_shard(s) for s in chunk]


def merge_shards(results: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """The shards' results as one month's, in the single-process order (without the cohort stage:
    :func:`audit_month`)."""
    from dpaudit.audit.findings import sort_findings

    findings = pd.concat([r[0] for r in results], ignore_index=True).drop_duplicates("exception_id")
    matches = pd.concat([r[1] for r in results], ignore_index=True)
    matches = matches.sort_values(["txn_id", "evidence_id"], kind="mergesort").reset_index(drop=True)
    rec = pd.concat([r[2] for r in results], ignore_index=True).sort_values("recipient_id", kind="mergesort")
    return sort_findings(findings), matches, rec.reset_index(drop=True), sum(r[3] for r in results)


def audit_month(data: AuditData, results: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """The month's findings (recipient stage and cohort stage, in :func:`~dpaudit.audit.findings.sort_findings`
    order), matches, reconciliation and number of period transactions, from the results of
    :func:`audit_shard` on the shards of ``data`` (or on ``data`` itself).  The cohort rules run
    here, once, on the whole month's ``data`` with the shards' views combined."""
    from dpaudit.audit.findings import sort_findings
    from dpaudit.audit.rules import combine_shard_views, run_cohort_rules, seed_shard_views

    findings, matches, rec, n = merge_shards(results)
    seed_shard_views(data, combine_shard_views([r[4] for r in results]))
    cohort = run_cohort_rules(data)
    if len(cohort):
        findings = sort_findings(pd.concat([findings, cohort], ignore_index=True).drop_duplicates("exception_id"))
    return findings, matches, rec, n
