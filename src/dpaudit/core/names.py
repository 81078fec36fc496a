"""Payee name normalisation and fuzzy matching (rapidfuzz), shared by categorise and match."""
from __future__ import annotations

import re

import pandas as pd
from rapidfuzz import fuzz, process, utils

_LEGAL = re.compile(r"\b(ltd|limited|plc|llp|inc|t/a)\b")
_NOISE = re.compile(r"\b(ref|fp|bp|so|dd|bgc|pos|card|ending|\d{4,})\b")
_COMPANY = re.compile(r"\b(ltd|limited|plc|llp|services|care|agency|club|centre|center|council|trust|school|store|stores|"
                      r"shop|group|solutions|solns|co|company|hmrc|bank|insurance|taxi|cabs|travel|leisure|payroll)\b", re.I)


def normalise_name(s: object) -> str:
    """Lower case, punctuation removed, legal suffixes and bank noise (refs, card numbers) dropped."""
    if s is None or (isinstance(s, float) and pd.isna(s)) or s is pd.NA:
        return ""
    t = utils.default_process(str(s))
    t = _LEGAL.sub(" ", t)
    t = _NOISE.sub(" ", t)
    return " ".join(t.split())


def similarity(a: str, b: str) -> float:
    """0-100 similarity of two normalised names (token set ratio: word order and extra words tolerated)."""
    if not a or not b:
        return 0.0
    return float(fuzz.token_set_ratio(a, b))


def pair_scores(left: pd.Series, right: pd.Series) -> pd.Series:
    """Element-wise similarity of two aligned series of normalised names (vectorised in C)."""
    if len(left) == 0:
        return pd.Series([], dtype="float64", index=left.index)
    scores = process.cpdist(left.fillna("").tolist(), right.fillna("").tolist(), scorer=fuzz.token_set_ratio, workers=1)
    return pd.Series(scores, index=left.index, dtype="float64")


def pairs_scoring(pairs: pd.DataFrame, left: str, right: str, threshold: float) -> pd.DataFrame:
    """The rows of ``pairs`` whose names ``left`` and ``right`` score at least ``threshold``, with a
    ``score`` column (identical names score 100, even when both are blank)."""
    scores = pair_scores(pairs[left], pairs[right])
    scores[pairs[left] == pairs[right]] = 100.0
    return pairs.assign(score=scores)[lambda f: f["score"] >= threshold]


def looks_like_person(name: str) -> bool:
    """Two to four alphabetic words and no company words: 'J SMITH', 'Mary Jones'."""
    if not name:
        return False
    if _COMPANY.search(name):
        return False
    words = [w for w in re.split(r"[\s.]+", name) if w]
    return 2 <= len(words) <= 4 and all(w.isalpha() for w in words)
