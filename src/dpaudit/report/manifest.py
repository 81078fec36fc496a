"""``manifest.json``: what a run read and produced (input files with SHA-256, policy and code
versions, run time, counts), written with sorted keys so the same data gives the same bytes.

A re-run of a month gives byte-identical CSVs, but its manifest differs in the fields that name
the run (``run_id``, ``run_time``, ``stage_seconds``, the decision-log head), and ``exceptions.xlsx``
in its run time; findings, ids and amounts are the same."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

from dpaudit.report import atomic_write_bytes


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if hasattr(value, "item"):  # numpy / pandas scalars
        return value.item()
    raise TypeError(f"manifest value {value!r} of type {type(value).__name__} cannot be written as JSON")


def manifest_json(data: dict) -> str:
    """The manifest text: JSON, sorted keys, two-space indent, UTF-8 characters kept, final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, default=_default) + "\n"


def write_manifest(path: Path | str, data: dict) -> Path:
    """Write ``data`` as ``manifest.json`` (atomically)."""
    return atomic_write_bytes(path, manifest_json(data).encode("utf-8"))
