"""The clean council yields no finding; shuffling input order changes nothing."""
from builders import simple_council


def test_clean_recipient_month_has_no_findings(tmp_path):
    f = simple_council(tmp_path).audit("2025-05")
    assert f.empty, f[["rule_id", "message"]].to_string()
