"""Pure building blocks shared by every stage: money in pence, UK dates, masking, payee names,
the policy file, per-distinct-value parsing and the test checkpoints.  No I/O but reading the policy."""
