"""OFX 1.x (SGML), OFX 2.x (XML) and QFX bank/card statements → :class:`ParsedStatement`.

Files from the public are untrusted.  Before any parser sees a file it is size-checked, and a
file carrying a ``<!DOCTYPE`` or ``<!ENTITY`` declaration is refused outright (OFX never needs
one; they are the vehicle of XXE and "billion laughs" attacks).  OFX 2.x is additionally parsed
by ``defusedxml`` with DTDs and entities forbidden.  Only then does ofxparse 0.21 read it.

ofxparse fails on some real files that are nonetheless readable; :data:`PRECLEAN_STEPS` lists
the small text repairs applied first (each one is a pure function on the file text, applied
only when its pattern is present).  Everything ofxparse discards is reported as a reject, so a
partial read is never silent.  Only bank and credit-card statements in GBP are accepted:
investment statements, account lists, sign-on-only responses and other currencies are
refused with a reason.
"""
from __future__ import annotations

import functools
import io
import re
import warnings
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace


from dpaudit.core.mask import account_digits, mask_account
from dpaudit.ingest.readers.statement import ParsedStatement, Reject, transactions_from_rows
from dpaudit.ingest.readers.tabular import DEFAULT_MAX_BYTES, UnreadableFile, check_size

__all__ = ["read_ofx", "ParsedStatement", "PRECLEAN_STEPS", "preclean", "UnreadableFile"]

ACCEPTED_CURRENCY = "GBP"
_DECL_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_STATUS_ERROR_RE = re.compile(
    r"<STMT(?:END)?TRNRS>.*?<STATUS>\s*<CODE>\s*(\d+).*?<SEVERITY>\s*ERROR(?:.*?<MESSAGE>([^<\r\n]*))?",
    re.IGNORECASE | re.DOTALL)
_HEADER_KEYS = ("DATA", "VERSION", "SECURITY", "ENCODING", "CHARSET", "COMPRESSION", "OLDFILEUID", "NEWFILEUID")


# ---- pre-cleaning: text repairs for files ofxparse cannot read as they are -----------------------

def _split_run_together_header(text: str) -> str:
    """Wells Fargo QFX: the SGML header and body on one line with no line ends.

    ofxparse splits the header on line ends; put each ``KEY:VALUE`` on its own line and a blank
    line before ``<OFX>``.
    """
    head, sep, body = text.partition("<")
    if not head.lstrip().upper().startswith("OFXHEADER:") or head.count("\n") >= 2:
        return text
    for key in _HEADER_KEYS:
        head = re.sub(rf"(?<!^)(?<!\n)({key}:)", r"\n\1", head)
    return head.rstrip() + "\n\n" + sep + body


def _drop_empty_name(text: str) -> str:
    """An empty ``<NAME></NAME>`` / ``<NAME/>`` makes ofxparse discard the whole transaction;
    NAME is optional in OFX, so drop the empty element and keep the transaction."""
    return re.sub(r"<NAME>\s*</NAME>|<NAME\s*/>", "", text, flags=re.IGNORECASE)


def _xml_to_ascii(text: str) -> str:
    """OFX 2.x without an SGML header: ofxparse decodes the body as ASCII and fails on ``£``/``é``.
    Write non-ASCII characters as XML character references, which its HTML parser decodes."""
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")


PreStep = tuple[str, Callable[[str], bool], Callable[[str], str]]
PRECLEAN_STEPS: tuple[PreStep, ...] = (
    ("split run-together SGML header",
     lambda t: t.lstrip().upper().startswith("OFXHEADER:") and t.partition("<")[0].count("\n") < 2,
     _split_run_together_header),
    ("drop empty NAME element", lambda t: re.search(r"<NAME>\s*</NAME>|<NAME\s*/>", t, re.I) is not None,
     _drop_empty_name),
    ("non-ASCII XML body as character references",
     lambda t: not t.lstrip().upper().startswith("OFXHEADER") and not t.isascii(), _xml_to_ascii),
)


