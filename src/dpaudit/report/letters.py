"""Decision letters for accepted REPAY and STOP recommendations (PBP 5.4, 5.5; MDR review route).

Each letter is written three ways from one context: plain text and HTML from the Jinja2 templates
``resources/templates/letter.txt.j2`` and ``letter.html.j2`` (HTML autoescaped), and a Word file
(python-docx) built from the rendered text template, so a council that edits the text template
changes the Word letter too.  A council can keep its own edited copies in a folder and pass it as
``template_dir``.  Text template conventions the Word builder understands: a line underlined with
``---`` is a heading, a line starting ``- `` is a bullet (``  - `` a bullet under it), blank lines
separate paragraphs.

A letter is for a family, not an officer: it names no rule id, ground code or recipient id (the
reference and the payment reference aside); each reason lists the payments behind it (date, payee,
amount); the council's contact details and how to pay come from the policy's ``[council]`` table;
the letter is dated from the recommendation's respond-by date (respond-by - ``repay_days``, i.e.
the period's last day), never from the machine clock, so letter and workbook give the same date.
"""
from __future__ import annotations

import functools

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from docx import Document
from docx.shared import Cm, Pt

from dpaudit.core.dates import parse_period
from dpaudit.core.money import format_gbp
from dpaudit.decide.recommend import RULE_TEXT
from dpaudit.report import atomic_write_bytes

DEFAULT_COUNCIL = "Stockport Council"
DEFAULT_SIGNATORY = "Direct Payments Team, Children's Services"
TEXT_TEMPLATE = "letter.txt.j2"
HTML_TEMPLATE = "letter.html.j2"
LETTER_ACTIONS = ("REPAY", "STOP")
REQUIRED_KEYS = ("recipient_id", "child_name", "account_holder", "support_officer", "action", "amount_pence",
                 "reasons", "respond_by", "period", "letter_date")

# Plain-English names of the grounds a recommendation can rest on: the rule ids' words are the
# rule catalogue's own (``decide.recommend.RULE_TEXT``); the grounds that are no rule are named here.
GROUND_NAMES = {
    "STOP-REQUESTED": "You asked us to stop the direct payment",
    "STOP-NOT-ENTITLED": "The direct payment is no longer due",
    "STOP-MISUSE": "The payment has not been used as agreed",
    "STOP-YOUNG-PERSON": "The young person no longer wishes the payment to be made to a parent or carer",
}
# Any internal code a sentence may carry: a rule id, a ground id, an action code.
_CODE = r"(?:DQ|EV|SP|AC|PY|RV|STOP|YEAR-END|RULE)-[A-Z0-9]+(?:-[A-Z0-9]+)*"
_CODE_IN_BRACKETS = re.compile(r"\s*\((?:" + _CODE + r")(?:\s*[,;]\s*" + _CODE + r")*\)")
_CODE_RE = re.compile(r"\b" + _CODE + r"\b")


def ground_name(ground: str) -> str:
    """A ground (rule id or ``STOP-*``) in words fit for a family."""
    return GROUND_NAMES.get(ground) or RULE_TEXT.get(ground) or "A breach of the council's policy"


def family_text(sentence: str) -> str:
    """A sentence as a family should read it: rule ids and ground codes left out, "PBP" spelt out."""
    s = _CODE_IN_BRACKETS.sub("", str(sentence))
    s = _CODE_RE.sub("", s)
    s = re.sub(r"\bPBP\b", "Personal Budget Policy", s)
    return re.sub(r"\s{2,}", " ", s).replace(" .", ".").replace(" ,", ",").strip()


class LetterError(ValueError):
    """A letter cannot be written from the details given (the message names the recipient and the field)."""


@dataclass(frozen=True)
class Ground:
    rule: str
    name: str
    clause: str


def _listify(v: object) -> list[str]:
    if v is None or (not isinstance(v, (list, tuple, str)) and pd.isna(v)):
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(";") if p.strip()]
    return [str(p).strip() for p in v if str(p).strip()]


def split_reasons(text: object) -> list[str]:
    """A recommendation's reasons text -> one sentence per item (lines first, else sentence ends)."""
    if text is None or (not isinstance(text, (str, list, tuple)) and pd.isna(text)):
        return []
    if isinstance(text, (list, tuple)):
        return [str(t).strip() for t in text if str(t).strip()]
    lines = [ln.strip(" -\t") for ln in str(text).splitlines() if ln.strip(" -\t")]
    if len(lines) > 1:
        return lines
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z£])", str(text).strip()) if s.strip()]


