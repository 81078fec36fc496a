"""An independent, realistic council generator and scorer (test oracle).

Written from shared/spec/contract.md and rules.md only: it imports nothing from ``dpaudit``
(stdlib only), so its truth does not share the engine's assumptions.

    python -m dpaudit.synth.realistic OUT --recipients 40 --seed 7 --fy 2025
    python -m dpaudit.synth.realistic.score OUT REPORTS [--json FILE]
    python -m dpaudit.synth.realistic.risk_truth OUT REPORTS [--json FILE]   (risk ratings)

Extended councils (issue 18, written from the agreed definitions of prepaid cards, client
contributions and the cohort checks): ``--extended`` (or ``--features cards,contributions,cohort``,
any subset; ``generate(..., features={...})`` in Python) adds 22 recipients after the default
``--recipients`` ones: 8 on prepaid cards (canonical and vendor card exports with authorised /
settled / declined / reversed rows, MCCs on every spend row, council and family loads, a second
card's export), 7 paying client contributions (``reference/contributions.csv``; weekly, 4-weekly,
monthly on the 31st, short, stopping, in arrears, paying monthly for weekly dues) and 8 employers
whose personal assistants work for several families, with supplier invoice numbers seen twice and
providers paid round sums or fabricated-looking amounts.  The truth adds AC-CONTRIBUTION-SHORT,
CO-SHARED-PAYEE, CO-DUPLICATE-INVOICE, CO-PROVIDER-PATTERN (computed for every provider from every
debit) and the year end's council share, with one trace file per computation in ``OUT/truth``
(see its README.md and extended.json).  Without features nothing changes: a council is
byte-identical to the one written before issue 18, and the scorer leaves the engine's CO-*
findings on it unscored.

    python -m dpaudit.synth.realistic OUT --recipients 40 --seed 7 --extended
    dpaudit run ... for each month of FY2025, dpaudit year-end ...   (as scripts/accuracy.py)
    python -m dpaudit.synth.realistic.score OUT REPORTS --json score.json
"""
