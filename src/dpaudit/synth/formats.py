"""Bank statement writers for the synthetic council (``dpaudit.synth.council``).

Each writer turns one month of one account into the bytes a UK bank would export: OFX 1.x
(SGML), OFX 2.x (XML), the contract's canonical CSV, Nationwide's CSV (preamble, ``£``
amounts, ``13 Jun 2025`` dates) and Lloyds' CSV (``'`` before the sort code, trailing comma on
the header, newest first).  Writers are plain string building: the generator calls them for
60,000 recipient-months, so they avoid pandas and ``Decimal``.

A transaction is a :class:`Txn`; ``kind`` says what it is and each writer maps it to that
bank's transaction type codes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

FORMATS = ("ofx1", "ofx2", "canonical", "nationwide", "lloyds")
EXTENSIONS = {"ofx1": "ofx", "ofx2": "ofx", "canonical": "csv", "nationwide": "csv", "lloyds": "csv"}
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# kind -> (OFX TRNTYPE, canonical type, Nationwide "Transaction type", Lloyds code)
TYPE_CODES = {
    "council": ("CREDIT", "CREDIT", "Bank credit", "BGC"),
    "credit": ("CREDIT", "CREDIT", "Transfer from", "FPI"),
    "refund": ("CREDIT", "CREDIT", "Visa credit", "FPI"),
    "card": ("POS", "CARD", "Visa purchase", "DEB"),
    "payment": ("PAYMENT", "PAYMENT", "Payment to", "FPO"),
    "charge": ("SRVCHG", "CHARGE", "Account fee", "PAY"),
    "atm": ("ATM", "ATM", "Cash withdrawal", "CPT"),
    "xfer": ("XFER", "XFER", "Transfer to", "TFR"),
}


class Txn:
    """One bank transaction of the synthetic account (amount in signed pence)."""

    __slots__ = ("date", "amount", "payee", "kind", "ref", "mcc", "cat", "seq", "ev")

    def __init__(self, d: date, amount: int, payee: str, kind: str, ref: str = "", mcc: str = "",
                 cat: str | None = None, seq: int = 0, ev: list | None = None) -> None:
        self.date = d
        self.amount = amount
        self.payee = payee
        self.kind = kind
        self.ref = ref
        self.mcc = mcc
        self.cat = cat  # plan category the spend counts against (None: misuse/no line)
        self.seq = seq
        self.ev = ev  # the evidence row (receipt/invoice/payslip/hmrc) that matches it, if any

    def sort_key(self) -> tuple:
        return (self.date, 0 if self.amount > 0 else 1, self.seq)


@dataclass(frozen=True)
class Account:
    sort_code: str       # 6 digits
    account_number: str  # 8 digits, leading zeros kept
    holder: str


def pounds(p: int) -> str:
    """Signed pence -> ``-1234.56`` (no thousands separator)."""
    sign = "-" if p < 0 else ""
    p = -p if p < 0 else p
    return f"{sign}{p // 100}.{p % 100:02d}"


def gbp(p: int) -> str:
    """Signed pence -> ``£1,234.56`` / ``-£12.00`` (Nationwide style)."""
    sign = "-" if p < 0 else ""
    p = -p if p < 0 else p
    return f"{sign}£{p // 100:,}.{p % 100:02d}"


def _csv_field(s: str) -> str:
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sgml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;")


def fitid(t: Txn, n: int) -> str:
    return f"{t.date:%Y%m%d}{n:05d}"


def _ofx_body(acct: Account, txns: list[Txn], start: date, end: date, closing: int, *, xml: bool,
              fitid_base: int) -> list[str]:
    esc = _xml if xml else _sgml
    c = (lambda tag: f"</{tag}>") if xml else (lambda tag: "")
    out = [
        "<OFX>", "<SIGNONMSGSRSV1>", "<SONRS>", "<STATUS>", f"<CODE>0{c('CODE')}", f"<SEVERITY>INFO{c('SEVERITY')}",
        "</STATUS>", f"<DTSERVER>{end:%Y%m%d}120000{c('DTSERVER')}", f"<LANGUAGE>ENG{c('LANGUAGE')}", "</SONRS>",
        "</SIGNONMSGSRSV1>", "<BANKMSGSRSV1>", "<STMTTRNRS>", f"<TRNUID>{end:%Y%m}{c('TRNUID')}", "<STATUS>",
        f"<CODE>0{c('CODE')}", f"<SEVERITY>INFO{c('SEVERITY')}", "</STATUS>", "<STMTRS>", f"<CURDEF>GBP{c('CURDEF')}",
        "<BANKACCTFROM>", f"<BANKID>{acct.sort_code}{c('BANKID')}", f"<ACCTID>{acct.account_number}{c('ACCTID')}",
        f"<ACCTTYPE>CHECKING{c('ACCTTYPE')}", "</BANKACCTFROM>", "<BANKTRANLIST>",
        f"<DTSTART>{start:%Y%m%d}{c('DTSTART')}", f"<DTEND>{end:%Y%m%d}{c('DTEND')}",
    ]
    for n, t in enumerate(txns, start=fitid_base):
        out.append("<STMTTRN>")
        out.append(f"<TRNTYPE>{TYPE_CODES[t.kind][0]}{c('TRNTYPE')}")
        out.append(f"<DTPOSTED>{t.date:%Y%m%d}{c('DTPOSTED')}")
        out.append(f"<TRNAMT>{pounds(t.amount)}{c('TRNAMT')}")
        out.append(f"<FITID>{fitid(t, n)}{c('FITID')}")
        if t.mcc:
            out.append(f"<SIC>{t.mcc}{c('SIC')}")
        out.append(f"<NAME>{esc(t.payee[:32])}{c('NAME')}")
        if t.ref:
            out.append(f"<MEMO>{esc(t.ref)}{c('MEMO')}")
        out.append("</STMTTRN>")
    out += ["</BANKTRANLIST>", "<LEDGERBAL>", f"<BALAMT>{pounds(closing)}{c('BALAMT')}",
            f"<DTASOF>{end:%Y%m%d}{c('DTASOF')}", "</LEDGERBAL>", "</STMTRS>", "</STMTTRNRS>", "</BANKMSGSRSV1>", "</OFX>"]
    return out


OFX1_HEADER = ("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
               "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n")
OFX2_HEADER = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
               '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n')


def ofx1(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1) -> bytes:
    closing = opening + sum(t.amount for t in txns)
    return (OFX1_HEADER + "\n".join(_ofx_body(acct, txns, start, end, closing, xml=False, fitid_base=fitid_base))
            + "\n").encode("ascii", "replace")


def ofx2(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1,
         doctype: str = "") -> bytes:
    closing = opening + sum(t.amount for t in txns)
    body = "\n".join(_ofx_body(acct, txns, start, end, closing, xml=True, fitid_base=fitid_base))
    head = OFX2_HEADER
    if doctype:
        lines = head.split("\n", 1)
        head = lines[0] + "\n" + doctype + "\n" + lines[1]
    return (head + body + "\n").encode("utf-8")


CANONICAL_HEADER = "date,description,amount,balance,type,reference,sort_code,account_number"


def canonical(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1) -> bytes:
    bal = opening
    out = [CANONICAL_HEADER]
    sc, an = acct.sort_code, acct.account_number
    for t in txns:
        bal += t.amount
        out.append(f"{t.date.isoformat()},{_csv_field(t.payee)},{pounds(t.amount)},{pounds(bal)},"
                   f"{TYPE_CODES[t.kind][1]},{_csv_field(t.ref)},{sc},{an}")
    return ("\n".join(out) + "\n").encode("utf-8")


def _q(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def nationwide(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1) -> bytes:
    closing = opening + sum(t.amount for t in txns)
    out = [
        f'"Account Name:","FlexDirect ****{acct.account_number[-4:]}"',
        f'"Account Balance:",{_q(gbp(closing))}',
        f'"Available Balance:",{_q(gbp(closing))}',
        "",
        '"Date","Transaction type","Description","Paid out","Paid in","Balance"',
    ]
    bal = opening
    for t in txns:
        bal += t.amount
        d = f"{t.date.day:02d} {_MONTHS[t.date.month]} {t.date.year}"
        out_amt, in_amt = (gbp(-t.amount), "") if t.amount < 0 else ("", gbp(t.amount))
        out.append(",".join((_q(d), _q(TYPE_CODES[t.kind][2]), _q(t.payee), _q(out_amt), _q(in_amt), _q(gbp(bal)))))
    return ("\n".join(out) + "\n").encode("utf-8")


LLOYDS_HEADER = ("Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,"
                 "Debit Amount,Credit Amount,Balance,")


def lloyds(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1) -> bytes:
    rows = []
    bal = opening
    sc = f"'{acct.sort_code[:2]}-{acct.sort_code[2:4]}-{acct.sort_code[4:]}"
    for t in txns:
        bal += t.amount
        deb, cred = (pounds(-t.amount), "") if t.amount < 0 else ("", pounds(t.amount))
        rows.append(f"{t.date:%d/%m/%Y},{TYPE_CODES[t.kind][3]},{sc},{acct.account_number},{_csv_field(t.payee)},"
                    f"{deb},{cred},{pounds(bal)}")
    rows.reverse()  # newest first, as Lloyds exports
    return ("\n".join([LLOYDS_HEADER] + rows) + "\n").encode("utf-8")


WRITERS = {"ofx1": ofx1, "ofx2": ofx2, "canonical": canonical, "nationwide": nationwide, "lloyds": lloyds}


def write_statement(fmt: str, acct: Account, txns: list[Txn], start: date, end: date, opening: int,
                    fitid_base: int = 1) -> bytes:
    """The statement file's bytes for ``txns`` (already in date order) covering ``start``..``end``."""
    return WRITERS[fmt](acct, txns, start, end, opening, fitid_base)
