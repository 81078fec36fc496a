"""The input tables are the data files in ``schemas/`` (Frictionless Table Schema JSON).

(a) what the package loads is exactly those files, and its pandera schemas follow them;
(b) every field is described and every table of the contract has a file;
(c) a row breaking each kind of constraint is rejected with the reason text dpaudit has always given.
"""
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpaudit.ingest import schemas as S

REPO = Path(__file__).resolve().parents[1]
REPO_SCHEMAS = REPO / "schemas"
CONTRACT = REPO / "docs" / "contract.md"


def repo_documents() -> dict[str, dict]:
    return {p.name[: -len(S.SCHEMA_SUFFIX)]: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(REPO_SCHEMAS.glob(f"*{S.SCHEMA_SUFFIX}"))}


DOCS = repo_documents()
TABLES = sorted(DOCS)


# ----------------------------------------------------------------------------------- (a) the same files
def test_repo_schemas_folder_is_the_package_folder():
    """``schemas/`` is the link to the folder the package carries, so there is one copy of each file."""
    assert REPO_SCHEMAS.is_dir() and DOCS
    assert REPO_SCHEMAS.resolve() == (REPO / "src" / "dpaudit" / "resources" / "schemas").resolve()


def test_the_package_loads_exactly_the_files_in_repo_schemas():
    folder = S.schema_folder()
    packaged = {e.name: e.read_text(encoding="utf-8") for e in folder.iterdir() if e.name.endswith(S.SCHEMA_SUFFIX)}
    in_repo = {p.name: p.read_text(encoding="utf-8") for p in REPO_SCHEMAS.glob(f"*{S.SCHEMA_SUFFIX}")}
    assert sorted(packaged) == sorted(in_repo)
    assert {n: json.loads(t) for n, t in packaged.items()} == {n: json.loads(t) for n, t in in_repo.items()}
    assert S.schema_documents() == DOCS
    assert folder.joinpath("README.md").is_file() and (REPO_SCHEMAS / "README.md").is_file()


@pytest.mark.parametrize("table", TABLES)
def test_pandera_schema_follows_the_file(table):
    doc = DOCS[table]
    spec = S.SPECS[table]
    schema = S.pandera_schema(spec)
    fields = doc["fields"]
    assert list(schema.columns) == [f["name"] for f in fields]
    for f in fields:
        col = next(c for c in spec.columns if c.name == f["name"])
        cons = f.get("constraints", {})
        must = bool(cons.get("required", False))
        assert schema.columns[f["name"]].required is must, f["name"]  # the column must be present
        assert col.nullable is (not must), f["name"]  # a blank is allowed
        assert col.required is (not f.get("dpaudit:optionalColumn", False)), f["name"]
        assert col.kind == f["dpaudit:check"]
        assert col.values == (tuple(cons["enum"]) if col.kind in S.VALUE_CHECKS else ())
        assert col.pattern == (cons["pattern"] if col.kind in S.PATTERN_CHECKS else "")
    assert [(r.name, r.columns, r.reason) for r in spec.row_checks] == [
        (r["name"], tuple(r["columns"]), r["reason"]) for r in doc.get("dpaudit:rowChecks", [])]
    assert spec.key == tuple(doc["dpaudit:key"])
    assert S.ALIASES[table] == {a: f["name"] for f in fields for a in f.get("dpaudit:aliases", [])}
    assert S.missing_columns(table, []) == [f["name"] for f in fields if f.get("constraints", {}).get("required")]


def test_editing_a_file_changes_what_is_accepted(monkeypatch):
    """The files are the source: a schema built from an edited copy validates by the edit."""
    doc = S.schema_documents()["recipients"]
    status = next(f for f in doc["fields"] if f["name"] == "status")
    status["constraints"]["enum"] = ["active", "stopped", "suspended", "paused"]
    monkeypatch.setitem(S.SPECS, "recipients", S._spec("recipients", doc))
    row = dict(valid_row("recipients"), status="Paused")
    assert S.validate("recipients", pd.DataFrame([row], dtype="string"), path="r.csv").quarantine.empty


