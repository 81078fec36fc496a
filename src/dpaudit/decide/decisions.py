"""Officers' decisions: reading them from the workbook or a CSV, and the append-only, hash-chained log.

Grain of table ``decisions``: one row per decision an officer recorded (key ``seq``, 1, 2, 3 ...).
Rows are only ever appended.  Each row's ``hash`` is the SHA-256 of the previous row's hash and the
canonical JSON of its own fields, so editing, removing or reordering any row breaks the chain at
that row and :func:`verify_chain` names it.  (Cutting rows off the end leaves a valid shorter
chain; pass a head recorded earlier, e.g. in a run manifest via :func:`chain_head`, as an anchor.)

An import is all or nothing: every row is checked first and, if any is wrong (unknown id, a value
that is not accept/dismiss/query, no officer, a formula typed into a cell, the officer who prepared
a recommendation deciding it), nothing is written and :class:`DecisionImportError` lists every
problem.  A decision equal to the latest one already logged for that id is not appended again,
so importing the same workbook twice changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from defusedxml import ElementTree as DefusedET
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import from_excel

from dpaudit.core.dates import DateError, parse_date
from dpaudit.ingest.readers.tabular import UnreadableFile, check_xlsx_zip, read_table
from dpaudit.store import insert_df, now_utc, transaction

GENESIS_HASH = "0" * 64
DECISION_VALUES = {"accept": "accept", "accepted": "accept", "dismiss": "dismiss", "dismissed": "dismiss",
                   "query": "query", "queried": "query"}
STATUS_OF = {"accept": "accepted", "dismiss": "dismissed", "query": "queried"}
WORKBOOK_SHEETS = ("Exceptions", "Recommendations", "Year end")
FRAME_COLUMNS = ["where", "exception_id", "decision", "officer", "decided_at", "note", "problem"]
HASHED_FIELDS = ("seq", "exception_id", "decision", "officer", "decided_at", "note", "source")
REC_PREFIX = "REC-"
YE_PREFIX = "YE-FY"  # a recipient's year end: YE-FY<fy>-<recipient_id>


def year_end_id(fy: int, recipient_id: str) -> str:
    """The decision id of a recipient's year end (an officer accepts the repayment before a letter)."""
    return f"{YE_PREFIX}{int(fy)}-{recipient_id}"


class DecisionImportError(ValueError):
    """The decisions could not be imported; nothing was written.  ``problems`` holds one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"Nothing was imported: {n} problem{'s' if n != 1 else ''} to fix first."
        super().__init__(head + "\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class ImportResult:
    appended: int          # decisions added to the log
    unchanged: int         # rows equal to the latest logged decision (not added again)
    ignored_blank: int     # rows with no decision
    first_seq: int | None  # seq of the first decision added
    last_seq: int | None
    head_hash: str         # hash at the head of the chain after the import


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    problems: list[str]
    n_rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    checked_anchors: int = 0


# ------------------------------------------------------------------ reading decisions
def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "") or (not isinstance(v, str) and pd.isna(v))


def _text(v: object) -> str:
    if _blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REF = re.compile(r"^([A-Z]+)(\d+)$")


@dataclass(frozen=True)
class _Cell:
    value: Any            # str, or a float for a number
    formula: str | None   # the formula text when the cell holds a formula


def _sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> member path inside the xlsx (from workbook.xml and its relationships)."""
    wb = DefusedET.fromstring(zf.read("xl/workbook.xml"))
    rels = DefusedET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL_NS}Relationship")}
    out = {}
    for sh in wb.iter(f"{_NS}sheet"):
        t = targets.get(sh.get(f"{_REL_NS}id"), "")
        out[sh.get("name", "")] = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
    return out


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in zf.namelist():
        return []
    out = []
    for _, el in DefusedET.iterparse(zf.open("xl/sharedStrings.xml"), events=("end",)):
        if el.tag == f"{_NS}si":
            out.append("".join(t.text or "" for t in el.iter(f"{_NS}t") if not _in_phonetic(el, t)))
            el.clear()
    return out


def _in_phonetic(si: Any, t: Any) -> bool:
    return any(t in list(rph.iter()) for rph in si.iter(f"{_NS}rPh"))


