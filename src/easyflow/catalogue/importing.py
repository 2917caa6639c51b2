"""Importing a price list of services or products: a row whose name matches a stored item (in any case)
updates it, any other row creates one. Columns are named in Russian or English («Название»/name,
«Цена»/price...); prices may be written the Russian way («1 500,50 ₽»). Each row is written in a savepoint
of its own, so a bad row is reported by its number and leaves the others, and what is stored, untouched; a
dry run does all of it and rolls everything back.

Empty cells change nothing on an update. Text that a spreadsheet would take for a formula (starting with
= + - @) is kept with a leading apostrophe, so that a list exported again and opened in Excel shows it as
text instead of running it. A product's columns this importer does not know become its attributes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.catalogue import schemas
from easyflow.catalogue.products import Products
from easyflow.catalogue.repository import ProductRepository, ServiceRepository
from easyflow.catalogue.services import Services
from easyflow.catalogue.spreadsheets import Table, read_table
from easyflow.kit.errors import DomainError, Unprocessable

Kind = Literal["services", "products"]

_NAME = {"name", "title", "название", "наименование"}
_DESCRIPTION = {"description", "описание"}
_PRICE = {"price", "cost", "цена", "стоимость"}
COLUMNS: dict[Kind, dict[str, set[str]]] = {
    "services": {
        "name": _NAME | {"service", "услуга"},
        "category": {"category", "group", "категория", "группа", "раздел"},
        "description": _DESCRIPTION,
        "duration_minutes": {"duration", "duration_minutes", "minutes", "длительность", "продолжительность", "время"},
        "price": _PRICE,
        "price_from": {"price_from", "price from", "цена от"},
        "price_to": {"price_to", "price to", "цена до"},
        "buffer_after_minutes": {"buffer", "buffer_after_minutes", "перерыв", "перерыв после", "буфер"},
        "online_bookable": {"online_bookable", "online booking", "онлайн-запись", "онлайн запись"},
    },
    "products": {
        "name": _NAME | {"product", "товар"},
        "description": _DESCRIPTION,
        "price": _PRICE,
        "currency": {"currency", "валюта"},
        "stock": {"stock", "quantity", "qty", "остаток", "остатки", "количество", "кол-во", "наличие", "в наличии"},
        "pictures": {"pictures", "picture", "photo", "photos", "image", "images", "фото", "картинка", "изображение"},
    },
}
_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")
_MONEY_MARKS = re.compile(r"₽|руб\w*\.?|\bр\.?(?!\w)|сом|₸|тенге|\$|€|\b(rub|usd|eur|kgs|kzt)\b", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_RANGE = re.compile(r"^(?:от\s*|from\s*)?(?P<low>[^–—-]+?)\s*[–—-]\s*(?:до\s*|to\s*)?(?P<high>[^–—-]+)$", re.IGNORECASE)
_FROM = re.compile(r"^(?:от|from)\s*(?P<low>.+)$", re.IGNORECASE)
_TO = re.compile(r"^(?:до|up to|to)\s*(?P<high>.+)$", re.IGNORECASE)
_HOURS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:ч|час\w*|h|hours?)\b", re.IGNORECASE)
_MINUTES = re.compile(r"(\d+)\s*(?:м|мин\w*|min\w*|m)\b", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::00)?$")
_YES = {"да", "yes", "true", "1", "+", "y", "д", "вкл"}
_NO = {"нет", "no", "false", "0", "-", "n", "н", "выкл"}
_CURRENCIES = {
    "₽": "RUB", "руб": "RUB", "руб.": "RUB", "рубль": "RUB", "рубли": "RUB", "рублей": "RUB", "р": "RUB",
    "сом": "KGS", "₸": "KZT", "тенге": "KZT", "$": "USD", "доллар": "USD", "€": "EUR", "евро": "EUR",
}  # fmt: skip
MAX_ERRORS_LISTED = 500


def column_label(cell: str) -> str:
    """A header as people write it, reduced to what names the column: «Цена, ₽» and «Цена (руб.)» are «цена»."""
    label = re.sub(r"\(.*?\)", "", cell.lstrip("\ufeff").lower().replace("ё", "е"))
    return " ".join(label.split(",")[0].split()).strip(" :*")


def as_text(cell: str) -> str:
    """The cell as stored text; a formula a spreadsheet would run is kept as text (a leading apostrophe)."""
    text = cell.strip()
    if text[:1] in ("=", "+", "-", "@") and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def as_decimal(cell: str) -> Decimal:
    cleaned = _SPACES.sub("", _MONEY_MARKS.sub("", cell))
    if "," in cleaned and "." in cleaned:  # the later mark is the decimal one: 1.500,50 or 1,500.50
        decimal_mark, grouping = (",", ".") if cleaned.rfind(",") > cleaned.rfind(".") else (".", ",")
        cleaned = cleaned.replace(grouping, "").replace(decimal_mark, ".")
    else:
        cleaned = cleaned.replace(",", ".")
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", cleaned):
        raise ValueError(f"«{cell.strip()}» is not a price")
    try:
        return Decimal(cleaned)
    except InvalidOperation as error:
        raise ValueError(f"«{cell.strip()}» is not a price") from error


def as_minutes(cell: str) -> int:
    text = cell.strip()
    if clock := _CLOCK.match(text):
        return int(clock[1]) * 60 + int(clock[2])
    if text.isdigit():
        return int(text)
    hours, minutes = _HOURS.search(text), _MINUTES.search(text)
    if hours is None and minutes is None:
        raise ValueError(f"«{text}» is not a number of minutes")
    return round(float(hours[1].replace(",", ".")) * 60 if hours else 0) + (int(minutes[1]) if minutes else 0)


def as_whole_number(cell: str) -> int:
    cleaned = _SPACES.sub("", re.sub(r"шт\.?|pcs\.?", "", cell, flags=re.IGNORECASE))
    if not re.fullmatch(r"\d+", cleaned):
        raise ValueError(f"«{cell.strip()}» is not a whole number")
    return int(cleaned)


def as_flag(cell: str) -> bool:
    word = cell.strip().lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError(f"«{cell.strip()}» is neither yes nor no")


def as_currency(cell: str) -> str:
    word = cell.strip()
    return _CURRENCIES.get(word.lower(), word.upper())


def service_prices(cell: str) -> dict[str, Decimal]:
    """A fixed price, or a range written «от 1 500», «до 3 000» or «1 500 – 3 000»."""
    text = cell.strip()
    if (found := _RANGE.match(text)) and not text.startswith(("-", "–", "—")):
        return {"price_from": as_decimal(found["low"]), "price_to": as_decimal(found["high"])}
    if found := _FROM.match(text):
        return {"price_from": as_decimal(found["low"])}
    if found := _TO.match(text):
        return {"price_to": as_decimal(found["high"])}
    return {"price": as_decimal(text)}


_SERVICE_VALUES: dict[str, Callable[[str], Any]] = {
    "name": as_text,
    "category": as_text,
    "description": as_text,
    "duration_minutes": as_minutes,
    "price_from": as_decimal,
    "price_to": as_decimal,
    "buffer_after_minutes": as_minutes,
    "online_bookable": as_flag,
}
_PRODUCT_VALUES: dict[str, Callable[[str], Any]] = {
    "name": as_text,
    "description": as_text,
    "price": as_decimal,
    "currency": as_currency,
    "stock": as_whole_number,
    "pictures": lambda cell: [part for part in re.split(r"[\s,;]+", cell.strip()) if part],
}


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"])
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return problems


class CatalogueImport:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def run(self, kind: Kind, data: bytes, filename: str, *, dry_run: bool) -> schemas.ImportReport:
        table = read_table(data, filename)
        columns, extra = self._columns(kind, table.header)
        report = schemas.ImportReport(kind=kind, dry_run=dry_run, ignored_columns=[] if kind == "products" else extra)
        everything = await self.session.begin_nested()
        try:
            await self._rows(kind, table, columns, {} if kind == "services" else _extra_columns(table.header), report)
        except BaseException:
            await everything.rollback()
            raise
        if dry_run:
            await everything.rollback()
        else:
            await everything.commit()
        report.created = sum(1 for row in report.rows if row.action == "create")
        report.updated = sum(1 for row in report.rows if row.action == "update")
        report.errors_total = len(report.errors)
        report.errors = report.errors[:MAX_ERRORS_LISTED]
        return report

    @staticmethod
    def _columns(kind: Kind, header: list[str]) -> tuple[dict[str, int], list[str]]:
        found: dict[str, int] = {}
        unknown: list[str] = []
        for index, cell in enumerate(header):
            label = column_label(cell)
            field = next((name for name, labels in COLUMNS[kind].items() if label in labels), None)
            if field is not None and field not in found:
                found[field] = index
            elif cell:
                unknown.append(cell)
        if "name" not in found:
            raise Unprocessable("The header has no name column («Название» or name).", columns=header)
        return found, unknown

    async def _rows(
        self,
        kind: Kind,
        table: Table,
        columns: dict[str, int],
        attribute_columns: dict[int, str],
        report: schemas.ImportReport,
    ) -> None:
        def cell(row: list[str], field: str) -> str:
            index = columns.get(field)
            return row[index].strip() if index is not None and index < len(row) else ""

        # lower() as PostgreSQL's lower() in the repository, so both sides match the same names
        names = {as_text(cell(row, "name")).lower() for _, row in table.rows} - {""}
        stored_rows = (
            await ServiceRepository(self.session, self.tenant_id).named(names)
            if kind == "services"
            else await ProductRepository(self.session, self.tenant_id).named(names)
        )
        stored: dict[str, list[Any]] = {}
        for item in stored_rows:
            stored.setdefault(item.name.lower(), []).append(item)
        seen: dict[str, int] = {}
        for number, row in table.rows:
            name = as_text(cell(row, "name"))
            problems: list[str] = []
            fields: dict[str, Any] = {}
            parsers = _SERVICE_VALUES if kind == "services" else _PRODUCT_VALUES
            for field in columns:
                value = cell(row, field)
                if not value:
                    continue
                try:
                    if kind == "services" and field == "price":
                        fields.update(service_prices(value))
                    else:
                        fields[field] = parsers[field](value)
                except ValueError as error:
                    problems.append(f"{field}: {error}")
            attributes = {
                header: as_text(row[index]) for index, header in attribute_columns.items() if index < len(row)
            }
            attributes = {key: value for key, value in attributes.items() if value}
            key = name.lower()
            if not name:
                problems.append("name: the row has no name")
            elif key in seen:
                problems.append(f"name: «{name}» is already on row {seen[key]}")
            elif len(stored.get(key, [])) > 1:
                problems.append(f"name: several stored {kind} are named «{name}»; rename them first")
            if name:
                seen.setdefault(key, number)
            if problems:
                report.errors.append(schemas.ImportRowError(row=number, name=name, problems=problems))
                continue
            existing = stored.get(key, [None])[0]
            try:
                async with self.session.begin_nested():
                    item_id = await self._write(kind, existing, fields, attributes)
            except ValidationError as error:
                report.errors.append(schemas.ImportRowError(row=number, name=name, problems=_problems(error)))
                continue
            except DomainError as error:
                report.errors.append(schemas.ImportRowError(row=number, name=name, problems=[error.detail]))
                continue
            report.rows.append(
                schemas.ImportedRow(
                    row=number,
                    name=name,
                    action="create" if existing is None else "update",
                    id=None if report.dry_run and existing is None else item_id,
                )
            )

    async def _write(self, kind: Kind, existing: Any, fields: dict[str, Any], attributes: dict[str, str]) -> uuid.UUID:
        if existing is not None:  # matched in any case: the stored spelling of the name stays
            fields = {field: value for field, value in fields.items() if field != "name"}
        if kind == "services":
            services = Services(self.session, self.tenant_id)
            if existing is None:
                return (await services.create(schemas.ServiceCreate.model_validate(fields))).id
            return (await services.update(existing.id, schemas.ServiceUpdate.model_validate(fields))).id
        products = Products(self.session, self.tenant_id)
        if existing is None:
            body = {**fields, **({"attributes": attributes} if attributes else {})}
            return (await products.create(schemas.ProductCreate.model_validate(body))).id
        if attributes:
            fields["attributes"] = {**existing.attributes, **attributes}
        return (await products.update(existing.id, schemas.ProductUpdate.model_validate(fields))).id


def _extra_columns(header: list[str]) -> dict[int, str]:
    """A product's columns that are not its fields: their cells become its attributes, named by the header."""
    known = set().union(*COLUMNS["products"].values())
    return {index: cell[:64] for index, cell in enumerate(header) if cell and column_label(cell) not in known}
