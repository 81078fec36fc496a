"""UK dates (day first, never US order), periods (``YYYY-MM``) and financial years (April-March)."""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

import pandas as pd

from dpaudit.core.distinct import per_distinct

# Tried in this order; the first that parses a value wins for that value.  No format is
# month-first: a date such as 04/05/2025 is always 4 May 2025.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %y",
    "%d/%m/%y",
    "%Y/%m/%d",
    "%Y%m%d",
)
_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class DateError(ValueError):
    """A value that is not a day-first UK date or an ISO date."""


def parse_dates_series(values: pd.Series, formats: tuple[str, ...] = DATE_FORMATS) -> tuple[pd.Series, pd.Series]:
    """Parse a text column of dates, vectorised per format (each distinct text once).

    Accepts ISO and day-first forms only; times after the date (``2025-04-05 13:00:00`` or
    ``2025-04-05T13:00``) are ignored.  Returns ``(dates, bad)``: ``datetime64[ns]`` values
    normalised to midnight (``NaT`` where blank/bad) and a boolean mask of non-blank values
    that are not a valid date (``31/02/2025`` is bad, not rolled over).
    """
    return per_distinct(values, lambda v: _parse_dates(v, formats))


def _parse_dates(values: pd.Series, formats: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    t = values.astype("string").str.strip()
    t = t.str.replace(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$", "", regex=True)
    blank = t.isna() | (t == "")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    todo = ~blank
    for fmt in formats:
        if not todo.any():
            break
        parsed = _to_datetime(t.where(todo), fmt)
        hit = todo & parsed.notna()
        out = out.mask(hit, parsed)
        todo = todo & ~hit
    return out, (todo & ~blank)


def _to_datetime(t: pd.Series, fmt: str) -> pd.Series:
    """``pd.to_datetime(errors="coerce")`` as nanosecond datetimes; a date outside their range
    (``1500-01-01``, a typo such as ``2925-04-01``) is a bad date (NaT), never an exception."""
    parsed = pd.to_datetime(t, format=fmt, errors="coerce")
    lo, hi = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
    in_range = parsed.isna() | ((parsed >= lo) & (parsed <= hi))
    return parsed.where(in_range).astype("datetime64[ns]")


def parse_date(text: object) -> date:
    """Parse one date (ISO or day-first); raise :class:`DateError` naming the value."""
    if isinstance(text, date):
        return text if not hasattr(text, "date") else text.date()  # type: ignore[return-value]
    t = str(text).strip()
    if len(t) == 10 and t[4] == "-" and t[7] == "-":  # ISO, the common case, without pandas
        try:
            return date.fromisoformat(t)
        except ValueError as exc:
            raise DateError(f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)") from exc
    d, bad = parse_dates_series(pd.Series([text], dtype="object"))
    if bad.iloc[0] or pd.isna(d.iloc[0]):
        raise DateError(f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
    return d.iloc[0].date()


def parse_period(period: str) -> tuple[date, date]:
    """``"2025-05"`` -> (2025-05-01, 2025-05-31)."""
    m = _PERIOD_RE.match(str(period).strip())
    if not m:
        raise DateError(f"{period!r} is not a period; write it as YYYY-MM, e.g. 2025-05")
    y, mo = int(m.group(1)), int(m.group(2))
    return date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1])


def period_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def previous_period(period: str) -> str:
    start, _ = parse_period(period)
    return period_of(start - timedelta(days=1))


def next_period(period: str) -> str:
    _, end = parse_period(period)
    return period_of(end + timedelta(days=1))


def financial_year_of(d: date) -> int:
    """FY2025 is 2025-04-01..2026-03-31."""
    return d.year if d.month >= 4 else d.year - 1


def financial_year_bounds(fy: int) -> tuple[date, date]:
    return date(fy, 4, 1), date(fy + 1, 3, 31)


def fy_periods(fy: int) -> list[str]:
    out, p = [], f"{fy:04d}-04"
    for _ in range(12):
        out.append(p)
        p = next_period(p)
    return out


def add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def age_on(dob: date, on: date) -> int:
    """Whole years of age on a date."""
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
