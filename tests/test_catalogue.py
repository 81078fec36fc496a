"""The rule catalogue docs/rules.md is whole: every rule id in it has (a) a registered rule
function, (b) a clause and a severity in the policy, and (c) a test that names it; and no rule is
registered or configured that the catalogue does not describe.

(c) counts a test function (``def test_...`` in tests/test_*.py, other than this file) whose body
or decorators hold the id in a string: a module-level list of every id, or a helper, is no test.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

import dpaudit.audit.rules  # noqa: F401  importing the package registers every rule family
from dpaudit.audit.rules import RULES
from dpaudit.core.policy import SEVERITIES, load_policy

TESTS = Path(__file__).resolve().parent
RULES_MD = TESTS.parent / "docs" / "rules.md"
RULE_ID = r"(?:DQ|EV|SP|AC|PY|RV|CO)-[A-Z0-9]+(?:-[A-Z0-9]+)*"
NOT_IN_CATALOGUE = {"RULE-ERROR"}  # the runner's own finding for a rule that crashed


def catalogue_rows() -> list[str]:
    """The ids of the catalogue's table rows (``| DQ-ROW-REJECTED | medium | ... |``), in order."""
    return re.findall(rf"^\|\s*({RULE_ID})\s*\|", RULES_MD.read_text(encoding="utf-8"), re.M)


CATALOGUE = sorted(set(catalogue_rows()))


@cache
def naming_tests() -> dict[str, set[str]]:
    """rule id -> the tests ("file::function") whose source holds the id in a string."""
    named: dict[str, set[str]] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not (isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name.startswith("test_")):
                continue
            for node in ast.walk(fn):  # the body and the decorators (parametrize lists)
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for rid in re.findall(RULE_ID, node.value):
                        named.setdefault(rid, set()).add(f"{path.name}::{fn.name}")
    return named


def test_catalogue_parses():
    rows = catalogue_rows()
    assert len(rows) >= 30, f"only {len(rows)} rule rows parsed from {RULES_MD}: {rows}"
    dupes = sorted({r for r in rows if rows.count(r) > 1})
    assert not dupes, f"rule ids with more than one row in {RULES_MD}: {dupes}"


@pytest.mark.parametrize("rule_id", CATALOGUE)
def test_rule_is_registered(rule_id):
    assert rule_id in RULES, (f"{rule_id} is in docs/rules.md but no function is registered for it "
                              f"(@rule({rule_id!r}) in src/dpaudit/audit/rules/)")
    assert callable(RULES[rule_id])


@pytest.mark.parametrize("rule_id", CATALOGUE)
def test_rule_has_clause_and_severity_in_the_policy(rule_id):
    cfg = load_policy().rule(rule_id)  # PolicyError names the missing [rules.<id>] section
    assert cfg.rule_id == rule_id
    assert cfg.severity in SEVERITIES, f"{rule_id}: severity {cfg.severity!r} is not one of {SEVERITIES}"
    assert isinstance(cfg.clause, str) and cfg.clause.strip(), f"{rule_id}: the policy gives no clause"


@pytest.mark.parametrize("rule_id", CATALOGUE)
def test_rule_is_named_by_a_test(rule_id):
    assert naming_tests().get(rule_id), (f"no test function under tests/ names {rule_id}; "
                                         "add one (given tables, expect findings: see tests/test_rules.py)")


def test_no_rule_outside_the_catalogue():
    """What the code registers and the policy configures is what docs/rules.md describes."""
    catalogue = set(CATALOGUE)
    undocumented = sorted(set(RULES) - catalogue)
    assert not undocumented, f"registered rules missing from docs/rules.md: {undocumented}"
    configured = set(load_policy().raw["rules"]) - NOT_IN_CATALOGUE
    assert sorted(configured - catalogue) == [], "policy [rules.*] sections missing from docs/rules.md"
    assert sorted(catalogue - configured) == [], "docs/rules.md rules without a policy [rules.*] section"
