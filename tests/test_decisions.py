"""The decision log: workbook/CSV round trip, all-or-nothing import, four eyes, hash chain."""
from __future__ import annotations

import random
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from dpaudit.decide.decisions import (
    DecisionImportError, apply_status, chain_head, current_status, import_decisions, read_csv_decisions,
    read_workbook_decisions, verify_chain,
)
from dpaudit.report.workbook import write_workbook
from dpaudit.store import open_store
from test_workbook import RUN_TIME, small_fixture, write_small

KNOWN = {"e1", "e2", "e3", "e4", "e5", "e6", "e7", "REC-2025-05-R001", "REC-2025-05-R002", "REC-2025-05-R003"}
PREPARED = {"REC-2025-05-R001": "auditor.a", "REC-2025-05-R002": "auditor.a", "REC-2025-05-R003": "auditor.a"}


@pytest.fixture()
def con(tmp_path: Path):
    with open_store(tmp_path / "store.duckdb") as c:
        yield c


def n_decisions(con) -> int:
    return con.execute("SELECT count(*) FROM decisions").fetchall()[0][0]


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def imp(con, rows, **kw):
    args = dict(known_ids=KNOWN, officer_default="officer.b", source="test", prepared_by=PREPARED)
    args.update(kw)
    return import_decisions(con, frame(rows) if isinstance(rows, list) else rows, **args)


# ---------------------------------------------------------------- the officer's round trip
def officer_edits(path: Path, out: Path) -> None:
    """What an officer does in Excel: decide, write notes, sort the rows, delete a row, add a column."""
    wb = load_workbook(path)
    ws = wb["Exceptions"]
    hdr = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(hdr)}
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    decide = {"e1": ("dismiss", "receipt found in the post"), "e6": ("query", None), "e7": ("Accepted", "pub spend")}
    for r in rows:
        if r[col["exception_id"]] in decide:
            r[col["decision"]], r[col["note"]] = decide[r[col["exception_id"]]]
    rows.sort(key=lambda r: str(r[col["Recipient"]]), reverse=True)  # sort by recipient, descending
    for i, r in enumerate(rows, start=2):
        for j, v in enumerate(r, start=1):
            ws.cell(row=i, column=j, value=v)
    # delete the row of e5 (undecided), then add a column of the officer's own at the front
    e5_row = next(i for i, r in enumerate(rows, start=2) if r[col["exception_id"]] == "e5")
    ws.delete_rows(e5_row)
    ws.auto_filter.ref = ws.dimensions
    ws.row_dimensions[3].hidden = True  # filtered out of view: still read
    ws.insert_cols(1)
    ws.cell(row=1, column=1, value="my flag")
    ws.cell(row=2, column=1, value="=1+1")  # a formula in a column dpaudit does not read is harmless
    rs = wb["Recommendations"]
    rh = {c.value: i + 1 for i, c in enumerate(rs[1])}
    for r in range(2, rs.max_row + 1):
        if rs.cell(row=r, column=rh["exception_id"]).value == "REC-2025-05-R001":
            rs.cell(row=r, column=rh["decision"], value="accept")
    wb.save(out)


def test_round_trip_sorted_filtered_deleted_extra_column(con, tmp_path: Path) -> None:
    src = write_small(tmp_path / "exceptions.xlsx")
    edited = tmp_path / "edited.xlsx"
    officer_edits(src, edited)
    got = read_workbook_decisions(edited)
    assert set(got["exception_id"]) == {"e1", "e2", "e3", "e4", "e6", "e7", "REC-2025-05-R001"}
    assert (got["problem"] == "").all()
    res = imp(con, got, source="workbook:edited.xlsx")
    assert res.appended == 7 and res.unchanged == 0
    st_ = current_status(con).set_index("exception_id")
    assert st_.loc["e1", "status"] == "dismissed" and st_.loc["e1", "note"] == "receipt found in the post"
    assert st_.loc["e7", "status"] == "accepted" and st_.loc["e6", "status"] == "queried"
    assert st_.loc["e2", "status"] == "accepted" and st_.loc["e3", "status"] == "dismissed"
    assert st_.loc["REC-2025-05-R001", "officer"] == "officer.b"
    # the same workbook again: nothing changes
    again = imp(con, read_workbook_decisions(edited), source="workbook:edited.xlsx")
    assert again.appended == 0 and again.unchanged == 7 and n_decisions(con) == 7
    # re-run: the next workbook is written with the logged statuses, and importing it changes nothing
    data = small_fixture()
    statuses = current_status(con, ids=data["findings"]["exception_id"])
    data["findings"] = apply_status(data["findings"].drop(columns=["status"]), statuses)
    rerun = write_workbook(tmp_path / "rerun.xlsx", period="2025-05", run_time=RUN_TIME, policy_version="2025.1",
                           decisions=current_status(con), **data)
    ex = {r[14].value: r for r in load_workbook(rerun)["Exceptions"].iter_rows(min_row=2)}
    assert ex["e1"][12].value == "dismiss" and ex["e1"][13].value == "receipt found in the post"
    assert ex["e5"][11].value == "open"
    third = imp(con, read_workbook_decisions(rerun), source="workbook:rerun.xlsx")
    assert third.appended == 0 and n_decisions(con) == 7
    assert verify_chain(con).ok


