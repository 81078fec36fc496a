"""Build a hostile month on top of sample_data: every kind of bad input a public inbox can hold.

``python tests/hostile_corpus.py OUT`` writes the council to OUT (a copy of sample_data/ with the
hostile files added to January 2026).  ``tests/test_hostile_corpus.py`` runs a month on it.
What is planted (``PLANTED``): XXE and billion-laughs OFX, a cut-short OFX, a UTF-16 export, a
zip-bomb XLSX (within the size limit, beyond the ratio limit), 100,000 garbage rows, formula
payloads in every text field of a receipts file, account numbers in file names and descriptions,
symbolic links in and out of the data folder, hidden, unknown and formula-named folders, a file
outside any recipient's folder and an unsupported type.
"""
from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
FIX = ROOT / "tests" / "fixtures" / "statements"
PERIOD = "2026-01"
PAYLOADS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(1,2)", "\t=1", "=cmd|' /C calc'!A0"]


def build(out: Path) -> dict[str, str]:
    """Write the hostile council to ``out``; return {relative path: what it is}."""
    out = Path(out)
    shutil.copytree(SAMPLE, out, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    box = out / "inbox" / PERIOD / "R00001"
    acct = "03914726"  # R00001's account number (reference/recipients.csv)
    planted: dict[str, str] = {}

    def put(name: str, data: bytes | str, what: str, folder: Path = box) -> None:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        planted[p.relative_to(out).as_posix()] = what

    put("xxe.ofx", (FIX / "xxe.ofx").read_bytes(), "XML external entity")
    put("laughs.ofx", (FIX / "billion_laughs.ofx").read_bytes(), "billion laughs")
    whole = (box / "statement_2026-01.ofx").read_bytes()
    put("cut.ofx", whole[: len(whole) // 2], "cut-short OFX")
    put("unicode.csv", "date,description,amount\n2026-01-02,X,-1.00\n".encode("utf-16"), "UTF-16 export")
    bomb = box / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * 30_000_000)  # 30 MB of zeros in a few KB
    planted[bomb.relative_to(out).as_posix()] = "zip bomb"
    garbage = "".join(f"{i}~~~,{'x' * 10},??{i}\n" for i in range(100_000))
    put("garbage.csv", "date,description,amount,balance,type,reference,sort_code,account_number\n" + garbage,
        "100,000 garbage rows")
    rows = [f"P{i},05/01/2026,{p},1.00,{p}" for i, p in enumerate(PAYLOADS)]
    put("receipts.csv", "receipt_id,date,supplier,amount,description\n" + "\n".join(rows) + "\n",
        "formula payloads in every text field", folder=out / "inbox" / PERIOD / "R00002")
    put(f"Statement {acct} TFR ACC{acct}.docx", b"PK", "account number in a file name; unsupported type")
    outside = out.parent / f"{out.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "passwd.csv").write_text("root:x:0:0:root:/root:/bin/bash\n")
    os.symlink(outside / "passwd.csv", box / "passwd.csv")
    planted[(box / "passwd.csv").relative_to(out).as_posix()] = "link out of the data folder"
    os.symlink(out / "inbox" / PERIOD / "R00002", out / "inbox" / PERIOD / "R00099")
    planted[f"inbox/{PERIOD}/R00099"] = "recipient folder that is a link"
    for name, what in ((".hidden", "hidden folder"), ("..x", "dot-dot folder"), ("@SUM(1)", "formula-named folder")):
        put("receipts.csv", rows[0], what, folder=out / "inbox" / PERIOD / name)
    put("loose.csv", "x\n", "file outside any recipient's folder", folder=out / "inbox" / PERIOD)
    (box / "statement_dir.csv").mkdir()
    planted[(box / "statement_dir.csv").relative_to(out).as_posix()] = "folder named like a file"
    return planted


if __name__ == "__main__":  # pragma: no cover
    for path, what in build(Path(sys.argv[1])).items():
        print(f"{what:45} {path}")
