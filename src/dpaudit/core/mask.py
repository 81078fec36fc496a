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