def test_formula_typed_by_officer_is_reported_not_guessed(con, tmp_path: Path) -> None:
    src = write_small(tmp_path / "exceptions.xlsx")
    wb = load_workbook(src)
    ws = wb["Exceptions"]
    ws["M2"] = '=IF(1,"accept","dismiss")'
    ws["N3"] = "=A1"
    ws["M3"] = "dismiss"
    wb.save(tmp_path / "f.xlsx")
    got = read_workbook_decisions(tmp_path / "f.xlsx")
    probs = " ".join(got["problem"])
    assert "Exceptions sheet, row 2: the decision cell holds a formula" in probs
    assert "Exceptions sheet, row 3: the note cell holds a formula" in probs
    with pytest.raises(DecisionImportError) as ei:
        imp(con, got)
    assert len(ei.value.problems) == 2 and n_decisions(con) == 0


def test_unknown_id_and_invalid_value_import_nothing(con) -> None:
    rows = [{"exception_id": "e1", "decision": "accept", "where": "Exceptions sheet, row 2"},
            {"exception_id": "nope", "decision": "accept", "where": "Exceptions sheet, row 3"},
            {"exception_id": "e2", "decision": "approve", "where": "Exceptions sheet, row 4"},
            {"exception_id": "e3", "decision": "", "where": "Exceptions sheet, row 5"}]
    with pytest.raises(DecisionImportError) as ei:
        imp(con, rows)
    assert n_decisions(con) == 0
    msg = str(ei.value)
    assert msg.startswith("Nothing was imported: 2 problems")
    assert "Exceptions sheet, row 3: exception_id 'nope' is not a finding or recommendation" in msg
    assert "Exceptions sheet, row 4: decision 'approve' is not one of accept, dismiss or query" in msg


def test_decision_words_case_insensitive_and_blank_rows_ignored(con) -> None:
    res = imp(con, [{"exception_id": "e1", "decision": "ACCEPTED"}, {"exception_id": "e2", "decision": "Dismissed"},
                    {"exception_id": "e3", "decision": " queried "}, {"exception_id": "e4", "decision": ""}])
    assert (res.appended, res.ignored_blank) == (3, 1)
    assert current_status(con).set_index("exception_id")["status"].to_dict() == {
        "e1": "accepted", "e2": "dismissed", "e3": "queried"}


def test_missing_officer_rejected(con) -> None:
    with pytest.raises(DecisionImportError, match="no officer is named"):
        imp(con, [{"exception_id": "e1", "decision": "accept"}], officer_default=None)
    assert n_decisions(con) == 0


def test_four_eyes(con) -> None:
    rows = [{"exception_id": "REC-2025-05-R001", "decision": "accept", "officer": "Auditor.A "}]
    with pytest.raises(DecisionImportError, match="four-eyes"):
        imp(con, rows)
    assert n_decisions(con) == 0
    assert imp(con, rows, four_eyes=False).appended == 1
    # a finding (not a recommendation) may be decided by anyone
    assert imp(con, [{"exception_id": "e1", "decision": "accept", "officer": "auditor.a"}]).appended == 1


def test_conflicting_rows_for_one_id_rejected(con) -> None:
    with pytest.raises(DecisionImportError, match="also decided"):
        imp(con, [{"exception_id": "e1", "decision": "accept", "where": "a"},
                  {"exception_id": "e1", "decision": "dismiss", "where": "b"}])
    res = imp(con, [{"exception_id": "e1", "decision": "accept"}, {"exception_id": "e1", "decision": "accept"}])
    assert res.appended == 1


def test_changed_decision_is_appended_and_latest_wins(con) -> None:
    imp(con, [{"exception_id": "e1", "decision": "query", "note": "asked family"}])
    imp(con, [{"exception_id": "e1", "decision": "query"}])  # blank note = no change
    assert n_decisions(con) == 1
    imp(con, [{"exception_id": "e1", "decision": "dismiss", "note": "receipt came"}], officer_default="officer.c")
    s = current_status(con, ids=["e1", "e2"])
    assert s["status"].tolist() == ["dismissed", "open"] and s.loc[0, "officer"] == "officer.c"
    assert n_decisions(con) == 2 and verify_chain(con).ok


