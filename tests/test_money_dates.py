"""Money is exact pence end to end; dates are day-first; rounding is half-up in one place."""
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpaudit.core.dates import (DateError, add_months, age_on, financial_year_of, fy_periods, parse_date, parse_dates_series,
                           parse_period, previous_period)
from dpaudit.core.money import (MoneyError, format_gbp, format_pounds, parse_pence, parse_pence_series, pct_of, pro_rata,
                           round_half_up_pence)


@given(st.integers(min_value=-10**13, max_value=10**13))
def test_pence_round_trip_plain_and_pretty(pence):
    assert parse_pence(format_pounds(pence)) == pence
    assert parse_pence(format_gbp(pence)) == pence


@settings(deadline=None, max_examples=40)
@given(st.lists(st.integers(min_value=-10**9, max_value=10**9), min_size=1, max_size=50),
       st.sampled_from(["", "£1,234.5O", "12,50"]))
def test_small_and_large_columns_parse_alike(values, junk):
    texts = [format_gbp(v) for v in values] + [junk]
    for n in (1, 300 // len(texts) + 1):  # a small file's column, and one past SMALL_COLUMN (vectorised)
        pence, bad = parse_pence_series(pd.Series(texts * n))
        assert pence.tolist()[: len(values)] == values
        assert bad.tolist() == ([False] * len(values) + [junk != ""]) * n


@pytest.mark.parametrize("text,pence", [("1234.50", 123450), ("£1,234.50", 123450), ("(12.50)", -1250), ("-12.00", -1200),
                                        ("12.5", 1250), ("12", 1200), ("12.50 CR", 1250), ("12.50 DR", -1250),
                                        ("+ £1,234.56", 123456), ("-£3.00", -300), (" 0.01 ", 1)])
def test_money_forms(text, pence):
    assert parse_pence(text) == pence


@pytest.mark.parametrize("text", ["£1,234.5O", "1.234", "12,50", "abc", "1e3", "--1", "£"])
def test_not_money(text):
    with pytest.raises(MoneyError):
        parse_pence(text)


def test_rounding_is_half_up_to_the_penny():
    assert round_half_up_pence(Decimal("2.5")) == 3 and round_half_up_pence(Decimal("-2.5")) == -3
    assert round_half_up_pence(Decimal("2.4999")) == 2
    assert pct_of(20055, 10) == 2006  # 2005.5p -> 2006p, not banker's 2006/2005
    assert pct_of(12345, "10") == 1235
    assert pro_rata(120000, 61, 365) == 20055


@pytest.mark.parametrize("text,expect", [("2025-04-05", date(2025, 4, 5)), ("05/04/2025", date(2025, 4, 5)),
                                         ("05 Apr 2025", date(2025, 4, 5)), ("28-Mar-2020", date(2020, 3, 28)),
                                         ("04/05/2025", date(2025, 5, 4)), ("2025-04-05T13:00:00", date(2025, 4, 5))])
def test_day_first_dates(text, expect):
    assert parse_date(text) == expect


@pytest.mark.parametrize("text", ["31/02/2025", "2025-13-01", "13/13/2025", "Pending", "02/30/2025"])
def test_impossible_dates_rejected(text):
    with pytest.raises(DateError):
        parse_date(text)


def test_blank_is_not_bad():
    d, bad = parse_dates_series(pd.Series(["", None, "01/01/2025"]))
    assert bad.tolist() == [False, False, False] and d.isna().tolist() == [True, True, False]


def test_periods_and_financial_year():
    assert parse_period("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert previous_period("2026-01") == "2025-12"
    assert financial_year_of(date(2026, 3, 31)) == 2025 and financial_year_of(date(2025, 4, 1)) == 2025
    assert fy_periods(2025)[0] == "2025-04" and fy_periods(2025)[-1] == "2026-03"
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert age_on(date(2009, 3, 1), date(2025, 2, 28)) == 15 and age_on(date(2009, 3, 1), date(2025, 3, 1)) == 16
    with pytest.raises(DateError):
        parse_period("2026-1")


# ---- parsing each distinct value once gives what parsing every row gives -------------------------

_MONEY_TEXT = st.sampled_from(["12.50", "£1,234.56", "(3.00)", "x", "", "  7 ", "12,50", "-0.01", "1.5CR", "9.999",
                               "2 DR", "+£4.00", "1,2,3"])
_DATE_TEXT = st.sampled_from(["01/02/2025", "2025-02-31", "31/02/2025", "", "x", "5 Apr 2025", "2025-04-05 13:00",
                              "05-04-25", "20250405", "04/05/2025"])


@settings(max_examples=25, deadline=None)
@given(money=st.lists(st.one_of(st.none(), _MONEY_TEXT), min_size=1, max_size=40),
       dates=st.lists(st.one_of(st.none(), _DATE_TEXT), min_size=1, max_size=40),
       extra=st.integers(0, 30), as_string=st.booleans())
def test_distinct_value_parsing_equals_row_by_row(money, dates, extra, as_string):
    from dpaudit.core.dates import DATE_FORMATS, _parse_dates
    from dpaudit.core.distinct import MIN_ROWS
    from dpaudit.core.money import _parse_vectorised

    dtype = "string" if as_string else object
    m = pd.Series(money * (MIN_ROWS // len(money) + 1) + money[:extra], dtype=dtype)  # long enough to factorise
    m.index = m.index + 7  # a non-default index must survive
    d = pd.Series(dates * (MIN_ROWS // len(dates) + 1), dtype=dtype)
    for got, want in ((parse_pence_series(m), _parse_vectorised(m)), (parse_dates_series(d), _parse_dates(d, DATE_FORMATS))):
        pd.testing.assert_series_equal(got[0], want[0])
        pd.testing.assert_series_equal(got[1], want[1])
    assert len(m) >= MIN_ROWS and len(d) >= MIN_ROWS


def test_dates_outside_the_nanosecond_range_are_bad_not_a_crash():
    """A typo such as 2925 or a year like 1500 is a bad date (the row is quarantined), never an
    OutOfBoundsDatetime that stops the run."""
    d, bad = parse_dates_series(pd.Series(["1500-01-01", "2925-04-01", "01/04/2025", "", "05/04/2262", "12/04/2262"]))
    assert list(bad) == [True, True, False, False, False, True]
    assert d.dtype == "datetime64[ns]" and d.iloc[2] == pd.Timestamp("2025-04-01") and d.iloc[4] == pd.Timestamp("2262-04-05")
    assert d.iloc[[0, 1, 3, 5]].isna().all()
