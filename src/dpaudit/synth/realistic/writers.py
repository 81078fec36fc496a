"""Render the simulated council as the files a council receives (contract sections 1 and 2)."""
from __future__ import annotations

import csv
import hashlib
import io
import os
from datetime import date, timedelta

from .model import money, money_gbp, month_end, month_of

MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def csv_text(header, rows, crlf=False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(header)
    for row in rows:
        w.writerow(row)
    return buf.getvalue()


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(text, bytes):
        with open(path, "wb") as fh:
            fh.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)


def iso(d):
    return d.isoformat() if d else ""


def uk(d):
    return d.strftime("%d/%m/%Y") if d else ""


def stable_pick(key: str, options):
    h = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return options[h % len(options)]


# ---------------------------------------------------------------------- reference
def write_reference(out, gen, recips, providers=None, contributions=False):
    from . import catalogue as C
    ref = os.path.join(out, "reference")
    rows = []
    for r in recips:
        rows.append([r.rid, f"{r.child_first} {r.surname}", iso(r.dob), r.mgmt, r.sort_code,
                     r.account, r.holder, iso(r.start), iso(r.end), r.status,
                     "yes" if r.stop_req else "no", r.officer])
    write(os.path.join(ref, "recipients.csv"), csv_text(
        ["recipient_id", "child_name", "date_of_birth", "management_type", "sort_code",
         "account_number", "account_holder", "dp_start_date", "dp_end_date", "status",
         "stop_requested", "support_officer"], rows))
    rows = []
    for r in recips:
        for l in r.lines:
            rows.append([r.rid, l.line_id, l.category, l.description, money(l.annual), l.stream,
                         l.mgmt, iso(l.vfrom), iso(l.vto), "yes" if l.school else "no",
                         iso(l.consent), ";".join(l.providers)])
    write(os.path.join(ref, "support_plan_lines.csv"), csv_text(
        ["recipient_id", "line_id", "category", "description", "annual_amount", "funding_stream",
         "management_type", "valid_from", "valid_to", "school_setting", "setting_consent_date",
         "providers"], rows))
    rows = [[r.rid, iso(s.due), money(s.amount), s.ref] for r in recips for s in r.schedule]
    write(os.path.join(ref, "payment_schedule.csv"),
          csv_text(["recipient_id", "due_date", "amount", "reference"], rows))
    rows = []
    for r in recips:
        for e in r.employees:
            rows.append([r.rid, e.eid, e.name, e.ni, iso(e.dob), money(e.rate), iso(e.start),
                         iso(e.end), e.dbs_number, iso(e.dbs_issue), ";".join(e.payee_names)])
    write(os.path.join(ref, "employees.csv"), csv_text(
        ["recipient_id", "employee_id", "name", "ni_number", "date_of_birth", "hourly_rate",
         "start_date", "end_date", "dbs_number", "dbs_issue_date", "payee_names"], rows))
    rows = [[r.rid, pol, ins, iso(a), iso(b), el] for r in recips for (pol, ins, a, b, el) in r.insurance]
    write(os.path.join(ref, "insurance.csv"), csv_text(
        ["recipient_id", "policy_number", "insurer", "cover_start", "cover_end",
         "employers_liability"], rows))
    rows = [[n, ";".join(a), c, reg] for (n, a, c, reg) in (providers or C.PROVIDERS)]
    write(os.path.join(ref, "providers.csv"),
          csv_text(["name", "aliases", "category", "registered"], rows))
    if contributions:  # extended councils only
        rows = [[r.rid, money(c.amount), c.freq, iso(c.start), iso(c.end)]
                for r in recips for c in r.contributions]
        write(os.path.join(ref, "contributions.csv"), csv_text(
            ["recipient_id", "amount", "frequency", "start_date", "end_date"], rows))


# ---------------------------------------------------------------------- statements
OFX_TYPE = {"CARD": "POS", "DD": "DIRECTDEBIT", "SO": "REPEATPMT", "FPO": "DEBIT", "FPI": "CREDIT",
            "BGC": "DIRECTDEP", "ATM": "ATM", "FEE": "FEE", "TFR": "XFER", "DEP": "DEP"}
LLOYDS_TYPE = {"CARD": "DEB", "DD": "DD", "SO": "SO", "FPO": "FPO", "FPI": "FPI", "BGC": "BGC",
               "ATM": "CPT", "FEE": "PAY", "TFR": "TFR", "DEP": "DEP"}
