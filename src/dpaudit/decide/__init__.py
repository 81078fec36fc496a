"""Stage 3, decide: recommendations per recipient, the year end (carry-forward and repayment) and
the officers' append-only decision log."""
