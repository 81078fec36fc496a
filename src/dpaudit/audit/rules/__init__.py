"""The rule catalogue: one registered function per rule id (``registry.rule``).

Importing this package registers every rule family.
"""
from dpaudit.audit.rules import ac, co, dq, ev, py, rv, sp  # noqa: F401  (registration side effect)
from dpaudit.audit.rules import ac_contributions  # noqa: F401  (AC-CONTRIBUTION-SHORT)
from dpaudit.audit.rules.registry import (RULES, STAGE, combine_shard_views, rule, run_cohort_rules,  # noqa: F401
                                         run_rules, seed_shard_views, shard_view, shard_views)