def test_csv_decisions(con, tmp_path: Path) -> None:
    p = tmp_path / "decisions.csv"
    p.write_text("Exception_ID,Decision,Officer,decided_at,Note\n"
                 "e1,Accepted,jo.bloggs,2025-06-03 10:15,ok\n"
                 "e2,,,,\n"
                 "e3,dismiss,,03/06/2025,=no formula here\n", encoding="utf-8")
    got = read_csv_decisions(p)
    assert got["where"].tolist() == ["decisions.csv, row 2", "decisions.csv, row 4"]
    res = imp(con, got, officer_default="default.officer")
    assert res.appended == 2
    s = current_status(con).set_index("exception_id")
    assert s.loc["e1", "officer"] == "jo.bloggs" and s.loc["e3", "officer"] == "default.officer"
    assert pd.Timestamp(s.loc["e1", "decided_at"]) == pd.Timestamp("2025-06-03 10:15")
    assert pd.Timestamp(s.loc["e3", "decided_at"]) == pd.Timestamp("2025-06-03")
    assert s.loc["e3", "note"] == "=no formula here"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,decision\nx,accept\n", encoding="utf-8")
    with pytest.raises(DecisionImportError, match="lacks the column"):
        read_csv_decisions(bad)


def test_bad_decided_at_rejected(con) -> None:
    with pytest.raises(DecisionImportError, match="decided_at '13/13/2025'"):
        imp(con, [{"exception_id": "e1", "decision": "accept", "decided_at": "13/13/2025"}])


# ---------------------------------------------------------------- the hash chain
def seed(con, n: int = 6) -> None:
    ids = sorted(KNOWN - {k for k in KNOWN if k.startswith("REC")})
    for i in range(n):
        imp(con, [{"exception_id": ids[i % len(ids)], "decision": ["accept", "dismiss", "query"][i % 3],
                   "note": f"note {i}", "decided_at": datetime(2025, 6, 1, 9, i)}])
    assert n_decisions(con) == n


def test_chain_catches_edit(con) -> None:
    seed(con)
    assert verify_chain(con).ok
    con.execute("UPDATE decisions SET decision = 'dismiss' WHERE seq = 3").fetchall()
    res = verify_chain(con)
    assert not res.ok and any("row seq 3" in p and "edited" in p for p in res.problems)


def test_chain_catches_edit_of_timestamp(con) -> None:
    seed(con)
    con.execute("UPDATE decisions SET decided_at = decided_at + INTERVAL 1 SECOND WHERE seq = 2").fetchall()
    assert not verify_chain(con).ok


def test_chain_catches_removal(con) -> None:
    seed(con)
    con.execute("DELETE FROM decisions WHERE seq = 4").fetchall()
    res = verify_chain(con)
    assert not res.ok and any("seq 4 are missing" in p for p in res.problems)


def test_chain_catches_reorder(con) -> None:
    seed(con)
    con.execute("UPDATE decisions SET seq = CASE seq WHEN 2 THEN 5 WHEN 5 THEN 2 ELSE seq END WHERE seq IN (2, 5)").fetchall()
    res = verify_chain(con)
    assert not res.ok and any("seq 2" in p for p in res.problems)


def test_chain_catches_tail_cut_with_anchor(con) -> None:
    seed(con)
    anchor = chain_head(con)
    con.execute("DELETE FROM decisions WHERE seq = 6").fetchall()
    assert verify_chain(con).ok  # a shorter chain is still a chain...
    res = verify_chain(con, anchors=[anchor])  # ...but not the one recorded earlier
    assert not res.ok and "removed from the end" in res.problems[0]


MUTATIONS = ("edit_note", "edit_officer", "edit_hash", "delete", "swap_content", "edit_prev")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=2, max_value=8), mutation=st.sampled_from(MUTATIONS), pick=st.integers(0, 10**6),
       seed_=st.integers(0, 10**6))
