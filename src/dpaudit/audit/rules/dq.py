"""Data-quality rules (DQ-*): rejected rows and files, duplicate files, and the statement checks.

Each reads the period's views (:class:`~dpaudit.audit.data.AuditData`), which are derived from
stored state, so a re-run that skips already-read files raises the same findings again.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dpaudit.audit.data import AuditData, statement_recipients
from dpaudit.audit.rules.registry import rule
from dpaudit.core.mask import account_digits, is_card_account, mask_account, same_account
from dpaudit.core.money import format_gbp

COUNCIL = "COUNCIL"  # recipient_id of findings about council-wide files
STATEMENT_KIND = "statement"  # quarantine.kind of statement rows and files
OFX_FORMATS = ("ofx1", "ofx2", "qfx")


def _rejected_message(r) -> str:
    """What went wrong and what to do: a statement row or file names its file, row and column (its
    reason comes from the reader); evidence and reference reasons already name them."""
    if r.kind == STATEMENT_KIND:
        if pd.isna(r.row_no) and not r.column_name:
            return (f"Statement file {r.path} was not read: {str(r.reason).rstrip('.')}. Nothing from it is counted; "
                    f"send the statement again as an OFX download or a CSV export from the bank.")
        where = f"row {int(r.row_no)}" if not pd.isna(r.row_no) else "statement"
        return (f"Statement file {r.path}, {where}, column {r.column_name}: {r.reason} (value seen: "
                f"'{r.value_masked}'). This row is not counted; correct it in the bank's export or send the "
                f"statement again.")
    if pd.isna(r.period):
        return f"{r.reason} The row was not loaded; correct it and load the file again."
    return str(r.reason).rstrip(".") + ". It was not counted; correct it and send it again."


@rule("DQ-ROW-REJECTED")
def row_rejected(data: AuditData) -> pd.DataFrame:
    """A quarantined row or file of the period's inbox (key: its quarantine id), and each quarantined
    reference row, raised in every period while it stands (key: period|quarantine id)."""
    q = data.quarantine
    if q.empty:
        return pd.DataFrame()
    ref = q["period"].isna()
    return pd.DataFrame({"recipient_id": q["recipient_id"].where(~ref, COUNCIL).fillna(COUNCIL),
                         "key": q["q_id"].where(~ref, data.period + "|" + q["q_id"]),
                         "message": [_rejected_message(r) for r in q.itertuples(index=False)]})


@rule("DQ-DUPLICATE-FILE")
def duplicate_file(data: AuditData) -> pd.DataFrame:
    d = data.duplicate_files
    # judged within one recipient (rules.md): the same bytes in another family's folder are that
    # family's file too (a statement of another account there is DQ-WRONG-ACCOUNT for it)
    d = d[d["first_recipient"].isna() | (d["first_recipient"] == d["recipient_id"])]
    if d.empty:
        return pd.DataFrame()
    return pd.DataFrame({"recipient_id": d["recipient_id"], "key": d["path"],
                         "message": d["path"] + " has the same content as " + d["first_path"]
                         + ", which was already read; nothing in it was counted twice. No action is needed unless another file was meant."})


# ---- statement checks ---------------------------------------------------------------------------

def _ranges(days: list[date]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for d in sorted(days):
        if out and d == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _fmt_ranges(rs: list[tuple[date, date]]) -> str:
    return ", ".join(a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}" for a, b in rs)


def _days(a: date, b: date) -> list[date]:
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def _coverage_gaps(data: AuditData) -> list[tuple[str, object, date, date, list[date], int]]:
    """(recipient, account, first day, last day, days not covered, days due) for every recipient whose
    statements must cover the period.  OFX covers DTSTART..DTEND; a CSV/XLSX export the calendar
    month of each of its transactions."""
    if "coverage_gaps" in data.cache:  # three rules and the payment check read it: worked out once
        return data.cache["coverage_gaps"]
    out = []
    st = data.statements
    ofx = st[st["source_format"].isin(OFX_FORMATS) & st["start_date"].notna() & st["end_date"].notna()]
    spans: dict[str, list[tuple]] = {}
    for rid, s, e in zip(ofx["recipient_id"], ofx["start_date"], ofx["end_date"]):
        spans.setdefault(rid, []).append((s, e))
    csv = set(data.csv_covered["recipient_id"])
    for r in statement_recipients(data).itertuples(index=False):
        a = max(data.start, r.dp_start_date.date()) if pd.notna(r.dp_start_date) else data.start
        b = min(data.end, r.dp_end_date.date()) if pd.notna(r.dp_end_date) else data.end
        if a > b:
            continue
        due = _days(a, b)
        if r.recipient_id in csv:
            missing: list[date] = []
        else:
            cov: set[date] = set()
            for s, e in spans.get(r.recipient_id, ()):
                cov.update(_days(max(s.date(), a), min(e.date(), b)))
            missing = [d for d in due if d not in cov]
        out.append((r.recipient_id, r.account_number, a, b, missing, len(due)))
    data.cache["coverage_gaps"] = out
    return out


def uncovered_days(data: AuditData) -> dict[str, set[date]]:
    """Days of the period no statement covers, per recipient whose statements must cover it."""
    if "uncovered_days" not in data.cache:
        data.cache["uncovered_days"] = {rid: set(missing) for rid, _, _, _, missing, _ in _coverage_gaps(data)}
    return data.cache["uncovered_days"]


def card_recipients(data: AuditData) -> set[str]:
    """Recipients paid onto a prepaid card: registered with the card's last 4 digits and no sort code."""
    r = data.recipients
    return {rid for rid, sc, acct in zip(r["recipient_id"], r["sort_code"], r["account_number"])
            if is_card_account(sc, acct)}