# ----------------------------------------------------------------------------------- (b) described, complete
@pytest.mark.parametrize("table", TABLES)
def test_every_field_is_described_and_well_formed(table):
    doc = DOCS[table]
    assert doc["name"] == table and doc.get("title") and len(doc.get("description", "")) > 20
    assert doc["fieldsMatch"] == "partial" and doc["missingValues"] == [""]
    names = [f["name"] for f in doc["fields"]]
    assert len(names) == len(set(names))
    for f in doc["fields"]:
        where = f"{table}.{f['name']}"
        assert len(f.get("description", "").strip()) > 10, f"{where} has no description"
        assert f["dpaudit:check"] in S.CHECKS, where
        assert f["type"] == ("date" if f["dpaudit:check"] == "date" else "string"), where
        cons = f.get("constraints", {})
        blank = "Must not be blank." if cons.get("required") else "May be blank."
        assert f["description"].endswith(blank), where
        if f["dpaudit:check"] in S.VALUE_CHECKS:
            assert cons["enum"] and all(v == v.lower() for v in cons["enum"]), where
        if "pattern" in cons:
            re.compile(cons["pattern"])
            assert not _top_level_alternation(cons["pattern"]), f"{where}: wrap a top-level | in a group"
        assert f["dpaudit:check"] not in S.PATTERN_CHECKS or cons.get("pattern"), where
        if f.get("dpaudit:optionalColumn"):
            assert not cons.get("required"), where
    assert set(doc["dpaudit:key"]) <= set(names)
    for rc in doc.get("dpaudit:rowChecks", []):
        assert rc["check"] in S.ROW_CHECKS and set(rc["columns"]) <= set(names) and rc["reason"]


def _top_level_alternation(pattern: str) -> bool:
    """Frictionless anchors a pattern as ``^{pattern}$``: a bare top-level ``|`` would escape the anchors."""
    depth, in_class, i = 0, False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