def _xlsx_rows(zf: zipfile.ZipFile, member: str, shared: list[str],
               want: set[str] | None = None) -> Iterator[tuple[int, dict[str, _Cell]]]:
    """Stream a worksheet's rows as (row number, {column letters: cell}); only what the import needs.

    A streaming parse (defusedxml) of the sheet XML: several times faster than openpyxl's reader for
    a month of 30,000 rows, and it sees formulas as formulas rather than their cached values.
    Once ``want`` (a set the caller may fill while reading) holds column letters, other cells are skipped.
    """
    row_no = 0
    for _, el in DefusedET.iterparse(zf.open(member), events=("end",)):
        if el.tag != f"{_NS}row":
            continue
        row_no = int(el.get("r") or row_no + 1)
        cells: dict[str, _Cell] = {}
        col_pos = 0
        for c in el.iter(f"{_NS}c"):
            col_pos += 1
            m = _REF.match(c.get("r") or "")
            letters = m.group(1) if m else get_column_letter(col_pos)
            if m:
                col_pos = column_index_from_string(letters)
            if want and letters not in want:
                continue
            f = c.find(f"{_NS}f")
            v = c.find(f"{_NS}v")
            t = c.get("t", "n")
            if t == "s" and v is not None and v.text is not None:
                value: Any = shared[int(v.text)]
            elif t == "inlineStr":
                value = "".join(x.text or "" for x in c.iter(f"{_NS}t"))
            elif t in ("str", "e"):
                value = v.text if v is not None and v.text is not None else ""
            elif t == "b":
                value = "TRUE" if v is not None and v.text == "1" else "FALSE"
            elif v is not None and v.text is not None:
                try:
                    value = float(v.text)
                except ValueError:
                    value = v.text
            else:
                value = None
            formula = None
            if f is not None:
                formula = "=" + (f.text or "")
            cells[letters] = _Cell(value, formula)
        el.clear()
        yield row_no, cells


def _cell_text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def read_workbook_decisions(path: Path | str) -> pd.DataFrame:
    """Decisions an officer entered in the workbook's Exceptions and Recommendations sheets.

    Columns are found by their header names (``exception_id``, ``decision``, ``note`` and, if an
    officer added them, ``officer`` and ``decided_at``), so sorting, filtering, adding columns and
    deleting rows do no harm.  Rows without a decision are left out.  A formula in a decision,
    note, officer, time or id cell is not evaluated or guessed: the row carries a ``problem`` that
    :func:`import_decisions` reports.  Returns columns ``where, exception_id, decision, officer,
    decided_at, note, problem``.
    """
    p = Path(path)
    try:
        check_xlsx_zip(p)
    except UnreadableFile as exc:
        raise DecisionImportError([str(exc)]) from exc
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        with zipfile.ZipFile(p) as zf:
            sheets = _sheet_paths(zf)
            by_lower = {n.strip().lower(): n for n in sheets}
            found = [by_lower[s.lower()] for s in WORKBOOK_SHEETS if s.lower() in by_lower]
            if not found:
                raise DecisionImportError([f"{p.name} has no Exceptions, Recommendations or Year end sheet; import the "
                                           f"exceptions.xlsx or year_end.xlsx dpaudit wrote (sheets found: "
                                           f"{', '.join(sheets)})."])
            shared = _shared_strings(zf)
            for sheet in found:
                problems += _read_sheet(zf, sheets[sheet], sheet, shared, p.name, out)
    except (zipfile.BadZipFile, KeyError, DefusedET.ParseError, ValueError) as exc:
        if isinstance(exc, DecisionImportError):
            raise
        raise DecisionImportError([f"{p.name} could not be read as a workbook ({exc}); save it again from Excel as .xlsx."]) from exc
    if problems:
        raise DecisionImportError(problems)
    return pd.DataFrame(out, columns=FRAME_COLUMNS)


