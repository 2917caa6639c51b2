"""Turn an uploaded file into titled sections of plain text.

The kind of file is decided by its bytes, never its name: a renamed executable is refused. Parsers run
under limits (pages, decompressed size, extracted text), so a decompression bomb or a malformed file
becomes a clear error instead of exhausting the machine.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from easyflow.kit.filetypes import binary_type, decode_text

MAX_PAGES = 2000
MAX_TEXT_CHARS = 5_000_000
MAX_ZIP_UNCOMPRESSED = 100 * 1024 * 1024
MAX_ZIP_RATIO = 100
HEADING_SEPARATOR = " › "


class UnsupportedFile(ValueError):
    """Not a kind of file the knowledge base reads (refused at upload: 415)."""


class ExtractionFailed(ValueError):
    """A supported kind of file that cannot be read safely (the document ends `failed` with this reason)."""


@dataclass
class Section:
    headings: list[str]
    paragraphs: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return HEADING_SEPARATOR.join(self.headings)


@dataclass
class Extracted:
    sections: list[Section]
    pages: int


_HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<h[1-6]|<p[\s>]|<div)", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)


def sniff(data: bytes) -> str:
    """'pdf', 'docx', 'html', 'markdown' or 'text', from the bytes; UnsupportedFile otherwise."""
    recognised = binary_type(data)
    if recognised is not None and recognised.content_type == "application/pdf":
        return "pdf"
    if recognised is not None and recognised.content_type == "application/zip":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile as error:
            raise UnsupportedFile("The file looks like a ZIP archive but is damaged.") from error
        raise UnsupportedFile("ZIP archives are not read; upload PDF, DOCX, TXT, Markdown or HTML.")
    if recognised is not None:
        raise UnsupportedFile(f"The file is {recognised.described}; upload PDF, DOCX, TXT, Markdown or HTML.")
    text = decode_text(data)
    if text is None:
        raise UnsupportedFile("The file is neither a document nor UTF-8 text; upload PDF, DOCX, TXT, Markdown or HTML.")
    if _HTML_START.match(data[:2048].lstrip(b"\xef\xbb\xbf")):
        return "html"
    return "markdown" if _MARKDOWN_HEADING.search(text) else "text"


def extract(data: bytes, kind: str, filename: str) -> Extracted:
    extractors = {"pdf": _pdf, "docx": _docx, "html": _html, "markdown": _markdown, "text": _plain}
    extracted = extractors[kind](data, filename)
    total = sum(len(p) for s in extracted.sections for p in s.paragraphs)
    if not any(ch.isalnum() for s in extracted.sections for p in s.paragraphs for ch in p):
        raise ExtractionFailed("No text found in the file (a scanned PDF needs OCR first).")
    if total > MAX_TEXT_CHARS:
        raise ExtractionFailed(f"The file holds more than {MAX_TEXT_CHARS:,} characters of text; split it.")
    return extracted


def _pdf(data: bytes, filename: str) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionFailed("The PDF is password-protected.")
        pages = len(reader.pages)
        if pages > MAX_PAGES:
            raise ExtractionFailed(f"The PDF has {pages} pages; at most {MAX_PAGES} are read.")
        sections: list[Section] = []
        characters = 0
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            characters += len(text)
            if characters > MAX_TEXT_CHARS:
                raise ExtractionFailed(f"The PDF holds more than {MAX_TEXT_CHARS:,} characters of text; split it.")
            paragraphs = _paragraphs(text)
            if paragraphs:
                sections.append(Section([_stem(filename), f"стр. {number}"], paragraphs))
    except ExtractionFailed:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as error:
        raise ExtractionFailed(f"The PDF is damaged and cannot be read ({type(error).__name__}).") from error
    return Extracted(sections, pages)


def _docx(data: bytes, filename: str) -> Extracted:
    from docx import Document as DocxDocument

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        packed = max(sum(info.compress_size for info in archive.infolist()), 1)
    if unpacked > MAX_ZIP_UNCOMPRESSED or unpacked / packed > MAX_ZIP_RATIO:
        raise ExtractionFailed(
            f"The DOCX unpacks to {unpacked:,} bytes ({unpacked // packed}× its size): refused as a decompression bomb."
        )
    try:
        document = DocxDocument(io.BytesIO(data))
    except Exception as error:  # python-docx raises many kinds for damaged packages
        raise ExtractionFailed(f"The DOCX is damaged and cannot be read ({type(error).__name__}).") from error
    sections = [Section([])]
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = _heading_level(style)
        if level:
            sections.append(Section([*sections[-1].headings[: level - 1], text]))
        else:
            sections[-1].paragraphs.append(text)
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        sections[-1].paragraphs.extend(row for row in rows if row.strip(" |"))
    return Extracted([s for s in sections if s.paragraphs], 1)


def _heading_level(style: str) -> int:
    match = re.match(r"(?:Heading|Заголовок)\s*(\d)", style)
    if match:
        return int(match.group(1))
    return 1 if style in ("Title", "Название") else 0


def _html(data: bytes, filename: str) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for noise in soup(["script", "style", "nav", "header", "footer", "noscript", "template", "svg", "form"]):
        noise.decompose()
    sections = [Section([])]
    for element in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "dt", "dd", "blockquote", "pre"]):
        if element.find_parent(["p", "li", "td", "dt", "dd", "blockquote"]) is not None:
            continue  # its text is read with the enclosing block
        text = " ".join(element.get_text(" ", strip=True).split())
        if not text:
            continue
        if element.name in ("h1", "h2", "h3", "h4"):
            level = int(element.name[1])
            sections.append(Section([*sections[-1].headings[: level - 1], text]))
        else:
            sections[-1].paragraphs.append(text)
    return Extracted([s for s in sections if s.paragraphs], 1)


def _markdown(data: bytes, filename: str) -> Extracted:
    text = decode_text(data) or ""
    sections = [Section([])]
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            sections[-1].paragraphs.append(" ".join(paragraph))
            paragraph.clear()

    for line in text.splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        stripped = line.strip()
        if heading:
            close_paragraph()
            level = len(heading.group(1))
            sections.append(Section([*sections[-1].headings[: level - 1], _plain_markdown(heading.group(2))]))
        elif not stripped:
            close_paragraph()
        elif re.match(r"^([-*+]|\d+[.)])\s+", stripped) or stripped.startswith("|"):
            close_paragraph()
            sections[-1].paragraphs.append(_plain_markdown(stripped))
        else:
            paragraph.append(_plain_markdown(stripped))
    close_paragraph()
    return Extracted([s for s in sections if s.paragraphs], 1)


def _plain_markdown(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|`)", "", text)
    return text.strip()


def _plain(data: bytes, filename: str) -> Extracted:
    text = decode_text(data) or ""
    sections = [Section([])]
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        first = lines[0]
        if _looks_like_title(first):
            sections.append(Section([first.rstrip(":")]))
            lines = lines[1:]
        if lines:
            sections[-1].paragraphs.append(" ".join(lines))
    return Extracted([s for s in sections if s.paragraphs], 1)


def _looks_like_title(line: str) -> bool:
    """A short line in capitals, or numbered like "3. Гарантии", or ending with a colon."""
    if len(line) > 80:
        return False
    letters = [ch for ch in line if ch.isalpha()]
    if letters and all(ch.isupper() for ch in letters) and len(letters) >= 3:
        return True
    return bool(re.match(r"^\d+(\.\d+)*[.)]?\s+\S.*[^.!?]$", line)) or (line.endswith(":") and len(line) < 60)


def _paragraphs(text: str) -> list[str]:
    blocks = re.split(r"\n\s*\n", text)
    return [" ".join(block.split()) for block in blocks if block.strip()]


def _stem(filename: str) -> str:
    return filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
