"""Masking of personal and bank data in messages, logs, findings and quarantine values."""
from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")
_LONG_NUMBER = re.compile(r"\b\d{6,}\b")


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


def mask_text(text: object) -> object:
    """Mask every run of 6+ digits (account numbers in bank descriptions) to its last 4 digits."""
    if not isinstance(text, str):
        return text
    return _LONG_NUMBER.sub(lambda m: mask_account(m.group(0)), text)


def account_digits(value: object) -> str:
    """The digits of an account number or sort code (``"40-47-84"`` -> ``"404784"``; None/NaN -> "")."""
    if value is None or (not isinstance(value, str) and value != value):  # NaN / NA
        return ""
    try:
        return re.sub(r"\D", "", str(value))
    except TypeError:  # pd.NA
        return ""


def account_digits_series(values, *, keep_stars: bool = False):
    """:func:`account_digits` of each value of a pandas Series (computed once per distinct value);
    ``keep_stars`` keeps the mask stars of an export that shows only the last digits (``****6914``)."""

    s = values.astype(object).where(values.notna(), "")
    pattern = r"[^\d*]" if keep_stars else r"\D"
    return s.map({u: re.sub(pattern, "", str(u)) for u in s.unique()}).astype("string")


def same_account(st_sort: object, st_acct: object, reg_sort: object, reg_acct: object) -> bool | None:
    """Is a statement's account the registered one?  Digits only; a masked export (``****6914``) is
    compared on its visible digits.  None when the statement shows no usable account number."""
    raw = "" if st_acct is None or (not isinstance(st_acct, str) and st_acct != st_acct) else str(st_acct)
    ra = account_digits(reg_acct)
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
