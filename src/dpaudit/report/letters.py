"""Decision letters for accepted REPAY and STOP recommendations (PBP 5.4, 5.5; MDR review route).

Each letter is written three ways from one context: plain text and HTML from the Jinja2 templates
``resources/templates/letter.txt.j2`` and ``letter.html.j2`` (HTML autoescaped), and a Word file
(python-docx) built from the rendered text template, so a council that edits the text template
changes the Word letter too.  A council can keep its own edited copies in a folder and pass it as
``template_dir``.  Text template conventions the Word builder understands: a line underlined with
``---`` is a heading, a line starting ``- `` is a bullet, blank lines separate paragraphs.
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
from docx.shared import Pt

from dpaudit.core.dates import parse_period
from dpaudit.core.money import format_gbp
from dpaudit.report import atomic_write_bytes

DEFAULT_COUNCIL = "Stockport Council"
DEFAULT_SIGNATORY = "Direct Payments Team, Children's Services"
TEXT_TEMPLATE = "letter.txt.j2"
HTML_TEMPLATE = "letter.html.j2"
LETTER_ACTIONS = ("REPAY", "STOP")
REQUIRED_KEYS = ("recipient_id", "child_name", "account_holder", "support_officer", "action", "amount_pence",
                 "reasons", "respond_by", "period")

# Plain-English names of the grounds a recommendation can rest on (rule ids of rules.md).
GROUND_NAMES = {
    "SP-PROHIBITED": "spending on things the policy does not allow (such as alcohol or gambling)",
    "SP-HOUSEHOLD": "spending on household bills or items not agreed in the support plan",
    "SP-TRANSFER-OUT": "money transferred out to another account that is not an agreed payee",
    "SP-AFTER-END": "spending after the direct payment ended or was stopped",
    "SP-NOT-IN-PLAN": "spending on support that is not in the support plan",
    "SP-CASH": "cash withdrawals without receipts",
    "SP-OVER-BUDGET": "spending above the budget agreed in the support plan",
    "SP-SCHOOL-CONSENT": "spending on support in a school setting without the setting's consent",
    "SP-DUPLICATE-PAYMENT": "the same supply paid for twice",
    "EV-NO-EVIDENCE": "payments with no receipt, invoice or payslip",
    "EV-AMOUNT-MISMATCH": "payments that do not match their receipt or invoice",
    "AC-SURPLUS": "money held back in the account above the agreed contingency",
    "AC-NON-COUNCIL-CREDIT": "money paid into the account that is not the direct payment",
    "AC-OVERDRAWN": "the account going overdrawn",
    "PY-NO-PAYSLIP": "wages paid without a payslip",
    "PY-HMRC-UNPAID": "tax and National Insurance not paid to HMRC",
    "PY-NO-INSURANCE": "employing someone without employer's liability insurance",
    "PY-DBS-MISSING": "employing someone without an up-to-date DBS check",
    "PY-BELOW-MIN-WAGE": "wages below the National Minimum Wage",
    "STOP-REQUESTED": "you asked us to stop the direct payment",
    "STOP-NOT-ENTITLED": "the direct payment is no longer due",
    "STOP-MISUSE": "the payment has not been used as agreed",
    "STOP-YOUNG-PERSON": "the young person no longer wishes the payment to be made to a parent or carer",
}


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
    return [Ground(r, GROUND_NAMES.get(r, r), _clause_text(str(c)) if c else fallback) for r, c in items]


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
    reasons = split_reasons(letter["reasons"])
    if not reasons:
        raise LetterError(f"letter for recipient {rid}: no reasons given; a decision letter must state its reasons")
    letter_date = _as_date(letter.get("letter_date") or date.today(), "letter_date", rid)
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
    return {
        "council_name": str(letter.get("council_name") or DEFAULT_COUNCIL),
        "signatory": str(letter.get("signatory") or DEFAULT_SIGNATORY),
        "recipient_id": rid,
        "child_name": str(letter["child_name"]),
        "account_holder": str(letter["account_holder"]),
        "support_officer": str(letter["support_officer"]),
        "action": action,
        "is_stop": action == "STOP",
        "is_repay": action == "REPAY",
        "amount_pence": amount,
        "amount": format_gbp(amount),
        "reasons": reasons,
        "grounds": [{"rule": g.name if not g.rule else f"{g.name} ({g.rule})", "clause": g.clause} for g in grounds],
        "clauses": [_clause_text(c) for c in _listify(letter.get("clauses"))],
        "respond_by": _long_date(respond_by),
        "respond_by_iso": respond_by.isoformat(),
        "days_to_respond": (respond_by - letter_date).days,
        "letter_date": _long_date(letter_date),
        "period": period,
        "period_label": period_label,
        "reference": f"DP-{rid}-{period}-{action}",
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
    for ctx, letter in zip(contexts, letters):
        stem = f"{_safe_name(ctx['period'])}_{_safe_name(ctx['recipient_id'])}_{ctx['action'].lower()}"
        text = render_text(ctx, tdir)
        html = render_html(ctx, tdir)
        letter_date = _as_date(letter.get("letter_date") or date.today(), "letter_date", ctx["recipient_id"])
        doc = text_to_docx(text, title=f"{ctx['council_name']}: {ctx['reference']}", author=ctx["council_name"],
                           created=letter_date)
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
YEAR_END_GROUND = "YEAR-END-SURPLUS"
GROUND_NAMES[YEAR_END_GROUND] = "money left in the account at the end of the financial year above the amount that may be carried forward"


def letter_reasons(text: object) -> list[str]:
    """The reasons sentences fit for the family: the recommendation's own framing is left out."""
    return [r for r in split_reasons(text) if not _OWN_WORDS.match(r)]