def _read_sheet(zf: zipfile.ZipFile, member: str, sheet: str, shared: list[str], file_name: str,
                out: list[dict[str, Any]]) -> list[str]:
    cols: dict[str, str] | None = None
    want: set[str] = set()
    for row_no, cells in _xlsx_rows(zf, member, shared, want):
        if cols is None:
            names = {_cell_text_value(c.value).lower(): k for k, c in cells.items() if c.formula is None}
            if "exception_id" in names:
                if "decision" not in names:
                    return [f"{file_name}, {sheet} sheet: no 'decision' column; restore the column headed 'decision'."]
                cols = {k: names[k] for k in ("exception_id", "decision", "note", "officer", "decided_at") if k in names}
                want.update(cols.values())
            elif row_no >= 20:
                break
            continue
        where = f"{sheet} sheet, row {row_no}"
        vals: dict[str, Any] = {}
        row_problems = []
        for key in ("exception_id", "decision", "note", "officer", "decided_at"):
            c = cells.get(cols[key]) if key in cols else None
            if c is not None and c.formula is not None:
                row_problems.append(f"{where}: the {key} cell holds a formula ({c.formula[:60]}); dpaudit does not "
                                    f"evaluate formulas. Type the value itself.")
                vals[key] = ""
            elif key == "decided_at" and c is not None and isinstance(c.value, float):
                vals[key] = from_excel(c.value)  # a date typed into a date-formatted cell
            else:
                vals[key] = _cell_text_value(c.value) if c is not None else ""
        if not vals["decision"] and not row_problems:
            continue
        out.append({"where": where, "exception_id": vals["exception_id"], "decision": vals["decision"],
                    "officer": vals["officer"], "decided_at": vals["decided_at"] or None, "note": vals["note"],
                    "problem": " ".join(row_problems)})
    if cols is None:
        return [f"{file_name}, {sheet} sheet: no header cell 'exception_id' in the first 20 rows; the hidden "
                f"exception_id column was deleted or renamed. Unhide and restore it, or export the workbook again."]
    return []


def read_csv_decisions(path: Path | str) -> pd.DataFrame:
    """Decisions from a CSV (or XLSX) with columns ``exception_id, decision, officer`` and optional
    ``decided_at`` (ISO or day-first date/time) and ``note``.  Same columns as the workbook reader."""
    p = Path(path)
    try:
        table = read_table(p)
    except UnreadableFile as exc:
        raise DecisionImportError([str(exc)]) from exc
    f = table.frame
    cols = {c.strip().lower(): c for c in f.columns}
    missing = [c for c in ("exception_id", "decision") if c not in cols]
    if missing:
        raise DecisionImportError([f"{p.name} lacks the column(s) {', '.join(missing)}; its header is "
                                   f"{', '.join(f.columns)}. Use exception_id, decision, officer, decided_at, note."])
    formulas: dict[int, list[str]] = {}
    for r, col, text in table.formula_cells:
        formulas.setdefault(r, []).append(f"{p.name}, row {r}: the {col} cell holds a formula ({text[:60]}); type the value itself.")
    out = []
    for i, rowno in enumerate(table.row_numbers):
        def get(name: str) -> str:
            c = cols.get(name)
            return _text(f[c].iloc[i]) if c is not None else ""
        problem = " ".join(formulas.get(rowno, []))
        if not get("decision") and not problem:
            continue
        out.append({"where": f"{p.name}, row {rowno}", "exception_id": get("exception_id"), "decision": get("decision"),
                    "officer": get("officer"), "decided_at": get("decided_at") or None, "note": get("note"), "problem": problem})
    return pd.DataFrame(out, columns=FRAME_COLUMNS)


# ------------------------------------------------------------------ the chain
def _iso(ts: datetime) -> str:
    return ts.isoformat()


def row_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 of the previous hash followed by the canonical JSON of the row's fields."""
    body = {k: fields.get(k) for k in HASHED_FIELDS}
    if isinstance(body["decided_at"], datetime):
        body["decided_at"] = _iso(body["decided_at"])
    if body["seq"] is not None:
        body["seq"] = int(body["seq"])
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _log_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    res = con.execute("SELECT seq, exception_id, decision, officer, decided_at, note, source, prev_hash, hash "
                      "FROM decisions ORDER BY seq").fetchall()
    keys = ("seq", "exception_id", "decision", "officer", "decided_at", "note", "source", "prev_hash", "hash")
    return [dict(zip(keys, r)) for r in res]


