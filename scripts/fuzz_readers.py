"""Fuzz every reader: ``make fuzz SECONDS=120`` (not in CI).

Hypothesis mutates real files (the test fixtures, ``../shared/corpus`` when present, the sample
data's statements and evidence): bytes flipped, cut short, inserted, repeated, or wholly random.
Each mutant goes through the reader of its kind (OFX/QFX: ``read_ofx``; bank CSV/XLSX:
``read_bank_tables``; evidence: ``read_raw_table`` then the pandera schema).  A reader may return a
result or raise ``UnreadableFile`` (a quarantine reason); any other exception is a bug, printed with
the file that caused it (kept under ``fuzz_failures/``).  Prints inputs tried, per reader, and
failures; exits 1 if there was any.
"""
from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpaudit.ingest.readers.bank_csv import load_profiles, read_bank_tables
from dpaudit.ingest.readers.ofx import read_ofx
from dpaudit.ingest.readers.tabular import UnreadableFile, read_raw_table
from dpaudit.ingest.schemas import validate

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted([*(ROOT / "tests" / "fixtures" / "statements").glob("*"),
                *(ROOT.parent / "shared" / "corpus").glob("*/*.*"),
                *(ROOT / "sample_data" / "inbox" / "2026-01").glob("*/*.*")])
SEEDS = [p for p in SEEDS if p.suffix.lower() in (".ofx", ".qfx", ".csv", ".xlsx") and p.stat().st_size < 2_000_000]
PROFILES = load_profiles(ROOT)
FAILURES = ROOT / "fuzz_failures"
tried: Counter = Counter()
failures: list[str] = []


def _reader(path: Path) -> str:
    if path.suffix.lower() in (".ofx", ".qfx"):
        return "ofx"
    return "evidence" if path.stem.lower() in ("receipts", "invoices", "payslips", "hmrc") else "bank"


def _read(kind: str, path: Path) -> None:
    if kind == "ofx":
        read_ofx(path)
    elif kind == "bank":
        for r in read_bank_tables([path], PROFILES, max_bytes=50_000_000, max_uncompressed=200_000_000, max_ratio=100):
            if isinstance(r, Exception) and not isinstance(r, UnreadableFile):
                raise r
    else:
        raw = read_raw_table(path, sheet_hint=path.stem)
        table = raw.table()
        validate(path.stem.lower(), table.frame, path=path.name, row_numbers=table.row_numbers)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**7), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**7), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**7), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("repeat"), st.integers(0, 10**7), st.integers(1, 2000)),
    st.tuples(st.just("random"), st.binary(max_size=4096), st.just(0)),
)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    b = bytearray(data)
    for op, a, c in ops:
        at = a % (len(b) + 1) if isinstance(a, int) else 0
        if op == "flip" and b:
            b[at % len(b)] ^= c
        elif op == "cut":
            del b[at:]
        elif op == "insert":
            b[at:at] = c
        elif op == "repeat":
            b[at:at] = bytes(b[at:at + 40]) * (c // 40 + 1)
        elif op == "random":
            b = bytearray(a)
    return bytes(b)


def fuzz_file(seed: Path, workdir: Path, examples: int) -> None:
    original = seed.read_bytes()
    kind = _reader(seed)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(mutation, min_size=1, max_size=4))
    def one(ops):
        target = workdir / seed.name
        target.write_bytes(mutate(original, ops))
        tried[kind] += 1
        try:
            _read(kind, target)
        except UnreadableFile:
            pass
        except Exception:  # noqa: BLE001 - what the fuzzer is for
            FAILURES.mkdir(exist_ok=True)
            keep = FAILURES / f"{len(failures):03d}_{seed.name}"
            keep.write_bytes(target.read_bytes())
            failures.append(f"{kind} reader on a mutant of {seed.name} (kept as {keep}): "
                            f"{traceback.format_exc(limit=3).strip().splitlines()[-1]}")

    one()


def main(seconds: float) -> int:
    stop = time.monotonic() + seconds
    t0 = time.monotonic()
    rounds = 0
    with tempfile.TemporaryDirectory(prefix="dpaudit-fuzz-") as tmp:
        while time.monotonic() < stop:
            for seed in SEEDS:
                if time.monotonic() >= stop:
                    break
                fuzz_file(seed, Path(tmp), examples=25)
            rounds += 1
    print(f"{len(SEEDS)} seed files, {rounds} round(s), {sum(tried.values())} inputs in "
          f"{time.monotonic() - t0:.0f} s: {dict(tried)}")
    for f in failures:
        print("FAILURE:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 120))
