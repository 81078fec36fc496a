"""UK bank CSV/XLSX exports → :class:`ParsedStatement`, driven by bank profiles kept as data.

A *profile* (a TOML file, see ``docs/profiles.md``) says how one bank's export looks: the header
that identifies it, how many preamble lines may precede the header, which encodings and date
formats it uses, whether money is one signed column or paid-in/paid-out columns, and where the
balance, description, payee, type, sort code and account number are.  Built-in profiles live
in ``dpaudit/resources/profiles``; a council adds or replaces one by dropping a file into
``<data>/profiles/`` (same ``name`` replaces the built-in).

Exactly one profile may claim a file: none is an error naming the header seen, two is an error
naming both.  Parsing is vectorised with pandas (``money.parse_pence_series``,
``dates.parse_dates_series``); every row that cannot be read is returned as a reject, never
dropped silently.
"""
from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from dpaudit.core.dates import DATE_FORMATS, parse_dates_series
from dpaudit.core.mask import account_digits_series, mask_value
from dpaudit.core.money import parse_pence_series
from dpaudit.ingest.readers.statement import ParsedStatement, Reject, conform_transactions, empty_transactions
from dpaudit.ingest.readers.tabular import (DEFAULT_MAX_BYTES, DEFAULT_MAX_RATIO, DEFAULT_MAX_UNCOMPRESSED, UnreadableFile, check_size,
                      decode_bytes, read_csv_text, xlsx_rows)

__all__ = ["Profile", "ProfileError", "load_profiles", "parse_profile", "detect_profile", "read_bank_table",
           "read_bank_tables"]

ROLES = ("date", "description", "payee", "type", "amount", "paid_in", "paid_out", "balance", "sort_code",
         "account_number", "account_with_sort_code", "currency", "mcc", "fee", "credit_flag", "status", "reference",
         "card_last4")
_TOP_KEYS = {"name", "bank", "notes", "currency", "encodings", "header", "columns", "dates", "amounts", "preamble",
             "footer", "exclude", "status"}
# Prepaid-card exports (a profile with a ``status`` column): what each status word means.  Only
# settled rows, and authorised rows with no settled row of the same reference in the file, moved
# money; declined and reversed rows never did (docs/profiles.md "Prepaid-card exports").
CARD_STATUSES = ("settled", "authorised", "declined", "reversed")
DEFAULT_CARD_STATUS = {"settled": ("settled",), "authorised": ("authorised", "authorized"),
                       "declined": ("declined",), "reversed": ("reversed",)}