def preclean(text: str) -> tuple[str, list[str]]:
    """Apply every pre-cleaning step whose pattern is present; return the text and the steps used."""
    used = []
    for name, applies, fix in PRECLEAN_STEPS:
        if applies(text):
            new = fix(text)
            if new != text:
                used.append(name)
                text = new
    return text, used


# ---- security checks ----------------------------------------------------------------------------

def _check_untrusted_xml(data: bytes, name: str) -> None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4096]:
        raise UnreadableFile(f"{name} is UTF-16 or binary, not OFX text (OFX is ASCII, UTF-8 or Windows-1252); "
                             f"download the statement again from the bank")
    if _DECL_RE.search(data):
        raise UnreadableFile(
            f"{name} contains a DOCTYPE or ENTITY declaration; OFX never needs one and it can carry an XML "
            f"entity attack (XXE or 'billion laughs'), so the file was not parsed. Download the statement again "
            f"from the bank.")
    text = data.decode("latin-1")
    if not text.lstrip().startswith("<?xml"):
        return
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    body = _XML_DECL_RE.sub("", text, count=1)  # the declared encoding may be false (utf-16 on ASCII bytes)
    try:
        DET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnreadableFile(f"{name} was refused by the safe XML parser ({type(exc).__name__}); it declares "
                             f"entities or a DTD, which OFX never needs") from exc
    except Exception:  # noqa: BLE001 - malformed XML: ofxparse is lenient, it gets its chance next
        return


# ---- conversion ---------------------------------------------------------------------------------

def _pence(value: object) -> int | None:
    """Decimal pounds → pence; None when blank or not a whole number of pence."""
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value)) * 100
    except InvalidOperation:
        return None
    if d != d.to_integral_value():
        return None
    return int(d)


def _as_date(v: object) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return None


def _split_uk_account(bank_id: str, acct: str) -> tuple[str, str]:
    """UK banks put the sort code in BANKID, or sort code + account (14 digits) in ACCTID."""
    b, a = account_digits(bank_id), account_digits(acct)
    sort_code = b if len(b) == 6 else ""
    if len(a) == 14 and (not sort_code or a.startswith(sort_code)):
        return a[:6], a[6:]
    return sort_code, str(acct or "").strip()


def _source_format(path: Path, text: str) -> str:
    if path.suffix.lower() == ".qfx":
        return "qfx"
    head = text.lstrip()[:200].upper()
    return "ofx2" if head.startswith("<?XML") or "<?OFX" in head else "ofx1"


def _parse(data: bytes):
    import ofxparse
    from bs4 import XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ofxparse.OfxParser.parse(io.BytesIO(data), fail_fast=False)


def _refusal(acc, stmt) -> str | None:
    """Why a parsed account statement is not a GBP bank or card statement (None when it is)."""
    from ofxparse import AccountType

    if acc.type == AccountType.Investment:
        return "it is an investment statement, not a bank or card account statement"
    if stmt is None or not hasattr(stmt, "transactions"):
        return "it lists an account but holds no statement"
    if acc.type not in (AccountType.Bank, AccountType.CreditCard):
        return "its account type is not a bank or credit-card account"
    cur = str(getattr(stmt, "currency", "") or "").strip().upper()
    if not cur and not stmt.transactions and getattr(stmt, "balance", None) in (None, "") \
            and not getattr(stmt, "start_date", None):
        return "it lists an account but holds no statement (an account-list response)"
    if not cur:
        return "it gives no currency (CURDEF is empty); DP accounts are in GBP"
    if cur != ACCEPTED_CURRENCY:
        return f"its currency is {cur}; DP accounts are in GBP"
    if not str(acc.account_id or "").strip():
        return "it gives no account number (ACCTID)"
    return None


