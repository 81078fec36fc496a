"""Report writers: the officers' workbook, the CSV twins, the manifest, the markdown summary, letters.

Every writer takes frames (money in integer pence) and writes files; none reads the store.
Text that came from outside dpaudit (bank memos, payee names, file names, officers' notes) is
never allowed to become a formula: see :func:`neutralise_text` (CSV) and
``report.workbook`` (XLSX cells stored as text with a quote prefix).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

# A spreadsheet may treat text starting with any of these as a formula (CSV injection).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")


def starts_like_formula(text: object) -> bool:
    return isinstance(text, str) and text.startswith(FORMULA_LEADS)


def neutralise_text(text: str) -> str:
    """``=SUM(A1)`` -> ``'=SUM(A1)``: a leading quote makes spreadsheet programs show text."""
    return "'" + text if starts_like_formula(text) else text


def neutralise_series(s: pd.Series) -> pd.Series:
    """Vectorised :func:`neutralise_text` for a column of text (blanks stay blank)."""
    t = s.astype("string").fillna("")
    risky = t.str.match(r"^[=+\-@\t\r\n]", na=False)
    return t.mask(risky, "'" + t)


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import: os.umask can only be read by setting it


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename,
    so a reader never sees half a report and a crash leaves the previous file intact."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # the mode an ordinary open() would give (mkstemp makes 0600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


__all__ = ["FORMULA_LEADS", "starts_like_formula", "neutralise_text", "neutralise_series", "atomic_write_bytes"]