# why a card row is not a transaction (the keys of ParsedStatement.not_counted)
NOT_COUNTED = {"declined": "declined", "reversed": "reversed", "superseded": "authorised_then_settled"}
_TIME_SUFFIX = re.compile(r"\s*[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([+-]\d{2}:?\d{2}|Z|UTC|GMT)?$", re.IGNORECASE)
_SCAN_ROWS = 30


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file and key."""


def _norm(s: object) -> str:
    return re.sub(r"\s+", " ", str(s or "").replace("\ufeff", "")).strip().lower()


@functools.lru_cache(maxsize=1024)
def _header_names(cells: tuple[str, ...]) -> frozenset[str]:
    """The normalised, non-blank cells of a row (a month's exports share a few headers)."""
    return frozenset(c for c in (_norm(x) for x in cells) if c)


@dataclass(frozen=True)
class Profile:
    """One bank export layout (see ``docs/profiles.md`` for every key)."""

    name: str
    bank: str
    source: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    extra_columns: bool = False
    headerless: bool = False
    max_preamble_rows: int = 0
    encodings: tuple[str, ...] = ("utf-8", "cp1252")
    date_formats: tuple[str, ...] = DATE_FORMATS
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    amount_sign: str = "signed"
    credit_flag_values: tuple[str, ...] = ("cr",)
    currency: str = "GBP"
    preamble: dict[str, tuple[str, str]] = field(default_factory=dict)
    stop_at_blank_line: bool = False
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # a prepaid-card profile: status class -> the (lower-case) words of the export meaning it
    card_status: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_card(self) -> bool:
        """A prepaid-card export: rows carry a status, and only some of them moved money."""
        return "status" in self.columns

    def col(self, role: str) -> str | None:
        cols = self.columns.get(role)
        return cols[0] if cols else None

    def claims(self, cells: list[str]) -> bool:
        """Does this (headed) profile recognise a row of header cells?"""
        names = _header_names(tuple(cells))
        if not set(self.required) <= names:
            return False
        return self.extra_columns or names <= set(self.required) | set(self.optional)


def parse_profile(data: dict, source: str) -> Profile:
    """Validate a profile's TOML tree and build a :class:`Profile`; errors name the file and key."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ProfileError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; see docs/profiles.md")
    for need in ("name", "header", "columns"):
        if need not in data:
            raise ProfileError(f"{source}: missing '{need}'")
    name = str(data["name"]).strip()
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ProfileError(f"{source}: name {name!r} must be lower-case letters, digits and _")
    header = data["header"]
    headerless = bool(header.get("headerless", False))
    required = tuple(_norm(c) for c in header.get("columns", []))
    optional = tuple(_norm(c) for c in header.get("optional", []))
    if not required:
        raise ProfileError(f"{source}: header.columns must list the columns that identify the export")
    columns: dict[str, tuple[str, ...]] = {}
    for role, value in data["columns"].items():
        if role not in ROLES:
            raise ProfileError(f"{source}: columns.{role} is not a known role; use one of {', '.join(ROLES)}")
        vals = (value,) if isinstance(value, str) else tuple(value)
        vals = tuple(_norm(v) for v in vals)
        for v in vals:
            if v not in required and v not in optional:
                raise ProfileError(f"{source}: columns.{role} = {v!r} is not in header.columns or header.optional")
        columns[role] = vals
    if "date" not in columns:
        raise ProfileError(f"{source}: columns.date is required")
    if "amount" not in columns and not ("paid_in" in columns and "paid_out" in columns):
        raise ProfileError(f"{source}: give columns.amount, or both columns.paid_in and columns.paid_out")
    formats = tuple(data.get("dates", {}).get("formats", DATE_FORMATS))
    for fmt in formats:
        if "%m" in fmt and "%d" in fmt and fmt.index("%m") < fmt.index("%d") and not fmt.startswith("%Y"):
            raise ProfileError(f"{source}: date format {fmt!r} puts the month before the day; UK dates are day first")
    amounts = data.get("amounts", {})
    sign = amounts.get("sign", "signed")
    if sign not in ("signed", "debit_positive"):
        raise ProfileError(f"{source}: amounts.sign must be 'signed' or 'debit_positive', not {sign!r}")
    preamble = {}
    for role, spec in data.get("preamble", {}).items():
        if role not in ("account_number", "sort_code", "account_with_sort_code"):
            raise ProfileError(f"{source}: preamble.{role}: only account_number, sort_code, account_with_sort_code")
        label = _norm(spec.get("label", ""))
        pattern = spec.get("pattern", r"(.+)")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ProfileError(f"{source}: preamble.{role}.pattern is not a regular expression: {exc}") from exc
        preamble[role] = (label, pattern)
    card_status: dict[str, tuple[str, ...]] = {}
    if "status" in columns:
        given = data.get("status", {})
        unknown_st = set(given) - set(CARD_STATUSES)
        if unknown_st:
            raise ProfileError(f"{source}: status.{sorted(unknown_st)[0]} is not a card status; use "
                               f"{', '.join(CARD_STATUSES)}")
        card_status = {c: tuple(_norm(v) for v in given.get(c, DEFAULT_CARD_STATUS[c])) for c in CARD_STATUSES}
        words = [w for ws in card_status.values() for w in ws]
        if len(words) != len(set(words)):
            raise ProfileError(f"{source}: a status word is listed under two statuses")
        if "amount" not in columns:
            raise ProfileError(f"{source}: a card export (columns.status) needs columns.amount (signed)")
    elif "status" in data:
        raise ProfileError(f"{source}: [status] needs columns.status (the column holding each row's status)")
    if "card_last4" in columns and ({"account_number", "account_with_sort_code", "sort_code"} & set(columns)):
        raise ProfileError(f"{source}: columns.card_last4 names the account of a card export; do not also give "
                           f"sort_code / account_number")
    encodings = tuple(str(e).lower() for e in data.get("encodings", ["utf-8", "cp1252"]))
    for e in encodings:
        if e not in ("utf-8", "cp1252"):
            raise ProfileError(f"{source}: encodings may be 'utf-8' and/or 'cp1252', not {e!r}")
    return Profile(
        name=name, bank=str(data.get("bank", name)), source=source, required=required, optional=optional,
        extra_columns=bool(header.get("extra_columns", False)), headerless=headerless,
        max_preamble_rows=int(header.get("max_preamble_rows", 0)), encodings=encodings, date_formats=formats,
        columns=columns, amount_sign=sign,
        credit_flag_values=tuple(_norm(v) for v in amounts.get("credit_flag_values", ["CR"])),
        currency=str(data.get("currency", "GBP")).upper(), preamble=preamble,
        stop_at_blank_line=bool(data.get("footer", {}).get("stop_at_blank_line", False)),
        exclude={_norm(k): tuple(_norm(v) for v in vs) for k, vs in data.get("exclude", {}).items()},
        card_status=card_status,
    )


def _load_file(path: Path | str, text: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    return parse_profile(data, str(path))


def load_profiles(data_dir: Path | None = None) -> list[Profile]:
    """Built-in profiles plus ``<data_dir>/profiles/*.toml`` (a same-named file replaces a built-in)."""
    out: dict[str, Profile] = {}
    root = resources.files("dpaudit.resources").joinpath("profiles")
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            p = _load_file(f"resources/profiles/{entry.name}", entry.read_text(encoding="utf-8"))
            out[p.name] = p
    if data_dir is not None:
        local = Path(data_dir) / "profiles"
        if local.is_dir():
            for f in sorted(local.glob("*.toml")):
                p = _load_file(f, f.read_text(encoding="utf-8"))
                out[p.name] = p
    return list(out.values())


# ---- detection ------------------------------------------------------------------------------------

def _headerless_claims(p: Profile, row: list[str]) -> bool:
    cells = list(row)
    while cells and not cells[-1].strip():
        cells.pop()
    if len(cells) != len(p.required):
        return False
    pos = {c: i for i, c in enumerate(p.required)}
    d_ok = ~parse_dates_series(pd.Series([cells[pos[p.col("date")]]]), p.date_formats)[1].iloc[0]
    amt_col = p.col("amount") or p.col("paid_out")
    pence, bad = parse_pence_series(pd.Series([cells[pos[amt_col]]]))
    date_val = cells[pos[p.col("date")]].strip()
    return bool(d_ok) and bool(date_val) and not bad.iloc[0] and not pd.isna(pence.iloc[0])


def _first_data_row(rows: list[list[str]]) -> int | None:
    for i, r in enumerate(rows):
        if any(c.strip() for c in r):
            return i
    return None


def _header_seen(rows: list[list[str]]) -> str:
    """The row that looks most like a header (most non-blank cells that are neither dates nor money)."""
    best, best_n = None, 0
    for r in rows[:_SCAN_ROWS]:
        cells = [c.strip() for c in r if c.strip()]
        if not cells:
            continue
        s = pd.Series(cells)
        dates_bad = parse_dates_series(s)[1]
        money = parse_pence_series(s)[0]
        if (~dates_bad & s.ne("")).sum() or money.notna().sum():
            continue
        if len(cells) > best_n:
            best, best_n = cells, len(cells)
    if best is None:
        first = _first_data_row(rows)
        best = [c.strip() for c in rows[first]] if first is not None else []
    return mask_value(", ".join(best), "header")[:200]


def detect_profile(rows: list[list[str]], profiles: list[Profile], name: str) -> tuple[Profile, int]:
    """The one profile that claims these rows and the index of its header row (-1: headerless)."""
    claims: list[tuple[Profile, int]] = []
    first = _first_data_row(rows)
    if first is None:
        raise UnreadableFile(f"{name} has no rows")
    for p in profiles:
        if p.headerless:
            if _headerless_claims(p, rows[first]):
                claims.append((p, first - 1))
            continue
        for i, r in enumerate(rows[: p.max_preamble_rows + 1 + first]):
            if p.claims(r):
                claims.append((p, i))
                break
    if not claims:
        raise UnreadableFile(
            f"{name}: no bank profile matches this layout; the header seen was [{_header_seen(rows)}]. "
            f"Export the statement as OFX or in the canonical layout (date, description, amount, balance, type, "
            f"reference, sort_code, account_number), or add a bank profile to <data>/profiles (docs/profiles.md).")
    if len(claims) > 1:
        names = " and ".join(f"'{p.name}' ({p.source})" for p, _ in claims)
        raise UnreadableFile(f"{name} is claimed by two bank profiles, {names}; make one of them stricter "
                             f"(header.columns / header.optional) so exactly one matches")
    return claims[0]


# ---- parsing ------------------------------------------------------------------------------------

_SIMPLE_MONEY = r"[+-]?\d{1,13}(?:\.\d{2})?"


def _money(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Pence from money text: plain values (``-12.50``, ``1200``) take a short exact path; anything
    else (``£1,234.56``, ``12.50 CR``, ``(3.00)``, bad text) goes through ``money.parse_pence_series``."""
    s = raw.astype(object).where(raw.notna(), "")
    blank = s.eq("")
    simple = s.str.fullmatch(_SIMPLE_MONEY).fillna(False).astype(bool)
    pence = pd.Series(pd.NA, index=s.index, dtype="Int64")
    bad = pd.Series(False, index=s.index)
    if simple.any():
        v = s[simple]
        whole = pd.to_numeric(v.str.replace(".", "", regex=False)).astype("int64")
        pence[simple] = whole.where(v.str.contains(".", regex=False), whole * 100)
    rest = ~simple & ~blank
    if rest.any():
        p2, b2 = parse_pence_series(raw[rest])
        pence[rest] = p2
        bad[rest] = b2
    return pence, bad.astype(bool)


def _split_combined(value: str) -> tuple[str, str]:
    """``20-29-41 40261467`` / ``'202941-40261467`` / ``2029414026146`` → (sort code, account)."""
    v = str(value or "").strip().lstrip("'")
    d = re.sub(r"[^\d*]", "", v)
    if len(d) >= 12 and "*" not in d[:6]:
        return d[:6], d[6:]
    parts = [re.sub(r"[^\d*]", "", x) for x in re.split(r"\s+", v) if x]
    if len(parts) >= 2 and len(parts[0]) == 6:
        return parts[0], "".join(parts[1:])
    return "", d


def _preamble_values(p: Profile, rows: list[list[str]]) -> dict[str, str]:
    out = {}
    for role, (label, pattern) in p.preamble.items():
        for r in rows:
            cells = [c.strip() for c in r]
            if cells and _norm(cells[0]).rstrip(":") == label.rstrip(":"):
                text = " ".join(c for c in cells[1:] if c)
                m = re.search(pattern, text)
                if m:
                    out[role] = (m.group(1) if m.groups() else m.group(0)).strip()
                break
    return out


def _majority_by_file(values: pd.Series, files: pd.Series) -> dict[int, str]:
    """Per file, the most frequent non-blank value (ties: the smallest, as ``Series.mode`` gives)."""
    v = values.fillna("")
    keep = v.ne("")
    if not keep.any():
        return {}
    n = pd.DataFrame({"f": files[keep].to_numpy(), "v": v[keep].astype(object).to_numpy()}).value_counts()
    top = n.rename("n").reset_index().sort_values(["f", "n", "v"], ascending=[True, False, True], kind="stable")
    return dict(top.drop_duplicates("f")[["f", "v"]].itertuples(index=False, name=None))


def _mcc(raw: pd.Series) -> pd.Series:
    """Merchant category codes: 4 digits; 1-3 digits are a code whose leading zeros a spreadsheet
    dropped (``742`` is ``0742``); anything else is no code."""
    m = raw.astype("string").str.strip()
    m = m.where(~m.str.fullmatch(r"\d{1,3}").fillna(False), m.str.zfill(4))
    return m.where(m.str.fullmatch(r"\d{4}").fillna(False))


def _all_by_file(values: pd.Series, files: pd.Series) -> dict[int, str]:
    """Per file, every distinct non-blank value, sorted and joined with ``|`` (one value: itself)."""
    v = values.fillna("")
    keep = v.ne("")
    if not keep.any():
        return {}
    d = pd.DataFrame({"f": files[keep].to_numpy(), "v": v[keep].astype(object).to_numpy()}).drop_duplicates()
    return {int(f): "|".join(sorted(g)) for f, g in d.groupby("f")["v"]}


def card_accounts(raw: pd.Series) -> pd.Series:
    """A card-number cell (``1234``, ``************1234``, ``XXXX XXXX XXXX 1234``, Excel's ``123``
    for ``0123``) as the masked account of the card, ``****1234``; blank stays blank."""
    digits = account_digits_series(raw.astype("string"))
    last4 = digits.str[-4:].str.zfill(4).where(digits.ne(""), "")
    return ("****" + last4).where(last4.ne(""), "").astype("string")


def _card_money_moved(frame: pd.DataFrame, p: Profile, fmt: str):
    """Split a card export's rows into money moved and not (defs "Prepaid-card statements").

    Money moved: ``settled`` rows, and ``authorised`` rows with no ``settled`` row of the same
    reference in the same file (a blank reference pairs with nothing).  ``declined`` and
    ``reversed`` rows, and authorised rows whose settlement is in the file, are not transactions:
    they are counted per file and reason (``ParsedStatement.not_counted``), not rejected.  A status
    the profile does not know is a rejected row.  Returns the money-moved rows, the rejects, the
    counts and the (first, last) date of the rows set aside per file."""
    raw = frame[p.col("status")].fillna("").astype(str).str.strip()
    word = raw.str.lower().str.replace(r"\s+", " ", regex=True)
    cls = pd.Series("", index=frame.index, dtype=object)
    for c, words in p.card_status.items():
        cls = cls.mask(word.isin(words), c)
    unknown = cls.eq("")
    known = ", ".join(w for c in CARD_STATUSES for w in p.card_status[c])
    rejects = _reject_rows(frame, unknown, p.col("status"), raw,
                           f"not a card transaction status (one of {known}); the row is not counted")
    if "reference" in p.columns and p.col("reference") in frame:
        ref = frame[p.col("reference")].fillna("").astype(str).str.strip().str.upper()
    else:
        ref = pd.Series("", index=frame.index, dtype=object)
    key = frame["_file"].astype(str) + "|" + ref
    settled_keys = key[cls.eq("settled") & ref.ne("")]
    superseded = cls.eq("authorised") & ref.ne("") & key.isin(settled_keys)
    why = pd.Series("", index=frame.index, dtype=object)
    why = why.mask(cls.eq("declined"), NOT_COUNTED["declined"]).mask(cls.eq("reversed"), NOT_COUNTED["reversed"])
    why = why.mask(superseded, NOT_COUNTED["superseded"])
    aside = why.ne("")
    counts: dict[int, dict[str, int]] = {}
    dates_aside: dict[int, tuple[pd.Timestamp, pd.Timestamp]] = {}
    if aside.any():
        n = pd.DataFrame({"f": frame.loc[aside, "_file"].to_numpy(), "w": why[aside].to_numpy()}).value_counts()
        for (f, w), c in sorted(n.items()):
            counts.setdefault(int(f), {})[str(w)] = int(c)
        d_raw = frame.loc[aside, p.col("date")].fillna("").astype(str).str.replace(_TIME_SUFFIX, "", regex=True)
        d, _bad = parse_dates_series(d_raw, p.date_formats + (("%Y-%m-%d",) if fmt == "xlsx" else ()))
        span = pd.DataFrame({"f": frame.loc[aside, "_file"].to_numpy(), "d": d.to_numpy()}).dropna()
        if len(span):
            g = span.groupby("f")["d"].agg(["min", "max"])
            dates_aside = {int(f): (r["min"], r["max"]) for f, r in g.iterrows()}
    return frame[~aside & ~unknown], rejects, counts, dates_aside


def _chain_backward(amount: pd.Series, balance: pd.Series, files: pd.Series) -> pd.Series:
    """Per file: True when the balances run newest first (each balance = next one + its amount)
    more often than oldest first (each balance = previous one + this amount)."""
    a = amount.astype("Int64").reset_index(drop=True)
    b = balance.astype("Int64").reset_index(drop=True)
    f = pd.Series(files.to_numpy()).reset_index(drop=True)
    b_prev = b.groupby(f).shift(1)
    a_prev = a.groupby(f).shift(1)
    fwd = (b == b_prev + a).fillna(False).astype(int).groupby(f).sum()
    bwd = (b_prev == b + a_prev).fillna(False).astype(int).groupby(f).sum()
    return bwd > fwd


def _build_rows(rows: list[list[str]], start: int, named: int, full: int, stop_at_blank: bool,
                first_row_number: int) -> tuple[list[list[str]], list[int], list[Reject]]:
    """Data rows padded to ``full`` cells; rows with fewer than ``named`` or more than ``full``
    non-trailing-blank cells are rejects (a shifted row would put money in the wrong column)."""
    body, numbers, rejects = [], [], []
    seen_data = False
    for i in range(start, len(rows)):
        r = rows[i]
        if not any(c.strip() for c in r):
            if stop_at_blank and seen_data:
                break
            continue
        seen_data = True
        n = i + first_row_number
        # trimmed, without Excel's leading "keep as text" apostrophe (NatWest, Lloyds)
        cells = [c.strip().removeprefix("'") for c in r]
        while len(cells) > named and not cells[-1].strip():
            cells.pop()
        if len(cells) > full or len(cells) < named:
            rejects.append((n, "(row)", ",".join(r)[:200],
                            f"the row has {len(cells)} fields but the header has {named if len(cells) < named else full}"))
            continue
        body.append(cells + [""] * (full - len(cells)))
        numbers.append(n)
    return body, numbers, rejects


def _reject_rows(frame: pd.DataFrame, mask: pd.Series, column: str, raw: pd.Series,
                 reason: str) -> list[tuple[int, Reject]]:
    """(file, reject) for every row of ``frame`` where ``mask`` holds."""
    hit = frame.index[mask.to_numpy()]
    return [(int(frame.at[i, "_file"]), (int(frame.at[i, "_row"]), column,
                                          str(raw.at[i]) if not pd.isna(raw.at[i]) else "", reason)) for i in hit]


@dataclass
class _Scanned:
    """One export after the per-file work: its profile and data rows as text, not yet parsed."""

    name: str
    fmt: str
    encoding: str
    profile: Profile
    names: tuple[str, ...]
    body: list[list[str]]
    numbers: list[int]
    rejects: list[Reject]
    formula_rows: dict[int, str]
    preamble: dict[str, str]


def _scan(path: Path, profiles: list[Profile], max_bytes: int, max_uncompressed: int, max_ratio: int) -> _Scanned:
    """The per-file part of reading an export: size, decoding, rows, the one profile that claims it."""
    check_size(path, max_bytes)
    suffix = path.suffix.lower()
    formula_rows: dict[int, str] = {}
    if suffix == ".xlsx":
        rows, _sheet, formulas = xlsx_rows(path, max_uncompressed=max_uncompressed, max_ratio=max_ratio)
        encoding, fmt = "utf-8", "xlsx"
        formula_rows = {r: f for r, _c, f in formulas}
    elif suffix == ".csv":
        text, encoding = decode_bytes(path.read_bytes())
        rows = read_csv_text(text)
        fmt = "csv"
    else:
        raise UnreadableFile(f"{path.name}: files of type '{suffix}' are not bank statements; send OFX, CSV or XLSX")
    if not rows:
        raise UnreadableFile(f"{path.name} is empty")
    p, h = detect_profile(rows, profiles, path.name)
    if encoding not in p.encodings:
        raise UnreadableFile(f"{path.name} is {encoding} text but the {p.bank} profile expects "
                             f"{' or '.join(p.encodings)}; export it again")
    if p.currency != "GBP":
        raise UnreadableFile(f"{path.name} is a {p.bank} export in {p.currency}; DP accounts are in GBP")
    header = [_norm(c) for c in (p.required if p.headerless else rows[h])]
    named = max((i + 1 for i, c in enumerate(header) if c), default=0)
    full = max(len(header), named)
    body, numbers, rejects = _build_rows(rows, h + 1, named, full, p.stop_at_blank_line, 1)
    names = tuple(c if c else f"_blank{i}" for i, c in enumerate(header[:full]))
    return _Scanned(name=path.name, fmt=fmt, encoding=encoding, profile=p, names=names, body=body, numbers=numbers,
                    rejects=rejects, formula_rows=formula_rows, preamble=_preamble_values(p, rows[: max(h, 0)]))


def _parse_group(group: list[_Scanned]) -> list[ParsedStatement | UnreadableFile]:
    """Parse the rows of many exports of one layout (same profile, columns and format) together:
    one pass of vectorised date, money and account parsing instead of one per file.  Every per-file
    decision (its account, balance order, opening and closing balance, refusal) is taken per file."""
    first = group[0]
    p, names, fmt = first.profile, list(first.names), first.fmt
    body = [row for s in group for row in s.body]
    frame = pd.DataFrame(body, columns=names, dtype=object) if body else pd.DataFrame(columns=names, dtype=object)
    frame = frame.loc[:, ~pd.Index(names).duplicated()]
    frame["_row"] = [n for s in group for n in s.numbers]
    frame["_file"] = np.repeat(np.arange(len(group)), [len(s.body) for s in group])
    rejects: list[tuple[int, Reject]] = [(k, r) for k, s in enumerate(group) for r in s.rejects]
    failed: dict[int, UnreadableFile] = {}
    if any(s.formula_rows for s in group):
        keys = {(k, r) for k, s in enumerate(group) for r in s.formula_rows}
        f_mask = pd.Series([(int(f), int(r)) in keys for f, r in zip(frame["_file"], frame["_row"])], index=frame.index,
                           dtype=bool)
        rejects += [(int(f), (int(r), "(formula)", group[int(f)].formula_rows[int(r)], "the cell holds a formula, not a "
                     "value; export the statement again as values")) for f, r in zip(frame.loc[f_mask, "_file"],
                                                                                     frame.loc[f_mask, "_row"])]
        frame = frame[~f_mask]
    for col, values in p.exclude.items():
        if col in frame:
            hit = frame[col].fillna("").str.strip().str.lower().isin(values)
            rejects += _reject_rows(frame, hit, col, frame[col], f"the bank's '{col}' column says this transaction did "
                                    f"not complete, so it is not counted")
            frame = frame[~hit]
    if "currency" in p.columns and p.col("currency") in frame:  # an optional column may be absent
        cur = frame[p.col("currency")].fillna("").str.strip().str.upper()
        non_gbp = cur.ne("") & cur.ne("GBP")
        all_foreign = non_gbp.groupby(frame["_file"]).all()
        for k in all_foreign.index[all_foreign.to_numpy()]:
            found = sorted(set(cur[frame["_file"] == k]))
            failed[int(k)] = UnreadableFile(f"{group[int(k)].name} is a {p.bank} export in {', '.join(found)}; DP "
                                            f"accounts are in GBP")
        rejects += _reject_rows(frame, non_gbp, p.col("currency"), frame[p.col("currency")] if len(frame) else cur,
                                "the row is not in GBP; DP accounts are in GBP")
        frame = frame[~non_gbp]
    # a prepaid-card export: rows that moved no money are set aside (counted per file, never rejected)
    not_counted: dict[int, dict[str, int]] = {}
    not_counted_dates: dict[int, tuple[pd.Timestamp, pd.Timestamp]] = {}
    if p.is_card and len(frame):
        frame, card_rejects, not_counted, not_counted_dates = _card_money_moved(frame, p, fmt)
        rejects += card_rejects

    cache: dict[str, pd.Series] = {}

    def text(role: str) -> pd.Series:
        if role in cache:
            return cache[role]
        cols = [c for c in p.columns.get(role, ()) if c in frame]
        if not cols:
            return pd.Series(pd.NA, index=frame.index, dtype="string")
        out = frame[cols[0]].fillna("")  # cells are already trimmed by _build_rows
        if len(cols) > 1:
            for c in cols[1:]:
                out = out + " " + frame[c].fillna("")
            out = out.str.strip()
        cache[role] = out.where(out.ne(""), None).astype("string")
        return cache[role]

    date_raw = text("date")
    if date_raw.str.contains(":", regex=False).any():
        date_raw = date_raw.str.replace(_TIME_SUFFIX, "", regex=True)
    dates, date_bad = parse_dates_series(date_raw,
                                         p.date_formats + (("%Y-%m-%d",) if fmt == "xlsx" else ()))
    date_bad = date_bad | dates.isna()
    rejects += _reject_rows(frame, date_bad, p.col("date"), date_raw,
                            "not a date (day first, e.g. 05/04/2025 or 05 Apr 2025); a pending transaction has no date yet")
    bad_any = date_bad.copy()

    if "amount" in p.columns:
        raw = text("amount")
        pence, bad = _money(raw)
        missing = raw.isna()
        if p.amount_sign == "debit_positive":
            flag = text("credit_flag").fillna("").str.lower().isin(p.credit_flag_values)
            credit = raw.fillna("").str.strip().str.startswith("+") | raw.fillna("").str.upper().str.strip().str.endswith("CR") | flag
            pence = pence.abs().where(credit, -pence.abs())
        rejects += _reject_rows(frame, (bad | missing) & ~bad_any, p.col("amount"), raw,
                                "not an amount of money in pounds (e.g. -12.50 or £1,234.56)")
        bad_any |= bad | missing
    else:
        raw_in, raw_out = text("paid_in"), text("paid_out")
        p_in, bad_in = _money(raw_in)
        p_out, bad_out = _money(raw_out)
        neither = raw_in.isna() & raw_out.isna()
        rejects += _reject_rows(frame, bad_in & ~bad_any, p.col("paid_in"), raw_in, "paid in is not an amount of money")
        rejects += _reject_rows(frame, bad_out & ~bad_any & ~bad_in, p.col("paid_out"), raw_out,
                                "paid out is not an amount of money")
        rejects += _reject_rows(frame, neither & ~bad_any & ~bad_in & ~bad_out, p.col("paid_out"), raw_out,
                                "the row has neither a paid-in nor a paid-out amount")
        bad_any |= bad_in | bad_out | neither
        pence = p_in.fillna(0).abs() - p_out.fillna(0).abs()
    if "fee" in p.columns:
        fee_raw = text("fee")
        fee, fee_bad = _money(fee_raw)
        rejects += _reject_rows(frame, fee_bad & ~bad_any, p.col("fee"), fee_raw, "the fee is not an amount of money")
        bad_any |= fee_bad
        pence = pence - fee.fillna(0).abs()
    bal_raw = text("balance")
    balance, bal_bad = _money(bal_raw)
    rejects += _reject_rows(frame, bal_bad & ~bad_any, p.col("balance") or "balance", bal_raw,
                            "the balance is not an amount of money")
    bad_any |= bal_bad

    # accounts: a column per row, a combined "sort code + account" column, or the preamble
    sort_s = account_digits_series(text("sort_code"), keep_stars=True) if "sort_code" in p.columns else pd.Series("", index=frame.index, dtype="string")
    acct_s = account_digits_series(text("account_number"), keep_stars=True) if "account_number" in p.columns else pd.Series("", index=frame.index, dtype="string")
    if "account_with_sort_code" in p.columns:
        split = text("account_with_sort_code").fillna("").map(_split_combined)
        sort_s = split.map(lambda t: t[0]).astype("string")
        acct_s = split.map(lambda t: t[1]).astype("string")
    if "card_last4" in p.columns:
        acct_s = card_accounts(text("card_last4"))
    ok = ~bad_any
    sort_major = _majority_by_file(sort_s[ok], frame["_file"][ok])
    # a card export is one card's: several cards in one file make the file's account all of them
    # ("****1234|****5678"), which is no recipient's card (DQ-WRONG-ACCOUNT), never a row reject
    acct_major = (_all_by_file(acct_s[ok], frame["_file"][ok]) if "card_last4" in p.columns
                  else _majority_by_file(acct_s[ok], frame["_file"][ok]))
    sort_codes, accounts = [], []
    for k, s in enumerate(group):
        sort_code, account = sort_major.get(k, ""), acct_major.get(k, "")
        if not account:
            pre = s.preamble
            if "account_with_sort_code" in pre:
                sort_code, account = _split_combined(pre["account_with_sort_code"])
            account = account or re.sub(r"[^\d*]", "", pre.get("account_number", ""))
            sort_code = sort_code or re.sub(r"\D", "", pre.get("sort_code", ""))
        if "account_with_sort_code" not in p.columns and sort_code:
            sort_code = re.sub(r"\D", "", sort_code)
        sort_codes.append(sort_code)
        accounts.append(account)
    if len(frame) and "card_last4" not in p.columns:
        file_account = pd.Series(np.array(accounts, dtype=object)[frame["_file"].to_numpy()], index=frame.index)
        a = acct_s.fillna("")
        other = file_account.ne("") & a.ne("") & a.ne(file_account) & ~bad_any
        rejects += [(int(frame.at[i, "_file"]), (int(frame.at[i, "_row"]), "account_number", str(acct_s.at[i]),
                     "the row belongs to another account than the rest of the statement"))
                    for i in frame.index[other.to_numpy()]]
        bad_any |= other

    keep = ~bad_any
    kept_files = frame["_file"][keep].to_numpy()
    out = pd.DataFrame({
        "posted_date": dates[keep], "amount_pence": pence[keep].astype("Int64"), "description": text("description")[keep],
        "payee": text("payee")[keep], "txn_type": text("type")[keep].str.upper(),
        "mcc": _mcc(text("mcc")[keep]),
        "balance_pence": balance[keep].astype("Int64"), "fitid": pd.Series(pd.NA, index=frame.index[keep.to_numpy()], dtype="string"),
        "position": frame["_row"][keep].astype("int64"),
    })
    txns = conform_transactions(out) if len(out) else empty_transactions()
    # rows of one file are contiguous and in file order: each file's statement is a slice
    bounds = np.searchsorted(kept_files, np.arange(len(group) + 1)) if len(txns) else np.zeros(len(group) + 1, int)
    backward = (_chain_backward(txns["amount_pence"], txns["balance_pence"], pd.Series(kept_files))
                if len(txns) and "balance" in p.columns else pd.Series(dtype=bool))
    by_file: dict[int, list[Reject]] = {}
    for k, r in rejects:
        by_file.setdefault(k, []).append(r)
    results: list[ParsedStatement | UnreadableFile] = []
    for k, s in enumerate(group):
        if k in failed:
            results.append(failed[k])
            continue
        t = txns.iloc[bounds[k]:bounds[k + 1]].reset_index(drop=True)
        file_rejects = sorted(by_file.get(k, []), key=lambda r: (r[0] or 0, r[1]))
        if not len(t) and not file_rejects and not not_counted.get(k):
            results.append(UnreadableFile(f"{s.name} is a {p.bank} export with no transactions"))
            continue
        opening = closing = None
        if len(t) and "balance" in p.columns:
            chrono_first, chrono_last = (len(t) - 1, 0) if bool(backward.get(k, False)) else (0, len(t) - 1)
            b_first, b_last = t["balance_pence"].iat[chrono_first], t["balance_pence"].iat[chrono_last]
            if not pd.isna(b_first) and not pd.isna(b_last):
                opening = int(b_first) - int(t["amount_pence"].iat[chrono_first])
                closing = int(b_last)
        start = t["posted_date"].min() if len(t) else pd.NaT
        end = t["posted_date"].max() if len(t) else pd.NaT
        if k in not_counted_dates:  # a card export covers the dates of all its rows, money moved or not
            lo, hi = not_counted_dates[k]
            start = lo if pd.isna(start) else min(start, lo)
            end = hi if pd.isna(end) else max(end, hi)
        results.append(ParsedStatement(
            source_format=fmt, profile=p.name, bank_id="", sort_code=sort_codes[k], account_number=accounts[k],
            currency="GBP", start_date=None if pd.isna(start) else start.date(),
            end_date=None if pd.isna(end) else end.date(), closing_balance_pence=closing,
            opening_balance_pence=opening, transactions=t, rejects=file_rejects,
            not_counted=dict(not_counted.get(k, {}))))
    return results


def read_bank_tables(paths: list[Path], profiles: list[Profile], *, max_bytes: int = DEFAULT_MAX_BYTES,
                     max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
                     max_ratio: int = DEFAULT_MAX_RATIO) -> list[ParsedStatement | Exception]:
    """Read many CSV/XLSX bank exports: one result per path, in order, each a statement or the
    exception that makes that file unreadable (:class:`UnreadableFile`, or a reader bug, which the
    caller quarantines).  Exports of the same layout are parsed together (a council's inbox holds
    thousands of small ones, and per-file pandas work would cost more than the data); a file's
    result is the same as reading it alone."""
    results: list[ParsedStatement | Exception | None] = [None] * len(paths)
    groups: dict[tuple, list[tuple[int, _Scanned]]] = {}
    for i, path in enumerate(paths):
        try:
            s = _scan(Path(path), profiles, max_bytes, max_uncompressed, max_ratio)
        except Exception as exc:  # noqa: BLE001 - returned for the caller to quarantine, never raised
            results[i] = exc
            continue
        groups.setdefault((s.profile.name, s.fmt, s.names), []).append((i, s))
    for members in groups.values():
        try:
            parsed: list = _parse_group([s for _, s in members])
        except Exception:  # noqa: BLE001 - isolate the file that breaks the group: parse each alone
            parsed = []
            for _, s in members:
                try:
                    parsed += _parse_group([s])
                except Exception as exc:  # noqa: BLE001
                    parsed.append(exc)
        for (i, _), r in zip(members, parsed):
            results[i] = r
    return results  # type: ignore[return-value]


def read_bank_table(path: Path, profiles: list[Profile], *, max_bytes: int = DEFAULT_MAX_BYTES,
                    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED, max_ratio: int = DEFAULT_MAX_RATIO) -> ParsedStatement:
    """Read one CSV/XLSX bank export through the single profile that claims it (raises
    :class:`UnreadableFile` with the quarantine reason)."""
    result = read_bank_tables([path], profiles, max_bytes=max_bytes, max_uncompressed=max_uncompressed,
                              max_ratio=max_ratio)[0]
    if isinstance(result, Exception):
        raise result
    return result