def _clause_text(clause: str) -> str:
    c = clause.strip()
    return re.sub(r"^PBP\s+", "Personal Budget Policy ", c) if c and c != "-" else "council policy"


def _long_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _as_date(v: object, field: str, rid: str) -> date:
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str) and v.strip():
        try:
            return date.fromisoformat(v.strip()[:10])
        except ValueError:
            pass
    raise LetterError(f"letter for recipient {rid}: {field} {v!r} is not a date")


def _grounds(raw: object, clauses: list[str]) -> list[Ground]:
    """Grounds as (rule, clause) pairs.  A ground is a rule id, a ``(rule, clause)`` pair or a dict
    ``{"rule", "clause"}``.  Rule ids without their own clause are not paired with ``clauses`` by
    position (the two lists need not line up); they get every clause given instead."""
    items: list[tuple[str, str | None]] = []
    if isinstance(raw, str) or raw is None or (not isinstance(raw, (list, tuple)) and pd.isna(raw)):
        items = [(r, None) for r in _listify(raw)]
    else:
        for g in raw:
            if isinstance(g, dict):
                items.append((str(g.get("rule", "")).strip(), g.get("clause")))
            elif isinstance(g, (list, tuple)) and len(g) == 2:
                items.append((str(g[0]).strip(), g[1]))
            elif str(g).strip():
                items.append((str(g).strip(), None))
    fallback = ", ".join(_clause_text(c) for c in clauses) or "council policy"
    if not items:
        return [Ground("", "the policy", _clause_text(c)) for c in clauses]
    return [Ground(r, ground_name(r), _clause_text(str(c)) if c else fallback) for r, c in items]


# ------------------------------------------------------------------ the council's details
@functools.lru_cache(maxsize=1)
def _default_council() -> dict[str, Any]:
    from dpaudit.core.policy import load_policy

    return council_details(load_policy())


def council_details(policy: Any = None) -> dict[str, Any]:
    """The policy's ``[council]`` table (contact details, how to pay) as the letters use it; the
    built-in policy's placeholders when ``policy`` is None."""
    if policy is None:
        return _default_council()
    raw = dict(policy.raw.get("council") or {})
    pay = dict(raw.get("payment") or {})
    return {
        "name": str(raw.get("name") or DEFAULT_COUNCIL), "team": str(raw.get("team") or ""),
        "address": [str(a) for a in raw.get("address") or []], "phone": str(raw.get("phone") or ""),
        "email": str(raw.get("email") or ""), "hours": str(raw.get("hours") or ""),
        "signatory": str(raw.get("signatory") or DEFAULT_SIGNATORY),
        "payment": {k: str(v) for k, v in pay.items()},
    }


def _payment_reference(fmt: str, rid: str, period: str) -> str:
    try:
        return fmt.format(recipient_id=rid, period=period)
    except (KeyError, IndexError, ValueError) as exc:
        raise LetterError(f"the policy's council.payment.reference {fmt!r} can use only {{recipient_id}} and "
                          f"{{period}}: {exc}") from None


# ------------------------------------------------------------------ reasons and their payments
def _payment_rows(raw: object, rid: str) -> list[dict[str, Any]]:
    """Payments as the letter lists them: date (long form), payee, amount; in date order."""
    rows = []
    for p in raw or []:
        amount = p.get("amount_pence")
        when = p.get("date")
        rows.append({
            "sort": (_as_date(when, "payment date", rid) if when is not None and not pd.isna(when) else date.max,
                     str(p.get("payee") or "")),
            "date": _long_date(_as_date(when, "payment date", rid)) if when is not None and not pd.isna(when) else "",
            "payee": str(p.get("payee") or "").strip() or "(no payee shown on the statement)",
            "amount": format_gbp(int(amount)) if amount is not None and not pd.isna(amount) else "",
            "amount_pence": None if amount is None or pd.isna(amount) else int(amount),
        })
    rows.sort(key=lambda r: r["sort"])
    for r in rows:
        del r["sort"]
    return rows