def chain_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """``(seq, hash)`` of the last decision (``(0, GENESIS_HASH)`` when the log is empty)."""
    res = con.execute("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchall()
    return (int(res[0][0]), str(res[0][1])) if res else (0, GENESIS_HASH)


def verify_chain(con: duckdb.DuckDBPyConnection, anchors: Iterable[tuple[int, str]] | None = None) -> VerifyResult:
    """Recompute the chain and name every row that was edited, removed or moved.

    ``anchors`` are ``(seq, hash)`` heads recorded earlier (e.g. in run manifests); each must still be
    in the log unchanged, which also catches rows cut off the end.
    """
    rows = _log_rows(con)
    problems: list[str] = []
    expected_seq, expected_prev = 1, GENESIS_HASH
    by_seq: dict[int, str] = {}
    for r in rows:
        seq = int(r["seq"])
        if seq != expected_seq:
            gap = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq} to {seq - 1}"
            problems.append(f"Decision log rows {gap} are missing: rows were removed (the log is append-only).")
        if r["prev_hash"] != expected_prev:
            problems.append(f"Decision log row seq {seq} does not follow the row before it (its prev_hash differs): "
                            f"a row before it was removed, edited or moved.")
        if row_hash(str(r["prev_hash"]), r) != r["hash"]:
            problems.append(f"Decision log row seq {seq} ({r['exception_id']}) was edited: its content no longer "
                            f"matches its hash.")
        by_seq[seq] = str(r["hash"])
        expected_seq, expected_prev = seq + 1, str(r["hash"])
    n_anchors = 0
    for seq, h in anchors or ():
        n_anchors += 1
        if int(seq) == 0:
            continue
        if int(seq) not in by_seq:
            problems.append(f"Decision log row seq {seq}, recorded earlier as the head of the log, is gone: rows were "
                            f"removed from the end.")
        elif by_seq[int(seq)] != h:
            problems.append(f"Decision log row seq {seq} no longer has the hash recorded earlier: the log was rewritten.")
    head_seq = int(rows[-1]["seq"]) if rows else 0
    head_hash = str(rows[-1]["hash"]) if rows else GENESIS_HASH
    return VerifyResult(ok=not problems, problems=problems, n_rows=len(rows), head_seq=head_seq,
                        head_hash=head_hash, checked_anchors=n_anchors)


# ------------------------------------------------------------------ status
def _latest(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT exception_id, decision, officer, decided_at, note FROM decisions "
        "QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY seq DESC) = 1 ORDER BY exception_id").df()


def carried_decisions(con: duckdb.DuckDBPyConnection, latest: pd.DataFrame, carry_rules: Iterable[str] = (),
                      carry_actions: Iterable[str] = ()) -> pd.DataFrame:
    """Decisions that carry to a finding no officer has decided yet: the same state raised again the
    next period (same rule, recipient, plan line and counterparty: an over-budget line, a surplus,
    wages paid without insurance), or the same recommendation action (``carry_actions``, e.g. an
    accepted STOP), takes the decision of the previous period's finding (itself decided or carried),
    as long as the state is raised in every period between.  Columns as :func:`_latest` plus
    ``carried_from`` (the exception id whose decision it is)."""
    rules, actions = sorted(set(carry_rules)), sorted(set(carry_actions))
    cols = ["exception_id", "decision", "officer", "decided_at", "note", "carried_from"]
    if latest.empty or (not rules and not actions):
        return pd.DataFrame(columns=cols)
    states = con.execute("""
        SELECT exception_id, period, rule_id AS what, recipient_id, coalesce(line_id, '') AS line_id,
               coalesce(counterparty, '') AS counterparty
        FROM findings WHERE list_contains(?::VARCHAR[], rule_id)
        UNION ALL
        SELECT 'REC-' || period || '-' || recipient_id, period, 'REC:' || action, recipient_id, '', ''
        FROM recommendations WHERE list_contains(?::VARCHAR[], action)
        ORDER BY period, exception_id""", [rules, actions]).df()
    if states.empty:
        return pd.DataFrame(columns=cols)
    from dpaudit.core.dates import next_period

    key = ["what", "recipient_id", "line_id", "counterparty"]
    known = latest.set_index("exception_id")
    decided = {i: (i, known.loc[i]) for i in states["exception_id"] if i in known.index}
    carried = []
    by_period = {p: g for p, g in states.groupby("period", sort=True)}
    for period in sorted(by_period):
        g = by_period[period]
        nxt = by_period.get(next_period(period))
        if nxt is None:
            continue
        src = g[g["exception_id"].isin(decided)][key + ["exception_id"]]
        m = nxt.merge(src.rename(columns={"exception_id": "from_id"}), on=key)
        for eid, from_id in zip(m["exception_id"], m["from_id"]):
            if eid in decided:
                continue  # its own decision (or an earlier carry) stands
            origin, row = decided[from_id]
            decided[eid] = (origin, row)
            carried.append({"exception_id": eid, "decision": row["decision"], "officer": row["officer"],
                            "decided_at": row["decided_at"], "note": row["note"], "carried_from": origin})
    return pd.DataFrame(carried, columns=cols)