@rule("DQ-STATEMENT-MISSING")
def statement_missing(data: AuditData) -> pd.DataFrame:
    cards = card_recipients(data)
    rows = [{"recipient_id": rid, "key": f"{data.period}|missing",
             "message": (f"No card statement covers any day of {data.period} ({a.isoformat()} to {b.isoformat()}) "
                         f"for the DP card {mask_account(acct)}. Send the card's export for these dates from the "
                         f"card provider's portal (CSV or XLSX)." if rid in cards else
                         f"No bank statement covers any day of {data.period} ({a.isoformat()} to {b.isoformat()}) "
                         f"for the DP account {mask_account(acct)}. Send the statement for these dates "
                         f"(an OFX download or a CSV export from the bank).")}
            for rid, acct, a, b, missing, due in _coverage_gaps(data) if len(missing) == due]
    return pd.DataFrame(rows)


@rule("DQ-STATEMENT-GAP")
def statement_gap(data: AuditData) -> pd.DataFrame:
    cards = card_recipients(data)
    rows = [{"recipient_id": rid, "key": f"{data.period}|gap",
             "message": f"The statements received for the DP {'card' if rid in cards else 'account'} "
                        f"{mask_account(acct)} do not cover "
                        f"{_fmt_ranges(_ranges(missing))} ({len(missing)} day(s) of {data.period}). Send statements "
                        f"covering these dates so the whole period can be audited."}
            for rid, acct, a, b, missing, due in _coverage_gaps(data) if 0 < len(missing) < due]
    return pd.DataFrame(rows)


