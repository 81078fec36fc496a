"""``python -m dpaudit.synth``: generate a synthetic council or the bundled sample data."""
from dpaudit.synth.council import main

if __name__ == "__main__":
    raise SystemExit(main())