def _split_top(text: str) -> list[str]:
    """Split a contract cell's column list on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def contract_tables() -> dict[str, dict]:
    """Input tables of docs/contract.md sections 1 and 2: name -> file, columns, optional columns, values."""
    text = CONTRACT.read_text(encoding="utf-8")
    sec1 = text[text.index("## 1."):text.index("## 2.")]
    sec2 = text[text.index("## 2."):text.index("## 3.")]
    out: dict[str, dict] = {}
    for section, body in (("1", sec1), ("2", sec2)):
        for line in body.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3:
                continue
            m = re.search(r"`([a-z_]+)\.csv`", cells[0] if section == "1" else cells[1])
            if not m:
                continue
            columns, optional, values = [], set(), {}
            for part in _split_top(cells[1] if section == "1" else cells[2]):
                name = re.match(r"\s*([a-z_]+)", part)
                if not name:
                    continue
                col = name.group(1)
                columns.append(col)
                inside = re.search(r"\((.*)\)", part)
                if inside and inside.group(1).startswith("optional"):
                    optional.add(col)
                if inside:
                    values[col] = re.findall(r"`([a-z0-9_-]+)`", inside.group(1))  # `4-weekly` too
            out[m.group(1)] = dict(section=section, columns=columns, optional=optional, values=values)
    return out


def test_every_table_of_the_contract_has_a_schema_file():
    tables = contract_tables()
    assert {"recipients", "support_plan_lines", "payment_schedule", "employees", "insurance", "providers",
            "receipts", "payslips", "hmrc", "invoices"} <= set(tables)  # the parser found the tables
    assert set(tables) == set(DOCS) == set(S.SPECS)
    for table, c in tables.items():
        doc = DOCS[table]
        fields = {f["name"]: f for f in doc["fields"]}
        assert doc["dpaudit:contractSection"] == c["section"]
        where = "reference/" if c["section"] == "1" else "inbox/<YYYY-MM>/<recipient_id>/"
        assert doc["dpaudit:file"] == f"{where}{table}.csv"
        assert [n for n in fields if n in c["columns"]] == c["columns"], f"{table}: the contract's columns, in order"
        for extra in set(fields) - set(c["columns"]):  # dpaudit's own additions may never be demanded
            assert not fields[extra].get("constraints", {}).get("required"), f"{table}.{extra}"
        for col in c["optional"]:
            assert fields[col].get("dpaudit:optionalColumn") and not fields[col].get("constraints", {}).get("required")
        for col, vals in c["values"].items():
            if fields[col]["dpaudit:check"] in S.VALUE_CHECKS and vals:
                assert fields[col]["constraints"]["enum"] == vals, f"{table}.{col}"


def test_plan_categories_are_the_contract_vocabulary():
    text = CONTRACT.read_text(encoding="utf-8")
    para = text[text.index("Categories (controlled vocabulary"):text.index("Funding streams")]
    category = next(f for f in DOCS["support_plan_lines"]["fields"] if f["name"] == "category")
    assert category["constraints"]["enum"] == re.findall(r"`([a-z_]+)`", para)


# ----------------------------------------------------------------------------------- (c) rejected, same reasons
# The reason texts dpaudit gives (they were written in Python before the files existed and must not change).
HINTS = {
    "id": "an identifier is required",
    "sort_code": "a sort code is 6 digits, e.g. 40-00-04 or 400004",
    "account": "an account number is 8 digits, e.g. 01234567 (a prepaid card: its last 4 digits)",
    "period": "a tax month is written YYYY-MM, e.g. 2025-04",
    "decimal": "write a number such as 37.5",
    "ni": "an NI number looks like QQ123456C",
    "money": "write pounds with at most 2 decimals, e.g. 1234.50 (a £ sign and commas are fine)",
    "date": "write the date as YYYY-MM-DD or DD/MM/YYYY and check the day exists",
    "yesno": "write yes or no",
}
ROW_REASONS = {
    "recipients": ["dp_start_date is after dp_end_date; correct one of them",
                   "a 4-digit account_number is a prepaid card's last 4 digits and takes no sort_code; leave "
                   "sort_code blank for a card, or give the bank account's 8-digit number"],
    "employees": ["start_date is after end_date; correct one of them"],
    "insurance": ["cover_start is after cover_end; correct one of them"],
    "payslips": ["period_start is after period_end; correct one of them"],
    "invoices": ["period_start is after period_end; correct one of them"],
    "contributions": ["start_date is after end_date; correct one of them"],
}
GOOD = {"id": "X01", "text": "some text", "date": "2025-04-01", "money": "12.50", "yesno": "Yes",
        "sort_code": "40 00 04", "account": "01234567", "period": "2025-04", "decimal": "37.5", "ni": "QQ 12 34 56 C"}
BAD = {"id": "a\nb", "date": "31/02/2025", "money": "12.345", "enum": "not one of them", "yesno": "maybe",
       "sort_code": "4-00-04", "account": "1234567", "period": "2025-13", "decimal": "ten", "ni": "123"}


def valid_row(table: str) -> dict:
    return {f["name"]: (f["constraints"]["enum"][0].upper() if f["dpaudit:check"] == "enum" else GOOD[f["dpaudit:check"]])
            for f in DOCS[table]["fields"]}


def _expected_reason(f: dict) -> str:
    cons = f.get("constraints", {})
    hint = f"use one of {', '.join(cons['enum'])}" if f["dpaudit:check"] == "enum" else HINTS[f["dpaudit:check"]]
    what = "is blank or not valid" if cons.get("required") else "is not valid"
    return f"the value {what}; {hint}"


@pytest.mark.parametrize("table", TABLES)
def test_a_row_breaking_each_constraint_is_rejected_with_its_reason(table):
    doc = DOCS[table]
    good = valid_row(table)
    rows, expect = [good], {}
    for f in doc["fields"]:
        kind, cons = f["dpaudit:check"], f.get("constraints", {})
        if cons.get("required"):  # required: a blank cell
            rows.append(dict(good, **{f["name"]: "  "}))
            expect[len(rows) + 1] = (f["name"], _expected_reason(f))
        if kind in BAD:  # pattern / enum / a parse check: a value it does not accept
            rows.append(dict(good, **{f["name"]: BAD[kind]}))
            expect[len(rows) + 1] = (f["name"], _expected_reason(f))
    for rc in doc.get("dpaudit:rowChecks", []):  # a cross-field check: the first date after the second,
        a, b = rc["columns"]                       # or a card's last 4 digits with a sort code
        bad = {"not_after": ("2025-05-01", "30/04/2025"), "card_without_sort_code": ("40-00-04", "4821")}[rc["check"]]
        rows.append(dict(good, **{a: bad[0], b: bad[1]}))
        expect[len(rows) + 1] = (f"{a},{b}", rc["reason"])
    assert [rc["reason"] for rc in doc.get("dpaudit:rowChecks", [])] == ROW_REASONS.get(table, [])
    v = S.validate(table, pd.DataFrame(rows, dtype="string"), path=f"in/{table}.csv")
    got = {int(r.row_no): (r.column_name, r.reason) for r in v.quarantine.itertuples()}
    assert got == {row: (col, f"in/{table}.csv row {row}, column {col}: {reason}") for row, (col, reason) in expect.items()}
    assert v.valid["row_no"].tolist() == [2]


@pytest.mark.parametrize("table", TABLES)
def test_required_columns_must_be_present_and_the_others_may_be_left_out(table):
    fields = DOCS[table]["fields"]
    must = [f["name"] for f in fields if f.get("constraints", {}).get("required")]
    rest = [f["name"] for f in fields if f["name"] not in must]
    good = valid_row(table)
    v = S.validate(table, pd.DataFrame([{k: good[k] for k in rest}], dtype="string"), path="x.csv")
    assert v.valid.empty and len(v.quarantine) == 1
    assert f"x.csv: the file lacks column(s) {', '.join(must)};" in v.quarantine.iloc[0]["reason"]
    v = S.validate(table, pd.DataFrame([{k: good[k] for k in must}], dtype="string"), path="x.csv")
    assert v.quarantine.empty and len(v.valid) == 1


@pytest.mark.parametrize("table", TABLES)
def test_every_alias_in_the_file_is_accepted(table):
    for f in DOCS[table]["fields"]:
        for alias in f.get("dpaudit:aliases", []):
            row = valid_row(table)
            row[alias.upper()] = row.pop(f["name"])
            v = S.validate(table, pd.DataFrame([row], dtype="string"), path="x.csv")
            assert v.quarantine.empty and len(v.valid) == 1, (alias, v.quarantine["reason"].tolist())


MONEY_PATTERNS = sorted({f["constraints"]["pattern"] for d in DOCS.values() for f in d["fields"]
                         if f["dpaudit:check"] == "money"})


def test_money_fields_share_one_pattern():
    assert len(MONEY_PATTERNS) == 1


@settings(max_examples=300, deadline=None)
@given(st.from_regex(rf"^(?:{MONEY_PATTERNS[0]})$", fullmatch=True, alphabet="0123456789,.-£"))
def test_what_a_standard_tool_accepts_as_money_dpaudit_accepts(text):
    """The file's money pattern (what standard validators check) is within what dpaudit's parser reads."""
    from dpaudit.core.money import parse_pence, parse_pence_series

    parse_pence(text)
    assert not parse_pence_series(pd.Series([text] * 300, dtype="string"))[1].any()  # the vectorised path too
