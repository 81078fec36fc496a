"""The monthly reconciliation flow: ingest → audit → recommend → report for one month.

A thin wrapper over :func:`dpaudit.pipeline.run_period`, which holds the stage order and records
the run; this flow only says *how* the work runs under Prefect:

* the month's statement and evidence files are read by ``read-files`` tasks submitted to the
  flow's task runner (threads by default, a Dask cluster with :func:`dask_runner`), ``batch_size``
  files per task.  These tasks take paths and return plain data, so they can run on another
  machine; the single writer loads what they return in inbox order, one transaction per batch;
* the stages themselves run in the flow process, which holds the store (a live database
  connection is never a task parameter); each stage is logged with its time;
* the flow holds the global concurrency slot shared by every dpaudit flow
  (:mod:`dpaudit.flows.common`) and the store's single-writer lock, so a CLI run, a scheduled run
  and a manual flow run never interleave: the second waits ``wait_seconds`` then stops with a
  plain message that says which run holds the store.

A report failure fails the flow but the findings and recommendations committed before it are
kept (run ``dpaudit report`` to write them again); the artifact says so.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from dpaudit.core.dates import parse_period, previous_period
from dpaudit.flows.common import dpaudit_slot
from dpaudit.pipeline import run_period

DEFAULT_BATCH = 200  # files per read task: enough work per task to dwarf Prefect's per-task overhead
__all__ = ["DEFAULT_BATCH", "TaskRunnerPool", "artifact_markdown", "dask_runner", "default_period",
           "monthly_reconciliation", "read_files", "run_stage_logged"]


def default_period(today: date | None = None) -> str:
    """The month before ``today`` (a run on 6 May audits April)."""
    t = today or date.today()
    return previous_period(f"{t.year:04d}-{t.month:02d}")


def dask_runner(address: str | None = None, n_workers: int = 2, processes: bool = False):
    """A prefect-dask ``DaskTaskRunner``: a scheduler ``address`` or a local cluster."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    # a local cluster listens (scheduler, workers, dashboard) on loopback only
    kwargs: dict[str, Any] = {"n_workers": n_workers, "processes": processes, "threads_per_worker": 1,
                              "dashboard_address": None}
    if processes:
        kwargs["host"] = "127.0.0.1"
    return DaskTaskRunner(cluster_kwargs=kwargs)


@task(name="read-files", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_files(fn: Callable[..., Any], chunk: Any, *args: Any) -> Any:
    """Read one chunk of the month's files (pure work, no database): ``fn(chunk, *args)``.  ``fn``
    is a module-level library function, so it pickles by reference onto Dask workers."""
    return fn(chunk, *args)


def run_stage_logged(stage: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """The pipeline's stage runner under Prefect: the stage runs in the flow, logged with its time."""
    logger = get_run_logger()
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    logger.info("stage %s done in %.1f s", stage, time.perf_counter() - t0)
    return out


class TaskRunnerPool:
    """The file-reading pool of :func:`dpaudit.pipeline.ingest_period` on the flow's task runner:
    each chunk of files is a ``read-files`` task; results come back in chunk order."""

    def __init__(self, chunk_files: int = DEFAULT_BATCH) -> None:
        self.chunk_files = max(1, chunk_files)

    def submit(self, fn: Callable[..., Any], chunks: Iterable[Any], *args: Any, parallel: bool = True) -> Iterator[Any]:
        futures = [read_files.submit(fn, chunk, *args) for chunk in chunks]
        return (f.result() for f in futures)


def artifact_markdown(period: str, summary_md: str, files: list[str], counts: dict, timings: dict,
                      error: str | None = None) -> str:
    lines = [summary_md.strip() or f"# dpaudit run {period}", ""]
    if error:
        lines += ["## Reports were not written", "", f"{error}", "",
                  "Findings and recommendations are stored; write the reports again with "
                  f"`dpaudit report --period {period}`.", ""]
    lines += ["## Report files", ""]
    lines += [f"- [{Path(f).name}]({Path(f).resolve().as_uri()})" for f in files] or ["- (none)"]
    lines += ["", "## Stage times", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in timings.items()]
    lines += ["", "## What this run read and wrote", "",
              "Files and rows are those this run read (a file already loaded by an earlier run is not read "
              "again); the summary above counts everything stored for the month.", "",
              "```json", json.dumps(counts, indent=1, sort_keys=True, default=str), "```"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ flow
def _run_name() -> str:
    from prefect.runtime import flow_run

    return f"month-{flow_run.parameters.get('period') or default_period()}"


@flow(name="dpaudit-monthly", flow_run_name=_run_name, log_prints=True)
def monthly_reconciliation(data_dir: str, period: Optional[str] = None, reports_dir: str = "reports",
                           db_path: Optional[str] = None, policy_path: Optional[str] = None,
                           officer: Optional[str] = None, wait_seconds: float = 0.0,
                           batch_size: int = DEFAULT_BATCH) -> dict:
    """Reconcile one month (default: the previous calendar month) and write its reports."""
    logger = get_run_logger()
    period = period or default_period()
    parse_period(period)
    try:
        with dpaudit_slot(f"month {period}", wait_seconds):
            r = run_period(data_dir, period, reports_dir=reports_dir, db_path=db_path, policy_path=policy_path,
                           officer=officer, wait_seconds=wait_seconds, stage_runner=run_stage_logged,
                           pool=TaskRunnerPool(batch_size), progress=lambda stage: logger.info("%s: %s", period, stage))
    except Exception as exc:
        rec = getattr(exc, "run_record", None)
        if rec is not None and rec.current == "report":
            error = f"The report stage failed: {exc}"
            logger.error(error)
            create_markdown_artifact(markdown=artifact_markdown(period, "", [], rec.counts, rec.timings, error),
                                     key=f"dpaudit-month-{period}", description=f"dpaudit monthly reconciliation {period}")
            raise RuntimeError(f"{error} (findings and recommendations of {period} are stored; "
                               f"run_id {rec.run_id})") from exc
        raise
    files = [str(f) for f in r.files]
    create_markdown_artifact(markdown=artifact_markdown(period, r.summary_md, files, r.counts, r.timings),
                             key=f"dpaudit-month-{period}", description=f"dpaudit monthly reconciliation {period}")
    return {"run_id": r.run_id, "period": period, "db_path": str(r.db_path), "reports_dir": str(r.reports_dir),
            "files": files, "counts": r.counts, "timings": r.timings}


if __name__ == "__main__":  # pragma: no cover - manual run: python flows/monthly.py DATA [PERIOD]
    import sys

    print(monthly_reconciliation(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