NW_TYPE = {"CARD": "Visa purchase", "DD": "Direct debit", "SO": "Standing order",
           "FPO": "Payment to", "FPI": "Bank credit", "BGC": "Bank credit",
           "ATM": "Cash withdrawal", "FEE": "Account fee", "TFR": "Transfer to",
           "DEP": "Cash credit"}
STARLING_TYPE = {"CARD": "CONTACTLESS", "DD": "DIRECT DEBIT", "SO": "STANDING ORDER",
                 "FPO": "FASTER PAYMENT", "FPI": "FASTER PAYMENT", "BGC": "DEPOSIT",
                 "ATM": "CASH WITHDRAWAL", "FEE": "FEE", "TFR": "FASTER PAYMENT",
                 "DEP": "DEPOSIT"}
CANON_TYPE = {"CARD": "CARD", "DD": "DD", "SO": "SO", "FPO": "FPO", "FPI": "FPI", "BGC": "BGC",
              "ATM": "ATM", "FEE": "FEE", "TFR": "TFR", "DEP": "DEP"}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ofx_text(r, rows, start, end, closing, version, long_acct):
    bankid = r.sort_code.replace("-", "")
    acct = bankid + r.account if long_acct else r.account
    server = (end + timedelta(days=1)).strftime("%Y%m%d") + "090000"
    tx = []
    for x, _bal in rows:
        name = esc(x.desc[:32])
        memo = esc(x.desc if len(x.desc) > 32 else (x.ref or x.desc))
        fields = [("TRNTYPE", OFX_TYPE[x.typ] if x.amt < 0 or x.typ in ("FPI", "BGC", "DEP")
                   else "CREDIT"), ("DTPOSTED", x.d.strftime("%Y%m%d")),
                  ("TRNAMT", money(x.amt)), ("FITID", x.fitid), ("NAME", name), ("MEMO", memo)]
        if version == 1:
            tx.append("<STMTTRN>\n" + "".join(f"<{k}>{v}\n" for k, v in fields) + "</STMTTRN>\n")
        else:
            tx.append("<STMTTRN>\n" + "".join(f"<{k}>{v}</{k}>\n" for k, v in fields) +
                      "</STMTTRN>\n")
    if version == 1:
        head = ("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
                "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n")

        def el(k, v):
            return f"<{k}>{v}\n"
    else:
        head = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
                '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" '
                'NEWFILEUID="NONE"?>\n')

        def el(k, v):
            return f"<{k}>{v}</{k}>\n"
    body = ("<OFX>\n<SIGNONMSGSRSV1>\n<SONRS>\n<STATUS>\n" + el("CODE", "0") +
            el("SEVERITY", "INFO") + "</STATUS>\n" + el("DTSERVER", server) +
            el("LANGUAGE", "ENG") + "</SONRS>\n</SIGNONMSGSRSV1>\n<BANKMSGSRSV1>\n<STMTTRNRS>\n" +
            el("TRNUID", "1") + "<STATUS>\n" + el("CODE", "0") + el("SEVERITY", "INFO") +
            "</STATUS>\n<STMTRS>\n" + el("CURDEF", "GBP") + "<BANKACCTFROM>\n" +
            el("BANKID", bankid) + el("ACCTID", acct) + el("ACCTTYPE", "CHECKING") +
            "</BANKACCTFROM>\n<BANKTRANLIST>\n" + el("DTSTART", start.strftime("%Y%m%d")) +
            el("DTEND", end.strftime("%Y%m%d")) + "".join(tx) + "</BANKTRANLIST>\n<LEDGERBAL>\n" +
            el("BALAMT", money(closing)) + el("DTASOF", end.strftime("%Y%m%d")) +
            "</LEDGERBAL>\n</STMTRS>\n</STMTTRNRS>\n</BANKMSGSRSV1>\n</OFX>\n")
    return head + body


def lloyds_text(sort_code, account, rows):
    out = ["Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,"
           "Debit Amount,Credit Amount,Balance,"]
    for x, bal in reversed(rows):
        desc = x.desc.replace(",", " ")
        deb = money(-x.amt) if x.amt < 0 else ""
        cre = money(x.amt) if x.amt > 0 else ""
        out.append(f"{uk(x.d)},{LLOYDS_TYPE[x.typ]},'{sort_code},{account},{desc},{deb},{cre},"
                   f"{money(bal)}")
    return "\n".join(out) + "\n"