def _reason_items(raw: object, rid: str) -> list[dict[str, Any]]:
    """Reasons as ``{"text", "payments"}``: codes left out, "PBP" spelt out, each reason once."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in (raw if isinstance(raw, (list, tuple)) else split_reasons(raw)):
        text, payments = (r.get("text", ""), r.get("payments")) if isinstance(r, dict) else (r, None)
        for sentence in ([text] if isinstance(r, dict) else split_reasons(text) or [text]):
            t = family_text(sentence)
            if not t or t in seen:
                continue
            seen.add(t)
            items.append({"text": t, "payments": _payment_rows(payments, rid)})
            payments = None  # a dict's payments belong to its first sentence
    return items


def letter_context(letter: dict[str, Any]) -> dict[str, Any]:
    """Check one letter's details and turn them into the template context."""
    rid = str(letter.get("recipient_id", "?"))
    missing = [k for k in REQUIRED_KEYS if k not in letter or letter[k] is None or
               (isinstance(letter[k], str) and not letter[k].strip())]
    if missing:
        raise LetterError(f"letter for recipient {rid}: missing {', '.join(missing)}")
    action = str(letter["action"]).strip().upper()
    if action not in LETTER_ACTIONS:
        raise LetterError(f"letter for recipient {rid}: action {action!r} has no letter; only REPAY and STOP do")
    amount = int(letter["amount_pence"])
    if amount < 0:
        raise LetterError(f"letter for recipient {rid}: amount_pence {amount} is negative")
    if action == "REPAY" and amount == 0:
        raise LetterError(f"letter for recipient {rid}: a REPAY letter needs an amount above £0.00")
    reasons = _reason_items(letter["reasons"], rid)
    if not reasons:
        raise LetterError(f"letter for recipient {rid}: no reasons given; a decision letter must state its reasons")
    letter_date = _as_date(letter["letter_date"], "letter_date", rid)
    respond_by = _as_date(letter["respond_by"], "respond_by", rid)
    if respond_by <= letter_date:
        raise LetterError(f"letter for recipient {rid}: respond_by {respond_by} is not after the letter date {letter_date}")
    grounds = _grounds(letter.get("grounds"), _listify(letter.get("clauses")))
    period = str(letter["period"])
    try:
        start, _ = parse_period(period)
        period_label = f"{start:%B %Y}"
    except ValueError:
        period_label = period
    period_label = str(letter.get("period_label") or period_label)
    council = dict(letter.get("council") or council_details())
    if letter.get("council_name"):
        council["name"] = str(letter["council_name"])
    if letter.get("signatory"):
        council["signatory"] = str(letter["signatory"])
    pay = dict(council.get("payment") or {})
    pay["reference"] = _payment_reference(pay.get("reference") or "DP {recipient_id}", rid, period)
    return {
        "council": council,
        "council_name": council["name"],
        "signatory": council["signatory"],
        "pay": pay,
        "recipient_id": rid,
        "child_name": str(letter["child_name"]),
        "account_holder": str(letter["account_holder"]),
        "support_officer": str(letter["support_officer"]),
        "action": action,
        "is_stop": action == "STOP",
        "is_repay": action == "REPAY",
        "amount_pence": amount,
        "amount": format_gbp(amount),
        # a sentence after "The amount to repay is ..." (a year end: the amount is the council's share)
        "amount_note": str(letter.get("amount_note") or "").strip(),
        "reasons": reasons,
        "grounds": [{"name": g.name, "clause": g.clause} for g in grounds],
        "clauses": [_clause_text(c) for c in _listify(letter.get("clauses"))],
        "respond_by": _long_date(respond_by),
        "respond_by_iso": respond_by.isoformat(),
        "days_to_respond": (respond_by - letter_date).days,
        "letter_date": _long_date(letter_date),
        "letter_date_iso": letter_date.isoformat(),
        "period": period,
        "period_label": period_label,
        "reference": f"DP/{rid}/{period}",
    }