@rule("DQ-BALANCE-BREAK")
def balance_break(data: AuditData) -> pd.DataFrame:
    """A statement of the period that does not add up (opening + transactions != closing), or that
    opens with another balance than the previous statement of the same account closed with."""
    st = data.statements
    if st.empty:
        return pd.DataFrame()
    rows = []
    mine = st[(st["period"] == data.period) & st["opening_balance_pence"].notna() & st["closing_balance_pence"].notna()
              & st["sum_amount_pence"].notna()]
    mine = mine[mine["opening_balance_pence"] + mine["sum_amount_pence"] != mine["closing_balance_pence"]]
    for r in mine.sort_values(["path", "stmt_index"]).itertuples(index=False):
        opening, closing, total = int(r.opening_balance_pence), int(r.closing_balance_pence), int(r.sum_amount_pence)
        diff = closing - (opening + total)
        a = r.start_date.date() if pd.notna(r.start_date) else None
        b = r.end_date.date() if pd.notna(r.end_date) else None
        rows.append({"recipient_id": r.recipient_id, "key": f"{r.file_sha256}:{r.stmt_index}:within",
                     "amount_pence": diff, "txn_date": b,
                     "message": f"Statement {r.path} (account {mask_account(r.account_number)}, {a} to {b}) does not add "
                                f"up: opening balance {format_gbp(opening)} plus transactions {format_gbp(total)} gives "
                                f"{format_gbp(opening + total)}, but the closing balance is {format_gbp(closing)} "
                                f"(difference {format_gbp(diff)}). Some rows are missing, rejected or altered; send "
                                f"the complete statement from the bank."})
    allst = st[st["recipient_id"].isin(st.loc[st["period"] == data.period, "recipient_id"])
               & st["start_date"].notna() & st["end_date"].notna()]
    allst = allst.sort_values(["recipient_id", "end_date", "start_date", "path", "stmt_index"]).reset_index(drop=True)
    if allst.empty:
        return pd.DataFrame(rows)
    allst["acct_key"] = allst["sort_code"].fillna("").map(account_digits) + "|" + allst["account_number"].fillna("").astype(str)
    # rows are in end-date order within each account, so the statement before each one is the row before
    prev = allst.groupby(["recipient_id", "acct_key"], sort=False)[
        ["file_sha256", "stmt_index", "end_date", "closing_balance_pence", "path"]].shift(1)
    hit = (prev["end_date"].notna() & (allst["start_date"] > prev["end_date"]) & (allst["period"] == data.period)
           & allst["opening_balance_pence"].notna() & prev["closing_balance_pence"].notna())
    hit &= allst["opening_balance_pence"].astype("Int64") != prev["closing_balance_pence"].astype("Int64")
    hit = hit.fillna(False).to_numpy()
    for cur, pr in zip(allst[hit].itertuples(index=False), prev[hit].itertuples(index=False)):
        diff = int(cur.opening_balance_pence) - int(pr.closing_balance_pence)
        rows.append({"recipient_id": cur.recipient_id,
                     "key": f"{cur.file_sha256}:{cur.stmt_index}:after:{pr.file_sha256}:{int(pr.stmt_index)}",
                     "amount_pence": diff, "txn_date": cur.start_date.date(),
                     "message": f"Statement {cur.path} (account {mask_account(cur.account_number)}) opens on "
                                f"{cur.start_date.date()} with {format_gbp(int(cur.opening_balance_pence))}, but the "
                                f"previous statement {pr.path} closed with {format_gbp(int(pr.closing_balance_pence))} "
                                f"(difference {format_gbp(diff)}). Send the statement for the days between them."})
    return pd.DataFrame(rows)