def _statement(acc, stmt, fmt: str) -> ParsedStatement:
    rows, rejects = [], []
    for k, t in enumerate(stmt.transactions, start=1):
        pence = _pence(t.amount)
        if pence is None:
            rejects.append((k, "TRNAMT", str(t.amount), "the amount is not a whole number of pence"))
            continue
        posted = _as_date(t.date)
        if posted is None:
            rejects.append((k, "DTPOSTED", str(t.date), "the transaction has no posting date"))
            continue
        payee = (t.payee or "").strip()
        memo = (t.memo or "").strip()
        sic = str(t.sic or "").strip()
        rows.append((posted, pence, " ".join(x for x in (payee, memo) if x) or None, payee or None,
                     (t.type or "").strip().upper() or None, sic if sic.isdigit() else None, None,
                     str(t.id).strip() or None, k))
    for j, d in enumerate(getattr(stmt, "discarded_entries", []) or [], start=1):
        raw = re.sub(r"\s+", " ", str(d.get("content", "")))[:200]
        rejects.append((None, f"STMTTRN#{j}", raw, f"ofxparse could not read this transaction: {d.get('error')}"))
    frame = transactions_from_rows(rows)
    bank_id = str(getattr(acc, "routing_number", "") or "").strip()
    sort_code, account = _split_uk_account(bank_id, acc.account_id)
    start, end = _as_date(getattr(stmt, "start_date", None)), _as_date(getattr(stmt, "end_date", None))
    if len(frame):
        start = start or frame["posted_date"].min().date()
        end = end or frame["posted_date"].max().date()
    closing = _pence(getattr(stmt, "balance", None))
    if getattr(stmt, "balance", None) not in (None, "") and closing is None:
        rejects.append((None, "LEDGERBAL", str(stmt.balance), "the ledger balance is not a whole number of pence"))
    opening = None
    if closing is not None and not rejects:
        # OFX gives only the ledger (closing) balance; the opening is what the transactions imply.
        opening = closing - int(frame["amount_pence"].sum()) if len(frame) else closing
    return ParsedStatement(source_format=fmt, profile="ofx", bank_id=bank_id, sort_code=sort_code,
                           account_number=account, currency=str(stmt.currency).upper(), start_date=start,
                           end_date=end, closing_balance_pence=closing, opening_balance_pence=opening,
                           transactions=frame, rejects=rejects)



# ---- fast path: the plain, common shape of a bank statement, without BeautifulSoup ---------------
#
# ofxparse builds a BeautifulSoup tree of the whole file (about 50 ms for a month of 60
# transactions); a council's monthly inbox holds thousands of such files.  ``_fast_parse`` reads
# the plain, common shape directly and returns objects with the attributes ofxparse would give
# (so ``_refusal`` and ``_statement`` below treat both alike), or ``None`` for anything else, which
# then goes to ofxparse as before.  "Plain" means: ASCII text with no entity but the five of XML and
# no comment or processing instruction in the body, exactly one bank (STMTRS) or card (CCSTMTRS) statement in GBP with an
# account number, every STATUS code 0, and every STMTTRN made only of the leaf elements below with
# the values ofxparse reads without complaint.  ``tests/test_ofx_fast.py`` checks that both paths give
# the same statements on the corpus, the sample data and generated statements.  The objects are
# SimpleNamespaces with the attributes of ofxparse's Ofx/Account/Statement/Transaction.

_FAST_TXN_TAGS = frozenset({"TRNTYPE", "DTPOSTED", "DTUSER", "DTAVAIL", "TRNAMT", "FITID", "NAME", "MEMO", "CHECKNUM",
                            "REFNUM", "SIC", "PAYEEID"})
_FAST_REFUSE_TAGS = frozenset({"INVSTMTRS", "INVACCTFROM", "ACCTINFORS", "ACCTINFO", "STMTENDRS", "CCSTMTENDRS",
                               "BANKACCTTO", "CCACCTTO", "PAYEE", "CURRENCY", "ORIGCURRENCY"})
_FAST_TOKEN_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9.]*)>([^<]*)")
_FAST_AMOUNT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_FAST_ENTITY_RE = re.compile(r"&(amp|lt|gt|quot|apos);")
_FAST_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


@functools.lru_cache(maxsize=8192)
def _ofx_datetime(value: str) -> object:
    """ofxparse's own date rule (time zone, fractions of a second); dates repeat across files."""
    from ofxparse import OfxParser

    if not hasattr(OfxParser, "custom_date_format"):
        OfxParser.custom_date_format = None  # what OfxParser.parse sets before reading any date
    return OfxParser.parseOfxDateTime(value)


