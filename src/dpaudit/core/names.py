"""Payee name normalisation and fuzzy matching (rapidfuzz), shared by categorise and match.

Two forms of a name: :func:`normalise_name` (lower case, punctuation, legal suffixes, bank noise,
card-scheme and channel words, "ON 11 NOV" tails dropped, abbreviations written out: the form
employees and payees are compared in) and :func:`merchant_name` (that, without town names: the
form a receipt's supplier and a bank descriptor are compared in, "VUE CINEMAS MANCHESTER GB" ->
"vue cinemas").  The word lists come from the policy's ``[names]`` table (:class:`NameRules`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd
from rapidfuzz import fuzz, process, utils

_LEGAL = re.compile(r"\b(ltd|limited|plc|llp|inc|t/a)\b")
_NOISE = re.compile(r"\b(ref|fp|bp|so|dd|bgc|pos|card|ending|\d{4,})\b")
_COMPANY = re.compile(r"\b(ltd|limited|plc|llp|services|care|agency|club|centre|center|council|trust|school|store|stores|"
                      r"shop|group|solutions|solns|co|company|hmrc|bank|insurance|taxi|cabs|travel|leisure|payroll)\b", re.I)


# a card payment's date tail: "ON 11 NOV", "11NOV", "ON 11/11"
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE_TAIL = re.compile(rf"\b(?:on\s+)?\d{{1,2}}\s*(?:{_MONTHS})\b(?:\s+\d{{2,4}}\b)?|\bon\s+\d{{1,2}}\s+\d{{1,2}}\b")


def _phrases(words) -> re.Pattern | None:
    words = sorted({" ".join(utils.default_process(str(w)).split()) for w in words} - {""}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b") if words else None


@dataclass(frozen=True)
class NameRules:
    """The policy's ``[names]`` word lists, compiled once."""

    drop: re.Pattern | None
    places: re.Pattern | None
    abbreviations: tuple[tuple[str, str], ...]

    @classmethod
    def from_raw(cls, names: dict) -> "NameRules":
        return _rules(tuple(names.get("drop_words", ())), tuple(names.get("drop_places", ())),
                      tuple(sorted(names.get("abbreviations", {}).items())))


@lru_cache(maxsize=8)
def _rules(drop: tuple, places: tuple, abbreviations: tuple) -> NameRules:
    return NameRules(_phrases(drop), _phrases(places), abbreviations)


NO_RULES = NameRules(None, None, ())


def _is_missing(s: object) -> bool:
    return s is None or s is pd.NA or (isinstance(s, float) and pd.isna(s))


def normalise_name(s: object, rules: NameRules = NO_RULES) -> str:
    """Lower case, punctuation removed, legal suffixes and bank noise (refs, card numbers, date
    tails, the policy's card-scheme and channel words) dropped, abbreviations written out."""
    if _is_missing(s):
        return ""
    t = utils.default_process(str(s))
    t = _DATE_TAIL.sub(" ", t)
    t = _LEGAL.sub(" ", t)
    t = _NOISE.sub(" ", t)
    if rules.drop is not None:
        t = rules.drop.sub(" ", t)
    words = t.split()
    if rules.abbreviations:
        full = dict(rules.abbreviations)
        words = [full.get(w, w) for w in words]
    return " ".join(" ".join(words).split())


def merchant_name(norm: str, rules: NameRules = NO_RULES) -> str:
    """A normalised name without the town of the branch or terminal ("vue cinemas manchester" ->
    "vue cinemas"), unless nothing else would be left."""
    if not norm or rules.places is None:
        return norm
    t = " ".join(rules.places.sub(" ", norm).split())
    return t or norm


def initial_form(norm: str) -> str | None:
    """A person's name as banks print a payee: the first name as an initial ("priya kaur" ->
    "p kaur"); None when ``norm`` is no person's name of two or more words."""
    words = norm.split()
    if len(words) < 2 or len(words[0]) < 2 or not looks_like_person(norm):
        return None
    return " ".join([words[0][0]] + words[1:])


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
