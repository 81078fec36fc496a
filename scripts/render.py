"""``make render`` (not in CI): print the demo's outputs as an officer and a family would see them.

Converts the demo workbook (``<reports>/2026-02/exceptions.xlsx`` after ``make demo``) and one
letter of each kind (a STOP and a REPAY letter of February, a year-end repayment letter) to PDF
with LibreOffice headless, and prints the page count of each sheet and each letter.  A sheet's
count comes from a copy of the workbook in which every other sheet is hidden (hidden sheets do
not print), so charts and page setup are those of the real file.  The PDFs are left in
``<reports>/render/`` to look at (``pdftoppm -png -r 60 FILE.pdf page`` makes pictures of them).

Target (issue 14): every sheet of the demo workbook prints on at most 3 landscape pages; the exit
code is 1 when a sheet needs more.

    python scripts/render.py [REPORTS]      (default: reports)
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MAX_SHEET_PAGES = 3
LETTER_KINDS = (("STOP letter", "2026-02/letters/*_stop.docx"), ("REPAY letter", "2026-02/letters/*_repay.docx"),
                ("year-end REPAY letter", "FY*/letters/*_repay.docx"))


def soffice() -> str:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("LibreOffice is not installed: apt-get install -y libreoffice-calc libreoffice-writer poppler-utils")


def to_pdf(src: Path, out_dir: Path, profile: Path) -> Path:
    """``src`` converted by LibreOffice headless into ``out_dir`` (its own user profile, so a desktop
    LibreOffice that is open does not take the job)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
           "--convert-to", "pdf", "--outdir", str(out_dir), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    pdf = out_dir / (src.stem + ".pdf")
    if res.returncode or not pdf.exists():
        sys.exit(f"LibreOffice could not convert {src}:\n{res.stdout}\n{res.stderr}")
    return pdf


def page_count(pdf: Path) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        m = re.search(r"^Pages:\s+(\d+)", out, re.M)
        if m:
            return int(m.group(1))
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))


def sheet_names(xlsx: Path) -> list[str]:
    with zipfile.ZipFile(xlsx) as z:
        wb = z.read("xl/workbook.xml").decode("utf-8")
    return [re.sub("&amp;", "&", n) for n in re.findall(r'<sheet [^>]*name="([^"]+)"', wb)]


def only_sheet(xlsx: Path, keep: int, dest: Path) -> Path:
    """A copy of ``xlsx`` in which every sheet but the ``keep``-th is hidden (and that one is active)."""
    with zipfile.ZipFile(xlsx) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode("utf-8")
                counter = iter(range(10_000))

                def hide(m: re.Match) -> str:
                    tag = re.sub(r'\sstate="[^"]*"', "", m.group(0))
                    return tag if next(counter) == keep else tag.replace("<sheet ", '<sheet state="hidden" ', 1)

                text = re.sub(r"<sheet [^>]*/>", hide, text)
                text = re.sub(r'activeTab="\d+"', f'activeTab="{keep}"', text)
                if "activeTab" not in text:
                    text = text.replace("<workbookView ", f'<workbookView activeTab="{keep}" ', 1)
                text = re.sub(r'firstSheet="\d+"', f'firstSheet="{keep}"', text)
                data = text.encode("utf-8")
            elif re.fullmatch(r"xl/worksheets/sheet\d+\.xml", item.filename):
                data = data.replace(b'tabSelected="1"', b'tabSelected="0"')
            zout.writestr(item, data)
    return dest


def main(argv: list[str]) -> int:
    reports = Path(argv[1] if len(argv) > 1 else "reports").resolve()
    workbook = reports / "2026-02" / "exceptions.xlsx"
    if not workbook.exists():
        sys.exit(f"{workbook} does not exist; run 'make demo' first")
    out = reports / "render"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    too_long = []
    with tempfile.TemporaryDirectory(prefix="dpaudit-render-") as tmp:
        profile = Path(tmp) / "profile"
        whole = to_pdf(workbook, out, profile)
        print(f"{'workbook ' + workbook.relative_to(reports).as_posix():48} {page_count(whole):>3} pages  {whole}")
        for i, name in enumerate(sheet_names(workbook)):
            one = only_sheet(workbook, i, Path(tmp) / f"sheet{i + 1}_{re.sub(r'[^A-Za-z]', '_', name)}.xlsx")
            n = page_count(to_pdf(one, Path(tmp) / "sheets", profile))
            flag = "" if n <= MAX_SHEET_PAGES else f"   more than {MAX_SHEET_PAGES}"
            if flag:
                too_long.append(name)
            print(f"  sheet {name:40} {n:>3} pages{flag}")
        for kind, pattern in LETTER_KINDS:
            found = sorted(reports.glob(pattern))
            if not found:
                print(f"{kind:48}   - (none in {reports.name}/{pattern})")
                continue
            pdf = to_pdf(found[0], out, profile)
            print(f"{kind + ' ' + found[0].name:48} {page_count(pdf):>3} pages  {pdf}")
    if too_long:
        print(f"Sheets printing on more than {MAX_SHEET_PAGES} pages: {', '.join(too_long)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
