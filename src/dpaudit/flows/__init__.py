"""Prefect 3 flows for dpaudit: thin wrappers over :mod:`dpaudit.pipeline`.

- :mod:`dpaudit.flows.monthly`   ``dpaudit-monthly``   ingest → audit → recommend → report for one month
  (files read by ``read-files`` tasks on the task runner; a Dask cluster via ``task_runner``)
- :mod:`dpaudit.flows.year_end`  ``dpaudit-year-end``  carry-forward and repayment for a financial year
- :mod:`dpaudit.flows.decisions` ``dpaudit-decisions`` import a returned workbook into the decision log
- :mod:`dpaudit.flows.deploy`    the scheduled deployments (``python -m flows.deploy`` serves them)

They live in the installed package so that Dask workers (and any Prefect worker) can import them
wherever dpaudit is installed; the repository's ``flows/*.py`` are the entry points Prefect and
``prefect.yaml`` name, and only re-export these.  They run with no Prefect server (ephemeral mode)
unless ``PREFECT_API_URL`` points at one.  Every flow holds the global concurrency limit
:data:`dpaudit.flows.common.CONCURRENCY_LIMIT` while it works, besides the store's lock.
"""
