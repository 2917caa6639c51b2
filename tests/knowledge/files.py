"""Small documents of every supported kind, made in the test, and hostile files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

MARKDOWN = """# Салон «Лотос»

## Стрижки

Женская стрижка на длинные волосы стоит 1500 сом и занимает около часа.

## Окрашивание

Окрашивание в один тон на средние волосы — 2800 сом. Тонирование — от 1600 сом.

## Отмена записи

Отменить запись можно бесплатно не позднее чем за 3 часа до визита.
"""


def docx_bytes() -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Турагентство «Горизонт»", level=1)
    document.add_heading("Виза в Грузию", level=2)
    document.add_paragraph("Гражданам Кыргызстана виза в Грузию не нужна, въезд по загранпаспорту до 365 дней.")
    document.add_heading("Страховка", level=2)
    document.add_paragraph("Медицинская страховка входит в стоимость каждого тура.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    if not DEJAVU.exists():
        pytest.skip(f"no Cyrillic font at {DEJAVU} to make a test PDF")
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(DEJAVU))
    pdf.set_font("DejaVu", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Гарантия на пломбы составляет 2 года при условии профилактического осмотра раз в полгода.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "После удаления зуба не ешьте два часа и не полощите рот в первые сутки.")
    return bytes(pdf.output())


HTML = """<!DOCTYPE html><html><head><title>FAQ</title><style>.x{color:red}</style>
<script>var secret = "tracking-script-text";</script></head><body>
<nav>Главная | Каталог | Корзина</nav>
<h1>Магазин «ТехноДом»</h1><h2>Возврат товара</h2>
<p>Вернуть товар надлежащего качества можно в течение 14 дней, если сохранены упаковка и чек.</p>
<h2>Доставка</h2><ul><li>По Алматы доставка бесплатная от 20 000 ₸.</li></ul></body></html>"""

TEXT = """СТОМАТОЛОГИЯ «УЛЫБКА ПЛЮС»

1. ЧАСЫ РАБОТЫ
Клиника работает ежедневно с 9:00 до 21:00, в воскресенье до 18:00.

2. ОПЛАТА
Принимаем наличные, карты и рассрочку на 6 месяцев без переплаты.
"""


def elf_bytes() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + b"/lib64/ld-linux-x86-64.so.2"


def zip_bomb_docx() -> bytes:
    """A real DOCX with one more part that unpacks to 200 MB of zeros from a few hundred kilobytes."""
    buffer = io.BytesIO(docx_bytes())
    block = b"\x00" * (1024 * 1024)
    with (
        zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/media/padding.bin", "w", force_zip64=True) as part,
    ):
        for _ in range(200):
            part.write(block)
    return buffer.getvalue()


def broken_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n garbage \xff\xfe trailer <<>>\n%%EOF"
