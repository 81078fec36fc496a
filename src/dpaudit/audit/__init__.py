"""Stage 2, audit: the period's data as named views (``data``), payee categorisation, evidence
matching, reconciliation, and the rule catalogue (``rules``) that turns them into findings."""
