"""Parse each distinct text of a column once.

A month's evidence repeats the same dates (thirty or so) and many of the same amounts across
tens of thousands of rows; the pandas string pipelines that parse them cost per row.  ``per_distinct``
runs a column parser on the distinct values only (``pandas.factorize``, a hash in C) and spreads the
result back, so the parser's rules stay in one place and the cost follows the distinct values.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

# below this many rows, or when most values are distinct, factorising costs more than it saves
MIN_ROWS = 2048
MAX_DISTINCT_SHARE = 0.5


class Distinct:
    """A column factorised once (its distinct values and where each row's value is), so that
    several parsers or tests can each run on the distinct values only."""

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
        self.index = values.index
        self.n_distinct = len(uniques)
        self.values = pd.Series(list(uniques) + [None], dtype=object)  # the last one stands for blank (NA)
        self._take = np.where(codes < 0, len(uniques), codes)

    def apply(self, fn: Callable[[pd.Series], Any]) -> Any:
        """``fn`` on the distinct values, spread back to the rows (Series or tuple of Series)."""
        out = fn(self.values)

        def spread(s: pd.Series) -> pd.Series:
            return pd.Series(s.array.take(self._take), index=self.index, dtype=s.dtype)

        return tuple(spread(s) for s in out) if isinstance(out, tuple) else spread(out)


def per_distinct(values: pd.Series, fn: Callable[[pd.Series], Any]) -> Any:
    """``fn(values)`` computed on the distinct values only.  ``fn`` maps a column to a Series of
    the same length or a tuple of them (e.g. ``(parsed, bad)``); the result has the same shape,
    index and dtypes as ``fn(values)`` would."""
    if len(values) < MIN_ROWS:
        return fn(values)
    d = Distinct(values)
    if d.n_distinct > MAX_DISTINCT_SHARE * len(values):
        return fn(values)
    return d.apply(fn)