def current_status(con: duckdb.DuckDBPyConnection, ids: Iterable[str] | None = None, *,
                   carry_rules: Iterable[str] = (), carry_actions: Iterable[str] = ()) -> pd.DataFrame:
    """Per exception_id the latest decision as a status (accepted/dismissed/queried), with
    ``carried_from`` naming the finding whose decision carried to it (:func:`carried_decisions`;
    blank for an officer's own decision).

    With ``ids``, one row per id in that order, ``open`` (and blank officer/time/note) where no decision
    was logged; without, one row per decided id.
    """
    latest = _latest(con).assign(carried_from=None)
    carried = carried_decisions(con, latest, carry_rules, carry_actions)
    if len(carried):
        latest = pd.concat([latest, carried], ignore_index=True)
    out = pd.DataFrame({
        "exception_id": latest["exception_id"].astype(str),
        "status": latest["decision"].map(STATUS_OF).astype(object),
        "officer": latest["officer"].astype(object),
        "decided_at": latest["decided_at"],
        "note": latest["note"].astype(object),
        "carried_from": latest["carried_from"].astype(object),
    })
    if ids is None:
        return out.reset_index(drop=True)
    want = pd.DataFrame({"exception_id": [str(i) for i in ids]})
    merged = want.merge(out, on="exception_id", how="left")
    merged["status"] = merged["status"].fillna("open")
    return merged


def apply_status(frame: pd.DataFrame, status: pd.DataFrame, id_column: str = "exception_id") -> pd.DataFrame:
    """``frame`` with a ``status`` column from ``current_status`` (``open`` where undecided)."""
    m = dict(zip(status["exception_id"].astype(str), status["status"]))
    out = frame.copy()
    out["status"] = out[id_column].astype(str).map(m).fillna("open").astype(object)
    return out


