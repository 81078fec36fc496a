"""Prepaid-card recipients of the sample council (``sample_data/``): their card exports and cases.

Many councils pay direct payments onto prepaid cards; the card provider's portal exports each
card's transactions with the merchant, its merchant category code (MCC), a status (authorised,
settled, declined, reversed), the card's last 4 digits and the balance (contract section 2,
``docs/profiles.md`` "Prepaid-card exports").  This module adds two such recipients to the sample
(:func:`card_scenarios`, called from ``dpaudit.synth.sample``), writes their exports in the two
built-in card layouts (registered as statement formats ``card`` and ``card_portal``) and plants
the card cases (:data:`CASES`).

Rows that moved no money (a declined or reversed row, an authorisation whose settlement is in the
same export) are :class:`CardRow` objects with ``amount`` 0, so the simulation's balances and
truth (which add up ``amount``) are those of the money moved; the writers show their amount
(``shown``) and, as a card portal does, the balance unchanged from the previous money-moved row.
"""
from __future__ import annotations

from datetime import date, timedelta

from dpaudit.synth import formats
from dpaudit.synth.formats import Account, Txn, _csv_field, pounds
from dpaudit.synth.sim import Month, RecipientSim

CARD_HEADER = "date,merchant,mcc,amount,status,card_last4,balance,reference"
PORTAL_HEADER = ("Transaction Date,Merchant Name,MCC,Amount,Status,Card Number (last 4),Available Balance,"
                 "Transaction ID")
PORTAL_STATUS = {"settled": "Settled", "authorised": "Pending", "declined": "Declined", "reversed": "Reversed"}
FORMAT_NAMES = {"card": "prepaid card, canonical card CSV", "card_portal": "prepaid card, portal export CSV"}

# the category codes a card scheme gives the sample's merchants (ISO 18245); loads and fees have none
MERCHANT_MCC = {
    "LIFE LEISURE": "7997", "GRAVITY TRAMPOLINE PARK": "7996", "CINEWORLD CINEMA": "7832",
    "PLAYSCAPE SOFT PLAY": "7996", "SPLASH SWIMMING CLUB": "7997", "ROCK UP CLIMBING": "7997",
    "TENPIN BOWLING": "7933", "REDDISH VALE FARM": "7991", "THE ART ROOM": "8299",
    "STOCKPORT TAXI CO": "4121", "METROLINK": "4111", "NORTHERN RAIL": "4112", "A1 ACCESSIBLE TAXI": "4121",
    "STOCKPORT YOUTH CLUB": "8641", "1ST CHEADLE SCOUTS": "8641", "COMMUNITY ARTS HUB": "8641",
}


class CardRow(Txn):
    """A card export row with its status.  Money-moved rows (settled, or authorised with no
    settlement in the export) have ``amount`` = ``shown``; the others have ``amount`` 0."""

    __slots__ = ("status", "shown")

    def __init__(self, d: date, amount: int, payee: str, kind: str, ref: str = "", mcc: str = "",
                 cat: str | None = None, seq: int = 0, ev: list | None = None, *, status: str = "settled",
                 shown: int | None = None) -> None:
        super().__init__(d, amount, payee, kind, ref, mcc, cat, seq, ev)
        self.status = status
        self.shown = amount if shown is None else shown


def _rows(txns: list[Txn], opening: int) -> list[tuple]:
    """(date, merchant, mcc, amount shown, status, balance after, reference) per row, oldest first."""
    out, bal = [], opening
    for t in txns:
        bal += t.amount  # 0 for a row that moved no money: the balance stays as it was
        card = isinstance(t, CardRow)
        ref = t.ref if card and t.ref else f"T{t.date:%y%m%d}{t.seq:04d}"
        out.append((t.date, t.payee, t.mcc or MERCHANT_MCC.get(t.payee, ""), t.shown if card else t.amount,
                    t.status if card else "settled", bal, ref))
    return out