def test_any_tampering_is_detected(tmp_path_factory, n: int, mutation: str, pick: int, seed_: int) -> None:
    path = tmp_path_factory.mktemp("chain") / "s.duckdb"
    with open_store(path) as con:
        seed(con, n)
        anchor = chain_head(con)
        seq = pick % n + 1
        if mutation == "edit_note":
            con.execute("UPDATE decisions SET note = coalesce(note, '') || ' changed' WHERE seq = ?", [seq]).fetchall()
        elif mutation == "edit_officer":
            con.execute("UPDATE decisions SET officer = 'someone.else' WHERE seq = ?", [seq]).fetchall()
        elif mutation == "edit_hash":
            con.execute("UPDATE decisions SET hash = repeat('a', 64) WHERE seq = ?", [seq]).fetchall()
        elif mutation == "edit_prev":
            con.execute("UPDATE decisions SET prev_hash = repeat('b', 64) WHERE seq = ?", [seq]).fetchall()
        elif mutation == "delete":
            con.execute("DELETE FROM decisions WHERE seq = ?", [seq]).fetchall()
        else:  # move one row's whole content (including its hashes) onto another
            other = random.Random(seed_).choice([s for s in range(1, n + 1) if s != seq])
            rows = con.execute("SELECT seq, exception_id, decision, officer, decided_at, note, source, prev_hash, hash "
                               "FROM decisions WHERE seq IN (?, ?) ORDER BY seq", [seq, other]).fetchall()
            con.execute("DELETE FROM decisions WHERE seq IN (?, ?)", [seq, other]).fetchall()
            for (s, *rest), (s2, *_) in zip(rows, reversed(rows)):
                con.execute("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [s2, *rest]).fetchall()
        assert not verify_chain(con, anchors=[anchor]).ok


def test_officer_and_date_columns_added_and_row_above_header(con, tmp_path: Path) -> None:
    src = write_small(tmp_path / "exceptions.xlsx")
    wb = load_workbook(src)
    ws = wb["Exceptions"]
    ws.insert_rows(1)
    ws["A1"] = "Checked by the DP team, June 2025"
    free = ws.max_column + 1  # the officer's own columns, after the workbook's
    ws.cell(row=2, column=free, value="officer")
    ws.cell(row=2, column=free + 1, value="decided_at")
    for r in range(3, ws.max_row + 1):
        if ws.cell(row=r, column=15).value == "e1":
            ws.cell(row=r, column=13, value="dismiss")
            ws.cell(row=r, column=free, value="kim.roe")
            ws.cell(row=r, column=free + 1, value=datetime(2025, 6, 4, 14, 5))
    wb.save(tmp_path / "o.xlsx")
    got = read_workbook_decisions(tmp_path / "o.xlsx").set_index("exception_id")
    assert got.loc["e1", "officer"] == "kim.roe" and got.loc["e1", "where"].endswith("row " + str(
        next(r for r in range(3, ws.max_row + 1) if ws.cell(row=r, column=15).value == "e1")))
    imp(con, got.reset_index())
    s = current_status(con).set_index("exception_id")
    assert s.loc["e1", "officer"] == "kim.roe" and pd.Timestamp(s.loc["e1", "decided_at"]) == pd.Timestamp("2025-06-04 14:05")


def test_workbook_without_decision_column_or_with_external_link_refused(tmp_path: Path) -> None:
    src = write_small(tmp_path / "exceptions.xlsx")
    wb = load_workbook(src)
    wb["Exceptions"].delete_cols(13)
    wb.save(tmp_path / "nodec.xlsx")
    with pytest.raises(DecisionImportError, match="no 'decision' column"):
        read_workbook_decisions(tmp_path / "nodec.xlsx")
    linked = tmp_path / "linked.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(linked, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr("xl/externalLinks/externalLink1.xml", "<externalLink/>")
    with pytest.raises(DecisionImportError, match="external links"):
        read_workbook_decisions(linked)
    with pytest.raises(DecisionImportError, match="not a valid .xlsx"):
        (tmp_path / "junk.xlsx").write_bytes(b"not a zip")
        read_workbook_decisions(tmp_path / "junk.xlsx")


_decision_rows = st.lists(st.tuples(st.sampled_from(sorted(k for k in KNOWN if not k.startswith("REC"))),
                                    st.sampled_from(["accept", "Dismissed", "QUERY", "queried", ""]),
                                    st.sampled_from([None, "", "checked", "receipt seen"])), max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(_decision_rows, min_size=1, max_size=3))
def test_imports_are_idempotent_and_latest_wins(tmp_path_factory, batches) -> None:
    from dpaudit.decide.decisions import DECISION_VALUES, STATUS_OF

    with open_store(tmp_path_factory.mktemp("imp") / "s.duckdb") as con:
        expected: dict[str, str] = {}
        for batch in batches:
            # one decision per id per import (two different ones would be refused)
            rows = {eid: (dec, note) for eid, dec, note in batch}
            frame_ = pd.DataFrame([{"exception_id": e, "decision": d, "note": n} for e, (d, n) in rows.items()],
                                  columns=["exception_id", "decision", "note"])
            imp(con, frame_)
            n_after = n_decisions(con)
            again = imp(con, frame_)
            assert again.appended == 0 and n_decisions(con) == n_after  # the same file twice changes nothing
            expected.update({e: DECISION_VALUES[d.lower()] for e, (d, _) in rows.items() if d})
        got = current_status(con).set_index("exception_id")
        assert set(got.index) == set(expected)
        for e, d in expected.items():
            assert got.loc[e, "status"] == STATUS_OF[d]
        assert verify_chain(con).ok
