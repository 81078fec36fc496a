"""An independent, realistic council generator and scorer (test oracle).

Written from shared/spec/contract.md and rules.md only: it imports nothing from ``dpaudit``
(stdlib only), so its truth does not share the engine's assumptions.

    python -m dpaudit.synth.realistic OUT --recipients 40 --seed 7 --fy 2025
    python -m dpaudit.synth.realistic.score OUT REPORTS [--json FILE]
"""
