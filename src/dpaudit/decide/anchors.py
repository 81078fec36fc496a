"""Anchors of the decision log kept outside the store, so a rewritten store is caught.

The decision log is hash-chained inside the DuckDB file, and every run records the chain's head
there too; but whoever can rewrite that file can recompute both.  So every run, report, year end
and decisions import also appends the head to ``<db>.anchors`` (one JSON line each, append only),
and each period's ``manifest.json`` carries it.  ``dpaudit decisions verify`` checks the log against
every anchor it finds: the store's, the anchor file's and (with ``--reports``) the manifests'.

When the council sets ``DPAUDIT_LOG_KEY`` (a secret kept away from the data folder), each anchor line
carries an HMAC-SHA256 of its head, and verify refuses a line whose MAC does not match: someone who
rewrites the store and the anchor file cannot forge anchors for the rewritten log without the key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime, timezone
from pathlib import Path

KEY_ENV = "DPAUDIT_LOG_KEY"


def anchor_file(db: Path | str) -> Path:
    p = Path(db)
    return p.with_name(p.name + ".anchors")


def _key() -> bytes | None:
    k = os.environ.get(KEY_ENV, "")
    return k.encode("utf-8") if k else None


def _mac(key: bytes, seq: int, head: str) -> str:
    return hmac.new(key, f"{int(seq)}|{head}".encode("utf-8"), hashlib.sha256).hexdigest()


def append_anchor(db: Path | str, seq: int, head: str, source: str) -> None:
    """Append the log head ``(seq, head)`` to the anchor file (flushed to disk before returning)."""
    line = {"seq": int(seq), "hash": head, "source": source,
            "at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    key = _key()
    if key:
        line["mac"] = _mac(key, seq, head)
    with open(anchor_file(db), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_anchors(db: Path | str) -> tuple[list[tuple[int, str]], list[str]]:
    """The anchors of the anchor file, and the problems found in it (a line that is not an anchor,
    or, with a key set, a line whose MAC is missing or wrong)."""
    path = anchor_file(db)
    if not path.exists():
        return [], []
    key = _key()
    anchors: list[tuple[int, str]] = []
    problems: list[str] = []
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            seq, head = int(line["seq"]), str(line["hash"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{path.name} line {n} is not an anchor: the anchor file was edited.")
            continue
        if key is not None:
            mac = line.get("mac")
            if not mac:
                problems.append(f"{path.name} line {n} has no MAC although {KEY_ENV} is set: it was added by "
                                f"someone without the key.")
                continue
            if not hmac.compare_digest(str(mac), _mac(key, seq, head)):
                problems.append(f"{path.name} line {n} has a MAC that does not match its head: it was forged or "
                                f"edited.")
                continue
        anchors.append((seq, head))
    return anchors, problems


def manifest_anchors(reports_dir: Path | str) -> list[tuple[int, str]]:
    """The decision-log heads recorded in the manifests under ``reports_dir`` (one per period)."""
    out = []
    for m in sorted(Path(reports_dir).glob("*/manifest.json")):
        try:
            head = json.loads(m.read_text(encoding="utf-8")).get("decision_log_head") or {}
            out.append((int(head["seq"]), str(head["hash"])))
        except (ValueError, KeyError, TypeError, OSError):
            continue
    return out