def nationwide_text(r, rows, closing):
    def q(s):
        return '"' + s.replace('"', '""') + '"'
    lines = [f'{q("Account Name:")},{q(f"{r.holder} DP account ****{r.account[-4:]}")}',
             f'{q("Account Balance:")},{q(money_gbp(closing))}',
             f'{q("Available Balance: ")},{q(money_gbp(closing))}', "",
             ",".join(q(h) for h in ["Date", "Transaction type", "Description", "Paid out",
                                     "Paid in", "Balance"])]
    for x, bal in rows:
        d = f"{x.d.day:02d} {MON[x.d.month - 1]} {x.d.year}"
        typ = NW_TYPE[x.typ]
        if x.typ == "CARD" and "CONTACTLESS" in x.desc:
            typ = "Contactless payment"
        lines.append(",".join(q(v) for v in [d, typ, x.desc, money_gbp(-x.amt) if x.amt < 0 else "",
                                              money_gbp(x.amt) if x.amt > 0 else "",
                                              money_gbp(bal)]))
    return "\r\n".join(lines) + "\r\n"


def starling_text(rows):
    out = [["Date", "Counter Party", "Reference", "Type", "Amount (GBP)", "Balance (GBP)",
            "Spending Category"]]
    for x, bal in rows:
        ref = x.ref or ""
        out.append([uk(x.d), x.desc, ref, STARLING_TYPE[x.typ], money(x.amt), money(bal),
                    "GENERAL" if x.amt < 0 else "INCOME"])
    return csv_text(out[0], out[1:])


def canonical_text(r, rows, uk_dates):
    body = []
    for x, bal in rows:
        body.append([uk(x.d) if uk_dates else iso(x.d), x.desc, money(x.amt), money(bal),
                     CANON_TYPE[x.typ], x.ref, r.sort_code, r.account])
    return csv_text(["date", "description", "amount", "balance", "type", "reference",
                     "sort_code", "account_number"], body)


def statement_rows(gen, r, p):
    """(txn, balance after) for every observed txn of the month, with true running balances"""
    y, m = map(int, p.split("-"))
    ms, me = date(y, m, 1), month_end(date(y, m, 1))
    bal = r.opening
    opening = None
    rows = []
    for x in r.txns:
        if x.d < ms:
            bal += x.amt
            continue
        if x.d > me:
            break
        if opening is None:
            opening = bal
        bal += x.amt
        if x.observed:
            rows.append((x, bal))
    if opening is None:
        opening = bal
    return rows, opening, bal


def write_statements(out, gen, r):
    names = {}
    inbox = os.path.join(out, "inbox")
    for p in gen.periods:
        if p in r.missing_months:
            continue
        if r.start and r.start > month_end(date(int(p[:4]), int(p[5:]), 1)):
            continue
        rows, opening, closing = statement_rows(gen, r, p)
        y, m = map(int, p.split("-"))
        ms, me = date(y, m, 1), month_end(date(y, m, 1))
        folder = os.path.join(inbox, p, r.rid)
        f = r.fmt
        if f in ("ofx1", "ofx2"):
            end = r.ofx_cut.get(p, me)
            text = ofx_text(r, rows, ms, end, closing, 1 if f == "ofx1" else 2,
                            long_acct=stable_pick(r.rid, [True, False]))
            name = stable_pick(r.rid + "n", [f"statement_{p}.ofx", f"DP_{MON[m - 1]}{y}.ofx",
                                             f"{r.account[-4:]}_{y}{m:02d}.ofx"])
        elif f == "lloyds":
            text = lloyds_text(r.sort_code, r.account, rows)
            name = f"{r.account}_{y}{m:02d}.csv"
        elif f == "nationwide":
            text = nationwide_text(r, rows, closing)
            name = f"Statement Download {MON[m - 1]} {y}.csv"
        elif f == "starling":
            text = starling_text(rows)
            name = f"StarlingStatement_{y}-{m:02d}.csv"
        else:
            text = canonical_text(r, rows, uk_dates=stable_pick(r.rid, [False, False, True]))
            name = f"dp_statement_{p}.csv"
        if not rows and f not in ("ofx1", "ofx2"):
            raise RuntimeError(f"{r.rid} {p}: a CSV statement month with no transactions")
        path = os.path.join(folder, name)
        write(path, text)
        names[p] = (name, text)
    if r.dup_statement:
        a, b = r.dup_statement
        name, text = names[a]
        write(os.path.join(inbox, b, r.rid, name), text)
    if r.wrong_account:
        p = r.wrong_account
        y, m = map(int, p.split("-"))
        from .model import Txn
        bal = 84213
        rows = []
        for k, (day, amt, desc, typ) in enumerate([(3, -5642, "TESCO STORES 2975 CD 1417", "CARD"),
                                                  (5, -3300, "SKY DIGITAL", "DD"),
                                                  (11, 180000, "ACME LOGISTICS LTD SALARY", "BGC"),
                                                  (14, -10000, "CASH WITHDRAWAL LLOYDS BANK", "ATM"),
                                                  (20, -2599, "BET365 STOKE", "CARD")]):
            bal += amt
            rows.append((Txn(date(y, m, day), amt, desc, typ, "personal"), bal))
        write(os.path.join(inbox, p, r.rid, f"personal_account_{y}{m:02d}.csv"),
              lloyds_text("77-41-19", "31857720", rows))


