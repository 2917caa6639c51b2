"""Price questions the offline answerer answers from the catalogue: «сколько стоит кружка?», «почём стрижка»,
«how much is the mug?». What is asked about is the question without its price words; the catalogue finds it in
any word form («кружки», «кружку»), and the answer names each match with its price as the business set it."""

from __future__ import annotations

import re
from decimal import Decimal

from easyflow.agents.answers import PricedItem

_PRICE_WORDS = re.compile(
    r"\b(сколько\s+стои\w*|сколько\s+будет\s+стоить|сколько\s+за|почем|почём|цен[аеуыо]\w*|стоимост\w*|"
    r"прайс\w*|how\s+much|price[sd]?|pricing|costs?)\b",
    re.IGNORECASE,
)
# Words around the subject of a price question that say nothing about what is asked for.
_FILLER = frozenset({
    "а", "и", "у", "вас", "в", "на", "за", "по", "с", "со", "о", "об", "мне", "нам", "подскажите", "скажите",
    "пожалуйста", "пжл", "какая", "какой", "какие", "какова", "каков", "сейчас", "теперь", "ваша", "ваш", "ваши",
    "это", "эта", "этот", "есть", "будет", "стоит", "стоят", "одна", "один", "одного", "одной", "шт", "штука",
    "штуку", "the", "a", "an", "is", "are", "of", "for", "do", "does", "your", "you", "what", "whats", "it", "this",
    "that", "please", "tell", "me", "how", "much",
})  # fmt: skip
_WORD = re.compile(r"[\w-]+")
CURRENCY_SIGNS = {"RUB": "₽", "KGS": "сом", "KZT": "₸", "USD": "$", "EUR": "€"}
MAX_ITEMS = 5


def price_subject(question: str) -> str | None:
    """What a price question asks the price of, or None when it is not a price question (or names nothing)."""
    if not _PRICE_WORDS.search(question):
        return None
    rest = _PRICE_WORDS.sub(" ", question)
    words = [word for word in _WORD.findall(rest.lower().replace("ё", "е")) if word not in _FILLER]
    return " ".join(words) or None


def money(amount: Decimal, currency: str, language: str) -> str:
    """«1 500 ₽», «1 500,50 ₽» in Russian; «1,500.50 ₽» in English."""
    shown = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    if language != "en":
        shown = shown.replace(",", "\u00a0").replace(".", ",").replace("\u00a0", " ")
    return f"{shown} {CURRENCY_SIGNS.get(currency, currency)}"


def price_of(item: PricedItem, language: str) -> str:
    english = language == "en"
    if item.price is not None:
        said = money(item.price, item.currency, language)
    elif item.price_from is not None:
        said = ("from " if english else "от ") + money(item.price_from, item.currency, language)
    elif item.price_to is not None:
        said = ("up to " if english else "до ") + money(item.price_to, item.currency, language)
    else:
        said = "the price is set on the spot" if english else "цена уточняется на месте"
    if item.stock == 0:
        said += " (out of stock)" if english else " (нет в наличии)"
    return said


def price_answer(items: list[PricedItem], language: str) -> str:
    lines = [f"{item.name} — {price_of(item, language)}" for item in items[:MAX_ITEMS]]
    if len(lines) == 1:
        return lines[0] + "."
    return "\n".join(f"• {line}" for line in lines)
