"""Text out of files: one extractor per format, each returning sections (text, 1-based page, heading).

Everything happens in memory: files are read as bytes and parsed from a BytesIO, so no extracted text
ever reaches a temporary file. A file that cannot be read raises `Unreadable` with one line that says
why (corrupt, encrypted, unsupported, too big); the caller reports it and goes on with the batch.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.documents import ocr

# pypdf reports every oddity of a broken file on stderr; the import report says it once, in one line.
logging.getLogger("pypdf").setLevel(logging.ERROR)

OcrMode = Literal["auto", "on", "off"]
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # Office files are zips: refuse a zip bomb before parsing it
MAX_TEXT_CHARS = 20_000_000
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".log", ".rst", ".json", ".xml", ".yaml", ".yml", ".ini", ".cfg"})


class Unreadable(Exception):
    """The file cannot be turned into text; the message is one line for the import report."""


@dataclass(frozen=True)
class Section:
    """A run of text with the page it is on (None: the format has no pages) and its heading."""

    text: str
    page: int | None = None
    heading: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored in the vault."""
        return {"text": self.text, "page": self.page, "heading": self.heading}


@dataclass(frozen=True)
class Extracted:
    """What came out of one file."""

    format: str
    sections: list[Section]
    pages: int
    ocr: bool = False


def supported_suffixes() -> frozenset[str]:
    """File name endings `docs add` picks up when walking a folder."""
    return frozenset(_EXTRACTORS) | IMAGE_SUFFIXES | TEXT_SUFFIXES | {".md", ".markdown"}


def extract(name: str, data: bytes, *, ocr_mode: OcrMode = "auto") -> Extracted:
    """Sections of the file called `name` with content `data`; Unreadable with a reason otherwise."""
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        if ocr_mode == "off":
            raise Unreadable("an image, and OCR is off")
        return Extracted("image", _ocr_sections(data, 1), 1, ocr=True)
    extractor = _EXTRACTORS.get(suffix)
    try:
        if extractor is not None:
            result = extractor(data, ocr_mode)
        elif suffix in {".md", ".markdown"}:
            result = Extracted("markdown", _markdown(_decode(data)), 0)
        elif suffix in TEXT_SUFFIXES or not suffix:
            result = Extracted("text", _plain(_decode(data)), 0)
        else:
            raise Unreadable(f"unsupported file type {suffix!r}")
    except Unreadable:
        raise
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        raise Unreadable(
            f"corrupt or not a valid {suffix.lstrip('.').upper() or 'text'} file ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # parsers raise their own classes for broken files; none is our bug to hide
        raise Unreadable(f"cannot read it ({type(exc).__name__})") from None
    sections = [s for s in result.sections if s.text.strip()]
    if sum(len(s.text) for s in sections) > MAX_TEXT_CHARS:
        raise Unreadable(f"more than {MAX_TEXT_CHARS:,} characters of text")
    if not sections:
        hint = "; try --ocr on" if ocr_mode == "off" else ""
        raise Unreadable(f"no text found{hint}")
    return Extracted(result.format, sections, result.pages, result.ocr)


# -- formats ---------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:4096]:
        raise Unreadable("binary data, not text")
    # Chinese files saved by older Windows tools are often GB18030, a superset of GBK and GB2312.
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# A plain-text heading as man pages and `pydoc` write them: a line of capitals at the left margin after a
# blank line ("DESCRIPTION", "FUNCTIONS").
_PLAIN_HEADING = re.compile(r"(?:\A|\n[ \t]*\n)([A-Z][A-Z ]{1,40}[A-Z])[ \t]*(?=\n)")


def _plain(text: str) -> list[Section]:
    sections: list[Section] = []
    heading: str | None = None
    position = 0
    for match in _PLAIN_HEADING.finditer(text):
        if text[position : match.start()].strip():
            sections.append(Section(text[position : match.start()], None, heading))
        heading, position = match.group(1), match.end()
    if text[position:].strip() or not sections:
        sections.append(Section(text[position:], None, heading))
    return sections


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _markdown(text: str) -> list[Section]:
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            if lines:
                sections.append(Section("\n".join(lines), None, heading))
            heading, lines = match.group(2), []
        else:
            lines.append(line)
    if lines:
        sections.append(Section("\n".join(lines), None, heading))
    return sections


def _check_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
        raise Unreadable("unpacks to more than 512 MiB (a zip bomb?)")
    return archive


def _pdf(data: bytes, ocr_mode: OcrMode) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
    except PdfReadError as exc:
        raise Unreadable(f"corrupt PDF ({exc})") from None
    if reader.is_encrypted:
        # An empty user password still opens some "encrypted" PDFs (permissions only).
        try:
            opened = bool(reader.decrypt(""))
        except Exception:
            opened = False
        if not opened:
            raise Unreadable("encrypted PDF (password protected); remove the password and add it again")
    sections: list[Section] = []
    used_ocr = False
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        if ocr_mode == "on" or (ocr_mode == "auto" and len(text.strip()) < 20):
            # A scanned page: its text is in the images on it.
            for image in page.images:
                found = _ocr_sections(image.data, number)
                if found:
                    used_ocr = True
                    text = (text + "\n" if text.strip() else "") + "\n".join(s.text for s in found)
        sections.append(Section(text, number))
    return Extracted("pdf", sections, len(reader.pages), used_ocr)


def _docx(data: bytes, ocr_mode: OcrMode) -> Extracted:
    import docx

    _check_zip(data)
    document = docx.Document(io.BytesIO(data))
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")) and paragraph.text.strip():
            if lines:
                sections.append(Section("\n\n".join(lines), None, heading))
            heading, lines = paragraph.text.strip(), []
        elif paragraph.text.strip():
            lines.append(paragraph.text)
    if lines:
        sections.append(Section("\n\n".join(lines), None, heading))
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        sections.append(Section("\n".join(rows), None, heading))
    return Extracted("docx", sections, 0)


def _pptx(data: bytes, ocr_mode: OcrMode) -> Extracted:
    from pptx import Presentation

    _check_zip(data)
    deck = Presentation(io.BytesIO(data))
    sections = []
    for number, slide in enumerate(deck.slides, start=1):
        title = (
            slide.shapes.title.text if slide.shapes.title is not None and slide.shapes.title.has_text_frame else None
        )
        texts = []
        for shape in slide.shapes:
            if shape.has_text_frame and shape is not slide.shapes.title:
                texts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                texts += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            texts.append(slide.notes_slide.notes_text_frame.text)
        sections.append(Section("\n".join([*([title] if title else []), *texts]), number, title))
    return Extracted("pptx", sections, len(deck.slides))


def _xlsx(data: bytes, ocr_mode: OcrMode) -> Extracted:
    import openpyxl

    _check_zip(data)
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sections = []
    for sheet in book.worksheets:
        rows = []
        for row in sheet.iter_rows(values_only=True):
            cells = ["" if v is None else str(v) for v in row]
            if any(cells):
                rows.append(" | ".join(cells))
        sections.append(Section("\n".join(rows), None, sheet.title))
    book.close()
    return Extracted("xlsx", sections, 0)


def _csv(data: bytes, ocr_mode: OcrMode) -> Extracted:
    text = _decode(data)
    rows = [" | ".join(row) for row in csv.reader(io.StringIO(text)) if any(row)]
    return Extracted("csv", [Section("\n".join(rows))], 0)


def _odt(data: bytes, ocr_mode: OcrMode) -> Extracted:
    from odf import teletype, text
    from odf.opendocument import load

    _check_zip(data)
    document = load(io.BytesIO(data))
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for element in document.text.childNodes:
        kind = getattr(element, "qname", (None, None))[1]
        content = teletype.extractText(element)
        if kind == "h":
            if lines:
                sections.append(Section("\n\n".join(lines), None, heading))
            heading, lines = content.strip(), []
        elif content.strip():
            lines.append(content)
    if lines:
        sections.append(Section("\n\n".join(lines), None, heading))
    del text  # imported so odfpy registers its element classes
    return Extracted("odt", sections, 0)


def _html_sections(markup: str) -> list[Section]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    sections: list[Section] = []
    heading: str | None = soup.title.get_text(" ", strip=True) if soup.title else None
    lines: list[str] = []
    body = soup.body or soup
    for element in body.find_all(
        ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "th", "dd", "dt", "blockquote"]
    ):
        if element.find_parent(["p", "li", "td", "th", "blockquote", "pre"]) is not None:
            continue  # its text is part of the enclosing block
        content = element.get_text(" ", strip=True)
        if not content:
            continue
        if element.name[0] == "h" and element.name[1:].isdigit():
            if lines:
                sections.append(Section("\n\n".join(lines), None, heading))
            heading, lines = content, []
        else:
            lines.append(content)
    if lines:
        sections.append(Section("\n\n".join(lines), None, heading))
    if not sections:
        sections = [Section(body.get_text("\n", strip=True))]
    return sections


