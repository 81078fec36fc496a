"""The policy file: every rule has a clause and severity, typos are named, councils override."""
from datetime import date
from pathlib import Path

import pytest

from dpaudit.core.policy import PolicyError, load_policy

RULES_MD = Path(__file__).resolve().parents[2] / "shared" / "spec" / "rules.md"


def test_default_policy_loads_with_versions_and_wage_table():
    p = load_policy()
    assert p.version and len(p.digest) == 12
    assert p.min_wage_pence(21, date(2025, 4, 1)) == 1221
    assert p.min_wage_pence(20, date(2025, 3, 31)) == 860
    assert p.min_wage_pence(17, date(2026, 4, 1)) == 800
    assert p.min_wage_pence(30, date(2024, 3, 31)) is None
    assert p.funding_restriction("sen_transport") == "notional" and p.funding_restriction("chc_ccg") == "none"


def test_every_catalogue_rule_is_in_the_policy_and_registered():
    import re

    from dpaudit.audit.rules import RULES  # importing the package registers every rule

    p = load_policy()
    if RULES_MD.exists():
        ids = set(re.findall(r"\| ([A-Z]{2}-[A-Z-]+) \|", RULES_MD.read_text()))
        assert len(ids) >= 30
    else:
        ids = set(p.raw["rules"]) - {"RULE-ERROR"}
    for rid in ids:
        cfg = p.rule(rid)
        assert cfg.clause and cfg.severity in ("high", "medium", "low", "info")
        assert rid in RULES, f"{rid} has no rule function"


def test_override_and_typo(tmp_path):
    ok = tmp_path / "council.toml"
    ok.write_text('policy_version = "SMBC-2026"\n[thresholds]\nmatch_window_days = 10\n[rules.SP-CASH]\nseverity = "high"\n')
    p = load_policy(ok)
    assert p.version == "SMBC-2026" and p.days("match_window_days") == 10 and p.rule("SP-CASH").severity == "high"
    assert p.days("payment_window_days") == 5  # untouched defaults stay
    bad = tmp_path / "typo.toml"
    bad.write_text("[thresholds]\nmatch_windw_days = 10\n")
    with pytest.raises(PolicyError, match="thresholds.match_windw_days"):
        load_policy(bad)


@pytest.mark.parametrize("text,key", [
    ('[thresholds]\nmatch_window_days = "7"\n', "thresholds.match_window_days"),
    ('[thresholds]\nstop_amount = "1,000.0.0"\n', "stop_amount"),
    ('[thresholds]\ncontingency_max_pct = "150"\n', "contingency_max_pct"),
    ('[rules.SP-CASH]\nseverity = "urgent"\n', "SP-CASH"),
    ('[funding_streams]\nsen_transport = "maybe"\n', "sen_transport"),
])
def test_bad_values_are_named(tmp_path, text, key):
    f = tmp_path / "p.toml"
    f.write_text(text)
    with pytest.raises(PolicyError, match=key):
        load_policy(f)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")
    f = tmp_path / "broken.toml"
    f.write_text("[thresholds\n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(f)