@functools.lru_cache(maxsize=8)
def _environment(template_dir: Path | None) -> jinja2.Environment:
    """One Jinja environment per template folder: templates compile once, not once per letter."""
    if template_dir is not None:
        loader: jinja2.BaseLoader = jinja2.FileSystemLoader(str(template_dir))
    else:
        loader = jinja2.FileSystemLoader(str(resources.files("dpaudit.resources").joinpath("templates")))
    return jinja2.Environment(loader=loader, autoescape=lambda name: bool(name) and name.endswith((".html.j2", ".html")),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render_text(context: dict[str, Any], template_dir: Path | None = None) -> str:
    text = _environment(template_dir).get_template(TEXT_TEMPLATE).render(**context)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_html(context: dict[str, Any], template_dir: Path | None = None) -> str:
    return _environment(template_dir).get_template(HTML_TEMPLATE).render(**context)


_UNDERLINE = re.compile(r"^\s*[-=]{3,}\s*$")


def text_to_docx(text: str, *, title: str, author: str, created: date) -> Document:
    """The rendered text letter as a Word document (headings, bullets and paragraphs kept)."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(11)
    for section in doc.sections:  # A4 with 2 cm margins, as a council's letters are printed
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)
        section.left_margin = section.right_margin = Cm(2.0)
        section.top_margin = section.bottom_margin = Cm(1.8)
    doc.core_properties.title = title
    doc.core_properties.author = author
    doc.core_properties.created = datetime(created.year, created.month, created.day)
    lines = text.splitlines()
    block: list[str] = []

    def flush() -> None:
        if block:
            p = doc.add_paragraph()
            for i, ln in enumerate(block):
                run = p.add_run(ln)
                if i < len(block) - 1:
                    run.add_break()
            block.clear()

    headings = 0
    i = 0
    while i < len(lines):
        ln = lines[i].rstrip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if ln.strip() and _UNDERLINE.match(nxt):
            flush()
            doc.add_heading(ln.strip(), level=1 if headings == 0 else 2)
            headings += 1
            i += 2
            continue
        if ln.startswith("- "):
            flush()
            doc.add_paragraph(ln[2:].strip(), style="List Bullet")
        elif re.match(r"^\s{2,}- ", ln):
            flush()
            doc.add_paragraph(ln.strip()[2:].strip(), style="List Bullet 2")
        elif not ln.strip():
            flush()
        elif re.match(r"^\d+\. ", ln):
            flush()
            doc.add_paragraph(ln.split(" ", 1)[1], style="List Number")
        else:
            block.append(ln)
        i += 1
    flush()
    return doc


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)[:80] or "recipient"


def write_letters(out_dir: Path | str, letters: list[dict[str, Any]], *, template_dir: Path | str | None = None) -> list[Path]:
    """Write each letter as ``<period>_<recipient>_<action>.docx``, ``.txt`` and ``.html``; return the paths.

    All letters are checked before any file is written; a bad one raises :class:`LetterError`.
    """
    out = Path(out_dir)
    tdir = Path(template_dir) if template_dir is not None else None
    contexts = [letter_context(letter) for letter in letters]
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for ctx in contexts:
        stem = f"{_safe_name(ctx['period'])}_{_safe_name(ctx['recipient_id'])}_{ctx['action'].lower()}"
        text = render_text(ctx, tdir)
        html = render_html(ctx, tdir)
        doc = text_to_docx(text, title=f"{ctx['council_name']}: {ctx['reference']}", author=ctx["council_name"],
                           created=date.fromisoformat(ctx["letter_date_iso"]))
        docx_path = out / f"{stem}.docx"
        tmp = out / f".{stem}.docx.tmp"
        doc.save(str(tmp))
        tmp.replace(docx_path)
        paths.append(docx_path)
        paths.append(atomic_write_bytes(out / f"{stem}.txt", text.encode("utf-8")))
        paths.append(atomic_write_bytes(out / f"{stem}.html", html.encode("utf-8")))
    return paths


# Sentences of a recommendation's reasons that the letter states in its own words (decision, date).
_OWN_WORDS = re.compile(r"^(We recommend\b|Please respond by\b|In addition, .* should be repaid\b|.*\ban officer dismissed\b)")
STOP_CLAUSE = "PBP 5.5"
STOP_MISUSE = "STOP-MISUSE"
YEAR_END_GROUND = "YEAR-END-SURPLUS"
GROUND_NAMES[YEAR_END_GROUND] = ("Money left in the account at the end of the financial year above the amount that "
                                 "may be carried forward")
# The one STOP ground sentence that has payments behind it (recommend: "The payment has not been used as agreed: ...").
_NOT_USED_AS_AGREED = re.compile(r"\bnot been used as agreed\b", re.IGNORECASE)


def letter_reasons(text: object) -> list[str]:
    """The reasons sentences fit for the family: the recommendation's own framing is left out."""
    return [r for r in split_reasons(text) if not _OWN_WORDS.match(r)]


def _with_payments(sentences: list[str], grounds: list[str], payments: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """Each reason sentence with the payments of the grounds it names (each payment under one reason only).

    A recommendation's sentence names its rule in brackets ("... (SP-HOUSEHOLD): 1 payment ..."); the
    "not used as agreed" sentence of a STOP gets the earlier months' misuse (:func:`letter_payments`)."""
    listed: set[object] = set()
    out = []
    for s in sentences:
        codes = re.findall(_CODE, s)
        if not codes and STOP_MISUSE in grounds and _NOT_USED_AS_AGREED.search(s):
            codes = [STOP_MISUSE]
        rows = []
        for code in codes:
            for p in payments.get(code, []):
                key = p.get("txn_ref") or id(p)
                if key in listed:
                    continue
                listed.add(key)
                rows.append(p)
        out.append({"text": s, "payments": rows})
    return out


def build_letters(recommendations: pd.DataFrame, statuses: pd.DataFrame, recipients: pd.DataFrame, *,
                  letter_date: date | None = None, council_name: str | None = None, repay_days: int = 28,
                  clause_of: dict[str, str] | None = None, council: dict[str, Any] | None = None,
                  payments: dict[str, dict[str, list[dict]]] | None = None) -> list[dict[str, Any]]:
    """Letter details for every REPAY/STOP recommendation an officer has accepted.

    ``statuses`` is ``decisions.current_status`` (ids ``REC-<period>-<recipient_id>``); ``recipients``
    has ``recipient_id, child_name, account_holder, support_officer``; ``clause_of`` maps a rule id to
    its clause (``STOP-*`` grounds are PBP 5.5); ``payments`` (from :func:`letter_payments`) lists the
    payments behind each ground per recipient; ``council`` is :func:`council_details`.

    Dates come from the recommendation, as the workbook shows them: respond by its ``respond_by``,
    letter dated ``repay_days`` before that (the period's last day).  A recommendation without a
    respond-by date gets ``letter date + repay_days`` (the letter date: ``letter_date`` if given,
    else the period's last day); an explicit ``letter_date`` on or after a respond-by date moves the
    respond-by date to ``letter_date + repay_days``.
    """
    clause_of = clause_of or {}
    payments = payments or {}
    accepted = set(statuses.loc[statuses["status"] == "accepted", "exception_id"].astype(str)) if len(statuses) else set()
    ppl = recipients.drop_duplicates("recipient_id")
    people = ppl.set_index(ppl["recipient_id"].astype(str))
    out = []
    recs = recommendations.sort_values(["period", "recipient_id"], kind="mergesort")
    for r in recs.itertuples(index=False):
        action = str(r.action).upper()
        rid = str(r.recipient_id)
        if action not in LETTER_ACTIONS or f"REC-{r.period}-{rid}" not in accepted:
            continue
        if rid not in people.index:
            raise LetterError(f"recipient {rid} has an accepted {action} recommendation but is not in recipients.csv")
        person = people.loc[rid]
        respond_by = None if r.respond_by is None or pd.isna(r.respond_by) else _as_date(r.respond_by, "respond_by", rid)
        dated = letter_date
        if respond_by is None:
            try:
                base = dated or parse_period(str(r.period))[1]
            except ValueError as exc:
                raise LetterError(f"letter for recipient {rid}: no respond_by and period {r.period!r} is no month") from exc
            respond_by = base + timedelta(days=repay_days)
        if dated is None:
            dated = respond_by - timedelta(days=repay_days)
        elif respond_by <= dated:
            respond_by = dated + timedelta(days=repay_days)
        rules = _listify(r.grounds)
        grounds = [(g, STOP_CLAUSE if g.startswith("STOP-") else clause_of.get(g)) for g in rules]
        sentences = letter_reasons(r.reasons) or split_reasons(r.reasons)
        amount = 0 if r.amount_pence is None or pd.isna(r.amount_pence) else int(r.amount_pence)
        out.append(_letter(rid, person, council, council_name, action=action, amount_pence=amount,
                           reasons=_with_payments(sentences, rules, payments.get(rid, {})), grounds=grounds,
                           clauses=_listify(r.clauses), respond_by=respond_by, period=str(r.period), letter_date=dated))
    return out


def _letter(rid: str, person: Any, council: dict[str, Any] | None, council_name: str | None, **fields: Any) -> dict[str, Any]:
    """A letter's details: who it is to (from recipients.csv), the council's, and ``fields``."""
    letter = {"recipient_id": rid, "child_name": person.get("child_name"), "account_holder": person.get("account_holder"),
              "support_officer": person.get("support_officer") or "your direct payments officer", **fields}
    if council is not None:
        letter["council"] = council
    if council_name:
        letter["council_name"] = council_name
    return letter


def letter_payments(con: Any, period: str, policy: Any, recipient_ids: list[str] | None = None
                    ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per recipient and ground, the payments a letter for ``period`` lists (dismissed findings never).

    The selection is the recommendation's (``decide.recommend``): misused spend of the period, each
    payment under the first ``repay_rules`` rule that flags it; unevidenced debits whose grace period
    ends in the period, unless misused or since matched to evidence; and, for a STOP because the
    payment was not used as agreed, the high-severity misuse of the earlier months looked back on."""
    from dpaudit.core.dates import previous_period
    from dpaudit.decide.recommend import UNEVIDENCED_RULE, load_findings

    f = load_findings(con)
    f = f[~f["dismissed"]]
    if recipient_ids is not None:
        f = f[f["recipient_id"].astype(str).isin([str(x) for x in recipient_ids])]
    if f.empty:
        return {}
    p_start, p_end = parse_period(period)
    repay_rules = [str(x) for x in policy.raw["recommend"]["repay_rules"]]
    misuse_rules = [str(x) for x in policy.raw["recommend"]["misuse_rules"]]
    grace = pd.Timedelta(days=policy.days("evidence_grace_days"))

    def first_per_txn(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
        rank = {r: i for i, r in enumerate(order)}
        return (frame.assign(_rank=frame["rule_id"].map(rank).fillna(len(order)))
                .sort_values(["recipient_id", "txn_key", "_rank", "period", "exception_id"])
                .drop_duplicates(["recipient_id", "txn_key"]).drop(columns="_rank"))

    cur = f[f["period"] == period]
    misuse = first_per_txn(cur[cur["rule_id"].isin(repay_rules)], repay_rules)
    misused = set(zip(f.loc[f["rule_id"].isin(repay_rules), "recipient_id"], f.loc[f["rule_id"].isin(repay_rules), "txn_key"]))
    ends = f["txn_date"] + grace
    unev = f[(f["rule_id"] == UNEVIDENCED_RULE) & f["txn_date"].notna()
             & (ends >= pd.Timestamp(p_start)) & (ends <= pd.Timestamp(p_end))]
    matched = {row[0] for row in con.execute("SELECT DISTINCT txn_id FROM matches WHERE txn_id IS NOT NULL").fetchall()}
    keep = pd.Series([((rid, k) not in misused) and (k not in matched)
                      for rid, k in zip(unev["recipient_id"], unev["txn_key"])], index=unev.index, dtype=bool)
    unev = first_per_txn(unev[keep], [UNEVIDENCED_RULE])
    earlier, p = [], period
    for _ in range(int(policy.days("stop_lookback_months")) - 1):
        p = previous_period(p)
        earlier.append(p)
    hm = first_per_txn(f[f["rule_id"].isin(misuse_rules) & (f["severity"] == "high") & f["period"].isin(earlier)],
                       misuse_rules).assign(rule_id=STOP_MISUSE)

    payee = dict(con.execute("SELECT exception_id, counterparty FROM findings WHERE recipient_id IN "
                             "(SELECT unnest(?::VARCHAR[]))", [sorted(set(f["recipient_id"].astype(str)))]).fetchall())
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for frame in (misuse, unev, hm):
        for row in frame.itertuples(index=False):
            when = None if pd.isna(row.txn_date) else pd.Timestamp(row.txn_date).date()
            ref = None if row.txn_ref is None or pd.isna(row.txn_ref) else str(row.txn_ref)
            out.setdefault(str(row.recipient_id), {}).setdefault(str(row.rule_id), []).append(
                {"date": when, "payee": payee.get(row.exception_id) or "", "amount_pence": int(row.amount_pence),
                 "txn_ref": ref})
    return out


def write_accepted_letters(con: Any, out_dir: Path | str, period: str, *, policy: Any = None,
                           letter_date: date | None = None, council_name: str | None = None,
                           repay_days: int | None = None, template_dir: Path | str | None = None) -> list[Path]:
    """Letters for the period's REPAY/STOP recommendations accepted in the decision log (store tables
    ``recommendations``, ``decisions``, ``recipients``; clauses and payments from ``findings``).
    ``policy`` gives the council's details (``[council]``) and ``repay_days`` (default: the built-in policy)."""
    from dpaudit.core.policy import load_policy
    from dpaudit.decide.decisions import current_status

    recs = con.execute("SELECT recipient_id, period, action, amount_pence, grounds, clauses, reasons, respond_by "
                       "FROM recommendations WHERE period = ? AND upper(action) IN ('REPAY', 'STOP') ORDER BY recipient_id",
                       [period]).df()
    if recs.empty:
        return []
    ids = [f"REC-{period}-{rid}" for rid in recs["recipient_id"].astype(str)]
    statuses = current_status(con, ids)
    if not (statuses["status"] == "accepted").any():
        return []
    policy = policy if policy is not None else load_policy()
    people = con.execute("SELECT recipient_id, child_name, account_holder, support_officer FROM recipients").df()
    clause_of = dict(con.execute("SELECT rule_id, any_value(clause) FROM findings GROUP BY rule_id").fetchall())
    accepted_ids = [i.split("-", 3)[-1] for i in statuses.loc[statuses["status"] == "accepted", "exception_id"]]
    letters = build_letters(recs, statuses, people, letter_date=letter_date, council_name=council_name,
                            repay_days=policy.days("repay_days") if repay_days is None else repay_days,
                            clause_of=clause_of, council=council_details(policy),
                            payments=letter_payments(con, period, policy, accepted_ids))
    return write_letters(out_dir, letters, template_dir=template_dir)


def council_share_note(amount_pence: int, family_share_pence: object, contributions_in_pence: object) -> str:
    """What a year-end letter says about the amount when client contributions were paid in: it is the
    council's share of what was held back, and the family's share is named and not asked back
    (decision 49).  Nothing otherwise."""
    family = 0 if family_share_pence is None or pd.isna(family_share_pence) else int(family_share_pence)
    contrib = 0 if contributions_in_pence is None or pd.isna(contributions_in_pence) else int(contributions_in_pence)
    if contrib > 0:
        return (f"This is the council's share of the {format_gbp(amount_pence + family)} held back: the other "
                f"{format_gbp(family)} is the share of your own client contributions and is not asked back.")
    return ""  # no contributions paid in: all of it is council funding, and a family paying none is not told of them


def year_end_letters(year_end: pd.DataFrame, recipients: pd.DataFrame, *, fy: int, letter_date: date | None = None,
                     council_name: str | None = None, repay_days: int = 28,
                     council: dict[str, Any] | None = None,
                     decided_on: dict[str, date] | None = None) -> list[dict[str, Any]]:
    """Letter details for every recipient with a year-end repayment (PBP 5.3, 5.4), for :func:`write_letters`.
    The amount asked for is the council's share (``repayment_pence``); the letter says so, and names the
    family's share when client contributions were paid in (``family_share_pence``, ``contributions_in_pence``).

    Dated the day the officer accepted the repayment (``decided_on``), else ``letter_date``, else the
    last day of the financial year (31 March), so a year end run twice writes the same letters;
    respond by ``repay_days`` after the letter date."""
    ppl = recipients.drop_duplicates("recipient_id")
    people = ppl.set_index(ppl["recipient_id"].astype(str))
    out = []
    for r in year_end.sort_values("recipient_id", kind="mergesort").itertuples(index=False):
        amount = 0 if pd.isna(r.repayment_pence) else int(r.repayment_pence)
        rid = str(r.recipient_id)
        if amount <= 0:
            continue
        if rid not in people.index:
            raise LetterError(f"recipient {rid} must repay at year end but is not in recipients.csv")
        person = people.loc[rid]
        # dated the day an officer accepted the repayment (a letter follows a decision), else 31 March
        dated = (decided_on or {}).get(rid) or letter_date or date(fy + 1, 3, 31)
        reasons = split_reasons(r.reasons) or [
            f"At 31 March {fy + 1} the account held more than the 10% of the year's direct payment that may be "
            f"carried forward (PBP 5.3)."]
        out.append(_letter(rid, person, council, council_name, action="REPAY", amount_pence=amount, reasons=reasons,
                           amount_note=council_share_note(amount, getattr(r, "family_share_pence", 0),
                                                          getattr(r, "contributions_in_pence", 0)),
                           grounds=[(YEAR_END_GROUND, "PBP 5.3, 5.4")], clauses=["PBP 5.3", "PBP 5.4"],
                           respond_by=dated + timedelta(days=repay_days), period=f"FY{fy}",
                           period_label=f"the financial year April {fy} to March {fy + 1}", letter_date=dated))
    return out