def _html(data: bytes, ocr_mode: OcrMode) -> Extracted:
    return Extracted("html", _html_sections(_decode(data)), 0)


def _eml(data: bytes, ocr_mode: OcrMode) -> Extracted:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not message.keys():
        raise Unreadable("not an e-mail message (no headers)")
    header = "\n".join(f"{k}: {message[k]}" for k in ("Subject", "From", "To", "Date") if message[k])
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = body.get_content()
        text = (
            content if body.get_content_type() == "text/plain" else "\n\n".join(s.text for s in _html_sections(content))
        )
    subject = str(message["Subject"]) if message["Subject"] else None
    return Extracted("eml", [Section(f"{header}\n\n{text}", None, subject)], 0)


def _msg(data: bytes, ocr_mode: OcrMode) -> Extracted:
    import extract_msg

    message: Any = extract_msg.openMsg(io.BytesIO(data))
    try:
        header = "\n".join(
            f"{k}: {v}"
            for k, v in (
                ("Subject", message.subject),
                ("From", message.sender),
                ("To", message.to),
                ("Date", message.date),
            )
            if v
        )
        text = message.body or ""
        subject = str(message.subject) if message.subject else None
    finally:
        message.close()
    return Extracted("msg", [Section(f"{header}\n\n{text}", None, subject)], 0)


def _ocr_sections(data: bytes, page: int) -> list[Section]:
    text = ocr.image_text(data)
    return [Section(text, page)] if text.strip() else []


_EXTRACTORS: dict[str, Callable[[bytes, OcrMode], Extracted]] = {
    ".pdf": _pdf,
    ".docx": _docx,
    ".pptx": _pptx,
    ".xlsx": _xlsx,
    ".csv": _csv,
    ".odt": _odt,
    ".html": _html,
    ".htm": _html,
    ".eml": _eml,
    ".msg": _msg,
}
