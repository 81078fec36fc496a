"""Masking of personal and bank data in messages, logs, findings and quarantine values."""
from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")
# a run of 8+ digits (a UK account number's length, or a card number), alone or inside a word or
# file name ("TFR ACC03914726", "statement_12345678.csv"), and a 6-7 digit number written after an
# account word ("A/C 1234567"); other ids ("001234", "E000091", a recipient's folder) stay readable
_LONG_NUMBER = re.compile(r"(?<!\d)\d{8,}(?!\d)|(?:(?<=\ba/c )|(?<=\ba/c)|(?<=\bacc )|(?<=\bac )|(?<=\bacct )"
                          r"|(?<=\baccount ))\d{6,7}\b", re.IGNORECASE)
# an 8-digit account number written in two groups ("0391 4726", "0391-4726"); not a year range
_GROUPED_ACCOUNT = re.compile(r"(?<![\d-])(\d{4})[ -](\d{4})(?![\d-])")
# a UK IBAN, with or without spaces (GB29 NWBK 6016 1331 9268 19)
_IBAN = re.compile(r"\bGB\d{2}\s?[A-Z]{4}(?:\s?\d){14}\b")
# a National Insurance number (QQ 12 34 56 C)
_NI_NUMBER = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")


def mask_account(account: object) -> str:
    """Show only the last 4 digits of an account number: ``12345678`` -> ``****5678``."""
    if account is None:
        return ""
    s = str(account).strip()
    if not s or s.lower() in ("nan", "<na>", "none"):
        return ""
    digits = re.sub(r"\D", "", s)
    tail = digits[-4:] if len(digits) >= 4 else s[-4:]
    return "****" + tail


def mask_value(value: object, column: str) -> str:
    """Mask a raw cell for the quarantine table: bank/personal columns keep at most 4 characters."""
    if value is None:
        return ""
    s = str(value)
    col = column.lower()
    if any(k in col for k in ("account", "acct", "ni_number", "dbs_number", "sort_code")):
        return mask_account(s)
    if any(k in col for k in ("date_of_birth", "dob")):
        return "****"
    return _LONG_NUMBER.sub(lambda m: mask_account(m.group(0)), s)[:200]


def _is_year_range(m: re.Match) -> bool:
    a, b = int(m.group(1)), int(m.group(2))
    return 1900 <= a <= 2100 and 1900 <= b <= 2100


def mask_text(text: object) -> object:
    """Mask account numbers in free text to their last 4 digits: IBANs, runs of 8+ digits
    (also inside words and file names), 6-7 digits after an account word, 8 digits in two groups of 4 (not a year range such as
    2025-2026); and National Insurance numbers to their last 3 characters."""
    if not isinstance(text, str):
        return text
    text = _IBAN.sub(lambda m: mask_account(m.group(0)), text)
    text = _NI_NUMBER.sub(lambda m: "****" + re.sub(r"\s", "", m.group(0))[-3:], text)
    text = _LONG_NUMBER.sub(lambda m: mask_account(m.group(0)), text)
    return _GROUPED_ACCOUNT.sub(lambda m: m.group(0) if _is_year_range(m) else "****" + m.group(2), text)


def _text(value: object) -> str:
    """A cell as text: "" for None, NaN and pandas' NA (whose truth value cannot be asked)."""
    if value is None or isinstance(value, str):
        return value or ""
    try:
        if value != value:  # NaN
            return ""
    except TypeError:  # pd.NA
        return ""
    return str(value)


def account_digits(value: object) -> str:
    """The digits of an account number or sort code (``"40-47-84"`` -> ``"404784"``; None/NaN/NA -> "")."""
    return re.sub(r"\D", "", _text(value))


def is_card_account(sort_code: object, account_number: object) -> bool:
    """A recipient paid onto a prepaid card is registered with the card's last 4 digits and no sort code."""
    return len(account_digits(account_number)) == 4 and not account_digits(sort_code)


def account_digits_series(values, *, keep_stars: bool = False):
    """:func:`account_digits` of each value of a pandas Series (computed once per distinct value);
    ``keep_stars`` keeps the mask stars of an export that shows only the last digits (``****6914``)."""

    s = values.astype(object).where(values.notna(), "")
    pattern = r"[^\d*]" if keep_stars else r"\D"
    return s.map({u: re.sub(pattern, "", str(u)) for u in s.unique()}).astype("string")


def same_account(st_sort: object, st_acct: object, reg_sort: object, reg_acct: object) -> bool | None:
    """Is a statement's account the registered one?  Digits only; a masked export (``****6914``) is
    compared on its visible digits (a prepaid card's ``****1234`` with the registered card's last 4
    digits).  None when the statement shows no usable account number."""
    raw = _text(st_acct)
    ra = account_digits(reg_acct)
    if "|" in raw:  # a card export holding several cards ("****1234|****5678"): no one card's export
        return False
    if "*" in raw:
        visible = account_digits(raw.rsplit("*", 1)[-1])
        return None if len(visible) < 3 else ra.endswith(visible)
    sa, ss, rs = account_digits(raw), account_digits(st_sort), account_digits(reg_sort)
    if not sa:
        return None
    if len(sa) == 14 and not ss:
        ss, sa = sa[:6], sa[6:]
    if sa.zfill(8) != ra.zfill(8):
        return False
    return not (ss and rs and ss != rs)
