"""Entry point: re-exports :mod:`dpaudit.flows.decisions` (the flow lives in the installed package)."""
from dpaudit.flows.decisions import *  # noqa: F401,F403
from dpaudit.flows.decisions import __all__  # noqa: F401