@rule("DQ-WRONG-ACCOUNT")
def wrong_account(data: AuditData) -> pd.DataFrame:
    st = data.statements
    if st.empty or data.recipients.empty:
        return pd.DataFrame()
    own = st[st["period"] == data.period]
    # a statement whose bytes were first read from another family's folder is, in this family's
    # folder, this family's statement too
    d = data.duplicate_files
    d = d[d["first_recipient"].notna() & (d["first_recipient"] != d["recipient_id"])]
    if not d.empty:
        copies = st.merge(d[["sha256", "recipient_id", "path"]].rename(columns={"sha256": "file_sha256"}),
                          on="file_sha256", suffixes=("_first", ""))
        copies = copies.drop(columns=["recipient_id_first", "path_first"])
        own = pd.concat([own, copies[own.columns]], ignore_index=True)
    m = own.merge(data.recipients[["recipient_id", "sort_code", "account_number"]],
                  on="recipient_id", suffixes=("", "_reg"))
    rows = []
    for r in m.sort_values(["path", "stmt_index"]).itertuples(index=False):
        if same_account(r.sort_code, r.account_number, r.sort_code_reg, r.account_number_reg) is False:
            sa = r.account_number
            shown = mask_account(sa) if "*" not in str(sa) else "****" + account_digits(str(sa).rsplit("*", 1)[-1])[-4:]
            card = is_card_account(r.sort_code_reg, r.account_number_reg)
            what = "card" if card else "account"
            shown = f"{what} {shown}"
            if "|" in str(sa):  # a prepaid-card export holding several cards
                shown = "the cards " + ", ".join("****" + account_digits(c)[-4:] for c in str(sa).split("|"))
            send = ("send the DP card's export from the card portal" if card else "send the DP account's statement")
            rows.append({"recipient_id": r.recipient_id, "key": f"{r.file_sha256}:{r.stmt_index}",
                         "message": f"Statement {r.path} is for {shown}, but the registered DP {what} is "
                                    f"{mask_account(r.account_number_reg)}. Direct payments must be kept in the separate "
                                    f"DP {what} (PBP 4.1.1, 5.2): {send}, or tell the council "
                                    f"if the {what} has changed."})
    return pd.DataFrame(rows)


@rule("DQ-PLAN-INVALID")
def plan_invalid(data: AuditData) -> pd.DataFrame:
    """A DP plan line from a funding stream restricted to notional, or without valid dates; raised in the
    first audited period in which the line is in force."""
    pl = data.plan_lines
    if pl.empty:
        return pd.DataFrame()
    pl = pl[pl["management_type"].isin(["direct_payment", "combination"])].copy()
    restricted = pl["funding_stream"].map(lambda s: data.policy.funding_restriction(str(s)) == "notional")
    unknown = pl["funding_stream"].map(lambda s: data.policy.funding_restriction(str(s)) is None)
    bad_dates = pl["valid_from"].isna() | pl["valid_to"].isna() | (pl["valid_from"] > pl["valid_to"])
    pl["why"] = None
    pl.loc[unknown, "why"] = "its funding stream '" + pl["funding_stream"].astype(str) + "' is not in PBP Appendix I"
    pl.loc[restricted, "why"] = ("its funding stream '" + pl["funding_stream"].astype(str)
                                 + "' is restricted to notional arrangements (PBP Appendix I) but it is paid as a direct payment")
    pl.loc[bad_dates, "why"] = "it has no valid dates (valid_from and valid_to must be given, in order)"
    pl["bad_dates"] = bad_dates
    pl = pl[pl["why"].notna()]
    bad_dates = pl["bad_dates"]
    s, e = pd.Timestamp(data.start), pd.Timestamp(data.end)
    in_force = pl["valid_from"].isna() | (pl["valid_from"] <= e)
    pl = pl[in_force & (pl["valid_to"].isna() | (pl["valid_to"] >= s) | bad_dates)]
    if not data.prior_findings.empty:
        seen = data.prior_findings[data.prior_findings["rule_id"] == "DQ-PLAN-INVALID"]
        pl = pl[~(pl["recipient_id"] + "|" + pl["line_id"]).isin(seen["recipient_id"] + "|" + seen["line_id"].fillna(""))]
    msg = ("Plan line " + pl["line_id"].astype(str) + " (" + pl["category"].astype(str).str.replace("_", " ") + ") is not valid: "
           + pl["why"] + ". It is left out of the budget and the annual DP value; correct the support plan line.")
    return pd.DataFrame({"recipient_id": pl["recipient_id"], "key": pl["line_id"], "line_id": pl["line_id"],
                         "amount_pence": pl["annual_amount_pence"], "message": msg})