# ---------------------------------------------------------------------- evidence
def doc_date(d, fmt):
    return uk(d) if fmt == "uk" else iso(d)


def write_evidence(out, gen, r):
    inbox = os.path.join(out, "inbox")
    style = stable_pick("style" + (r.twin_of or r.rid if not r.twin_of else r.twin_of),
                        ["plain", "gbp", "plain"])
    if "twin_a" in r.tags:
        style = "plain"
    if "twin_b" in r.tags:
        style = "plain"
    receipts_text = {}
    for p in gen.periods:
        folder = os.path.join(inbox, p, r.rid)
        rec = sorted([d for d in r.docs if d.folder == p and d.kind == "receipt"],
                     key=lambda d: (d.d, d.doc_id))
        inv = sorted([d for d in r.docs if d.folder == p and d.kind == "invoice"],
                     key=lambda d: (d.d, d.doc_id))
        if rec:
            rows = []
            for d in rec:
                amt = d.bad_amount or (money_gbp(d.amount) if style == "gbp" else money(d.amount))
                rows.append([d.doc_id, doc_date(d.d, d.date_fmt), d.supplier, amt, d.description,
                             d.category, d.attachment])
            text = csv_text(["receipt_id", "date", "supplier", "amount", "description",
                             "category", "attachment"], rows)
            write(os.path.join(folder, "receipts.csv"), text)
            receipts_text[p] = text
        if inv:
            rows = [[d.doc_id, d.supplier, iso(d.d), iso(d.period_start), iso(d.period_end),
                     money(d.amount), "" if d.hours is None else d.hours] for d in inv]
            write(os.path.join(folder, "invoices.csv"), csv_text(
                ["invoice_id", "supplier", "invoice_date", "period_start", "period_end",
                 "amount", "hours"], rows))
        slips = [s for s in r.payslips if month_of(s["pay_date"]) == p]
        if slips:
            rows = [[s["employee_id"], iso(s["pay_date"]), iso(s["period_start"]),
                     iso(s["period_end"]), s["hours"], money(s["gross"]), money(s["tax"]),
                     money(s["employee_ni"]), money(s["employer_ni"]),
                     money(s["pension_employee"]), money(s["pension_employer"]),
                     money(s["net"])] for s in sorted(slips, key=lambda s: (s["pay_date"],
                                                                             s["employee_id"]))]
            write(os.path.join(folder, "payslips.csv"), csv_text(
                ["employee_id", "pay_date", "period_start", "period_end", "hours", "gross", "tax",
                 "employee_ni", "employer_ni", "pension_employee", "pension_employer", "net"],
                rows))
        hm = [h for h in r.hmrc if h["folder"] == p]
        if hm:
            rows = [[h["tax_month"], money(h["amount_due"]), money(h["amount_paid"]),
                     iso(h["paid_date"]), h["reference"]] for h in hm]
            write(os.path.join(folder, "hmrc.csv"), csv_text(
                ["tax_month", "amount_due", "amount_paid", "paid_date", "reference"], rows))
    if r.dup_receipts and r.dup_receipts[0] in receipts_text:
        a, b = r.dup_receipts
        write(os.path.join(inbox, b, r.rid, "resent", "receipts.csv"), receipts_text[a])
    return receipts_text


