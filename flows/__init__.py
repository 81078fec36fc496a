"""Entry points of dpaudit's Prefect flows (named by prefect.yaml and ``python -m flows.deploy``).

The flows themselves are in the installed package, :mod:`dpaudit.flows`, so that workers on
other machines import them from there; these modules only re-export them.
"""
