"""Prefect 3 flows for dpaudit: thin wrappers over :mod:`dpaudit.pipeline`.

- :mod:`flows.monthly`   ``dpaudit-monthly``   ingest → audit → recommend → report for one month
  (statement files parsed per recipient in parallel tasks; a Dask cluster via ``task_runner``)
- :mod:`flows.year_end`  ``dpaudit-year-end``  carry-forward and repayment for a financial year
- :mod:`flows.decisions` ``dpaudit-decisions`` import a returned workbook into the decision log
- :mod:`flows.deploy`    the scheduled deployments (``python -m flows.deploy`` serves them)

They run with no Prefect server (ephemeral mode) unless ``PREFECT_API_URL`` points at one.
"""
