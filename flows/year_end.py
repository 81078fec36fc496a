"""Entry point: re-exports :mod:`dpaudit.flows.year_end` (the flow lives in the installed package)."""
from dpaudit.flows.year_end import *  # noqa: F401,F403
from dpaudit.flows.year_end import __all__  # noqa: F401
