"""What the catalogue's forms share: reading a field as the API's value, the messages shown when a form is
refused (each a translatable message and its values), and the refusals of a page."""

from __future__ import annotations

import re
from typing import Any

from fastapi import status
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.web.page import PageRefused

# A message for the page and the values of its placeholders.
Message = tuple[str, dict[str, Any]]

# More than any field of the catalogue accepts, so an oversized value reaches the schema and is refused there.
LONGEST_FIELD = 20_000
# As many as the CSRF check reads (web.router): each catalogue form stays within it.
MAX_FORM_FIELDS = 60
SPACES = re.compile(r"[\s\u00a0\u202f]+")


def field(form: FormData, name: str) -> str:
    """A text field trimmed; empty when absent or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return field(form, name) or None


def amount(form: FormData, name: str) -> str | None:
    """A sum as typed in Russia or elsewhere («1 500,50», "1500.50"), as the API's decimal string."""
    typed = SPACES.sub("", field(form, name)).replace(",", ".")
    return typed or None


def entered(form: FormData) -> dict[str, str]:
    """What was typed, to show the form again as it was sent (a value no field accepts comes back empty)."""
    return {name: text or "" for name in form if (text := _shown(form.get(name))) is not None}


def _shown(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > LONGEST_FIELD or "\x00" in value:
        return None
    return value


def problems(error: ValidationError, by_field: dict[str, str], otherwise: str) -> list[Message]:
    """One message for each field the schema refused, in the form's order, else the whole form's message."""
    refused = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
    messages: list[Message] = [(message, {}) for name, message in by_field.items() if name in refused]
    return messages or [(otherwise, {})]


def not_found(message: str) -> PageRefused:
    return PageRefused(status.HTTP_404_NOT_FOUND, message)
