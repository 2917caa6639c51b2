"""Base classes for request and response bodies, and the rules every input obeys.

What a request can carry is bounded where it enters, for every route and the widget's WebSocket alike:
no text holds U+0000 (PostgreSQL's text and jsonb cannot store it, so it would fail deep in a query instead
of being refused here), no free-form JSON nests deeper than `MAX_JSON_DEPTH`, no number is infinite or
NaN, and page offsets fit PostgreSQL's bigint.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

ItemT = TypeVar("ItemT")

NUL = "\x00"
MAX_BIGINT = 2**63 - 1
# Deeper than any settings object needs; bounded so that walking, storing and serializing it stays cheap
# (pydantic refuses to serialize a few hundred levels, which made such a body a 500 after it was stored).
MAX_JSON_DEPTH = 32

# PostgreSQL's OFFSET is a bigint: a larger one is malformed input, not a query to run.
Offset = Annotated[int, Query(ge=0, le=MAX_BIGINT, description="How many items to skip.")]
Limit = Annotated[int, Query(ge=1, le=500, description="How many items to return.")]


def refuse_nul(value: str) -> str:
    if NUL in value:
        raise ValueError("contains the character U+0000, which text cannot hold")
    return value


# Free text in a query string obeys the input rules of bodies: PostgreSQL cannot even compare U+0000.
QueryText = Annotated[str, AfterValidator(refuse_nul)]


def without_nul(value: str) -> str:
    """For text that cannot be refused because its sender will not send it otherwise (a file's name, a
    Telegram update)."""
    return value.replace(NUL, "")


def json_without_nul(value: Any) -> Any:
    """`without_nul` for every string (keys included) of a JSON-like structure, models included."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, BaseModel):
        return type(value).model_validate(json_without_nul(value.model_dump()))
    if isinstance(value, dict):
        return {json_without_nul(key): json_without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_without_nul(item) for item in value]
    return value


def check_input(value: Any) -> Any:
    """Refuse NUL in any string of `value` (dictionary keys included) and nesting deeper than
    MAX_JSON_DEPTH; iterative, so a hostile depth cannot exhaust the stack. Nested models check
    themselves."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            refuse_nul(item)
        elif isinstance(item, dict | list | tuple | set | frozenset):
            if depth >= MAX_JSON_DEPTH:
                raise ValueError(f"is nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                item = item.values()
            pending.extend((child, depth + 1) for child in item)
    return value


class StrictInput(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped; strings are trimmed; every
    field obeys the input rules above."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_input(value)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
