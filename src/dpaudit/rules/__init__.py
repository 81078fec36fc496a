"""The rule catalogue: one registered function per rule id (see ``registry``).

Importing this package registers every rule family.
"""
from . import ac, dq, ev, py, rv, sp  # noqa: F401  (registration side effect)
from .registry import RULES, rule, run_rules  # noqa: F401