def build_letters(recommendations: pd.DataFrame, statuses: pd.DataFrame, recipients: pd.DataFrame, *,
                  letter_date: date, council_name: str = DEFAULT_COUNCIL, repay_days: int = 28,
                  clause_of: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Letter details for every REPAY/STOP recommendation an officer has accepted.

    ``statuses`` is ``decisions.current_status`` (ids ``REC-<period>-<recipient_id>``); ``recipients``
    has ``recipient_id, child_name, account_holder, support_officer``; ``clause_of`` maps a rule id to
    its clause (``STOP-*`` grounds are PBP 5.5).  A recommendation whose respond-by date is missing or
    not after the letter date gets ``letter_date + repay_days``.
    """
    clause_of = clause_of or {}
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
        respond_by = r.respond_by
        if respond_by is None or pd.isna(respond_by) or _as_date(respond_by, "respond_by", rid) <= letter_date:
            respond_by = letter_date + timedelta(days=repay_days)
        rules = _listify(r.grounds)
        grounds = [(g, STOP_CLAUSE if g.startswith("STOP-") else clause_of.get(g)) for g in rules]
        reasons = letter_reasons(r.reasons) or split_reasons(r.reasons)
        amount = 0 if r.amount_pence is None or pd.isna(r.amount_pence) else int(r.amount_pence)
        out.append({
            "recipient_id": rid, "child_name": person.get("child_name"), "account_holder": person.get("account_holder"),
            "support_officer": person.get("support_officer") or "your direct payments officer", "action": action,
            "amount_pence": amount, "reasons": reasons, "grounds": grounds, "clauses": _listify(r.clauses),
            "respond_by": _as_date(respond_by, "respond_by", rid), "period": str(r.period),
            "council_name": council_name, "letter_date": letter_date,
        })
    return out


def write_accepted_letters(con: Any, out_dir: Path | str, period: str, *, letter_date: date | None = None,
                           council_name: str = DEFAULT_COUNCIL, repay_days: int = 28,
                           template_dir: Path | str | None = None) -> list[Path]:
    """Letters for the period's REPAY/STOP recommendations accepted in the decision log (store tables
    ``recommendations``, ``decisions``, ``recipients``; clauses from ``findings``)."""
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
    people = con.execute("SELECT recipient_id, child_name, account_holder, support_officer FROM recipients").df()
    clause_of = dict(con.execute("SELECT rule_id, any_value(clause) FROM findings GROUP BY rule_id").fetchall())
    letters = build_letters(recs, statuses, people, letter_date=letter_date or date.today(), council_name=council_name,
                            repay_days=repay_days, clause_of=clause_of)
    return write_letters(out_dir, letters, template_dir=template_dir)


def year_end_letters(year_end: pd.DataFrame, recipients: pd.DataFrame, *, fy: int, letter_date: date,
                     council_name: str = DEFAULT_COUNCIL, repay_days: int = 28) -> list[dict[str, Any]]:
    """Letter details for every recipient with a year-end repayment (PBP 5.3, 5.4), for :func:`write_letters`."""
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
        reasons = split_reasons(r.reasons) or [
            f"At 31 March {fy + 1} the account held more than the 10% of the year's direct payment that may be "
            f"carried forward (PBP 5.3)."]
        out.append({
            "recipient_id": rid, "child_name": person.get("child_name"), "account_holder": person.get("account_holder"),
            "support_officer": person.get("support_officer") or "your direct payments officer", "action": "REPAY",
            "amount_pence": amount, "reasons": reasons, "grounds": [(YEAR_END_GROUND, "PBP 5.3, 5.4")],
            "clauses": ["PBP 5.3", "PBP 5.4"], "respond_by": letter_date + timedelta(days=repay_days),
            "period": f"FY{fy}", "period_label": f"the financial year April {fy} to March {fy + 1}",
            "council_name": council_name, "letter_date": letter_date,
        })
    return out