def card_canonical(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1) -> bytes:
    """The contract's canonical card layout (profile ``prepaid_card``)."""
    lines = [CARD_HEADER]
    for d, payee, mcc, amount, status, bal, ref in _rows(txns, opening):
        lines.append(f"{d.isoformat()},{_csv_field(payee)},{mcc},{pounds(amount)},{status},{acct.account_number},"
                     f"{pounds(bal)},{ref}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def card_portal(acct: Account, txns: list[Txn], start: date, end: date, opening: int, fitid_base: int = 1) -> bytes:
    """A card portal's export (profile ``prepaid_card_portal``): newest first, DD/MM/YYYY, the card
    number masked to its last 4 digits, "Pending" for an authorisation."""
    lines = []
    for d, payee, mcc, amount, status, bal, ref in _rows(txns, opening):
        lines.append(f"{d:%d/%m/%Y},{_csv_field(payee)},{mcc},{pounds(amount)},{PORTAL_STATUS[status]},"
                     f"************{acct.account_number},{pounds(bal)},{ref[1:]}")
    lines.reverse()
    return ("\n".join([PORTAL_HEADER] + lines) + "\n").encode("utf-8")


# the sample's statements are written through formats.write_statement
formats.WRITERS.update({"card": card_canonical, "card_portal": card_portal})
formats.EXTENSIONS.update({"card": "csv", "card_portal": "csv"})


# ---------------------------------------------------------------------------------------------
# Cases (each: (sim, month, **kw), as the sample's own cases)
# ---------------------------------------------------------------------------------------------
def _add(mo: Month, row: CardRow) -> CardRow:
    mo.seq += 1
    row.seq = mo.seq
    mo.txns.append(row)
    return row


def _routine(mo: Month) -> list[Txn]:
    """The month's receipted routine card purchases (plain rows, not yet a card case's)."""
    return [t for t in mo.txns if t.kind == "card" and t.ev is not None and not isinstance(t, CardRow)
            and t.cat in ("day_activities", "transport", "community_access")]


def _as_card_row(mo: Month, t: Txn, status: str, ref: str) -> CardRow:
    row = CardRow(t.date, t.amount, t.payee, t.kind, ref, t.mcc, t.cat, t.seq, t.ev, status=status)
    mo.txns[mo.txns.index(t)] = row
    return row


def _auth_settle(sim: RecipientSim, mo: Month) -> None:
    """A purchase authorised one day and settled the next: two rows, one payment (no finding)."""
    t = next(t for t in _routine(mo) if t.date.day >= 3)
    ref = f"A{t.date:%y%m%d}{t.seq:04d}"
    _as_card_row(mo, t, "settled", ref)
    _add(mo, CardRow(t.date - timedelta(days=1), 0, t.payee, "card", ref, status="authorised", shown=t.amount))


def _not_moved(status: str):
    def case(sim: RecipientSim, mo: Month, payee: str, amount: int, mcc: str, day: int) -> None:
        """A declined or reversed row: shown, never money (no finding, even at a gambling merchant)."""
        d = mo.day(day)
        _add(mo, CardRow(d, 0, payee, "card", f"{status[0].upper()}{d:%y%m%d}{mo.seq + 1:04d}", mcc, status=status,
                         shown=-amount))
    return case


def _authorised_only(sim: RecipientSim, mo: Month) -> None:
    """The month's last purchase is still only authorised when the export is made: it counts."""
    t = max(_routine(mo), key=lambda t: (t.date, t.seq))
    _as_card_row(mo, t, "authorised", f"P{t.date:%y%m%d}{t.seq:04d}")


def _misuse(sim: RecipientSim, mo: Month, rule: str, payee: str, amount: int, mcc: str, receipt: bool,
            day: int) -> None:
    """Spending the merchant category code gives away (the name has no keyword)."""
    sim._misuse(mo, rule, payee, amount, receipt, kind="card", mcc=mcc, day=day)


def _other_card(sim: RecipientSim, mo: Month, last4: str) -> None:
    """The family also sent the export of another card (their own): DQ-WRONG-ACCOUNT."""
    other = Account("", last4, sim.p.account.holder)
    tx = [Txn(mo.day(9), 5000, "CARD TOP UP", "credit", seq=1),
          Txn(mo.day(11), -2399, "SPORTS DIRECT", "card", mcc="5655", seq=2)]
    name = f"card_{last4}_{mo.period}.csv"
    mo.extra[name] = card_portal(other, tx, mo.first, mo.end, 1250)
    sim.gt(mo.period, "DQ-WRONG-ACCOUNT", None, None, "", f"{name} is the export of another card (****{last4})")


CASES = {"card_auth_settle": _auth_settle, "card_declined": _not_moved("declined"),
         "card_reversed": _not_moved("reversed"), "card_authorised_only": _authorised_only,
         "card_misuse": _misuse, "card_other_card": _other_card}


# ---------------------------------------------------------------------------------------------
# The two card recipients
# ---------------------------------------------------------------------------------------------
def card_scenarios() -> list:
    from dpaudit.synth.sample import Scenario, _lines, _profile  # the sample's builders (imported when run)

    S = []
    S.append(Scenario(_profile("R00013", "card", "Poppy Adams", date(2016, 4, 12), "", "4821", date(2024, 9, 16),
                               _lines([], day=24000, transport=9000, community=5000), [], 120, officer="B. Hussain",
                               charge=100),
                      "Prepaid card ending 4821 (sort_code blank in recipients.csv), canonical card CSV. January: "
                      "a cinema purchase authorised one day and settled the next (two rows, one payment: no finding); a "
                      "£20.00 attempt at BETFRED (MCC 7995) declined (no finding); £38.50 at THE RED LION, a name "
                      "without any keyword whose MCC 5813 (bars) is prohibited (SP-PROHIBITED + EV-NO-EVIDENCE). "
                      "February: £27.35 at EVERYDAY LOCAL 214, MCC 5411 (grocery; SP-HOUSEHOLD, receipted); a "
                      "£24.99 AMAZON MARKETPLACE row reversed (no finding); the month's last purchase still only "
                      "authorised (counted). March: £30.00 from NOTEMACHINE STOCKPORT, MCC 6011 (ATM: SP-CASH + "
                      "EV-NO-EVIDENCE).",
                      {0: [("card_auth_settle", {}),
                           ("card_declined", {"payee": "BETFRED", "amount": 2000, "mcc": "7995", "day": 12}),
                           ("card_misuse", {"rule": "SP-PROHIBITED", "payee": "THE RED LION", "amount": 3850,
                                            "mcc": "5813", "receipt": False, "day": 17})],
                       1: [("card_misuse", {"rule": "SP-HOUSEHOLD", "payee": "EVERYDAY LOCAL 214", "amount": 2735,
                                            "mcc": "5411", "receipt": True, "day": 9}),
                           ("card_reversed", {"payee": "AMAZON MARKETPLACE", "amount": 2499, "mcc": "5942",
                                              "day": 14}),
                           ("card_authorised_only", {})],
                       2: [("card_misuse", {"rule": "SP-CASH", "payee": "NOTEMACHINE STOCKPORT", "amount": 3000,
                                            "mcc": "6011", "receipt": False, "day": 6})]}))
    S.append(Scenario(_profile("R00014", "card_portal", "Jacob Morris", date(2014, 10, 3), "", "7305",
                               date(2025, 7, 7), _lines([], day=20000, transport=8000), [], 120, officer="C. Doyle",
                               charge=100),
                      "Prepaid card ending 7305, the card portal's export (Transaction Date, Merchant Name, MCC, "
                      "..., newest first, \"Pending\" for an authorisation, card number ************7305). "
                      "January: an authorisation and its settlement, a declined £45.00 at SPORTS DIRECT and a "
                      "reversed £32.00 at TICKETMASTER UK (none counted, no finding). February: the family also "
                      "sent the export of another card ending 9932 (DQ-WRONG-ACCOUNT; its rows are not the DP "
                      "card's). March: the export opens £50.00 above February's closing balance "
                      "(DQ-BALANCE-BREAK).",
                      {0: [("card_auth_settle", {}),
                           ("card_declined", {"payee": "SPORTS DIRECT", "amount": 4500, "mcc": "5655", "day": 20}),
                           ("card_reversed", {"payee": "TICKETMASTER UK", "amount": 3200, "mcc": "7922",
                                              "day": 23})],
                       1: [("card_other_card", {"last4": "9932"})],
                       2: [("balance_break", {"shift": 5000})]}))
    return S


README_NOTES = [
    "- `inbox/<YYYY-MM>/R00013/statement_<YYYY-MM>.csv` and `R00014/...`: prepaid-card exports (contract "
    "section 2). Only `settled` rows and `authorised` rows with no settled row of the same reference move money; "
    "`declined` and `reversed` rows, and an authorisation whose settlement is in the file, are shown with the "
    "balance unchanged and are never counted (the ingest counts `card_rows_*` and "
    "`statement_totals.n_not_counted` keep them visible; no finding).",
    "- `inbox/2026-02/R00014/card_9932_2026-02.csv`: the export of another card (`DQ-WRONG-ACCOUNT`; its "
    "transactions are not the DP card's).",
]
NEAR_MISSES = [
    "- R00013 2026-01: a declined £20.00 at BETFRED (MCC 7995) and an authorisation settled the next day; "
    "R00013 2026-02: a reversed £24.99 row; R00014 2026-01: a declined and a reversed row (no SP-*, no "
    "EV-NO-EVIDENCE, no DQ-BALANCE-BREAK).",
]
