"""Money as integer pence: parsing, formatting and the one place where rounding happens.

Every amount in dpaudit is an ``int`` number of pence (or a pandas ``Int64`` column of pence)
from the moment it is read until it is written.  ``Decimal`` is used only at the edges
(formatting pounds, percentages).  Rounding, where any is needed, is half-up to 1p and is done
by :func:`round_half_up_pence` and nowhere else.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd

from dpaudit.core.distinct import per_distinct

PENCE_PER_POUND = 100

# "1,234.50", "£1,234.50", "-12.00", "(12.50)", "12.50 CR", "+ £1,234.56", "12.5", "12"
_CLEAN_RE = re.compile(r"[£\s,\u00a0]")
_VALID_RE = r"^[+-]?\d+(\.\d{1,2})?$"
_PLAIN_RE = re.compile(r"^[+-]?\d+(\.\d{1,2})?$")
_GROUPED_RE = r"(?<![\d,])\d{1,3}(?:,\d{3})+(?:\.\d*)?(?![\d,])"


class MoneyError(ValueError):
    """A value that is not an amount of money in pounds with at most two decimals."""


def _normalise_text(s: pd.Series) -> pd.Series:
    """Strip currency signs, spaces and thousands commas; turn (x) and trailing CR/DR into signs."""
    t = s.astype("string").str.strip()
    upper = t.str.upper()
    cr = upper.str.endswith("CR", na=False)
    dr = upper.str.endswith("DR", na=False)
    t = t.mask(cr | dr, t.str[:-2])
    paren = t.str.startswith("(", na=False) & t.str.endswith(")", na=False)
    t = t.mask(paren, t.str[1:-1])
    t = t.str.replace(_CLEAN_RE, "", regex=True)
    # a sign may follow the currency sign: "£-12.00" / "-£12.00" both become "-12.00" after cleaning
    t = t.mask(paren & ~t.str.startswith("-", na=False), "-" + t)
    t = t.mask(dr & ~t.str.startswith("-", na=False), "-" + t.str.lstrip("+"))
    return t


def parse_pence_series(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a column of money text into pence without a per-row Python loop.

    Returns ``(pence, bad)`` where ``pence`` is an ``Int64`` series (``<NA>`` where blank or bad)
    and ``bad`` is a boolean series that is True where a non-blank value was not money.
    """
    if len(values) == 0:
        return pd.Series([], dtype="Int64", index=values.index), pd.Series([], dtype=bool, index=values.index)
    if len(values) <= SMALL_COLUMN:
        return _parse_small(values)
    return per_distinct(values, _parse_vectorised)