def _fast_parse(text: str) -> SimpleNamespace | None:
    """The file as ofxparse would read it, when it has the plain shape; otherwise ``None``."""
    from ofxparse import AccountType

    if not text.isascii() or "&" in _FAST_ENTITY_RE.sub("", text):
        return None  # only the five XML entities are decoded here; anything else goes to ofxparse
    start = text.upper().find("<OFX>")
    if start < 0:
        return None
    body = text[start:]
    tokens = _FAST_TOKEN_RE.findall(body)
    if len(tokens) != body.count("<"):
        return None  # a comment, a processing instruction, an empty-element tag, a stray '<'
    stmt: dict[str, str] | None = None  # the one statement's leaf values; a second statement goes to ofxparse
    kind = None
    txns: list[dict[str, str]] = []
    txn: dict[str, str] | None = None
    in_stmt = in_ledger = in_status = False
    statuses: list[str] = []
    for closing, tag, value in tokens:
        tag = tag.upper()
        value = value.strip()
        if "&" in value:
            value = _FAST_ENTITY_RE.sub(lambda m: _FAST_ENTITIES[m.group(1)], value)
        if tag in _FAST_REFUSE_TAGS:
            return None
        if closing:
            if tag == "STMTTRN":
                if txn is None:
                    return None
                txns.append(txn)
                txn = None
            elif tag in ("STMTRS", "CCSTMTRS"):
                if txn is not None or not in_stmt:
                    return None
                in_stmt = in_ledger = False
            elif tag == "LEDGERBAL":
                in_ledger = False
            elif tag == "STATUS":
                in_status = False
            continue
        if tag == "STMTTRN":
            if txn is not None or not in_stmt:
                return None
            txn = {}
            continue
        if txn is not None:
            if tag not in _FAST_TXN_TAGS or tag in txn:
                return None
            if not value:
                if tag == "NAME":  # an empty NAME is dropped (pre-cleaning does the same for ofxparse)
                    continue
                if tag != "MEMO":
                    return None
            txn[tag] = value
            continue
        if tag in ("STMTRS", "CCSTMTRS"):
            if stmt is not None:
                return None
            kind = AccountType.Bank if tag == "STMTRS" else AccountType.CreditCard
            stmt, in_stmt = {}, True
            continue
        if tag == "STATUS":
            in_status = True
            continue
        if in_status and tag == "CODE":
            statuses.append(value)
            continue
        if tag == "LEDGERBAL":
            in_ledger = True
            continue
        if in_stmt:
            key = "LEDGER.BALAMT" if (tag == "BALAMT" and in_ledger) else tag
            if key in ("ACCTID", "BANKID", "CURDEF", "DTSTART", "DTEND", "LEDGER.BALAMT") and key not in stmt:
                if not value:
                    return None
                stmt[key] = value
    if stmt is None or in_stmt or txn is not None or any(s != "0" for s in statuses):
        return None
    if stmt.get("CURDEF", "").upper() != ACCEPTED_CURRENCY or not stmt.get("ACCTID"):
        return None  # refusals keep ofxparse's wording
    try:
        transactions = []
        for t in txns:
            amount = t.get("TRNAMT")
            if amount is None or not _FAST_AMOUNT_RE.fullmatch(amount) or "DTPOSTED" not in t or not t.get("FITID"):
                return None
            if "DTUSER" in t:
                _ofx_datetime(t["DTUSER"])
            transactions.append(SimpleNamespace(payee=t.get("NAME", ""), type=t.get("TRNTYPE", "").lower(),
                                                date=_ofx_datetime(t["DTPOSTED"]), amount=Decimal(amount.replace("+", "")),
                                                id=t["FITID"], memo=t.get("MEMO", ""), sic=t.get("SIC")))
        statement = SimpleNamespace(transactions=transactions, discarded_entries=[], currency=stmt["CURDEF"].lower(),
                                    start_date=_ofx_datetime(stmt["DTSTART"]) if "DTSTART" in stmt else "",
                                    end_date=_ofx_datetime(stmt["DTEND"]) if "DTEND" in stmt else "")
        if "LEDGER.BALAMT" in stmt:
            if not _FAST_AMOUNT_RE.fullmatch(stmt["LEDGER.BALAMT"]):
                return None
            statement.balance = Decimal(stmt["LEDGER.BALAMT"].replace("+", ""))
    except (ValueError, TypeError, InvalidOperation):
        return None
    account = SimpleNamespace(account_id=stmt["ACCTID"], routing_number=stmt.get("BANKID", ""), type=kind,
                              statement=statement)
    return SimpleNamespace(signon=SimpleNamespace(success=True) if statuses else None, accounts=[account])


