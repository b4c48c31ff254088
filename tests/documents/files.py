"""Real files in every supported format, written by the libraries people make them with.

Each file carries one distinctive fact (and, where the format has pages, on a known page), so a test can
search for it and check that the right document and page come back.
"""

from __future__ import annotations

import email.message
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"

# (file name, the fact, a paraphrased question, expected page or None)
FACTS = {
    "handbook.pdf": ("The warranty on every gizmo lasts seven years from delivery.", "how long is a gizmo covered", 2),
    "policy.docx": (
        "Remote staff receive a monthly internet allowance of forty euros.",
        "home office internet money",
        None,
    ),
    "roadmap.pptx": (
        "The lighthouse project ships its first prototype in March.",
        "when is the lighthouse prototype due",
        2,
    ),
    "budget.xlsx": (
        "Marketing budget | 125000 | approved by the finance board",
        "marketing budget finance board",
        None,
    ),
    "faq.html": ("Visitors must register at the north gate reception desk.", "where do guests sign in", None),
    "notice.eml": ("The cafeteria will be closed for renovation until the fourteenth.", "is the canteen open", None),
    "minutes.odt": ("The committee elected Dana Whitfield as treasurer.", "who became treasurer", None),
    "scan.png": ("PARKING PERMITS EXPIRE ON THE LAST DAY OF JUNE", "when do parking permits run out", 1),
    "scanned.pdf": ("FIRE DRILL EVERY FIRST MONDAY AT TEN", "how often is the fire drill", 1),
    "规章.txt": ("员工每年享有十五天带薪年假，年假须提前两周申请。", "年假有多少天", None),
    "notes.md": ("Backups are copied to the offsite vault every Friday night.", "when are backups taken offsite", None),
    "rates.csv": ("Courier | Express | 19.90", "express courier price", None),
}


def _filler(n: int) -> str:
    return " ".join(f"General paragraph {i} about routine office matters and unrelated procedures." for i in range(n))


def text_image(text: str, *, font_path: str | None = None, size: int = 40) -> bytes:
    """A PNG of black text on white, like a scanned page."""
    font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default(size=size)
    width = int(font.getlength(text)) + 80
    image = Image.new("RGB", (max(width, 400), size * 3), "white")
    ImageDraw.Draw(image).text((40, size), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_pdf(path: Path, pages: list[str], *, password: str | None = None) -> Path:
    """A real PDF with a text layer, one string per page (optionally encrypted)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for page in pages:
        text = pdf.beginText(50, 800)
        words = page.split()
        for start in range(0, len(words), 12):
            text.textLine(" ".join(words[start : start + 12]))
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    data = buffer.getvalue()
    if password is not None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter()
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
        writer.encrypt(user_password=password, owner_password=password + "-owner")
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    path.write_bytes(data)
    return path


def write_scanned_pdf(path: Path, text: str) -> Path:
    """A PDF whose only page is an image of text: no text layer, as a scanner makes it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawImage(ImageReader(io.BytesIO(text_image(text))), 30, 600, width=540, height=90)
    pdf.showPage()
    pdf.save()
    path.write_bytes(buffer.getvalue())
    return path


def write_docx(path: Path, heading: str, paragraphs: list[str]) -> Path:
    """A Word document with a heading and paragraphs."""
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))
    return path


def write_pptx(path: Path, slides: list[tuple[str, str]]) -> Path:
    """A PowerPoint deck, one (title, body) per slide."""
    from pptx import Presentation

    deck = Presentation()
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(path))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An Excel workbook with one sheet."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget 2025"
    for row in rows:
        sheet.append(row)
    book.save(str(path))
    return path


def write_odt(path: Path, heading: str, paragraph: str) -> Path:
    """An OpenDocument text file."""
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text=heading))
    document.text.addElement(P(text=paragraph))
    document.save(str(path))
    return path


def write_eml(path: Path, subject: str, body: str) -> Path:
    """An e-mail message as a mail client saves it."""
    message = email.message.EmailMessage()
    message["Subject"] = subject
    message["From"] = "facilities@example.org"
    message["To"] = "all-staff@example.org"
    message["Date"] = "Mon, 02 Jun 2025 09:00:00 +0000"
    message.set_content(body)
    path.write_bytes(bytes(message))
    return path


def write_corpus(folder: Path) -> Path:
    """Every format, each with its fact (and filler, so a fact is not the whole document)."""
    folder.mkdir(parents=True, exist_ok=True)
    f = {name: fact for name, (fact, _, _) in FACTS.items()}
    write_pdf(folder / "handbook.pdf", [_filler(8), _filler(3) + " " + f["handbook.pdf"], _filler(8)])
    write_docx(folder / "policy.docx", "Remote work", [_filler(3), f["policy.docx"]])
    write_pptx(folder / "roadmap.pptx", [("Overview", _filler(2)), ("Lighthouse", f["roadmap.pptx"])])
    write_xlsx(
        folder / "budget.xlsx",
        [["Item", "Amount", "Note"], ["Marketing budget", 125000, "approved by the finance board"]],
    )
    (folder / "faq.html").write_text(
        f"<html><head><title>FAQ</title><script>var x = 'not content';</script></head><body>"
        f"<h1>Visitors</h1><p>{f['faq.html']}</p><h2>Other</h2><p>{_filler(2)}</p></body></html>",
        encoding="utf-8",
    )
    write_eml(folder / "notice.eml", "Cafeteria notice", f["notice.eml"])
    write_odt(folder / "minutes.odt", "Annual meeting", f["minutes.odt"])
    (folder / "scan.png").write_bytes(text_image(f["scan.png"]))
    write_scanned_pdf(folder / "scanned.pdf", f["scanned.pdf"])
    (folder / "规章.txt").write_text("第一章 休假\n\n" + f["规章.txt"] + "\n\n加班需要部门经理批准。", encoding="utf-8")
    (folder / "notes.md").write_text(f"# Backups\n\n{f['notes.md']}\n\n# Misc\n\n{_filler(2)}\n", encoding="utf-8")
    (folder / "rates.csv").write_text("Service,Speed,Price\nCourier,Express,19.90\nCourier,Standard,7.50\n")
    return folder
