"""The decisions-import flow: a returned ``exceptions.xlsx`` (or decisions CSV) into the decision log.

Reading is a retried I/O task; the import is all or nothing (``dpaudit.decide.decisions.import_decisions``):
a workbook with any wrong row writes nothing and the flow fails listing every problem.  The hash
chain is verified after the import.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from dpaudit.decide.decisions import (import_decisions, known_ids, prepared_by_map, read_csv_decisions,
                               read_workbook_decisions, verify_chain)
from dpaudit.pipeline import default_db
from dpaudit.store import open_store


@task(name="read-decisions", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def read_decisions(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist; give the exceptions.xlsx the officers returned")
    frame = read_workbook_decisions(p) if p.suffix.lower() == ".xlsx" else read_csv_decisions(p)
    get_run_logger().info("%s: %d decision rows", p.name, len(frame))
    return frame


@task(name="import-decisions", cache_policy=NO_CACHE)
def import_task(db: str, frame: pd.DataFrame, officer: Optional[str], source: str, wait_seconds: float,
                four_eyes: bool = True) -> dict:
    with open_store(db, wait_seconds=wait_seconds) as con:
        res = import_decisions(con, frame, known_ids=known_ids(con), officer_default=officer, source=source,
                               prepared_by=prepared_by_map(con), four_eyes=four_eyes)
        check = verify_chain(con)
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
    db = db_path or str(default_db(Path(data_dir)))
    frame = read_decisions(path)
    from dpaudit.pipeline import resolve_policy

    four_eyes = bool(resolve_policy(Path(data_dir), None).raw["recommend"]["four_eyes"])
    res = import_task(db, frame, officer, Path(path).name, wait_seconds, four_eyes)
    create_markdown_artifact(
        markdown=(f"# Decisions imported from {Path(path).name}\n\n- appended: {res['appended']}\n"
                  f"- unchanged: {res['unchanged']}\n- blank rows: {res['ignored_blank']}\n"
                  f"- log head: seq {res['head_seq']} `{res['head_hash'][:16]}`\n"),
        key="dpaudit-decisions", description="dpaudit decisions import")
    return res