def read_ofx(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, clean: bool = True,
             fast: bool = True) -> list[ParsedStatement]:
    """Read every GBP bank/card statement in an OFX/QFX file.

    Raises :class:`UnreadableFile` (the message is the quarantine reason) when the file is too
    big, unsafe, not OFX, or holds no acceptable statement.  Statements refused inside a file
    that also holds an accepted one are listed as rejects of the first accepted statement.
    ``clean=False`` sends the file to ofxparse as it is (used to measure what pre-cleaning buys);
    ``fast=False`` sends every file to ofxparse after pre-cleaning (used to check the fast path
    gives the same result).
    """
    path = Path(path)
    check_size(path, max_bytes)
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile(f"{path.name} is empty")
    _check_untrusted_xml(data, path.name)
    text = data.decode("latin-1")
    fmt = _source_format(path, text)
    upper = text.upper()
    if "<OFX" not in upper:
        raise UnreadableFile(f"{path.name} is not an OFX file (no <OFX> element); download the statement again as OFX or CSV")
    if "</OFX>" not in upper:
        raise UnreadableFile(f"{path.name} is cut short: it ends before the statement does (no closing </OFX>). "
                             f"Download the statement again")
    if clean:
        try:
            decoded = data.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            decoded, enc = text, "latin-1"
        cleaned, _used = preclean(decoded)
        data = cleaned.encode(enc)
    else:
        cleaned = text
    try:
        ofx = (_fast_parse(cleaned) if fast and clean else None) or _parse(data)
    except Exception as exc:  # noqa: BLE001 - ofxparse raises anything from IndexError to UnboundLocalError
        raise UnreadableFile(f"{path.name} is not a readable OFX file ({type(exc).__name__}: {str(exc)[:120]}); "
                             f"download the statement again from the bank") from exc
    signon = getattr(ofx, "signon", None)
    if signon is not None and getattr(signon, "success", True) is False:
        raise UnreadableFile(f"{path.name} is a failed bank sign-on (code {signon.code}: {signon.message}); it holds "
                             f"no statement. Download the statement again.")
    accounts = list(getattr(ofx, "accounts", []) or [])
    if not accounts:
        err = _STATUS_ERROR_RE.search(text)
        if err:
            raise UnreadableFile(f"{path.name}: the bank returned an error instead of a statement (code {err.group(1)}"
                                 f"{': ' + err.group(2).strip() if err.group(2) else ''}). Download the statement again.")
        raise UnreadableFile(f"{path.name} holds no bank or card statement (a sign-on or status response only)")
    accepted: list[ParsedStatement] = []
    refused: list[Reject] = []
    for i, acc in enumerate(accounts):
        stmt = getattr(acc, "statement", None)
        why = _refusal(acc, stmt)
        if why:
            refused.append((None, f"STMTRS#{i + 1}", mask_account(acc.account_id), f"statement {i + 1} refused: {why}"))
            continue
        accepted.append(_statement(acc, stmt, fmt))
    if not accepted:
        reasons = "; ".join(f"statement {r[1].split('#')[1]} ({r[2] or 'no account'}): {r[3].split(': ', 1)[1]}" for r in refused)
        raise UnreadableFile(f"{path.name} holds no GBP bank or card statement: {reasons}")
    accepted[0].rejects.extend(refused)
    return accepted
