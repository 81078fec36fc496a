"""The audit policy: loading, validation and typed access.

The default policy ships as ``resources/policy.default.toml``.  A council's own file overrides any subset
of it; every key of the override must exist in the default and have the same type, so a typo
stops the run with a message that names the key instead of being silently ignored.
"""
from __future__ import annotations

import copy
import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from dpaudit.core.dates import parse_date
from dpaudit.core.money import MoneyError, parse_pence

SEVERITIES = ("high", "medium", "low", "info")
# Thresholds written as strings in TOML so they stay exact: money (pence) or percentages.
MONEY_KEYS = {"evidence_min_amount", "amount_tolerance", "stop_amount", "transfer_return_min_amount"}
PCT_KEYS = {"overspend_tolerance_pct", "contingency_min_pct", "contingency_max_pct", "carry_forward_pct"}
# [cohort] values written as strings: money (pence) and exact decimals
COHORT_MONEY_KEYS = {"co_sample_min_amount", "co_round_unit"}
COHORT_DECIMAL_KEYS = {"co_benford_chi2", "co_round_share"}


class PolicyError(ValueError):
    """The policy file is wrong; the message names the file and key and says how to fix it."""


@dataclass(frozen=True)
class RuleConfig:
    rule_id: str
    severity: str
    clause: str
    enabled: bool


@dataclass(frozen=True)
class Policy:
    """A validated policy.  ``raw`` keeps the merged TOML tree; typed views are properties."""

    raw: dict[str, Any]
    source: str
    digest: str

    @property
    def version(self) -> str:
        return str(self.raw["policy_version"])

    def threshold(self, key: str) -> Any:
        return self.raw["thresholds"][key]

    def pence(self, key: str) -> int:
        return parse_pence(self.raw["thresholds"][key])

    def pct(self, key: str) -> Decimal:
        return Decimal(self.raw["thresholds"][key])

    def days(self, key: str) -> int:
        return int(self.raw["thresholds"][key])

    def rule(self, rule_id: str) -> RuleConfig:
        try:
            r = self.raw["rules"][rule_id]
        except KeyError as exc:
            raise PolicyError(f"the policy has no [rules.{rule_id}] section; add one with severity, clause and enabled") from exc
        return RuleConfig(rule_id, r["severity"], r["clause"], bool(r["enabled"]))

    def cohort(self, key: str) -> Any:
        """A ``[cohort]`` threshold: money as pence, ``COHORT_DECIMAL_KEYS`` as ``Decimal``, counts as int."""
        value = self.raw["cohort"][key]
        if key in COHORT_MONEY_KEYS:
            return parse_pence(value)
        if key in COHORT_DECIMAL_KEYS:
            return Decimal(value)
        return int(value)

    def keywords(self, key: str) -> list[str]:
        return [str(k).lower() for k in self.raw["keywords"][key]]

    def category_keywords(self) -> dict[str, list[str]]:
        return {c: [k.lower() for k in ks] for c, ks in self.raw["keywords"]["category"].items()}

    def carry(self) -> dict[str, list[str]]:
        """Keyword arguments of ``decisions.current_status``: which decisions carry to the next period."""
        rec = self.raw["recommend"]
        return {"carry_rules": list(rec.get("carry_decision_rules", [])),
                "carry_actions": list(rec.get("carry_decision_actions", []))}

    def funding_restriction(self, stream: str) -> str | None:
        return self.raw["funding_streams"].get(stream)

    def min_wage_pence(self, age: int, on: date) -> int | None:
        """The hourly National Minimum/Living Wage in pence for an age on a date (None before the table)."""
        bands, table = _wage_table(self.digest, self.raw)
        rates = None
        for start, row in table:
            if start <= on:
                rates = row
        if rates is None:
            return None
        for lower, rate in zip(bands, rates):
            if age >= lower:
                return rate
        return rates[-1]


_WAGE_CACHE: dict[str, tuple] = {}


def _wage_table(digest: str, raw: dict) -> tuple[list[int], list[tuple[date, list[int]]]]:
    """The minimum wage table parsed once per policy (dates and pence)."""
    if digest not in _WAGE_CACHE:
        mw = raw["minimum_wage"]
        table = sorted((parse_date(r[0]), [parse_pence(x) for x in r[1:]]) for r in mw["rates"])
        _WAGE_CACHE[digest] = ([int(b) for b in mw["bands"]], table)
    return _WAGE_CACHE[digest]


def _default_text() -> str:
    return resources.files("dpaudit.resources").joinpath("policy.default.toml").read_text(encoding="utf-8")


def _merge(base: dict, over: dict, where: str, src: str) -> None:
    for key, value in over.items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            if where == "rules" or where.startswith("keywords.category") or where == "funding_streams":
                base[key] = value  # new rule section / category / funding stream: allowed
                continue
            raise PolicyError(f"{src}: unknown key '{path}'. Check the spelling against resources/policy.default.toml.")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise PolicyError(f"{src}: '{path}' must be a table ([{path}]), not {type(value).__name__}.")
            _merge(base[key], value, path, src)
        else:
            if type(base[key]) is not type(value):
                raise PolicyError(
                    f"{src}: '{path}' must be {type(base[key]).__name__} like the default "
                    f"{base[key]!r}, not {value!r}.")
            base[key] = value