def _parse_vectorised(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    raw = values.astype("string").str.strip()
    # a comma must group thousands ("1,234.50"); "12,50" (a decimal comma) is not read as 1250
    commas_ok = ~raw.str.contains(",", regex=False, na=False) | raw.str.contains(_GROUPED_RE, na=False)
    t = _normalise_text(values)
    blank = t.isna() | (t == "")
    ok = t.str.match(_VALID_RE, na=False) & commas_ok
    bad = ~blank & ~ok
    good = t.where(ok)
    neg = good.str.startswith("-", na=False)
    body = good.str.lstrip("+-")
    parts = body.str.split(".", n=1, expand=True)
    if parts.shape[1] == 1:
        parts[1] = None
    whole = pd.to_numeric(parts[0], errors="coerce").astype("Int64")
    frac_txt = parts[1].astype("string").fillna("").str.ljust(2, "0")
    frac = pd.to_numeric(frac_txt.where(frac_txt != "", "00"), errors="coerce").astype("Int64")
    pence = whole * PENCE_PER_POUND + frac
    pence = pence.where(~neg, -pence)
    pence = pence.where(ok)
    return pence.astype("Int64"), bad.astype(bool)


# A bank statement or receipts file has tens of rows: below this size a pandas string pipeline
# costs ~30 ms of fixed overhead per column, far more than parsing the values one by one.
SMALL_COLUMN = 256


_GROUPED_ONE = re.compile(_GROUPED_RE)


def _parse_one(text: str) -> int | None:
    """One value by the same rules as the vectorised parser; None when it is not money."""
    t = text.strip()
    if _PLAIN_RE.match(t):
        neg = t.startswith("-")
        whole, _, frac = t.lstrip("+-").partition(".")
        pence = int(whole) * PENCE_PER_POUND + int((frac + "00")[:2])
        return -pence if neg else pence
    if "," in t and not _GROUPED_ONE.search(t):
        return None
    up = t.upper()
    sign = 1
    if up.endswith("CR") or up.endswith("DR"):
        sign = -1 if up.endswith("DR") else 1
        t = t[:-2]
    t = t.strip()
    if t.startswith("(") and t.endswith(")"):
        sign, t = -1, t[1:-1]
    t = _CLEAN_RE.sub("", t)
    if not _PLAIN_RE.match(t):
        return None
    neg = t.startswith("-")
    whole, _, frac = t.lstrip("+-").partition(".")
    pence = int(whole) * PENCE_PER_POUND + int((frac + "00")[:2])
    return -pence if (neg or sign < 0) else pence


def _parse_small(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    out, bad = [], []
    for v in values.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and v != v) or str(v).strip() == "":
            out.append(pd.NA)
            bad.append(False)
            continue
        pence = _parse_one(str(v))
        out.append(pd.NA if pence is None else pence)
        bad.append(pence is None)
    return pd.Series(out, index=values.index, dtype="Int64"), pd.Series(bad, index=values.index, dtype=bool)


def parse_pence(text: object) -> int:
    """Parse one amount of money to pence; raise :class:`MoneyError` naming the value."""
    if isinstance(text, bool):
        raise MoneyError(f"{text!r} is not an amount of money")
    if isinstance(text, int):
        return text * PENCE_PER_POUND
    if isinstance(text, Decimal):
        q = text * PENCE_PER_POUND
        if q != q.to_integral_value():
            raise MoneyError(f"{text} has more than two decimals")
        return int(q)
    pence = _parse_one(str(text)) if str(text).strip() else None
    if pence is None:
        raise MoneyError(f"{text!r} is not an amount of money in pounds with at most two decimals")
    return pence


def pence_to_decimal(pence: int) -> Decimal:
    """Pence as a ``Decimal`` number of pounds with exactly two places."""
    return (Decimal(int(pence)) / PENCE_PER_POUND).quantize(Decimal("0.01"))


def format_pounds(pence: int | None) -> str:
    """``123456`` -> ``"1234.56"``; ``-5`` -> ``"-0.05"``; ``None`` -> ``""`` (machine-readable CSVs)."""
    if pence is None or pd.isna(pence):
        return ""
    return str(pence_to_decimal(int(pence)))


def format_gbp(pence: int | None) -> str:
    """``123456`` -> ``"£1,234.56"`` for people (letters, summaries)."""
    if pence is None or pd.isna(pence):
        return ""
    d = pence_to_decimal(int(pence))
    sign = "-" if d < 0 else ""
    return f"{sign}£{abs(d):,.2f}"


def round_half_up_pence(value: Decimal | int | str) -> int:
    """Round an exact quantity of pence (``Decimal``) half-up to a whole penny. The only rounding."""
    try:
        d = Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - programming error
        raise MoneyError(f"cannot round {value!r}") from exc
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pct_of(pence: int, pct: Decimal | int | str) -> int:
    """``pct`` per cent of ``pence``, rounded half-up to the penny."""
    return round_half_up_pence(Decimal(int(pence)) * Decimal(str(pct)) / 100)


def pro_rata(pence: int, days: int, of_days: int) -> int:
    """``pence * days / of_days`` rounded half-up to the penny (budget to date)."""
    if of_days <= 0:
        return 0
    return round_half_up_pence(Decimal(int(pence)) * days / of_days)


def gbp_series(pence: pd.Series) -> pd.Series:
    """A column of pence as '£1,234.56' text (object dtype, safe to concatenate even when empty)."""
    return pd.Series([format_gbp(v) for v in pence], index=pence.index, dtype="object")


WEEKS_PER_YEAR = 52


def weeks_of_funding(pence: int | None, annual_pence: int | None) -> Decimal | None:
    """``pence`` as weeks of the annual direct payment, ``pence / (annual_pence / 52)``, to one
    decimal place rounded half-up (exact integer arithmetic; a half rounds away from zero).  None
    when there is no annual value to measure by (or no amount)."""
    if pence is None or annual_pence is None or pd.isna(pence) or pd.isna(annual_pence) or int(annual_pence) <= 0:
        return None
    p, annual = int(pence), int(annual_pence)
    tenths, rest = divmod(abs(p) * WEEKS_PER_YEAR * 10, annual)
    if 2 * rest >= annual:
        tenths += 1
    return Decimal(-tenths if p < 0 else tenths).scaleb(-1)


def format_weeks(weeks: Decimal | None) -> str:
    """``Decimal("6.3")`` -> ``"6.3 weeks of funding"`` ("" for None)."""
    if weeks is None:
        return ""
    return f"{weeks} week{'' if weeks == 1 else 's'} of funding"