# ------------------------------------------------------------------ import
def _parse_when(v: object) -> datetime | None:
    """An officer's decided_at: datetime, ISO date-time, or a (day-first) date. None if blank."""
    if _blank(v):
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(timezone.utc).replace(tzinfo=None)
        return v.replace(microsecond=0)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    s = str(v).strip()
    try:
        return _parse_when(datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        pass
    d = parse_date(s)  # raises DateError
    return datetime(d.year, d.month, d.day)


def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def import_decisions(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, *, known_ids: set[str],
                     officer_default: str | None, source: str, prepared_by: dict[str, str] | None = None,
                     four_eyes: bool = True) -> ImportResult:
    """Validate every row, then append the new decisions to the log in one transaction.

    ``frame`` has ``exception_id, decision`` and optionally ``officer, decided_at, note, where, problem``
    (as the readers return).  ``prepared_by`` maps a recommendation id ``REC-<period>-<recipient_id>``
    to who prepared it; with ``four_eyes`` that person may not decide it.  Raises
    :class:`DecisionImportError` (nothing written) when any row is wrong.
    """
    f = frame.reset_index(drop=True)
    problems: list[str] = []
    candidates: list[dict[str, Any]] = []
    blank = 0
    now = now_utc()
    for i in range(len(f)):
        row = f.iloc[i]
        where = _text(row.get("where")) or f"row {i + 1} of the decisions given"
        eid = _text(row.get("exception_id"))
        raw_dec = _text(row.get("decision"))
        problem = _text(row.get("problem"))
        if not raw_dec and not problem:
            blank += 1
            continue
        if problem:
            problems.append(problem)
            continue
        row_ok = True
        if not eid:
            problems.append(f"{where}: the decision '{raw_dec}' has no exception_id; the id column must not be cleared.")
            row_ok = False
        elif eid not in known_ids:
            problems.append(f"{where}: exception_id '{eid}' is not a finding or recommendation dpaudit knows; "
                            f"check the row was not edited or pasted from another workbook.")
            row_ok = False
        decision = DECISION_VALUES.get(raw_dec.lower())
        if decision is None:
            problems.append(f"{where}: decision '{raw_dec}' is not one of accept, dismiss or query.")
            row_ok = False
        officer = _text(row.get("officer")) or (officer_default or "").strip()
        if not officer:
            problems.append(f"{where}: no officer is named; name the officer who decided (dpaudit decisions import "
                            f"... --officer \"A. Name\", or an officer column in a decisions CSV).")
            row_ok = False
        if (row_ok and four_eyes and prepared_by and eid.startswith(REC_PREFIX) and eid in prepared_by
                and prepared_by[eid] and _same_person(prepared_by[eid], officer)):
            problems.append(f"{where}: {officer} prepared recommendation {eid} and may not also decide it "
                            f"(four-eyes rule); another officer must decide it.")
            row_ok = False
        try:
            when = _parse_when(row.get("decided_at"))
        except (DateError, ValueError):
            problems.append(f"{where}: decided_at '{_text(row.get('decided_at'))}' is not a date or date-time "
                            f"(use YYYY-MM-DD HH:MM or DD/MM/YYYY).")
            row_ok = False
            when = None
        if row_ok:
            note = _text(row.get("note")) or None
            candidates.append({"where": where, "exception_id": eid, "decision": decision, "officer": officer,
                               "decided_at": when or now, "note": note})
    # the same id twice in one import must agree
    seen: dict[str, dict[str, Any]] = {}
    unique: list[dict[str, Any]] = []
    for c in candidates:
        prev = seen.get(c["exception_id"])
        if prev is None:
            seen[c["exception_id"]] = c
            unique.append(c)
        elif (prev["decision"], prev["note"]) != (c["decision"], c["note"]):
            problems.append(f"{c['where']}: exception_id {c['exception_id']} is also decided at {prev['where']} "
                            f"with a different decision or note; keep one.")
    if problems:
        raise DecisionImportError(problems)

    with transaction(con):
        latest = _latest(con)
        last = {r.exception_id: (r.decision, None if _blank(r.note) else r.note) for r in latest.itertuples(index=False)}
        head_seq, head_hash = chain_head(con)
        new_rows = []
        unchanged = 0
        seq, prev = head_seq, head_hash
        for c in unique:
            before = last.get(c["exception_id"])
            # equal to the latest decision: a blank note means "no change to the note" (the workbook pre-fills decisions)
            if before is not None and before[0] == c["decision"] and (c["note"] is None or c["note"] == before[1]):
                unchanged += 1
                continue
            seq += 1
            r = {"seq": seq, "exception_id": c["exception_id"], "decision": c["decision"], "officer": c["officer"],
                 "decided_at": c["decided_at"], "note": c["note"], "source": source}
            r["prev_hash"] = prev
            r["hash"] = row_hash(prev, r)
            prev = r["hash"]
            new_rows.append(r)
        if new_rows:
            df = pd.DataFrame(new_rows)
            df["decided_at"] = pd.to_datetime(df["decided_at"]).astype("datetime64[us]")
            df["seq"] = df["seq"].astype("int64")
            insert_df(con, "decisions", df, on_conflict="NOTHING")
    return ImportResult(appended=len(new_rows), unchanged=unchanged, ignored_blank=blank,
                        first_seq=new_rows[0]["seq"] if new_rows else None,
                        last_seq=new_rows[-1]["seq"] if new_rows else None, head_hash=prev)


# ------------------------------------------------------------------ ids the store knows
def known_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every exception_id in ``findings``, every recommendation id ``REC-<period>-<recipient_id>`` and
    every year-end id ``YE-FY<fy>-<recipient_id>``."""
    ids = {r[0] for r in con.execute("SELECT exception_id FROM findings").fetchall()}
    recs = con.execute("SELECT period, recipient_id FROM recommendations").fetchall()
    ye = con.execute("SELECT fy, recipient_id FROM year_end").fetchall()
    return ids | {f"{REC_PREFIX}{p}-{rid}" for p, rid in recs} | {year_end_id(fy, rid) for fy, rid in ye}


def prepared_by_map(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Recommendation id -> who prepared it (for the four-eyes check)."""
    rows = con.execute("SELECT period, recipient_id, prepared_by FROM recommendations WHERE prepared_by IS NOT NULL").fetchall()
    return {f"{REC_PREFIX}{p}-{rid}": str(pb) for p, rid, pb in rows}
