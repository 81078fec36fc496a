"""Every input schema with valid and invalid rows; quarantine, not crash."""
import pandas as pd
import pytest

from dpaudit.ingest.schemas import ALIASES, SPECS, validate

VALID = {
    "recipients": dict(recipient_id="007", child_name="A Child", date_of_birth="01/02/2014", management_type="direct_payment",
                       sort_code="40-00-04", account_number="01234567", account_holder="Parent", dp_start_date="2025-04-01",
                       dp_end_date="", status="active", stop_requested="no", support_officer="Ann"),
    "support_plan_lines": dict(recipient_id="007", line_id="L1", category="personal_assistant", description="PA",
                               annual_amount="£12,000.00", funding_stream="social_care_respite", management_type="direct_payment",
                               valid_from="01/04/2025", valid_to="31/03/2026", school_setting="no", setting_consent_date="",
                               providers="A;B"),
    "payment_schedule": dict(recipient_id="007", due_date="01/04/2025", amount="1,000.00", reference="SMBC DP 007"),
    "employees": dict(recipient_id="007", employee_id="E01", name="Mary Jones", ni_number="QQ 12 34 56 C",
                      date_of_birth="1990-01-01", hourly_rate="12.50", start_date="2024-01-01", end_date="",
                      dbs_number="001234567890", dbs_issue_date="2024-01-01", payee_names="M JONES"),
    "insurance": dict(recipient_id="007", policy_number="P1", insurer="Ins Co", cover_start="2025-01-01",
                      cover_end="2025-12-31", employers_liability="Yes"),
    "providers": dict(name="Homecare Solutions Ltd", aliases="HOMECARE SOLNS", category="agency_care", registered="yes"),
    "receipts": dict(receipt_id="R1", date="05 Apr 2025", supplier="Leisure", amount="(12.50)", description="swim"),
    "payslips": dict(employee_id="E01", pay_date="25/04/2025", period_start="01/04/2025", period_end="30/04/2025",
                     hours="37.5", gross="500.00", tax="40.00", employee_ni="10.00", employer_ni="20.00",
                     pension_employee="0", pension_employer="0", net="450.00"),
    "hmrc": dict(tax_month="2025-04", amount_due="70.00", amount_paid="70.00", paid_date="20/05/2025", reference="123PA"),
    "invoices": dict(invoice_id="INV-1", supplier="Homecare", invoice_date="2025-04-30", period_start="2025-04-01",
                     period_end="2025-04-30", amount="1,234.56", hours="40"),
    "contributions": dict(recipient_id="007", amount="£25.00", frequency="4-Weekly", start_date="06/04/2025",
                          end_date=""),
}
INVALID = {
    "recipients": [("sort_code", "4-00-04"), ("account_number", "12345678901"), ("management_type", "cash"),
                   ("dp_start_date", "31/02/2025"), ("status", "paused"), ("dp_end_date", "2025-01-01")],
    "support_plan_lines": [("annual_amount", "£1,234.5O"), ("category", "groceries"), ("school_setting", "maybe")],
    "payment_schedule": [("amount", "ten pounds"), ("due_date", "2025-02-30")],
    "employees": [("ni_number", "123"), ("hourly_rate", "12.555"), ("end_date", "2023-01-01")],
    "insurance": [("employers_liability", "y"), ("cover_end", "2024-01-01")],
    "providers": [("registered", "perhaps")],
    "receipts": [("amount", "£1,234.5O"), ("date", "31/02/2025"), ("supplier", "")],
    "payslips": [("gross", ""), ("hours", "ten"), ("period_end", "2025-03-01")],
    "hmrc": [("tax_month", "2025-4"), ("amount_due", "x")],
    "invoices": [("invoice_date", "31/04/2025"), ("amount", "1.2.3"), ("invoice_id", "")],
    "contributions": [("frequency", "fortnightly"), ("amount", "twenty"), ("start_date", "2025-13-01"),
                      ("end_date", "2025-01-01"), ("recipient_id", "")],
}


def test_every_input_table_has_a_schema_and_examples():
    assert set(SPECS) == set(VALID) == set(INVALID) == set(ALIASES)


@pytest.mark.parametrize("table", sorted(VALID))
def test_valid_row_passes_and_is_typed(table):
    v = validate(table, pd.DataFrame([VALID[table]], dtype="string"), path=f"{table}.csv")
    assert v.quarantine.empty, v.quarantine["reason"].tolist()
    assert len(v.valid) == 1
    for c in SPECS[table].columns:
        if c.kind == "money":
            assert f"{c.name}_pence" in v.valid.columns and str(v.valid[f"{c.name}_pence"].dtype) == "Int64"


@pytest.mark.parametrize("table,column,value", [(t, c, v) for t, bad in INVALID.items() for c, v in bad])
def test_invalid_value_is_quarantined_with_a_reason(table, column, value):
    good = dict(VALID[table])
    bad = dict(good, **{column: value})
    v = validate(table, pd.DataFrame([good, bad], dtype="string"), path=f"in/{table}.csv")
    assert len(v.valid) == 1 and len(v.quarantine) >= 1
    q = v.quarantine.iloc[0]
    assert q["row_no"] == 3 and column in q["column_name"]
    assert f"in/{table}.csv row 3" in q["reason"]


def test_identifiers_keep_leading_zeros_and_money_is_exact():
    v = validate("recipients", pd.DataFrame([VALID["recipients"]], dtype="string"), path="r.csv")
    r = v.valid.iloc[0]
    assert r["recipient_id"] == "007" and r["account_number"] == "01234567" and r["sort_code"] == "400004"
    v = validate("receipts", pd.DataFrame([VALID["receipts"]], dtype="string"), path="x.csv")
    assert v.valid.iloc[0]["amount_pence"] == -1250


def test_aliases_and_case_insensitive_headers():
    row = {"Receipt ID": "R9", " DATE ": "01/05/2025", "Payee": "Shop", "Total": "3.00", "Description": ""}
    v = validate("receipts", pd.DataFrame([row], dtype="string"), path="x.csv")
    assert v.quarantine.empty and v.valid.iloc[0]["supplier"] == "Shop"


def test_missing_required_column_quarantines_the_file_naming_the_header():
    v = validate("receipts", pd.DataFrame([{"date": "01/05/2025", "amount": "1.00"}], dtype="string"), path="x.csv")
    assert v.valid.empty and "lacks column(s) receipt_id, supplier" in v.quarantine.iloc[0]["reason"]


def test_personal_values_are_masked_in_quarantine():
    bad = dict(VALID["recipients"], account_number="123456789012")
    v = validate("recipients", pd.DataFrame([bad], dtype="string"), path="r.csv")
    assert v.quarantine.iloc[0]["value_masked"] == "****9012"


def test_ten_thousand_rows_one_bad_loads_9999():
    rows = pd.DataFrame([VALID["receipts"]] * 10_000, dtype="string")
    rows["receipt_id"] = [f"R{i:05d}" for i in range(10_000)]
    rows.loc[4321, "amount"] = "£1,234.5O"
    v = validate("receipts", rows, path="big.csv")
    assert len(v.valid) == 9_999 and len(v.quarantine) == 1 and v.quarantine.iloc[0]["row_no"] == 4323
