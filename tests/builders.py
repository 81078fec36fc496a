"""A tiny council built straight into a store, for rule tests (given/expect tables).

Money is given in pounds as text ("12.50") and stored as pence; dates as ISO text.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dpaudit.audit.data import load_audit_data
from dpaudit.core.money import parse_pence
from dpaudit.core.policy import load_policy
from dpaudit.audit.rules import run_rules
from dpaudit.store import insert_df, open_store


COVERAGE_RULES = ("DQ-STATEMENT-MISSING", "DQ-STATEMENT-GAP")


def _d(s):
    return None if s in (None, "") else pd.Timestamp(s).date()


@dataclass
class Council:
    path: Path
    rows: dict = field(default_factory=lambda: {k: [] for k in (
        "recipients", "plan_lines", "payment_schedule", "employees", "insurance", "providers", "transactions",
        "statements", "receipts", "invoices", "payslips", "hmrc_payments")})
    _pos: int = 0

    def recipient(self, rid="R001", *, start="2025-01-01", end=None, status="active", dob="2015-05-01",
                  sort_code="400004", account="01234567", stop_requested="no", declines=None, holder="Parent",
                  child=None):
        self.rows["recipients"].append(dict(recipient_id=rid, child_name=child or f"Child {rid}", date_of_birth=_d(dob),
                                            management_type="direct_payment", sort_code=sort_code, account_number=account,
                                            account_holder=holder, dp_start_date=_d(start), dp_end_date=_d(end),
                                            status=status, stop_requested=stop_requested, support_officer="Officer A",
                                            young_person_declines=declines))
        return self

    def line(self, rid="R001", line_id="L1", category="personal_assistant", annual="12000.00", *, stream="social_care_respite",
             mt="direct_payment", frm="2025-04-01", to="2026-03-31", school="no", consent=None, providers=None):
        self.rows["plan_lines"].append(dict(recipient_id=rid, line_id=line_id, category=category, description=category,
                                            annual_amount_pence=parse_pence(annual), funding_stream=stream, management_type=mt,
                                            valid_from=_d(frm), valid_to=_d(to), school_setting=school,
                                            setting_consent_date=_d(consent), providers=providers))
        return self

    def schedule(self, rid, due, amount, ref="SMBC DP"):
        self.rows["payment_schedule"].append(dict(recipient_id=rid, due_date=_d(due), amount_pence=parse_pence(amount), reference=ref))
        return self

    def employee(self, rid="R001", eid="E1", name="Mary Jones", *, dob="1990-01-01", dbs="2024-01-01", payee_names=None,
                 rate="13.00"):
        self.rows["employees"].append(dict(recipient_id=rid, employee_id=eid, name=name, ni_number="QQ123456C",
                                           date_of_birth=_d(dob), hourly_rate_pence=parse_pence(rate), start_date=_d("2024-01-01"),
                                           end_date=None, dbs_number="001234", dbs_issue_date=_d(dbs), payee_names=payee_names))
        return self

    def insurance(self, rid="R001", start="2025-01-01", end="2026-12-31", el="yes"):
        self.rows["insurance"].append(dict(recipient_id=rid, policy_number=f"P{len(self.rows['insurance'])}", insurer="Ins",
                                           cover_start=_d(start), cover_end=_d(end), employers_liability=el))
        return self

    def provider(self, name, aliases="", category="agency_care"):
        self.rows["providers"].append(dict(name=name, aliases=aliases, category=category, registered="yes"))
        return self

    def txn(self, rid, date, amount, payee, *, desc="", ttype="DEBIT", mcc=None, account="01234567", balance=None):
        self._pos += 1
        tid = hashlib.sha256(f"{rid}|{date}|{amount}|{payee}|{self._pos}".encode()).hexdigest()[:32]
        self.rows["transactions"].append(dict(txn_id=tid, recipient_id=rid, sort_code="400004", account_number=account,
                                              posted_date=_d(date), amount_pence=parse_pence(amount), description=desc or payee,
                                              payee=payee, txn_type=ttype, mcc=mcc,
                                              balance_pence=None if balance is None else parse_pence(balance),
                                              fitid=None, file_sha256="f" * 64, stmt_index=0, position=self._pos,
                                              period=str(date)[:7]))
        return tid

    def statement(self, rid, start, end, opening, closing=None, account="01234567"):
        self.rows["statements"].append(dict(file_sha256=hashlib.sha256(f"{rid}{start}{account}".encode()).hexdigest(),
                                            stmt_index=0, recipient_id=rid, period=start[:7], source_format="ofx1",
                                            profile="canonical", bank_id="", sort_code="400004", account_number=account,
                                            currency="GBP", start_date=_d(start), end_date=_d(end),
                                            opening_balance_pence=parse_pence(opening),
                                            closing_balance_pence=None if closing is None else parse_pence(closing), n_txns=0))
        return self

    def receipt(self, rid, rid_, date, supplier, amount, category=None):
        self.rows["receipts"].append(dict(recipient_id=rid, receipt_id=rid_, date=_d(date), supplier=supplier,
                                          amount_pence=parse_pence(amount), description="", category=category,
                                          attachment=None, period=date[:7], file_sha256="r" * 64, row_no=2))
        return self

    def invoice(self, rid, inv, date, supplier, amount):
        self.rows["invoices"].append(dict(recipient_id=rid, invoice_id=inv, supplier=supplier, invoice_date=_d(date),
                                          period_start=None, period_end=None, amount_pence=parse_pence(amount), hours=None,
                                          period=date[:7], file_sha256="i" * 64, row_no=2))
        return self

    def payslip(self, rid, eid, pay_date, gross, net, *, tax="0.00", ni="0.00", er_ni="0.00", pension="0.00", hours="10"):
        self.rows["payslips"].append(dict(recipient_id=rid, employee_id=eid, pay_date=_d(pay_date), period_start=None,
                                          period_end=None, hours=hours, gross_pence=parse_pence(gross), tax_pence=parse_pence(tax),
                                          employee_ni_pence=parse_pence(ni), employer_ni_pence=parse_pence(er_ni),
                                          pension_employee_pence=parse_pence(pension), pension_employer_pence=0,
                                          net_pence=parse_pence(net), period=pay_date[:7], file_sha256="p" * 64, row_no=2))
        return self

    def hmrc(self, rid, tax_month, due, paid, paid_date, ref="HMRC"):
        self.rows["hmrc_payments"].append(dict(recipient_id=rid, tax_month=tax_month, amount_due_pence=parse_pence(due),
                                               amount_paid_pence=parse_pence(paid), paid_date=_d(paid_date), reference=ref,
                                               period=tax_month, file_sha256="h" * 64, row_no=2))
        return self

    def audit(self, period, only=None, policy=None):
        """Write the tables and run the rules of one period; return the findings frame.

        The statement-coverage rules (DQ-STATEMENT-MISSING/-GAP) need statement files behind the
        transactions, which these hand-built tables do not model: they run only when named in
        ``only`` (tests/test_ingest_statements.py tests them on real files)."""
        if only is None:
            from dpaudit.audit.rules import RULES
            only = [r for r in RULES if r not in COVERAGE_RULES]
        policy = policy or load_policy()
        with open_store(self.path) as con:
            for table, rows in self.rows.items():
                con.execute(f"DELETE FROM {table}")
                if rows:
                    insert_df(con, table, pd.DataFrame(rows))
            data = load_audit_data(con, period, policy)
            self.last_data = data
            return run_rules(data, only=only)


def simple_council(tmp_path) -> Council:
    """One clean recipient in May 2025: council pays 1000.00, wages 400.00 with payslip, a receipted activity."""
    c = Council(tmp_path / "t.duckdb")
    c.recipient("R001").line("R001", "L1", "personal_assistant", "9000.00").line(
        "R001", "L2", "day_activities", "1200.00", providers="Stockport Leisure")
    c.schedule("R001", "2025-05-01", "1000.00", "SMBC DP R001")
    c.employee("R001", "E1", "Mary Jones", payee_names="M JONES;Molly Jones").insurance("R001")
    c.statement("R001", "2025-05-01", "2025-05-31", "1000.00")
    c.txn("R001", "2025-05-01", "1000.00", "STOCKPORT COUNCIL", desc="SMBC DP R001", ttype="CREDIT")
    c.txn("R001", "2025-05-09", "-400.00", "M JONES", ttype="DEBIT")
    c.payslip("R001", "E1", "2025-05-09", "400.00", "400.00", hours="30")
    c.txn("R001", "2025-05-12", "-25.50", "STOCKPORT LEISURE LTD", ttype="POS")
    c.receipt("R001", "RC1", "2025-05-12", "Stockport Leisure", "25.50")
    return c
