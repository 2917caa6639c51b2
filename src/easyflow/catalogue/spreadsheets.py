"""A price list as a table of text: a CSV (UTF-8 with or without BOM, or Windows-1251; `;` or `,` between
fields, whichever the header uses) or an XLSX workbook's first sheet. No database in sight; hostile files are
refused before they are unpacked: an XLSX whose parts would unpack to more than MAX_UNPACKED_BYTES (a zip
bomb), a NUL byte in a CSV, anything that is neither (a PDF, an old .xls)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from easyflow.kit.errors import Unprocessable, UnsupportedMedia
from easyflow.kit.filetypes import binary_type, decode_text

MAX_ROWS = 5000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 10_000
# An XLSX is a zip of XML; a real price list of MAX_ROWS rows unpacks to a few megabytes.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
# Deflate compresses XML well, but not a thousandfold: more is a bomb.
MAX_COMPRESSION_RATIO = 200
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (and .doc)


@dataclass(frozen=True)
class Table:
    header: list[str]
    # Each row with its number as the spreadsheet shows it (the header is row 1 when it is the first line).
    rows: list[tuple[int, list[str]]]


def read_table(data: bytes, filename: str) -> Table:
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(_OLE):
        raise UnsupportedMedia("An old Excel .xls file: save it as .xlsx or CSV.")
    found = binary_type(data)
    if found is not None:
        raise UnsupportedMedia(f"{filename} is {found.described}, not a CSV or XLSX price list.")
    if b"\x00" in data:
        raise Unprocessable(f"{filename} holds NUL bytes: not a CSV.")
    text = decode_text(data)
    if text is None:
        raise UnsupportedMedia(f"{filename} is not a CSV or XLSX price list.")
    return _read_csv(text.removeprefix("\ufeff"))


def _read_csv(text: str) -> Table:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    numbered: list[tuple[int, list[str]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for row in reader:
            if any(cell.strip() for cell in row):
                numbered.append((reader.line_num, row))
            if len(numbered) > MAX_ROWS + 1:
                raise Unprocessable(f"More than {MAX_ROWS:,} rows: split the file.")
    except csv.Error as error:
        raise Unprocessable(f"Not a readable CSV: {error}.") from error
    return _table(numbered)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as error:
        raise Unprocessable(f"Not a readable XLSX workbook: {error}.") from error
    unpacked = sum(part.file_size for part in parts)
    packed = sum(part.compress_size for part in parts)
    if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_COMPRESSION_RATIO * max(packed, 1):
        raise Unprocessable("The workbook unpacks to far more than a price list: refused.")
    if "xl/workbook.xml" not in {part.filename for part in parts}:
        raise UnsupportedMedia("A ZIP archive, not an XLSX workbook.")
    try:
        # read_only streams the sheet instead of building it in memory; data_only reads what formulas showed
        # when last saved, never the formulas themselves.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises anything from KeyError to XML errors on a broken workbook
        raise Unprocessable(f"Not a readable XLSX workbook: {type(error).__name__}.") from error
    try:
        sheet = workbook.worksheets[0]
        numbered: list[tuple[int, list[str]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
            row = [_cell_text(value) for value in values]
            if any(cell.strip() for cell in row):
                numbered.append((number, row))
            if len(numbered) > MAX_ROWS + 1:
                raise Unprocessable(f"More than {MAX_ROWS:,} rows: split the file.")
    finally:
        workbook.close()
    return _table(numbered)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float):
        # 1500.5 as typed, not its binary approximation; whole numbers without ".0"
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)[:MAX_CELL_CHARS]


def _table(numbered: list[tuple[int, list[str]]]) -> Table:
    if not numbered:
        raise Unprocessable("The file is empty: it needs a header row and a row per item.")
    (_, header), *rows = numbered
    if len(header) > MAX_COLUMNS:
        raise Unprocessable(f"More than {MAX_COLUMNS} columns.")
    return Table(header=[cell.strip() for cell in header], rows=rows)