# ---------------------------------------------------------------------- prepaid cards
# (extended councils only)
CARD_CANON = ["date", "merchant", "mcc", "amount", "status", "card_last4", "balance", "reference"]
CARD_VENDOR = ["Transaction Date", "Merchant Name", "MCC", "Amount", "Status",
               "Card Number (last 4)", "Available Balance", "Transaction ID"]


def card_rows(gen, r, p):
    """the month's portal rows in time order as (date, merchant, mcc, amount, status, balance,
    reference, money_moved): money-moving rows change the balance; authorisations later settled,
    declined and reversed rows show the balance of the last money-moving row (defs)"""
    y, m = map(int, p.split("-"))
    ms, me = date(y, m, 1), month_end(date(y, m, 1))
    bal = r.opening
    for x in r.txns:
        if x.d < ms:
            bal += x.amt
    ev = []
    for x in r.txns:
        if not (ms <= x.d <= me):
            continue
        if x.auth_d is not None:
            ev.append((x.auth_d, 0, x.seq, "authorised", x, False))
        ev.append((x.d, 1, x.seq, x.card_status, x, True))
    for k, c in enumerate(r.card_ghosts):
        if ms <= c.d <= me:
            ev.append((c.d, 2, k, c.status, c, False))
    ev.sort(key=lambda e: (e[0], e[1], e[2]))
    rows = []
    for d, _, _, status, x, moved in ev:
        if moved:
            bal += x.amt
        if hasattr(x, "merchant"):
            rows.append((d, x.merchant, x.mcc, x.amt, status, bal, x.ref, False))
        else:
            rows.append((d, x.desc, x.mcc, x.amt, status, bal, x.card_ref, moved))
    return rows


def card_text(r, rows, vendor, last4, uk_dates=False):
    if not vendor:
        body = [[uk(d) if uk_dates else iso(d), merch, mcc, money(amt), status, last4, money(bal),
                 ref] for d, merch, mcc, amt, status, bal, ref, _ in rows]
        return csv_text(CARD_CANON, body)
    body = [[uk(d), merch, mcc, money(amt), status.capitalize(), last4, money_gbp(bal), ref]
            for d, merch, mcc, amt, status, bal, ref, _ in reversed(rows)]  # newest first
    return csv_text(CARD_VENDOR, body, crlf=True)


def write_card_statements(out, gen, r):
    inbox = os.path.join(out, "inbox")
    vendor = r.fmt == "card_vendor"
    uk_dates = stable_pick(r.rid + "d", [False, True, False])
    for p in gen.periods:
        if p in r.missing_months:
            continue
        y, m = map(int, p.split("-"))
        if r.start and r.start > month_end(date(y, m, 1)):
            continue
        rows = card_rows(gen, r, p)
        if not rows:
            raise RuntimeError(f"{r.rid} {p}: a card export month with no rows")
        name = (f"Transactions_{MON[m - 1]}{y}_{r.card_last4}.csv" if vendor
                else f"card_{r.card_last4}_{p}.csv")
        write(os.path.join(inbox, p, r.rid, name), card_text(r, rows, vendor, r.card_last4,
                                                             uk_dates))
    if r.wrong_card:
        p, other = r.wrong_card
        y, m = map(int, p.split("-"))
        bal = 12345
        rows = []
        for k, (day, amt, merch, mcc) in enumerate([
                (4, -4211, "TESCO STORES 2975 STOCKPORT", "5411"),
                (9, -2000, "NOTEMACHINE HAZEL GRV", "6011"),
                (15, -1500, "PLAYOJO", "7995"), (21, 5000, "CARD LOAD", "")]):
            bal += amt
            rows.append((date(y, m, day), merch, mcc, amt, "settled", bal, f"W{other}{k:03d}",
                         True))
        name = (f"Transactions_{MON[m - 1]}{y}_{other}.csv" if vendor
                else f"card_{other}_{p}.csv")
        write(os.path.join(inbox, p, r.rid, name), card_text(r, rows, vendor, other, uk_dates))
