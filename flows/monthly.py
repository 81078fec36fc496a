"""Entry point: re-exports :mod:`dpaudit.flows.monthly` (the flow lives in the installed package)."""
from dpaudit.flows.monthly import *  # noqa: F401,F403
from dpaudit.flows.monthly import __all__  # noqa: F401