def _validate(raw: dict, src: str) -> None:
    th = raw["thresholds"]
    for key in MONEY_KEYS:
        try:
            parse_pence(th[key])
        except MoneyError as exc:
            raise PolicyError(f"{src}: thresholds.{key} = {th[key]!r} is not money (write it like \"10.00\")") from exc
    for key in PCT_KEYS:
        try:
            v = Decimal(th[key])
        except InvalidOperation as exc:
            raise PolicyError(f"{src}: thresholds.{key} = {th[key]!r} is not a percentage (write it like \"10\")") from exc
        if not (0 <= v <= 100):
            raise PolicyError(f"{src}: thresholds.{key} = {th[key]} must be between 0 and 100")
    for key, value in th.items():
        if isinstance(value, int) and value < 0:
            raise PolicyError(f"{src}: thresholds.{key} = {value} must not be negative")
    for key, value in raw.get("contributions", {}).items():
        if isinstance(value, int) and value < 0:
            raise PolicyError(f"{src}: contributions.{key} = {value} must not be negative")
    _validate_cohort(raw.get("cohort", {}), src)
    for rid, r in raw["rules"].items():
        for need in ("severity", "clause", "enabled"):
            if need not in r:
                raise PolicyError(f"{src}: [rules.{rid}] lacks '{need}'")
        if r["severity"] not in SEVERITIES:
            raise PolicyError(f"{src}: rules.{rid}.severity = {r['severity']!r}; use one of {', '.join(SEVERITIES)}")
    for stream, restriction in raw["funding_streams"].items():
        if restriction not in ("none", "notional"):
            raise PolicyError(f"{src}: funding_streams.{stream} = {restriction!r}; use 'none' or 'notional'")
    _validate_risk(raw.get("risk", {}), src)
    for row in raw["minimum_wage"]["rates"]:
        if len(row) != 1 + len(raw["minimum_wage"]["bands"]):
            raise PolicyError(f"{src}: minimum_wage.rates row {row!r} needs a date and one rate per band")
        parse_date(row[0])
        for r in row[1:]:
            parse_pence(r)


def _validate_risk(risk: dict, src: str) -> None:
    """The [risk] section (docs/risk.md): whole points, a red score above the amber one, a
    severity table for every severity, review months of at least one."""
    for key, value in risk.items():
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise PolicyError(f"{src}: risk.{key} = {value} must not be negative")
    for table in ("finding_points", "upheld_points"):
        t = risk.get(table, {})
        for sev in SEVERITIES:
            if sev not in t:
                raise PolicyError(f"{src}: [risk.{table}] lacks '{sev}'; give points for {', '.join(SEVERITIES)}")
            if t[sev] < 0:
                raise PolicyError(f"{src}: risk.{table}.{sev} = {t[sev]} must not be negative")
    for rating, months in risk.get("review_months", {}).items():
        if months < 1:
            raise PolicyError(f"{src}: risk.review_months.{rating} = {months} must be at least 1")
    if risk and not (1 <= risk["amber_score"] < risk["red_score"]):
        raise PolicyError(f"{src}: risk.amber_score = {risk['amber_score']} and risk.red_score = {risk['red_score']}: "
                          "amber must be at least 1 and below red")
    if risk and risk["rising_months"] > risk["window_periods"]:
        raise PolicyError(f"{src}: risk.rising_months = {risk['rising_months']} is more than risk.window_periods = "
                          f"{risk['window_periods']}: the months a rising balance is judged on must be in the window")
    if risk and not (1 <= risk["window_periods"] and 1 <= risk["rising_months"] and 0 <= risk["dismissed_pct"] <= 100):
        raise PolicyError(f"{src}: risk.window_periods and risk.rising_months must be at least 1, and "
                          "risk.dismissed_pct between 0 and 100")
def _validate_cohort(co: dict, src: str) -> None:
    for key, value in co.items():
        if key in COHORT_MONEY_KEYS:
            try:
                if parse_pence(value) <= 0:
                    raise PolicyError(f"{src}: cohort.{key} = {value!r} must be above zero")
            except MoneyError as exc:
                raise PolicyError(f"{src}: cohort.{key} = {value!r} is not money (write it like \"50.00\")") from exc
        elif key in COHORT_DECIMAL_KEYS:
            try:
                v = Decimal(value)
            except InvalidOperation as exc:
                raise PolicyError(f"{src}: cohort.{key} = {value!r} is not a number (write it like \"0.5\")") from exc
            if v < 0 or (key == "co_round_share" and v > 1):
                raise PolicyError(f"{src}: cohort.{key} = {value} must be " + ("between 0 and 1" if key == "co_round_share"
                                                                                else "0 or more"))
        elif isinstance(value, int) and value < 0:
            raise PolicyError(f"{src}: cohort.{key} = {value} must not be negative")


def load_policy(path: Path | str | None = None) -> Policy:
    """Load the default policy, overlaid with ``path`` when given; validate; return it."""
    text = _default_text()
    raw = tomllib.loads(text)
    digest_src = text
    src = "resources/policy.default.toml"
    if path is not None:
        p = Path(path)
        src = str(p)
        try:
            over_text = p.read_text(encoding="utf-8")
            over = tomllib.loads(over_text)
        except FileNotFoundError as exc:
            raise PolicyError(f"policy file {p} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{p} is not valid TOML: {exc}") from exc
        raw = copy.deepcopy(raw)
        _merge(raw, over, "", src)
        digest_src += over_text
    _validate(raw, src)
    digest = hashlib.sha256(digest_src.encode("utf-8")).hexdigest()[:12]
    return Policy(raw=raw, source=src, digest=digest)
