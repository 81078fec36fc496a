"""The decisions-import flow: a returned ``exceptions.xlsx`` (or decisions CSV) into the decision log.

Reading is a retried I/O task; the import is all or nothing (``dpaudit.decide.decisions.import_decisions``):
a workbook with any wrong row writes nothing and the flow fails listing every problem.  The hash
chain is verified after the import.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from dpaudit.flows.common import dpaudit_slot
from dpaudit.pipeline import import_decision_file

__all__ = ["decisions_import", "import_task"]


@task(name="import-decisions", cache_policy=NO_CACHE)
def import_task(path: str, data_dir: str, officer: Optional[str], db_path: Optional[str], wait_seconds: float) -> dict:
    """Read the file and import it (``pipeline.import_decision_file``; all or nothing, so a retry is safe)."""
    res, check = import_decision_file(path, data_dir, officer=officer, db_path=db_path, wait_seconds=wait_seconds)
    if not check.ok:
        raise RuntimeError("The decision log failed verification after the import:\n" + "\n".join(check.problems))
    out = {"appended": res.appended, "unchanged": res.unchanged, "ignored_blank": res.ignored_blank,
           "head_seq": check.head_seq, "head_hash": res.head_hash}
    get_run_logger().info("decisions: %s", out)
    return out


@flow(name="dpaudit-decisions", log_prints=True)
def decisions_import(path: str, data_dir: str, officer: Optional[str] = None, db_path: Optional[str] = None,
                     wait_seconds: float = 0.0) -> dict:
    """Import one returned workbook or CSV of decisions and verify the log."""
    with dpaudit_slot(f"decisions from {Path(path).name}", wait_seconds):
        res = import_task(path, data_dir, officer, db_path, wait_seconds)
    create_markdown_artifact(
        markdown=(f"# Decisions imported from {Path(path).name}\n\n- appended: {res['appended']}\n"
                  f"- unchanged: {res['unchanged']}\n- blank rows: {res['ignored_blank']}\n"
                  f"- log head: seq {res['head_seq']} `{res['head_hash'][:16]}`\n"),
        key="dpaudit-decisions", description="dpaudit decisions import")
    return res
